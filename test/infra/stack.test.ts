// The Keyturn stack as `cdk synth` produces it: the same cdk.json context, the real esbuild
// bundling of the rotate, monitor and revoke handlers, and the template and bundles that a
// deploy would ship.

import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { Duration } from "aws-cdk-lib";
import type { Template } from "aws-cdk-lib/assertions";
import { ScheduleExpression } from "aws-cdk-lib/aws-scheduler";
import { beforeAll, describe, expect, test } from "vitest";
import type { Severity } from "#engine/events.ts";
import { RELAYED_EVENT_NAMES } from "#engine/relay.ts";
import { InvalidKeyturnPropsError } from "../../infra/keyturn.ts";
import { SEVERITIES } from "../../infra/keyturn-alerts.ts";
import { HANDLERS, type Handler, resourceProperties, type Synthesized, synthesize } from "./synthesize.ts";

interface Statement {
  Sid?: string;
  Effect?: string;
  Principal?: unknown;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

function policyStatements(template: Template): Statement[] {
  return Object.values(template.findResources("AWS::IAM::Policy")).flatMap(
    (policy) => policy.Properties.PolicyDocument.Statement,
  );
}

/** The statements of the policies attached to a function's execution role. */
function functionStatements(template: Template, functionId: string): Statement[] {
  const role = resourceProperties(template, functionId).Role as { "Fn::GetAtt": [string, string] };
  const roleRef = { Ref: role["Fn::GetAtt"][0] };
  return Object.values(template.findResources("AWS::IAM::Policy"))
    .filter((policy) => JSON.stringify(policy.Properties.Roles) === JSON.stringify([roleRef]))
    .flatMap((policy) => policy.Properties.PolicyDocument.Statement);
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

/** Secrets Manager statements other than the ListSecrets one, which must name Resource "*". */
function secretStatements(template: Template): Statement[] {
  return statementsAllowing(template, "secretsmanager:").filter(
    (statement) => !actionsOf(statement).includes("secretsmanager:ListSecrets"),
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
  let synthesized: Synthesized;
  let functions: Record<Handler, Record<string, unknown>>;
  let bundleDirectories: Record<Handler, string>;

  beforeAll(() => {
    synthesized = synthesize();
    const { template, functionIds, assemblyDirectory } = synthesized;
    functions = {
      rotate: resourceProperties(template, functionIds.rotate),
      monitor: resourceProperties(template, functionIds.monitor),
      revoke: resourceProperties(template, functionIds.revoke),
      relay: resourceProperties(template, functionIds.relay),
    };
    const bundleOf = (handler: Handler) => {
      const { S3Key } = functions[handler].Code as { S3Key: string };
      return join(assemblyDirectory, `asset.${S3Key.replace(/\.zip$/, "")}`);
    };
    bundleDirectories = {
      rotate: bundleOf("rotate"),
      monitor: bundleOf("monitor"),
      revoke: bundleOf("revoke"),
      relay: bundleOf("relay"),
    };
  });

  describe.each(HANDLERS)("the %s function", (handler) => {
    test("runs on the nodejs24.x runtime", () => {
      expect(functions[handler].Runtime).toBe("nodejs24.x");
    });

    test("runs on arm64", () => {
      expect(functions[handler].Architectures).toEqual(["arm64"]);
    });

    test(`is bundled from functions/handlers/${handler}.ts and no other handler`, () => {
      const { sources } = JSON.parse(readFileSync(join(bundleDirectories[handler], "index.mjs.map"), "utf8"));
      const handlers = HANDLERS.filter((name) =>
        (sources as string[]).some((source) => source.endsWith(`functions/handlers/${name}.ts`)),
      );

      expect(handlers).toEqual([handler]);
    });

    test("is bundled without the test-only aws-sdk-client-mock", () => {
      const bundle = readFileSync(join(bundleDirectories[handler], "index.mjs"), "utf8");

      expect(bundle).not.toContain("aws-sdk-client-mock");
    });

    test("ships a bundle that Node loads as an ES module exporting handler", async () => {
      const probe = 'const m = await import("./index.mjs"); process.stdout.write(typeof m.handler);';

      const { stdout } = await promisify(execFile)(process.execPath, ["--input-type=module", "-e", probe], {
        cwd: bundleDirectories[handler],
        env: { PATH: process.env.PATH, AWS_REGION: "us-east-1", KEYTURN_EVENT_BUS_NAME: "keyturn" },
      });

      expect(functions[handler].Handler).toBe("index.handler");
      expect(stdout).toBe("function");
    });

    test("turns on source maps for stack traces", () => {
      expect(functions[handler].Environment).toMatchObject({
        Variables: { NODE_OPTIONS: "--enable-source-maps" },
      });
    });

    test("is told which bus to publish to", () => {
      expect(functions[handler].Environment).toMatchObject({
        Variables: { KEYTURN_EVENT_BUS_NAME: { Ref: synthesized.busId } },
      });
    });

    test("keeps its logs for one year", () => {
      const { LogGroup } = functions[handler].LoggingConfig as { LogGroup: { Ref: string } };

      expect(resourceProperties(synthesized.template, LogGroup.Ref)).toMatchObject({ RetentionInDays: 365 });
    });

    test("is traced with X-Ray", () => {
      expect(functions[handler].TracingConfig).toEqual({ Mode: "Active" });
    });
  });

  test("gives rotate 3 minutes a step, a monitor sweep 5, a revoke 10 and a relay 30 seconds", () => {
    expect(HANDLERS.map((handler) => functions[handler].Timeout)).toEqual([180, 300, 600, 30]);
  });

  test("creates the event bus named keyturn", () => {
    synthesized.template.hasResourceProperties("AWS::Events::EventBus", { Name: "keyturn" });
  });

  test("lets Secrets Manager in the same account invoke the rotate function", () => {
    synthesized.template.hasResourceProperties("AWS::Lambda::Permission", {
      Action: "lambda:InvokeFunction",
      Principal: "secretsmanager.amazonaws.com",
      FunctionName: { "Fn::GetAtt": [synthesized.functionIds.rotate, "Arn"] },
      SourceAccount: { Ref: "AWS::AccountId" },
    });
  });

  test("runs the monitor every hour from EventBridge Scheduler, failed deliveries to its dead-letter queue", () => {
    synthesized.template.resourceCountIs("AWS::Scheduler::Schedule", 1);
    synthesized.template.hasResourceProperties("AWS::Scheduler::Schedule", {
      ScheduleExpression: "rate(1 hour)",
      State: "ENABLED",
      Target: {
        Arn: { "Fn::GetAtt": [synthesized.functionIds.monitor, "Arn"] },
        DeadLetterConfig: { Arn: { "Fn::GetAtt": [synthesized.monitorQueueId, "Arn"] } },
      },
    });
  });

  test("lets only one monitor sweep run at a time", () => {
    expect(functions.monitor.ReservedConcurrentExecutions).toBe(1);
  });

  test("leaves the monitor's orphan safety margin and reconcile interval to the handler's defaults", () => {
    const { Variables } = functions.monitor.Environment as { Variables: Record<string, unknown> };

    expect(Object.keys(Variables)).not.toContain("KEYTURN_ORPHAN_SAFETY_MARGIN");
    expect(Object.keys(Variables)).not.toContain("KEYTURN_RECONCILE_INTERVAL");
  });

  test("caps the revoke function's concurrency", () => {
    expect(functions.revoke.ReservedConcurrentExecutions).toBe(5);
  });

  test.each([
    ["monitor", "monitorQueueId"],
    ["revoke", "revokeQueueId"],
  ] as const)(
    "does not retry a failed %s invocation and keeps it in its dead-letter queue",
    (handler, queue) => {
      synthesized.template.hasResourceProperties("AWS::Lambda::EventInvokeConfig", {
        FunctionName: { Ref: synthesized.functionIds[handler] },
        MaximumRetryAttempts: 0,
        DestinationConfig: { OnFailure: { Destination: { "Fn::GetAtt": [synthesized[queue], "Arn"] } } },
      });
    },
  );

  test("retries a failed relay twice, then keeps it in its dead-letter queue", () => {
    synthesized.template.hasResourceProperties("AWS::Lambda::EventInvokeConfig", {
      FunctionName: { Ref: synthesized.functionIds.relay },
      MaximumRetryAttempts: 2,
      DestinationConfig: {
        OnFailure: { Destination: { "Fn::GetAtt": [synthesized.relayQueueId, "Arn"] } },
      },
    });
  });

  test("runs the revoke function for each Revoke Requested event on the keyturn bus, undelivered ones to its dead-letter queue", () => {
    const rules = Object.values(synthesized.template.findResources("AWS::Events::Rule")).filter((rule) =>
      JSON.stringify(rule.Properties.Targets).includes(synthesized.functionIds.revoke),
    );

    expect(rules.map((rule) => rule.Properties)).toEqual([
      expect.objectContaining({
        EventBusName: { Ref: synthesized.busId },
        EventPattern: { "detail-type": ["Revoke Requested"] },
        Targets: [
          expect.objectContaining({
            Arn: { "Fn::GetAtt": [synthesized.functionIds.revoke, "Arn"] },
            DeadLetterConfig: { Arn: { "Fn::GetAtt": [synthesized.revokeQueueId, "Arn"] } },
          }),
        ],
      }),
    ]);
  });

  test("encrypts every dead-letter queue and refuses requests to it without TLS", () => {
    const queues = Object.keys(synthesized.template.findResources("AWS::SQS::Queue"));
    const policies = Object.values(synthesized.template.findResources("AWS::SQS::QueuePolicy"));

    expect(queues.sort()).toEqual(
      [
        synthesized.monitorQueueId,
        synthesized.revokeQueueId,
        synthesized.relayQueueId,
        synthesized.alertQueueId,
      ].sort(),
    );
    for (const queue of queues) {
      expect(resourceProperties(synthesized.template, queue)).toMatchObject({ SqsManagedSseEnabled: true });
      const policy = policies.find(
        (p) => JSON.stringify(p.Properties.Queues) === JSON.stringify([{ Ref: queue }]),
      );
      expect(policy?.Properties.PolicyDocument.Statement).toContainEqual(
        expect.objectContaining({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } }),
      );
    }
  });

  test("gives each function only the Secrets Manager actions its handler calls", () => {
    const secretActions = (handler: Handler) =>
      functionStatements(synthesized.template, synthesized.functionIds[handler])
        .flatMap(actionsOf)
        .filter((action) => action.startsWith("secretsmanager:"))
        .sort();

    expect(Object.fromEntries(HANDLERS.map((handler) => [handler, secretActions(handler)]))).toEqual({
      rotate: [
        "secretsmanager:DescribeSecret",
        "secretsmanager:GetSecretValue",
        "secretsmanager:PutSecretValue",
        "secretsmanager:TagResource",
        "secretsmanager:UpdateSecretVersionStage",
      ],
      monitor: [
        "secretsmanager:DescribeSecret",
        "secretsmanager:GetSecretValue",
        "secretsmanager:ListSecrets",
        "secretsmanager:TagResource",
      ],
      revoke: [
        "secretsmanager:DescribeSecret",
        "secretsmanager:GetSecretValue",
        "secretsmanager:RotateSecret",
        "secretsmanager:TagResource",
      ],
      relay: ["secretsmanager:DescribeSecret"],
    });
  });

  test("grants ListSecrets, which has no resource-level permissions, as the only Secrets Manager action on every resource", () => {
    const unscoped = statementsAllowing(synthesized.template, "secretsmanager:").filter((statement) =>
      resourcesOf(statement).includes("*"),
    );

    expect(unscoped.map(actionsOf)).toEqual([["secretsmanager:ListSecrets"]]);
  });

  test("grants no Secrets Manager write action on every resource", () => {
    const unscoped = policyStatements(synthesized.template).filter(
      (statement) => actionsOf(statement).some(isSecretsManagerWrite) && resourcesOf(statement).includes("*"),
    );

    expect(unscoped).toEqual([]);
  });

  test("grants every other Secrets Manager action only on secrets under keyturn/", () => {
    const statements = secretStatements(synthesized.template);

    expect(statements.length).toBeGreaterThan(0);
    for (const statement of statements) {
      expect(resourcesOf(statement).map(joinedArn)).toEqual([
        'arn:{{"Ref":"AWS::Partition"}}:secretsmanager:{{"Ref":"AWS::Region"}}:{{"Ref":"AWS::AccountId"}}:secret:keyturn/*',
      ]);
    }
  });

  test("grants them only on secrets carrying keyturn:provider, but for the relay's DescribeSecret, which reads that tag", () => {
    const relayStatements = functionStatements(synthesized.template, synthesized.functionIds.relay);
    const untagged = secretStatements(synthesized.template).filter(
      (statement) =>
        JSON.stringify(statement.Condition?.Null) !==
        JSON.stringify({ "aws:ResourceTag/keyturn:provider": "false" }),
    );

    expect(untagged.map(actionsOf)).toEqual([["secretsmanager:DescribeSecret"]]);
    expect(relayStatements).toContainEqual(untagged[0]);
  });

  test("lets every function but the relay write only keyturn:* tags", () => {
    const tagging = statementsAllowing(synthesized.template, "secretsmanager:TagResource");

    expect(tagging).toHaveLength(HANDLERS.filter((handler) => handler !== "relay").length);
    for (const statement of tagging) {
      expect(statement.Condition?.["ForAllValues:StringLike"]).toEqual({ "aws:TagKeys": ["keyturn:*"] });
    }
  });

  test("grants events:PutEvents only on the keyturn bus", () => {
    const statements = statementsAllowing(synthesized.template, "events:");

    expect(statements.map((statement) => [actionsOf(statement), resourcesOf(statement)])).toEqual(
      HANDLERS.map(() => [["events:PutEvents"], [{ "Fn::GetAtt": [synthesized.busId, "Arn"] }]]),
    );
  });

  test("lets the revoke function invoke the rotate function, as RotateSecret requires, and no other", () => {
    const invoking = functionStatements(synthesized.template, synthesized.functionIds.revoke).filter(
      (statement) => actionsOf(statement).some((action) => action.startsWith("lambda:")),
    );
    const rotateArn = { "Fn::GetAtt": [synthesized.functionIds.rotate, "Arn"] };

    expect(invoking.map((statement) => [actionsOf(statement), resourcesOf(statement)])).toEqual([
      [["lambda:InvokeFunction"], [rotateArn, { "Fn::Join": ["", [rotateArn, ":*"]] }]],
    ]);
  });

  test("lets neither the rotate nor the monitor function invoke any function", () => {
    const invoking = [synthesized.functionIds.rotate, synthesized.functionIds.monitor]
      .flatMap((id) => functionStatements(synthesized.template, id))
      .filter((statement) => actionsOf(statement).some((action) => action.startsWith("lambda:")));

    expect(invoking).toEqual([]);
  });

  test("sends Secrets Manager's rotation failures on the default bus to the relay, undelivered ones to its dead-letter queue", () => {
    expect(resourceProperties(synthesized.template, synthesized.relayRuleId)).toEqual(
      expect.objectContaining({
        EventPattern: {
          source: ["aws.secretsmanager"],
          "detail-type": ["AWS Service Event via CloudTrail"],
          detail: { eventName: ["RotationFailed", "RotationAbandoned"] },
        },
        Targets: [
          {
            Id: "Target0",
            Arn: { "Fn::GetAtt": [synthesized.functionIds.relay, "Arn"] },
            DeadLetterConfig: { Arn: { "Fn::GetAtt": [synthesized.relayQueueId, "Arn"] } },
            RetryPolicy: { MaximumRetryAttempts: 185, MaximumEventAgeInSeconds: 86400 },
          },
        ],
      }),
    );
    expect(resourceProperties(synthesized.template, synthesized.relayRuleId)).not.toHaveProperty(
      "EventBusName",
    );
  });

  test("sends the relay exactly the Secrets Manager events it handles", () => {
    const { EventPattern } = resourceProperties(synthesized.template, synthesized.relayRuleId) as {
      EventPattern: { detail: { eventName: string[] } };
    };

    expect([...EventPattern.detail.eventName].sort()).toEqual([...RELAYED_EVENT_NAMES].sort());
  });

  test("lets EventBridge invoke the relay only for its rule", () => {
    const permissions = Object.values(synthesized.template.findResources("AWS::Lambda::Permission"))
      .map((permission) => permission.Properties)
      .filter((permission) =>
        JSON.stringify(permission.FunctionName).includes(synthesized.functionIds.relay),
      );

    expect(permissions).toEqual([
      {
        Action: "lambda:InvokeFunction",
        FunctionName: { "Fn::GetAtt": [synthesized.functionIds.relay, "Arn"] },
        Principal: "events.amazonaws.com",
        SourceArn: { "Fn::GetAtt": [synthesized.relayRuleId, "Arn"] },
      },
    ]);
  });

  test("lets the relay neither read a secret value nor invoke any function", () => {
    const actions = functionStatements(synthesized.template, synthesized.functionIds.relay).flatMap(
      actionsOf,
    );

    expect(actions).not.toContain("secretsmanager:GetSecretValue");
    expect(actions.filter((action) => action.startsWith("lambda:"))).toEqual([]);
  });
});

describe("the alerts", () => {
  let synthesized: Synthesized;

  beforeAll(() => {
    synthesized = synthesize({}, { bundle: false });
  });

  const keyId = () => Object.keys(synthesized.template.findResources("AWS::KMS::Key"))[0] as string;

  function topicPolicy(severity: Severity): Statement[] {
    const policies = Object.values(synthesized.template.findResources("AWS::SNS::TopicPolicy")).filter(
      (policy) =>
        JSON.stringify(policy.Properties.Topics) ===
        JSON.stringify([{ Ref: synthesized.topicIds[severity] }]),
    );
    return policies.flatMap((policy) => policy.Properties.PolicyDocument.Statement);
  }

  test("are three SNS topics, one per severity, encrypted with a customer managed key that rotates", () => {
    const topics = synthesized.template.findResources("AWS::SNS::Topic");

    expect(Object.keys(topics).sort()).toEqual(Object.values(synthesized.topicIds).sort());
    for (const topic of Object.values(topics)) {
      expect(topic.Properties.KmsMasterKeyId).toEqual({ "Fn::GetAtt": [keyId(), "Arn"] });
    }
    expect(resourceProperties(synthesized.template, keyId())).toMatchObject({ EnableKeyRotation: true });
  });

  test("let EventBridge encrypt with the key only for rules on the keyturn bus", () => {
    const { KeyPolicy } = resourceProperties(synthesized.template, keyId()) as {
      KeyPolicy: { Statement: Statement[] };
    };
    const forEventBridge = KeyPolicy.Statement.filter(
      (statement) =>
        JSON.stringify(statement.Principal) === JSON.stringify({ Service: "events.amazonaws.com" }),
    );

    expect(forEventBridge).toHaveLength(1);
    expect(actionsOf(forEventBridge[0] as Statement).sort()).toEqual(["kms:Decrypt", "kms:GenerateDataKey"]);
    expect(joinedArn(forEventBridge[0]?.Condition?.ArnLike?.["aws:SourceArn"])).toBe(
      `arn:{{"Ref":"AWS::Partition"}}:events:{{"Ref":"AWS::Region"}}:{{"Ref":"AWS::AccountId"}}:rule/{{"Ref":"${synthesized.busId}"}}/*`,
    );
  });

  test.each(SEVERITIES)("let only the %s rule publish to its topic, and only over TLS", (severity) => {
    const statements = topicPolicy(severity);

    expect(statements.filter((statement) => statement.Effect === "Allow")).toEqual([
      expect.objectContaining({
        Principal: { Service: "events.amazonaws.com" },
        Action: "sns:Publish",
        Condition: {
          ArnEquals: { "aws:SourceArn": { "Fn::GetAtt": [synthesized.alertRuleIds[severity], "Arn"] } },
        },
      }),
    ]);
    expect(statements).toContainEqual(
      expect.objectContaining({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } }),
    );
  });

  test.each(SEVERITIES)(
    "send every %s keyturn event on the bus to its topic, undelivered ones to the alerts dead-letter queue",
    (severity) => {
      expect(resourceProperties(synthesized.template, synthesized.alertRuleIds[severity])).toMatchObject({
        EventBusName: { Ref: synthesized.busId },
        EventPattern: { source: ["keyturn"], detail: { severity: [severity] } },
        Targets: [
          {
            Id: "Target0",
            Arn: { Ref: synthesized.topicIds[severity] },
            DeadLetterConfig: { Arn: { "Fn::GetAtt": [synthesized.alertQueueId, "Arn"] } },
            RetryPolicy: { MaximumRetryAttempts: 185, MaximumEventAgeInSeconds: 86400 },
          },
        ],
      });
      expect(
        (
          resourceProperties(synthesized.template, synthesized.alertRuleIds[severity]) as {
            EventPattern: unknown;
          }
        ).EventPattern,
      ).toEqual({ source: ["keyturn"], detail: { severity: [severity] } });
    },
  );

  test("let only the alert rules put undelivered alerts in the alerts dead-letter queue", () => {
    const policy = Object.values(synthesized.template.findResources("AWS::SQS::QueuePolicy")).find(
      (p) => JSON.stringify(p.Properties.Queues) === JSON.stringify([{ Ref: synthesized.alertQueueId }]),
    );
    const allowed = ((policy?.Properties.PolicyDocument.Statement ?? []) as Statement[]).filter(
      (statement) => statement.Effect === "Allow",
    );

    expect(allowed.map((statement) => statement.Condition?.ArnEquals?.["aws:SourceArn"])).toEqual(
      SEVERITIES.map((severity) => ({ "Fn::GetAtt": [synthesized.alertRuleIds[severity], "Arn"] })),
    );
    expect(allowed.flatMap(actionsOf)).toEqual(SEVERITIES.map(() => "sqs:SendMessage"));
  });

  test("subscribe nobody when no endpoint is configured", () => {
    synthesized.template.resourceCountIs("AWS::SNS::Subscription", 0);
  });
});

