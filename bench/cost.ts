// Dollars per credential per month, from what the benchmark counted and timed and the list
// prices in bench/prices.ts. Assumptions, all stated here:
//
// - Schedules: the monitor sweeps hourly (730 sweeps a month), the refresh runs every 2 minutes
//   (21,900 runs), every automatic credential rotates every 30 days, every manual one is
//   handed over every 30 days (maximum age 30d). A month is 730 hours.
// - A credential's own work is what the benchmark's 30-day cycle recorded for it
//   (bench/scenarios.ts). The fleet's work (each sweep's and each refresh run's ListSecrets
//   pages, the functions' invocations, the schedules, the two KMS keys) is shared
//   equally by every credential of a fleet the size of the measured sweep (10,000).
// - Lambda: 256 MB arm64 (infra/keyturn-function.ts). Lambda gives a function CPU in
//   proportion to its memory, a whole vCPU at 1,769 MB, so CPU time measured here is
//   multiplied by 1769/256; time spent waiting for AWS is taken as measured against moto.
//   Since August 2025 Lambda bills the INIT phase: each cold start adds the handler's cold
//   import, scaled the same way. The monitor (hourly) starts cold every time, a rotation's
//   first step starts cold, the refresh (every 2 minutes) stays warm.
// - KMS: two customer managed keys shared by the fleet, the secrets' (infra/keyturn-credentials.ts)
//   and the alert topics' (infra/keyturn-alerts.ts), at the price of a key's first year (automatic
//   key rotation adds $1 a month per key in each of the next two years). Requests: Secrets Manager
//   decrypts once per GetSecretValue and asks for a data key once per PutSecretValue; Parameter
//   Store encrypts once per SecureString PutParameter and decrypts once per GetParameter that asks
//   for it (WithDecryption: the refresh's version checks do not); every event reaches one SNS
//   alert topic encrypted with keyturn's key: one request each.
// - The refresh function stays warm and keeps what it read (functions/engine/refresh-memory.ts,
//   default bound 15 minutes): the refresh cycle's hour of runs, played on one warm handler,
//   counts the key reads and parameter decryptions that memory leaves.
// - DynamoDB: one write request unit per lease PutItem or DeleteItem (items under 1 KB).
// - CloudWatch metrics (functions/handlers/metrics.ts), billed per metric and hour published:
//   the fleet's, published whatever happens (every sweep's 11, every refresh run's 3), and the
//   EMF lines that carry them (log ingestion), are shared; a credential's own are the metric-hours
//   its month adds (an automatic one: its rotation's four steps, two metrics each, and the
//   sweep's actions on it), an upper bound, since credentials of one provider acting in the same
//   hour share them.
// - Not modelled: free tiers, CloudWatch Logs beyond the metrics' lines, alarms ($0.10 each a
//   month, about 20) and the dashboard ($3 a month beyond an account's first three), SQS
//   dead-letter queues, SNS deliveries (email, HTTPS), data transfer, and vendor-side prices.
//   There are no X-Ray traces: tracing is off (infra/keyturn-function.ts).

import type { HandlerName } from "./bundles.ts";
import { PRICES } from "./prices.ts";
import type { CycleUsage, LambdaWork } from "./scenarios.ts";

export const MONTH_HOURS = 730;
export const SWEEPS_PER_MONTH = MONTH_HOURS;
export const REFRESH_RUNS_PER_MONTH = MONTH_HOURS * 30;
export const MEMORY_GB = 256 / 1024;
/** Lambda's CPU share at 256 MB, as a slow-down of CPU-bound work against one whole core. */
export const CPU_SCALE = 1769 / 256;
/** The secrets' key and the alert topics' key. */
export const CUSTOMER_MANAGED_KEYS = 2;
/**
 * keyturn's metrics published every hour whatever happens: each sweep's SweepDuration, Failures,
 * ExpiriesNext30Days, FewestDaysToExpiry and Credentials in each of 7 states; each refresh run's
 * TokenRefreshes (fresh, refreshed) and AccessTokenLifetime.
 */
export const FLEET_METRICS = 11 + 3;
/** EMF lines (one per set of dimensions) of a sweep and of a refresh run, and their size. */
export const SWEEP_EMF_LINES = 9;
export const REFRESH_EMF_LINES = 2;
export const EMF_LINE_BYTES = 350;
/** Metric-hours a credential's own month adds, by mode (see the header). */
export const CREDENTIAL_METRIC_HOURS: Record<CycleUsage["mode"], number> = {
  automatic: 4 * 2 + 2,
  manual: 2,
  refresh: 1,
};

