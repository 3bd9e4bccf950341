// The monitor: scheduled sweeps over the managed credentials (functions/engine/monitor.ts):
// expiry notices and early rotations, stuck rotations, revocation of old keys, orphans. Two
// schedules invoke it, each with its mode as the event's input: {"mode":"due"} (hourly: only the
// credentials keyturn's due index names) and {"mode":"audit"} (daily by default: the full sweep
// over ListSecrets); any other event is an audit, the sweep that misses nothing. The sweep queue
// (functions/aws/sweep-queue.ts) invokes it too, with an SQS event: the due credentials a due
// sweep fanned out, a few names per message; a message that is not one the monitor sends is
// refused (InvalidSweepBatchError) and reported in batchItemFailures, so that it reaches the
// dead-letter queue after a few receives rather than being retried for ever. Each sweep that
// finishes writes its metrics (./metrics.ts): what it did and what failed; the audit also the
// fleet by state, from the listing it read (watched here, not read again). The log context and
// keys, and the errors' types, are ./middleware.ts's.

import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { SQSClient } from "@aws-sdk/client-sqs";
import * as v from "valibot";
import { EventPublisher } from "#aws/event-publisher.ts";
import { FailureStreaks } from "#aws/failure-streaks.ts";
import { KeyRecords } from "#aws/record-store.ts";
import { type SecretDescription, SecretStore } from "#aws/secret-store.ts";
import { InvalidSweepBatchError, parseSweepBatch, SweepQueue } from "#aws/sweep-queue.ts";
import { UsageReports } from "#aws/usage-store.ts";
import { DEFAULT_FAILURE_ESCALATION } from "#engine/defaults.ts";
import { parseDuration } from "#engine/duration.ts";
import type { InvalidEventError } from "#engine/errors.ts";
import { logger } from "#engine/logger.ts";
import {
  DEFAULT_AUDIT_FAN_OUT_ABOVE,
  DEFAULT_FAN_OUT_ABOVE,
  Monitor,
  type MonitorDeps,
  type MonitorReport,
  type SweepMode,
} from "#engine/monitor.ts";
import type { PinnedCredentials } from "#engine/pinned.ts";
import type { RevocationDeps } from "#engine/revocation.ts";
import type { HttpClientOptions } from "#http/client.ts";
import { MonitorEnvironment, readEnvironment } from "./environment.ts";
import { MetricName, publishMetrics, sweepMetrics } from "./metrics.ts";
import { type InvocationHandler, invocation } from "./middleware.ts";
import { bundledPinnedCredentials } from "./pinned.ts";
import { vendorHttp } from "./vendor-http.ts";

export interface MonitorHandlerDeps {
  store: SecretStore;
  records: KeyRecords;
  /** What the deployment pinned (functions/handlers/pinned.ts in Lambda). */
  pinned: PinnedCredentials;
  publisher: EventPublisher;
  orphanSafetyMarginMs: number;
  reconcileIntervalMs: number;
  stuckAfterMs: number;
  /** keyturn's rotate function: a secret with any other rotation function is not keyturn's to rotate. */
  rotateFunctionArn?: string | undefined;
  /** How long each action has kept failing (keyturn's records table). */
  failureStreaks: FailureStreaks;
  /** A failure that has lasted this long is critical, not a warning. Default 24 hours. */
  failureEscalationMs?: number;
  /** Starts a rotation now; the default asks Secrets Manager (RotateSecret) and does not wait. */
  rotate?: (secretId: string) => Promise<void>;
  now?: () => Date;
  http?: Partial<HttpClientOptions>;
  /** Each credential's work in a sweep ends after this long (default: the monitor's, 10 s). */
  credentialBudgetMs?: number | undefined;
  /** The reconciliation's own time in a sweep (default: the monitor's, 60 s). */
  reconcileBudgetMs?: number | undefined;
  /** The consumers' usage reports (KEYTURN_USAGE_TABLE): a previous key a consumer still holds waits. */
  usage?: UsageReports | undefined;
  /** The sweep queue (KEYTURN_SWEEP_QUEUE_URL); none: the due sweep takes every due credential on itself. */
  sweepQueue?: Pick<SweepQueue, "enqueue"> | undefined;
  /** The due sweep queues the due credentials beyond this many (default: the monitor's, 200). */
  fanOutAbove?: number | undefined;
  /** The audit queues the credentials beyond this many (default: the monitor's, 10,000). */
  auditFanOutAbove?: number | undefined;
}

