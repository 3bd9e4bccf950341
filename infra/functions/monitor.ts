// The monitor: the hourly due sweep and the daily audit over every managed credential
// (functions/handlers/monitor.ts: due revocations, orphaned vendor keys, expiry, stuck
// rotations), with its dead-letter queue, the two EventBridge Scheduler schedules that run it,
// the usage table it reads before revoking a previous key, and its permissions.

import { Duration } from "aws-cdk-lib";
import { PolicyStatement } from "aws-cdk-lib/aws-iam";
import { Schedule, type ScheduleExpression, ScheduleTargetInput } from "aws-cdk-lib/aws-scheduler";
import type { Queue } from "aws-cdk-lib/aws-sqs";
import type { Construct } from "constructs";
import { DUE_INDEX } from "#aws/record-store.ts";
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

export class MonitorFunction extends CredentialFunction<"monitor"> {
  /** Sweeps that failed for good (the schedule could not invoke the monitor, or the sweep threw). */
  readonly deadLetters: Queue;
  /** The consumers' usage reports and grantConsumer (infra/keyturn-usage.ts). */
  readonly usage: KeyturnUsage;

  constructor(scope: Construct, id: string, props: MonitorFunctionProps) {
    // Beside the function, in the Keyturn scope (infra/functions/shared.ts says why).
    const deadLetters = deadLetterQueue(scope, "MonitorDeadLetters");
    super(scope, id, props.context, {
      handler: "monitor",
      description: "keyturn: sweep over every managed credential (due revocations, orphaned vendor keys)",
      // One ListSecrets page per 100 credentials, then vendor calls only for what is due: a
      // revocation or a reconciliation listing per issuer. Five minutes is ample for a few
      // hundred credentials; the HTTP client's deadline is the time left, so a sweep cut short
      // fails a credential cleanly and the next sweep takes it up again.
      timeout: Duration.minutes(5),
      environment: {
        ...busAndRecordsEnvironment(props.context),
        KEYTURN_ORPHAN_SAFETY_MARGIN: props.orphanSafetyMargin,
        KEYTURN_RECONCILE_INTERVAL: props.reconcileInterval,
        KEYTURN_STUCK_ROTATION_AFTER: props.stuckRotationAfter,
        KEYTURN_ROTATE_FUNCTION_ARN: props.rotateFunctionArn,
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
        deadLetterQueue: deadLetters,
      },
    });
    this.deadLetters = deadLetters;
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
}
