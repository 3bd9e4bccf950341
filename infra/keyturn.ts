// keyturn as one construct to drop into any CDK app: the event bus; keyturn's records; its five
// functions, each a construct of its own in infra/functions/ with what invokes it (Secrets
// Manager, a schedule, a rule on the bus, a rule on the default bus), its dead-letter queue and
// its permissions; the alert topics by severity; the configured credentials (secrets, their KMS
// key, rotation schedules); alarms on the critical topic; and the dashboard. Around them, the
// fences (infra/keyturn-fences.ts): resource and key policies that deny everyone but keyturn's
// roles, the deployment and the configured operators, consumers and revoke requesters what
// keyturn trusts. This file validates the props, composes the parts and writes the fences of
// the bus and the records table; the cdk-nag findings each part accepts are acknowledged beside
// it, each with its reason.

import { ArnFormat, Duration, RemovalPolicy, Stack, Token, Validations } from "aws-cdk-lib";
import { AttributeType, BillingMode, ProjectionType, Table, TableEncryption } from "aws-cdk-lib/aws-dynamodb";
import { EventBus, type Rule } from "aws-cdk-lib/aws-events";
import { Grant, type IGrantable, PolicyDocument } from "aws-cdk-lib/aws-iam";
import type { Key } from "aws-cdk-lib/aws-kms";
import type { NodejsFunction } from "aws-cdk-lib/aws-lambda-nodejs";
import { ScheduleExpression } from "aws-cdk-lib/aws-scheduler";
import type { Topic } from "aws-cdk-lib/aws-sns";
import type { Queue } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { EVENT_SOURCE } from "#aws/event-publisher.ts";
import { DUE_INDEX } from "#aws/record-store.ts";
import {
  DEFAULT_AUDIT_SCHEDULE,
  DEFAULT_BUS_NAME,
  DEFAULT_MIN_TOKEN_REMAINING,
  DEFAULT_MONITOR_SCHEDULE,
  DEFAULT_REFRESH_INTERVAL,
  DEFAULT_SECRET_NAME_PREFIX,
  DEFAULT_TOKEN_PARAMETER_PREFIX,
} from "#engine/defaults.ts";
import { parseDuration } from "#engine/duration.ts";
import { DetailType, type Severity } from "#engine/events.ts";
import { pinnedDocument } from "#engine/pinned.ts";
import {
  type CredentialConfig,
  type KeyturnConfig,
  type OperatorsConfig,
  pinnedCredential,
  type RevokeRequestersConfig,
  ROLE_ARN,
  SECRET_NAME_PREFIX,
} from "./config.ts";
import { MonitorFunction } from "./functions/monitor.ts";
import { RefreshFunction, wholeMinutes } from "./functions/refresh.ts";
import { RelayFunction } from "./functions/relay.ts";
import { RevokeFunction } from "./functions/revoke.ts";
import { INVOKED_BY_SECRETS_MANAGER, RotateFunction } from "./functions/rotate.ts";
import { deadLetterQueue, type KeyturnContext } from "./functions/shared.ts";
import { KeyturnAlarms, monitorInterval } from "./keyturn-alarms.ts";
import { type KeyturnAlertProps, KeyturnAlerts, SEVERITIES } from "./keyturn-alerts.ts";
import { KeyturnCredentials } from "./keyturn-credentials.ts";
import { KeyturnDashboard } from "./keyturn-dashboard.ts";
import { InvalidKeyturnPropsError } from "./keyturn-errors.ts";
import { denyAllBut, deploymentRoleArn, TABLE_CHANGES, validatePolicySize } from "./keyturn-fences.ts";
import type { HandlerName, KeyturnFunction } from "./keyturn-function.ts";
import type { KeyturnUsage } from "./keyturn-usage.ts";

/**
 * A Parameter Store path: "/" and segments of the characters parameter names may hold, not ending
 * with "/" (the refresh appends "/<credential>"), nor starting with aws or ssm, which Parameter
 * Store reserves (PutParameter, "Naming Constraints").
 */
const TOKEN_PARAMETER_PREFIX = /^(?!\/(aws|ssm))(\/[A-Za-z0-9_.-]+)+$/i;
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
   * How often the refresh function renews token pairs (refresh-mode providers): a whole number of minutes, at
   * least one, such as "2m" or "1h". Default "2m". Keep it well inside the vendor's access-token
   * lifetime (10 minutes for some vendors): a pair is replaced once it has less than refreshInterval +
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

/**
 * The construct's props from a config file's contents (`loadConfig`): the one mapping from the
 * config to the props, used by the app (infra/app.ts), the sandbox and the tests. Every field is
 * copied by name, but for the schedules, which the construct takes as ScheduleExpressions.
 */
