// What keyturn's five function constructs (rotate.ts, monitor.ts, refresh.ts, revoke.ts,
// relay.ts beside this file) are given by the Keyturn construct and build alike: the context
// they share (the bus, the secrets folder, the records table, the pinned config), the base of
// the four that act on credentials (CredentialFunction), the IAM statements on keyturn's
// secrets, the dead-letter queue, and EventBridge Scheduler's target and role.
//
// Each function construct extends KeyturnFunction at the id the function has always had under
// Keyturn, and creates what stands beside it (its queue, schedules, rules, tables, keys) in the
// Keyturn scope, under the ids it has always had there: a stack deployed before these files
// existed keeps every logical id, so an update replaces nothing (test/infra/logical-ids.test.ts
// lists them).

import { Duration, Stack, Validations } from "aws-cdk-lib";
import type { Table } from "aws-cdk-lib/aws-dynamodb";
import type { EventBus } from "aws-cdk-lib/aws-events";
import { type IRole, PolicyStatement, Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import { LambdaInvoke, type ScheduleTargetBaseProps } from "aws-cdk-lib/aws-scheduler-targets";
import { Queue, QueueEncryption } from "aws-cdk-lib/aws-sqs";
import type { Construct, IConstruct } from "constructs";
import type { PinnedDocument } from "#engine/pinned.ts";
import { Tag } from "#engine/settings.ts";
import { KeyturnFunction, type KeyturnFunctionProps } from "../keyturn-function.ts";

/** What the Keyturn construct gives each of its functions. */
export interface KeyturnContext {
  /** The keyturn bus: every function publishes its events there. */
  readonly bus: EventBus;
  /** ARN pattern of the secrets keyturn may manage (`<secretNamePrefix>*`). */
  readonly secretArnPattern: string;
  /** keyturn's own records (functions/aws/record-store.ts). */
  readonly recordsTable: Table;
  /** What the deployment pins (functions/engine/pinned.ts), baked into the functions that act on credentials. */
  readonly pinned: PinnedDocument;
}

/**
 * A statement on keyturn's managed secrets: the secrets folder, and only secrets carrying the
 * keyturn:provider tag. Both gates, not either: a secret's name is fixed at creation, so the
 * prefix keeps out every existing secret of the account, while a tag can be added to any secret
 * by anyone allowed to tag it. The tag then keeps out stray secrets created under the prefix.
 * The engine refuses a secret without keyturn:provider anyway, so requiring it costs nothing.
 * (secretsmanager:resource/AllowRotationLambdaArn would be tighter still, but it would deny
 * reading an issuer credential that is not rotated by this function.) KMS: secrets under the AWS
 * managed key aws/secretsmanager need no statement; those under keyturn's own key or an adopted
 * secret's key get theirs once the credentials are known (`throughSecretsManager`).
 */
export function onManagedSecrets(context: KeyturnContext, sid: string, actions: string[]): PolicyStatement {
  return new PolicyStatement({
    sid,
    actions,
    resources: [context.secretArnPattern],
    conditions: managedSecret(),
  });
}

/** TagResource on keyturn's secrets, for keyturn:* tags only. */
export function mirrorKeyturnTags(context: KeyturnContext): PolicyStatement {
  return new PolicyStatement({
    sid: "MirrorKeyturnTags",
    actions: ["secretsmanager:TagResource"],
    resources: [context.secretArnPattern],
    // The engine writes only keyturn:* tags; it must not change tags that other policies key on.
    conditions: { ...managedSecret(), "ForAllValues:StringLike": { "aws:TagKeys": ["keyturn:*"] } },
  });
}

function managedSecret() {
  return { Null: { [`aws:ResourceTag/${Tag.provider}`]: "false" } };
}

/**
 * ListSecrets, which supports no resource-level permissions: AWS accepts only Resource "*". It is
 * read-only and answers names, ARNs, tags and staging labels, never a secret value; the functions
 * that call it filter it on the keyturn:provider tag key.
 */
export function listSecrets(): PolicyStatement {
  return new PolicyStatement({
    sid: "ListSecrets",
    actions: ["secretsmanager:ListSecrets"],
    resources: ["*"],
  });
}

/** The cdk-nag finding of a role granted ListSecrets (the monitor's, the refresh's): X-Ray is off (infra/keyturn-function.ts), so it is the role's one action on Resource "*". */
export function acknowledgeListSecrets(role: IConstruct): void {
  Validations.of(role).acknowledge({
    id: "AwsSolutions-IAM5[Resource::*]",
    reason:
      'Only secretsmanager:ListSecrets is granted on Resource "*", which AWS allows on no other resource: it is ' +
      "read-only, returns no secret value and is how the function finds keyturn's credentials (by their " +
      "keyturn:provider tag).",
  });
}

/** Adds `statements` to a function's role, and lets it publish on the keyturn bus. */
export function allow(context: KeyturnContext, fn: IFunction, ...statements: PolicyStatement[]): void {
  for (const statement of statements) fn.addToRolePolicy(statement);
  context.bus.grantPutEventsTo(fn);
}

/**
 * `actions` on the records table itself, not its indexes: Table.grant would add `<table>/index/*`
 * once the table has one (the due index), a wildcard none of these functions needs.
 */
export function grantRecords(context: KeyturnContext, fn: IFunction, ...actions: string[]): void {
  fn.addToRolePolicy(new PolicyStatement({ actions, resources: [context.recordsTable.tableArn] }));
}

/** The keyturn bus and the records table, as the functions that publish and keep records find them. */
export function busAndRecordsEnvironment(context: KeyturnContext): {
  KEYTURN_EVENT_BUS_NAME: string;
  KEYTURN_RECORDS_TABLE: string;
} {
  return {
    KEYTURN_EVENT_BUS_NAME: context.bus.eventBusName,
    KEYTURN_RECORDS_TABLE: context.recordsTable.tableName,
  };
}

/**
 * lambda:InvokeFunction on the rotate function itself (unqualified: rotation schedules name it
 * so). RotateSecret requires the caller to be allowed it on the secret's rotation function
 * (Secrets Manager API reference, RotateSecret "Required permissions"); granting it on this one
 * only also keeps RotateSecret from pointing a secret at any other rotation function.
 */
export function invokeRotateFunction(rotateFunctionArn: string): PolicyStatement {
  return new PolicyStatement({
    sid: "InvokeRotateForRotateSecret",
    actions: ["lambda:InvokeFunction"],
    resources: [rotateFunctionArn],
  });
}

/**
 * Use of the secrets' KMS keys through Secrets Manager, for keyturn's secrets only. Reading a
 * value decrypts it; storing one (the rotate function) needs a data key.
 */
export function throughSecretsManager(
  scope: Construct,
  context: KeyturnContext,
  sid: string,
  actions: string[],
  keyArns: string[],
): PolicyStatement {
  return new PolicyStatement({
    sid,
    actions,
    resources: keyArns,
    conditions: {
      StringEquals: { "kms:ViaService": `secretsmanager.${Stack.of(scope).region}.amazonaws.com` },
      StringLike: { "kms:EncryptionContext:SecretARN": context.secretArnPattern },
    },
  });
}

/** The functions that act on keyturn's credentials, and so read their secrets. */
export type CredentialHandler = "rotate" | "monitor" | "refresh" | "revoke";

/**
 * A function that acts on keyturn's credentials (rotate, monitor, refresh, revoke): the
 * deployment's pinned config is baked into it, and it decrypts the credentials' secrets through
 * Secrets Manager under the KMS keys the Keyturn construct names once the credentials are known
 * (`useSecretKeys`).
 */
export class CredentialFunction<H extends CredentialHandler> extends KeyturnFunction<H> {
  protected readonly context: KeyturnContext;

  constructor(
    scope: Construct,
    id: string,
    context: KeyturnContext,
    props: Omit<KeyturnFunctionProps<H>, "pinned">,
  ) {
    super(scope, id, { ...props, pinned: context.pinned });
    this.context = context;
  }

  /** Decrypts keyturn's secrets under these KMS keys, through Secrets Manager only. */
  useSecretKeys(keyArns: string[]): void {
    this.function.addToRolePolicy(
      throughSecretsManager(this, this.context, "DecryptKeyturnSecrets", ["kms:Decrypt"], keyArns),
    );
  }
}

/**
 * A dead-letter queue, encrypted with an SQS-owned key: Lambda, EventBridge and Scheduler can all
 * write to it as they are, where a KMS key would need a key policy letting each of them use it.
 */
export function deadLetterQueue(scope: Construct, id: string): Queue {
  const queue = new Queue(scope, id, {
    encryption: QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
  });
  const isDeadLetterQueue =
    "This queue is itself a dead-letter queue (a Lambda on-failure destination or an EventBridge, Scheduler or SNS " +
    "dead-letter target), which the rule does not recognise; a message here is kept 14 days and raises an alarm.";
  Validations.of(queue).acknowledge({ id: "AwsSolutions-SQS3", reason: isDeadLetterQueue });
  Validations.of(queue).acknowledge({ id: "Serverless-SQSRedrivePolicy", reason: isDeadLetterQueue });
  return queue;
}

/** The role EventBridge Scheduler invokes a function with: that function only, for this account's schedules. */
export function schedulerRole(scope: Construct, id: string, handler: string): Role {
  return new Role(scope, id, {
    assumedBy: new ServicePrincipal("scheduler.amazonaws.com", {
      conditions: { StringEquals: { "aws:SourceAccount": Stack.of(scope).account } },
    }),
    description: `keyturn: EventBridge Scheduler invokes the ${handler} function with it`,
  });
}

/**
 * EventBridge Scheduler's Lambda target, allowed to invoke the function itself only: the
 * schedule names its unqualified ARN, so the versions and aliases LambdaInvoke also grants are
 * not needed. EventBridge Scheduler rather than a scheduled rule on the default bus: it is AWS's
 * successor for schedules, takes cron with a time zone, needs no rule on the account's default
 * bus, and has a retry policy and a dead-letter queue for invocations it could not deliver.
 */
export class InvokeFunction extends LambdaInvoke {
  readonly #functionArn: string;

  constructor(fn: IFunction, props: ScheduleTargetBaseProps) {
    super(fn, props);
    this.#functionArn = fn.functionArn;
  }

  protected override addTargetActionToRole(role: IRole): void {
    role.addToPrincipalPolicy(
      new PolicyStatement({ actions: ["lambda:InvokeFunction"], resources: [this.#functionArn] }),
    );
  }
}
