// The crash-point sweep: for each automatic vendor, record every AWS call and every vendor
// call that a rotation and the revocation of the old key make; then, for each of them, run
// the whole scenario again in a fresh world with that one call failing, either before it
// happens or after it took effect with the answer lost, let the system recover as it would
// in AWS (Secrets Manager retries the rotation; the next monitor sweep runs), and check the
// invariants (docs/testing.md, "Reliability"):
//
//   - AWSCURRENT authenticates at the vendor;
//   - every live key keyturn minted is referenced by a secret version (after one sweep);
//   - at most two live keys per credential;
//   - no AWSPENDING left on a version that is not AWSCURRENT.
//
// AWS calls fail in an SDK middleware (moto cannot crash our process mid-step); vendor calls
// fail at the vendor hub, which cuts the connection before or after the simulator answered.

import type { InitializeMiddleware } from "@smithy/types";
import { Tag } from "#engine/settings.ts";
import type { IsolatedAws } from "#sandbox/moto-account.ts";
import { motoAccount } from "#sandbox/moto-account.ts";
import { ManualClock } from "#sandbox/simulators/clock.ts";
import type { CallFate } from "#sandbox/simulators/hub.ts";
import { rotationInvariantViolations } from "../support/rotation-invariants.ts";
import { startWorldOn, type World } from "../support/world-core.ts";
import { DAY, VENDORS_UNDER_TEST, type VendorUnderTest } from "./vendors.ts";

const HOUR = 3_600_000;

export interface CrashPoint {
  index: number;
  kind: "aws" | "vendor";
  call: string;
}

export interface CrashCase extends CrashPoint {
  provider: string;
  phase: "before" | "after";
  violations: string[];
}

export interface CrashReport {
  crashPoints: number;
  survived: number;
  /** Every secret value the simulators handed out, and every event published, for the leak scan. */
  secrets: string[];
  published: string[];
  failures: CrashCase[];
  /** The calls of one clean run, per provider: what was crashed. */
  calls: Record<string, CrashPoint[]>;
}

interface Injection {
  at: number;
  phase: "before" | "after";
}

interface Instrument {
  armed: boolean;
  count: number;
  calls: CrashPoint[];
  injection: Injection | undefined;
}

/** Counts (and when told to, breaks) keyturn's AWS calls, in one order with the vendor calls. */
function crashPoint<I extends object, O extends object>(state: Instrument): InitializeMiddleware<I, O> {
  return (next, context) => async (args) => {
    if (!state.armed) return next(args);
    const index = state.count++;
    state.calls.push({ index, kind: "aws", call: context.commandName ?? "?" });
    if (state.injection?.at !== index) return next(args);
    if (state.injection.phase === "after") await next(args);
    throw Object.assign(new Error(`injected crash ${state.injection.phase} ${context.commandName}`), {
      name: "InjectedCrash",
    });
  };
}

function instrument(aws: IsolatedAws, state: Instrument): void {
  const options = { step: "initialize", name: "crashPoint" } as const;
  aws.secretsManager.middlewareStack.add(crashPoint(state), options);
  aws.eventBridge.middlewareStack.add(crashPoint(state), options);
  // keyturn's records (the keys it stored, the previous keys' state): crashed like the rest.
  aws.dynamodb.middlewareStack.add(crashPoint(state), options);
}

function hubFate(state: Instrument) {
  return (call: { method: string; path: string }): CallFate => {
    if (!state.armed) return "pass";
    const index = state.count++;
    state.calls.push({ index, kind: "vendor", call: `${call.method} ${call.path}` });
    return state.injection?.at === index ? state.injection.phase : "pass";
  };
}