/** A message of the sweep queue: the credentials it names, or why it was refused. */
export interface SweepQueueMessage {
  messageId: string;
  credentials: string[] | undefined;
  /** What the batch does with them (SweepBatchMode): the due sweep's checks, or the audit's. */
  audit?: boolean | undefined;
  refused: InvalidEventError | undefined;
}

/** The event, parsed: a scheduled sweep, or the sweep queue's messages. */
export type MonitorEvent = { mode: SweepMode } | { mode: "batch"; messages: SweepQueueMessage[] };

/** The sweep's report; for the sweep queue's event, the messages that go back to the queue too. */
export interface MonitorResult extends MonitorReport {
  batchItemFailures?: { itemIdentifier: string }[];
}

/** A failing action's escalation when the deps name none (functions/engine/defaults.ts says why). */
export const DEFAULT_FAILURE_ESCALATION_MS = parseDuration(DEFAULT_FAILURE_ESCALATION) ?? 0;
/** The HTTP client's own default (functions/http/client.ts), kept back from a budget's end as from the Lambda's. */
const HTTP_SAFETY_MARGIN_MS = 2_000;

/** The events the schedules send (infra/functions/monitor.ts); {} is the audit too. */
const MonitorEvent = v.object({ mode: v.optional(v.picklist(["due", "audit"]), "audit") });

/**
 * The sweep queue's event, as Lambda's event source mapping sends it (the fields read): at most
 * 10 messages (the mapping's batch size is 1; 10 is SQS's own limit).
 */
const SqsEvent = v.object({
  Records: v.pipe(
    v.array(v.object({ messageId: v.pipe(v.string(), v.minLength(1)), body: v.string() })),
    v.minLength(1),
    v.maxLength(10),
  ),
});

/** The sweep an event asks for: {"mode":"due"} is the due sweep; anything else the audit. */
export function sweepModeOf(event: unknown): SweepMode {
  const parsed = v.safeParse(MonitorEvent, event);
  return parsed.success ? parsed.output.mode : "audit";
}

/**
 * The event, parsed. Never refused: an event that is not one the schedules send runs the audit,
 * the sweep that misses nothing (a monitor that refused would silence the safety net), and says
 * so in a warning naming the fields that were not what the schedules send.
 */
export function parseMonitorEvent(event: unknown): MonitorEvent {
  if (typeof event === "object" && event !== null && "Records" in event) return parseSweepQueueEvent(event);
  const parsed = v.safeParse(MonitorEvent, event);
  if (parsed.success) return parsed.output;
  logger.warn('monitor: not {"mode":"due"} or {"mode":"audit"}, running the audit', {
    invalid: parsed.issues.map((issue) => v.getDotPath(issue) ?? "event"),
  });
  return { mode: "audit" };
}

/**
 * The sweep queue's event: each message's credentials, or its refusal. An event with Records
 * that is not an SQS event is refused whole (InvalidSweepBatchError): no schedule sends one.
 */
export function parseSweepQueueEvent(event: unknown): { mode: "batch"; messages: SweepQueueMessage[] } {
  const parsed = v.safeParse(SqsEvent, event);
  if (!parsed.success) {
    throw new InvalidSweepBatchError(
      "An event with Records that is not the sweep queue's SQS event was refused (1 to 10 records, " +
        "each with a messageId and a body). Only the sweep queue's event source mapping sends one.",
    );
  }
  const messages = parsed.output.Records.map(({ messageId, body }): SweepQueueMessage => {
    try {
      const { mode, credentials } = parseSweepBatch(body);
      return { messageId, credentials, audit: mode === "audit", refused: undefined };
    } catch (error) {
      if (!(error instanceof InvalidSweepBatchError)) throw error;
      return { messageId, credentials: undefined, refused: error };
    }
  });
  return { mode: "batch", messages };
}

