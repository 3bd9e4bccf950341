// What the config adds to the stack: a secret per credential under keyturn's KMS key (or an
// adopted one, tagged by a custom resource), Secrets Manager's rotation schedules, the KMS
// permissions each function needs and no more, and the alarms on the critical topic.

import { AccountRootPrincipal, type CfnRole, Role } from "aws-cdk-lib/aws-iam";
import { beforeAll, describe, expect, test } from "vitest";
import { credentialTags, INITIAL_SECRET_VALUE, parseConfig, pinnedCredential } from "../../infra/config.ts";
import { InvalidKeyturnPropsError } from "../../infra/keyturn.ts";
import {
  actionsOf,
  functionStatements,
  identityStatements,
  joinedArn,
  resourcesOf,
  type Statement,
} from "./statements.ts";
import {
  ADOPTED_ARN,
  ADOPTED_KEY,
  configProps,
  exampleConfig,
  exampleConfigJson,
  fullConfigJson,
  HANDLERS,
  type Handler,
  resourceProperties,
  type Synthesized,
  synthesize,
} from "./synthesize.ts";

const SECRETS =
  'arn:{{"Ref":"AWS::Partition"}}:secretsmanager:{{"Ref":"AWS::Region"}}:{{"Ref":"AWS::AccountId"}}:secret:keyturn/*';
const AUTOMATIC = ["immuta-request-app", "softwareone-admin", "softwareone-catalog"];
const BY_A_PERSON = ["incorta-analytics", "incorta-reporting-pat", "incorta-legacy-pat", "everflow-partner"];

