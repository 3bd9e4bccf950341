// What keyturn does to AWS and to the vendors, counted where it lands: every AWS request that
// reaches moto (bench/aws.ts) and every request a vendor simulator answers (its `requests`).
// The handlers are the real ones, wired as the demo and the tests wire them
// (sandbox/local-keyturn.ts), on an injected clock.
//
// - one automatic rotation (Immuta, self-issued; SoftwareOne, minted by an issuer credential);
// - one Incorta v1 token refresh;
// - a 30-day cycle per provider mode, hourly sweeps included, for the cost model.
//
// Import this module only after the handlers' environment is set (bench/run.ts does it): the
// handler modules read it once at load, as in Lambda.

import { Tag } from "#engine/settings.ts";
import { type LocalKeyturn, startLocalKeyturn } from "#sandbox/local-keyturn.ts";
import { type RotationInvoker, rotateLikeSecretsManager } from "#sandbox/rotation-driver.ts";
import { ManualClock } from "#sandbox/simulators/clock.ts";
import { startVendorHub, type VendorHub } from "#sandbox/simulators/hub.ts";
import { IMMUTA_REGIONS, type ImmutaSimulator, startImmutaSimulator } from "#sandbox/simulators/immuta.ts";
import { type IncortaSimulator, startIncortaSimulator } from "#sandbox/simulators/incorta.ts";
import {
  SOFTWAREONE_ADMIN_MODULE,
  SOFTWAREONE_HOST,
  type SoftwareOneSimulator,
  startSoftwareOneSimulator,
} from "#sandbox/simulators/softwareone.ts";
import { type AwsCall, type BenchAws, benchAws, countByOperation, countOf } from "./aws.ts";

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;
/** The cycle every mode is played over: one rotation period (30 days). */
export const CYCLE_DAYS = 30;
const START = new Date("2026-11-22T10:00:00Z");
const BUS_NAME = "keyturn";
const INCORTA_CLUSTER = "acme.cloud.incorta.com";

export interface Timed<T> {
  value: T;
  wallMs: number;
  /** CPU time of this Node process (keyturn, the SDK and the in-process simulators; not moto). */
  cpuMs: number;
}

export async function timed<T>(work: () => Promise<T>): Promise<Timed<T>> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  const value = await work();
  const wallMs = performance.now() - started;
  const used = process.cpuUsage(cpu);
  return { value, wallMs, cpuMs: (used.user + used.system) / 1000 };
}

/** A vendor simulator as the benchmark uses it: what it answered, and how to stop it. */
export interface Simulator {
  readonly requests: readonly unknown[];
  close(): Promise<void>;
}

export interface BenchWorld {
  aws: BenchAws;
  clock: ManualClock;
  keyturn: LocalKeyturn;
  /** The hub in front of the simulators, for vendor clients built outside keyturn's sandbox. */
  vendorEndpoint: string;
  vendorCalls(): number;
  close(): Promise<void>;
}

export async function startBenchWorld(
  endpoint: string,
  clock: ManualClock,
  routes: Record<string, string>,
  simulators: Simulator[],
): Promise<BenchWorld> {
  const aws = benchAws(endpoint);
  const hub: VendorHub = await startVendorHub(routes);
  const keyturn = await startLocalKeyturn({
    clients: aws,
    busName: BUS_NAME,
    clock,
    vendorEndpoint: hub.url,
    orphanSafetyMarginMs: HOUR,
    reconcileIntervalMs: 6 * HOUR,
    stuckAfterMs: 6 * HOUR,
    refreshIntervalMs: 2 * MINUTE,
    minTokenRemainingMs: 2 * MINUTE,
  });
  return {
    aws,
    clock,
    keyturn,
    vendorEndpoint: hub.url,
    vendorCalls: () => simulators.reduce((sum, sim) => sum + sim.requests.length, 0),
    close: async () => {
      await hub.close();
      for (const sim of simulators) await sim.close();
    },
  };
}

/** AWS calls and vendor calls made while `work` ran, and how long it took. */
async function counted<T>(world: BenchWorld, work: () => Promise<T>) {
  const mark = world.aws.log.calls.length;
  const vendorMark = world.vendorCalls();
  const run = await timed(work);
  return { ...run, calls: world.aws.log.since(mark), vendorCalls: world.vendorCalls() - vendorMark };
}

export interface RotationFigures {
  credential: string;
  provider: string;
  secretsManagerCalls: number;
  vendorCalls: number;
  /** Every AWS call of the rotation, by Service.Operation. */
  byOperation: Record<string, number>;
  /** The AWS operations each step called, in order. */
  steps: Record<string, string[]>;
  ms: number;
}