/**
 * The sweep queue's messages, as one batch sweep (runBatch) over the credentials the valid ones
 * name. Failed, and so back to the queue (then its dead-letter queue): a refused message, and
 * one naming a credential the batch deferred for lack of time. A batch that throws fails them all.
 */
async function sweepQueueMessages(
  monitor: Monitor,
  messages: SweepQueueMessage[],
): Promise<Required<Pick<MonitorResult, "batchItemFailures">> & { report: MonitorReport }> {
  const failed = new Set<string>();
  for (const message of messages) {
    if (!message.refused) continue;
    logger.error("monitor: a sweep queue message was refused", {
      messageId: message.messageId,
      error: message.refused,
    });
    failed.add(message.messageId);
  }
  const report = await monitor.runBatch(
    messages.flatMap((message) => (message.audit ? [] : (message.credentials ?? []))),
    messages.flatMap((message) => (message.audit ? (message.credentials ?? []) : [])),
  );
  const deferred = new Set(report.deferred);
  for (const message of messages)
    if (message.credentials?.some((credential) => deferred.has(credential))) failed.add(message.messageId);
  if (report.notPinned.length > 0)
    logger.warn("monitor: a sweep queue message named credentials the deployment does not pin; ignored", {
      notPinned: report.notPinned.length,
    });
  return { report, batchItemFailures: [...failed].map((itemIdentifier) => ({ itemIdentifier })) };
}

/** The fleet's gauges come from the audit's listing: a due sweep or a batch reads none, and writes none. */
const FLEET_GAUGES: readonly string[] = [
  MetricName.credentials,
  MetricName.expiriesNext30Days,
  MetricName.fewestDaysToExpiry,
];

export function createMonitorHandler(deps: MonitorHandlerDeps): InvocationHandler<MonitorResult> {
  return invocation<MonitorEvent, MonitorResult>(
    {
      parse: parseMonitorEvent,
      keys: ({ mode }) => ({ sweep: mode }),
      doing: ({ mode }) =>
        mode === "batch" ? "The monitor's batch of the sweep queue" : `The monitor's ${mode} sweep`,
    },
    async (event, context) => {
      const { mode } = event;
      const { sweepQueue } = deps;
      const now = deps.now ?? (() => new Date());
      const started = performance.now();
      const listed = new Map<string, SecretDescription>();
      // The usage reports reach the revocation (functions/engine/revocation.ts) in the deps the
      // monitor hands it.
      const monitorDeps: MonitorDeps & Pick<RevocationDeps, "usage"> = {
        store: watchListing(deps.store, listed),
        pinned: deps.pinned,
        records: deps.records,
        publisher: deps.publisher,
        now,
        // A budgeted call's deadline is its budget's end, or the Lambda's, whichever comes first.
        http: (vendor, remainingMs) => {
          const margin = deps.http?.safetyMarginMs ?? HTTP_SAFETY_MARGIN_MS;
          const lambda = () => context.getRemainingTimeInMillis();
          const remainingTimeMs = remainingMs ? () => Math.min(lambda(), remainingMs() + margin) : lambda;
          return vendorHttp(context, { ...deps.http, remainingTimeMs })(vendor);
        },
        remainingTimeMs: () => context.getRemainingTimeInMillis(),
        credentialBudgetMs: deps.credentialBudgetMs,
        reconcileBudgetMs: deps.reconcileBudgetMs,
        rotate:
          deps.rotate ??
          (async (secretId) => {
            await deps.store.rotateNow(secretId);
          }),
        orphanSafetyMarginMs: deps.orphanSafetyMarginMs,
        reconcileIntervalMs: deps.reconcileIntervalMs,
        stuckAfterMs: deps.stuckAfterMs,
        rotateFunctionArn: deps.rotateFunctionArn,
        failureStreaks: deps.failureStreaks,
        failureEscalationMs: deps.failureEscalationMs ?? DEFAULT_FAILURE_ESCALATION_MS,
        usage: deps.usage,
        fanOut: sweepQueue && {
          above: deps.fanOutAbove ?? DEFAULT_FAN_OUT_ABOVE,
          auditAbove: deps.auditFanOutAbove ?? DEFAULT_AUDIT_FAN_OUT_ABOVE,
          enqueue: (credentials, audit) => sweepQueue.enqueue(credentials, audit ? "audit" : "batch"),
        },
      };
      const monitor = new Monitor(monitorDeps);
      const batch = event.mode === "batch" ? await sweepQueueMessages(monitor, event.messages) : undefined;
      const report = batch ? batch.report : await monitor.sweep(event.mode as SweepMode);
      // Only a sweep that finished: its SweepDuration is the heartbeat. One that threw is the
      // function's Errors alarm, and its logs say why.
      const metrics = sweepMetrics(report, {
        listed: [...listed.values()],
        durationMs: Math.round(performance.now() - started),
        now: now(),
        pinned: deps.pinned,
        rotateFunctionArn: deps.rotateFunctionArn,
      });
      publishMetrics(
        mode === "audit" ? metrics : metrics.filter((point) => !FLEET_GAUGES.includes(point.name)),
      );
      return batch ? { ...report, batchItemFailures: batch.batchItemFailures } : report;
    },
  );
}

