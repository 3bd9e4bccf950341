// Issue 19, as the synthesized template states it: the usage table the consumer library reports
// into (infra/keyturn-usage.ts), the monitor's read of it, and grantConsumer, which gives a role
// what keyturn/consumer needs for one credential and nothing more. Acting as a consumer granted
// credential A: nothing on B, neither its secret nor its partition of the usage table.

import { AccountRootPrincipal, type CfnRole, Role } from "aws-cdk-lib/aws-iam";
import { describe, expect, test } from "vitest";
import { InvalidKeyturnPropsError } from "../../infra/keyturn.ts";
import { actionsOf, resourcesOf, roleStatements, type Statement } from "./statements.ts";
import {
  configProps,
  exampleConfigJson,
  resourceProperties,
  type Synthesized,
  synthesize,
} from "./synthesize.ts";

function usageTableId(synthesized: Synthesized): string {
  return synthesized.stack.getLogicalId(
    synthesized.stack.keyturn.usage.table.node.defaultChild as unknown as Parameters<
      Synthesized["stack"]["getLogicalId"]
    >[0],
  );
}

/** The example config synthesized with an application role granted as `grant` says. */
function withConsumer(grant: (keyturn: Synthesized["stack"]["keyturn"], consumer: Role) => void) {
  let consumerId = "";
  const synthesized = synthesize(configProps(exampleConfigJson()), {
    bundle: false,
    extend: (stack) => {
      const consumer = new Role(stack, "Consumer", { assumedBy: new AccountRootPrincipal() });
      consumerId = stack.getLogicalId(consumer.node.defaultChild as CfnRole);
      grant(stack.keyturn, consumer);
    },
  });
  return { synthesized, consumerId, statements: roleStatements(synthesized.template, consumerId) };
}

/** What a statement names, as one string, to look for a credential's name in it. */
const text = (value: unknown) => JSON.stringify(value);