describe("Keyturn props", () => {
  test("busName names the event bus", () => {
    const { template } = synthesize({ busName: "credentials" }, { bundle: false });

    template.hasResourceProperties("AWS::Events::EventBus", { Name: "credentials" });
  });

  test("secretNamePrefix scopes Secrets Manager access to that folder", () => {
    const { template } = synthesize({ secretNamePrefix: "prod/vendors/" }, { bundle: false });

    const resources = secretStatements(template).flatMap(resourcesOf).map(joinedArn);

    expect(resources.length).toBeGreaterThan(0);
    expect(resources.every((arn) => arn.endsWith(":secret:prod/vendors/*"))).toBe(true);
  });

  test("a secretNamePrefix without a trailing slash is refused", () => {
    expect(() => synthesize({ secretNamePrefix: "keyturn" }, { bundle: false })).toThrow(
      InvalidKeyturnPropsError,
    );
  });

  test("monitorSchedule sets when the monitor runs", () => {
    const { template } = synthesize(
      { monitorSchedule: ScheduleExpression.rate(Duration.minutes(15)) },
      { bundle: false },
    );

    template.hasResourceProperties("AWS::Scheduler::Schedule", { ScheduleExpression: "rate(15 minutes)" });
  });

  test("orphanSafetyMargin and reconcileInterval reach the monitor's environment", () => {
    const { template, functionIds } = synthesize(
      { orphanSafetyMargin: "30m", reconcileInterval: "1d" },
      { bundle: false },
    );

    expect(resourceProperties(template, functionIds.monitor).Environment).toMatchObject({
      Variables: { KEYTURN_ORPHAN_SAFETY_MARGIN: "30m", KEYTURN_RECONCILE_INTERVAL: "1d" },
    });
  });

  test.each([{ orphanSafetyMargin: "1 hour" }, { reconcileInterval: "6" }])(
    "a duration the monitor could not read is refused: %o",
    (props) => {
      expect(() => synthesize(props, { bundle: false })).toThrow(InvalidKeyturnPropsError);
    },
  );
});

