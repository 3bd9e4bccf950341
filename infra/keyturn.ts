// keyturn as one construct to drop into any CDK app: the event bus; the rotate, monitor, revoke
// and relay functions with what invokes each (Secrets Manager, a schedule, a rule on the bus, a
// rule on the default bus); the alert topics by severity; and the permissions that let each
// function touch keyturn's secrets only, and only as its handler does.

import { ArnFormat, Duration, Stack, Token } from "aws-cdk-lib";
import { EventBus, Rule } from "aws-cdk-lib/aws-events";
import { LambdaFunction } from "aws-cdk-lib/aws-events-targets";
import { PolicyStatement, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import type { NodejsFunction } from "aws-cdk-lib/aws-lambda-nodejs";
import { Schedule, ScheduleExpression } from "aws-cdk-lib/aws-scheduler";
import { LambdaInvoke } from "aws-cdk-lib/aws-scheduler-targets";
import type { Topic } from "aws-cdk-lib/aws-sns";
import { Queue, QueueEncryption } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { parseDuration } from "#engine/duration.ts";
import { DetailType, type Severity } from "#engine/events.ts";
import { Tag } from "#engine/settings.ts";
import { type KeyturnAlertProps, KeyturnAlerts, SEVERITIES } from "./keyturn-alerts.ts";
import { KeyturnFunction } from "./keyturn-function.ts";

export const DEFAULT_BUS_NAME = "keyturn";
export const DEFAULT_SECRET_NAME_PREFIX = "keyturn/";
export const DEFAULT_MONITOR_SCHEDULE = ScheduleExpression.rate(Duration.hours(1));

/** Secrets Manager name characters, ending in "/" so that the prefix names a folder, not a stem. */
const SECRET_NAME_PREFIX = /^[A-Za-z0-9/_+=.@-]*\/$/;
/** What SNS's email protocol takes; SNS itself confirms the address exists. */
const EMAIL_ADDRESS = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;

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
  /** When the monitor sweeps every managed credential. Default every hour. */
  readonly monitorSchedule?: ScheduleExpression;
  /**
   * A vendor key carrying keyturn's marker and younger than this is never revoked as an orphan:
   * its rotation may still be storing it. A duration such as "30m" or "1h". Default "1h" (the
   * monitor's own default).
   */
  readonly orphanSafetyMargin?: string;
  /** How often the monitor reconciles each credential's keys with the vendor's listing. Default "6h". */
  readonly reconcileInterval?: string;
  /** Who is alerted, and from which severity on. Default: the topics with no subscriptions. */
  readonly alerts?: KeyturnAlertProps;
}

export class InvalidKeyturnPropsError extends Error {
  override readonly name = "InvalidKeyturnPropsError";
}

export class Keyturn extends Construct {
  readonly bus: EventBus;
  readonly rotateFunction: NodejsFunction;
  readonly monitorFunction: NodejsFunction;
  readonly revokeFunction: NodejsFunction;
  readonly relayFunction: NodejsFunction;
  /** Sweeps that failed for good (the schedule could not invoke the monitor, or the sweep threw). */
  readonly monitorDeadLetters: Queue;
  /** Revoke requests that failed for good (the rule could not deliver one, or the revoke threw). */
  readonly revokeDeadLetters: Queue;
  /** Rotation failures the relay could not take in (undelivered, or the relay threw). */
  readonly relayDeadLetters: Queue;
  /** Alerts EventBridge could not deliver to their topic. */
  readonly alertDeadLetters: Queue;
  /** One SNS topic per severity; every keyturn event goes to its severity's topic. */
  readonly topics: Record<Severity, Topic>;
  /** The rule on the keyturn bus that feeds each severity's topic. */
  readonly alertRules: Record<Severity, Rule>;
  /** The rule on the account's default bus that sends Secrets Manager's rotation failures to the relay. */
  readonly relayRule: Rule;
  /** ARN pattern of the secrets keyturn may manage. */
  readonly secretArnPattern: string;

