// Incorta v1 token refresh: the real refresh handler against moto server (Secrets Manager,
// SSM Parameter Store, DynamoDB leases, EventBridge) and the Incorta simulator, with an
// injected clock shared by both.

import { afterEach, beforeEach, describe, expect, test } from "vitest";
import type { IncortaSimulator } from "#sandbox/simulators/incorta.ts";
import {
  INCORTA_CLUSTER as CLUSTER,
  INCORTA_CREDENTIAL as CREDENTIAL,
  playRefreshSchedule,
  type RefreshWorld,
  startRefreshWorld,
} from "../reliability/refresh-day.ts";
import { isolatedAws } from "../support/aws.ts";
import { eventProblems } from "../support/event-schemas.ts";
import { type CapturedOutput, captureOutput, describeError, findLeaks } from "../support/leak-guard.ts";
import { MINUTE, type World } from "../support/world.ts";

let refreshWorld: RefreshWorld;
let world: World;
let sim: IncortaSimulator;
let output: CapturedOutput;

beforeEach(async () => {
  refreshWorld = await startRefreshWorld(isolatedAws());
  ({ world, sim } = refreshWorld);
  output = captureOutput();
});

afterEach(async () => {
  output.restore();
  await refreshWorld.close();
});

const vendorCalls = (path: string) =>
  sim.requests.filter((r) => r.path === path && r.method === "POST").length;

async function noLeaks(errors: unknown[] = []) {
  const events = await world.subscriber.drain();
  expect(events.flatMap(eventProblems)).toEqual([]);
  expect(
    findLeaks([output.text(), JSON.stringify(events), ...errors.map(describeError)], sim.issuedValues),
  ).toEqual([]);
  return events;
}

describe("the refresh schedule", () => {
  test("consumers always find a valid access token with at least two minutes left, over three hours of runs", async () => {
    // Three hours hold six lifetimes of the 30-minute refresh token and eighteen of the
    // access token; `npm run sweep` plays the whole day.
    const report = await playRefreshSchedule(refreshWorld, 3);

    expect(report.runs).toBe(90);
    expect(report.shortfalls).toEqual([]);
    expect(report.mints).toBe(1);
    // A 10-minute token replaced once it has less than 5 minutes left: every 6 minutes.
    expect(report.refreshes).toBeGreaterThanOrEqual(25);
    expect(report.refreshes).toBeLessThanOrEqual(33);
    await noLeaks();
  });

  test("a fresh pair is left alone: no vendor call and no write", async () => {
    await world.refresh();
    sim.resetRequests();

    const report = await world.refresh();

    expect(report.outcomes.map((o) => o.outcome)).toEqual(["fresh"]);
    expect(sim.requests).toEqual([]);
  });
});

describe("when refreshing cannot work", () => {
  test("an expired refresh token is not tried: a new pair is minted with the key", async () => {
    await world.refresh();
    world.clock.advance(40 * MINUTE); // the schedule was paused past the 30-minute refresh token

    const report = await world.refresh();

    expect(report.outcomes.map((o) => o.outcome)).toEqual(["minted"]);
    expect(sim.isAccessTokenValid((await world.storedTokens(CREDENTIAL))?.accessToken ?? "")).toBe(true);
  });

  test("a rejected refresh falls back to minting with the key", async () => {
    await world.refresh();
    world.clock.advance(6 * MINUTE);
    sim.faults.add({
      method: "POST",
      path: "/incorta/api/v1/tokens/refresh",
      fault: { kind: "status", status: 401, body: '{"message":"Invalid refresh token"}' },
    });

    const report = await world.refresh();

    expect(report.outcomes.map((o) => o.outcome)).toEqual(["minted"]);
    expect(report.failures).toEqual([]);
    expect(sim.isAccessTokenValid((await world.storedTokens(CREDENTIAL))?.accessToken ?? "")).toBe(true);
  });

  test("a renewed API key gives a critical Token Refresh Failed naming the credential", async () => {
    sim.renewApiKey(CLUSTER, "analytics", "etl.bot");

    const report = await world.refresh();

    expect(report.outcomes.map((o) => o.outcome)).toEqual(["failed"]);
    const failed = (await noLeaks()).filter((e) => e["detail-type"] === "Token Refresh Failed");
    expect(failed.map((e) => e.detail)).toEqual([
      expect.objectContaining({ credential: CREDENTIAL, severity: "critical", accessTokenExpiresAt: null }),
    ]);
  });
});

