// Load: many credentials of one vendor rotated in one burst against a vendor that allows 20
// requests a second and answers 429 (with Retry-After) beyond it, as Secrets Manager would
// start their rotations when a schedule lines them up. Every rotation must finish, none may
// leave a key behind, and keyturn must keep the vendor busy: the accepted request rate
// within 90% of the limit, which is the physical limit here.
//
// The rate is measured in real time (`npm run sweep`). With `simulatedTime`, the vendor's
// second passes only when a client waits out a Retry-After: the throttling, the retries and
// the outcome no longer depend on how fast the machine is, and no rate is reported (npm test).

import { motoAccount } from "#sandbox/moto-account.ts";
import { ManualClock } from "#sandbox/simulators/clock.ts";
import { startWorldOn } from "../support/world-core.ts";
import { immutaUnderTest } from "./vendors.ts";

export interface LoadReport {
  credentials: number;
  rotated: number;
  lost: number;
  orphans: number;
  /** Accepted vendor requests per second over the vendor's limit; null in simulated time. */
  rateRatio: number | null;
  throttled: number;
  seconds: number;
  secrets: string[];
  published: string;
}

export async function loadRun(
  endpoint: string,
  options: {
    credentials: number;
    perSecond?: number;
    concurrency?: number;
    simulatedTime?: boolean;
    progress?: (line: string) => void;
  },
): Promise<LoadReport> {
  const perSecond = options.perSecond ?? 20;
  const clock = new ManualClock(new Date("2026-11-22T10:00:00Z"));
  const vendor = await immutaUnderTest(clock);
  const vendorSecond = options.simulatedTime ? new ManualClock(0) : undefined;
  const world = await startWorldOn(motoAccount(endpoint), {
    clock,
    vendors: vendor.vendors,
    hub: { rateLimit: { perSecond, clock: vendorSecond } },
    // A rotation keeps trying while it is told to wait. Real waits, unless time is simulated:
    // then waiting is what moves the vendor's clock.
    http: {
      timeoutMs: 10_000,
      maxRetries: 60,
      retryBaseMs: 200,
      retryMaxMs: 2_000,
      sleep: vendorSecond ? async (ms: number) => vendorSecond.advance(ms) : undefined,
    },
  });
  try {
    const { rotated: names } = await vendor.seed(world, { count: options.credentials });
    options.progress?.(`load: ${names.length} credentials stored; rotating them all at once`);
    let next = 0;
    let succeeded = 0;
    const started = performance.now();
    const worker = async () => {
      while (next < names.length) {
        const name = names[next++] as string;
        const rotation = await world.rotate(name, { maxAttempts: 5 });
        if (rotation.succeeded) succeeded++;
        if (rotation.succeeded && succeeded % 100 === 0) options.progress?.(`load: ${succeeded} rotated`);
      }
    };
    await Promise.all(Array.from({ length: options.concurrency ?? 50 }, worker));
    const seconds = (performance.now() - started) / 1000;
    const referenced = new Set<string>();
    for (const name of names) referenced.add((await world.read(name)).keyId);
    const orphans = vendor.liveMintedKeys().filter((key) => !referenced.has(key.keyId)).length;
    const accepted = world.hub.calls.length;
    return {
      credentials: names.length,
      rotated: succeeded,
      lost: names.length - succeeded,
      orphans,
      rateRatio: vendorSecond ? null : Math.round((accepted / seconds / perSecond) * 1000) / 1000,
      throttled: world.hub.throttled,
      seconds: Math.round(seconds * 10) / 10,
      secrets: [...vendor.issuedValues()],
      published: JSON.stringify(await world.subscriber.drain()),
    };
  } finally {
    await world.close();
    await vendor.close();
  }
}
