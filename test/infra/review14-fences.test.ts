// Review 14: what the fences (infra/keyturn-fences.ts) leave open, as the synthesized template
// states it. Since the lifecycle edges, keyturn's records table decides which keys keyturn may
// revoke and, for a credential the config no longer pins, which provider and issuer revoke them
// (test/security/review14-forged-record.test.ts): it is fenced by nothing but IAM. The alert path
// (the rules on the keyturn bus that feed the topics, and the topics themselves) is not fenced
// either: whoever the account's IAM lets call events:PutRule, DisableRule or RemoveTargets on the
// bus, or sns:SetTopicAttributes on a topic, silences every alert without touching a secret.
//
// Only the template can be checked here. That AWS evaluates a DynamoDB resource policy's Deny for
// same-account callers, and an event bus policy's Deny for rule management, only a real account
// can show (moto evaluates neither).

import { beforeAll, describe, expect, test } from "vitest";
import { SEVERITIES } from "../../infra/keyturn-alerts.ts";
import {
  configProps,
  exampleConfigJson,
  fullConfigJson,
  resourceProperties,
  type Synthesized,
  synthesize,
} from "./synthesize.ts";

interface Statement {
  Sid?: string;
  Effect?: string;
  Principal?: unknown;
  Action: string | string[];
  Resource?: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

const PUT = "arn:aws:iam::123456789012:role/ops/keyturn-put";
const ROTATE = "arn:aws:iam::123456789012:role/ops/keyturn-rotate";
const REVOKE = "arn:aws:iam::123456789012:role/ops/keyturn-revoke";
const SCANNER = "arn:aws:iam::123456789012:role/leak-scanner";
const STRANGER = "arn:aws:iam::123456789012:role/someone-else";

const actionsOf = (statement: Statement) =>
  Array.isArray(statement.Action) ? statement.Action : [statement.Action];

const resourcesOf = (statement: Statement): unknown[] =>
  Array.isArray(statement.Resource) ? statement.Resource : [statement.Resource];

/** The resource string of a Fn::Join ARN, with the pseudo parameters left as placeholders. */
function joinedArn(resource: unknown): string {
  if (typeof resource === "string") return resource;
  const join = (resource as { "Fn::Join"?: [string, unknown[]] })["Fn::Join"];
  if (!join) return JSON.stringify(resource);
  return join[1].map((part) => (typeof part === "string" ? part : `{${JSON.stringify(part)}}`)).join("");
}

const TABLE_ARN =
  '{{"Ref":"AWS::Partition"}}:dynamodb:{{"Ref":"AWS::Region"}}:{{"Ref":"AWS::AccountId"}}:table';

function recordsPolicy(synthesized: Synthesized): Statement[] {
  const table = resourceProperties(synthesized.template, synthesized.recordsTableId);
  return ((table.ResourcePolicy as { PolicyDocument?: { Statement?: Statement[] } } | undefined)
    ?.PolicyDocument?.Statement ?? []) as Statement[];
}

function busStatements(synthesized: Synthesized): Statement[] {
  return Object.values(synthesized.template.findResources("AWS::Events::EventBusPolicy")).map(
    (policy) => policy.Properties.Statement as Statement,
  );
}

/** The principal ARNs a Deny statement excepts (roles of the stack by logical id, the deployment as "deployment"). */
function excepted(statement: Statement, synthesized: Synthesized): string[] {
  const arns = (statement.Condition?.ArnNotEquals?.["aws:PrincipalArn"] ?? []) as unknown[];
  return arns
    .map((arn) => {
      const getAtt = (arn as { "Fn::GetAtt"?: [string, string] })["Fn::GetAtt"];
      if (getAtt) {
        const handler = Object.entries(synthesized.roleIds).find(([, id]) => id === getAtt[0])?.[0];
        return handler ? `${handler} role` : `role ${getAtt[0]}`;
      }
      if (typeof arn === "object" && arn !== null && "Fn::Sub" in arn) return "deployment";
      return String(arn);
    })
    .sort();
}

describe("keyturn's records table", () => {
  let synthesized: Synthesized;

  beforeAll(() => {
    const json = fullConfigJson();
    json.operators = { put: [PUT], rotate: [ROTATE], revoke: [REVOKE] };
    synthesized = synthesize(configProps(json), { bundle: false });
  });

  test("has a resource policy that denies writing a record to all but keyturn's writers, the put operators and the deployment", () => {
    const table = resourceProperties(synthesized.template, synthesized.recordsTableId);
    const statements = ((table.ResourcePolicy as { PolicyDocument?: { Statement?: Statement[] } } | undefined)
      ?.PolicyDocument?.Statement ?? []) as Statement[];
    const writes = [
      "dynamodb:PutItem",
      "dynamodb:UpdateItem",
      "dynamodb:DeleteItem",
      "dynamodb:BatchWriteItem",
    ];

    // Fails today: the table has no ResourcePolicy at all.
    for (const action of writes) {
      const deny = statements.find((s) => s.Effect === "Deny" && actionsOf(s).includes(action));
      expect(deny, `a Deny of ${action}`).toBeDefined();
      if (!deny) continue;
      expect(deny.Principal).toBe("*");
      expect(excepted(deny, synthesized)).toEqual(
        // The revoke operators invoke the revoke function (keyturn revoke), which writes its records.
        ["rotate role", "monitor role", "revoke role", PUT, "deployment"].sort(),
      );
    }
  });

  test("denies PartiQL's writes as the item APIs' (TransactWriteItems is authorized as the item writes it holds)", () => {
    const writes = recordsPolicy(synthesized).find((s) => s.Sid === "OnlyKeyturnWritesRecords");

    expect(actionsOf(writes as Statement).sort()).toEqual(
      [
        "dynamodb:BatchWriteItem",
        "dynamodb:DeleteItem",
        "dynamodb:PartiQLDelete",
        "dynamodb:PartiQLInsert",
        "dynamodb:PartiQLUpdate",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
      ].sort(),
    );
  });

  test("excepts no principal it does not name: not the refresh or relay roles, the rotate operators, a requester or anyone else", () => {
    const writes = recordsPolicy(synthesized).find((s) => s.Sid === "OnlyKeyturnWritesRecords");
    const names = excepted(writes as Statement, synthesized);

    for (const other of ["refresh role", "relay role", ROTATE, SCANNER, STRANGER]) {
      expect(names).not.toContain(other);
    }
  });

  test("lets only the deployment delete or change the table, its point-in-time recovery, its expiry or this policy", () => {
    const changes = recordsPolicy(synthesized).find((s) =>
      actionsOf(s).includes("dynamodb:PutResourcePolicy"),
    ) as Statement;

    expect(changes.Effect).toBe("Deny");
    expect(changes.Principal).toBe("*");
    expect(actionsOf(changes).sort()).toEqual(
      [
        "dynamodb:DeleteResourcePolicy",
        "dynamodb:DeleteTable",
        "dynamodb:PutResourcePolicy",
        "dynamodb:UpdateContinuousBackups",
        "dynamodb:UpdateTable",
        "dynamodb:UpdateTimeToLive",
      ].sort(),
    );
    expect(excepted(changes, synthesized)).toEqual(["deployment"]);
  });

  test("only denies, on the table and its indexes and stream, named by the table's name (a resource cannot refer to itself)", () => {
    const statements = recordsPolicy(synthesized);

    expect(statements).toHaveLength(2);
    for (const statement of statements) {
      expect(statement.Effect).toBe("Deny");
      expect(resourcesOf(statement).map(joinedArn)).toEqual([
        `arn:${TABLE_ARN}/keyturn-records`,
        `arn:${TABLE_ARN}/keyturn-records/*`,
      ]);
    }
    // Reads are left to the account's IAM policies.
    const denied = statements.flatMap(actionsOf);
    for (const read of ["dynamodb:GetItem", "dynamodb:Scan", "dynamodb:Query"])
      expect(denied).not.toContain(read);
  });

  test("follows the bus's name, as the table's does", () => {
    const json = exampleConfigJson();
    json.busName = "keyturn-staging";
    const staging = synthesize(configProps(json), { bundle: false });

    for (const statement of recordsPolicy(staging)) {
      expect(resourcesOf(statement).map(joinedArn)).toEqual([
        `arn:${TABLE_ARN}/keyturn-staging-records`,
        `arn:${TABLE_ARN}/keyturn-staging-records/*`,
      ]);
    }
  });

  test("refuses at synth so many operators that a fence would exceed what its service accepts, not a realistic few", () => {
    const operators = (count: number) =>
      Array.from({ length: count }, (_, i) => `arn:aws:iam::123456789012:role/ops/keyturn-operator-${i}`);
    const json = (count: number) => {
      const config = fullConfigJson();
      config.operators = { put: operators(count), rotate: operators(count), revoke: operators(count) };
      return config;
    };

    expect(() => synthesize(configProps(json(20)), { bundle: false })).not.toThrow();
    expect(() => synthesize(configProps(json(400)), { bundle: false })).toThrow(
      /the records table's resource policy would take about \d+ characters, over the 20480/,
    );
    expect(() => synthesize(configProps(json(400)), { bundle: false })).toThrow(/the bus policy would take/);
    expect(() => synthesize(configProps(json(400)), { bundle: false })).toThrow(
      /the resource policy of credential "[^"]+" would take/,
    );
  });
});

