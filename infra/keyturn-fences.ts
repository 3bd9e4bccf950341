// The fences AWS keeps around keyturn's resources, whatever an IAM policy of the account allows
// (docs/architecture.md, "The fences in AWS"): resource policies that deny writing a managed
// secret, its labels, its keyturn:* tags and its policy to everyone but keyturn's function roles,
// the deployment and the configured operators, and reading it to everyone but those and its
// consumers; key policies that let only them use keyturn's KMS keys; and who they all are, by
// principal ARN.
//
// Every exception names a principal by aws:PrincipalArn, which for a session of a role is the
// role's ARN (IAM User Guide, "AWS global condition context keys"), so one entry covers every
// session of that role, and an entry naming a role that does not exist (yet) is refused nowhere:
// a Principal element would fail the deploy (KMS refuses a key policy naming an unknown principal)
// and silently stop matching once the role is deleted and created again.

import { Aws, DefaultStackSynthesizer, Fn, Stack, Token } from "aws-cdk-lib";
import {
  AccountRootPrincipal,
  AnyPrincipal,
  Effect,
  type IGrantable,
  type PolicyDocument,
  PolicyStatement,
  StarPrincipal,
} from "aws-cdk-lib/aws-iam";
import type { Construct } from "constructs";
import { InvalidKeyturnPropsError } from "./keyturn-errors.ts";

/**
 * What the account may still do with a key keyturn owns: administer it (describe, enable, disable,
 * rotate, tag, change its policy, schedule its deletion), never use it. CreateGrant is left out: a
 * grant could hand kms:Decrypt to anyone the account's IAM lets create one. Changing the policy
 * (PutKeyPolicy) stays, so that the account is never locked out of its key (AWS KMS Developer
 * Guide, "Default key policy": "Allows access to the AWS account and enables IAM policies"); it is
 * a CloudTrail event anyone reviewing the key sees.
 */
export const KEY_ADMINISTRATION_ACTIONS = [
  "kms:CancelKeyDeletion",
  "kms:CreateAlias",
  "kms:DeleteAlias",
  "kms:DescribeKey",
  "kms:DisableKey",
  "kms:DisableKeyRotation",
  "kms:EnableKey",
  "kms:EnableKeyRotation",
  "kms:GetKeyPolicy",
  "kms:GetKeyRotationStatus",
  "kms:ListAliases",
  "kms:ListGrants",
  "kms:ListKeyPolicies",
  "kms:ListResourceTags",
  "kms:PutKeyPolicy",
  "kms:RevokeGrant",
  "kms:RotateKeyOnDemand",
  "kms:ScheduleKeyDeletion",
  "kms:TagResource",
  "kms:UntagResource",
  "kms:UpdateAlias",
  "kms:UpdateKeyDescription",
];

/** The account administers the key through IAM; nobody uses it by this statement. */
export function keyAdministration(): PolicyStatement {
  return new PolicyStatement({
    sid: "AccountAdministersTheKey",
    principals: [new AccountRootPrincipal()],
    actions: KEY_ADMINISTRATION_ACTIONS,
    resources: ["*"],
  });
}

/**
 * Lets the principals named use a key for `actions`, through one AWS service and in this account
 * only (the pattern of the AWS managed keys' own policies: any principal, kms:CallerAccount and
 * kms:ViaService), narrowed to those principals' ARNs and to the encryption context given.
 */
export function keyUse(
  sid: string,
  actions: string[],
  principalArns: readonly string[],
  viaService: string,
  encryptionContext: Record<string, string>,
): PolicyStatement {
  return new PolicyStatement({
    sid,
    principals: [new AnyPrincipal()],
    actions,
    resources: ["*"],
    conditions: {
      StringEquals: { "kms:CallerAccount": Aws.ACCOUNT_ID, "kms:ViaService": viaService },
      StringLike: Object.fromEntries(
        Object.entries(encryptionContext).map(([key, value]) => [`kms:EncryptionContext:${key}`, value]),
      ),
      ArnEquals: { "aws:PrincipalArn": unique(principalArns) },
    },
  });
}

/** Changing or deleting a DynamoDB table of keyturn's, its recovery, its expiry or its policy. */
export const TABLE_CHANGES = [
  "dynamodb:DeleteTable",
  "dynamodb:UpdateTable",
  "dynamodb:UpdateContinuousBackups",
  "dynamodb:UpdateTimeToLive",
  "dynamodb:PutResourcePolicy",
  "dynamodb:DeleteResourcePolicy",
];

/** What the sweep queue's users do with its messages (receiving one hides it: a check not made). */
export const SWEEP_QUEUE_MESSAGES = [
  "sqs:SendMessage",
  "sqs:ReceiveMessage",
  "sqs:DeleteMessage",
  "sqs:ChangeMessageVisibility",
  "sqs:PurgeQueue",
];

/** Changing the sweep queue (its policy, its redrive, its encryption), tagging or deleting it. */
export const SWEEP_QUEUE_CHANGES = [
  "sqs:SetQueueAttributes",
  "sqs:AddPermission",
  "sqs:RemovePermission",
  "sqs:TagQueue",
  "sqs:UntagQueue",
  "sqs:DeleteQueue",
];

/**
 * The sweep queue's fence (infra/functions/monitor.ts): its messages to the monitor's role, which
 * sends them and whose event source mapping receives them, and the deployment; changes to the
 * deployment alone. A message can only ask the monitor to check credentials it pins, but one
 * received by anyone else is a check that does not run until the message comes back.
 */
