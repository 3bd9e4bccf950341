// The Keyturn stack as `cdk synth` produces it: the same cdk.json context, the real esbuild
// bundling of the rotate handler, and the template and bundle that a deploy would ship.

import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { App } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import type { CfnEventBus } from "aws-cdk-lib/aws-events";
import type { CfnFunction } from "aws-cdk-lib/aws-lambda";
import { beforeAll, describe, expect, test } from "vitest";
import { InvalidKeyturnPropsError } from "../../infra/keyturn.ts";
import { KeyturnStack, type KeyturnStackProps } from "../../infra/keyturn-stack.ts";

interface Statement {
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

const cdkContext: Record<string, unknown> = JSON.parse(
  readFileSync(new URL("../../cdk.json", import.meta.url), "utf8"),
).context;

/** Synthesizes a KeyturnStack; `bundle: false` skips esbuild for tests that only read the template. */
function synthesize(props: KeyturnStackProps = {}, { bundle = true } = {}) {
  const app = new App({
    context: { ...cdkContext, ...(bundle ? {} : { "aws:cdk:bundling-stacks": [] }) },
  });
  const stack = new KeyturnStack(app, "Keyturn", props);
  const assembly = app.synth();
  const template = Template.fromJSON(assembly.getStackByName(stack.stackName).template);
  const functionId = stack.getLogicalId(stack.keyturn.rotateFunction.node.defaultChild as CfnFunction);
  const busId = stack.getLogicalId(stack.keyturn.bus.node.defaultChild as CfnEventBus);
  return { template, functionId, busId, assemblyDirectory: assembly.directory };
}

function resourceProperties(template: Template, logicalId: string): Record<string, unknown> {
  const resource = template.toJSON().Resources[logicalId];
  if (!resource) throw new Error(`No resource ${logicalId} in the template`);
  return resource.Properties;
}

function policyStatements(template: Template): Statement[] {
  return Object.values(template.findResources("AWS::IAM::Policy")).flatMap(
    (policy) => policy.Properties.PolicyDocument.Statement,
  );
}

function actionsOf(statement: Statement): string[] {
  return Array.isArray(statement.Action) ? statement.Action : [statement.Action];
}

function resourcesOf(statement: Statement): unknown[] {
  return Array.isArray(statement.Resource) ? statement.Resource : [statement.Resource];
}

function statementsAllowing(template: Template, prefix: string): Statement[] {
  return policyStatements(template).filter((statement) =>
    actionsOf(statement).some((action) => action.startsWith(prefix)),
  );
}

/** Actions that change a secret, including wildcards that would imply them. */
function isSecretsManagerWrite(action: string): boolean {
  return (
    action === "*" ||
    /^secretsmanager:(\*|Put|Update|Tag|Untag|Delete|Create|Restore|Rotate|Cancel|Remove|Replicate|Stop)/.test(
      action,
    )
  );
}

/** The resource string of a Fn::Join ARN, with the pseudo parameters left as placeholders. */
function joinedArn(resource: unknown): string {
  const join = (resource as { "Fn::Join": [string, unknown[]] })["Fn::Join"];
  return join[1].map((part) => (typeof part === "string" ? part : `{${JSON.stringify(part)}}`)).join("");
}

describe("the Keyturn stack", () => {
  let synthesized: ReturnType<typeof synthesize>;
  let rotateFunction: Record<string, unknown>;
  let bundleDirectory: string;

  beforeAll(() => {
    synthesized = synthesize();
    rotateFunction = resourceProperties(synthesized.template, synthesized.functionId);
    const { S3Key } = rotateFunction.Code as { S3Key: string };
    bundleDirectory = join(synthesized.assemblyDirectory, `asset.${S3Key.replace(/\.zip$/, "")}`);
  });

  test("runs the rotate function on the nodejs24.x runtime", () => {
    expect(rotateFunction.Runtime).toBe("nodejs24.x");
  });

  test("runs the rotate function on arm64", () => {
    expect(rotateFunction.Architectures).toEqual(["arm64"]);
  });

  test("bundles the rotate handler without the test-only aws-sdk-client-mock", () => {
    const bundle = readFileSync(join(bundleDirectory, "index.mjs"), "utf8");

    expect(bundle).not.toContain("aws-sdk-client-mock");
  });

  test("ships a bundle that Node loads as an ES module exporting handler", async () => {
    const probe = 'const m = await import("./index.mjs"); process.stdout.write(typeof m.handler);';

    const { stdout } = await promisify(execFile)(process.execPath, ["--input-type=module", "-e", probe], {
      cwd: bundleDirectory,
      env: { PATH: process.env.PATH, AWS_REGION: "us-east-1", KEYTURN_EVENT_BUS_NAME: "keyturn" },
    });

    expect(rotateFunction.Handler).toBe("index.handler");
    expect(stdout).toBe("function");
  });

  test("turns on source maps for stack traces", () => {
    expect(rotateFunction.Environment).toMatchObject({ Variables: { NODE_OPTIONS: "--enable-source-maps" } });
  });

  test("creates the event bus named keyturn", () => {
    synthesized.template.hasResourceProperties("AWS::Events::EventBus", { Name: "keyturn" });
  });

  test("tells the rotate function which bus to publish to", () => {
    expect(rotateFunction.Environment).toMatchObject({
      Variables: { KEYTURN_EVENT_BUS_NAME: { Ref: synthesized.busId } },
    });
  });

  test("grants no Secrets Manager write action on every resource", () => {
    const unscoped = policyStatements(synthesized.template).filter(
      (statement) => actionsOf(statement).some(isSecretsManagerWrite) && resourcesOf(statement).includes("*"),
    );

    expect(unscoped).toEqual([]);
  });

  test("grants Secrets Manager actions only on secrets under keyturn/ that carry keyturn:provider", () => {
    const statements = statementsAllowing(synthesized.template, "secretsmanager:");

    expect(statements.length).toBeGreaterThan(0);
    for (const statement of statements) {
      expect(resourcesOf(statement).map(joinedArn)).toEqual([
        'arn:{{"Ref":"AWS::Partition"}}:secretsmanager:{{"Ref":"AWS::Region"}}:{{"Ref":"AWS::AccountId"}}:secret:keyturn/*',
      ]);
      expect(statement.Condition?.Null).toEqual({ "aws:ResourceTag/keyturn:provider": "false" });
    }
  });

  test("lets the rotate function write only keyturn:* tags", () => {
    const [tagging, ...others] = statementsAllowing(synthesized.template, "secretsmanager:TagResource");

    expect(others).toEqual([]);
    expect(tagging?.Condition?.["ForAllValues:StringLike"]).toEqual({ "aws:TagKeys": ["keyturn:*"] });
  });

  test("grants events:PutEvents only on the keyturn bus", () => {
    const statements = statementsAllowing(synthesized.template, "events:");

    expect(statements.map((statement) => [actionsOf(statement), resourcesOf(statement)])).toEqual([
      [["events:PutEvents"], [{ "Fn::GetAtt": [synthesized.busId, "Arn"] }]],
    ]);
  });

  test("lets Secrets Manager in the same account invoke the rotate function", () => {
    synthesized.template.hasResourceProperties("AWS::Lambda::Permission", {
      Action: "lambda:InvokeFunction",
      Principal: "secretsmanager.amazonaws.com",
      FunctionName: { "Fn::GetAtt": [synthesized.functionId, "Arn"] },
      SourceAccount: { Ref: "AWS::AccountId" },
    });
  });

  test("keeps the rotate function's logs for one year", () => {
    const { LogGroup } = rotateFunction.LoggingConfig as { LogGroup: { Ref: string } };

    expect(resourceProperties(synthesized.template, LogGroup.Ref)).toMatchObject({ RetentionInDays: 365 });
  });

  test("traces the rotate function with X-Ray", () => {
    expect(rotateFunction.TracingConfig).toEqual({ Mode: "Active" });
  });
});

describe("Keyturn props", () => {
  test("busName names the event bus", () => {
    const { template } = synthesize({ busName: "credentials" }, { bundle: false });

    template.hasResourceProperties("AWS::Events::EventBus", { Name: "credentials" });
  });

  test("secretNamePrefix scopes Secrets Manager access to that folder", () => {
    const { template } = synthesize({ secretNamePrefix: "prod/vendors/" }, { bundle: false });

    const resources = statementsAllowing(template, "secretsmanager:").flatMap(resourcesOf).map(joinedArn);

    expect(resources.length).toBeGreaterThan(0);
    expect(resources.every((arn) => arn.endsWith(":secret:prod/vendors/*"))).toBe(true);
  });

  test("a secretNamePrefix without a trailing slash is refused", () => {
    expect(() => synthesize({ secretNamePrefix: "keyturn" }, { bundle: false })).toThrow(
      InvalidKeyturnPropsError,
    );
  });
});