describe("a credential removed from the config", () => {
  test("keeps its secret's fence as long as it keeps its secret: the resource policy is retained like the secret", () => {
    const synthesized = synthesize(configProps(fullConfigJson()), { bundle: false });
    const resources = synthesized.template.toJSON().Resources as Record<string, { DeletionPolicy?: string }>;

    for (const [credential, policyId] of Object.entries(synthesized.resourcePolicyIds)) {
      // Fails today: the secrets are retained (DeletionPolicy Retain) but their resource policies
      // are deleted with the config entry, so during the departure's grace period (and for good,
      // for keys only a person can revoke) the still-live key of an adopted secret is open to
      // whatever the account's IAM policies allow: GetSecretValue, PutSecretValue, keyturn:* tags.
      expect(resources[policyId]?.DeletionPolicy, credential).toBe("Retain");
    }
  });

  test("keeps it when the policy is replaced too, so that a replaced policy's deletion cannot strip the new one", () => {
    const synthesized = synthesize(configProps(fullConfigJson()), { bundle: false });
    const resources = synthesized.template.toJSON().Resources as Record<
      string,
      { UpdateReplacePolicy?: string }
    >;

    expect(Object.keys(synthesized.resourcePolicyIds).length).toBeGreaterThan(0);
    for (const [credential, policyId] of Object.entries(synthesized.resourcePolicyIds)) {
      expect(resources[policyId]?.UpdateReplacePolicy, credential).toBe("Retain");
    }
  });
});

