// The fences AWS keeps around keyturn (docs/architecture.md, "The fences in AWS"), as the
// synthesized template states them: each secret's resource policy, the bus policy and the pinned
// Revoke Requested rule, the key policies of keyturn's KMS keys, and the critical topic's policy.
// Each policy is checked for whom it excepts, and that a principal it does not name is not
// excepted. What the policies do once deployed (that AWS denies as they say) only a real account
// can show: moto's IAM mode evaluates neither resource policies nor conditions.

import { CliCredentialsStackSynthesizer } from "aws-cdk-lib";
import type { Template } from "aws-cdk-lib/assertions";
import { AccountRootPrincipal, type CfnRole, Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { beforeAll, describe, expect, test } from "vitest";
import { InvalidKeyturnPropsError } from "../../infra/keyturn.ts";
import type { KeyturnStack } from "../../infra/keyturn-stack.ts";
import { actionsOf, joinedArn, type Statement } from "./statements.ts";
import {
  ADOPTED_ARN,
  configProps,
  exampleConfigJson,
  fullConfigJson,
  HANDLERS,
  type Handler,
  resourceProperties,
  type Synthesized,
  synthesize,
} from "./synthesize.ts";

// Operators with one command each, so that each exception shows which command it is for.
const PUT = "arn:aws:iam::123456789012:role/ops/keyturn-put";
const ROTATE = "arn:aws:iam::123456789012:role/ops/keyturn-rotate";
const REVOKE = "arn:aws:iam::123456789012:role/ops/keyturn-revoke";
const SCANNER = "arn:aws:iam::123456789012:role/leak-scanner";
const CATALOG_SYNC = "arn:aws:iam::123456789012:role/catalog-sync";
const ANALYTICS_ETL = "arn:aws:iam::123456789012:role/analytics-etl";
const STRANGER = "arn:aws:iam::123456789012:role/someone-else";
/** The CDK bootstrap's CloudFormation execution role, as the default synthesizer names it. */
const DEPLOYMENT = {
  "Fn::Sub":
    // biome-ignore lint/suspicious/noTemplateCurlyInString: CloudFormation's Fn::Sub placeholders
    "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/cdk-hnb659fds-cfn-exec-role-${AWS::AccountId}-${AWS::Region}",
};

/** The full config (created and adopted secrets) with one operator role per command. */
function fencedConfig(): ReturnType<typeof fullConfigJson> {
  const json = fullConfigJson();
  json.operators = { put: [PUT], rotate: [ROTATE], revoke: [REVOKE] };
  return json;
}

/** A principal ARN as a comparable string: a role of the stack by its logical id. */
function principalName(arn: unknown, synthesized: Synthesized): string {
  const getAtt = (arn as { "Fn::GetAtt"?: [string, string] })["Fn::GetAtt"];
  if (getAtt) {
    const handler = (Object.entries(synthesized.roleIds) as [Handler, string][]).find(
      ([, id]) => id === getAtt[0],
    )?.[0];
    return handler ? `${handler} role` : `role ${getAtt[0]}`;
  }
  if (typeof arn === "object" && arn !== null && "Fn::Sub" in arn) {
    return JSON.stringify(arn) === JSON.stringify(DEPLOYMENT) ? "deployment" : JSON.stringify(arn);
  }
  return String(arn);
}

/** Whom a Deny statement excepts, by name, sorted; "nobody" when it denies every principal. */
function excepted(statement: Statement | undefined, synthesized: Synthesized): string[] {
  if (!statement) throw new Error("no such statement");
  const arns = statement.Condition?.ArnNotEquals?.["aws:PrincipalArn"];
  if (arns === undefined) return ["nobody"];
  return (arns as unknown[]).map((arn) => principalName(arn, synthesized)).sort();
}

/** Whom an Allow statement of a key policy lets use the key, by name, sorted. */
function allowed(statement: Statement, synthesized: Synthesized): string[] {
  const arns = (statement.Condition?.ArnEquals?.["aws:PrincipalArn"] ?? []) as unknown[];
  return arns.map((arn) => principalName(arn, synthesized)).sort();
}

function secretPolicy(synthesized: Synthesized, credential: string): Statement[] {
  const id = synthesized.resourcePolicyIds[credential];
  if (!id) throw new Error(`No resource policy for ${credential}`);
  return (resourceProperties(synthesized.template, id).ResourcePolicy as { Statement: Statement[] })
    .Statement;
}

const statementFor = (statements: Statement[], action: string) =>
  statements.find((statement) => actionsOf(statement).includes(action));

function keyPolicy(template: Template, keyId: string): Statement[] {
  return (resourceProperties(template, keyId).KeyPolicy as { Statement: Statement[] }).Statement;
}

function busStatements(template: Template): Statement[] {
  return Object.values(template.findResources("AWS::Events::EventBusPolicy")).map(
    (policy) => policy.Properties.Statement as Statement,
  );
}

const ROLES = (...handlers: Handler[]) => handlers.map((handler) => `${handler} role`);

describe("each managed secret's resource policy", () => {
  let synthesized: Synthesized;

  beforeAll(() => {
    synthesized = synthesize(configProps(fencedConfig()), { bundle: false });
  });

  test("exists for every credential, created or adopted, and keeps Secrets Manager's public policy block", () => {
    const names = (fencedConfig().credentials as { name: string }[]).map((credential) => credential.name);

    expect(Object.keys(synthesized.resourcePolicyIds).sort()).toEqual([...names].sort());
    synthesized.template.resourceCountIs("AWS::SecretsManager::ResourcePolicy", names.length);
    for (const name of names) {
      const properties = resourceProperties(
        synthesized.template,
        synthesized.resourcePolicyIds[name] as string,
      );
      expect(properties.BlockPublicPolicy, name).toBe(true);
    }
  });

  test("is attached to the secret itself: a created one by reference, an adopted one by its name or ARN", () => {
    const secretIdOf = (name: string) =>
      resourceProperties(synthesized.template, synthesized.resourcePolicyIds[name] as string).SecretId;

    expect(secretIdOf("immuta-request-app")).toEqual({ Ref: synthesized.secretIds["immuta-request-app"] });
    expect(secretIdOf("softwareone-billing")).toBe("keyturn/legacy/softwareone-billing");
    expect(secretIdOf("everflow-eu")).toBe(ADOPTED_ARN);
  });

  test("only denies: every statement is a Deny for every principal, so it grants nobody anything", () => {
    for (const name of Object.keys(synthesized.resourcePolicyIds)) {
      for (const statement of secretPolicy(synthesized, name)) {
        expect(statement, `${name} ${statement.Sid}`).toMatchObject({
          Effect: "Deny",
          Principal: "*",
          Resource: "*",
        });
      }
    }
  });

  // Each action, and the principals the policy lets do it (their IAM policies still have to).
  test.each<[string, string[]]>([
    ["secretsmanager:PutSecretValue", [...ROLES("rotate"), PUT, "deployment"]],
    ["secretsmanager:UpdateSecretVersionStage", [...ROLES("rotate", "monitor"), PUT, "deployment"]],
    // The revoke operators invoke keyturn's revoke function (keyturn revoke): no rotation or tag of their own.
    ["secretsmanager:RotateSecret", [...ROLES("monitor", "revoke"), ROTATE, "deployment"]],
    ["secretsmanager:TagResource", [...ROLES("rotate", "monitor", "revoke"), PUT, "deployment"]],
    ["secretsmanager:UntagResource", ["deployment"]],
    ["secretsmanager:UpdateSecret", ["deployment"]],
    ["secretsmanager:CancelRotateSecret", ["deployment"]],
    ["secretsmanager:PutResourcePolicy", ["deployment"]],
    ["secretsmanager:DeleteResourcePolicy", ["deployment"]],
    ["secretsmanager:DeleteSecret", ["deployment"]],
  ])("denies %s to everyone but %j", (action, principals) => {
    const statement = statementFor(secretPolicy(synthesized, "immuta-request-app"), action);

    expect(excepted(statement, synthesized)).toEqual([...principals].sort());
    // A principal not named is not excepted: the relay, a consumer, someone else.
    for (const other of [...ROLES("relay"), CATALOG_SYNC, STRANGER]) {
      expect(excepted(statement, synthesized)).not.toContain(other);
    }
  });

  test("fences writing and removing keyturn:* tags only, leaving other tags to the account", () => {
    const statements = secretPolicy(synthesized, "immuta-request-app");

    for (const action of ["secretsmanager:TagResource", "secretsmanager:UntagResource"]) {
      expect(statementFor(statements, action)?.Condition?.["ForAnyValue:StringLike"]).toEqual({
        "aws:TagKeys": ["keyturn:*"],
      });
    }
  });

  test("lets only the credential's own consumers read its value, besides keyturn's readers, the operators and the deployment", () => {
    const readers = (name: string) =>
      excepted(statementFor(secretPolicy(synthesized, name), "secretsmanager:GetSecretValue"), synthesized);
    const common = [...ROLES("rotate", "monitor", "refresh", "revoke"), PUT, ROTATE, REVOKE, "deployment"];

    expect(readers("softwareone-catalog")).toEqual([...common, CATALOG_SYNC].sort());
    expect(readers("incorta-analytics")).toEqual([...common, ANALYTICS_ETL].sort());
    expect(readers("immuta-request-app")).toEqual([...common].sort());
    // Not the relay, which reads no value, nor another credential's consumer.
    expect(readers("softwareone-catalog")).not.toContain("relay role");
    expect(readers("softwareone-catalog")).not.toContain(ANALYTICS_ETL);
  });

  test("lets the custom resource that tags an adopted secret write its keyturn:* tags, and only on adopted secrets", () => {
    const tagWriters = (name: string, action: string) =>
      excepted(statementFor(secretPolicy(synthesized, name), action), synthesized);
    const adoption = (principals: string[]) =>
      principals.filter((principal) => principal.startsWith("role AWS679f53fac"));

    for (const adopted of ["softwareone-billing", "everflow-eu"]) {
      expect(adoption(tagWriters(adopted, "secretsmanager:TagResource")), adopted).toHaveLength(1);
      expect(adoption(tagWriters(adopted, "secretsmanager:UntagResource")), adopted).toHaveLength(1);
    }
    expect(adoption(tagWriters("immuta-request-app", "secretsmanager:TagResource"))).toEqual([]);
    expect(adoption(tagWriters("immuta-request-app", "secretsmanager:UntagResource"))).toEqual([]);
  });

  test("needs the deployment role named when the stack's synthesizer has no CloudFormation execution role", () => {
    const deployer = "arn:aws:iam::123456789012:role/deployer";

    expect(() =>
      synthesize(
        { ...configProps(fencedConfig()), synthesizer: new CliCredentialsStackSynthesizer() },
        { bundle: false },
      ),
    ).toThrow(/deploymentRoleArn/);
    const { template } = synthesize(
      {
        ...configProps(fencedConfig()),
        synthesizer: new CliCredentialsStackSynthesizer(),
        deploymentRoleArn: deployer,
      },
      { bundle: false },
    );
    expect(JSON.stringify(template.findResources("AWS::SecretsManager::ResourcePolicy"))).toContain(deployer);
  });

  test("names the configured deployment role instead of CDK's execution role when the config gives one", () => {
    const deployer = "arn:aws:iam::123456789012:role/pipeline/deployer";
    const { template } = synthesize(configProps({ ...fencedConfig(), deploymentRoleArn: deployer }), {
      bundle: false,
    });
    const policies = JSON.stringify(template.findResources("AWS::SecretsManager::ResourcePolicy"));

    expect(policies).toContain(deployer);
    expect(policies).not.toContain("cfn-exec-role");
  });
});

describe("grantRead", () => {
  /** Synthesizes the full config with a consumer role of the app granted one credential. */
  function withConsumer(grant: (stack: KeyturnStack, consumer: Role) => void) {
    let consumerId = "";
    const synthesized = synthesize(configProps(fencedConfig()), {
      bundle: false,
      extend: (stack) => {
        const consumer = new Role(stack, "Consumer", { assumedBy: new AccountRootPrincipal() });
        consumerId = stack.getLogicalId(consumer.node.defaultChild as CfnRole);
        grant(stack, consumer);
      },
    });
    return { synthesized, consumer: `role ${consumerId}` };
  }

  test.each([
    [
      "grantRead",
      (stack: KeyturnStack, consumer: Role) => stack.keyturn.grantRead(consumer, "immuta-request-app"),
    ],
    [
      "grantReadCredential, its former name",
      (stack: KeyturnStack, consumer: Role) =>
        stack.keyturn.grantReadCredential(consumer, "immuta-request-app"),
    ],
  ])(
    "%s lets a role of the app through that secret's policy and keyturn's key policy, and no other secret's",
    (_name, grant) => {
      const { synthesized, consumer } = withConsumer(grant);
      const readers = (name: string) =>
        excepted(statementFor(secretPolicy(synthesized, name), "secretsmanager:GetSecretValue"), synthesized);

      expect(readers("immuta-request-app")).toContain(consumer);
      expect(readers("softwareone-catalog")).not.toContain(consumer);
      const decrypts = keyPolicy(synthesized.template, synthesized.secretKeyId as string).filter(
        (statement) => allowed(statement, synthesized).includes(consumer),
      );
      expect(
        decrypts.map((statement) => [
          actionsOf(statement),
          joinedArn(statement.Condition?.StringLike?.["kms:EncryptionContext:SecretARN"]),
        ]),
      ).toEqual([
        [
          ["kms:Decrypt"],
          `arn:{{"Ref":"AWS::Partition"}}:secretsmanager:{{"Ref":"AWS::Region"}}:{{"Ref":"AWS::AccountId"}}:secret:keyturn/immuta-request-app-??????`,
        ],
      ]);
    },
  );

  test("refuses a grantee the policies cannot name by aws:PrincipalArn", () => {
    expect(() =>
      withConsumer((stack) =>
        stack.keyturn.grantRead(new ServicePrincipal("ec2.amazonaws.com"), "immuta-request-app"),
      ),
    ).toThrow(InvalidKeyturnPropsError);
  });
});

describe("the bus policy", () => {
  let synthesized: Synthesized;
  const statement = (detail: string) =>
    busStatements(synthesized.template).find((s) => JSON.stringify(s.Condition).includes(detail));

  beforeAll(() => {
    synthesized = synthesize(configProps(fencedConfig()), { bundle: false });
  });

  test("only denies: PutEvents on the keyturn bus, and changing keyturn's rules, to every principal but those it names", () => {
    const statements = busStatements(synthesized.template);
    const putEvents = statements.filter((s) => actionsOf(s).includes("events:PutEvents"));

    expect(statements).toHaveLength(3);
    expect(putEvents).toHaveLength(2);
    for (const s of putEvents) {
      expect(s).toMatchObject({
        Effect: "Deny",
        Principal: "*",
        Action: "events:PutEvents",
        Resource: { "Fn::GetAtt": [synthesized.busId, "Arn"] },
      });
    }
    const rules = statements.filter((s) => !putEvents.includes(s));
    expect(rules).toHaveLength(1);
    expect(rules[0]).toMatchObject({ Effect: "Deny", Principal: "*" });
    expect(actionsOf(rules[0] as Statement).some((action) => action === "events:PutEvents")).toBe(false);
  });

  test("lets only keyturn's functions and the put operators (whose command publishes) put events with source keyturn", () => {
    const sourceKeyturn = statement('"events:source"');

    expect(sourceKeyturn?.Condition?.StringEquals).toEqual({ "events:source": "keyturn" });
    // keyturn revoke invokes the revoke function, which publishes: the revoke operators do not.
    expect(excepted(sourceKeyturn, synthesized)).toEqual([...ROLES(...HANDLERS), PUT].sort());
    expect(excepted(sourceKeyturn, synthesized)).not.toContain(REVOKE);
    expect(excepted(sourceKeyturn, synthesized)).not.toContain(ROTATE);
    expect(excepted(sourceKeyturn, synthesized)).not.toContain(SCANNER);
  });

  test('lets only the revoke operators and the configured requesters put "Revoke Requested", from any source', () => {
    const revokeRequested = statement('"events:detail-type"');

    expect(revokeRequested?.Condition?.StringEquals).toEqual({ "events:detail-type": "Revoke Requested" });
    expect(excepted(revokeRequested, synthesized)).toEqual([REVOKE, SCANNER].sort());
    // Not keyturn's own functions, nor the other operators.
    for (const other of [...ROLES(...HANDLERS), PUT, ROTATE]) {
      expect(excepted(revokeRequested, synthesized)).not.toContain(other);
    }
  });

  test("names the revoke function after the bus, and lets the revoke operators, and no one else by the config, invoke it", () => {
    const revoke = resourceProperties(synthesized.template, synthesized.functionIds.revoke as string);
    expect(revoke.FunctionName).toBe("keyturn-revoke");
    const permissions = Object.values(synthesized.template.findResources("AWS::Lambda::Permission"))
      .map((resource) => resource.Properties as Record<string, unknown>)
      .filter((permission) =>
        JSON.stringify(permission.FunctionName).includes(synthesized.functionIds.revoke as string),
      );
    const principals = permissions.map((permission) => permission.Principal);
    // keyturn revoke against AWS invokes the function (cli/connection.ts): that is all a revoke operator needs.
    expect(principals).toContain(REVOKE);
    for (const other of [PUT, ROTATE, SCANNER]) expect(principals).not.toContain(other);
    expect(permissions.find((permission) => permission.Principal === REVOKE)?.Action).toBe(
      "lambda:InvokeFunction",
    );
  });

  test("runs the revoke function only for the configured requesters' sources", () => {
    expect(
      (
        resourceProperties(synthesized.template, synthesized.revokeRuleId as string) as {
          EventPattern: unknown;
        }
      ).EventPattern,
    ).toEqual({ source: ["my.leak-scanner"], "detail-type": ["Revoke Requested"] });
  });

  describe("with no requester and no operator configured", () => {
    let bare: Synthesized;

    beforeAll(() => {
      const json = exampleConfigJson();
      delete json.operators;
      delete json.revokeRequesters;
      bare = synthesize(configProps(json), { bundle: false });
    });

    test('denies "Revoke Requested" to every principal', () => {
      const revokeRequested = busStatements(bare.template).find((s) =>
        JSON.stringify(s.Condition).includes("events:detail-type"),
      );

      expect(revokeRequested?.Condition).toEqual({
        StringEquals: { "events:detail-type": "Revoke Requested" },
      });
      expect(excepted(revokeRequested, bare)).toEqual(["nobody"]);
    });

    test("lets only keyturn's functions put events with source keyturn", () => {
      const sourceKeyturn = busStatements(bare.template).find((s) =>
        JSON.stringify(s.Condition).includes("events:source"),
      );

      expect(excepted(sourceKeyturn, bare)).toEqual(ROLES(...HANDLERS).sort());
    });

    test("has no rule that runs the revoke function, so no source, arbitrary or not, can trigger it from the bus", () => {
      expect(bare.revokeRuleId).toBeUndefined();
      const rules = Object.values(bare.template.findResources("AWS::Events::Rule"));
      expect(
        rules.filter((rule) => JSON.stringify(rule.Properties.Targets).includes(bare.functionIds.revoke)),
      ).toEqual([]);
      expect(JSON.stringify(rules)).not.toContain("Revoke Requested");
    });
  });

  test("refuses keyturn's own source as a requester's", () => {
    expect(() =>
      synthesize({ revokeRequesters: { principals: [SCANNER], sources: ["keyturn"] } }, { bundle: false }),
    ).toThrow(InvalidKeyturnPropsError);
  });
});

describe("keyturn's KMS keys", () => {
  let synthesized: Synthesized;

  beforeAll(() => {
    synthesized = synthesize(configProps(fencedConfig()), { bundle: false });
  });

  const ACCOUNT_ROOT = {
    AWS: {
      "Fn::Join": ["", ["arn:", { Ref: "AWS::Partition" }, ":iam::", { Ref: "AWS::AccountId" }, ":root"]],
    },
  };

  test("give the account root no use of any key, only its administration", () => {
    const keys = Object.keys(synthesized.template.findResources("AWS::KMS::Key"));
    expect(keys).toHaveLength(3);

    for (const key of keys) {
      const forRoot = keyPolicy(synthesized.template, key).filter(
        (statement) => JSON.stringify(statement.Principal) === JSON.stringify(ACCOUNT_ROOT),
      );
      expect(
        forRoot.map((statement) => statement.Sid),
        key,
      ).toEqual(["AccountAdministersTheKey"]);
      for (const action of actionsOf(forRoot[0] as Statement)) {
        expect(action, key).not.toMatch(/^kms:(\*|Decrypt|Encrypt|GenerateDataKey|ReEncrypt|CreateGrant)/);
      }
    }
  });

  test("let no principal use a key without a condition", () => {
    for (const key of Object.keys(synthesized.template.findResources("AWS::KMS::Key"))) {
      for (const statement of keyPolicy(synthesized.template, key)) {
        if (statement.Sid === "AccountAdministersTheKey") continue;
        expect(statement.Condition, `${key} ${statement.Sid}`).toBeDefined();
      }
    }
  });

  describe("the secrets' key", () => {
    const usage = () =>
      keyPolicy(synthesized.template, synthesized.secretKeyId as string).filter(
        (statement) => statement.Sid !== "AccountAdministersTheKey",
      );

    test("is used only through Secrets Manager, in this account, by the principals each statement names", () => {
      for (const statement of usage()) {
        expect(statement.Principal, statement.Sid).toEqual({ AWS: "*" });
        expect(statement.Condition?.StringEquals, statement.Sid).toEqual({
          "kms:CallerAccount": { Ref: "AWS::AccountId" },
          "kms:ViaService": {
            "Fn::Join": ["", ["secretsmanager.", { Ref: "AWS::Region" }, ".amazonaws.com"]],
          },
        });
        expect(statement.Condition?.ArnEquals?.["aws:PrincipalArn"], statement.Sid).toBeDefined();
      }
    });

    test("lets the rotate function, the put operators and the deployment store values; keyturn's readers and the operators decrypt", () => {
      const bySid = Object.fromEntries(usage().map((statement) => [statement.Sid, statement]));
      const writers = bySid.WritersEncryptThroughSecretsManager as Statement;
      const readers = bySid.ReadersDecryptThroughSecretsManager as Statement;

      expect(actionsOf(writers).sort()).toEqual(["kms:Decrypt", "kms:GenerateDataKey"]);
      expect(allowed(writers, synthesized)).toEqual([...ROLES("rotate"), PUT, "deployment"].sort());
      expect(actionsOf(readers)).toEqual(["kms:Decrypt"]);
      expect(allowed(readers, synthesized)).toEqual(
        [...ROLES("rotate", "monitor", "refresh", "revoke"), PUT, ROTATE, REVOKE].sort(),
      );
      for (const statement of [writers, readers]) {
        expect(joinedArn(statement.Condition?.StringLike?.["kms:EncryptionContext:SecretARN"])).toBe(
          `arn:{{"Ref":"AWS::Partition"}}:secretsmanager:{{"Ref":"AWS::Region"}}:{{"Ref":"AWS::AccountId"}}:secret:keyturn/*`,
        );
      }
      expect(JSON.stringify(usage())).not.toContain(synthesized.roleIds.relay);
    });

    test("lets each created secret's consumers decrypt that secret only", () => {
      const consumers = usage().filter((statement) => statement.Sid?.startsWith("ConsumersDecrypt"));

      expect(
        consumers.map((statement) => [
          allowed(statement, synthesized),
          actionsOf(statement),
          joinedArn(statement.Condition?.StringLike?.["kms:EncryptionContext:SecretARN"]).replace(
            /^.*:secret:/,
            "",
          ),
        ]),
      ).toEqual([
        [[CATALOG_SYNC], ["kms:Decrypt"], "keyturn/softwareone-catalog-??????"],
        [[ANALYTICS_ETL], ["kms:Decrypt"], "keyturn/incorta-analytics-??????"],
      ]);
    });

    test("is set on each created secret without CDK's statement opening it to the whole account", () => {
      expect(
        resourceProperties(synthesized.template, synthesized.secretIds["immuta-request-app"] as string),
      ).toMatchObject({
        KmsKeyId: { "Fn::GetAtt": [synthesized.secretKeyId, "Arn"] },
      });
      expect(
        keyPolicy(synthesized.template, synthesized.secretKeyId as string).map((s) => s.Sid),
      ).not.toContain(undefined);
    });
  });

  describe("the token key", () => {
    const policy = () => keyPolicy(synthesized.template, synthesized.tokenKeyId);
    const parameterArn = (name: string) =>
      `arn:{{"Ref":"AWS::Partition"}}:ssm:{{"Ref":"AWS::Region"}}:{{"Ref":"AWS::AccountId"}}:parameter/${name}`;

    test("rotates, is retained, and is the key the refresh writes the token parameters with", () => {
      expect(synthesized.template.toJSON().Resources[synthesized.tokenKeyId]).toMatchObject({
        DeletionPolicy: "Retain",
        Properties: { EnableKeyRotation: true },
      });
      expect(
        (
          resourceProperties(synthesized.template, synthesized.functionIds.refresh).Environment as {
            Variables: Record<string, unknown>;
          }
        ).Variables.KEYTURN_TOKEN_KEY_ID,
      ).toEqual({ "Fn::GetAtt": [synthesized.tokenKeyId, "Arn"] });
    });

    test("lets the refresh alone encrypt and decrypt, through Parameter Store, for the token parameters only", () => {
      const refresh = policy().find((statement) => statement.Sid === "RefreshStoresTokens") as Statement;

      expect(actionsOf(refresh).sort()).toEqual(["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"]);
      expect(allowed(refresh, synthesized)).toEqual(ROLES("refresh"));
      expect(refresh.Condition?.StringEquals).toEqual({
        "kms:CallerAccount": { Ref: "AWS::AccountId" },
        "kms:ViaService": { "Fn::Join": ["", ["ssm.", { Ref: "AWS::Region" }, ".amazonaws.com"]] },
      });
      expect(joinedArn(refresh.Condition?.StringLike?.["kms:EncryptionContext:PARAMETER_ARN"])).toBe(
        parameterArn("keyturn/tokens/*"),
      );
      const encrypting = policy().filter((statement) =>
        actionsOf(statement).some((action) => /^kms:(Encrypt|GenerateDataKey)/.test(action)),
      );
      expect(encrypting.map((statement) => statement.Sid)).toEqual(["RefreshStoresTokens"]);
    });

    test("lets each Incorta v1 credential's consumers decrypt its own parameter, and no other credential's consumers anything", () => {
      const consumers = policy().filter((statement) => statement.Sid?.startsWith("ConsumersDecryptTokens"));

      expect(
        consumers.map((statement) => [
          allowed(statement, synthesized),
          actionsOf(statement),
          joinedArn(statement.Condition?.StringLike?.["kms:EncryptionContext:PARAMETER_ARN"]),
        ]),
      ).toEqual([
        [[ANALYTICS_ETL], ["kms:Decrypt"], parameterArn("keyturn/tokens/keyturn/incorta-analytics")],
      ]);
      expect(JSON.stringify(policy())).not.toContain(CATALOG_SYNC);
    });
  });
});

describe("the critical topic", () => {
  let synthesized: Synthesized;

  beforeAll(() => {
    synthesized = synthesize(configProps(), { bundle: false });
  });

  const topicStatements = (): Statement[] =>
    Object.values(synthesized.template.findResources("AWS::SNS::TopicPolicy"))
      .filter(
        (policy) =>
          JSON.stringify(policy.Properties.Topics) ===
          JSON.stringify([{ Ref: synthesized.topicIds.critical }]),
      )
      .flatMap((policy) => policy.Properties.PolicyDocument.Statement);

  test("accepts CloudWatch alarms only from keyturn's own alarms, each named by its ARN", () => {
    const fromCloudWatch = topicStatements().filter(
      (statement) =>
        JSON.stringify(statement.Principal) === JSON.stringify({ Service: "cloudwatch.amazonaws.com" }),
    );

    expect(fromCloudWatch).toHaveLength(1);
    expect(fromCloudWatch[0]?.Condition).toEqual({
      ArnEquals: {
        "aws:SourceArn": Object.values(synthesized.alarmIds).map((id) => ({ "Fn::GetAtt": [id, "Arn"] })),
      },
    });
  });

  test("names no alarm by wildcard", () => {
    expect(JSON.stringify(topicStatements())).not.toMatch(/alarm:\*/);
    expect(JSON.stringify(topicStatements())).not.toContain("ArnLike");
  });
});

describe("the functions' environment for the lifecycle edges", () => {
  let synthesized: Synthesized;

  beforeAll(() => {
    synthesized = synthesize(configProps(), { bundle: false });
  });

  const variables = (handler: Handler, from = synthesized) =>
    (
      resourceProperties(from.template, from.functionIds[handler]).Environment as {
        Variables: Record<string, unknown>;
      }
    ).Variables;

  test("gives the monitor and the revoke function the rotate function's ARN, and no other function", () => {
    for (const handler of HANDLERS) {
      expect(variables(handler).KEYTURN_ROTATE_FUNCTION_ARN, handler).toEqual(
        handler === "monitor" || handler === "revoke"
          ? { "Fn::GetAtt": [synthesized.functionIds.rotate, "Arn"] }
          : undefined,
      );
    }
  });

  test("leaves the revoke cooldown to the handler's default unless revokeCooldown is set", () => {
    expect(variables("revoke").KEYTURN_REVOKE_COOLDOWN).toBeUndefined();
    const configured = synthesize({ revokeCooldown: "30m" }, { bundle: false });
    expect(variables("revoke", configured).KEYTURN_REVOKE_COOLDOWN).toBe("30m");
  });

  test.each(["10 minutes", "30", "m"])("refuses a revokeCooldown that is not a duration: %s", (cooldown) => {
    expect(() => synthesize({ revokeCooldown: cooldown }, { bundle: false })).toThrow(
      InvalidKeyturnPropsError,
    );
  });

  test.each<[string, Parameters<typeof synthesize>[0]]>([
    ["an operator", { operators: { put: ["arn:aws:iam::123456789012:user/jane"] } }],
    [
      "a requester",
      { revokeRequesters: { principals: ["arn:aws:iam::*:role/scanner"], sources: ["scanner"] } },
    ],
    ["the deployment role", { deploymentRoleArn: "cdk-deploy" }],
  ])("refuses %s that is not a role ARN", (_what, props) => {
    expect(() => synthesize(props, { bundle: false })).toThrow(InvalidKeyturnPropsError);
  });
});