/**
 * The store as the monitor uses it, keeping a copy of every ListSecrets page it reads: the
 * fleet's states are counted from the listing the sweep decided from, at no extra call.
 */
function watchListing(store: SecretStore, listed: Map<string, SecretDescription>): SecretStore {
  return new Proxy(store, {
    get(target, property) {
      if (property === "listTagged") {
        return async function* (...args: Parameters<SecretStore["listTagged"]>) {
          for await (const page of target.listTagged(...args)) {
            // Listings of every provider only; by name, since the revocation guard may list again.
            if (args[1] === undefined) {
              for (const description of page) listed.set(description.name, description);
            }
            yield page;
          }
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

const environment = readEnvironment(MonitorEnvironment, process.env, "monitor");

const dynamodb = new DynamoDBClient({});
export const handler = createMonitorHandler({
  store: new SecretStore(new SecretsManagerClient({})),
  records: new KeyRecords(dynamodb, environment.KEYTURN_RECORDS_TABLE),
  failureStreaks: new FailureStreaks(dynamodb, environment.KEYTURN_RECORDS_TABLE),
  failureEscalationMs: environment.KEYTURN_FAILURE_ESCALATION,
  pinned: bundledPinnedCredentials(),
  publisher: new EventPublisher(new EventBridgeClient({}), environment.KEYTURN_EVENT_BUS_NAME),
  orphanSafetyMarginMs: environment.KEYTURN_ORPHAN_SAFETY_MARGIN,
  reconcileIntervalMs: environment.KEYTURN_RECONCILE_INTERVAL,
  stuckAfterMs: environment.KEYTURN_STUCK_ROTATION_AFTER,
  rotateFunctionArn: environment.KEYTURN_ROTATE_FUNCTION_ARN,
  // Read here rather than in MonitorEnvironment: optional, and set by every stack that has the table.
  usage: process.env.KEYTURN_USAGE_TABLE
    ? new UsageReports(dynamodb, process.env.KEYTURN_USAGE_TABLE)
    : undefined,
  sweepQueue: environment.KEYTURN_SWEEP_QUEUE_URL
    ? new SweepQueue(new SQSClient({}), environment.KEYTURN_SWEEP_QUEUE_URL)
    : undefined,
});
