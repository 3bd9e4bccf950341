// The monitor: the hourly due sweep and the daily audit over every managed credential
// (functions/handlers/monitor.ts: due revocations, orphaned vendor keys, expiry, stuck
// rotations), with its dead-letter queue, the two EventBridge Scheduler schedules that run it,
// the sweep queue it fans out to (issue 16), the usage table it reads before revoking a previous
// key, and its permissions.

import { Duration, Validations } from "aws-cdk-lib";
import { PolicyStatement } from "aws-cdk-lib/aws-iam";
import { Schedule, type ScheduleExpression, ScheduleTargetInput } from "aws-cdk-lib/aws-scheduler";
import { Queue, QueueEncryption } from "aws-cdk-lib/aws-sqs";
import type { Construct } from "constructs";
import { DUE_INDEX } from "#aws/record-store.ts";
import { sweepQueueFence } from "../keyturn-fences.ts";
import { KeyturnUsage, type KeyturnUsageProps } from "../keyturn-usage.ts";
import {
  acknowledgeListSecrets,
  allow,
  busAndRecordsEnvironment,
  CredentialFunction,
  deadLetterQueue,
  grantRecords,
  InvokeFunction,
  invokeRotateFunction,
  type KeyturnContext,
  listSecrets,
  mirrorKeyturnTags,
  onManagedSecrets,
  schedulerRole,
} from "./shared.ts";

export interface MonitorFunctionProps {
  readonly context: KeyturnContext;
  /** The rotate function's ARN: the rotation function every managed secret must name. */
  readonly rotateFunctionArn: string;
  /** When the due sweep runs. */
  readonly monitorSchedule: ScheduleExpression;
  /** When the audit (the full sweep) runs. */
  readonly auditSchedule: ScheduleExpression;
  /** The sweep's durations; unset, the handler's defaults (functions/engine/defaults.ts). */
  readonly orphanSafetyMargin: string | undefined;
  readonly reconcileInterval: string | undefined;
  readonly stuckRotationAfter: string | undefined;
  /** The usage table's name and credentials (infra/keyturn-usage.ts). */
  readonly usage: Omit<KeyturnUsageProps, "monitor">;
}

/** The monitor's timeout: one sweep, or one batch of the sweep queue. */
const MONITOR_TIMEOUT = Duration.minutes(5);
/**
 * How many batches of the sweep queue run at once: Lambda's least (an SQS event source mapping's
 * maximum concurrency is 2 at least). The function's reserved concurrency is this and one more, for
 * the scheduled sweeps, so that the mapping is never throttled: a throttled batch goes back to the
 * queue and counts as a receive, and would reach the dead-letter queue undone.
 */
const SWEEP_QUEUE_CONCURRENCY = 2;
/** A batch that failed this many times (refused, or cut short each time) goes to the dead-letter queue. */
const SWEEP_QUEUE_RECEIVES = 3;

export class MonitorFunction extends CredentialFunction<"monitor"> {
  /** Sweeps that failed for good (the schedule could not invoke the monitor, or the sweep threw). */
  readonly deadLetters: Queue;
  /**
   * The due credentials a due sweep hands on, a few names per message (functions/aws/sweep-queue.ts),
   * which invoke this function again; its failed messages go to `deadLetters`, whose alarm is the
   * monitor's.
   */
  readonly sweepQueue: Queue;
  /** The consumers' usage reports and grantConsumer (infra/keyturn-usage.ts). */
  readonly usage: KeyturnUsage;