/** Rotation, then the old key's revocation, then one more sweep to recover; the invariants after. */
async function scenario(world: World, vendor: VendorUnderTest, state: Instrument): Promise<string[]> {
  const { rotated, all } = await vendor.seed(world, {
    tags: { [Tag.gracePeriod]: "24h", [Tag.hardRevokeDelay]: "1d" },
  });
  const before = new Map<string, string>();
  for (const name of rotated) before.set(name, (await world.read(name)).keyId);

  state.armed = true;
  for (const name of rotated) await world.rotate(name, { maxAttempts: 3 });
  world.clock.advance(DAY + HOUR);
  await world.sweep().catch(() => undefined); // revoke (or disable) the old key
  world.clock.advance(DAY + HOUR);
  await world.sweep().catch(() => undefined); // delete a disabled key
  state.armed = false;
  world.clock.advance(2 * HOUR);
  await world.sweep(); // the recovery sweep: whatever the crash left, this one must settle

  const violations = await rotationInvariantViolations(world, vendor, all, { rotationFinished: true });
  for (const name of rotated) {
    if ((await world.read(name)).keyId === before.get(name)) violations.push(`${name}: never rotated`);
  }
  return violations;
}

async function runCase(
  endpoint: string,
  provider: keyof typeof VENDORS_UNDER_TEST,
  injection: Injection | undefined,
): Promise<{ violations: string[]; calls: CrashPoint[]; secrets: readonly string[]; published: string }> {
  const state: Instrument = { armed: false, count: 0, calls: [], injection };
  const clock = new ManualClock(new Date("2026-11-22T10:00:00Z"));
  const vendor = await VENDORS_UNDER_TEST[provider](clock);
  const aws = motoAccount(endpoint);
  instrument(aws, state);
  const world = await startWorldOn(aws, {
    clock,
    vendors: vendor.vendors,
    hub: { intercept: hubFate(state) },
    orphanSafetyMarginMs: HOUR,
    reconcileIntervalMs: 0,
  });
  const evidence = async () => ({
    secrets: vendor.issuedValues(),
    published: JSON.stringify(await world.subscriber.drain()),
  });
  try {
    const violations = await scenario(world, vendor, state);
    return { violations, calls: state.calls, ...(await evidence()) };
  } catch (error) {
    const violations = [`the scenario itself failed: ${(error as Error).message}`];
    return { violations, calls: state.calls, ...(await evidence()) };
  } finally {
    await world.close();
    await vendor.close();
  }
}

/**
 * Every crash point of every provider, both phases. `select` picks a subset of the points
 * (the test suite runs a deterministic sample; `npm run sweep` runs all).
 */
export async function crashSweep(
  endpoint: string,
  options: {
    providers?: (keyof typeof VENDORS_UNDER_TEST)[];
    select?: (point: CrashPoint, provider: string) => boolean;
    progress?: (line: string) => void;
    /** Stops the sweep between cases (a test that timed out). */
    signal?: AbortSignal;
  } = {},
): Promise<CrashReport> {
  const report: CrashReport = {
    crashPoints: 0,
    survived: 0,
    secrets: [],
    published: [],
    failures: [],
    calls: {},
  };
  const keep = (run: { secrets: readonly string[]; published: string }) => {
    report.secrets.push(...run.secrets);
    report.published.push(run.published);
  };
  for (const provider of options.providers ??
    (Object.keys(VENDORS_UNDER_TEST) as (keyof typeof VENDORS_UNDER_TEST)[])) {
    const clean = await runCase(endpoint, provider, undefined);
    keep(clean);
    if (clean.violations.length > 0) {
      report.failures.push({
        provider,
        index: -1,
        kind: "aws",
        call: "(no crash)",
        phase: "before",
        violations: clean.violations,
      });
    }
    report.calls[provider] = clean.calls;
    const points = clean.calls.filter((point) => options.select?.(point, provider) ?? true);
    options.progress?.(`${provider}: ${clean.calls.length} calls, ${points.length * 2} crash cases`);
    for (const point of points) {
      for (const phase of ["before", "after"] as const) {
        options.signal?.throwIfAborted();
        report.crashPoints++;
        const run = await runCase(endpoint, provider, { at: point.index, phase });
        keep(run);
        const { violations } = run;
        if (violations.length === 0) report.survived++;
        else report.failures.push({ provider, ...point, phase, violations });
      }
    }
  }
  return report;
}
