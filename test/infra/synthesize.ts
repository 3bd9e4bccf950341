// The Keyturn stack as `cdk synth` produces it (the same cdk.json context and, when asked, the
// same config file and cdk-nag rule packs), with the logical ids of the resources the infra tests
// look at.

import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { App, type CfnElement } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import type { IConstruct } from "constructs";
import type { Severity } from "#engine/events.ts";
import { addComplianceChecks } from "../../infra/compliance.ts";
import { CONFIG_CONTEXT_KEY, type KeyturnConfig, loadConfig, parseConfig } from "../../infra/config.ts";
import { keyturnPropsFromConfig } from "../../infra/keyturn.ts";
import { SEVERITIES } from "../../infra/keyturn-alerts.ts";
import { KeyturnStack, type KeyturnStackProps } from "../../infra/keyturn-stack.ts";

export const HANDLERS = ["rotate", "monitor", "refresh", "revoke", "relay"] as const;
export type Handler = (typeof HANDLERS)[number];

const projectRoot = join(import.meta.dirname, "..", "..");
const cdkContext: Record<string, unknown> = JSON.parse(
  readFileSync(join(projectRoot, "cdk.json"), "utf8"),
).context;

/** The path of the example config, as cdk.json names it. */
export const EXAMPLE_CONFIG = join(projectRoot, cdkContext[CONFIG_CONTEXT_KEY] as string);

/** The example config's JSON, to change for a test. */
export function exampleConfigJson(): Record<string, unknown> & { credentials: Record<string, unknown>[] } {
  return JSON.parse(readFileSync(EXAMPLE_CONFIG, "utf8"));
}

/** A customer managed key an adopted secret is encrypted with, in fullConfigJson. */
export const ADOPTED_KEY = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
/** An adopted secret named by its complete ARN, in fullConfigJson. */
export const ADOPTED_ARN =
  "arn:aws:secretsmanager:eu-west-1:123456789012:secret:keyturn/legacy/everflow-Xy12Zq";

/**
 * The example config plus what it leaves out: secrets adopted by name (under a KMS key of their
 * own, rotated by keyturn) and by ARN, and an HTTPS endpoint.
 */
export function fullConfigJson(): ReturnType<typeof exampleConfigJson> {
  const json = exampleConfigJson();
  json.alerts = { ...(json.alerts as object), https: ["https://hooks.example.com/keyturn"] };
  json.credentials.push(
    {
      name: "softwareone-billing",
      provider: "softwareone",
      settings: { accountId: "ACC-1234-5678" },
      issuer: "softwareone-admin",
      rotateEvery: "14d",
      secret: { existing: "keyturn/legacy/softwareone-billing", kmsKey: ADOPTED_KEY },
    },
    {
      name: "everflow-eu",
      provider: "everflow",
      settings: { baseUrl: "https://api-eu.eflow.team/v1" },
      maxAge: "60d",
      secret: { existing: ADOPTED_ARN },
    },
  );
  return json;
}

/** The example config, parsed: what `cdk synth` deploys. */
export function exampleConfig(): KeyturnConfig {
  return loadConfig(EXAMPLE_CONFIG);
}

/** The stack props `cdk synth` builds from a config's JSON (the example's when none is given). */
export function configProps(json: unknown = exampleConfigJson()): KeyturnStackProps {
  return keyturnPropsFromConfig(parseConfig(json));
}

export interface SynthesizeOptions {
  /** false skips esbuild, for tests that only read the template. Default true. */
  readonly bundle?: boolean;
  /** Adds to the stack before it is synthesized, as an application using the construct would. */
  readonly extend?: (stack: KeyturnStack) => void;
  /** Runs cdk-nag's rule packs as `cdk synth` does; findings are answered rather than thrown. Default false. */
  readonly compliance?: boolean;
}

/** A rule pack's finding that no construct acknowledged. */
export interface Finding {
  pack: string;
  rule: string;
  description: string;
  paths: string[];
}