  constructor(scope: Construct, id: string, props: MonitorFunctionProps) {
    // Beside the function, in the Keyturn scope (infra/functions/shared.ts says why).
    const deadLetters = deadLetterQueue(scope, "MonitorDeadLetters");
    // Encrypted and TLS-only as the dead-letter queues; its fence (fenceSweepQueue) keeps it to the
    // monitor. Lambda's guidance for an SQS event source: a visibility timeout of six times the
    // function's timeout, so that a batch still running (or retried on a throttle) is never handed out
    // twice. A message older than a day is dropped: its credentials are still due, and the next due
    // sweep queues them again.
    const sweepQueue = new Queue(scope, "MonitorSweepQueue", {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: Duration.minutes(6 * MONITOR_TIMEOUT.toMinutes()),
      retentionPeriod: Duration.days(1),
      deadLetterQueue: { queue: deadLetters, maxReceiveCount: SWEEP_QUEUE_RECEIVES },
    });
    super(scope, id, props.context, {
      handler: "monitor",
      description: "keyturn: sweep over every managed credential (due revocations, orphaned vendor keys)",
      // One ListSecrets page per 100 credentials, then vendor calls only for what is due: a
      // revocation or a reconciliation listing per issuer. Five minutes is ample for a few
      // hundred credentials; the HTTP client's deadline is the time left, so a sweep cut short
      // fails a credential cleanly and the next sweep takes it up again.
      timeout: MONITOR_TIMEOUT,
      environment: {
        ...busAndRecordsEnvironment(props.context),
        KEYTURN_ORPHAN_SAFETY_MARGIN: props.orphanSafetyMargin,
        KEYTURN_RECONCILE_INTERVAL: props.reconcileInterval,
        KEYTURN_STUCK_ROTATION_AFTER: props.stuckRotationAfter,
        KEYTURN_ROTATE_FUNCTION_ARN: props.rotateFunctionArn,
        KEYTURN_SWEEP_QUEUE_URL: sweepQueue.queueUrl,
      },
      // The scheduled sweeps and the sweep queue's batches (SWEEP_QUEUE_CONCURRENCY says why). A
      // batch names only credentials its due sweep handed on, never the due sweep's own; a
      // scheduled audit may still overlap a batch or the due sweep: every decision about a key is
      // a conditional write on keyturn's records, so the later one loses (docs/operations.md).
      reservedConcurrentExecutions: 1 + SWEEP_QUEUE_CONCURRENCY,
      asyncInvocation: {
        // No retry: the next scheduled sweep is the retry, and every sweep redoes whatever the
        // last one left undone (functions/engine/revocation.ts). An immediate retry after a
        // timeout would sweep again through the slow vendor that most likely caused it.
        retryAttempts: 0,
        // A sweep held back behind a running one is given up once the next one is due anyway.
        maxEventAge: Duration.hours(1),
        deadLetterQueue: deadLetters,
      },
    });
    this.deadLetters = deadLetters;
    this.sweepQueue = sweepQueue;
    // One message (SWEEP_BATCH_CREDENTIALS names) per invocation; a message the handler reports
    // failed goes back to the queue, the others are deleted.
    const batches = this.function.addEventSourceMapping("SweepQueueBatches", {
      eventSourceArn: sweepQueue.queueArn,
      batchSize: 1,
      maxConcurrency: SWEEP_QUEUE_CONCURRENCY,
      reportBatchItemFailures: true,
    });
    Validations.of(batches).acknowledge({
      id: "Serverless-LambdaEventSourceMappingDestination",
      reason:
        "An SQS event source mapping takes no on-failure destination: a message that keeps failing goes to the " +
        "queue's own dead-letter queue (its redrive policy: the monitor's dead-letter queue, with its alarm).",
    });
    sweepQueue.grantConsumeMessages(this.function);
    sweepQueue.grantSendMessages(this.function);
    this.usage = new KeyturnUsage(scope, "Usage", { ...props.usage, monitor: this.function });
    // Scan lists every credential's record (the lifecycle edges of the sweep: records of
    // credentials no longer pinned, due dates); UpdateItem records what the sweep did, with
    // conditional writes as the other functions do; PutItem keeps each failing action's streak
    // in an item of its own (functions/aws/failure-streaks.ts).
    grantRecords(
      this.context,
      this.function,
      "dynamodb:GetItem",
      "dynamodb:Scan",
      "dynamodb:UpdateItem",
      "dynamodb:PutItem",
    );
    // The due sweep's Query, on the due index alone (functions/aws/record-store.ts DUE_INDEX).
    this.function.addToRolePolicy(
      new PolicyStatement({
        sid: "QueryTheDueIndex",
        actions: ["dynamodb:Query"],
        resources: [`${this.context.recordsTable.tableArn}/index/${DUE_INDEX}`],
      }),
    );
    allow(
      this.context,
      this.function,
      listSecrets(),
      onManagedSecrets(this.context, "ReadKeyturnSecrets", [
        "secretsmanager:DescribeSecret",
        "secretsmanager:GetSecretValue",
      ]),
      // RotateSecret starts an early rotation of a key about to expire; UpdateSecretVersionStage
      // takes AWSPENDING off a stuck rotation's version (functions/engine/expiry.ts). Neither
      // writes a value: the rotate function still makes every key.
      onManagedSecrets(this.context, "RotateKeyturnSecretsEarly", [
        "secretsmanager:RotateSecret",
        "secretsmanager:UpdateSecretVersionStage",
      ]),
      mirrorKeyturnTags(this.context),
    );
    // RotateSecret requires lambda:InvokeFunction on the secret's rotation function.
    this.function.addToRolePolicy(invokeRotateFunction(props.rotateFunctionArn));
    // Two schedules, one function: the event's input says which sweep (functions/handlers/monitor.ts).
    // Scheduler's retries are safe: an undelivered sweep has not started.
    const role = schedulerRole(scope, "MonitorScheduleRole", "monitor");
    new Schedule(scope, "MonitorSchedule", {
      schedule: props.monitorSchedule,
      description: "keyturn: runs the monitor's due sweep",
      target: new InvokeFunction(this.function, {
        deadLetterQueue: deadLetters,
        maxEventAge: Duration.hours(1),
        role,
        input: ScheduleTargetInput.fromObject({ mode: "due" }),
      }),
    });
    new Schedule(scope, "AuditSchedule", {
      schedule: props.auditSchedule,
      description: "keyturn: runs the monitor's audit (the full sweep)",
      target: new InvokeFunction(this.function, {
        deadLetterQueue: deadLetters,
        maxEventAge: Duration.hours(1),
        role,
        input: ScheduleTargetInput.fromObject({ mode: "audit" }),
      }),
    });
    acknowledgeListSecrets(this.role);
  }

  /**
   * The sweep queue's fence: only the monitor's role (and the deployment) may send to it, receive
   * or delete its messages; only the deployment may change it.
   */
  fenceSweepQueue(deploymentRoleArn: string): void {
    for (const statement of sweepQueueFence(this.sweepQueue.queueArn, this.role.roleArn, deploymentRoleArn))
      this.sweepQueue.addToResourcePolicy(statement);
  }
}
