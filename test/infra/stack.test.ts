// The Keyturn stack as `cdk synth` produces it: the same cdk.json context, the real esbuild
// bundling of every handler, and the template and bundles that a deploy would ship.

import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join, relative, resolve, sep } from "node:path";
import { promisify } from "node:util";
import { type CfnElement, Duration } from "aws-cdk-lib";
import type { Template } from "aws-cdk-lib/assertions";
import { AccountRootPrincipal, type CfnRole, Role } from "aws-cdk-lib/aws-iam";
import { ScheduleExpression } from "aws-cdk-lib/aws-scheduler";
import { beforeAll, describe, expect, test } from "vitest";
import { DUE_INDEX } from "#aws/record-store.ts";
import { parseDuration } from "#engine/duration.ts";
import type { Severity } from "#engine/events.ts";
import { pinnedDocument } from "#engine/pinned.ts";
import { RELAYED_EVENT_NAMES } from "#engine/relay.ts";
import { pinnedCredential } from "../../infra/config.ts";
import { InvalidKeyturnPropsError } from "../../infra/keyturn.ts";
import { SEVERITIES } from "../../infra/keyturn-alerts.ts";
import type { KeyturnStack } from "../../infra/keyturn-stack.ts";
import {
  actionsOf,
  functionStatements,
  joinedArn,
  policyStatements,
  resourcesOf,
  roleStatements,
  type Statement,
} from "./statements.ts";
import {
  configProps,
  exampleConfig,
  HANDLERS,
  type Handler,
  resourceProperties,
  type Synthesized,
  synthesize,
} from "./synthesize.ts";

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

/** Actions that change anything, as IAM's access levels count them: neither read nor list. */
function isWrite(action: string): boolean {
  return !/:(Get|Describe|List|BatchGet|Query|Scan)/.test(action);
}

/** The minutes of a rate expression such as "rate(2 minutes)" or "rate(1 hour)". */
function rateMinutes(expression: unknown): number {
  const match = /^rate\((\d+) (minute|hour|day)s?\)$/.exec(String(expression));
  if (!match) throw new Error(`Not a rate expression: ${String(expression)}`);
  return Number(match[1]) * { minute: 1, hour: 60, day: 1440 }[match[2] as "minute" | "hour" | "day"];
}

/** The schedules that invoke a function, by its logical id. */
function schedulesOf(template: Template, functionId: string): Record<string, unknown>[] {
  return Object.values(template.findResources("AWS::Scheduler::Schedule"))
    .map((schedule) => schedule.Properties)
    .filter(
      (schedule) =>
        JSON.stringify(schedule.Target.Arn) === JSON.stringify({ "Fn::GetAtt": [functionId, "Arn"] }),
    );
}

const PROJECT_ROOT = join(import.meta.dirname, "..", "..");

/** package-lock.json: `dev` marks a package that only devDependencies bring into node_modules. */
const LOCKFILE = JSON.parse(readFileSync(join(PROJECT_ROOT, "package-lock.json"), "utf8")) as {
  packages: Record<string, { dev?: boolean }>;
};

/** The files a bundle was built from, as absolute paths, from its source map. */
function bundleSources(bundleDirectory: string): string[] {
  const { sources } = JSON.parse(readFileSync(join(bundleDirectory, "index.mjs.map"), "utf8")) as {
    sources: string[];
  };
  return sources.map((source) => resolve(bundleDirectory, source));
}

/** The lockfile's key for the package a source file belongs to ("node_modules/@aws-sdk/core"), if any. */
function lockfilePackageOf(source: string): string | undefined {
  // From the first node_modules on, wherever node_modules itself lies (it may be a link).
  const path = source.split(sep).join("/");
  return /\/(node_modules\/(?:@[^/]+\/)?[^/]+(?:\/node_modules\/(?:@[^/]+\/)?[^/]+)*)/.exec(path)?.[1];
}