describe("the credentials of the example config", () => {
  let synthesized: Synthesized;
  const config = exampleConfig();

  beforeAll(() => {
    synthesized = synthesize(configProps(), { bundle: false });
  });

  const secret = (name: string) => {
    const id = synthesized.secretIds[name];
    if (!id) throw new Error(`No secret for ${name}`);
    return synthesized.template.toJSON().Resources[id];
  };

  test("each get a secret named <prefix><name>", () => {
    expect(Object.keys(synthesized.secretIds).sort()).toEqual(config.credentials.map((c) => c.name).sort());
    for (const credential of config.credentials) {
      expect(secret(credential.name).Properties.Name).toBe(`keyturn/${credential.name}`);
    }
  });

  test("start with one constant value, no key and no setting, for `keyturn put` to add the key", () => {
    for (const credential of config.credentials) {
      const value = secret(credential.name).Properties.SecretString;

      expect(value).toBe(INITIAL_SECRET_VALUE);
      expect(Object.keys(JSON.parse(value))).toEqual(["keyturn"]);
    }
  });

  test("keep that value whatever the config says, so that no deploy rewrites a live key", () => {
    // The same credentials with every setting and every policy field changed.
    const other: Record<string, Record<string, unknown>> = {
      "immuta-request": { region: "eu" },
      softwareone: { accountId: "ACC-9999-0000", name: "changed", modules: ["MOD-9999"] },
      everflow: { baseUrl: "https://api-eu.eflow.team/v1" },
      "incorta-v1": {
        clusterUrl: "https://other.cloud.incorta.com/incorta",
        tenantName: "other",
        loginName: "other.bot",
      },
      "incorta-v2": { clusterUrl: "https://other.cloud.incorta.com/incorta", tenantName: "other" },
    };
    const json = exampleConfigJson();
    for (const entry of json.credentials) {
      entry.settings = other[entry.provider as string];
      entry.gracePeriod = "48h";
      entry.expiryThresholds = ["14d"];
    }
    const changed = synthesize(configProps(json), { bundle: false });
    const pinnedOf = (json: unknown) => parseConfig(json).credentials.map(pinnedCredential);

    expect(pinnedOf(json)).not.toEqual(pinnedOf(exampleConfigJson()));
    for (const credential of config.credentials) {
      const id = changed.secretIds[credential.name] ?? "";
      expect(changed.template.toJSON().Resources[id].Properties.SecretString).toBe(
        secret(credential.name).Properties.SecretString,
      );
    }
  });

  test("carry their keyturn:* policy tags", () => {
    for (const credential of config.credentials) {
      const tags = Object.fromEntries(
        (secret(credential.name).Properties.Tags as { Key: string; Value: string }[]).map((tag) => [
          tag.Key,
          tag.Value,
        ]),
      );

      expect(tags).toEqual(credentialTags(credential));
    }
  });

  test("are encrypted with keyturn's own KMS key, which rotates, and both outlive the stack", () => {
    const keyId = synthesized.secretKeyId as string;

    expect(synthesized.template.toJSON().Resources[keyId]).toMatchObject({
      Properties: { EnableKeyRotation: true },
      DeletionPolicy: "Retain",
      UpdateReplacePolicy: "Retain",
    });
    for (const credential of config.credentials) {
      expect(secret(credential.name)).toMatchObject({
        Properties: { KmsKeyId: { "Fn::GetAtt": [keyId, "Arn"] } },
        DeletionPolicy: "Retain",
      });
    }
  });

  test("that keyturn mints get a rotation schedule on the rotate function, which does not rotate at deploy", () => {
    expect(Object.keys(synthesized.rotationScheduleIds).sort()).toEqual([...AUTOMATIC].sort());
    const schedules = Object.fromEntries(
      AUTOMATIC.map((name) => [
        name,
        resourceProperties(synthesized.template, synthesized.rotationScheduleIds[name] as string),
      ]),
    );

    expect(schedules).toEqual({
      "immuta-request-app": {
        SecretId: { Ref: synthesized.secretIds["immuta-request-app"] },
        RotationLambdaARN: { "Fn::GetAtt": [synthesized.functionIds.rotate, "Arn"] },
        RotationRules: { ScheduleExpression: "rate(30 days)", Duration: "4h" },
        RotateImmediatelyOnUpdate: false,
      },
      "softwareone-admin": expect.objectContaining({
        RotationRules: { ScheduleExpression: "cron(0 3 1 * ? *)" },
        RotateImmediatelyOnUpdate: false,
      }),
      "softwareone-catalog": expect.objectContaining({
        RotationRules: { ScheduleExpression: "rate(7 days)" },
        RotateImmediatelyOnUpdate: false,
      }),
    });
  });

  test("that a person replaces get no rotation schedule", () => {
    const scheduled = Object.values(
      synthesized.template.findResources("AWS::SecretsManager::RotationSchedule"),
    ).map((schedule) => schedule.Properties.SecretId.Ref);

    for (const name of BY_A_PERSON) expect(scheduled).not.toContain(synthesized.secretIds[name]);
  });

  test("have their rotation schedules wait for the rotate function's permission and policy, which Secrets Manager's check needs", () => {
    const permission = Object.entries(synthesized.template.findResources("AWS::Lambda::Permission")).find(
      ([, resource]) => resource.Properties.Principal === "secretsmanager.amazonaws.com",
    )?.[0];
    const rotatePolicy = Object.entries(synthesized.template.findResources("AWS::IAM::Policy")).find(
      ([, policy]) => JSON.stringify(policy.Properties.Roles).includes("KeyturnRotateRole"),
    )?.[0];

    for (const id of Object.values(synthesized.rotationScheduleIds)) {
      expect(synthesized.template.toJSON().Resources[id].DependsOn).toEqual(
        expect.arrayContaining([permission, rotatePolicy]),
      );
    }
  });

  test.each<[Handler, string[]]>([
    ["rotate", ["kms:Decrypt", "kms:GenerateDataKey"]],
    ["monitor", ["kms:Decrypt"]],
    ["refresh", ["kms:Decrypt"]],
    ["revoke", ["kms:Decrypt"]],
    ["relay", []],
  ])(
    "let the %s function use the secrets' key for %j only, through Secrets Manager, for keyturn's secrets",
    (handler, actions) => {
      // The refresh's statement on the token key is the stack tests' (stack.test.ts, the refresh).
      const statements = functionStatements(synthesized.template, synthesized.functionIds[handler]).filter(
        (statement) =>
          actionsOf(statement).some((action) => action.startsWith("kms:")) &&
          JSON.stringify(resourcesOf(statement)) !==
            JSON.stringify([{ "Fn::GetAtt": [synthesized.tokenKeyId, "Arn"] }]),
      );

      expect(statements.flatMap(actionsOf).sort()).toEqual(actions);
      for (const statement of statements) {
        expect(resourcesOf(statement)).toEqual([{ "Fn::GetAtt": [synthesized.secretKeyId, "Arn"] }]);
        expect(joinedArn(statement.Condition?.StringEquals?.["kms:ViaService"])).toBe(
          'secretsmanager.{{"Ref":"AWS::Region"}}.amazonaws.com',
        );
        expect(joinedArn(statement.Condition?.StringLike?.["kms:EncryptionContext:SecretARN"])).toBe(SECRETS);
      }
    },
  );
});

