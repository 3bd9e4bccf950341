// `npm run bench`: keyturn's performance in one run on the pinned Node 24 (issue 9).
//
//   npm run bench                  tables for people, progress on stderr
//   npm run bench -- --json        the JSON of issue 9 on stdout
//   --credentials=N                fleet size of the sweep (default 10000)
//   --runs=N                       cold imports per bundle, at least 15 (default 21)
//   --only=bundles                 only the handler bundles and their cold imports (no moto), as JSON
//   --only=sweep                   only the due sweep (issue 16), on moto
//   --only=continuity              only the continuity benchmark (issue 19), on moto
//   --due-credentials=N            records of the due sweep (default 100000, at least 100)
//
// In order: the handler bundles and their floors are built and cold-imported (before anything
// else runs, so that nothing competes for the CPU); then moto server (local AWS) and the vendor
// simulators play one automatic rotation per automatic vendor, an Incorta token refresh and a
// 30-day cycle per provider mode; then a fleet of credentials is created and swept; last, the
// cost model prices what was counted.

import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { firstFetchMs, measureHandlers } from "./bundles.ts";
import { costModel } from "./cost.ts";
import { PROJECT_ROOT } from "./lambda-build.ts";
import { type BenchResults, benchJson, benchTables, dueSweepJson, dueSweepTable } from "./report.ts";

const USAGE =
  "usage: npm run bench [-- --json] [--credentials=N] [--runs=N (>= 15)] [--due-credentials=N] [--only=bundles|sweep|continuity]";

class BenchUsageError extends Error {
  override readonly name = "BenchUsageError";
}

function options(argv: string[]) {
  let json = false;
  let credentials = 10_000;
  let runs = 21;
  let only: "bundles" | "sweep" | "continuity" | undefined;
  let dueCredentials = 100_000;
  for (const arg of argv) {
    const [flag, value] = arg.split("=", 2);
    if (flag === "--json" && value === undefined) json = true;
    else if (flag === "--credentials" && value !== undefined && /^\d+$/.test(value) && Number(value) > 0)
      credentials = Number(value);
    else if (flag === "--runs" && value !== undefined && /^\d+$/.test(value) && Number(value) >= 15)
      runs = Number(value);
    else if (flag === "--only" && (value === "bundles" || value === "sweep" || value === "continuity"))
      only = value;
    else if (
      flag === "--due-credentials" &&
      value !== undefined &&
      /^\d+$/.test(value) &&
      Number(value) >= 100
    )
      dueCredentials = Number(value);
    else throw new BenchUsageError(`Unknown or invalid argument "${arg}". ${USAGE}`);
  }
  return { json, credentials, runs, only, dueCredentials };
}

function machine(): string {
  const moto = /moto\[server\]==(\S+)/.exec(
    readFileSync(join(PROJECT_ROOT, "requirements-dev.txt"), "utf8"),
  )?.[1];
  const cpu = cpus();
  return (
    `Node ${process.version} (${process.platform} ${process.arch}), ${cpu[0]?.model ?? "unknown CPU"} x ${cpu.length}, ` +
    `${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, moto ${moto ?? "?"}`
  );
}