export function keyturnPropsFromConfig(config: KeyturnConfig): KeyturnProps {
  const { monitorSchedule, auditSchedule, ...sameNamed } = config;
  return {
    ...sameNamed,
    monitorSchedule:
      monitorSchedule === undefined ? undefined : ScheduleExpression.expression(monitorSchedule),
    auditSchedule: auditSchedule === undefined ? undefined : ScheduleExpression.expression(auditSchedule),
  };
}

/**
 * Fails `tsc` when a config field has no prop of the same name, or a prop no config field:
 * keyturnPropsFromConfig copies them by name, so the two lists must be the same.
 */
export type ConfigFieldsAreProps = Expect<SameKeys<KeyturnConfig, KeyturnProps>>;
type SameKeys<A, B> = [Exclude<keyof A, keyof B>, Exclude<keyof B, keyof A>] extends [never, never]
  ? true
  : false;
type Expect<T extends true> = T;

export { InvalidKeyturnPropsError };

export class Keyturn extends Construct {
  readonly bus: EventBus;
  /** The five functions, each with its queue, schedules or rules and permissions (infra/functions/). */
  readonly functions: {
    readonly rotate: RotateFunction;
    readonly monitor: MonitorFunction;
    readonly refresh: RefreshFunction;
    readonly revoke: RevokeFunction;
    readonly relay: RelayFunction;
  };
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
    const busName = props.busName ?? DEFAULT_BUS_NAME;
    const refreshInterval = props.refreshInterval ?? DEFAULT_REFRESH_INTERVAL;
    const minTokenRemaining = props.minTokenRemaining ?? DEFAULT_MIN_TOKEN_REMAINING;
    const monitorSchedule = props.monitorSchedule ?? ScheduleExpression.expression(DEFAULT_MONITOR_SCHEDULE);
    const credentials = props.credentials ?? [];
    this.tokenParameterPrefix = props.tokenParameterPrefix ?? DEFAULT_TOKEN_PARAMETER_PREFIX;
    const refreshIntervalMinutes = validateProps(props, {
      secretNamePrefix,
      refreshInterval,
      tokenParameterPrefix: this.tokenParameterPrefix,
    });