/** Synthesizes a KeyturnStack as `cdk synth` would. */
export function synthesize(
  props: KeyturnStackProps = {},
  { bundle = true, extend, compliance = false }: SynthesizeOptions = {},
) {
  const outdir = mkdtempSync(join(tmpdir(), "keyturn-synth-"));
  const app = new App({
    outdir,
    context: { ...cdkContext, ...(bundle ? {} : { "aws:cdk:bundling-stacks": [] }) },
  });
  const stack = new KeyturnStack(app, "Keyturn", props);
  extend?.(stack);
  if (compliance) addComplianceChecks(app);
  let findings: Finding[] = [];
  try {
    app.synth();
  } catch (error) {
    if (!compliance || !String(error).includes("ValidationFailed")) throw error;
    // The assembly is on disk all the same: validation runs once the templates are written.
    findings = validationFindings(outdir);
  }
  const templatePath = join(outdir, stack.templateFile);
  const template = Template.fromJSON(JSON.parse(readFileSync(templatePath, "utf8")));
  const { keyturn } = stack;
  const logicalId = (construct: IConstruct) => stack.getLogicalId(construct.node.defaultChild as CfnElement);
  const bySeverity = (pick: (severity: Severity) => IConstruct) =>
    Object.fromEntries(SEVERITIES.map((severity) => [severity, logicalId(pick(severity))])) as Record<
      Severity,
      string
    >;
  const byName = <T extends IConstruct>(constructs: Record<string, T>) =>
    Object.fromEntries(Object.entries(constructs).map(([name, construct]) => [name, logicalId(construct)]));
  return {
    app,
    stack,
    template,
    templatePath,
    findings,
    functionIds: {
      rotate: logicalId(keyturn.rotateFunction),
      monitor: logicalId(keyturn.monitorFunction),
      refresh: logicalId(keyturn.refreshFunction),
      revoke: logicalId(keyturn.revokeFunction),
      relay: logicalId(keyturn.relayFunction),
    } satisfies Record<Handler, string>,
    busId: logicalId(keyturn.bus),
    monitorQueueId: logicalId(keyturn.monitorDeadLetters),
    refreshQueueId: logicalId(keyturn.refreshDeadLetters),
    revokeQueueId: logicalId(keyturn.revokeDeadLetters),
    relayQueueId: logicalId(keyturn.relayDeadLetters),
    alertQueueId: logicalId(keyturn.alertDeadLetters),
    topicIds: bySeverity((severity) => keyturn.topics[severity]),
    alertRuleIds: bySeverity((severity) => keyturn.alertRules[severity]),
    relayRuleId: logicalId(keyturn.relayRule),
    leaseTableId: logicalId(keyturn.leaseTable),
    recordsTableId: logicalId(keyturn.recordsTable),
    /** Created secrets only (an adopted secret has no resource in the template). */
    secretIds: Object.fromEntries(
      Object.entries(keyturn.credentials.secrets)
        .filter(([, secret]) => secret.node.defaultChild !== undefined)
        .map(([name, secret]) => [name, logicalId(secret)]),
    ),
    rotationScheduleIds: Object.fromEntries(
      Object.entries(keyturn.credentials.rotationSchedules).map(([name, schedule]) => [
        name,
        stack.getLogicalId(schedule),
      ]),
    ),
    secretKeyId: keyturn.credentials.key ? logicalId(keyturn.credentials.key) : undefined,
    tokenKeyId: logicalId(keyturn.tokenKey),
    /** Each credential's secret resource policy (created and adopted secrets alike). */
    resourcePolicyIds: Object.fromEntries(
      Object.entries(keyturn.credentials.resourcePolicies).map(([name, policy]) => [
        name,
        stack.getLogicalId(policy),
      ]),
    ),
    revokeRuleId: keyturn.revokeRule ? logicalId(keyturn.revokeRule) : undefined,
    roleIds: {
      rotate: logicalId(keyturn.rotateFunction.role as IConstruct),
      monitor: logicalId(keyturn.monitorFunction.role as IConstruct),
      refresh: logicalId(keyturn.refreshFunction.role as IConstruct),
      revoke: logicalId(keyturn.revokeFunction.role as IConstruct),
      relay: logicalId(keyturn.relayFunction.role as IConstruct),
    } satisfies Record<Handler, string>,
    alarmIds: byName(keyturn.alarms.alarms),
    assemblyDirectory: outdir,
  };
}

export type Synthesized = ReturnType<typeof synthesize>;

function validationFindings(outdir: string): Finding[] {
  const report = JSON.parse(readFileSync(join(outdir, "validation-report.json"), "utf8")) as {
    pluginReports: {
      pluginName: string;
      violations: {
        ruleName: string;
        description: string;
        violatingConstructs?: { constructPath: string }[];
      }[];
    }[];
  };
  return report.pluginReports.flatMap((plugin) =>
    plugin.violations.map((violation) => ({
      pack: plugin.pluginName,
      rule: violation.ruleName,
      description: violation.description,
      paths: (violation.violatingConstructs ?? []).map((construct) => construct.constructPath),
    })),
  );
}

export function resourceProperties(template: Template, logicalId: string): Record<string, unknown> {
  const resource = template.toJSON().Resources[logicalId];
  if (!resource) throw new Error(`No resource ${logicalId} in the template`);
  return resource.Properties;
}
