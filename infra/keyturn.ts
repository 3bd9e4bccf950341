// keyturn as one construct to drop into any CDK app: the event bus; the rotate, monitor, refresh,
// revoke and relay functions with what invokes each (Secrets Manager, a schedule, a rule on the
// bus, a rule on the default bus); the refresh's lease table; the alert topics by severity; the
// configured credentials (secrets, their KMS key, rotation schedules); alarms on the critical
// topic; and the permissions that let each function touch keyturn's secrets and token parameters
// only, and only as its handler does. Around them, the fences (infra/keyturn-fences.ts): resource
// and key policies that deny everyone but keyturn's roles, the deployment and the configured
// operators, consumers and revoke requesters what keyturn trusts. cdk-nag findings it accepts
// are acknowledged here, each with its reason.

import { ArnFormat, Duration, RemovalPolicy, Stack, Token, Validations } from "aws-cdk-lib";
import { AttributeType, BillingMode, ProjectionType, Table, TableEncryption } from "aws-cdk-lib/aws-dynamodb";
import { EventBus, Rule } from "aws-cdk-lib/aws-events";
import { LambdaFunction } from "aws-cdk-lib/aws-events-targets";
import {
  ArnPrincipal,
  Grant,
  type IGrantable,
  type IRole,
  PolicyDocument,
  PolicyStatement,
  Role,
  ServicePrincipal,
} from "aws-cdk-lib/aws-iam";
import { Key } from "aws-cdk-lib/aws-kms";
import type { CfnFunction, IFunction } from "aws-cdk-lib/aws-lambda";
import type { NodejsFunction } from "aws-cdk-lib/aws-lambda-nodejs";
import { Schedule, ScheduleExpression, ScheduleTargetInput } from "aws-cdk-lib/aws-scheduler";
import { LambdaInvoke, type ScheduleTargetBaseProps } from "aws-cdk-lib/aws-scheduler-targets";
import type { Topic } from "aws-cdk-lib/aws-sns";
import { Queue, QueueEncryption } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { EVENT_SOURCE } from "#aws/event-publisher.ts";
import { DUE_INDEX } from "#aws/record-store.ts";
import { DEFAULT_TOKEN_PARAMETER_PREFIX, tokenParameterName } from "#aws/token-store.ts";
import { parseDuration } from "#engine/duration.ts";
import { DetailType, type Severity } from "#engine/events.ts";
import { pinnedDocument } from "#engine/pinned.ts";
import { Tag } from "#engine/settings.ts";
import {
  type CredentialConfig,
  DEFAULT_BUS_NAME,
  DEFAULT_SECRET_NAME_PREFIX,
  type KeyturnConfig,
  type OperatorsConfig,
  pinnedCredential,
  type RevokeRequestersConfig,
  ROLE_ARN,
  SECRET_NAME_PREFIX,
} from "./config.ts";
import { KeyturnAlarms, monitorInterval } from "./keyturn-alarms.ts";
import { type KeyturnAlertProps, KeyturnAlerts, SEVERITIES } from "./keyturn-alerts.ts";
import { KeyturnCredentials } from "./keyturn-credentials.ts";
import { KeyturnDashboard } from "./keyturn-dashboard.ts";
import { InvalidKeyturnPropsError } from "./keyturn-errors.ts";
import {
  denyAllBut,
  deploymentRoleArn,
  keyAdministration,
  keyUse,
  principalArnOf,
  TABLE_CHANGES,
  validatePolicySize,
} from "./keyturn-fences.ts";
import { type HandlerName, KeyturnFunction } from "./keyturn-function.ts";
import { KeyturnUsage } from "./keyturn-usage.ts";

export { DEFAULT_BUS_NAME, DEFAULT_SECRET_NAME_PREFIX };
export const DEFAULT_MONITOR_SCHEDULE = ScheduleExpression.rate(Duration.hours(1));
export const DEFAULT_AUDIT_SCHEDULE = ScheduleExpression.rate(Duration.days(1));
export const DEFAULT_REFRESH_INTERVAL = "2m";
export const DEFAULT_MIN_TOKEN_REMAINING = "2m";
/**
 * What writing and reading a SecureString takes of its key: Parameter Store encrypts a standard
 * parameter with Encrypt and an advanced one with GenerateDataKey, and decrypts either with
 * Decrypt ("How AWS Systems Manager Parameter Store uses AWS KMS").
 */
const TOKEN_KEY_WRITE_ACTIONS = ["kms:Encrypt", "kms:GenerateDataKey", "kms:Decrypt"];
/**
 * A Parameter Store path: "/" and segments of the characters parameter names may hold, not ending
 * with "/" (the refresh appends "/<credential>"), nor starting with aws or ssm, which Parameter
 * Store reserves (PutParameter, "Naming Constraints").
 */
const TOKEN_PARAMETER_PREFIX = /^(?!\/(aws|ssm))(\/[A-Za-z0-9_.-]+)+$/i;
/** What the rest of a parameter name may hold (PutParameter, "Naming Constraints"). */
const PARAMETER_NAME = /^[A-Za-z0-9_.\-/]+$/;
/** What SNS's email protocol takes; SNS itself confirms the address exists. */
const EMAIL_ADDRESS = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;

/**
 * Every way to write an item of the records table: the item APIs (BatchWriteItem, and
 * TransactWriteItems, which is authorized as the PutItem, UpdateItem and DeleteItem it holds) and
 * PartiQL's INSERT, UPDATE and DELETE (Amazon DynamoDB Developer Guide, "IAM security policies
 * with PartiQL for DynamoDB").
 */
const RECORD_WRITE_ACTIONS = [
  "dynamodb:PutItem",
  "dynamodb:UpdateItem",
  "dynamodb:DeleteItem",
  "dynamodb:BatchWriteItem",
  "dynamodb:PartiQLInsert",
  "dynamodb:PartiQLUpdate",
  "dynamodb:PartiQLDelete",
];
/**
 * What would change the records table itself: delete it; change it (UpdateTable: its deletion
 * protection, stream, replicas, key); turn off its point-in-time recovery; set an expiry attribute
 * that would make DynamoDB delete records; change or remove its resource policy.
 */
const RECORDS_TABLE_CHANGES = TABLE_CHANGES;
/** DynamoDB's limit on a resource policy, whitespace included ("Resource-based policy considerations"). */
const DYNAMODB_POLICY_LIMIT = 20 * 1024;
/** EventBridge's limit on an event bus's policy (AWS::Events::EventBusPolicy). */
const EVENT_BUS_POLICY_LIMIT = 10 * 1024;
/**
 * What would silence a rule on the keyturn bus: change its pattern (PutRule), disable or delete
 * it, or take away or replace its targets. EnableRule is left to the account: it silences nothing.
 */
const RULE_MANAGEMENT_ACTIONS = [
  "events:PutRule",
  "events:DisableRule",
  "events:DeleteRule",
  "events:PutTargets",
  "events:RemoveTargets",
];

/**
 * Secrets Manager's own report that a rotation failed or was abandoned (CloudTrail "AWS Service
 * Event via CloudTrail" entries on the default bus; Secrets Manager User Guide, "AWS CloudTrail
 * entries for Secrets Manager", rotation). The relay decides which secrets are keyturn's.
 */
const ROTATION_FAILURE_PATTERN = {
  source: ["aws.secretsmanager"],
  detailType: ["AWS Service Event via CloudTrail"],
  detail: { eventName: ["RotationFailed", "RotationAbandoned"] },
};