export interface FleetRun {
  ms: number;
  cpuMs: number;
  listCalls: number;
}

export interface CostInputs {
  /** Credentials sharing the fleet's costs (the measured sweep's size). */
  fleet: number;
  /** The monitor's sweep over that fleet with nothing due. */
  sweep: FleetRun;
  /** One refresh run over that fleet. */
  refreshRun: FleetRun;
  /** Cold import of each handler's bundle, ms (the INIT phase). */
  coldImportMs: Record<HandlerName, number>;
  cycles: CycleUsage[];
}

export type CostItem =
  | "Secrets Manager storage"
  | "Secrets Manager API calls"
  | "KMS requests"
  | "KMS keys (secrets, alerts), share"
  | "EventBridge events"
  | "EventBridge Scheduler, share"
  | "Lambda requests"
  | "Lambda duration (arm64)"
  | "DynamoDB leases"
  | "SSM Parameter Store"
  | "CloudWatch metrics";

export const COST_ITEMS: readonly CostItem[] = [
  "Secrets Manager storage",
  "Secrets Manager API calls",
  "KMS requests",
  "KMS keys (secrets, alerts), share",
  "EventBridge events",
  "EventBridge Scheduler, share",
  "Lambda requests",
  "Lambda duration (arm64)",
  "DynamoDB leases",
  "SSM Parameter Store",
  "CloudWatch metrics",
];

export interface ModeCost {
  mode: CycleUsage["mode"];
  label: string;
  /** Dollars per credential per month, by item. */
  items: Record<CostItem, number>;
  total: number;
  /** What the credential itself causes per month (the fleet's share left out). */
  monthly: {
    secretsManagerCalls: number;
    kmsRequests: number;
    events: number;
    lambdaInvocations: number;
    lambdaGbSeconds: number;
    dynamoDbWrites: number;
    ssmCalls: number;
  };
}

export interface CostModel {
  fleet: number;
  /** Per credential per month: what the fleet's shared work adds to every credential. */
  fleetShare: Record<CostItem, number>;
  modes: ModeCost[];
  /** The most expensive mode's total: no credential costs more. */
  maxPerCredentialMonthUsd: number;
}

/** Billed seconds for work measured here: CPU scaled to Lambda's share, waiting as measured. */
export function lambdaSeconds(wallMs: number, cpuMs: number): number {
  return (cpuMs * CPU_SCALE + Math.max(0, wallMs - cpuMs)) / 1000;
}

function zeroItems(): Record<CostItem, number> {
  return Object.fromEntries(COST_ITEMS.map((item) => [item, 0])) as Record<CostItem, number>;
}

const count = (usage: CycleUsage, service: string, operations?: string[]) =>
  usage.calls.filter((c) => c.service === service && (!operations || operations.includes(c.operation)))
    .length;

/** Parameter Store calls that ask KMS: every SecureString write, and the reads that decrypt. */
const ssmKmsCalls = (usage: CycleUsage) =>
  usage.calls.filter(
    (c) =>
      c.service === "SSM" &&
      (c.operation === "PutParameter" || (c.operation === "GetParameter" && c.withDecryption !== false)),
  ).length;