describe("the stack's permissions", () => {
  let synthesized: Synthesized;

  beforeAll(() => {
    synthesized = synthesize(configProps(fullConfigJson()), { bundle: false });
  });

  test("grant no write action on every resource", () => {
    const isRead = (action: string) => /^[a-z0-9-]+:(Get|Describe|List|BatchGet|Query|Scan)/.test(action);
    const unscopedWrites = identityStatements(synthesized.template)
      .filter((statement) => resourcesOf(statement).includes("*"))
      .flatMap(actionsOf)
      .filter((action) => !isRead(action));

    expect([...new Set(unscopedWrites)].sort()).toEqual([]);
  });

  test("grant no wildcard action", () => {
    const wildcards = identityStatements(synthesized.template)
      .flatMap(actionsOf)
      .filter((action) => action.includes("*"));

    expect(wildcards).toEqual([]);
  });

  test("let functions write to their own log group only, with no managed policy", () => {
    for (const handler of HANDLERS) {
      const role = resourceProperties(synthesized.template, synthesized.functionIds[handler]).Role as {
        "Fn::GetAtt": [string, string];
      };
      const logs = functionStatements(synthesized.template, synthesized.functionIds[handler]).filter(
        (statement) => actionsOf(statement).some((action) => action.startsWith("logs:")),
      );
      const { LogGroup } = resourceProperties(synthesized.template, synthesized.functionIds[handler])
        .LoggingConfig as {
        LogGroup: { Ref: string };
      };

      expect(
        resourceProperties(synthesized.template, role["Fn::GetAtt"][0]).ManagedPolicyArns,
      ).toBeUndefined();
      expect(logs.map((statement) => [actionsOf(statement).sort(), resourcesOf(statement)])).toEqual([
        [["logs:CreateLogStream", "logs:PutLogEvents"], [{ "Fn::GetAtt": [LogGroup.Ref, "Arn"] }]],
      ]);
    }
  });

  test("let EventBridge Scheduler invoke the monitor and the refresh functions themselves, no version or alias", () => {
    const invoking = identityStatements(synthesized.template).filter(
      (statement) =>
        actionsOf(statement).includes("lambda:InvokeFunction") &&
        !JSON.stringify(resourcesOf(statement)).includes(synthesized.functionIds.rotate) &&
        !statement.policy.startsWith("AWS679f53fac002430cb0da5b7982bd2287"),
    );

    expect(invoking.map(resourcesOf).sort()).toEqual(
      [
        [{ "Fn::GetAtt": [synthesized.functionIds.monitor, "Arn"] }],
        [{ "Fn::GetAtt": [synthesized.functionIds.refresh, "Arn"] }],
      ].sort(),
    );
  });
});

