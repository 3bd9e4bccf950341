// The benchmark's two outputs: the JSON shape of issue 9 for machines, and tables for people
// with every target marked met or missed.

import type { HandlerTiming } from "./bundles.ts";
import { type ContinuityFigures, continuityTable } from "./continuity.ts";
import { COST_ITEMS, type CostModel } from "./cost.ts";
import { PRICE_REGION, PRICES_AS_OF } from "./prices.ts";
import type { RefreshRun, RotationFigures } from "./scenarios.ts";
import type { DueSweepFigures, SweepFigures } from "./sweep.ts";

export const TARGETS = {
  importRatio: 1.3,
  rotationSecretsManagerCalls: 10,
  rotationVendorCalls: 3,
  sweepGetCalls: 0,
  speedup: 20,
} as const;

export interface BenchResults {
  machine: string;
  handlers: HandlerTiming[];
  firstFetchMs: number;
  rotations: RotationFigures[];
  sweep: SweepFigures;
  /** The due sweep over keyturn's records (issue 16). */
  dueSweep?: DueSweepFigures | undefined;
  refresh: {
    mint: RefreshRun;
    refreshed: RefreshRun;
    fresh: RefreshRun;
    runsPerHour: number;
    outcomes: Record<string, number>;
  };
  cost: CostModel;
  /** The continuity benchmark (issue 19, bench/continuity.ts). */
  continuity?: ContinuityFigures | undefined;
}

const round = (value: number, digits = 1) => Math.round(value * 10 ** digits) / 10 ** digits;

/** The JSON of issue 9, exactly. The rotation is the most expensive of those measured. */
export function benchJson(results: BenchResults) {
  const worst = (pick: (r: RotationFigures) => number) => Math.max(...results.rotations.map(pick));
  const { sweep, refresh } = results;
  return {
    handlers: results.handlers.map((h) => ({
      name: h.name,
      bundleBytes: h.bundleBytes,
      importMs: round(h.importMs),
      floorMs: round(h.floorMs),
      ratio: round(h.ratio, 2),
    })),
    rotation: {
      secretsManagerCalls: worst((r) => r.secretsManagerCalls),
      vendorCalls: worst((r) => r.vendorCalls),
    },
    sweep: {
      credentials: sweep.credentials,
      listCalls: sweep.listCalls,
      getCalls: sweep.getCalls,
      ms: Math.round(sweep.ms),
      naiveMs: Math.round(sweep.naiveMs),
      speedup: round(sweep.speedup, 2),
      ...(results.dueSweep ? { due: dueSweepJson(results.dueSweep, sweep) } : {}),
    },
    refresh: {
      calls: refresh.refreshed.awsCalls + refresh.refreshed.vendorCalls,
      ms: round(refresh.refreshed.ms),
    },
    costPerCredentialMonthUsd: round(results.cost.maxPerCredentialMonthUsd, 4),
    ...(results.continuity ? { continuity: results.continuity } : {}),
  };
}

/**
 * `sweep.due` of issue 16: the due sweep over `credentials` records, nothing due and 1% due, the
 * capacity model, and the audit's time over the fleet of the sweep above (when it ran).
 */
export function dueSweepJson(due: DueSweepFigures, audit?: Pick<SweepFigures, "credentials" | "ms">) {
  return {
    credentials: due.credentials,
    nothingDue: {
      awsCalls: due.nothingDue.awsCalls,
      ms: Math.round(due.nothingDue.ms),
      awsMs: Math.round(due.nothingDue.awsMs),
    },
    onePercentDue: {
      dueCredentials: due.onePercentDue.dueCredentials,
      awsCalls: due.onePercentDue.awsCalls,
      ms: Math.round(due.onePercentDue.ms),
      awsMs: Math.round(due.onePercentDue.awsMs),
    },
    capacity: {
      dueCredentialsPerMinute: due.capacity.dueCredentialsPerMinute,
      awsCallsPerDueCredential: round(due.capacity.awsCallsPerDueCredential, 2),
    },
    ...(audit ? { audit: { credentials: audit.credentials, ms: Math.round(audit.ms) } } : {}),
  };
}

