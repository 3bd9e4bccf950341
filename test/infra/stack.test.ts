// The Keyturn stack as `cdk synth` produces it: the same cdk.json context, the real esbuild
// bundling of the rotate, monitor and revoke handlers, and the template and bundles that a
// deploy would ship.

import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { App, Duration } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import type { CfnEventBus } from "aws-cdk-lib/aws-events";
import type { CfnFunction } from "aws-cdk-lib/aws-lambda";
import { ScheduleExpression } from "aws-cdk-lib/aws-scheduler";
import type { CfnQueue } from "aws-cdk-lib/aws-sqs";
import type { IConstruct } from "constructs";
import { beforeAll, describe, expect, test } from "vitest";
import { InvalidKeyturnPropsError } from "../../infra/keyturn.ts";
import { KeyturnStack, type KeyturnStackProps } from "../../infra/keyturn-stack.ts";

interface Statement {
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

const HANDLERS = ["rotate", "monitor", "revoke"] as const;
type Handler = (typeof HANDLERS)[number];

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
  const { keyturn } = stack;
  const logicalId = (construct: IConstruct) => stack.getLogicalId(construct.node.defaultChild as CfnFunction);
  const functionIds: Record<Handler, string> = {
    rotate: logicalId(keyturn.rotateFunction),
    monitor: logicalId(keyturn.monitorFunction),
    revoke: logicalId(keyturn.revokeFunction),
  };
  return {
    template,
    functionIds,
    busId: stack.getLogicalId(keyturn.bus.node.defaultChild as CfnEventBus),
    monitorQueueId: stack.getLogicalId(keyturn.monitorDeadLetters.node.defaultChild as CfnQueue),
    revokeQueueId: stack.getLogicalId(keyturn.revokeDeadLetters.node.defaultChild as CfnQueue),
    assemblyDirectory: assembly.directory,
  };
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
  let synthesized: ReturnType<typeof synthesize>;
  let functions: Record<Handler, Record<string, unknown>>;
  let bundleDirectories: Record<Handler, string>;

  beforeAll(() => {
    synthesized = synthesize();
    const { template, functionIds, assemblyDirectory } = synthesized;
    functions = {
      rotate: resourceProperties(template, functionIds.rotate),
      monitor: resourceProperties(template, functionIds.monitor),
      revoke: resourceProperties(template, functionIds.revoke),
    };
    const bundleOf = (handler: Handler) => {
      const { S3Key } = functions[handler].Code as { S3Key: string };
      return join(assemblyDirectory, `asset.${S3Key.replace(/\.zip$/, "")}`);
    };
    bundleDirectories = {
      rotate: bundleOf("rotate"),
      monitor: bundleOf("monitor"),
      revoke: bundleOf("revoke"),
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

  test("gives rotate 3 minutes a step, a monitor sweep 5 and a revoke 10", () => {
    expect([functions.rotate.Timeout, functions.monitor.Timeout, functions.revoke.Timeout]).toEqual([
      180, 300, 600,
    ]);
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

  test("runs the revoke function for each Revoke Requested event on the keyturn bus, undelivered ones to its dead-letter queue", () => {
    const rules = Object.values(synthesized.template.findResources("AWS::Events::Rule"));

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

    expect(queues.sort()).toEqual([synthesized.monitorQueueId, synthesized.revokeQueueId].sort());
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

  test("grants every other Secrets Manager action only on secrets under keyturn/ that carry keyturn:provider", () => {
    const statements = secretStatements(synthesized.template);

    expect(statements.length).toBeGreaterThan(0);
    for (const statement of statements) {
      expect(resourcesOf(statement).map(joinedArn)).toEqual([
        'arn:{{"Ref":"AWS::Partition"}}:secretsmanager:{{"Ref":"AWS::Region"}}:{{"Ref":"AWS::AccountId"}}:secret:keyturn/*',
      ]);
      expect(statement.Condition?.Null).toEqual({ "aws:ResourceTag/keyturn:provider": "false" });
    }
  });

  test("lets every function write only keyturn:* tags", () => {
    const tagging = statementsAllowing(synthesized.template, "secretsmanager:TagResource");

    expect(tagging).toHaveLength(HANDLERS.length);
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