function rotationFigures(
  credential: string,
  provider: string,
  run: { calls: AwsCall[]; vendorCalls: number; wallMs: number; steps: Record<string, string[]> },
): RotationFigures {
  return {
    credential,
    provider,
    secretsManagerCalls: countOf(run.calls, "SecretsManager"),
    vendorCalls: run.vendorCalls,
    byOperation: countByOperation(run.calls),
    steps: run.steps,
    ms: run.wallMs,
  };
}

/** What one credential costs over a cycle, before prices: the inputs of bench/cost.ts. */
export interface CycleUsage {
  mode: "automatic" | "manual" | "refresh";
  label: string;
  days: number;
  /** How many credentials the figures below cover (a credential and its issuer: 2). */
  credentials: number;
  /** How many times the figures below happen in a cycle (an hour of refresh runs: 720). */
  repeat: number;
  /** AWS calls for the credential itself (ListSecrets, shared by the whole fleet, is left out). */
  calls: AwsCall[];
  vendorCalls: number;
  /** Lambda work done for the credential alone, by function. */
  lambda: Partial<Record<"rotate" | "monitor" | "refresh", LambdaWork>>;
}

export interface LambdaWork {
  /** Invocations the credential itself causes (rotation steps); sweeps and refresh runs are the fleet's. */
  invocations: number;
  /** Of which cold starts. */
  coldStarts: number;
  wallMs: number;
  cpuMs: number;
}

function addWork(usage: CycleUsage, fn: "rotate" | "monitor" | "refresh", work: Partial<LambdaWork>) {
  const current = usage.lambda[fn] ?? { invocations: 0, coldStarts: 0, wallMs: 0, cpuMs: 0 };
  usage.lambda[fn] = {
    invocations: current.invocations + (work.invocations ?? 0),
    coldStarts: current.coldStarts + (work.coldStarts ?? 0),
    wallMs: current.wallMs + (work.wallMs ?? 0),
    cpuMs: current.cpuMs + (work.cpuMs ?? 0),
  };
}

/**
 * Adds a sweep or refresh run to the credential's usage when it did anything beyond the fleet's
 * listing; the time taken by ListSecrets is the fleet's, the rest is the credential's.
 */
function addRun(
  usage: CycleUsage,
  fn: "monitor" | "refresh",
  run: { calls: AwsCall[]; vendorCalls: number; wallMs: number; cpuMs: number },
) {
  const own = run.calls.filter((call) => call.operation !== "ListSecrets");
  usage.calls.push(...own);
  usage.vendorCalls += run.vendorCalls;
  if (own.length === 0 && run.vendorCalls === 0) return;
  const listingMs = run.calls.filter((c) => c.operation === "ListSecrets").reduce((sum, c) => sum + c.ms, 0);
  addWork(usage, fn, {
    wallMs: Math.max(0, run.wallMs - listingMs),
    cpuMs: run.cpuMs * Math.max(0, 1 - listingMs / run.wallMs),
  });
}

/** One rotation as Secrets Manager drives it, with the AWS calls each step made. */
async function rotateCounted(world: BenchWorld, secretId: string) {
  const steps: Record<string, string[]> = {};
  const invoke: RotationInvoker = async (event) => {
    const mark = world.aws.log.calls.length;
    try {
      await world.keyturn.invoke(event);
    } finally {
      steps[event.Step] = [
        ...(steps[event.Step] ?? []),
        ...world.aws.log.since(mark).map((call) => call.operation),
      ];
    }
  };
  const run = await counted(world, () => rotateLikeSecretsManager(invoke, secretId));
  if (!run.value.succeeded) {
    throw new Error(
      `The rotation of ${secretId} failed in the benchmark: ${run.value.failures.map((f) => String(f.error)).join("; ")}`,
    );
  }
  return { ...run, steps };
}

/** Hourly sweeps for `hours`, each added to `usage`; `at(hour)` runs first (operators, vendors). */
async function hourlySweeps(
  world: BenchWorld,
  usage: CycleUsage,
  hours: number,
  at: (hour: number) => void = () => {},
) {
  for (let hour = 1; hour <= hours; hour++) {
    world.clock.advance(HOUR);
    at(hour);
    const run = await counted(world, () => world.keyturn.sweep());
    if (run.value.failures.length > 0) {
      throw new Error(`A sweep failed in the benchmark: ${JSON.stringify(run.value.failures)}`);
    }
    addRun(usage, "monitor", run);
  }
}

function emptyUsage(mode: CycleUsage["mode"], label: string): CycleUsage {
  return { mode, label, days: CYCLE_DAYS, credentials: 1, repeat: 1, calls: [], vendorCalls: 0, lambda: {} };
}