export function sweepQueueFence(
  queueArn: string,
  monitorRoleArn: string,
  deploymentRoleArn: string,
): PolicyStatement[] {
  return [
    denyAllBut(
      "OnlyTheMonitorUsesTheSweepQueue",
      SWEEP_QUEUE_MESSAGES,
      [monitorRoleArn, deploymentRoleArn],
      {},
      [queueArn],
    ),
    denyAllBut("OnlyTheDeploymentChangesTheSweepQueue", SWEEP_QUEUE_CHANGES, [deploymentRoleArn], {}, [
      queueArn,
    ]),
  ];
}

/**
 * Denies `actions` to every principal but those named (and to every principal when none is): a
 * Deny wins over any Allow of the account's IAM policies (IAM User Guide, "Policy evaluation
 * logic"). `principalArns` may be a token for a list that grows after the statement is made.
 */
export function denyAllBut(
  sid: string,
  actions: string[],
  principalArns: readonly string[] | string[],
  conditions: Record<string, Record<string, unknown>> = {},
  resources: string[] = ["*"],
): PolicyStatement {
  const everyone = !Token.isUnresolved(principalArns) && principalArns.length === 0;
  return new PolicyStatement({
    sid,
    effect: Effect.DENY,
    principals: [new StarPrincipal()],
    actions,
    resources,
    conditions: everyone
      ? conditions
      : {
          ...conditions,
          ArnNotEquals: {
            "aws:PrincipalArn": Token.isUnresolved(principalArns) ? principalArns : unique(principalArns),
          },
        },
  });
}

/**
 * The role CloudFormation deploys the stack with, which the fences let change what keyturn's
 * functions may not (a secret's policy, its encryption, its deletion). With CDK's default
 * synthesizer that is the bootstrap's CloudFormation execution role: `cdk deploy` passes it to
 * CloudFormation as the stack's service role (CDK Developer Guide, "Bootstrapping"). Its ARN holds
 * the placeholders ${AWS::Partition}, ${AWS::AccountId} and ${AWS::Region}, which Fn::Sub fills in
 * at deploy. Another synthesizer deploys with whoever runs it: name the role then.
 */
export function deploymentRoleArn(scope: Construct, configured: string | undefined): string {
  if (configured !== undefined) return configured;
  const synthesizer = Stack.of(scope).synthesizer;
  if (synthesizer instanceof DefaultStackSynthesizer)
    return Fn.sub(synthesizer.cloudFormationExecutionRoleArn);
  throw new InvalidKeyturnPropsError(
    `Keyturn: the stack's synthesizer (${synthesizer.constructor.name}) has no CloudFormation execution role, so ` +
      "keyturn cannot tell which role deploys it, the one role its secret and key policies let change them. Set " +
      "deploymentRoleArn (config) to the role CloudFormation deploys with.",
  );
}

/** The ARN aws:PrincipalArn holds for a grantee's requests: its role's, or its user's. */
export function principalArnOf(grantee: IGrantable, what: string): string {
  const arns = grantee.grantPrincipal.policyFragment.principalJson.AWS;
  if (arns?.length === 1 && arns[0] !== undefined) return arns[0];
  throw new InvalidKeyturnPropsError(
    `Keyturn ${what}: the grantee is not an IAM role or user, so keyturn's resource policies cannot name it ` +
      "(they except principals by aws:PrincipalArn). Grant a role, such as a function's execution role.",
  );
}

/** Each ARN once, in order (a role may be named for two reasons). */
export function unique(arns: readonly string[]): string[] {
  return [...new Set(arns)];
}

/**
 * What a value CloudFormation fills in at deploy (a role's ARN, a table's) is counted as when a
 * policy's size is estimated: the ARN of a role without a path is at most 95 characters (a role
 * name has 64 at most), and keyturn's roles and the deployment role have none.
 */
const DEPLOY_TIME_VALUE_CHARS = 128;

/**
 * Refuses at synth a policy that would exceed its service's size limit at deploy, where it would
 * fail the deployment half-way: its compact JSON, each value filled in at deploy counted as
 * DEPLOY_TIME_VALUE_CHARS. Checked once the app is complete (a construct validation), since
 * grants may still add principals to it. Operators are what makes a fence grow: each is named in
 * every statement that excepts their command.
 */
export function validatePolicySize(
  scope: Construct,
  what: string,
  limit: number,
  policy: () => PolicyDocument | undefined,
): void {
  scope.node.addValidation({
    validate: () => {
      const resolved = Stack.of(scope).resolve(policy()?.toJSON() ?? {});
      const placeholder = "x".repeat(DEPLOY_TIME_VALUE_CHARS);
      const estimate = JSON.stringify(resolved, (_key, value: unknown) =>
        typeof value === "object" &&
        value !== null &&
        !Array.isArray(value) &&
        Object.keys(value).some((key) => key === "Ref" || key.startsWith("Fn::"))
          ? placeholder
          : value,
      ).length;
      return estimate <= limit
        ? []
        : [
            `Keyturn: ${what} would take about ${estimate} characters, over the ${limit} AWS accepts: it names ` +
              "every principal it excepts. Name fewer operators (a role per command, assumed by the people who run it).",
          ];
    },
  });
}