describe("an adopted secret", () => {
  let synthesized: Synthesized;

  beforeAll(() => {
    synthesized = synthesize(configProps(fullConfigJson()), { bundle: false });
  });

  const tagging = () =>
    Object.values(synthesized.template.findResources("Custom::AWS")).map((resource) => ({
      create: JSON.parse(joinedArn(resource.Properties.Create)),
      delete: JSON.parse(joinedArn(resource.Properties.Delete)),
    }));

  test("is neither created nor given a value by the stack", () => {
    const names = Object.values(synthesized.template.findResources("AWS::SecretsManager::Secret")).map(
      (secret) => secret.Properties.Name,
    );

    expect(names).not.toContain("keyturn/legacy/softwareone-billing");
    expect(names).not.toContain("keyturn/legacy/everflow");
  });

  test("gets its policy tags at deploy, with the optional ones written empty so that a removed one is cleared", () => {
    const calls = tagging().map(({ create }) => create);

    expect(calls).toContainEqual(
      expect.objectContaining({
        service: "SecretsManager",
        action: "TagResource",
        parameters: {
          SecretId: "keyturn/legacy/softwareone-billing",
          Tags: expect.arrayContaining([
            { Key: "keyturn:provider", Value: "softwareone" },
            { Key: "keyturn:credential", Value: "keyturn/legacy/softwareone-billing" },
            { Key: "keyturn:issuer", Value: "keyturn/softwareone-admin" },
            { Key: "keyturn:max-age", Value: "" },
          ]),
        },
      }),
    );
    expect(calls).toContainEqual(
      expect.objectContaining({ parameters: expect.objectContaining({ SecretId: ADOPTED_ARN }) }),
    );
  });

  test("loses those tags when it leaves the config", () => {
    expect(tagging().map((resource) => resource.delete.action)).toEqual(["UntagResource", "UntagResource"]);
  });

  test("may be tagged by the stack only on that secret and only with keyturn:* tags", () => {
    const statements = identityStatements(synthesized.template).filter((statement) =>
      actionsOf(statement).includes("secretsmanager:TagResource"),
    );
    const deployTime = statements.filter((statement) => !statement.Condition?.Null);

    expect(
      deployTime.map((statement) => [resourcesOf(statement).map(joinedArn), statement.Condition]),
    ).toEqual(
      expect.arrayContaining([
        [
          [
            'arn:{{"Ref":"AWS::Partition"}}:secretsmanager:{{"Ref":"AWS::Region"}}:{{"Ref":"AWS::AccountId"}}:secret:keyturn/legacy/softwareone-billing-??????',
          ],
          { "ForAllValues:StringLike": { "aws:TagKeys": ["keyturn:*"] } },
        ],
        [[ADOPTED_ARN], { "ForAllValues:StringLike": { "aws:TagKeys": ["keyturn:*"] } }],
      ]),
    );
    expect(deployTime).toHaveLength(2);
  });

  test("gets a rotation schedule by name when keyturn mints its keys, once its tags are written", () => {
    const id = synthesized.rotationScheduleIds["softwareone-billing"] as string;
    const resource = synthesized.template.toJSON().Resources[id];

    expect(resource.Properties).toMatchObject({
      SecretId: "keyturn/legacy/softwareone-billing",
      RotationRules: { ScheduleExpression: "rate(14 days)" },
      RotateImmediatelyOnUpdate: false,
    });
  });

  test("under a KMS key of its own lets the functions use that key through Secrets Manager too", () => {
    const rotate = functionStatements(synthesized.template, synthesized.functionIds.rotate).filter(
      (statement) => actionsOf(statement).includes("kms:Decrypt"),
    );

    expect(rotate.flatMap(resourcesOf)).toEqual(
      expect.arrayContaining([{ "Fn::GetAtt": [synthesized.secretKeyId, "Arn"] }, ADOPTED_KEY]),
    );
    expect(rotate.flatMap(resourcesOf)).toHaveLength(2);
  });
});

describe("the alarms", () => {
  let synthesized: Synthesized;

  beforeAll(() => {
    synthesized = synthesize(configProps(), { bundle: false });
  });

  const alarm = (name: string) =>
    resourceProperties(synthesized.template, synthesized.alarmIds[name] as string);

  test("watch errors and throttles of every function, every dead-letter queue and failed rotations", () => {
    expect(Object.keys(synthesized.alarmIds).sort()).toEqual(
      [
        ...HANDLERS.flatMap((handler) => {
          const title = handler.charAt(0).toUpperCase() + handler.slice(1);
          return [`${title}Errors`, `${title}Throttles`];
        }),
        "MonitorDeadLetters",
        "RefreshDeadLetters",
        "RevokeDeadLetters",
        "RelayDeadLetters",
        "AlertDeadLetters",
        "RotationFailures",
        // keyturn's own metrics (test/infra/observability.test.ts).
        "Failures",
        "MonitorHeartbeat",
        "AccessTokenLifetime",
      ].sort(),
    );
  });

  test("go off at the first occurrence, stay quiet without data, and notify the critical topic", () => {
    const onMetrics = ["MonitorHeartbeat", "AccessTokenLifetime"];
    for (const name of Object.keys(synthesized.alarmIds).filter((name) => !onMetrics.includes(name))) {
      expect(alarm(name), name).toMatchObject({
        Threshold: 0,
        ComparisonOperator: "GreaterThanThreshold",
        EvaluationPeriods: 1,
        TreatMissingData: "notBreaching",
        AlarmActions: [{ Ref: synthesized.topicIds.critical }],
      });
    }
  });

  test.each(HANDLERS)("watch the %s function's Errors and Throttles", (handler) => {
    const title = handler.charAt(0).toUpperCase() + handler.slice(1);
    const dimensions = [{ Name: "FunctionName", Value: { Ref: synthesized.functionIds[handler] } }];

    expect(alarm(`${title}Errors`)).toMatchObject({
      Namespace: "AWS/Lambda",
      MetricName: "Errors",
      Dimensions: dimensions,
    });
    expect(alarm(`${title}Throttles`)).toMatchObject({
      Namespace: "AWS/Lambda",
      MetricName: "Throttles",
      Dimensions: dimensions,
    });
  });

  test("watch the messages visible in each dead-letter queue", () => {
    expect(alarm("AlertDeadLetters")).toMatchObject({
      Namespace: "AWS/SQS",
      MetricName: "ApproximateNumberOfMessagesVisible",
      Statistic: "Maximum",
      Dimensions: [{ Name: "QueueName", Value: { "Fn::GetAtt": [synthesized.alertQueueId, "QueueName"] } }],
    });
  });

  test("watch Secrets Manager's RotationFailed and RotationAbandoned through the relay's rule", () => {
    expect(alarm("RotationFailures")).toMatchObject({
      Namespace: "AWS/Events",
      MetricName: "TriggeredRules",
      Dimensions: [{ Name: "RuleName", Value: { Ref: synthesized.relayRuleId } }],
    });
  });

  test("may use the alert key, for this account's alarms only", () => {
    const keys = Object.entries(synthesized.template.findResources("AWS::KMS::Key")).filter(
      ([id]) => id !== synthesized.secretKeyId,
    );
    const forCloudWatch = keys
      .flatMap(([, key]) => key.Properties.KeyPolicy.Statement as Statement[])
      .filter((statement) => JSON.stringify(statement.Principal).includes("cloudwatch.amazonaws.com"));

    expect(forCloudWatch).toEqual([
      expect.objectContaining({
        Action: ["kms:Decrypt", "kms:GenerateDataKey*"],
        Condition: { StringEquals: { "aws:SourceAccount": { Ref: "AWS::AccountId" } } },
      }),
    ]);
  });
});

