// keyturn's CloudWatch metrics, namespace "keyturn": computed here, in the handlers, from what
// the engine reports (and, where its report does not say, from what the handler watched the
// engine read and write), and written by Powertools Metrics as Embedded Metric Format lines on
// stdout, which CloudWatch Logs turns into metrics. The engine knows nothing of them.
//
// Every metric carries the dimension service=keyturn (Powertools' default dimension); beyond it
// only low-cardinality ones: state, action, outcome, provider, step. Never a key id or a
// credential name: each distinct dimension value is a metric of its own, billed every hour it
// is published (bench/cost.ts).
//
// Written only in Lambda (AWS_LAMBDA_FUNCTION_NAME set), or wherever POWERTOOLS_METRICS_DISABLED
// says "false": the demo, the sandbox and the tests run the handlers in processes whose stdout
// is theirs (`demo --json` prints one JSON document), and there is no CloudWatch to read the
// lines. POWERTOOLS_METRICS_DISABLED=true turns them off in Lambda too.

import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import type { SecretDescription } from "#aws/secret-store.ts";
import { managedCredential } from "#engine/credentials.ts";
import type { RotationStepName } from "#engine/events.ts";
import { keyState, timeOf } from "#engine/key-state.ts";
import { ownedElsewhere } from "#engine/lifecycle.ts";
import { logger } from "#engine/logger.ts";
import type { MonitorReport } from "#engine/monitor.ts";
import type { PinnedCredentials } from "#engine/pinned.ts";
import type { RefreshOutcome, RefreshReport } from "#engine/refresh.ts";
import { Tag } from "#engine/settings.ts";

export const NAMESPACE = "keyturn";
/** The value of the service dimension every keyturn metric carries. */
export const SERVICE = "keyturn";

/** Metric names, for the alarms and the dashboard (infra/) as much as for the handlers. */
export const MetricName = {
  /** Milliseconds one monitor sweep took. Its sample count is the monitor's heartbeat. */
  sweepDuration: "SweepDuration",
  /** Credentials in each state (dimension state) at the sweep. */
  credentials: "Credentials",
  /** What a sweep did, by kind (dimension action). */
  actions: "Actions",
  /** Actions given up in a run (sweep or refresh): total, and by kind (dimension action). */
  failures: "Failures",
  /** Days until the earliest expiry of any credential's current key (negative: already expired). */
  fewestDaysToExpiry: "FewestDaysToExpiry",
  /** Credentials whose current key expires within the next 30 days. */
  expiriesNext30Days: "ExpiriesNext30Days",
  /** Milliseconds one rotation step took (dimensions provider, step). */
  rotationStepDuration: "RotationStepDuration",
  /** 1 for a rotation step that failed, 0 for one that succeeded (dimensions provider, step). */
  rotationStepFailures: "RotationStepFailures",
  /** Token refreshes by outcome (dimension outcome): fresh, refreshed, minted, busy, failed. */
  tokenRefreshes: "TokenRefreshes",
  /** Seconds left, after a refresh run, on the access token that consumers read, the fewest of any credential. */
  accessTokenLifetime: "AccessTokenLifetime",
} as const;

/** The states of `keyturn status` (cli/status.ts) the fleet is counted in, and "failing". */
export const CREDENTIAL_STATES = [
  "ok",
  "expiring",
  "expired",
  "replace-due",
  "rotating",
  "invalid",
  "failing",
] as const;
export type FleetState = (typeof CREDENTIAL_STATES)[number];

export type Unit = (typeof MetricUnit)[keyof typeof MetricUnit];

export interface Datapoint {
  name: string;
  unit: Unit;
  value: number;
  /** Beyond service=keyturn. */
  dimensions?: Record<string, string>;
}

const DAY = 86_400_000;

/**
 * Writes the datapoints as EMF, one line per set of dimensions, or nothing where metrics are
 * off. Never throws: a metric lost is no reason to fail a rotation.
 */