describe("the alert path", () => {
  let synthesized: Synthesized;

  beforeAll(() => {
    synthesized = synthesize(configProps(fullConfigJson()), { bundle: false });
  });

  test("the bus policy denies changing or removing the rules on the keyturn bus to all but the deployment", () => {
    const statements = Object.values(synthesized.template.findResources("AWS::Events::EventBusPolicy")).map(
      (policy) => policy.Properties.Statement as Statement,
    );
    const management = [
      "events:PutRule",
      "events:DisableRule",
      "events:DeleteRule",
      "events:RemoveTargets",
      "events:PutTargets",
    ];

    // Fails today: the bus policy fences PutEvents only.
    for (const action of management) {
      const deny = statements.find((s) => s.Effect === "Deny" && actionsOf(s).includes(action));
      expect(deny, `a Deny of ${action}`).toBeDefined();
      if (deny) expect(excepted(deny, synthesized)).toEqual(["deployment"]);
    }
  });

  test("each alert topic's policy denies changing the topic (its key, its policy) or deleting it to all but the deployment", () => {
    const policies = Object.values(synthesized.template.findResources("AWS::SNS::TopicPolicy")).map(
      (policy) => (policy.Properties.PolicyDocument as { Statement: Statement[] }).Statement,
    );
    const changes = [
      "sns:SetTopicAttributes",
      "sns:DeleteTopic",
      "sns:RemovePermission",
      "sns:AddPermission",
    ];

    expect(policies).toHaveLength(3);
    // Fails today: the topic policies only allow EventBridge and the alarms to publish.
    for (const statements of policies) {
      for (const action of changes) {
        const deny = statements.find((s) => s.Effect === "Deny" && actionsOf(s).includes(action));
        expect(deny, `a Deny of ${action}`).toBeDefined();
      }
    }
  });

  test("names keyturn's own rules by ARN, each of them and no other: anyone may still add rules of their own on the bus", () => {
    const json = fullConfigJson();
    json.operators = { put: [PUT], rotate: [ROTATE], revoke: [REVOKE] };
    const fenced = synthesize(configProps(json), { bundle: false });
    const rules = busStatements(fenced).find((s) => actionsOf(s).includes("events:PutRule")) as Statement;

    expect(rules.Principal).toBe("*");
    expect(resourcesOf(rules)).toEqual(
      [...SEVERITIES.map((severity) => fenced.alertRuleIds[severity]), fenced.revokeRuleId].map((id) => ({
        "Fn::GetAtt": [id, "Arn"],
      })),
    );
    expect(JSON.stringify(rules.Resource)).not.toContain("*");
    // Not keyturn's functions, the operators or a requester: a rule is the deployment's alone.
    for (const other of ["rotate role", "monitor role", "revoke role", "relay role", "refresh role"]) {
      expect(excepted(rules, fenced)).not.toContain(other);
    }
    for (const other of [PUT, ROTATE, REVOKE, SCANNER, STRANGER]) {
      expect(excepted(rules, fenced)).not.toContain(other);
    }
    expect(actionsOf(rules)).not.toContain("events:PutEvents");
  });

  test("fences the alert rules alone when there is no revoke rule", () => {
    const json = exampleConfigJson();
    delete json.revokeRequesters;
    const bare = synthesize(configProps(json), { bundle: false });
    const rules = busStatements(bare).find((s) => actionsOf(s).includes("events:PutRule")) as Statement;

    expect(bare.revokeRuleId).toBeUndefined();
    expect(resourcesOf(rules)).toEqual(
      SEVERITIES.map((severity) => ({ "Fn::GetAtt": [bare.alertRuleIds[severity], "Arn"] })),
    );
  });

  test("each topic's fence is on that topic alone, excepts the deployment alone, and takes nothing from publishing", () => {
    const json = fullConfigJson();
    json.operators = { put: [PUT], rotate: [ROTATE], revoke: [REVOKE] };
    const fenced = synthesize(configProps(json), { bundle: false });
    const policies = Object.values(fenced.template.findResources("AWS::SNS::TopicPolicy")).map(
      (policy) => policy.Properties as { Topics: unknown[]; PolicyDocument: { Statement: Statement[] } },
    );

    for (const severity of SEVERITIES) {
      const topic = { Ref: fenced.topicIds[severity] };
      const policy = policies.find((p) => JSON.stringify(p.Topics) === JSON.stringify([topic]));
      const fence = policy?.PolicyDocument.Statement.find((s) =>
        actionsOf(s).includes("sns:SetTopicAttributes"),
      );

      expect(fence, severity).toMatchObject({ Effect: "Deny", Principal: "*", Resource: topic });
      expect(excepted(fence as Statement, fenced)).toEqual(["deployment"]);
      expect(actionsOf(fence as Statement).sort()).toEqual(
        [
          "sns:AddPermission",
          "sns:DeleteTopic",
          "sns:PutDataProtectionPolicy",
          "sns:RemovePermission",
          "sns:SetTopicAttributes",
        ].sort(),
      );
      // Publishing and subscribing stay as the other statements and IAM decide.
      expect(actionsOf(fence as Statement)).not.toContain("sns:Publish");
      expect(actionsOf(fence as Statement)).not.toContain("sns:Subscribe");
    }
  });
});