function rotationWork(run: { wallMs: number; cpuMs: number }): Partial<LambdaWork> {
  // Secrets Manager invokes the function once per step; the steps follow each other within
  // seconds, so the first meets a cold function and the other three a warm one.
  return { invocations: 4, coldStarts: 1, wallMs: run.wallMs, cpuMs: run.cpuMs };
}

/** An Immuta Request-app token (mints its own successor): one rotation, then 30 days of hourly sweeps. */
export async function immutaCycle(endpoint: string, progress: (line: string) => void) {
  const clock = new ManualClock(START);
  const sim: ImmutaSimulator = await startImmutaSimulator({ clock });
  const world = await startBenchWorld(
    endpoint,
    clock,
    Object.fromEntries(IMMUTA_REGIONS.map((region) => [`${region}.api.immutacloud.com`, sim.url])),
    [sim],
  );
  try {
    const name = "keyturn/immuta-request-app";
    const user = sim.createUser("na", { name: "bench" });
    const expiresAt = new Date(clock.now() + 90 * DAY);
    const seeded = sim.seedToken("na", user.userId, {
      description: "created in the Request app",
      expirationDate: expiresAt,
    });
    await world.keyturn.createSecret(
      name,
      {
        provider: "immuta-request",
        region: "na",
        token: seeded.token,
        keyId: seeded.tokenId,
        expiresAt: expiresAt.toISOString(),
      },
      { [Tag.provider]: "immuta-request", [Tag.credential]: name, [Tag.keyLifetime]: "90d" },
    );
    const usage = emptyUsage("automatic", "automatic (Immuta)");
    const rotation = await rotateCounted(world, name);
    usage.calls.push(...rotation.calls);
    usage.vendorCalls += rotation.vendorCalls;
    addWork(usage, "rotate", rotationWork(rotation));
    progress("immuta: rotated; 30 days of hourly sweeps");
    await hourlySweeps(world, usage, CYCLE_DAYS * 24);
    return { rotation: rotationFigures(name, "immuta-request", rotation), usage };
  } finally {
    await world.close();
  }
}

/** A SoftwareOne consumer token minted by an administrator credential, and that administrator: both rotate. */
export async function softwareoneCycle(endpoint: string, progress: (line: string) => void) {
  const clock = new ManualClock(START);
  const sim: SoftwareOneSimulator = await startSoftwareOneSimulator({ clock });
  const world = await startBenchWorld(endpoint, clock, { [SOFTWAREONE_HOST]: sim.url }, [sim]);
  try {
    const { accountId } = sim.createAccount({ name: "Bench Co" });
    const admin = "keyturn/softwareone-admin";
    const consumer = "keyturn/softwareone-catalog";
    const store = async (
      name: string,
      options: { admin?: boolean; modules: string[]; tags: Record<string, string> },
    ) => {
      const seeded = sim.seedToken(accountId, {
        name,
        modules: options.modules,
        admin: options.admin ?? false,
      });
      await world.keyturn.createSecret(
        name,
        {
          provider: "softwareone",
          token: seeded.token,
          keyId: seeded.id,
          accountId,
          name,
          modules: options.modules,
        },
        { [Tag.provider]: "softwareone", [Tag.credential]: name, ...options.tags },
      );
    };
    await store(admin, { admin: true, modules: [SOFTWAREONE_ADMIN_MODULE], tags: {} });
    await store(consumer, { modules: ["MOD-1001"], tags: { [Tag.issuer]: admin } });
    const usage = emptyUsage("automatic", "automatic + issuer (SoftwareOne)");
    const rotation = await rotateCounted(world, consumer);
    const adminRotation = await rotateCounted(world, admin);
    for (const run of [rotation, adminRotation]) {
      usage.calls.push(...run.calls);
      usage.vendorCalls += run.vendorCalls;
      addWork(usage, "rotate", rotationWork(run));
    }
    progress("softwareone: consumer and issuer rotated; 30 days of hourly sweeps");
    await hourlySweeps(world, usage, CYCLE_DAYS * 24);
    return {
      rotation: rotationFigures(consumer, "softwareone", rotation),
      usage: { ...usage, credentials: 2 },
    };
  } finally {
    await world.close();
  }
}

/**
 * An Incorta v2 PAT (a person replaces it, maximum age 30 days): the operator hands over a new
 * PAT, the sweeps chase the old one until the operator revokes it, and the maximum age brings
 * the next reminder.
 */
