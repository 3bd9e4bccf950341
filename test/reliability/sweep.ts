// `npm run sweep`: the reliability campaign of issue 8, in full. Every crash point of every
// automatic vendor (before and after each AWS and vendor call), the bad-input corpus, a load
// of 1,000 credentials against a vendor limited to 20 requests a second (in real time: the
// achieved rate is measured here, never in `npm test`), a day of Incorta token refreshes, and
// a leak scan of everything printed and published meanwhile for every secret the simulators
// handed out. `npm run sweep -- --json` prints only the summary object. A reduced
// deterministic subset runs in `npm test` (test/reliability/*.test.ts, refresh.test.ts).

import { startLocalAws } from "../../sandbox/local-aws.ts";

const json = process.argv.includes("--json");
const quick = process.argv.includes("--quick");
const writeStderr = process.stderr.write.bind(process.stderr);
const progress = (line: string) => writeStderr(`${line}\n`);

// The handlers read their environment at load; logs at INFO, so that the leak scan has
// every record to look at.
Object.assign(process.env, {
  KEYTURN_EVENT_BUS_NAME: "keyturn",
  KEYTURN_LEASE_TABLE: "keyturn-leases",
  KEYTURN_RECORDS_TABLE: "keyturn-records",
  POWERTOOLS_LOG_LEVEL: "INFO",
});

/** Everything written to stdout and stderr by keyturn while the campaign runs (kept, not echoed). */
const printed: string[] = [];
const writeStdout = process.stdout.write.bind(process.stdout);
const tap = ((chunk: unknown, ...rest: unknown[]) => {
  printed.push(typeof chunk === "string" ? chunk : Buffer.from(chunk as Uint8Array).toString("utf8"));
  const callback = rest.find((arg) => typeof arg === "function") as (() => void) | undefined;
  callback?.();
  return true;
}) as typeof process.stdout.write;

const aws = await startLocalAws({ log: progress });
const { crashSweep } = await import("./crash.ts");
const { badInputCorpus } = await import("./bad-inputs.ts");
const { loadRun } = await import("./load.ts");
const { playRefreshSchedule, startRefreshWorld } = await import("./refresh-day.ts");
const { motoAccount } = await import("#sandbox/moto-account.ts");

process.stdout.write = tap;
process.stderr.write = tap;
let crash: Awaited<ReturnType<typeof crashSweep>>;
let bad: Awaited<ReturnType<typeof badInputCorpus>>;
let load: Awaited<ReturnType<typeof loadRun>>;
let refresh: Awaited<ReturnType<typeof playRefreshSchedule>> & { secrets: string[]; published: string };
try {
  crash = await crashSweep(aws.endpoint, { progress });
  progress(`crash points: ${crash.survived} of ${crash.crashPoints} survived`);
  bad = await badInputCorpus(aws.endpoint, { progress });
  load = await loadRun(aws.endpoint, { credentials: quick ? 100 : 1_000, progress });
  progress(`load: ${load.rotated} of ${load.credentials} rotated in ${load.seconds} s`);
  const refreshWorld = await startRefreshWorld(motoAccount(aws.endpoint));
  try {
    refresh = {
      ...(await playRefreshSchedule(refreshWorld, 24)),
      secrets: [...refreshWorld.sim.issuedValues],
      published: JSON.stringify(await refreshWorld.world.subscriber.drain()),
    };
  } finally {
    await refreshWorld.close();
  }
  progress(`refresh: ${refresh.runs} runs, ${refresh.shortfalls.length} shortfalls`);
} finally {
  process.stdout.write = writeStdout;
  process.stderr.write = writeStderr;
  await aws.stop();
}

const secrets = [...new Set([...crash.secrets, ...bad.secrets, ...load.secrets, ...refresh.secrets])].filter(
  (s) => s.length >= 8,
);
const haystack = [printed.join(""), ...crash.published, load.published, refresh.published].join("\n");
const leaks = secrets.filter((secret) => haystack.includes(secret)).length;

const summary = {
  crashPoints: crash.crashPoints,
  survived: crash.survived,
  badInputs: bad.badInputs,
  handled: bad.handled,
  leaks,
  load: {
    credentials: load.credentials,
    rotated: load.rotated,
    lost: load.lost,
    orphans: load.orphans,
    rateRatio: load.rateRatio,
  },
  refresh: { runs: refresh.runs, shortfalls: refresh.shortfalls.length, mints: refresh.mints },
};

if (json) {
  console.log(JSON.stringify(summary));
} else {
  console.log(
    `crash points   ${crash.survived} of ${crash.crashPoints} survived (${Object.entries(crash.calls)
      .map(([p, c]) => `${p}: ${c.length} calls`)
      .join(", ")})`,
  );
  console.log(
    `bad inputs     ${bad.handled} of ${bad.badInputs} handled, ${bad.unhandledRejections} unhandled rejections`,
  );
  console.log(
    `leaks          ${leaks} (scanned ${Math.round(haystack.length / 1024)} KiB of logs and events for ${secrets.length} secret values)`,
  );
  console.log(
    `load           ${load.rotated} of ${load.credentials} rotated in ${load.seconds} s, ${load.lost} lost, ${load.orphans} orphans, ` +
      `${load.throttled} answered 429, rate ${load.rateRatio} of the vendor's limit`,
  );
  console.log(
    `refresh        ${refresh.runs} runs over a day, ${refresh.shortfalls.length} moments a consumer found less than ` +
      `two minutes left, ${refresh.mints} mint and ${refresh.refreshes} refreshes`,
  );
  for (const shortfall of refresh.shortfalls) console.log(`REFRESH  ${shortfall}`);
  for (const failure of crash.failures)
    console.log(
      `CRASH  ${failure.provider} #${failure.index} ${failure.call} ${failure.phase}: ${failure.violations.join("; ")}`,
    );
  for (const failure of bad.failures)
    console.log(`INPUT  ${failure.group} / ${failure.name}: ${failure.problems.join("; ")}`);
}
const ok =
  crash.survived === crash.crashPoints &&
  bad.handled === bad.badInputs &&
  bad.badInputs >= 200 &&
  leaks === 0 &&
  load.lost === 0 &&
  load.orphans === 0 &&
  (load.rateRatio ?? 0) >= 0.9 &&
  refresh.shortfalls.length === 0 &&
  refresh.mints === 1;
process.exitCode = ok ? 0 : 1;