export function publishMetrics(points: readonly Datapoint[], env = process.env): void {
  if (!metricsEnabled(env) || points.length === 0) return;
  try {
    const groups = new Map<string, Datapoint[]>();
    for (const point of points) {
      const key = JSON.stringify(Object.entries(point.dimensions ?? {}).sort());
      groups.set(key, [...(groups.get(key) ?? []), point]);
    }
    for (const group of groups.values()) {
      const metrics = new Metrics({ namespace: NAMESPACE, serviceName: SERVICE });
      for (const [name, value] of Object.entries(group[0]?.dimensions ?? {}))
        metrics.addDimension(name, value);
      for (const point of group) metrics.addMetric(point.name, point.unit, point.value);
      metrics.publishStoredMetrics();
    }
  } catch (error) {
    logger.warn("metrics could not be written", { error });
  }
}

export function metricsEnabled(env: Record<string, string | undefined>): boolean {
  const disabled = env.POWERTOOLS_METRICS_DISABLED?.trim().toLowerCase();
  if (disabled !== undefined && disabled !== "") return !["1", "true", "yes", "on"].includes(disabled);
  return Boolean(env.AWS_LAMBDA_FUNCTION_NAME);
}

/** What the monitor handler saw besides the report: the sweep's listing and its duration. */
export interface SweepObservation {
  /** Every page of the sweep's ListSecrets, as the monitor read it. */
  listed: readonly SecretDescription[];
  durationMs: number;
  now: Date;
  pinned: PinnedCredentials;
  rotateFunctionArn?: string | undefined;
}

/**
 * A listed secret's state, by the rules of `keyturn status` (functions/engine/key-state.ts): a secret keyturn may not act on (not pinned, tampered, owned elsewhere) is
 * invalid; one scheduled for deletion is being retired and not counted (undefined).
 */
export function stateOf(
  description: SecretDescription,
  now: Date,
  pinned: PinnedCredentials,
  rotateFunctionArn?: string,
): Exclude<FleetState, "failing"> | undefined {
  if (description.deletedDate) return undefined;
  let credential: ReturnType<typeof managedCredential>;
  try {
    credential = managedCredential(description, pinned);
  } catch {
    return "invalid";
  }
  if (ownedElsewhere(description, rotateFunctionArn).length > 0) return "invalid";
  return keyState(credential, description.versions, now.getTime());
}

/** What a sweep did, by the report's lists. */
const SWEEP_ACTIONS = {
  revoke: (r: MonitorReport) => r.revoked.length,
  postpone: (r: MonitorReport) => r.postponed.length,
  "rotate-early": (r: MonitorReport) => r.rotatedEarly.length,
  "notify-expiring": (r: MonitorReport) => r.expiring.length,
  "notify-expired": (r: MonitorReport) => r.expired.length,
  "clear-stuck": (r: MonitorReport) => r.stuck.length,
  remind: (r: MonitorReport) => r.manualReminders.length,
  "confirm-revoked": (r: MonitorReport) => r.confirmedRevoked.length,
  retire: (r: MonitorReport) => r.retired.length,
} as const;

/** A failure's kind: the sweep action that failed, or what failed without one. */
function failureKind(failure: MonitorReport["failures"][number], report: MonitorReport): string {
  if (failure.action) return failure.action;
  if (report.tampered.includes(failure.credential)) return "tampering";
  if (failure.credential === "(records)") return "records";
  return "other";
}

