// Issue 16, "Bounded": a vendor that never answers costs at most one credential's time budget.
// Everflow (its simulator told to hold every answer for ten minutes) is asked whether the old key
// of a handed-over partner key still works; 50 Incorta v2 PATs of the same sweep are due for their
// expiry notices. The HTTP client's own timeout is set far beyond the test's (a minute per
// attempt), so only the budget can end the call. The real monitor handler against moto and the
// simulators; the budget is made small for the test (the deployment's default is 10 s).

import { afterEach, beforeEach, expect, test } from "vitest";
import { Tag } from "#engine/settings.ts";
import { ManualClock } from "#sandbox/simulators/clock.ts";
import {
  EVERFLOW_HOSTS,
  type EverflowSimulator,
  startEverflowSimulator,
} from "#sandbox/simulators/everflow.ts";
import { type IncortaSimulator, startIncortaSimulator } from "#sandbox/simulators/incorta.ts";
import { eventProblems } from "../support/event-schemas.ts";
import { type CapturedOutput, captureOutput, findLeaks } from "../support/leak-guard.ts";
import { storeIncortaPat, worldMonitor } from "../support/monitor-world.ts";
import { DAY, HOUR, startWorld, TEST_START, type World } from "../support/world.ts";

const CLUSTER = "acme.cloud.incorta.com";
const PARTNER = "keyturn/everflow-partner";
const PATS = 50;

let world: World;
let everflow: EverflowSimulator;
let incorta: IncortaSimulator;
let output: CapturedOutput;

beforeEach(async () => {
  const clock = new ManualClock(TEST_START);
  everflow = await startEverflowSimulator({ clock });
  incorta = await startIncortaSimulator({ clock });
  world = await startWorld({
    clock,
    vendors: {
      ...Object.fromEntries(EVERFLOW_HOSTS.map((host) => [host, everflow.url])),
      [CLUSTER]: incorta.url,
    },
  });
  output = captureOutput();
});

afterEach(async () => {
  output.restore();
  await world.close();
  await everflow.close();
  await incorta.close();
});

/** The monitor handler of the world, with a small budget and an HTTP client that would wait a minute per attempt. */
function budgetedMonitor(credentialBudgetMs: number) {
  return worldMonitor(world, {
    rotate: async () => {
      throw new Error("no rotation in this test");
    },
    credentialBudgetMs,
    http: { timeoutMs: 60_000 },
  });
}

test("a vendor that never answers costs one budget: the 50 other due credentials are handled in the same sweep, the slow one is reported", async () => {
  // The Everflow partner key, replaced by hand; its old key's grace period has passed, so the
  // sweep asks Everflow whether the old key still works.
  const first = everflow.createKey({ portal: "partner", name: "reporting sync" });
  await world.createSecret(
    PARTNER,
    { provider: "everflow", apiKey: first.key, keyId: "reporting sync", issuedAt: TEST_START.toISOString() },
    { [Tag.provider]: "everflow", [Tag.credential]: PARTNER, [Tag.gracePeriod]: "24h" },
  );
  const second = everflow.createKey({ portal: "partner", name: "reporting sync 2" });
  await world.put(PARTNER, { apiKey: second.key, keyId: "reporting sync 2" });
  // 50 PATs expiring in 20 days: each is due for its 30-day notice (no vendor call).
  const expiresAt = new Date(world.clock.now() + 21 * DAY);
  for (let i = 0; i < PATS; i++) {
    const name = `keyturn/incorta-pat-${String(i).padStart(2, "0")}`;
    await storeIncortaPat(world, incorta, { cluster: CLUSTER, name, i, expiresAt });
  }
  await world.subscriber.drain();
  world.clock.advance(DAY + HOUR);
  const hang = everflow.faults.add({
    fault: { kind: "delay", ms: 600_000 },
    times: Number.POSITIVE_INFINITY,
  });

  const report = await budgetedMonitor(1_500)(
    {},
    { getRemainingTimeInMillis: () => 300_000, awsRequestId: "slow" },
  );

  // The slow vendor was asked (and never answered); "keyturn/everflow-partner" sorts first, so
  // every PAT came after it.
  expect(everflow.faults.hits(hang)).toBeGreaterThanOrEqual(1);
  expect(report.credentials).toBe(PATS + 1);
  expect(report.deferred).toEqual([]);
  expect(new Set(report.expiring.map((entry) => entry.credential)).size).toBe(PATS);
  expect(report.failures).toEqual([expect.objectContaining({ credential: PARTNER, action: "reminder" })]);
  const events = await world.subscriber.drain();
  expect(events.flatMap(eventProblems)).toEqual([]);
  expect(
    findLeaks([output.text(), JSON.stringify(events)], [...everflow.issuedValues, ...incorta.issuedValues]),
  ).toEqual([]);
  expect(events.filter((e) => e["detail-type"] === "Credential Expiring")).toHaveLength(PATS);
  const failed = events.filter((e) => e["detail-type"] === "Credential Action Failed");
  expect(failed.map((e) => e.detail)).toEqual([
    expect.objectContaining({
      credential: PARTNER,
      provider: "everflow",
      action: "reminder",
      severity: "warning",
      error: expect.objectContaining({ name: "BudgetExceededError", retryable: true }),
    }),
  ]);
});