describe("the Keyturn stack", () => {
  let synthesized: Synthesized;
  let functions: Record<Handler, Record<string, unknown>>;
  let bundleDirectories: Record<Handler, string>;

  beforeAll(() => {
    // The example config, bundled: what `npx cdk synth` produces on a clean clone.
    synthesized = synthesize(configProps());
    const { template, functionIds, assemblyDirectory } = synthesized;
    functions = Object.fromEntries(
      HANDLERS.map((handler) => [handler, resourceProperties(template, functionIds[handler])]),
    ) as Record<Handler, Record<string, unknown>>;
    const bundleOf = (handler: Handler) => {
      const { S3Key } = functions[handler].Code as { S3Key: string };
      return join(assemblyDirectory, `asset.${S3Key.replace(/\.zip$/, "")}`);
    };
    bundleDirectories = Object.fromEntries(HANDLERS.map((handler) => [handler, bundleOf(handler)])) as Record<
      Handler,
      string
    >;
  });

  describe.each(HANDLERS)("the %s function", (handler) => {
    test("runs on the nodejs24.x runtime", () => {
      expect(functions[handler].Runtime).toBe("nodejs24.x");
    });

    test("runs on arm64", () => {
      expect(functions[handler].Architectures).toEqual(["arm64"]);
    });

    test(`is bundled from functions/handlers/${handler}.ts and no other handler`, () => {
      const sources = bundleSources(bundleDirectories[handler]);
      const handlers = HANDLERS.filter((name) =>
        sources.some((source) => source === join(PROJECT_ROOT, "functions", "handlers", `${name}.ts`)),
      );

      expect(handlers).toEqual([handler]);
    });

    test("is bundled from functions/ and production dependencies alone: no sandbox or test code, no package only a devDependency brings", () => {
      const sources = bundleSources(bundleDirectories[handler]);
      const packages = [...new Set(sources.flatMap((source) => lockfilePackageOf(source) ?? []))];
      const ownCode = sources
        .filter((source) => lockfilePackageOf(source) === undefined)
        .map((source) => relative(PROJECT_ROOT, source));

      expect(ownCode.filter((path) => !path.startsWith("functions/"))).toEqual([]);
      // Every bundled package is one the lockfile knows, so the dev-only check below sees them all.
      expect(packages.length).toBeGreaterThan(0);
      expect(packages.filter((key) => LOCKFILE.packages[key] === undefined)).toEqual([]);
      expect(packages.filter((key) => LOCKFILE.packages[key]?.dev === true)).toEqual([]);
    });

    test("ships a bundle that Node loads, with the environment the template gives it, as an ES module exporting handler", async () => {
      const probe = 'const m = await import("./index.mjs"); process.stdout.write(typeof m.handler);';
      // What CloudFormation resolves at deploy (the bus and table names) stands in as a literal.
      const { Variables } = functions[handler].Environment as { Variables: Record<string, unknown> };
      const environment = Object.fromEntries(
        Object.entries(Variables).map(([name, value]) => [
          name,
          typeof value === "string" ? value : `${name}-deployed`,
        ]),
      );

      const { stdout } = await promisify(execFile)(process.execPath, ["--input-type=module", "-e", probe], {
        cwd: bundleDirectories[handler],
        env: { PATH: process.env.PATH, AWS_REGION: "us-east-1", ...environment },
      });

      expect(functions[handler].Handler).toBe("index.handler");
      expect(stdout).toBe("function");
    });

    test(
      handler === "relay"
        ? "carries no pinned configuration: it acts on no credential"
        : "carries the config's credentials as the deployment pins them, baked into its code",
      () => {
        const code = readFileSync(join(bundleDirectories[handler], "index.mjs"), "utf8");
        const document = pinnedDocument(exampleConfig().credentials.map(pinnedCredential));
        const encoded = Buffer.from(JSON.stringify(document)).toString("base64");

        expect(document.credentials.length).toBeGreaterThan(0);
        expect(code.includes(encoded)).toBe(handler !== "relay");
      },
    );

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

    test("is not traced with X-Ray (infra/keyturn-function.ts says why), so needs no X-Ray permission", () => {
      expect(functions[handler].TracingConfig).toBeUndefined();
      expect(JSON.stringify(synthesized.template.toJSON())).not.toContain("xray:");
    });
  });

  test("gives rotate 3 minutes a step, a monitor sweep 5, a refresh 1, a revoke 10 and a relay 30 seconds", () => {
    expect(Object.fromEntries(HANDLERS.map((handler) => [handler, functions[handler].Timeout]))).toEqual({
      rotate: 180,
      monitor: 300,
      refresh: 60,
      revoke: 600,
      relay: 30,
    });
  });

  test("creates the event bus named keyturn", () => {
    synthesized.template.hasResourceProperties("AWS::Events::EventBus", { Name: "keyturn" });
  });

  test("lets Secrets Manager invoke the rotate function for secrets under keyturn/ in the same account only", () => {
    const permissions = Object.values(synthesized.template.findResources("AWS::Lambda::Permission"))
      .map((permission) => permission.Properties)
      .filter((permission) => permission.Principal === "secretsmanager.amazonaws.com");

    expect(permissions).toEqual([
      expect.objectContaining({
        Action: "lambda:InvokeFunction",
        FunctionName: { "Fn::GetAtt": [synthesized.functionIds.rotate, "Arn"] },
        SourceAccount: { Ref: "AWS::AccountId" },
      }),
    ]);
    expect(joinedArn(permissions[0]?.SourceArn)).toBe(
      'arn:{{"Ref":"AWS::Partition"}}:secretsmanager:{{"Ref":"AWS::Region"}}:{{"Ref":"AWS::AccountId"}}:secret:keyturn/*',
    );
  });

  test("runs the monitor's due sweep every hour and its audit every day from EventBridge Scheduler, failed deliveries to its dead-letter queue", () => {
    const target = (mode: string) =>
      expect.objectContaining({
        DeadLetterConfig: { Arn: { "Fn::GetAtt": [synthesized.monitorQueueId, "Arn"] } },
        Input: JSON.stringify({ mode }),
      });
    expect(schedulesOf(synthesized.template, synthesized.functionIds.monitor)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          ScheduleExpression: "rate(1 hour)",
          State: "ENABLED",
          Target: target("due"),
        }),
        expect.objectContaining({
          ScheduleExpression: "rate(1 day)",
          State: "ENABLED",
          Target: target("audit"),
        }),
      ]),
    );
    expect(schedulesOf(synthesized.template, synthesized.functionIds.monitor)).toHaveLength(2);
  });

  test("has two schedules for the monitor (due sweep, audit) and one for the refresh, and no other", () => {
    synthesized.template.resourceCountIs("AWS::Scheduler::Schedule", 3);
  });

  test("lets one scheduled monitor sweep run beside the sweep queue's two batches (test/infra/fan-out.test.ts)", () => {
    expect(functions.monitor.ReservedConcurrentExecutions).toBe(3);
  });

  test("leaves the monitor's orphan safety margin, reconcile interval and stuck-rotation age to the handler's defaults", () => {
    const { Variables } = functions.monitor.Environment as { Variables: Record<string, unknown> };

    expect(Object.keys(Variables)).not.toContain("KEYTURN_ORPHAN_SAFETY_MARGIN");
    expect(Object.keys(Variables)).not.toContain("KEYTURN_RECONCILE_INTERVAL");
    expect(Object.keys(Variables)).not.toContain("KEYTURN_STUCK_ROTATION_AFTER");
  });

  test("caps the revoke function's concurrency", () => {
    expect(functions.revoke.ReservedConcurrentExecutions).toBe(5);
  });

  test.each([
    ["monitor", "monitorQueueId"],
    ["refresh", "refreshQueueId"],
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

  test("runs the revoke function for each Revoke Requested event of a configured requester's source, undelivered ones to its dead-letter queue", () => {
    const rules = Object.values(synthesized.template.findResources("AWS::Events::Rule")).filter((rule) =>
      JSON.stringify(rule.Properties.Targets).includes(synthesized.functionIds.revoke),
    );

    expect(rules.map((rule) => rule.Properties)).toEqual([
      expect.objectContaining({
        EventBusName: { Ref: synthesized.busId },
        EventPattern: { source: ["my.leak-scanner"], "detail-type": ["Revoke Requested"] },
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
    // The sweep queue (test/infra/fan-out.test.ts) is encrypted and TLS-only alike.
    const sweepQueue = synthesized.stack.getLogicalId(
      synthesized.stack.keyturn.functions.monitor.sweepQueue.node.defaultChild as CfnElement,
    );
    const policies = Object.values(synthesized.template.findResources("AWS::SQS::QueuePolicy"));

    expect(queues.sort()).toEqual(
      [
        synthesized.monitorQueueId,
        synthesized.refreshQueueId,
        synthesized.revokeQueueId,
        synthesized.relayQueueId,
        synthesized.alertQueueId,
        sweepQueue,
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
        "secretsmanager:RotateSecret",
        "secretsmanager:TagResource",
        "secretsmanager:UpdateSecretVersionStage",
      ],
      refresh: ["secretsmanager:GetSecretValue", "secretsmanager:ListSecrets"],
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

    expect(unscoped.map(actionsOf)).toEqual([["secretsmanager:ListSecrets"], ["secretsmanager:ListSecrets"]]);
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

  test("lets every function but the refresh and the relay write only keyturn:* tags", () => {
    const tagging = statementsAllowing(synthesized.template, "secretsmanager:TagResource");

    expect(tagging).toHaveLength(
      HANDLERS.filter((handler) => handler !== "refresh" && handler !== "relay").length,
    );
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

  test.each(["revoke", "monitor"] as const)(
    "lets the %s function invoke the rotate function, as RotateSecret requires, and no other",
    (handler) => {
      const invoking = functionStatements(synthesized.template, synthesized.functionIds[handler]).filter(
        (statement) => actionsOf(statement).some((action) => action.startsWith("lambda:")),
      );
      const rotateArn = { "Fn::GetAtt": [synthesized.functionIds.rotate, "Arn"] };

      expect(invoking.map((statement) => [actionsOf(statement), resourcesOf(statement)])).toEqual([
        [["lambda:InvokeFunction"], [rotateArn]],
      ]);
    },
  );

  test("lets neither the rotate nor the refresh function invoke any function", () => {
    const invoking = [synthesized.functionIds.rotate, synthesized.functionIds.refresh]
      .flatMap((id) => functionStatements(synthesized.template, id))
      .filter((statement) => actionsOf(statement).some((action) => action.startsWith("lambda:")));

    expect(invoking).toEqual([]);
  });

  describe("the refresh", () => {
    const refreshVariables = () =>
      (functions.refresh.Environment as { Variables: Record<string, unknown> }).Variables;
    const refreshStatements = () => functionStatements(synthesized.template, synthesized.functionIds.refresh);
    const tokenParameters =
      'arn:{{"Ref":"AWS::Partition"}}:ssm:{{"Ref":"AWS::Region"}}:{{"Ref":"AWS::AccountId"}}:parameter/keyturn/tokens/*';

    test("runs every 2 minutes from EventBridge Scheduler, failed deliveries to its dead-letter queue", () => {
      expect(schedulesOf(synthesized.template, synthesized.functionIds.refresh)).toEqual([
        expect.objectContaining({
          ScheduleExpression: "rate(2 minutes)",
          State: "ENABLED",
          Target: expect.objectContaining({
            DeadLetterConfig: { Arn: { "Fn::GetAtt": [synthesized.refreshQueueId, "Arn"] } },
          }),
        }),
      ]);
    });

    test("is told the interval its schedule runs at, so that it refreshes ahead by the real gap between runs", () => {
      const [schedule] = schedulesOf(synthesized.template, synthesized.functionIds.refresh);

      expect(refreshVariables().KEYTURN_REFRESH_INTERVAL).toBe("2m");
      expect(parseDuration(refreshVariables().KEYTURN_REFRESH_INTERVAL as string)).toBe(
        rateMinutes(schedule?.ScheduleExpression) * 60_000,
      );
    });

    test("is told its lease table, keyturn's records, where to store tokens and how long a token must have left", () => {
      expect(refreshVariables()).toMatchObject({
        KEYTURN_LEASE_TABLE: { Ref: synthesized.leaseTableId },
        KEYTURN_RECORDS_TABLE: { Ref: synthesized.recordsTableId },
        KEYTURN_TOKEN_PARAMETER_PREFIX: "/keyturn/tokens",
        KEYTURN_MIN_TOKEN_REMAINING: "2m",
      });
    });

    test("runs one at a time, since a refresh invalidates the pair before it", () => {
      expect(functions.refresh.ReservedConcurrentExecutions).toBe(1);
    });

    test("gives up a run held back for a whole interval, on the schedule and in Lambda's queue", () => {
      const [schedule] = schedulesOf(synthesized.template, synthesized.functionIds.refresh);

      expect(schedule?.Target).toMatchObject({ RetryPolicy: { MaximumEventAgeInSeconds: 120 } });
      synthesized.template.hasResourceProperties("AWS::Lambda::EventInvokeConfig", {
        FunctionName: { Ref: synthesized.functionIds.refresh },
        MaximumEventAgeInSeconds: 120,
      });
    });

    test("reads and writes token parameters under /keyturn/tokens only", () => {
      const statements = statementsAllowing(synthesized.template, "ssm:");

      expect(
        statements.map((statement) => [actionsOf(statement).sort(), resourcesOf(statement).map(joinedArn)]),
      ).toEqual([[["ssm:GetParameter", "ssm:PutParameter"], [tokenParameters]]]);
      expect(refreshStatements()).toContainEqual(statements[0]);
    });

    test("takes and releases leases in the lease table only", () => {
      // The records table's are below; the usage table's in test/infra/usage.test.ts.
      const statements = statementsAllowing(synthesized.template, "dynamodb:").filter(
        (statement) =>
          !JSON.stringify(resourcesOf(statement)).includes(synthesized.recordsTableId) &&
          !JSON.stringify(resourcesOf(statement)).includes("KeyturnUsageTable"),
      );

      expect(statements.map((statement) => [actionsOf(statement).sort(), resourcesOf(statement)])).toEqual([
        [["dynamodb:DeleteItem", "dynamodb:PutItem"], [{ "Fn::GetAtt": [synthesized.leaseTableId, "Arn"] }]],
      ]);
      expect(refreshStatements()).toContainEqual(statements[0]);
    });

    test("keyturn's records table: rotate and revoke read and add keys, the monitor also scans and keeps failure streaks, the refresh only reads, no function deletes", () => {
      const records = JSON.stringify({ "Fn::GetAtt": [synthesized.recordsTableId, "Arn"] });
      const byFunction = Object.fromEntries(
        HANDLERS.map((handler) => [
          handler,
          functionStatements(synthesized.template, synthesized.functionIds[handler])
            .filter((statement) =>
              resourcesOf(statement).some((resource) => JSON.stringify(resource) === records),
            )
            .flatMap(actionsOf)
            .sort(),
        ]),
      );

      expect(byFunction).toEqual({
        rotate: ["dynamodb:GetItem", "dynamodb:UpdateItem"],
        // PutItem: a failing action's streak is an item of its own (functions/aws/failure-streaks.ts).
        monitor: ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Scan", "dynamodb:UpdateItem"],
        // The settings keyturn wrote values under (a config change is not tampering).
        refresh: ["dynamodb:GetItem"],
        revoke: ["dynamodb:GetItem", "dynamodb:UpdateItem"],
        relay: [],
      });
    });

    test("the monitor alone may Query the records table's due index, and no function any other index", () => {
      const indexStatements = (handler: (typeof HANDLERS)[number]) =>
        functionStatements(synthesized.template, synthesized.functionIds[handler]).filter((statement) =>
          JSON.stringify(resourcesOf(statement)).includes("/index/"),
        );

      expect(
        indexStatements("monitor").map((statement) => [
          actionsOf(statement),
          JSON.stringify(resourcesOf(statement)),
        ]),
      ).toEqual([[["dynamodb:Query"], expect.stringContaining(`/index/${DUE_INDEX}`)]]);
      for (const handler of HANDLERS.filter((name) => name !== "monitor"))
        expect(indexStatements(handler)).toEqual([]);
    });

    test("writes nothing on every resource: there it has only ListSecrets, which takes no resource", () => {
      const unscoped = refreshStatements().filter((statement) => resourcesOf(statement).includes("*"));

      expect(unscoped.flatMap(actionsOf).sort()).toEqual(["secretsmanager:ListSecrets"]);
      expect(unscoped.flatMap(actionsOf).filter(isWrite)).toEqual([]);
    });

    test("uses KMS only to decrypt secrets through Secrets Manager, and the token key through Parameter Store for token parameters", () => {
      expect(
        refreshStatements()
          .filter((statement) => actionsOf(statement).some((action) => action.startsWith("kms:")))
          .map((statement) => [
            actionsOf(statement).sort(),
            resourcesOf(statement),
            statement.Condition?.StringEquals,
            Object.values(statement.Condition?.StringLike ?? {}).map(joinedArn),
          ]),
      ).toEqual([
        [
          ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
          [{ "Fn::GetAtt": [synthesized.tokenKeyId, "Arn"] }],
          { "kms:ViaService": { "Fn::Join": ["", ["ssm.", { Ref: "AWS::Region" }, ".amazonaws.com"]] } },
          [
            `arn:{{"Ref":"AWS::Partition"}}:ssm:{{"Ref":"AWS::Region"}}:{{"Ref":"AWS::AccountId"}}:parameter/keyturn/tokens/*`,
          ],
        ],
        [
          ["kms:Decrypt"],
          [{ "Fn::GetAtt": [synthesized.secretKeyId, "Arn"] }],
          {
            "kms:ViaService": {
              "Fn::Join": ["", ["secretsmanager.", { Ref: "AWS::Region" }, ".amazonaws.com"]],
            },
          },
          [
            `arn:{{"Ref":"AWS::Partition"}}:secretsmanager:{{"Ref":"AWS::Region"}}:{{"Ref":"AWS::AccountId"}}:secret:keyturn/*`,
          ],
        ],
      ]);
    });
  });

  describe("the lease table", () => {
    const table = () => resourceProperties(synthesized.template, synthesized.leaseTableId);

    test("is keyed on the lease name, a string", () => {
      expect(table()).toMatchObject({
        KeySchema: [{ AttributeName: "lease", KeyType: "HASH" }],
        AttributeDefinitions: [{ AttributeName: "lease", AttributeType: "S" }],
      });
    });

    test("is billed per request", () => {
      expect(table().BillingMode).toBe("PAY_PER_REQUEST");
    });

    test("lets DynamoDB remove leases past expiresAt", () => {
      expect(table().TimeToLiveSpecification).toEqual({ AttributeName: "expiresAt", Enabled: true });
    });

    test("has point-in-time recovery", () => {
      expect(table().PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
    });

    test("is encrypted with DynamoDB's AWS owned key, holding nothing secret", () => {
      // SSEEnabled false is DynamoDB's AWS owned key; true would be a KMS key.
      expect(table().SSESpecification).toEqual({ SSEEnabled: false });
    });

    test("is deleted with the stack, holding only leases of a minute", () => {
      expect(synthesized.template.toJSON().Resources[synthesized.leaseTableId]).toMatchObject({
        DeletionPolicy: "Delete",
        UpdateReplacePolicy: "Delete",
      });
    });
  });

  test("lets the monitor rotate early and clear a stuck AWSPENDING only on keyturn secrets carrying keyturn:provider", () => {
    const statements = functionStatements(synthesized.template, synthesized.functionIds.monitor).filter(
      (statement) =>
        actionsOf(statement).some(
          (action) =>
            action === "secretsmanager:RotateSecret" || action === "secretsmanager:UpdateSecretVersionStage",
        ),
    );

    expect(
      statements.map((statement) => [
        actionsOf(statement).sort(),
        resourcesOf(statement).map(joinedArn),
        statement.Condition,
      ]),
    ).toEqual([
      [
        ["secretsmanager:RotateSecret", "secretsmanager:UpdateSecretVersionStage"],
        [
          'arn:{{"Ref":"AWS::Partition"}}:secretsmanager:{{"Ref":"AWS::Region"}}:{{"Ref":"AWS::AccountId"}}:secret:keyturn/*',
        ],
        { Null: { "aws:ResourceTag/keyturn:provider": "false" } },
      ],
    ]);
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

  /** The alert topics' key (the stack also has the token key). */
  const keyId = () =>
    Object.keys(
      synthesized.template.findResources("AWS::KMS::Key", {
        Properties: { Description: "keyturn: encrypts the alert topics" },
      }),
    )[0] as string;

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
    const fromEventBridge = statements.filter(
      (statement) =>
        statement.Effect === "Allow" &&
        JSON.stringify(statement.Principal) === JSON.stringify({ Service: "events.amazonaws.com" }),
    );

    expect(fromEventBridge).toEqual([
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

  test("let no one but EventBridge publish to the info and warning topics, and CloudWatch alarms only to the critical one", () => {
    const publishers = (severity: Severity) =>
      topicPolicy(severity)
        .filter((statement) => statement.Effect === "Allow")
        .map((statement) => statement.Principal);

    expect(publishers("info")).toEqual([{ Service: "events.amazonaws.com" }]);
    expect(publishers("warning")).toEqual([{ Service: "events.amazonaws.com" }]);
    expect(publishers("critical")).toEqual([
      { Service: "events.amazonaws.com" },
      { Service: "cloudwatch.amazonaws.com" },
    ]);
  });

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

  test.each(["orphanSafetyMargin", "reconcileInterval", "stuckRotationAfter", "minTokenRemaining"] as const)(
    "a %s the handler could not read is refused",
    (prop) => {
      expect(() => synthesize({ [prop]: "1 hour" }, { bundle: false })).toThrow(InvalidKeyturnPropsError);
    },
  );

  test("stuckRotationAfter reaches the monitor's environment", () => {
    const { template, functionIds } = synthesize({ stuckRotationAfter: "12h" }, { bundle: false });

    expect(resourceProperties(template, functionIds.monitor).Environment).toMatchObject({
      Variables: { KEYTURN_STUCK_ROTATION_AFTER: "12h" },
    });
  });

  test.each([
    ["5m", "rate(5 minutes)"],
    ["1m", "rate(1 minute)"],
    ["1h", "rate(1 hour)"],
    ["90m", "rate(90 minutes)"],
  ])(
    "refreshInterval %s sets both the refresh schedule, %s, and the interval the refresh is told",
    (interval, rate) => {
      const { template, functionIds } = synthesize({ refreshInterval: interval }, { bundle: false });

      expect(
        schedulesOf(template, functionIds.refresh).map((schedule) => schedule.ScheduleExpression),
      ).toEqual([rate]);
      expect(resourceProperties(template, functionIds.refresh).Environment).toMatchObject({
        Variables: { KEYTURN_REFRESH_INTERVAL: interval },
      });
    },
  );

  test.each(["30s", "90s", "0m", "2 minutes", "2"])(
    "a refreshInterval that is not a whole number of minutes, at least one, is refused: %s",
    (refreshInterval) => {
      expect(() => synthesize({ refreshInterval }, { bundle: false })).toThrow(InvalidKeyturnPropsError);
    },
  );

  test("minTokenRemaining reaches the refresh's environment", () => {
    const { template, functionIds } = synthesize({ minTokenRemaining: "3m" }, { bundle: false });

    expect(resourceProperties(template, functionIds.refresh).Environment).toMatchObject({
      Variables: { KEYTURN_MIN_TOKEN_REMAINING: "3m" },
    });
  });

  test("tokenParameterPrefix sets where the refresh stores tokens and scopes its Parameter Store access to it", () => {
    const { template, functionIds } = synthesize(
      { tokenParameterPrefix: "/prod/incorta" },
      { bundle: false },
    );

    expect(resourceProperties(template, functionIds.refresh).Environment).toMatchObject({
      Variables: { KEYTURN_TOKEN_PARAMETER_PREFIX: "/prod/incorta" },
    });
    expect(statementsAllowing(template, "ssm:").flatMap(resourcesOf).map(joinedArn)).toEqual([
      'arn:{{"Ref":"AWS::Partition"}}:ssm:{{"Ref":"AWS::Region"}}:{{"Ref":"AWS::AccountId"}}:parameter/prod/incorta/*',
    ]);
  });

  test.each([
    "keyturn/tokens",
    "/keyturn/tokens/",
    "/keyturn//tokens",
    "/keyturn/tokens*",
    "/",
    "/aws/tokens",
    "/SSM/tokens",
  ])(
    "a tokenParameterPrefix that is not a Parameter Store path keyturn may use is refused: %s",
    (tokenParameterPrefix) => {
      expect(() => synthesize({ tokenParameterPrefix }, { bundle: false })).toThrow(InvalidKeyturnPropsError);
    },
  );
});

describe("grantReadTokens", () => {
  /** Synthesizes the stack with a consumer role granted as `grant` says; answers that role's statements. */
  function consumerStatements(
    grant: (stack: KeyturnStack, consumer: Role) => void,
    props: Parameters<typeof synthesize>[0] = {},
  ): Statement[] {
    let consumerId = "";
    const { template } = synthesize(props, {
      bundle: false,
      extend: (stack) => {
        const consumer = new Role(stack, "Consumer", { assumedBy: new AccountRootPrincipal() });
        consumerId = stack.getLogicalId(consumer.node.defaultChild as CfnRole);
        grant(stack, consumer);
      },
    });
    return roleStatements(template, consumerId);
  }

  const parameterArn = (name: string) =>
    `arn:{{"Ref":"AWS::Partition"}}:ssm:{{"Ref":"AWS::Region"}}:{{"Ref":"AWS::AccountId"}}:parameter/${name}`;

  /** The consumer's statements as [actions, resources, the parameter its decryption is bound to]. */
  const summary = (statements: Statement[]) =>
    statements.map((statement) => [
      actionsOf(statement),
      resourcesOf(statement).map((resource) =>
        typeof resource === "object" && resource !== null && "Fn::GetAtt" in resource
          ? "token key"
          : joinedArn(resource),
      ),
      statement.Condition?.StringLike?.["kms:EncryptionContext:PARAMETER_ARN"] === undefined
        ? undefined
        : joinedArn(statement.Condition.StringLike["kms:EncryptionContext:PARAMETER_ARN"]),
    ]);

  test("lets a consumer read one credential's token parameter and decrypt it through Parameter Store, nothing else", () => {
    const statements = consumerStatements((stack, consumer) =>
      stack.keyturn.grantReadTokens(consumer, "incorta/reporting"),
    );

    expect(summary(statements)).toEqual([
      [["ssm:GetParameter"], [parameterArn("keyturn/tokens/incorta/reporting")], undefined],
      [["kms:Decrypt"], ["token key"], parameterArn("keyturn/tokens/incorta/reporting")],
    ]);
    expect(statements[1]?.Condition?.StringEquals).toEqual({
      "kms:ViaService": { "Fn::Join": ["", ["ssm.", { Ref: "AWS::Region" }, ".amazonaws.com"]] },
    });
  });

  test("lets a consumer read every token parameter when no credential is named", () => {
    const statements = consumerStatements((stack, consumer) => stack.keyturn.grantReadTokens(consumer));

    expect(summary(statements)).toEqual([
      [["ssm:GetParameter"], [parameterArn("keyturn/tokens/*")], undefined],
      [["kms:Decrypt"], ["token key"], parameterArn("keyturn/tokens/*")],
    ]);
  });

  test("follows tokenParameterPrefix", () => {
    const statements = consumerStatements(
      (stack, consumer) => stack.keyturn.grantReadTokens(consumer, "incorta/reporting"),
      { tokenParameterPrefix: "/prod/incorta" },
    );

    expect(summary(statements).map(([, resources, parameter]) => [resources, parameter])).toEqual([
      [[parameterArn("prod/incorta/incorta/reporting")], undefined],
      [["token key"], parameterArn("prod/incorta/incorta/reporting")],
    ]);
  });

  test.each(["incorta/*", "incorta reporting", "keyturn+incorta"])(
    "refuses a credential that cannot name a token parameter: %s",
    (credential) => {
      expect(() =>
        consumerStatements((stack, consumer) => stack.keyturn.grantReadTokens(consumer, credential)),
      ).toThrow(InvalidKeyturnPropsError);
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
