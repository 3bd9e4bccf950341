// Issue 16, the sweep queue as the synthesized template states it (infra/functions/monitor.ts):
// the queue the due sweep fans out to, encrypted and TLS-only, its failed messages to the
// monitor's dead-letter queue (and so its alarm); the event source mapping that hands its messages
// to the same monitor function, one at a time, with batch item failures; the monitor's grant and
// its environment; and the fence that keeps the queue to the monitor's role and the deployment. A
// role the fence does not name is not excepted. What the policy does once deployed only a real
// account can show (moto evaluates no resource policy).

import type { CfnElement } from "aws-cdk-lib";
import { beforeAll, describe, expect, test } from "vitest";
import { SWEEP_QUEUE_CHANGES, SWEEP_QUEUE_MESSAGES } from "../../infra/keyturn-fences.ts";
import {
  configProps,
  exampleConfigJson,
  resourceProperties,
  type Synthesized,
  synthesize,
} from "./synthesize.ts";

interface Statement {
  Sid?: string;
  Effect?: string;
  Principal?: unknown;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

const actionsOf = (statement: Statement) =>
  Array.isArray(statement.Action) ? statement.Action : [statement.Action];

/** The CDK bootstrap's CloudFormation execution role, as the default synthesizer names it. */
const DEPLOYMENT = {
  "Fn::Sub":
    // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation's Fn::Sub placeholders
    "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/cdk-hnb659fds-cfn-exec-role-${AWS::AccountId}-${AWS::Region}",
};

let synthesized: Synthesized;
let queueId: string;
let resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;

beforeAll(() => {
  synthesized = synthesize(configProps(exampleConfigJson()), { bundle: false });
  const queue = synthesized.stack.keyturn.functions.monitor.sweepQueue;
  queueId = synthesized.stack.getLogicalId(queue.node.defaultChild as CfnElement);
  resources = synthesized.template.toJSON().Resources;
});

/** Statements of the IAM policies attached to a role. */
function roleStatements(roleId: string): Statement[] {
  return Object.values(synthesized.template.findResources("AWS::IAM::Policy"))
    .filter((policy) => JSON.stringify(policy.Properties.Roles) === JSON.stringify([{ Ref: roleId }]))
    .flatMap((policy) => policy.Properties.PolicyDocument.Statement);
}

/** The sweep queue's resource policy statements. */
function queueStatements(): Statement[] {
  return Object.values(synthesized.template.findResources("AWS::SQS::QueuePolicy"))
    .filter((policy) => JSON.stringify(policy.Properties.Queues) === JSON.stringify([{ Ref: queueId }]))
    .flatMap((policy) => policy.Properties.PolicyDocument.Statement);
}

const monitorRoleArn = () => ({ "Fn::GetAtt": [synthesized.roleIds.monitor, "Arn"] });

describe("the sweep queue", () => {
  test("is encrypted, sends its failed messages to the monitor's dead-letter queue after 3 receives, and hides a message for six function timeouts", () => {
    const queue = resourceProperties(synthesized.template, queueId);
    const monitor = resourceProperties(synthesized.template, synthesized.functionIds.monitor);

    expect(queue).toMatchObject({
      SqsManagedSseEnabled: true,
      RedrivePolicy: {
        deadLetterTargetArn: { "Fn::GetAtt": [synthesized.monitorQueueId, "Arn"] },
        maxReceiveCount: 3,
      },
    });
    expect(queue.VisibilityTimeout).toBe(6 * (monitor.Timeout as number));
  });

  test("refuses requests without TLS", () => {
    expect(queueStatements()).toContainEqual(
      expect.objectContaining({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } }),
    );
  });

  test("has its dead letters watched by the monitor's dead-letter alarm", () => {
    const alarm = resources[synthesized.alarmIds.MonitorDeadLetters as string];

    expect(alarm?.Properties.Dimensions).toEqual([
      { Name: "QueueName", Value: { "Fn::GetAtt": [synthesized.monitorQueueId, "QueueName"] } },
    ]);
  });
});