async function main(): Promise<void> {
  const { json, credentials, runs, only, dueCredentials } = options(process.argv.slice(2));
  if (process.versions.node.split(".")[0] !== "24") {
    throw new BenchUsageError(
      `The benchmark must run on the Lambda's Node major, 24 (pinned in devDependencies); this is ${process.version}. ` +
        "Run it with `npm run bench`, which puts node_modules/.bin first on the PATH.",
    );
  }
  const began = performance.now();
  const progress = (line: string) =>
    process.stderr.write(
      `[bench ${((performance.now() - began) / 1000).toFixed(0).padStart(4)} s] ${line}\n`,
    );
  if (only === "sweep") {
    await dueSweepOnly(json, dueCredentials, progress);
    return;
  }
  if (only === "continuity") {
    await continuityOnly(json, progress);
    return;
  }
  const scratch = mkdtempSync(join(tmpdir(), "keyturn-bench-"));
  try {
    const handlers = await measureHandlers(join(scratch, "bundles"), runs, progress);
    if (only === "bundles") {
      process.stdout.write(`${JSON.stringify({ machine: machine(), handlers }, null, 2)}\n`);
      return;
    }
    const fetchMs = firstFetchMs(7);

    const aws = await benchAws(progress);
    try {
      const scenarios = await import("./scenarios.ts");
      const { measureDueSweep, measureSweep } = await import("./sweep.ts");
      progress("rotation and 30-day cycles on moto and the vendor simulators");
      const immuta = await scenarios.immutaCycle(aws.endpoint, progress);
      const softwareone = await scenarios.softwareoneCycle(aws.endpoint, progress);
      const manual = await scenarios.manualCycle(aws.endpoint, progress);
      const refresh = await scenarios.refreshCycle(aws.endpoint, progress);
      const sweep = await measureSweep(aws.endpoint, credentials, progress);
      const dueSweep = await measureDueSweep(aws.endpoint, dueCredentials, progress);
      progress("continuity: 20 consumers over a simulated week, with and without usage reports");
      const continuity = await (await import("./continuity.ts")).continuity(aws.endpoint, { progress });
      const cost = costModel({
        fleet: credentials,
        sweep: { ms: sweep.ms, cpuMs: sweep.cpuMs, listCalls: sweep.listCalls },
        refreshRun: {
          ms: sweep.refreshListing.ms,
          cpuMs: sweep.refreshListing.cpuMs,
          listCalls: sweep.refreshListing.byOperation["SecretsManager.ListSecrets"] ?? 0,
        },
        coldImportMs: Object.fromEntries(handlers.map((h) => [h.name, h.importMs])) as Record<
          (typeof handlers)[number]["name"],
          number
        >,
        cycles: [immuta.usage, softwareone.usage, manual.usage, refresh.usage],
      });
      const results: BenchResults = {
        machine: machine(),
        handlers,
        firstFetchMs: fetchMs,
        rotations: [immuta.rotation, softwareone.rotation],
        sweep,
        dueSweep,
        refresh,
        cost,
        continuity,
      };
      process.stdout.write(`${json ? JSON.stringify(benchJson(results)) : benchTables(results)}\n`);
      progress("done");
    } finally {
      await aws.stop();
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/**
 * moto server for the bench, and the environment keyturn's handler modules read once when they
 * load, as in Lambda: set before any of them is imported. Their logs would mix with the report;
 * the counts and timings do not depend on them.
 */
async function benchAws(progress: (line: string) => void) {
  const { startLocalAws } = await import("../sandbox/local-aws.ts");
  const aws = await startLocalAws({ log: progress });
  Object.assign(process.env, aws.env, {
    KEYTURN_EVENT_BUS_NAME: "keyturn",
    KEYTURN_LEASE_TABLE: "keyturn-leases",
    KEYTURN_RECORDS_TABLE: "keyturn-records",
    POWERTOOLS_LOG_LEVEL: "SILENT",
  });
  return aws;
}

/** `--only=sweep`: the due sweep alone, on a moto server of its own. */
async function dueSweepOnly(json: boolean, credentials: number, progress: (line: string) => void) {
  const aws = await benchAws(progress);
  try {
    const { measureDueSweep } = await import("./sweep.ts");
    const due = await measureDueSweep(aws.endpoint, credentials, progress);
    process.stdout.write(
      `${json ? JSON.stringify({ machine: machine(), sweep: { due: dueSweepJson(due) } }) : dueSweepTable(due)}\n`,
    );
    progress("done");
  } finally {
    await aws.stop();
  }
}

/** `--only=continuity`: the continuity benchmark alone (bench/continuity.ts), on a moto server of its own. */
async function continuityOnly(json: boolean, progress: (line: string) => void) {
  const aws = await benchAws(progress);
  try {
    const { continuity, continuityTable } = await import("./continuity.ts");
    const figures = await continuity(aws.endpoint, { progress });
    process.stdout.write(
      `${json ? JSON.stringify({ machine: machine(), continuity: figures }) : continuityTable(figures)}\n`,
    );
    progress("done");
  } finally {
    await aws.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `${error instanceof BenchUsageError ? error.message : ((error as Error).stack ?? String(error))}\n`,
  );
  process.exitCode = 1;
});
