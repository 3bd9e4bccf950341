// A whole keyturn world for one test: an AWS account of its own on a moto server, the vendor
// simulators behind one hub, an injected clock, and keyturn wired to all of it exactly as
// the demo wires it (sandbox/local-keyturn.ts). Free of vitest, so that the reliability
// sweep (npm run sweep) builds the same worlds; tests get theirs from ./world.ts.

import type { HttpClientOptions } from "#http/client.ts";
import { type LocalKeyturn, startLocalKeyturn } from "#sandbox/local-keyturn.ts";
import type { IsolatedAws } from "#sandbox/moto-account.ts";
import type { ManualClock } from "#sandbox/simulators/clock.ts";
import { startVendorHub, type VendorHub, type VendorHubOptions } from "#sandbox/simulators/hub.ts";

export const BUS_NAME = "keyturn";
export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;
export const TEST_START = new Date("2026-11-22T10:00:00Z");

export interface World extends LocalKeyturn {
  aws: IsolatedAws;
  clock: ManualClock;
  hub: VendorHub;
  close(): Promise<void>;
}

export interface WorldOptions {
  /** Vendor host -> simulator URL, for the hub. */
  vendors: Record<string, string>;
  /** The clock the simulators were given, so that AWS-side and vendor-side time agree. */
  clock: ManualClock;
  orphanSafetyMarginMs?: number;
  reconcileIntervalMs?: number;
  stuckAfterMs?: number;
  refreshIntervalMs?: number;
  /** Decides the fate of each vendor call (crash tests). */
  hub?: VendorHubOptions;
  /** Overrides of the handlers' HTTP client settings. */
  http?: Partial<HttpClientOptions>;
}

export async function startWorldOn(aws: IsolatedAws, options: WorldOptions): Promise<World> {
  const hub = await startVendorHub(options.vendors, options.hub);
  const keyturn = await startLocalKeyturn({
    clients: aws,
    busName: BUS_NAME,
    clock: options.clock,
    vendorEndpoint: hub.url,
    orphanSafetyMarginMs: options.orphanSafetyMarginMs ?? HOUR,
    reconcileIntervalMs: options.reconcileIntervalMs ?? 0,
    stuckAfterMs: options.stuckAfterMs ?? 6 * HOUR,
    refreshIntervalMs: options.refreshIntervalMs ?? 2 * MINUTE,
    minTokenRemainingMs: 2 * MINUTE,
    http: { timeoutMs: 1_000, retryBaseMs: 1, retryMaxMs: 10, sleep: async () => {}, ...options.http },
  });
  return { ...closable(keyturn, () => hub.close()), aws, clock: options.clock, hub };
}

/** A world's calls after its test ended: a loop that outlived its test (a timeout) stops here. */
export class WorldClosedError extends Error {
  override readonly name = "WorldClosedError";
}

/** The calls a test drives keyturn with (those a long loop makes), guarded by `close`. */
const DRIVEN = [
  "invoke",
  "rotate",
  "sweep",
  "refresh",
  "put",
  "storedTokens",
  "revoke",
  "createSecret",
  "read",
  "stages",
  "tags",
] as const;

/**
 * `close()` refuses every later call of the world, waits for the calls in flight, then closes
 * the hub: a loop still running when its test timed out fails at its next call instead of
 * acting on the next test's state, and teardown does not pull the hub from under it.
 */
function closable(
  keyturn: LocalKeyturn,
  closeHub: () => Promise<void>,
): LocalKeyturn & { close(): Promise<void> } {
  let closed = false;
  const inFlight = new Set<Promise<unknown>>();
  const guarded: Record<string, unknown> = { ...keyturn };
  for (const name of DRIVEN) {
    const call = keyturn[name] as (...args: unknown[]) => Promise<unknown>;
    guarded[name] = (...args: unknown[]) => {
      if (closed) return Promise.reject(new WorldClosedError(`world.${name}() after the world was closed`));
      const running = call(...args);
      inFlight.add(running);
      const settle = () => inFlight.delete(running);
      running.then(settle, settle);
      return running;
    };
  }
  return {
    ...(guarded as unknown as LocalKeyturn),
    async close() {
      closed = true;
      await Promise.allSettled([...inFlight]);
      await closeHub();
    },
  };
}