describe("the monitor and the sweep queue", () => {
  test("the queue invokes the monitor one message at a time, reporting batch item failures, at most 2 at once", () => {
    const mappings = Object.values(synthesized.template.findResources("AWS::Lambda::EventSourceMapping"));

    expect(mappings.map((mapping) => mapping.Properties)).toEqual([
      expect.objectContaining({
        EventSourceArn: { "Fn::GetAtt": [queueId, "Arn"] },
        FunctionName: { Ref: synthesized.functionIds.monitor },
        BatchSize: 1,
        FunctionResponseTypes: ["ReportBatchItemFailures"],
        ScalingConfig: { MaximumConcurrency: 2 },
      }),
    ]);
  });

  test("the monitor's reserved concurrency leaves a scheduled sweep room beside the mapping's batches", () => {
    const mapping = Object.values(synthesized.template.findResources("AWS::Lambda::EventSourceMapping"))[0];
    const monitor = resourceProperties(synthesized.template, synthesized.functionIds.monitor);

    expect(monitor.ReservedConcurrentExecutions).toBe(
      1 + (mapping?.Properties.ScalingConfig.MaximumConcurrency as number),
    );
  });

  /** The statements of a role's policies on the sweep queue. */
  const onTheQueue = (roleId: string) =>
    roleStatements(roleId).filter((statement) => JSON.stringify(statement.Resource).includes(`"${queueId}"`));

  test("the monitor finds the queue in its environment and may send to it", () => {
    const monitor = resourceProperties(synthesized.template, synthesized.functionIds.monitor);
    const variables = (monitor.Environment as { Variables: Record<string, unknown> }).Variables;

    expect(variables.KEYTURN_SWEEP_QUEUE_URL).toEqual({ Ref: queueId });
    expect(onTheQueue(synthesized.roleIds.monitor).flatMap(actionsOf)).toContain("sqs:SendMessage");
  });

  test("no other function's role has any action on it", () => {
    for (const [handler, roleId] of Object.entries(synthesized.roleIds)) {
      if (handler === "monitor") continue;
      expect({ handler, actions: onTheQueue(roleId).flatMap(actionsOf) }).toEqual({ handler, actions: [] });
    }
  });
});

describe("the sweep queue's fence", () => {
  const fenceOf = (sid: string) => queueStatements().find((statement) => statement.Sid === sid);

  test("denies sending, receiving and deleting messages to all but the monitor's role and the deployment", () => {
    const fence = fenceOf("OnlyTheMonitorUsesTheSweepQueue");

    expect(fence).toMatchObject({ Effect: "Deny", Principal: "*" });
    expect(actionsOf(fence as Statement).sort()).toEqual([...SWEEP_QUEUE_MESSAGES].sort());
    expect(fence?.Resource).toEqual({ "Fn::GetAtt": [queueId, "Arn"] });
    expect(fence?.Condition).toEqual({
      ArnNotEquals: { "aws:PrincipalArn": [monitorRoleArn(), DEPLOYMENT] },
    });
  });

  test("excepts no other role: not the rotate, refresh, revoke or relay function's", () => {
    const excepted = JSON.stringify(fenceOf("OnlyTheMonitorUsesTheSweepQueue")?.Condition);

    for (const handler of ["rotate", "refresh", "revoke", "relay"] as const)
      expect(excepted).not.toContain(synthesized.roleIds[handler]);
  });

  test("lets only the deployment change or delete the queue, not even the monitor", () => {
    const fence = fenceOf("OnlyTheDeploymentChangesTheSweepQueue");

    expect(fence).toMatchObject({ Effect: "Deny", Principal: "*" });
    expect(actionsOf(fence as Statement).sort()).toEqual([...SWEEP_QUEUE_CHANGES].sort());
    expect(fence?.Condition).toEqual({ ArnNotEquals: { "aws:PrincipalArn": [DEPLOYMENT] } });
  });

  test("a configured deployment role is the one the fence excepts", () => {
    const role = "arn:aws:iam::123456789012:role/keyturn-deployer";
    const other = synthesize(
      { ...configProps(exampleConfigJson()), deploymentRoleArn: role },
      { bundle: false },
    );
    const id = other.stack.getLogicalId(
      other.stack.keyturn.functions.monitor.sweepQueue.node.defaultChild as CfnElement,
    );
    const statements = Object.values(other.template.findResources("AWS::SQS::QueuePolicy"))
      .filter((policy) => JSON.stringify(policy.Properties.Queues) === JSON.stringify([{ Ref: id }]))
      .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[]);

    expect(statements.find((s) => s.Sid === "OnlyTheDeploymentChangesTheSweepQueue")?.Condition).toEqual({
      ArnNotEquals: { "aws:PrincipalArn": [role] },
    });
  });
});