export async function manualCycle(endpoint: string, progress: (line: string) => void) {
  const clock = new ManualClock(START);
  const sim: IncortaSimulator = await startIncortaSimulator({ clock });
  const world = await startBenchWorld(endpoint, clock, { [INCORTA_CLUSTER]: sim.url }, [sim]);
  try {
    const name = "keyturn/incorta-reporting-pat";
    const patExpiry = () => new Date(clock.now() + 90 * DAY);
    const first = sim.createPat(INCORTA_CLUSTER, "reporting", "report.bot", {
      name: "reporting-1",
      expiresAt: patExpiry(),
    });
    await world.keyturn.createSecret(
      name,
      {
        provider: "incorta-v2",
        clusterUrl: `https://${INCORTA_CLUSTER}/incorta`,
        tenantName: "reporting",
        token: first.token,
        keyId: "reporting-1",
        expiresAt: patExpiry().toISOString(),
        issuedAt: new Date(clock.now()).toISOString(),
      },
      { [Tag.provider]: "incorta-v2", [Tag.credential]: name, [Tag.maxAge]: "30d" },
    );
    const usage = emptyUsage("manual", "manual (Incorta v2 PAT)");
    const expiresAt = patExpiry();
    const next = sim.createPat(INCORTA_CLUSTER, "reporting", "report.bot", {
      name: "reporting-2",
      expiresAt,
    });
    // `keyturn put` runs on the operator's machine, not in a Lambda: its calls count, no duration.
    const handover = await counted(world, () =>
      world.keyturn.put(name, {
        token: next.token,
        keyId: "reporting-2",
        expiresAt: expiresAt.toISOString(),
      }),
    );
    usage.calls.push(...handover.calls);
    usage.vendorCalls += handover.vendorCalls;
    progress("incorta v2 PAT: handed over; 30 days of hourly sweeps");
    // The operator revokes the old PAT a day and a half after the handover.
    await hourlySweeps(world, usage, CYCLE_DAYS * 24, (hour) => {
      if (hour === 36) sim.revokePat(first.id);
    });
    return { usage };
  } finally {
    await world.close();
  }
}

export interface RefreshRun {
  outcome: string;
  awsCalls: number;
  vendorCalls: number;
  byOperation: Record<string, number>;
  ms: number;
}

/**
 * An Incorta v1 credential: the first run mints a pair, then an hour of runs every 2 minutes
 * (the schedule) refreshes it whenever it gets too short. The hour is the cycle's unit.
 */
export async function refreshCycle(endpoint: string, progress: (line: string) => void) {
  const clock = new ManualClock(START);
  const sim: IncortaSimulator = await startIncortaSimulator({ clock });
  const world = await startBenchWorld(endpoint, clock, { [INCORTA_CLUSTER]: sim.url }, [sim]);
  try {
    const name = "keyturn/incorta-analytics";
    await world.keyturn.createSecret(
      name,
      {
        provider: "incorta-v1",
        clusterUrl: `https://${INCORTA_CLUSTER}/incorta`,
        tenantName: "analytics",
        loginName: "etl.bot",
        apiKey: sim.issueApiKey(INCORTA_CLUSTER, "analytics", "etl.bot"),
      },
      { [Tag.provider]: "incorta-v1", [Tag.credential]: name },
    );
    const runs: RefreshRun[] = [];
    const run = async () => {
      const result = await counted(world, () => world.keyturn.refresh(`bench-${clock.now()}`));
      const outcome = result.value.outcomes[0]?.outcome ?? "none";
      if (result.value.failures.length > 0 || outcome === "failed") {
        throw new Error(`A token refresh failed in the benchmark: ${JSON.stringify(result.value.failures)}`);
      }
      runs.push({
        outcome,
        awsCalls: result.calls.length,
        vendorCalls: result.vendorCalls,
        byOperation: countByOperation(result.calls),
        ms: result.wallMs,
      });
      return result;
    };
    await run();
    const usage = emptyUsage("refresh", "refresh (Incorta v1)");
    const runsPerHour = HOUR / (2 * MINUTE);
    for (let i = 0; i < runsPerHour; i++) {
      clock.advance(2 * MINUTE);
      addRun(usage, "refresh", await run());
    }
    progress(`incorta v1: ${runs.length} refresh runs`);
    const mint = runs[0];
    const refreshed = runs.find((r) => r.outcome === "refreshed");
    const fresh = runs.find((r) => r.outcome === "fresh");
    if (!mint || !refreshed || !fresh) {
      throw new Error(
        `Expected a minting, a refreshing and a fresh run; got ${runs.map((r) => r.outcome).join(", ")}`,
      );
    }
    // An hour of runs stands for every hour of the cycle.
    const hours = CYCLE_DAYS * 24;
    return {
      mint,
      refreshed,
      fresh,
      runsPerHour,
      outcomes: countOutcomes(runs.slice(1)),
      usage: { ...usage, repeat: hours },
    };
  } finally {
    await world.close();
  }
}

function countOutcomes(runs: RefreshRun[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const run of runs) counts[run.outcome] = (counts[run.outcome] ?? 0) + 1;
  return counts;
}