    this.bus = new EventBus(this, "Bus", { eventBusName: busName });
    this.secretArnPattern = Stack.of(this).formatArn({
      service: "secretsmanager",
      resource: "secret",
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      resourceName: `${secretNamePrefix}*`,
    });
    // Named after the bus, so that the CLI of this deployment finds it (cli/connection.ts).
    this.#recordsTableName = `${busName}-records`;
    this.recordsTable = recordsTable(this, this.#recordsTableName);
    const context: KeyturnContext = {
      bus: this.bus,
      secretArnPattern: this.secretArnPattern,
      recordsTable: this.recordsTable,
      // Who each credential is and how it is handled, baked into the functions that act on them:
      // they trust this, never a secret's tags or value (functions/engine/pinned.ts).
      pinned: pinnedDocument(credentials.map(pinnedCredential)),
    };

    // The functions, each with what invokes it, its dead-letter queue and its permissions.
    const rotate = new RotateFunction(this, "Rotate", context);
    const rotateFunctionArn = rotate.function.functionArn;
    const monitor = new MonitorFunction(this, "Monitor", {
      context,
      rotateFunctionArn,
      monitorSchedule,
      auditSchedule: props.auditSchedule ?? ScheduleExpression.expression(DEFAULT_AUDIT_SCHEDULE),
      orphanSafetyMargin: props.orphanSafetyMargin,
      reconcileInterval: props.reconcileInterval,
      stuckRotationAfter: props.stuckRotationAfter,
      usage: { busName, credentials },
    });
    const refresh = new RefreshFunction(this, "Refresh", {
      context,
      tokenParameterPrefix: this.tokenParameterPrefix,
      refreshInterval,
      refreshIntervalMinutes,
      minTokenRemaining,
      credentials,
    });
    const revoke = new RevokeFunction(this, "Revoke", {
      context,
      busName,
      rotateFunctionArn,
      revokeCooldown: props.revokeCooldown,
      operators: props.operators?.revoke ?? [],
      requesterSources: props.revokeRequesters?.sources ?? [],
    });
    const relay = new RelayFunction(this, "Relay", context);
    this.functions = { rotate, monitor, refresh, revoke, relay };
    this.rotateFunction = rotate.function;
    this.monitorFunction = monitor.function;
    this.refreshFunction = refresh.function;
    this.revokeFunction = revoke.function;
    this.relayFunction = relay.function;
    this.monitorDeadLetters = monitor.deadLetters;
    this.refreshDeadLetters = refresh.deadLetters;
    this.revokeDeadLetters = revoke.deadLetters;
    this.relayDeadLetters = relay.deadLetters;
    this.usage = monitor.usage;
    this.leaseTable = refresh.leaseTable;
    this.tokenKey = refresh.tokenKey;
    this.revokeRule = revoke.rule;
    this.relayRule = relay.rule;

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
      Object.entries(this.functions).map(([name, fn]) => [name, fn.role.roleArn]),
    ) as Record<HandlerName, string>;
    this.credentials = new KeyturnCredentials(this, "Credentials", {
      credentials,
      rotateFunction: this.rotateFunction,
      rotateDependencies: [
        rotate.role,
        this.rotateFunction.permissionsNode.findChild(INVOKED_BY_SECRETS_MANAGER),
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
    monitor.fenceSweepQueue(deployment);
    // The secrets' KMS keys, used through Secrets Manager for keyturn's secrets only, by every
    // function that reads a value (the relay reads none).
    if (this.credentials.keyArns.length > 0) {
      for (const fn of [rotate, monitor, refresh, revoke]) fn.useSecretKeys(this.credentials.keyArns);
    }

    const functions: Record<HandlerName, KeyturnFunction<HandlerName>> = this.functions;
    const deadLetterQueues = {
      monitor: this.monitorDeadLetters,
      refresh: this.refreshDeadLetters,
      revoke: this.revokeDeadLetters,
      relay: this.relayDeadLetters,
      alert: this.alertDeadLetters,
    };
    const tokenMarginMs = parseDuration(minTokenRemaining);
    const tokenMargin = tokenMarginMs === undefined ? undefined : Duration.millis(tokenMarginMs);
    this.alarms = new KeyturnAlarms(this, "Alarms", {
      functions: Object.fromEntries(Object.entries(functions).map(([name, fn]) => [name, fn.function])),
      deadLetterQueues,
      rotationFailures: this.relayRule,
      topic: this.topics.critical,
      // A cron() schedule's interval is read from its fields where they tell it (cronInterval),
      // else watched over the longest window CloudWatch allows.
      monitorInterval: monitorInterval(monitorSchedule.expressionString),
      // Only where some credential's consumers read a refreshed token.
      ...(tokenMargin && credentials.some((credential) => credential.mode === "refresh")
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
    // The one cdk-nag finding shared by the functions; each function construct acknowledges its own.
    Validations.of(this).acknowledge({
      id:
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:" +
        `${secretNamePrefix}*]`,
      reason:
        `keyturn's functions serve every credential in the ${secretNamePrefix} folder, including ones added after ` +
        "deploy, and a secret's ARN ends in six random characters: the folder needs a wildcard. Every statement on " +
        "it but the relay's DescribeSecret also requires the keyturn:provider tag, and tags may only be keyturn:*.",
    });
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
   * Lets an application that consumes refreshed tokens read them: `ssm:GetParameter` on the token
   * parameter of `credential` (its keyturn:credential name, or its secret name), or on every
   * token parameter under the prefix when no credential is named, and `kms:Decrypt` with
   * keyturn's token key through Parameter Store for that parameter (or those) only. The key's
   * policy names the grantee as well: it gives the account no use of the key, so an IAM policy
   * alone would not let the grantee decrypt. Read the parameter with WithDecryption and read it
   * again on a 401. `grantee` must be a role or user (see grantRead).
   */
  grantReadTokens(grantee: IGrantable, credential?: string): Grant {
    return this.functions.refresh.grantReadTokens(grantee, credential);
  }
}

/**
 * keyturn's records, with the due index (functions/aws/record-store.ts DUE_INDEX): the hourly due
 * sweep's one Query per shard.
 */
function recordsTable(scope: Construct, tableName: string): Table {
  const table = new Table(scope, "Records", {
    tableName,
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
  table.addGlobalSecondaryIndex({
    indexName: DUE_INDEX,
    partitionKey: { name: "dueShard", type: AttributeType.STRING },
    sortKey: { name: "nextDueAt", type: AttributeType.NUMBER },
    projectionType: ProjectionType.KEYS_ONLY,
  });
  return table;
}

/**
 * Refuses at synth what the functions would refuse at cold start, or what CloudFormation or the
 * permissions could not take; answers the refresh interval in minutes.
 */
function validateProps(
  props: KeyturnProps,
  resolved: { secretNamePrefix: string; refreshInterval: string; tokenParameterPrefix: string },
): number {
  const { secretNamePrefix, tokenParameterPrefix } = resolved;
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
  const refreshIntervalMinutes = wholeMinutes(resolved.refreshInterval);
  // Known at synth, not a token: the IAM resource needs the path without its leading slash.
  if (Token.isUnresolved(tokenParameterPrefix) || !TOKEN_PARAMETER_PREFIX.test(tokenParameterPrefix)) {
    throw new InvalidKeyturnPropsError(
      `Keyturn tokenParameterPrefix "${tokenParameterPrefix}" is not a Parameter Store path: start it with "/", ` +
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
  return refreshIntervalMinutes;
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