/** The due sweep's table, its targets and the capacity model, for people. */
export function dueSweepTable(due: DueSweepFigures): string {
  const perDue = due.onePercentDue.awsCalls / Math.max(1, due.onePercentDue.dueCredentials);
  return [
    `Due sweep over ${due.credentials} credentials in keyturn's records (moto; records written with BatchWriteItem, ` +
      `secrets only for the ${due.onePercentDue.dueCredentials} due: ${(due.createMs / 1000).toFixed(0)} s)`,
    table(
      ["due sweep", "due", "AWS calls", "wall ms", "of which AWS (moto)"],
      [
        [
          "nothing due",
          "0",
          operations(due.nothingDue.byOperation),
          ms(due.nothingDue.ms),
          ms(due.nothingDue.awsMs),
        ],
        [
          "1% due",
          String(due.onePercentDue.dueCredentials),
          operations(due.onePercentDue.byOperation),
          ms(due.onePercentDue.ms),
          ms(due.onePercentDue.awsMs),
        ],
      ],
    ),
    `nothing due: ${due.nothingDue.awsCalls} calls (<= 5: ${verdict(due.nothingDue.awsCalls <= 5)}), ` +
      `${ms(due.nothingDue.ms)} ms (< 2000: ${verdict(due.nothingDue.ms < 2000)}); 1% due: ` +
      `${perDue.toFixed(2)} calls per due credential (<= 10: ${verdict(perDue <= 10)})`,
    `capacity: ${due.capacity.dueCredentialsPerMinute} due credentials per minute of one invocation on moto, ` +
      `${due.capacity.awsCallsPerDueCredential.toFixed(2)} AWS calls each; nothing due costs ` +
      `${due.nothingDue.awsCalls} calls whatever the fleet's size`,
  ].join("\n");
}

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((header, i) =>
    Math.max(header.length, ...rows.map((row) => (row[i] ?? "").length)),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [line(headers), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

const callCount = (counts: Record<string, number>) => Object.values(counts).reduce((sum, n) => sum + n, 0);
const kb = (bytes: number) => `${(bytes / 1000).toFixed(1)} kB`;
const ms = (value: number) => value.toFixed(1);
const verdict = (met: boolean) => (met ? "met" : "MISSED");
const operations = (counts: Record<string, number>) =>
  Object.entries(counts)
    .map(([operation, n]) => `${operation.replace(/^[A-Za-z]+\./, "")} ${n}`)
    .join(", ");

function usd(value: number): string {
  if (value === 0) return "0";
  if (value >= 0.01) return `$${value.toFixed(4)}`;
  return `$${value.toPrecision(2)}`;
}

/** One ListSecrets page per 100 credentials, and one more at most (101 for 10,000). */
export function sweepListTarget(credentials: number): number {
  return Math.ceil(credentials / 100) + 1;
}

/** Every target of issue 9 with its measured figure. */
export function targetLines(results: BenchResults): string[] {
  const lines: string[] = [];
  for (const h of results.handlers) {
    lines.push(
      `${verdict(h.ratio <= TARGETS.importRatio)}  ${h.name}: import ratio ${h.ratio.toFixed(2)} (target <= ${TARGETS.importRatio})`,
    );
  }
  for (const r of results.rotations) {
    lines.push(
      `${verdict(r.secretsManagerCalls <= TARGETS.rotationSecretsManagerCalls)}  rotation of ${r.provider}: ` +
        `${r.secretsManagerCalls} Secrets Manager calls (target <= ${TARGETS.rotationSecretsManagerCalls})`,
    );
    lines.push(
      `${verdict(r.vendorCalls <= TARGETS.rotationVendorCalls)}  rotation of ${r.provider}: ` +
        `${r.vendorCalls} vendor calls (target <= ${TARGETS.rotationVendorCalls})`,
    );
  }
  const { sweep } = results;
  const listTarget = sweepListTarget(sweep.credentials);
  lines.push(
    `${verdict(sweep.listCalls <= listTarget)}  sweep over ${sweep.credentials}: ${sweep.listCalls} list calls (target <= ${listTarget})`,
  );
  lines.push(
    `${verdict(sweep.getCalls === TARGETS.sweepGetCalls)}  sweep over ${sweep.credentials}: ${sweep.getCalls} value reads with nothing due (target 0)`,
  );
  lines.push(
    `${verdict(sweep.speedup >= TARGETS.speedup)}  sweep over ${sweep.credentials}: ${sweep.speedup.toFixed(1)}x faster than the naive sweep (target >= ${TARGETS.speedup})`,
  );
  return lines;
}

export function benchTables(results: BenchResults): string {
  const { handlers, rotations, sweep, refresh, cost } = results;
  const out: string[] = [];
  out.push(`keyturn benchmark on ${results.machine}`, "");

  out.push(
    "Handlers: production bundle (the stack's esbuild options) and cold import in a fresh node,",
    `median of the runs (quartiles), next to a floor bundle holding only the AWS SDK clients and`,
    "commands the handler's code uses. 'w/o undici': the same handler with undici replaced by",
    "Node's own dispatcher (a what-if, not deployed).",
    table(
      [
        "handler",
        "bundle",
        "import ms",
        "quartiles",
        "floor",
        "floor ms",
        "ratio",
        "<= 1.3",
        "w/o undici",
        "ms",
        "ratio",
      ],
      handlers.map((h) => [
        h.name,
        kb(h.bundleBytes),
        ms(h.importMs),
        `${ms(h.importQuartiles[0])}-${ms(h.importQuartiles[1])}`,
        kb(h.floorBytes),
        ms(h.floorMs),
        h.ratio.toFixed(2),
        verdict(h.ratio <= TARGETS.importRatio),
        h.withoutUndiciBytes === undefined ? "-" : kb(h.withoutUndiciBytes),
        h.withoutUndiciMs === undefined ? "-" : ms(h.withoutUndiciMs),
        h.withoutUndiciMs === undefined ? "-" : (h.withoutUndiciMs / h.floorMs).toFixed(2),
      ]),
    ),
    "",
    "What each bundle holds beyond its floor (esbuild metafile, bytes in the output):",
    ...handlers.map(
      (h) =>
        `  ${h.name.padEnd(8)} ${h.beyondFloor
          .slice(0, 6)
          .map((g) => `${g.name} ${kb(g.bytes)}`)
          .join(", ")}`,
    ),
    `Node's built-in fetch, first use in a fresh process: ${ms(results.firstFetchMs)} ms (loaded lazily).`,
    "",
  );

  out.push(
    "Automatic rotation: the four steps as Secrets Manager runs them, every AWS request counted at moto,",
    "vendor requests at the simulator.",
    table(
      ["credential", "Secrets Manager", "<= 10", "vendor", "<= 3", "ms", "AWS calls"],
      rotations.map((r) => [
        `${r.credential} (${r.provider})`,
        String(r.secretsManagerCalls),
        verdict(r.secretsManagerCalls <= TARGETS.rotationSecretsManagerCalls),
        String(r.vendorCalls),
        verdict(r.vendorCalls <= TARGETS.rotationVendorCalls),
        ms(r.ms),
        operations(r.byOperation),
      ]),
    ),
    "Secrets Manager and EventBridge calls by step:",
    ...rotations.flatMap((r) =>
      Object.entries(r.steps).map(
        ([step, calls]) => `  ${r.provider.padEnd(15)} ${step.padEnd(13)} ${calls.join(", ") || "none"}`,
      ),
    ),
    "",
  );

  const listTarget = sweepListTarget(sweep.credentials);
  out.push(
    `Monitor sweep over ${sweep.credentials} credentials with nothing due (moto, one account; creating them took ` +
      `${(sweep.createMs / 1000).toFixed(0)} s)`,
    table(
      ["sweep", "calls", "wall ms", "CPU ms (node)", "per ListSecrets", "per GetSecretValue"],
      [
        [
          "keyturn (tags only), median of 3",
          operations(sweep.byOperation),
          ms(sweep.ms),
          ms(sweep.cpuMs),
          ms(sweep.listMsPerCall),
          "-",
        ],
        [
          "naive (value per secret)",
          operations(sweep.naive.byOperation),
          ms(sweep.naiveMs),
          ms(sweep.naive.cpuMs),
          "-",
          ms(sweep.naive.getMsPerCall),
        ],
        [
          "one refresh run, same fleet",
          operations(sweep.refreshListing.byOperation),
          ms(sweep.refreshListing.ms),
          ms(sweep.refreshListing.cpuMs),
          "-",
          "-",
        ],
      ],
    ),
    `keyturn sweeps: ${sweep.sweepRunsMs.map(ms).join(", ")} ms; ${((100 * sweep.listingMs) / sweep.ms).toFixed(0)}% ` +
      `of the median one is spent waiting for ListSecrets. Calls: naive ${callCount(sweep.naive.byOperation)} / ` +
      `keyturn ${callCount(sweep.byOperation)} = ${(callCount(sweep.naive.byOperation) / callCount(sweep.byOperation)).toFixed(0)}x.`,
    `list calls ${sweep.listCalls} (<= ${listTarget}: ${verdict(sweep.listCalls <= listTarget)}), value reads ` +
      `${sweep.getCalls} (0: ${verdict(sweep.getCalls === TARGETS.sweepGetCalls)}), speed-up ${sweep.speedup.toFixed(1)}x ` +
      `(>= ${TARGETS.speedup}: ${verdict(sweep.speedup >= TARGETS.speedup)})`,
    "",
  );
  if (results.dueSweep) out.push(dueSweepTable(results.dueSweep), "");

  out.push(
    `Incorta v1 token refresh, one credential (runs every 2 minutes; over an hour: ${JSON.stringify(refresh.outcomes)})`,
    table(
      ["run", "AWS calls", "vendor", "ms", "calls"],
      (
        [
          ["first (mints a pair)", refresh.mint],
          ["refreshes the pair", refresh.refreshed],
          ["pair still fresh", refresh.fresh],
        ] as const
      ).map(([label, run]) => [
        label,
        String(run.awsCalls),
        String(run.vendorCalls),
        ms(run.ms),
        operations(run.byOperation),
      ]),
    ),
    "",
  );

  out.push(
    `Cost per credential per month, USD (${PRICE_REGION} list prices of ${PRICES_AS_OF}, bench/prices.ts; fleet of ` +
      `${cost.fleet}; assumptions in bench/cost.ts)`,
    table(
      ["item", ...cost.modes.map((m) => m.label), "of which fleet share"],
      COST_ITEMS.map((item) => [
        item,
        ...cost.modes.map((m) => usd(m.items[item])),
        usd(cost.fleetShare[item]),
      ]),
    ),
    table(
      ["total", ...cost.modes.map((m) => m.label)],
      [["per credential per month", ...cost.modes.map((m) => usd(m.total))]],
    ),
    "",
  );

  out.push("Targets", ...targetLines(results).map((line) => `  ${line}`));
  if (results.continuity) out.push(continuityTable(results.continuity), "");
  return out.join("\n");
}