describe("never two refreshes at once", () => {
  test("two runs racing on a due pair refresh it once; the other stands aside", async () => {
    await world.refresh();
    world.clock.advance(6 * MINUTE);
    sim.resetRequests();
    sim.faults.add({
      method: "POST",
      path: "/incorta/api/v1/tokens/refresh",
      fault: { kind: "delay", ms: 300 },
    });

    const [first, second] = await Promise.all([world.refresh("run-a"), world.refresh("run-b")]);

    const outcomes = [...first.outcomes, ...second.outcomes].map((o) => o.outcome).sort();
    expect(outcomes).toEqual(["busy", "refreshed"]);
    expect(vendorCalls("/incorta/api/v1/tokens/refresh")).toBe(1);
    expect(sim.isAccessTokenValid((await world.storedTokens(CREDENTIAL))?.accessToken ?? "")).toBe(true);
  });

  test("a run that finds the lease of a run that died waits for the lease to expire, then refreshes", async () => {
    await world.refresh();
    world.clock.advance(6 * MINUTE);
    const { LeaseTable } = await import("#aws/lease.ts");
    const leases = new LeaseTable(world.aws.dynamodb, "keyturn-leases");
    const { arn } = await world.store.describe(CREDENTIAL);
    const now = new Date(world.clock.now());
    await leases.acquire(`refresh#${arn}`, "a run that crashed", now, new Date(now.getTime() + MINUTE));

    const blocked = await world.refresh();
    world.clock.advance(MINUTE + 1_000);
    const after = await world.refresh();

    expect(blocked.outcomes.map((o) => o.outcome)).toEqual(["busy"]);
    expect(after.outcomes.map((o) => o.outcome)).toEqual(["refreshed"]);
  });
});

describe("a vendor outage", () => {
  test("fifteen minutes down: consumers are warned before their token runs out, then it recovers", async () => {
    await world.refresh();
    sim.faults.add({
      path: /\/incorta\/api\/v1\/tokens/,
      times: Number.POSITIVE_INFINITY,
      fault: { kind: "status", status: 503 },
    });

    const during: string[] = [];
    for (let minute = 0; minute < 15; minute += 2) {
      world.clock.advance(2 * MINUTE);
      const report = await world.refresh();
      during.push(...report.outcomes.map((o) => o.outcome));
    }
    sim.faults.clear();
    world.clock.advance(2 * MINUTE);
    const recovered = await world.refresh();

    expect(during).toContain("failed");
    expect(recovered.outcomes.map((o) => o.outcome)).toEqual(
      expect.arrayContaining([expect.stringMatching(/refreshed|minted/)]),
    );
    expect(sim.isAccessTokenValid((await world.storedTokens(CREDENTIAL))?.accessToken ?? "")).toBe(true);
    const failed = (await noLeaks()).filter((e) => e["detail-type"] === "Token Refresh Failed");
    expect(failed.length).toBeGreaterThanOrEqual(1);
    expect(failed.every((e) => e.detail.severity === "critical")).toBe(true);
  });

  test("a failure while the stored token still outlives the next run is retried quietly", async () => {
    await world.refresh();
    world.clock.advance(5 * MINUTE + 30_000); // 4.5 minutes left: due, but enough for one more run
    sim.faults.add({ path: "/incorta/api/v1/tokens/refresh", fault: { kind: "status", status: 503 } });

    const report = await world.refresh();

    expect(report.outcomes.map((o) => o.outcome)).toEqual(["failed"]);
    expect((await noLeaks()).filter((e) => e["detail-type"] === "Token Refresh Failed")).toEqual([]);
  });
});
