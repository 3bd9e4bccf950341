// A whole keyturn world for one test: an AWS account of its own on the run's moto server,
// the vendor simulators behind one hub, an injected clock, and keyturn wired to all of it
// exactly as the demo wires it (sandbox/local-keyturn.ts).

import { type LocalKeyturn, startLocalKeyturn } from "#sandbox/local-keyturn.ts";
import type { ManualClock } from "#sandbox/simulators/clock.ts";
import { startVendorHub, type VendorHub } from "#sandbox/simulators/hub.ts";
import { type IsolatedAws, isolatedAws } from "./aws.ts";

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
}

export async function startWorld(options: WorldOptions): Promise<World> {
  const aws = isolatedAws();
  const hub = await startVendorHub(options.vendors);
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
    http: { timeoutMs: 1_000, retryBaseMs: 1, retryMaxMs: 10, sleep: async () => {} },
  });
  return { ...keyturn, aws, clock: options.clock, hub, close: () => hub.close() };
}