describe("alert subscriptions", () => {
  test("keep what SNS could not deliver in the alerts dead-letter queue", () => {
    const synthesized = synthesize(configProps(), { bundle: false });
    const subscriptions = Object.values(synthesized.template.findResources("AWS::SNS::Subscription"));

    expect(subscriptions.length).toBeGreaterThan(0);
    for (const subscription of subscriptions) {
      expect(subscription.Properties.RedrivePolicy).toEqual({
        deadLetterTargetArn: { "Fn::GetAtt": [synthesized.alertQueueId, "Arn"] },
      });
    }
  });
});

describe("grantReadCredential", () => {
  test("lets an application read one credential's secret and decrypt it through Secrets Manager, nothing else", () => {
    let consumerId = "";
    const synthesized = synthesize(configProps(), {
      bundle: false,
      extend: (stack) => {
        const consumer = new Role(stack, "Consumer", { assumedBy: new AccountRootPrincipal() });
        consumerId = stack.getLogicalId(consumer.node.defaultChild as CfnRole);
        stack.keyturn.grantReadCredential(consumer, "incorta-reporting-pat");
      },
    });
    const statements = Object.values(synthesized.template.findResources("AWS::IAM::Policy"))
      .filter((policy) => JSON.stringify(policy.Properties.Roles) === JSON.stringify([{ Ref: consumerId }]))
      .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[]);
    const secretArn = { Ref: synthesized.secretIds["incorta-reporting-pat"] };

    expect(statements).toEqual([
      expect.objectContaining({ Action: "secretsmanager:GetSecretValue", Resource: secretArn }),
      expect.objectContaining({
        Action: "kms:Decrypt",
        Resource: { "Fn::GetAtt": [synthesized.secretKeyId, "Arn"] },
        Condition: expect.objectContaining({ StringLike: { "kms:EncryptionContext:SecretARN": secretArn } }),
      }),
    ]);
  });

  test("refuses a credential the config does not have", () => {
    expect(() =>
      synthesize(configProps(), {
        bundle: false,
        extend: (stack) => {
          stack.keyturn.grantReadCredential(
            new Role(stack, "Consumer", { assumedBy: new AccountRootPrincipal() }),
            "nobody",
          );
        },
      }),
    ).toThrow(InvalidKeyturnPropsError);
  });
});

describe("Keyturn credentials props", () => {
  test("refuse a credential whose secret is outside secretNamePrefix", () => {
    const props = configProps();

    expect(() => synthesize({ ...props, secretNamePrefix: "other/" }, { bundle: false })).toThrow(
      /credential "immuta-request-app": its secret "keyturn\/immuta-request-app" is outside secretNamePrefix "other\/"/,
    );
  });

  test("without credentials create no secret, no key for them and no rotation schedule", () => {
    const { template } = synthesize({}, { bundle: false });

    template.resourceCountIs("AWS::SecretsManager::Secret", 0);
    template.resourceCountIs("AWS::SecretsManager::RotationSchedule", 0);
    // The alert topics' key and the token key only.
    template.resourceCountIs("AWS::KMS::Key", 2);
    template.resourceCountIs("AWS::SecretsManager::ResourcePolicy", 0);
  });
});
