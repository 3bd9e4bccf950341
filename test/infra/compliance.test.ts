// The checks a security review starts with, on the synthesized template: cdk-nag's AWS Solutions
// and Serverless packs (every finding fixed or acknowledged with a reason where it arises) and
// cfn-lint from the project's Python venv (no errors). Both run on the example config, as
// `cdk synth` deploys it, and on a config that also adopts existing secrets.

import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { Validations } from "aws-cdk-lib";
import { Queue, QueueEncryption } from "aws-cdk-lib/aws-sqs";
import type { IConstruct } from "constructs";
import { beforeAll, describe, expect, test } from "vitest";
import { ensureMotoInstalled } from "../../sandbox/local-aws.ts";
import { configProps, type Finding, fullConfigJson, type Synthesized, synthesize } from "./synthesize.ts";

const cfnLint = join(import.meta.dirname, "..", "..", ".venv", "bin", "cfn-lint");

function describeFindings(findings: Finding[]): string {
  return findings
    .map((finding) => `${finding.rule}: ${finding.description}\n    ${finding.paths.join("\n    ")}`)
    .join("\n");
}

interface Acknowledgement {
  rule: string;
  reason: string;
  path: string;
}

/** Every acknowledgement recorded on the stack's constructs. */
function acknowledgements(root: IConstruct): Acknowledgement[] {
  return root.node.findAll().flatMap((construct) =>
    construct.node.metadata
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((entry) =>
        Object.entries(entry.data as Record<string, string>).map(([rule, reason]) => ({
          rule: rule.replace(/^\w+::/, ""),
          reason,
          path: construct.node.path,
        })),
      ),
  );
}

interface LintMatch {
  Level: "Error" | "Warning" | "Informational";
  Rule: { Id: string };
  Message: string;
  Location: { Path: (string | number)[] };
}

async function lint(templatePath: string): Promise<LintMatch[]> {
  // cfn-lint exits 2 for errors and 4 for warnings (bits combined); its findings are the JSON on stdout.
  const result = await promisify(execFile)(cfnLint, ["--format", "json", "--template", templatePath]).catch(
    (error: { code?: number; stdout?: string; stderr?: string }) => {
      if (typeof error.code === "number" && error.code > 0 && error.code < 16 && error.stdout) return error;
      throw new Error(`cfn-lint did not run: ${error.stderr ?? String(error)}`);
    },
  );
  return JSON.parse(result.stdout ?? "[]") as LintMatch[];
}

describe.each([
  ["the example config", () => configProps()],
  [
    "a config that also adopts existing secrets and subscribes an HTTPS endpoint",
    () => configProps(fullConfigJson()),
  ],
])("the stack of %s", (_name, props) => {
  let synthesized: Synthesized;

  beforeAll(() => {
    ensureMotoInstalled();
    synthesized = synthesize(props(), { bundle: false, compliance: true });
  });

  test("has no cdk-nag finding of the AWS Solutions or Serverless packs that is not acknowledged", () => {
    expect(synthesized.findings, describeFindings(synthesized.findings)).toEqual([]);
  });

  test("acknowledges findings only with a reason a reviewer can check", () => {
    const acknowledged = acknowledgements(synthesized.stack);
    console.log(
      `${acknowledged.length} cdk-nag acknowledgements:\n${acknowledged
        .map((a) => `  ${a.rule} at ${a.path.replace(/^Keyturn\/Keyturn\//, "")}\n    ${a.reason}`)
        .join("\n")}`,
    );

    expect(acknowledged.length).toBeGreaterThan(0);
    for (const { rule, reason, path } of acknowledged) {
      expect(rule, path).toMatch(/^(AwsSolutions|Serverless)-/);
      // A reason says why this resource is fine as it is, not that the rule was noticed.
      expect(reason.length, `${rule} at ${path}`).toBeGreaterThanOrEqual(80);
    }
  });

  test("passes cfn-lint without an error", async () => {
    const matches = await lint(synthesized.templatePath);
    const warnings = matches.filter((match) => match.Level !== "Error");
    console.log(
      `cfn-lint: ${warnings.length} warnings\n${warnings
        .map((match) => `  ${match.Rule.Id} ${match.Location.Path.join("/")}: ${match.Message}`)
        .join("\n")}`,
    );

    expect(matches.filter((match) => match.Level === "Error")).toEqual([]);
  });
});

describe("the compliance checks", () => {
  test("fail on a resource that breaks a rule and is not acknowledged", () => {
    const { findings } = synthesize(configProps(), {
      bundle: false,
      compliance: true,
      extend: (stack) => {
        new Queue(stack, "Unencrypted", { encryption: QueueEncryption.UNENCRYPTED });
      },
    });

    expect(findings.map((finding) => finding.rule)).toContain("AwsSolutions-SQS4");
    expect(findings.flatMap((finding) => finding.paths)).toContain("Keyturn/Unencrypted/Resource");
  });
});