function fleetShare(inputs: CostInputs): Record<CostItem, number> {
  const items = zeroItems();
  const n = inputs.fleet;
  const listCalls =
    inputs.sweep.listCalls * SWEEPS_PER_MONTH + inputs.refreshRun.listCalls * REFRESH_RUNS_PER_MONTH;
  items["Secrets Manager API calls"] = (listCalls * PRICES.secretsManager.perApiCall) / n;
  items["KMS keys (secrets, alerts), share"] = (CUSTOMER_MANAGED_KEYS * PRICES.kms.perKeyMonth) / n;
  items["EventBridge Scheduler, share"] =
    ((SWEEPS_PER_MONTH + REFRESH_RUNS_PER_MONTH) * PRICES.eventBridge.perSchedulerInvocation) / n;
  items["Lambda requests"] = ((SWEEPS_PER_MONTH + REFRESH_RUNS_PER_MONTH) * PRICES.lambda.perRequest) / n;
  const sweepSeconds =
    lambdaSeconds(inputs.sweep.ms, inputs.sweep.cpuMs) + (inputs.coldImportMs.monitor * CPU_SCALE) / 1000;
  const refreshSeconds = lambdaSeconds(inputs.refreshRun.ms, inputs.refreshRun.cpuMs);
  const gbSeconds = MEMORY_GB * (sweepSeconds * SWEEPS_PER_MONTH + refreshSeconds * REFRESH_RUNS_PER_MONTH);
  items["Lambda duration (arm64)"] = (gbSeconds * PRICES.lambda.armPerGbSecond) / n;
  const emfGb =
    ((SWEEPS_PER_MONTH * SWEEP_EMF_LINES + REFRESH_RUNS_PER_MONTH * REFRESH_EMF_LINES) * EMF_LINE_BYTES) /
    1e9;
  items["CloudWatch metrics"] =
    (FLEET_METRICS * PRICES.cloudWatch.perMetricMonth + emfGb * PRICES.cloudWatch.perGbIngested) / n;
  return items;
}

function gbSecondsOf(work: LambdaWork, importMs: number): number {
  return (
    MEMORY_GB * (lambdaSeconds(work.wallMs, work.cpuMs) + (work.coldStarts * importMs * CPU_SCALE) / 1000)
  );
}

function modeCost(usage: CycleUsage, inputs: CostInputs, share: Record<CostItem, number>): ModeCost {
  // The cycle's figures, per credential and per month.
  const factor = (usage.repeat / usage.credentials) * (MONTH_HOURS / (usage.days * 24));
  const secretsManagerCalls = count(usage, "SecretsManager") * factor;
  const events = usage.calls.reduce((sum, c) => sum + c.events, 0) * factor;
  const kmsRequests =
    (count(usage, "SecretsManager", ["GetSecretValue", "PutSecretValue"]) + ssmKmsCalls(usage)) * factor +
    events;
  const dynamoDbWrites = count(usage, "DynamoDB", ["PutItem", "DeleteItem", "UpdateItem"]) * factor;
  const ssmCalls = count(usage, "SSM") * factor;
  let lambdaInvocations = 0;
  let lambdaGbSeconds = 0;
  for (const [fn, work] of Object.entries(usage.lambda) as [HandlerName, LambdaWork][]) {
    lambdaInvocations += work.invocations * factor;
    lambdaGbSeconds += gbSecondsOf(work, inputs.coldImportMs[fn]) * factor;
  }

  const items = zeroItems();
  items["Secrets Manager storage"] = PRICES.secretsManager.perSecretMonth;
  items["Secrets Manager API calls"] = secretsManagerCalls * PRICES.secretsManager.perApiCall;
  items["KMS requests"] = kmsRequests * PRICES.kms.perRequest;
  items["EventBridge events"] = events * PRICES.eventBridge.perCustomEvent;
  items["Lambda requests"] = lambdaInvocations * PRICES.lambda.perRequest;
  items["Lambda duration (arm64)"] = lambdaGbSeconds * PRICES.lambda.armPerGbSecond;
  items["DynamoDB leases"] = dynamoDbWrites * PRICES.dynamoDb.perWriteRequestUnit;
  items["SSM Parameter Store"] =
    ssmCalls * PRICES.ssm.perStandardApiInteraction +
    (usage.mode === "refresh" ? PRICES.ssm.perStandardParameterMonth : 0);
  items["CloudWatch metrics"] =
    (CREDENTIAL_METRIC_HOURS[usage.mode] * PRICES.cloudWatch.perMetricMonth) / MONTH_HOURS;
  for (const item of COST_ITEMS) items[item] += share[item];
  const total = COST_ITEMS.reduce((sum, item) => sum + items[item], 0);
  return {
    mode: usage.mode,
    label: usage.label,
    items,
    total,
    monthly: {
      secretsManagerCalls,
      kmsRequests,
      events,
      lambdaInvocations,
      lambdaGbSeconds,
      dynamoDbWrites,
      ssmCalls,
    },
  };
}

export function costModel(inputs: CostInputs): CostModel {
  const share = fleetShare(inputs);
  const modes = inputs.cycles.map((usage) => modeCost(usage, inputs, share));
  return {
    fleet: inputs.fleet,
    fleetShare: share,
    modes,
    maxPerCredentialMonthUsd: Math.max(...modes.map((m) => m.total)),
  };
}