describe("Keyturn alerts props", () => {
  const endpoints = { email: ["oncall@example.com"], https: ["https://hooks.example.com/keyturn"] };

  /** Each subscription as [the severity of its topic, protocol, endpoint]. */
  function subscriptions(synthesized: Synthesized): [Severity, string, string][] {
    const severityOf = (topicArn: unknown) =>
      SEVERITIES.find(
        (severity) => JSON.stringify(topicArn) === JSON.stringify({ Ref: synthesized.topicIds[severity] }),
      );
    return Object.values(synthesized.template.findResources("AWS::SNS::Subscription"))
      .map((subscription): [Severity, string, string] => [
        severityOf(subscription.Properties.TopicArn) as Severity,
        subscription.Properties.Protocol,
        subscription.Properties.Endpoint,
      ])
      .sort();
  }

  const subscribed = (severities: Severity[]) =>
    severities
      .flatMap((severity): [Severity, string, string][] => [
        [severity, "email", "oncall@example.com"],
        [severity, "https", "https://hooks.example.com/keyturn"],
      ])
      .sort();

  test.each([
    ["info", ["info", "warning", "critical"]],
    ["warning", ["warning", "critical"]],
    ["critical", ["critical"]],
  ] as const)(
    "with minimumSeverity %s, email and https endpoints are subscribed to the topics of %j",
    (minimumSeverity, severities) => {
      const synthesized = synthesize({ alerts: { ...endpoints, minimumSeverity } }, { bundle: false });

      expect(subscriptions(synthesized)).toEqual(subscribed([...severities]));
    },
  );

  test("minimumSeverity defaults to warning", () => {
    const synthesized = synthesize({ alerts: endpoints }, { bundle: false });

    expect(subscriptions(synthesized)).toEqual(subscribed(["warning", "critical"]));
  });

  test("an endpoint listed twice is subscribed once per topic", () => {
    const synthesized = synthesize(
      { alerts: { email: ["oncall@example.com", "oncall@example.com"], minimumSeverity: "critical" } },
      { bundle: false },
    );

    expect(subscriptions(synthesized)).toEqual([["critical", "email", "oncall@example.com"]]);
  });

  test.each([
    { email: ["oncall"] },
    { email: ["oncall@example.com, dev@example.com"] },
    { https: ["http://hooks.example.com/keyturn"] },
    { https: ["hooks.example.com/keyturn"] },
    { minimumSeverity: "urgent" as Severity },
  ])("an endpoint or severity SNS could not use is refused: %o", (alerts) => {
    expect(() => synthesize({ alerts }, { bundle: false })).toThrow(InvalidKeyturnPropsError);
  });
});