describe("the usage table", () => {
  const synthesized = synthesize(configProps(exampleConfigJson()), { bundle: false });
  const id = usageTableId(synthesized);

  test("is keyed by credential and key-and-consumer, expires reports by TTL, and is kept like the records table", () => {
    const table = synthesized.template.toJSON().Resources[id];
    const records = synthesized.template.toJSON().Resources[synthesized.recordsTableId];

    expect(table.Properties.TableName).toBe("keyturn-usage");
    expect(table.Properties.KeySchema).toEqual([
      { AttributeName: "credential", KeyType: "HASH" },
      { AttributeName: "holding", KeyType: "RANGE" },
    ]);
    expect(table.Properties.TimeToLiveSpecification).toEqual({ AttributeName: "expiresAt", Enabled: true });
    expect(table.Properties.BillingMode).toBe("PAY_PER_REQUEST");
    expect(table.Properties.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
    expect(table.Properties.SSESpecification).toEqual(records.Properties.SSESpecification);
    expect([table.DeletionPolicy, table.UpdateReplacePolicy]).toEqual(["Retain", "Retain"]);
  });

  test("has a resource policy: reports are put whole, never rewritten, deleted or batched, and only the deployment changes the table", () => {
    // Before: no policy, so anyone in the account with broad DynamoDB rights could delete the
    // table (and every report) or rewrite others' reports.
    const table = synthesized.template.toJSON().Resources[id];
    const statements = (table.Properties.ResourcePolicy?.PolicyDocument?.Statement ?? []) as Statement[];
    const bySid = (sid: string) => statements.find((statement) => statement.Sid === sid);

    for (const sid of ["ReportsArePutOnly", "OnlyTheDeploymentChangesTheUsageTable"]) {
      expect(bySid(sid)?.Effect, sid).toBe("Deny");
      expect(bySid(sid)?.Principal, sid).toBe("*");
      expect(text(bySid(sid)?.Condition), sid).toContain("aws:PrincipalArn");
    }
    expect(actionsOf(bySid("ReportsArePutOnly") as Statement)).toEqual(
      expect.arrayContaining(["dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"]),
    );
    expect(actionsOf(bySid("ReportsArePutOnly") as Statement)).not.toContain("dynamodb:PutItem");
    expect(actionsOf(bySid("OnlyTheDeploymentChangesTheUsageTable") as Statement)).toEqual(
      expect.arrayContaining([
        "dynamodb:DeleteTable",
        "dynamodb:UpdateTimeToLive",
        "dynamodb:PutResourcePolicy",
      ]),
    );
  });

  test("the monitor is told its name and may Query it, and write nothing in it", () => {
    const monitor = resourceProperties(synthesized.template, synthesized.functionIds.monitor) as {
      Environment: { Variables: Record<string, unknown> };
    };
    const onUsage = roleStatements(synthesized.template, synthesized.roleIds.monitor).filter((statement) =>
      text(statement.Resource).includes(id),
    );

    expect(monitor.Environment.Variables.KEYTURN_USAGE_TABLE).toEqual({ Ref: id });
    expect(onUsage.flatMap(actionsOf)).toEqual(["dynamodb:Query"]);
    for (const handler of ["rotate", "refresh", "revoke", "relay"] as const) {
      const statements = roleStatements(synthesized.template, synthesized.roleIds[handler]);
      expect(statements.filter((statement) => text(statement.Resource).includes(id))).toEqual([]);
    }
  });
});

describe("grantConsumer", () => {
  test("for a key credential: read its secret, and report in its partition only; nothing on another credential", () => {
    const { synthesized, consumerId, statements } = withConsumer((keyturn, consumer) =>
      keyturn.grantConsumer(consumer, "immuta-request-app"),
    );
    const id = usageTableId(synthesized);
    const usage = statements.filter((statement) => text(statement.Resource).includes(id));
    const policyOf = (credential: string) =>
      text(resourceProperties(synthesized.template, synthesized.resourcePolicyIds[credential] as string));

    expect(statements.map((statement) => actionsOf(statement))).toEqual([
      ["secretsmanager:GetSecretValue"],
      ["kms:Decrypt"],
      ["dynamodb:PutItem"],
    ]);
    expect(usage).toHaveLength(1);
    expect(resourcesOf(usage[0] as Statement)).toEqual([{ "Fn::GetAtt": [id, "Arn"] }]);
    expect(usage[0]?.Condition).toEqual({
      "ForAllValues:StringEquals": {
        "dynamodb:LeadingKeys": ["keyturn/immuta-request-app"],
        "dynamodb:Attributes": ["credential", "holding", "consumer", "keyId", "reportedAt", "expiresAt"],
      },
      StringEqualsIfExists: { "dynamodb:ReturnValues": "NONE" },
    });
    // The secret's fence lets it through for A, and B's does not name it.
    expect(policyOf("immuta-request-app")).toContain(consumerId);
    expect(policyOf("softwareone-catalog")).not.toContain(consumerId);
    expect(text(statements)).not.toContain("softwareone-catalog");
  });

  test("for a token credential (Incorta v1): its token parameter and decryption, no secret, its partition only", () => {
    const { synthesized, statements } = withConsumer((keyturn, consumer) =>
      keyturn.grantConsumer(consumer, "incorta-analytics"),
    );
    const id = usageTableId(synthesized);

    expect(statements.map((statement) => actionsOf(statement))).toEqual([
      ["ssm:GetParameter"],
      ["kms:Decrypt"],
      ["dynamodb:PutItem"],
    ]);
    expect(text(statements[0]?.Resource)).toContain("parameter/keyturn/tokens/keyturn/incorta-analytics");
    expect(text(statements[2]?.Resource)).toContain(id);
    expect(statements[2]?.Condition).toMatchObject({
      "ForAllValues:StringEquals": { "dynamodb:LeadingKeys": ["keyturn/incorta-analytics"] },
    });
    expect(text(statements)).not.toContain("secretsmanager");
  });

  test("a credential the config does not have is refused at synth", () => {
    expect(() =>
      withConsumer((keyturn, consumer) => keyturn.grantConsumer(consumer, "no-such-credential")),
    ).toThrow(InvalidKeyturnPropsError);
  });
});