export function sweepMetrics(report: MonitorReport, seen: SweepObservation): Datapoint[] {
  const nowMs = seen.now.getTime();
  const states = new Map<string, FleetState>();
  let fewestDays: number | undefined;
  let next30Days = 0;
  for (const description of seen.listed) {
    const state = stateOf(description, seen.now, seen.pinned, seen.rotateFunctionArn);
    if (state === undefined) continue;
    states.set(description.name, state);
    const expiry = timeOf(description.tags[Tag.expiresAt]);
    if (expiry === undefined) continue;
    const days = (expiry - nowMs) / DAY;
    fewestDays = fewestDays === undefined ? days : Math.min(fewestDays, days);
    if (days > 0 && days <= 30) next30Days++;
  }
  // A failure overrides the state for this sweep; tampering (found by the sweep, hidden from
  // the listing included) is invalid whatever the tags said.
  for (const failure of report.failures) {
    if (failure.credential !== "(records)") states.set(failure.credential, "failing");
  }
  for (const name of report.tampered) states.set(name, "invalid");

  const counts = Object.fromEntries(CREDENTIAL_STATES.map((state) => [state, 0])) as Record<
    FleetState,
    number
  >;
  for (const state of states.values()) counts[state]++;
  const failures = new Map<string, number>();
  for (const failure of report.failures) {
    const kind = failureKind(failure, report);
    failures.set(kind, (failures.get(kind) ?? 0) + 1);
  }
  return [
    { name: MetricName.sweepDuration, unit: MetricUnit.Milliseconds, value: seen.durationMs },
    { name: MetricName.failures, unit: MetricUnit.Count, value: report.failures.length },
    { name: MetricName.expiriesNext30Days, unit: MetricUnit.Count, value: next30Days },
    ...(fewestDays === undefined
      ? []
      : [{ name: MetricName.fewestDaysToExpiry, unit: MetricUnit.NoUnit, value: round(fewestDays, 2) }]),
    // Every state, zero included: the fleet's chart has no gaps, and a zero is an answer.
    ...CREDENTIAL_STATES.map((state) => ({
      name: MetricName.credentials,
      unit: MetricUnit.Count,
      value: counts[state],
      dimensions: { state },
    })),
    // Actions and failures only when there were some: a kind that never happens costs nothing.
    ...Object.entries(SWEEP_ACTIONS)
      .map(([action, count]) => ({ action, value: count(report) }))
      .filter(({ value }) => value > 0)
      .map(({ action, value }) => ({
        name: MetricName.actions,
        unit: MetricUnit.Count,
        value,
        dimensions: { action },
      })),
    ...[...failures].map(([action, value]) => ({
      name: MetricName.failures,
      unit: MetricUnit.Count,
      value,
      dimensions: { action },
    })),
  ];
}

export function rotationStepMetrics(
  step: RotationStepName,
  provider: string,
  durationMs: number,
  failed: boolean,
): Datapoint[] {
  const dimensions = { provider, step };
  return [
    { name: MetricName.rotationStepDuration, unit: MetricUnit.Milliseconds, value: durationMs, dimensions },
    { name: MetricName.rotationStepFailures, unit: MetricUnit.Count, value: failed ? 1 : 0, dimensions },
  ];
}

/**
 * The provider of the secret a rotation event names (by name or ARN), from what the deployment
 * pinned; "unknown" for any other, so that an unpinned name never becomes a dimension value.
 */
export function providerOf(secretId: string, pinned: PinnedCredentials): string {
  const arnName = /^arn:[^:]+:secretsmanager:[^:]*:\d*:secret:(.+)-[A-Za-z0-9]{6}$/.exec(secretId)?.[1];
  const match = pinned
    .all()
    .find(
      (credential) =>
        credential.secretName === secretId ||
        credential.secretArn === secretId ||
        credential.secretName === arnName,
    );
  return match?.provider ?? "unknown";
}

/**
 * @param accessTokenExpiresAt what each credential's token parameter held last in the run (read
 *   or written), by parameter name: what its consumers read now.
 */
export function refreshMetrics(
  report: RefreshReport,
  accessTokenExpiresAt: ReadonlyMap<string, number>,
  now: Date,
): Datapoint[] {
  const outcomes = new Map<RefreshOutcome, number>();
  for (const { outcome } of report.outcomes) outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
  const lifetimes = report.outcomes.flatMap(({ parameter }) => {
    const expiresAt = accessTokenExpiresAt.get(parameter);
    return expiresAt === undefined ? [] : [(expiresAt - now.getTime()) / 1000];
  });
  return [
    { name: MetricName.failures, unit: MetricUnit.Count, value: report.failures.length },
    ...(report.failures.length > 0
      ? [
          {
            name: MetricName.failures,
            unit: MetricUnit.Count,
            value: report.failures.length,
            dimensions: { action: "refresh" },
          },
        ]
      : []),
    ...[...outcomes].map(([outcome, value]) => ({
      name: MetricName.tokenRefreshes,
      unit: MetricUnit.Count,
      value,
      dimensions: { outcome },
    })),
    // A credential that never had a token is not counted: its failure is (above).
    ...(lifetimes.length === 0
      ? []
      : [
          {
            name: MetricName.accessTokenLifetime,
            unit: MetricUnit.Seconds,
            value: Math.max(0, round(Math.min(...lifetimes), 0)),
          },
        ]),
  ];
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
