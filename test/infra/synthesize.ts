// The Keyturn stack as `cdk synth` produces it (the same cdk.json context), with the logical ids
// of the resources the infra tests look at.

import { readFileSync } from "node:fs";
import { App, type CfnElement } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import type { IConstruct } from "constructs";
import type { Severity } from "#engine/events.ts";
import { SEVERITIES } from "../../infra/keyturn-alerts.ts";
import { KeyturnStack, type KeyturnStackProps } from "../../infra/keyturn-stack.ts";

export const HANDLERS = ["rotate", "monitor", "refresh", "revoke", "relay"] as const;
export type Handler = (typeof HANDLERS)[number];

const cdkContext: Record<string, unknown> = JSON.parse(
  readFileSync(new URL("../../cdk.json", import.meta.url), "utf8"),
).context;

export interface SynthesizeOptions {
  /** false skips esbuild, for tests that only read the template. Default true. */
  readonly bundle?: boolean;
  /** Adds to the stack before it is synthesized, as an application using the construct would. */
  readonly extend?: (stack: KeyturnStack) => void;
}

/** Synthesizes a KeyturnStack as `cdk synth` would. */
export function synthesize(props: KeyturnStackProps = {}, { bundle = true, extend }: SynthesizeOptions = {}) {
  const app = new App({
    context: { ...cdkContext, ...(bundle ? {} : { "aws:cdk:bundling-stacks": [] }) },
  });
  const stack = new KeyturnStack(app, "Keyturn", props);
  extend?.(stack);
  const assembly = app.synth();
  const template = Template.fromJSON(assembly.getStackByName(stack.stackName).template);
  const { keyturn } = stack;
  const logicalId = (construct: IConstruct) => stack.getLogicalId(construct.node.defaultChild as CfnElement);
  const bySeverity = (pick: (severity: Severity) => IConstruct) =>
    Object.fromEntries(SEVERITIES.map((severity) => [severity, logicalId(pick(severity))])) as Record<
      Severity,
      string
    >;
  return {
    template,
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
    assemblyDirectory: assembly.directory,
  };
}

export type Synthesized = ReturnType<typeof synthesize>;

export function resourceProperties(template: Template, logicalId: string): Record<string, unknown> {
  const resource = template.toJSON().Resources[logicalId];
  if (!resource) throw new Error(`No resource ${logicalId} in the template`);
  return resource.Properties;
}