export interface KeyturnProps {
  /** Name of the EventBridge bus keyturn publishes to. Default "keyturn". */
  readonly busName?: string;
  /** Every managed secret is named `<prefix><credential>`. Must end with "/". Default "keyturn/". */
  readonly secretNamePrefix?: string;
  /** When the monitor sweeps the credentials that are due (keyturn's due index). Default every hour. */
  readonly monitorSchedule?: ScheduleExpression;
  /** When the monitor audits every managed credential (the full sweep over ListSecrets). Default every day. */
  readonly auditSchedule?: ScheduleExpression;
  /**
   * A vendor key carrying keyturn's marker and younger than this is never revoked as an orphan:
   * its rotation may still be storing it. A duration such as "30m" or "1h". Default "1h" (the
   * monitor's own default).
   */
  readonly orphanSafetyMargin?: string;
  /** How often the monitor reconciles each credential's keys with the vendor's listing. Default "6h". */
  readonly reconcileInterval?: string;
  /**
   * An AWSPENDING version that stays this long without becoming AWSCURRENT is a stuck rotation:
   * the monitor removes the label and alerts. A duration such as "6h". Default "6h" (the
   * monitor's own default).
   */
  readonly stuckRotationAfter?: string;
  /**
   * How often the refresh function renews token pairs (Incorta v1): a whole number of minutes, at
   * least one, such as "2m" or "1h". Default "2m". Keep it well inside the vendor's access-token
   * lifetime (10 minutes for Incorta): a pair is replaced once it has less than refreshInterval +
   * minTokenRemaining + 1 minute left, so beyond that lifetime every run mints a new pair.
   */
  readonly refreshInterval?: string;
  /** Consumers always find an access token with at least this long left. A duration such as "2m". Default "2m". */
  readonly minTokenRemaining?: string;
  /**
   * Token pairs are stored as SSM Parameter Store SecureStrings at `<prefix>/<credential>`.
   * Starts with "/" and does not end with one. Default "/keyturn/tokens".
   */
  readonly tokenParameterPrefix?: string;
  /** Who is alerted, and from which severity on. Default: the topics with no subscriptions. */
  readonly alerts?: KeyturnAlertProps;
  /**
   * The credentials to manage, as `parseConfig` (infra/config.ts) answers them: a secret each,
   * with its policy tags, and Secrets Manager's rotation schedule for those keyturn mints.
   * Default: none; secrets tagged by hand under the prefix are managed all the same.
   */
  readonly credentials?: readonly CredentialConfig[];
  /**
   * Once a "Revoke Requested" from the bus has been acted on, requests from the bus for another
   * key of the same credential are refused this long (a direct request is not held back). A
   * duration such as "10m". Default "10m" (the revoke function's own default).
   */
  readonly revokeCooldown?: string;
  /**
   * IAM role ARNs of the operators, per command (`keyturn put`, `rotate`, `revoke`). The
   * secrets' resource policies, the bus policy and keyturn's key policies deny everyone else what
   * those commands do; every operator may also read the values. Default: none.
   */
  readonly operators?: OperatorsConfig;
  /**
   * Who may ask for an emergency revoke by event: the role ARNs allowed to put "Revoke Requested"
   * on the bus (besides operators.revoke), and the event sources whose requests run the revoke
   * function. Default: none, and no rule runs the revoke function from the bus.
   */
  readonly revokeRequesters?: RevokeRequestersConfig;
  /**
   * The role CloudFormation deploys the stack with: the fences let it change what they deny
   * everyone else. Default: the CDK bootstrap's CloudFormation execution role, from the stack's
   * DefaultStackSynthesizer (required with another synthesizer).
   */
  readonly deploymentRoleArn?: string;
}

/** The construct's props from a config file's contents (`loadConfig`). */
export function keyturnPropsFromConfig(config: KeyturnConfig): KeyturnProps {
  return {
    busName: config.busName,
    secretNamePrefix: config.secretNamePrefix,
    monitorSchedule:
      config.monitorSchedule === undefined
        ? undefined
        : ScheduleExpression.expression(config.monitorSchedule),
    auditSchedule:
      config.auditSchedule === undefined ? undefined : ScheduleExpression.expression(config.auditSchedule),
    orphanSafetyMargin: config.orphanSafetyMargin,
    reconcileInterval: config.reconcileInterval,
    stuckRotationAfter: config.stuckRotationAfter,
    refreshInterval: config.refreshInterval,
    minTokenRemaining: config.minTokenRemaining,
    tokenParameterPrefix: config.tokenParameterPrefix,
    alerts: config.alerts,
    credentials: config.credentials,
    revokeCooldown: config.revokeCooldown,
    operators: config.operators,
    revokeRequesters: config.revokeRequesters,
    deploymentRoleArn: config.deploymentRoleArn,
  };
}

export { InvalidKeyturnPropsError };

export class Keyturn extends Construct {
  readonly bus: EventBus;
  readonly rotateFunction: NodejsFunction;
  readonly monitorFunction: NodejsFunction;
  readonly revokeFunction: NodejsFunction;
  readonly relayFunction: NodejsFunction;
  readonly refreshFunction: NodejsFunction;
  /** Leases that keep two refreshes of one credential apart (functions/aws/lease.ts). */
  readonly leaseTable: Table;
  /** keyturn's own records: the keys it stored for each credential (functions/aws/record-store.ts). */
  readonly recordsTable: Table;
  /** The consumers' usage reports and grantConsumer (infra/keyturn-usage.ts). */
  readonly usage: KeyturnUsage;
  /** Token pairs live under this Parameter Store path, one parameter per credential. */
  readonly tokenParameterPrefix: string;
  /** Encrypts the token parameters; its policy names who may use it, for which parameter. */
  readonly tokenKey: Key;
  #tokenReaders = 0;
  readonly #recordsTableName: string;
  /** Sweeps that failed for good (the schedule could not invoke the monitor, or the sweep threw). */
  readonly monitorDeadLetters: Queue;
  /** Revoke requests that failed for good (the rule could not deliver one, or the revoke threw). */
  readonly revokeDeadLetters: Queue;
  /** Rotation failures the relay could not take in (undelivered, or the relay threw). */
  readonly relayDeadLetters: Queue;
  /** Refresh runs that failed for good (the schedule could not invoke the function, or the run threw). */
  readonly refreshDeadLetters: Queue;
  /** Alerts EventBridge could not deliver to their topic. */
  readonly alertDeadLetters: Queue;
  /** One SNS topic per severity; every keyturn event goes to its severity's topic. */
  readonly topics: Record<Severity, Topic>;
  /** The rule on the keyturn bus that feeds each severity's topic. */
  readonly alertRules: Record<Severity, Rule>;
  /** The rule that runs the revoke function on a configured requester's "Revoke Requested"; none without requesters. */
  readonly revokeRule: Rule | undefined;
  /** The rule on the account's default bus that sends Secrets Manager's rotation failures to the relay. */
  readonly relayRule: Rule;
  /** ARN pattern of the secrets keyturn may manage. */
  readonly secretArnPattern: string;
  /** The configured credentials' secrets, their KMS key and rotation schedules. */
  readonly credentials: KeyturnCredentials;
  /** Alarms on the functions, the dead-letter queues and failed rotations, sent to the critical topic. */
  readonly alarms: KeyturnAlarms;
  /** The CloudWatch dashboard of the fleet (infra/keyturn-dashboard.ts). */
  readonly dashboard: KeyturnDashboard;