  constructor(scope: Construct, id: string, props: KeyturnProps = {}) {
    super(scope, id);
    const secretNamePrefix = props.secretNamePrefix ?? DEFAULT_SECRET_NAME_PREFIX;
    if (!Token.isUnresolved(secretNamePrefix) && !SECRET_NAME_PREFIX.test(secretNamePrefix)) {
      throw new InvalidKeyturnPropsError(
        `Keyturn secretNamePrefix "${secretNamePrefix}" is not a secret name folder: use letters, digits ` +
          'and /_+=.@- only, ending with "/" (for example "keyturn/"), so that it cannot match other secrets.',
      );
    }
    // The monitor would refuse these at cold start; refuse them at synth instead.
    for (const [prop, value] of Object.entries({
      orphanSafetyMargin: props.orphanSafetyMargin,
      reconcileInterval: props.reconcileInterval,
    })) {
      if (value !== undefined && !Token.isUnresolved(value) && parseDuration(value) === undefined) {
        throw new InvalidKeyturnPropsError(
          `Keyturn ${prop} "${value}" is not a duration: write a whole number and a unit, s, m, h or d ` +
            '(for example "30m" or "6h").',
        );
      }
    }
    validateAlerts(props.alerts);

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
    // No KMS statement: secrets under the AWS managed key aws/secretsmanager need none.
    // Customer managed keys come with the config-driven stack, which knows the keys.
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

    this.rotateFunction = new KeyturnFunction(this, "Rotate", {
      handler: "rotate",
      description: "keyturn: Secrets Manager rotation function for vendor API credentials",
      // One step makes a few vendor calls (list issued keys, revoke a lost one, mint); each
      // call may take 4 attempts of 10 s plus backoff in the HTTP client, about a minute at
      // worst. Three minutes lets a step finish through one slow vendor; beyond that the
      // client's deadline check fails the step cleanly and Secrets Manager retries it.
      timeout: Duration.minutes(3),
      environment: { KEYTURN_EVENT_BUS_NAME: busName },
    }).function;
    // AWS recommends aws:SourceAccount alone for rotation functions: aws:SourceArn would tie
    // the function to a single secret, and it rotates every keyturn credential.
    this.rotateFunction.addPermission("InvokedBySecretsManager", {
      principal: new ServicePrincipal("secretsmanager.amazonaws.com"),
      sourceAccount: Stack.of(this).account,
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
    this.monitorFunction = new KeyturnFunction(this, "Monitor", {
      handler: "monitor",
      description: "keyturn: sweep over every managed credential (due revocations, orphaned vendor keys)",
      // One ListSecrets page per 100 credentials, then vendor calls only for what is due: a
      // revocation or a reconciliation listing per issuer. Five minutes is ample for a few
      // hundred credentials; the HTTP client's deadline is the time left, so a sweep cut short
      // fails a credential cleanly and the next sweep takes it up again.
      timeout: Duration.minutes(5),
      environment: {
        KEYTURN_EVENT_BUS_NAME: busName,
        KEYTURN_ORPHAN_SAFETY_MARGIN: props.orphanSafetyMargin,
        KEYTURN_RECONCILE_INTERVAL: props.reconcileInterval,
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
    }).function;
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
      mirrorKeyturnTags,
    );
    // EventBridge Scheduler rather than a scheduled rule on the default bus: it is AWS's
    // successor for schedules, takes cron with a time zone, needs no rule on the account's
    // default bus, and has a retry policy and a dead-letter queue for invocations it could
    // not deliver. Those retries are safe: an undelivered sweep has not started.
    new Schedule(this, "MonitorSchedule", {
      schedule: props.monitorSchedule ?? DEFAULT_MONITOR_SCHEDULE,
      description: "keyturn: runs the monitor sweep",
      target: new LambdaInvoke(this.monitorFunction, {
        deadLetterQueue: this.monitorDeadLetters,
        maxEventAge: Duration.hours(1),
      }),
    });

    this.revokeDeadLetters = deadLetterQueue(this, "RevokeDeadLetters");
    this.revokeFunction = new KeyturnFunction(this, "Revoke", {
      handler: "revoke",
      description: "keyturn: emergency revoke, rotates a credential at once and revokes the compromised key",
      // It waits for a whole rotation through Secrets Manager. Only createSecret and testSecret
      // call the vendor, each bounded by the rotate function's 3 minutes; setSecret and
      // finishSecret are quick. Ten minutes covers that worst case and keeps the one minute the
      // handler reserves to revoke and publish after the wait.
      timeout: Duration.minutes(10),
      environment: { KEYTURN_EVENT_BUS_NAME: busName },
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
    }).function;
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
    this.rotateFunction.grantInvoke(this.revokeFunction);
    new Rule(this, "RevokeRequested", {
      eventBus: this.bus,
      description: "keyturn: runs the revoke function for each Revoke Requested event",
      // Any source: the request comes from outside keyturn (a leak scanner, a person).
      eventPattern: { detailType: [DetailType.revokeRequested] },
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
    this.relayFunction = new KeyturnFunction(this, "Relay", {
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
    }).function;
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

    this.alertDeadLetters = deadLetterQueue(this, "AlertDeadLetters");
    const alerts = new KeyturnAlerts(this, "Alerts", {
      ...props.alerts,
      bus: this.bus,
      deadLetters: this.alertDeadLetters,
    });
    this.topics = alerts.topics;
    this.alertRules = alerts.rules;
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
  return new Queue(scope, id, {
    encryption: QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
  });
}