  constructor(scope: Construct, id: string, props: KeyturnProps = {}) {
    super(scope, id);
    const secretNamePrefix = props.secretNamePrefix ?? DEFAULT_SECRET_NAME_PREFIX;
    if (!Token.isUnresolved(secretNamePrefix) && !SECRET_NAME_PREFIX.test(secretNamePrefix)) {
      throw new InvalidKeyturnPropsError(
        `Keyturn secretNamePrefix "${secretNamePrefix}" is not a secret name folder: use letters, digits ` +
          'and /_+=.@- only, ending with "/" (for example "keyturn/"), so that it cannot match other secrets.',
      );
    }
    // The monitor and the refresh would refuse these at cold start; refuse them at synth instead.
    for (const [prop, value] of Object.entries({
      orphanSafetyMargin: props.orphanSafetyMargin,
      reconcileInterval: props.reconcileInterval,
      stuckRotationAfter: props.stuckRotationAfter,
      minTokenRemaining: props.minTokenRemaining,
      revokeCooldown: props.revokeCooldown,
    })) {
      if (value !== undefined && !Token.isUnresolved(value) && parseDuration(value) === undefined) {
        throw new InvalidKeyturnPropsError(
          `Keyturn ${prop} "${value}" is not a duration: write a whole number and a unit, s, m, h or d ` +
            '(for example "30m" or "6h").',
        );
      }
    }
    const refreshInterval = props.refreshInterval ?? DEFAULT_REFRESH_INTERVAL;
    const refreshIntervalMinutes = wholeMinutes(refreshInterval);
    this.tokenParameterPrefix = props.tokenParameterPrefix ?? DEFAULT_TOKEN_PARAMETER_PREFIX;
    // Known at synth, not a token: the IAM resource needs the path without its leading slash.
    if (
      Token.isUnresolved(this.tokenParameterPrefix) ||
      !TOKEN_PARAMETER_PREFIX.test(this.tokenParameterPrefix)
    ) {
      throw new InvalidKeyturnPropsError(
        `Keyturn tokenParameterPrefix "${this.tokenParameterPrefix}" is not a Parameter Store path: start it with "/", ` +
          'do not end it with "/", use letters, digits and _.- between the slashes, and do not begin it with ' +
          'aws or ssm, which Parameter Store reserves (for example "/keyturn/tokens"). Write it out rather than ' +
          "pass a token: the permissions are computed from it at synth.",
      );
    }
    validateAlerts(props.alerts);
    validateRoles(props);
    for (const credential of props.credentials ?? []) {
      if (!credential.secretName.startsWith(secretNamePrefix)) {
        throw new InvalidKeyturnPropsError(
          `Keyturn credential "${credential.name}": its secret "${credential.secretName}" is outside secretNamePrefix ` +
            `"${secretNamePrefix}", where keyturn's functions may not touch it.`,
        );
      }
    }

    // Who each credential is and how it is handled, baked into the functions that act on them:
    // they trust this, never a secret's tags or value (functions/engine/pinned.ts).
    const pinned = pinnedDocument((props.credentials ?? []).map(pinnedCredential));

    this.bus = new EventBus(this, "Bus", { eventBusName: props.busName ?? DEFAULT_BUS_NAME });
    const busName = this.bus.eventBusName;

    this.secretArnPattern = Stack.of(this).formatArn({
      service: "secretsmanager",
      resource: "secret",
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      resourceName: `${secretNamePrefix}*`,
    });
    // Both gates, not either: a secret's name is fixed at creation, so the prefix keeps out
    // every existing secret of the account, while a tag can be added to any secret by anyone
    // allowed to tag it. The tag then keeps out stray secrets created under the prefix. The
    // engine refuses a secret without keyturn:provider anyway, so requiring it costs nothing.
    // (secretsmanager:resource/AllowRotationLambdaArn would be tighter still, but it would
    // deny reading an issuer credential that is not rotated by this function.)
    // KMS: secrets under the AWS managed key aws/secretsmanager need no statement; those under
    // keyturn's own key or an adopted secret's key get theirs once the credentials are known (below).
    const managedSecret = { Null: { [`aws:ResourceTag/${Tag.provider}`]: "false" } };
    const onManagedSecrets = (sid: string, actions: string[]) =>
      new PolicyStatement({ sid, actions, resources: [this.secretArnPattern], conditions: managedSecret });
    const mirrorKeyturnTags = new PolicyStatement({
      sid: "MirrorKeyturnTags",
      actions: ["secretsmanager:TagResource"],
      resources: [this.secretArnPattern],
      // The engine writes only keyturn:* tags; it must not change tags that other policies key on.
      conditions: { ...managedSecret, "ForAllValues:StringLike": { "aws:TagKeys": ["keyturn:*"] } },
    });
    const allow = (grantee: NodejsFunction, ...statements: PolicyStatement[]) => {
      for (const statement of statements) grantee.addToRolePolicy(statement);
      this.bus.grantPutEventsTo(grantee);
    };

    // Named after the bus, so that the CLI of this deployment finds it (cli/connection.ts).
    this.#recordsTableName = `${props.busName ?? DEFAULT_BUS_NAME}-records`;
    this.recordsTable = new Table(this, "Records", {
      tableName: this.#recordsTableName,
      partitionKey: { name: "credential", type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      // An AWS owned key rather than a KMS key of the account: an item holds a credential's name
      // and key ids (the vendor's ids, never a token or a key), which keyturn publishes anyway.
      encryption: TableEncryption.DEFAULT,
      // The records decide which keys keyturn may revoke; they outlive a stack that is deleted
      // and deployed again, or keyturn would take the keys it finds for its own once more.
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // The due index (functions/aws/record-store.ts DUE_INDEX): the hourly due sweep's one Query per shard.
    this.recordsTable.addGlobalSecondaryIndex({
      indexName: DUE_INDEX,
      partitionKey: { name: "dueShard", type: AttributeType.STRING },
      sortKey: { name: "nextDueAt", type: AttributeType.NUMBER },
      projectionType: ProjectionType.KEYS_ONLY,
    });
    const records = { KEYTURN_RECORDS_TABLE: this.recordsTable.tableName };

    const rotate = new KeyturnFunction(this, "Rotate", {
      pinned,
      handler: "rotate",
      description: "keyturn: Secrets Manager rotation function for vendor API credentials",
      // One step makes a few vendor calls (list issued keys, revoke a lost one, mint); each
      // call may take 4 attempts of 10 s plus backoff in the HTTP client, about a minute at
      // worst. Three minutes lets a step finish through one slow vendor; beyond that the
      // client's deadline check fails the step cleanly and Secrets Manager retries it.
      timeout: Duration.minutes(3),
      environment: { KEYTURN_EVENT_BUS_NAME: busName, ...records },
    });
    this.rotateFunction = rotate.function;
    this.#grantRecords(this.rotateFunction, "dynamodb:GetItem", "dynamodb:UpdateItem");
    // AWS recommends aws:SourceAccount for rotation functions and warns that an exact
    // aws:SourceArn would tie the function to one secret. Lambda matches SourceArn with ArnLike,
    // so the secrets folder keeps the function to keyturn's secrets while it rotates all of them.
    this.rotateFunction.addPermission("InvokedBySecretsManager", {
      principal: new ServicePrincipal("secretsmanager.amazonaws.com"),
      sourceAccount: Stack.of(this).account,
      sourceArn: this.secretArnPattern,
    });
    allow(
      this.rotateFunction,
      onManagedSecrets("RotateKeyturnSecrets", [
        "secretsmanager:DescribeSecret",
        "secretsmanager:GetSecretValue",
        "secretsmanager:PutSecretValue",
        "secretsmanager:UpdateSecretVersionStage",
      ]),
      mirrorKeyturnTags,
    );

    this.monitorDeadLetters = deadLetterQueue(this, "MonitorDeadLetters");
    const monitor = new KeyturnFunction(this, "Monitor", {
      pinned,
      handler: "monitor",
      description: "keyturn: sweep over every managed credential (due revocations, orphaned vendor keys)",
      // One ListSecrets page per 100 credentials, then vendor calls only for what is due: a
      // revocation or a reconciliation listing per issuer. Five minutes is ample for a few
      // hundred credentials; the HTTP client's deadline is the time left, so a sweep cut short
      // fails a credential cleanly and the next sweep takes it up again.
      timeout: Duration.minutes(5),
      environment: {
        KEYTURN_EVENT_BUS_NAME: busName,
        ...records,
        KEYTURN_ORPHAN_SAFETY_MARGIN: props.orphanSafetyMargin,
        KEYTURN_RECONCILE_INTERVAL: props.reconcileInterval,
        KEYTURN_STUCK_ROTATION_AFTER: props.stuckRotationAfter,
        KEYTURN_ROTATE_FUNCTION_ARN: this.rotateFunction.functionArn,
      },
      // Two sweeps at once would revoke the same keys twice and race each other's tag writes.
      reservedConcurrentExecutions: 1,
      asyncInvocation: {
        // No retry: the next scheduled sweep is the retry, and every sweep redoes whatever the
        // last one left undone (functions/engine/revocation.ts). An immediate retry after a
        // timeout would sweep again through the slow vendor that most likely caused it.
        retryAttempts: 0,
        // A sweep held back behind a running one is given up once the next one is due anyway.
        maxEventAge: Duration.hours(1),
        deadLetterQueue: this.monitorDeadLetters,
      },
    });
    this.monitorFunction = monitor.function;
    this.usage = new KeyturnUsage(this, "Usage", {
      busName: props.busName ?? DEFAULT_BUS_NAME,
      credentials: props.credentials ?? [],
      monitor: this.monitorFunction,
    });
    // Scan lists every credential's record (the lifecycle edges of the sweep: records of
    // credentials no longer pinned, due dates); UpdateItem records what the sweep did, with
    // conditional writes as the other functions do; PutItem keeps each failing action's streak
    // in an item of its own (functions/aws/failure-streaks.ts).
    this.#grantRecords(
      this.monitorFunction,
      "dynamodb:GetItem",
      "dynamodb:Scan",
      "dynamodb:UpdateItem",
      "dynamodb:PutItem",
    );
    // The due sweep's Query, on the due index alone (functions/aws/record-store.ts DUE_INDEX).
    this.monitorFunction.addToRolePolicy(
      new PolicyStatement({
        sid: "QueryTheDueIndex",
        actions: ["dynamodb:Query"],
        resources: [`${this.recordsTable.tableArn}/index/${DUE_INDEX}`],
      }),
    );
    allow(
      this.monitorFunction,
      // ListSecrets supports no resource-level permissions: AWS accepts only Resource "*". It is
      // read-only and answers names, ARNs, tags and staging labels, never a secret value; the
      // sweep filters it on the keyturn:provider tag key.
      new PolicyStatement({ sid: "ListSecrets", actions: ["secretsmanager:ListSecrets"], resources: ["*"] }),
      onManagedSecrets("ReadKeyturnSecrets", [
        "secretsmanager:DescribeSecret",
        "secretsmanager:GetSecretValue",
      ]),
      // RotateSecret starts an early rotation of a key about to expire; UpdateSecretVersionStage
      // takes AWSPENDING off a stuck rotation's version (functions/engine/expiry.ts). Neither
      // writes a value: the rotate function still makes every key.
      onManagedSecrets("RotateKeyturnSecretsEarly", [
        "secretsmanager:RotateSecret",
        "secretsmanager:UpdateSecretVersionStage",
      ]),
      mirrorKeyturnTags,
    );
    // As for the revoke function below: RotateSecret requires lambda:InvokeFunction on the
    // secret's rotation function, and granting it on this one only keeps the monitor from
    // pointing a secret at any other.
    this.monitorFunction.addToRolePolicy(this.#invokeRotateFunction());
    // EventBridge Scheduler rather than a scheduled rule on the default bus: it is AWS's
    // successor for schedules, takes cron with a time zone, needs no rule on the account's
    // default bus, and has a retry policy and a dead-letter queue for invocations it could
    // not deliver. Those retries are safe: an undelivered sweep has not started.
    // Two schedules, one function: the event's input says which sweep (functions/handlers/monitor.ts).
    const schedulerRole = this.#schedulerRole("MonitorScheduleRole", "monitor");
    new Schedule(this, "MonitorSchedule", {
      schedule: props.monitorSchedule ?? DEFAULT_MONITOR_SCHEDULE,
      description: "keyturn: runs the monitor's due sweep",
      target: new InvokeFunction(this.monitorFunction, {
        deadLetterQueue: this.monitorDeadLetters,
        maxEventAge: Duration.hours(1),
        role: schedulerRole,
        input: ScheduleTargetInput.fromObject({ mode: "due" }),
      }),
    });
    new Schedule(this, "AuditSchedule", {
      schedule: props.auditSchedule ?? DEFAULT_AUDIT_SCHEDULE,
      description: "keyturn: runs the monitor's audit (the full sweep)",
      target: new InvokeFunction(this.monitorFunction, {
        deadLetterQueue: this.monitorDeadLetters,
        maxEventAge: Duration.hours(1),
        role: schedulerRole,
        input: ScheduleTargetInput.fromObject({ mode: "audit" }),
      }),
    });

    this.refreshDeadLetters = deadLetterQueue(this, "RefreshDeadLetters");
    this.leaseTable = new Table(this, "Leases", {
      partitionKey: { name: "lease", type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      // Expired leases are taken over by the next refresher anyway (a conditional write); TTL
      // only clears the ones whose holder died before releasing them.
      timeToLiveAttribute: "expiresAt",
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      // An AWS owned key rather than a KMS key of the account: an item holds a lease name (a
      // secret's ARN, which ListSecrets shows anyway), a Lambda request id and an expiry, never
      // a token or a key, so a key policy and a CloudTrail record of every use would guard nothing.
      encryption: TableEncryption.DEFAULT,
      // A lease lives at most a minute: nothing in the table outlives the stack.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // The refresh interval is also the schedule's rate below: the engine replaces a pair once it
    // could expire before the next run, so it must know how often runs really come.
    const refreshEventAge = Duration.minutes(Math.min(refreshIntervalMinutes, 6 * 60));
    // A customer managed key rather than the AWS managed aws/ssm, whose key policy lets every
    // principal of the account decrypt any SecureString through Parameter Store (Systems Manager
    // User Guide, "Restricting decryption of SecureString parameter values"): under this one only
    // the refresh writes the pairs and only each credential's consumers read theirs, each bound
    // to its parameter by the encryption context Parameter Store sends (PARAMETER_ARN; "How AWS
    // Systems Manager Parameter Store uses AWS KMS"). Retained: a parameter's older versions stay
    // encrypted under it.
    this.tokenKey = new Key(this, "TokenKey", {
      description: "keyturn: encrypts the token pairs the refresh keeps in Parameter Store",
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
      pendingWindow: Duration.days(30),
      policy: new PolicyDocument({ statements: [keyAdministration()] }),
    });
    const refresh = new KeyturnFunction(this, "Refresh", {
      pinned,
      handler: "refresh",
      description:
        "keyturn: keeps a valid access token for every token-refresh credential in Parameter Store",
      // No longer than a lease (the engine holds each for 60 s): a run cut short cannot still be
      // writing a pair once another refresher may take the lease over. It also ends before the
      // next run is due, the interval being a minute at least.
      timeout: Duration.minutes(1),
      environment: {
        KEYTURN_EVENT_BUS_NAME: busName,
        KEYTURN_LEASE_TABLE: this.leaseTable.tableName,
        KEYTURN_TOKEN_PARAMETER_PREFIX: this.tokenParameterPrefix,
        KEYTURN_REFRESH_INTERVAL: refreshInterval,
        KEYTURN_MIN_TOKEN_REMAINING: props.minTokenRemaining ?? DEFAULT_MIN_TOKEN_REMAINING,
        KEYTURN_TOKEN_KEY_ID: this.tokenKey.keyArn,
      },
      // A refresh invalidates the previous token pair, so two runs at once would leave one of
      // them writing a dead pair: never more than one. A schedule that fires during a run is
      // throttled, not lost: Lambda keeps the event and retries it, with backoff, until the run
      // has ended (up to maxEventAge). The lease table still keeps refreshes from anywhere else
      // apart.
      reservedConcurrentExecutions: 1,
      asyncInvocation: {
        // No retry: the next scheduled run is the retry, and it picks up whatever this one left.
        retryAttempts: 0,
        // A run held back for a whole interval is given up: the next one is due anyway.
        maxEventAge: refreshEventAge,
        deadLetterQueue: this.refreshDeadLetters,
      },
    });
    this.refreshFunction = refresh.function;
    allow(
      this.refreshFunction,
      // As for the monitor: ListSecrets has no resource-level permissions, is read-only and
      // answers no secret value; the refresh filters it on the keyturn:provider tag key.
      new PolicyStatement({ sid: "ListSecrets", actions: ["secretsmanager:ListSecrets"], resources: ["*"] }),
      // The API key, to mint or refresh a pair. No DescribeSecret: ListSecrets already answers
      // the tags and staging labels the refresh reads.
      onManagedSecrets("ReadKeyturnSecrets", ["secretsmanager:GetSecretValue"]),
      new PolicyStatement({
        sid: "ReadWriteTokenParameters",
        actions: ["ssm:GetParameter", "ssm:PutParameter"],
        resources: [this.#tokenParameterArn()],
      }),
      // The token key, through Parameter Store for keyturn's token parameters only. The key
      // policy names the role too (below): it alone decides, since it gives the account nothing.
      new PolicyStatement({
        sid: "EncryptDecryptTokenParameters",
        actions: TOKEN_KEY_WRITE_ACTIONS,
        resources: [this.tokenKey.keyArn],
        conditions: this.#tokenKeyConditions(),
      }),
      // Conditional writes only: PutItem takes a lease, DeleteItem gives it back.
      new PolicyStatement({
        sid: "TakeAndReleaseLeases",
        actions: ["dynamodb:PutItem", "dynamodb:DeleteItem"],
        resources: [this.leaseTable.tableArn],
      }),
    );
    this.tokenKey.addToResourcePolicy(
      keyUse("RefreshStoresTokens", TOKEN_KEY_WRITE_ACTIONS, [refresh.role.roleArn], this.#viaSsm(), {
        PARAMETER_ARN: this.#tokenParameterArn(),
      }),
    );
    // Each token-refresh credential's consumers decrypt its own parameter, and no other.
    for (const credential of props.credentials ?? []) {
      if (credential.mode !== "refresh" || (credential.consumers ?? []).length === 0) continue;
      this.#allowTokenReaders(credential.consumers ?? [], credential.secretName);
    }
    new Schedule(this, "RefreshSchedule", {
      schedule: ScheduleExpression.rate(Duration.minutes(refreshIntervalMinutes)),
      description: "keyturn: runs the token refresh",
      target: new InvokeFunction(this.refreshFunction, {
        deadLetterQueue: this.refreshDeadLetters,
        maxEventAge: refreshEventAge,
        role: this.#schedulerRole("RefreshScheduleRole", "refresh"),
      }),
    });

    this.revokeDeadLetters = deadLetterQueue(this, "RevokeDeadLetters");
    const revoke = new KeyturnFunction(this, "Revoke", {
      pinned,
      handler: "revoke",
      description: "keyturn: emergency revoke, rotates a credential at once and revokes the compromised key",
      // It waits for a whole rotation through Secrets Manager. Only createSecret and testSecret
      // call the vendor, each bounded by the rotate function's 3 minutes; setSecret and
      // finishSecret are quick. Ten minutes covers that worst case and keeps the one minute the
      // handler reserves to revoke and publish after the wait.
      timeout: Duration.minutes(10),
      environment: {
        KEYTURN_EVENT_BUS_NAME: busName,
        ...records,
        KEYTURN_ROTATE_FUNCTION_ARN: this.rotateFunction.functionArn,
        KEYTURN_REVOKE_COOLDOWN: props.revokeCooldown,
      },
      // A reservation both guarantees and caps: an emergency revoke still runs when other
      // workloads have used up the account's concurrency, and a runaway scanner flooding the
      // bus with requests cannot rotate every credential at once against the vendors' rate
      // limits. Five lets one leaked file's handful of credentials go in parallel; requests
      // over it wait in Lambda's queue (up to maxEventAge) rather than being lost.
      reservedConcurrentExecutions: 5,
      asyncInvocation: {
        // No retry: a revoke that failed after its rotation would, rerun, take the fresh
        // successor for the compromised key, rotate again and revoke it. A failed request goes
        // to the dead-letter queue, and the handler publishes a critical event, for a person.
        retryAttempts: 0,
        maxEventAge: Duration.hours(6),
        deadLetterQueue: this.revokeDeadLetters,
      },
    });
    this.revokeFunction = revoke.function;
    // Named after the bus, as the records table, so that `keyturn revoke` finds it from the bus
    // name alone (cli/connection.ts); the bus name is already unique in the account and region.
    (this.revokeFunction.node.defaultChild as CfnFunction).functionName =
      `${props.busName ?? DEFAULT_BUS_NAME}-revoke`;
    // `keyturn revoke` against AWS invokes this function (RequestResponse): the revoke operators
    // need that and nothing else of the engine's rights (no RotateSecret, tags, records or
    // issuer keys). Their own IAM policies may allow it too; this lets the config say so.
    for (const [index, arn] of [...new Set(props.operators?.revoke ?? [])].entries()) {
      this.revokeFunction.addPermission(`InvokedByRevokeOperator${index}`, {
        principal: new ArnPrincipal(arn),
        action: "lambda:InvokeFunction",
      });
    }
    this.#grantRecords(this.revokeFunction, "dynamodb:GetItem", "dynamodb:UpdateItem");
    allow(
      this.revokeFunction,
      onManagedSecrets("RotateKeyturnSecretsNow", [
        "secretsmanager:RotateSecret",
        "secretsmanager:DescribeSecret",
        "secretsmanager:GetSecretValue",
      ]),
      mirrorKeyturnTags,
    );
    // RotateSecret also requires the caller to be allowed lambda:InvokeFunction on the
    // secret's rotation function (Secrets Manager API reference, RotateSecret "Required
    // permissions"). Granting it on this function only also keeps RotateSecret from pointing
    // a secret at any other rotation function.
    this.revokeFunction.addToRolePolicy(this.#invokeRotateFunction());
    // Only from the configured requesters' sources: the bus policy (below) lets only the
    // configured principals put a "Revoke Requested", and this pattern keeps the rule from
    // running on one they would publish under another source. With no requester configured
    // there is no rule: a pattern cannot match an empty list of sources, and any source it did
    // name could be published by someone. Operators then revoke with `keyturn revoke`, or by
    // invoking the revoke function, which their IAM policies decide (a function policy can
    // only allow).
    const requesterSources = [...new Set(props.revokeRequesters?.sources ?? [])];
    this.revokeRule =
      requesterSources.length === 0
        ? undefined
        : new Rule(this, "RevokeRequested", {
            eventBus: this.bus,
            description:
              "keyturn: runs the revoke function for each Revoke Requested event of a configured requester",
            eventPattern: { source: requesterSources, detailType: [DetailType.revokeRequested] },
            targets: [
              new LambdaFunction(this.revokeFunction, {
                // Delivery retries are safe, an undelivered request has not started; a leaked key
                // stays leaked, so a late revoke is still worth running.
                retryAttempts: 185,
                maxEventAge: Duration.hours(24),
                deadLetterQueue: this.revokeDeadLetters,
              }),
            ],
          });

    this.relayDeadLetters = deadLetterQueue(this, "RelayDeadLetters");
    const relay = new KeyturnFunction(this, "Relay", {
      handler: "relay",
      description:
        "keyturn: re-publishes Secrets Manager's RotationFailed and RotationAbandoned on the keyturn bus",
      // One DescribeSecret and one PutEvents.
      timeout: Duration.seconds(30),
      environment: { KEYTURN_EVENT_BUS_NAME: busName },
      asyncInvocation: {
        // Safe to retry: the relay publishes last, so a failed run has published nothing, and
        // a failure reported twice beats one not reported.
        retryAttempts: 2,
        maxEventAge: Duration.hours(6),
        deadLetterQueue: this.relayDeadLetters,
      },
    });
    this.relayFunction = relay.function;
    allow(
      this.relayFunction,
      // Without the keyturn:provider condition of the other statements: the relay reads the tags
      // to learn whether a failing secret is keyturn's, and under that condition DescribeSecret
      // on an untagged secret in the folder would fail with AccessDenied instead of answering
      // "not keyturn's". DescribeSecret answers metadata (name, tags, rotation settings), never
      // a value. Secrets outside the prefix are not keyturn's by definition and stay denied.
      new PolicyStatement({
        sid: "ReadKeyturnSecretTags",
        actions: ["secretsmanager:DescribeSecret"],
        resources: [this.secretArnPattern],
      }),
    );
    // On the default bus, where AWS services' CloudTrail events arrive; a rule there matches only
    // events of its own account and region.
    this.relayRule = new Rule(this, "RotationFailures", {
      description:
        "keyturn: sends Secrets Manager's RotationFailed and RotationAbandoned to the relay function",
      eventPattern: ROTATION_FAILURE_PATTERN,
      targets: [
        new LambdaFunction(this.relayFunction, {
          // Delivery retries are safe, an undelivered failure has not been relayed yet.
          retryAttempts: 185,
          maxEventAge: Duration.hours(24),
          deadLetterQueue: this.relayDeadLetters,
        }),
      ],
    });

    // Who may do what beyond keyturn's functions, by role ARN: the fences (secret resource
    // policies, keyturn's key policies, the records table's, the bus's and the topics' policies)
    // deny it to everyone else.
    const deployment = deploymentRoleArn(this, props.deploymentRoleArn);

    this.alertDeadLetters = deadLetterQueue(this, "AlertDeadLetters");
    const alerts = new KeyturnAlerts(this, "Alerts", {
      ...props.alerts,
      bus: this.bus,
      deadLetters: this.alertDeadLetters,
      deploymentRoleArn: deployment,
    });
    this.topics = alerts.topics;
    this.alertRules = alerts.rules;

    const operators = {
      put: props.operators?.put ?? [],
      rotate: props.operators?.rotate ?? [],
      revoke: props.operators?.revoke ?? [],
    };
    const roleOf = Object.fromEntries(
      Object.entries({ rotate, monitor, refresh, revoke, relay }).map(([name, fn]) => [
        name,
        fn.role.roleArn,
      ]),
    ) as Record<HandlerName, string>;
    this.credentials = new KeyturnCredentials(this, "Credentials", {
      credentials: props.credentials ?? [],
      rotateFunction: this.rotateFunction,
      rotateDependencies: [
        rotate.role,
        this.rotateFunction.permissionsNode.findChild("InvokedBySecretsManager"),
      ],
      secretArnPattern: this.secretArnPattern,
      // Each only as its handler or its command needs (docs/cli.md, "Operator permissions").
      fence: {
        deploymentRoleArn: deployment,
        // The rotate function stores each successor; `keyturn put` a handed-over key.
        valueWriters: [roleOf.rotate, ...operators.put],
        // finishSecret moves AWSCURRENT; the monitor clears a stuck AWSPENDING; put makes its key current.
        labelMovers: [roleOf.rotate, roleOf.monitor, ...operators.put],
        // Early rotations (monitor), emergency revokes (the function, which `keyturn revoke`
        // invokes), `keyturn rotate`.
        rotators: [roleOf.monitor, roleOf.revoke, ...operators.rotate],
        // The engine mirrors its bookkeeping in keyturn:* tags wherever it acts.
        taggers: [roleOf.rotate, roleOf.monitor, roleOf.revoke, ...operators.put],
        // The relay reads no value.
        readers: [
          roleOf.rotate,
          roleOf.monitor,
          roleOf.refresh,
          roleOf.revoke,
          ...operators.put,
          ...operators.rotate,
          ...operators.revoke,
        ],
      },
    });
    this.#fenceBus(Object.values(roleOf), operators, props.revokeRequesters?.principals ?? [], deployment);
    this.#fenceRecords([roleOf.rotate, roleOf.monitor, roleOf.revoke], operators, deployment);
    this.usage.fence(deployment);
    // The secrets' KMS keys, used through Secrets Manager for keyturn's secrets only. Reading a
    // value decrypts it; only the rotate function stores values, which needs a data key.
    if (this.credentials.keyArns.length > 0) {
      const throughSecretsManager = (sid: string, actions: string[]) =>
        new PolicyStatement({
          sid,
          actions,
          resources: this.credentials.keyArns,
          conditions: {
            StringEquals: { "kms:ViaService": `secretsmanager.${Stack.of(this).region}.amazonaws.com` },
            StringLike: { "kms:EncryptionContext:SecretARN": this.secretArnPattern },
          },
        });
      this.rotateFunction.addToRolePolicy(
        throughSecretsManager("DecryptAndEncryptKeyturnSecrets", ["kms:Decrypt", "kms:GenerateDataKey"]),
      );
      for (const reader of [this.monitorFunction, this.refreshFunction, this.revokeFunction]) {
        reader.addToRolePolicy(throughSecretsManager("DecryptKeyturnSecrets", ["kms:Decrypt"]));
      }
    }

    const functions: Record<HandlerName, KeyturnFunction<HandlerName>> = {
      rotate,
      monitor,
      refresh,
      revoke,
      relay,
    };
    const deadLetterQueues = {
      monitor: this.monitorDeadLetters,
      refresh: this.refreshDeadLetters,
      revoke: this.revokeDeadLetters,
      relay: this.relayDeadLetters,
      alert: this.alertDeadLetters,
    };
    const tokenMarginMs = parseDuration(props.minTokenRemaining ?? DEFAULT_MIN_TOKEN_REMAINING);
    const tokenMargin = tokenMarginMs === undefined ? undefined : Duration.millis(tokenMarginMs);
    this.alarms = new KeyturnAlarms(this, "Alarms", {
      functions: Object.fromEntries(Object.entries(functions).map(([name, fn]) => [name, fn.function])),
      deadLetterQueues,
      rotationFailures: this.relayRule,
      topic: this.topics.critical,
      // A cron() schedule's interval is read from its fields where they tell it (cronInterval),
      // else watched over the longest window CloudWatch allows.
      monitorInterval: monitorInterval((props.monitorSchedule ?? DEFAULT_MONITOR_SCHEDULE).expressionString),
      // Only where some credential's consumers read a refreshed token.
      ...(tokenMargin && (props.credentials ?? []).some((credential) => credential.mode === "refresh")
        ? {
            tokenLifetime: { refreshInterval: Duration.minutes(refreshIntervalMinutes), margin: tokenMargin },
          }
        : {}),
    });
    alerts.acceptAlarms(Object.values(this.alarms.alarms));
    this.dashboard = new KeyturnDashboard(this, "Dashboard", {
      functions: Object.fromEntries(Object.entries(functions).map(([name, fn]) => [name, fn.function])),
      deadLetterQueues,
      alarms: Object.values(this.alarms.alarms),
      ...(tokenMargin ? { tokenMargin } : {}),
    });
    this.#acknowledgeFindings(functions, secretNamePrefix);
  }

  /**
   * Lets an application of this CDK app read one credential's secret: GetSecretValue on it and,
   * for secrets under keyturn's KMS key, decryption through Secrets Manager for that secret only,
   * in the grantee's IAM policy; and the secret's resource policy and keyturn's key policy name
   * the grantee among the credential's readers, as they do the configured `consumers`, since
   * they deny everyone else. `grantee` must be a role or user (a function's role will do), of
   * this stack or imported by ARN: a role of another stack that itself refers to this one would
   * make the two stacks refer to each other; name such a role in `consumers` instead. An adopted
   * secret under a key of its own also needs that key's policy to let the grantee decrypt. Read
   * AWSCURRENT on every use or cache it briefly: keyturn replaces it on every rotation.
   */
  grantRead(grantee: IGrantable, credential: string): Grant {
    const secretArn = this.credentials.secretPolicyArns[credential];
    if (!secretArn) {
      throw new InvalidKeyturnPropsError(
        `Keyturn grantRead: "${credential}" is not a configured credential ` +
          `(${Object.keys(this.credentials.secrets).join(", ") || "none are configured"}).`,
      );
    }
    this.credentials.allowReader(grantee, credential);
    const grant = Grant.addToPrincipal({
      grantee,
      actions: ["secretsmanager:GetSecretValue"],
      resourceArns: [secretArn],
    });
    if (this.credentials.keyArns.length > 0) {
      Grant.addToPrincipal({
        grantee,
        actions: ["kms:Decrypt"],
        resourceArns: this.credentials.keyArns,
        conditions: {
          StringEquals: { "kms:ViaService": `secretsmanager.${Stack.of(this).region}.amazonaws.com` },
          StringLike: { "kms:EncryptionContext:SecretARN": secretArn },
        },
      });
    }
    return grant;
  }

  /**
   * Lets an application's role consume `credential` through keyturn/consumer: read it (grantRead,
   * or grantReadTokens for a token credential) and report the key id it holds into the usage
   * table, in that credential's partition only (infra/keyturn-usage.ts).
   */
  grantConsumer(grantee: IGrantable, credential: string): Grant {
    return this.usage.grantConsumer(this, grantee, credential);
  }

  /**
   * `actions` on the records table itself, not its indexes: Table.grant would add `<table>/index/*`
   * once the table has one (the due index), a wildcard none of these functions needs.
   */
  #grantRecords(fn: IFunction, ...actions: string[]): void {
    fn.addToRolePolicy(new PolicyStatement({ actions, resources: [this.recordsTable.tableArn] }));
  }

  /** @deprecated Use grantRead, which does the same. */
  grantReadCredential(grantee: IGrantable, credential: string): Grant {
    return this.grantRead(grantee, credential);
  }

  /**
   * The bus policy: only keyturn's functions, and the operators whose commands publish keyturn's
   * events in their own process (`keyturn put`, `keyturn revoke`), may put events with source
   * keyturn, which the alert rules and anyone's own rules trust as keyturn's; and only the
   * configured requesters and revoke operators may put "Revoke Requested", whatever its source.
   * Deny statements with events:source and events:detail-type, which EventBridge evaluates for
   * PutEvents ("Using IAM policy conditions in Amazon EventBridge"); same-account principals are
   * otherwise let in by their IAM policies, which this cannot widen.
   *
   * And only the deployment may change, disable or delete keyturn's own rules on the bus (the
   * alert rules, the revoke rule) or their targets: whoever could would silence every alert, or
   * every emergency revoke by event, without touching a secret. A bus policy may name rule
   * management actions on the bus's rules, arn:...:rule/<bus>/<rule> (EventBridge User Guide,
   * "Example policy: Send events to the same account and restrict updates"). Each rule is named by
   * its ARN rather than rule/<bus>/*, so that anyone the account allows still adds rules of their own.
   */
  #fenceBus(
    functionRoles: string[],
    operators: { put: readonly string[]; rotate: readonly string[]; revoke: readonly string[] },
    requesters: readonly string[],
    deployment: string,
  ): void {
    const resources = [this.bus.eventBusArn];
    const rules = [...Object.values(this.alertRules), ...(this.revokeRule ? [this.revokeRule] : [])];
    const statements = [
      denyAllBut(
        "OnlyKeyturnPublishesAsKeyturn",
        ["events:PutEvents"],
        [...functionRoles, ...operators.put],
        { StringEquals: { "events:source": EVENT_SOURCE } },
        resources,
      ),
      denyAllBut(
        "OnlyRequestersRequestRevokes",
        ["events:PutEvents"],
        [...operators.revoke, ...requesters],
        { StringEquals: { "events:detail-type": DetailType.revokeRequested } },
        resources,
      ),
      denyAllBut(
        "OnlyTheDeploymentChangesKeyturnRules",
        RULE_MANAGEMENT_ACTIONS,
        [deployment],
        {},
        rules.map((rule) => rule.ruleArn),
      ),
    ];
    for (const statement of statements) this.bus.addToResourcePolicy(statement);
    validatePolicySize(
      this.bus,
      "the bus policy",
      EVENT_BUS_POLICY_LIMIT,
      () => new PolicyDocument({ statements }),
    );
  }

  /**
   * The records table's resource policy. The records decide which keys keyturn may revoke and,
   * for a credential the config no longer pins, with which provider and issuer: whoever could
   * write one could make the monitor revoke a key keyturn does not manage. So only the functions
   * that keep them (rotate, monitor, revoke), the operators whose command writes them in their
   * own process (`keyturn put`) and the deployment may write an item, by any
   * API (TransactWriteItems is authorized as the PutItem, UpdateItem and DeleteItem it holds;
   * PartiQL statements by their own actions); and only the deployment may change the table, its
   * point-in-time recovery, its expiry or this policy, or delete it. A Deny wins over any Allow of
   * the account's IAM policies (IAM User Guide, "Policy evaluation logic"), with one exception
   * DynamoDB makes so that nobody is locked out for good: the account root may always delete the
   * policy (DynamoDB API Reference, DeleteResourcePolicy).
   *
   * Reads are left to the account's IAM policies: an item holds a credential's name and key ids,
   * which keyturn publishes anyway, and `keyturn status` scans them for whoever runs it.
   *
   * The table is named by its ARN built from its name, not by its own attribute: a resource's
   * properties cannot refer to the resource itself. The second ARN covers its indexes and stream,
   * should it ever have any (the policy of a table is also its indexes').
   */
  #fenceRecords(
    functionRoles: readonly string[],
    operators: { put: readonly string[] },
    deployment: string,
  ): void {
    const table = Stack.of(this).formatArn({
      service: "dynamodb",
      resource: "table",
      resourceName: this.#recordsTableName,
    });
    const resources = [table, `${table}/*`];
    this.recordsTable.addToResourcePolicy(
      denyAllBut(
        "OnlyKeyturnWritesRecords",
        RECORD_WRITE_ACTIONS,
        [...functionRoles, ...operators.put, deployment],
        {},
        resources,
      ),
    );
    this.recordsTable.addToResourcePolicy(
      denyAllBut(
        "OnlyTheDeploymentChangesTheRecordsTable",
        RECORDS_TABLE_CHANGES,
        [deployment],
        {},
        resources,
      ),
    );
    validatePolicySize(
      this.recordsTable,
      "the records table's resource policy",
      DYNAMODB_POLICY_LIMIT,
      () => this.recordsTable.resourcePolicy,
    );
  }

  /**
   * The cdk-nag findings keyturn accepts, each with the reason a reviewer needs. Anything else
   * fails the synthesis (infra/compliance.ts) and the infra tests.
   */
  #acknowledgeFindings(
    functions: Record<HandlerName, KeyturnFunction<HandlerName>>,
    secretNamePrefix: string,
  ): void {
    Validations.of(this).acknowledge({
      id:
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:" +
        `${secretNamePrefix}*]`,
      reason:
        `keyturn's functions serve every credential in the ${secretNamePrefix} folder, including ones added after ` +
        "deploy, and a secret's ARN ends in six random characters: the folder needs a wildcard. Every statement on " +
        "it but the relay's DescribeSecret also requires the keyturn:provider tag, and tags may only be keyturn:*.",
    });
    // X-Ray is off (infra/keyturn-function.ts): only the functions that list secrets hold an
    // action on Resource "*".
    for (const fn of [functions.monitor, functions.refresh]) {
      Validations.of(fn.role).acknowledge({
        id: "AwsSolutions-IAM5[Resource::*]",
        reason:
          'Only secretsmanager:ListSecrets is granted on Resource "*", which AWS allows on no other resource: it is ' +
          "read-only, returns no secret value and is how the function finds keyturn's credentials (by their " +
          "keyturn:provider tag).",
      });
    }
    Validations.of(functions.refresh.role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:parameter${this.tokenParameterPrefix}/*]`,
      reason:
        "The refresh stores one token parameter per Incorta credential, named after it, under keyturn's own token " +
        "prefix; credentials come and go with the config, so the prefix needs a wildcard (GetParameter and PutParameter only).",
    });
  }

  /** lambda:InvokeFunction on the rotate function itself (unqualified: rotation schedules name it so), as RotateSecret requires. */
  #invokeRotateFunction(): PolicyStatement {
    return new PolicyStatement({
      sid: "InvokeRotateForRotateSecret",
      actions: ["lambda:InvokeFunction"],
      resources: [this.rotateFunction.functionArn],
    });
  }

  /** The role EventBridge Scheduler invokes a function with: that function only, for this account's schedules. */
  #schedulerRole(id: string, handler: string): Role {
    const role = new Role(this, id, {
      assumedBy: new ServicePrincipal("scheduler.amazonaws.com", {
        conditions: { StringEquals: { "aws:SourceAccount": Stack.of(this).account } },
      }),
      description: `keyturn: EventBridge Scheduler invokes the ${handler} function with it`,
    });
    return role;
  }

  /**
   * Lets an application that consumes Incorta tokens read them: `ssm:GetParameter` on the token
   * parameter of `credential` (its keyturn:credential name, or its secret name), or on every
   * token parameter under the prefix when no credential is named, and `kms:Decrypt` with
   * keyturn's token key through Parameter Store for that parameter (or those) only. The key's
   * policy names the grantee as well: it gives the account no use of the key, so an IAM policy
   * alone would not let the grantee decrypt. Read the parameter with WithDecryption and read it
   * again on a 401. `grantee` must be a role or user (see grantRead).
   */
  grantReadTokens(grantee: IGrantable, credential?: string): Grant {
    if (credential !== undefined && !Token.isUnresolved(credential) && !PARAMETER_NAME.test(credential)) {
      throw new InvalidKeyturnPropsError(
        `Keyturn grantReadTokens credential "${credential}" cannot name a token parameter: Parameter Store ` +
          "names hold letters, digits and _.-/ only (and no wildcard, which would widen the grant).",
      );
    }
    const grant = Grant.addToPrincipal({
      grantee,
      actions: ["ssm:GetParameter"],
      resourceArns: [this.#tokenParameterArn(credential)],
    });
    Grant.addToPrincipal({
      grantee,
      actions: ["kms:Decrypt"],
      resourceArns: [this.tokenKey.keyArn],
      conditions: this.#tokenKeyConditions(credential),
    });
    this.#allowTokenReaders([principalArnOf(grantee, "grantReadTokens")], credential);
    return grant;
  }

  /** Names token readers in the token key's policy: decryption through Parameter Store of that credential's parameter (or every one). */
  #allowTokenReaders(arns: readonly string[], credential?: string): void {
    this.tokenKey.addToResourcePolicy(
      keyUse(`ConsumersDecryptTokens${++this.#tokenReaders}`, ["kms:Decrypt"], arns, this.#viaSsm(), {
        PARAMETER_ARN: this.#tokenParameterArn(credential),
      }),
    );
  }

  /** Use of the token key through Parameter Store, for one credential's parameter or every token parameter. */
  #tokenKeyConditions(credential?: string): Record<string, Record<string, unknown>> {
    return {
      StringEquals: { "kms:ViaService": this.#viaSsm() },
      StringLike: { "kms:EncryptionContext:PARAMETER_ARN": this.#tokenParameterArn(credential) },
    };
  }

  #viaSsm(): string {
    return `ssm.${Stack.of(this).region}.amazonaws.com`;
  }

  /** The ARN of one credential's token parameter, or of all of them. */
  #tokenParameterArn(credential?: string): string {
    const name =
      credential === undefined
        ? `${this.tokenParameterPrefix}/*`
        : tokenParameterName(credential, this.tokenParameterPrefix);
    return Stack.of(this).formatArn({
      service: "ssm",
      resource: "parameter",
      arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
      // A parameter's ARN is "parameter" followed by its name, which already starts with "/".
      resourceName: name.replace(/^\/+/, ""),
    });
  }
}

/** The refresh interval in minutes, refused unless EventBridge Scheduler can run at that rate. */
function wholeMinutes(interval: string): number {
  const ms = Token.isUnresolved(interval) ? undefined : parseDuration(interval);
  if (ms === undefined || ms < 60_000 || ms % 60_000 !== 0) {
    throw new InvalidKeyturnPropsError(
      `Keyturn refreshInterval "${interval}" is not a whole number of minutes of at least one: the refresh ` +
        'schedule runs at a rate in minutes, so write a duration such as "2m", "5m" or "1h".',
    );
  }
  return ms / 60_000;
}

/** Refuses role ARNs the fences could not match: aws:PrincipalArn of a session is its role's exact ARN. */
function validateRoles(props: KeyturnProps): void {
  const named: [string, readonly string[] | undefined][] = [
    ["operators.put", props.operators?.put],
    ["operators.rotate", props.operators?.rotate],
    ["operators.revoke", props.operators?.revoke],
    ["revokeRequesters.principals", props.revokeRequesters?.principals],
    ["deploymentRoleArn", props.deploymentRoleArn === undefined ? undefined : [props.deploymentRoleArn]],
    ...(props.credentials ?? []).map((credential): [string, readonly string[] | undefined] => [
      `credential "${credential.name}" consumers`,
      credential.consumers,
    ]),
  ];
  for (const [prop, arns] of named) {
    for (const arn of arns ?? []) {
      if (!Token.isUnresolved(arn) && !ROLE_ARN.test(arn)) {
        throw new InvalidKeyturnPropsError(
          `Keyturn ${prop} "${arn}" is not an IAM role ARN: write the role's full ARN with its path, such as ` +
            '"arn:aws:iam::123456789012:role/payments-app", without wildcards.',
        );
      }
    }
  }
  for (const source of props.revokeRequesters?.sources ?? []) {
    if (source === EVENT_SOURCE) {
      throw new InvalidKeyturnPropsError(
        `Keyturn revokeRequesters.sources lists "${EVENT_SOURCE}", keyturn's own event source: give the requester a ` +
          'source of its own, such as "my.leak-scanner".',
      );
    }
  }
}

/** Refuses at synth what SNS would refuse at deploy, or what would never be delivered. */
function validateAlerts(alerts: KeyturnAlertProps | undefined): void {
  for (const address of alerts?.email ?? []) {
    if (!Token.isUnresolved(address) && !EMAIL_ADDRESS.test(address)) {
      throw new InvalidKeyturnPropsError(
        `Keyturn alerts email "${address}" is not an email address: write one address per entry, ` +
          'such as "oncall@example.com".',
      );
    }
  }
  for (const url of alerts?.https ?? []) {
    if (!Token.isUnresolved(url) && !(URL.canParse(url) && new URL(url).protocol === "https:")) {
      throw new InvalidKeyturnPropsError(
        `Keyturn alerts https endpoint "${url}" is not an https:// URL: keyturn subscribes HTTPS endpoints ` +
          'only, so that alerts never travel in clear. Write the full URL, such as "https://hooks.example.com/keyturn".',
      );
    }
  }
  const minimum = alerts?.minimumSeverity;
  if (minimum !== undefined && !SEVERITIES.includes(minimum)) {
    throw new InvalidKeyturnPropsError(
      `Keyturn alerts minimumSeverity "${minimum}" is not a severity: use ${SEVERITIES.join(", ")}.`,
    );
  }
}

/**
 * Encrypted with an SQS-owned key: Lambda, EventBridge and Scheduler can all write to it as
 * they are, where a KMS key would need a key policy letting each of them use it.
 */
function deadLetterQueue(scope: Construct, id: string): Queue {
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

/**
 * EventBridge Scheduler's Lambda target, allowed to invoke the function itself only: the
 * schedule names its unqualified ARN, so the versions and aliases LambdaInvoke also grants are
 * not needed.
 */
class InvokeFunction extends LambdaInvoke {
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
