// Incorta v1 token refresh: the real refresh handler against moto server (Secrets Manager,
// SSM Parameter Store, DynamoDB leases, EventBridge) and the Incorta simulator, with an
// injected clock shared by both.

import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { Tag } from "#engine/settings.ts";
import { ManualClock } from "#sandbox/simulators/clock.ts";
import { type IncortaSimulator, startIncortaSimulator } from "#sandbox/simulators/incorta.ts";
import { eventProblems } from "../support/event-schemas.ts";
import { type CapturedOutput, captureOutput, describeError, findLeaks } from "../support/leak-guard.ts";
import { MINUTE, startWorld, TEST_START, type World } from "../support/world.ts";

const CLUSTER = "acme.cloud.incorta.com";
const CREDENTIAL = "keyturn/incorta-analytics";

let world: World;
let sim: IncortaSimulator;
let output: CapturedOutput;
let apiKey: string;

beforeEach(async () => {
  const clock = new ManualClock(TEST_START);
  sim = await startIncortaSimulator({ clock });
  world = await startWorld({ clock, vendors: { [CLUSTER]: sim.url }, refreshIntervalMs: 2 * MINUTE });
  apiKey = sim.issueApiKey(CLUSTER, "analytics", "etl.bot");
  await world.createSecret(
    CREDENTIAL,
    {
      provider: "incorta-v1",
      clusterUrl: `https://${CLUSTER}/incorta`,
      tenantName: "analytics",
      loginName: "etl.bot",
      apiKey,
    },
    { [Tag.provider]: "incorta-v1", [Tag.credential]: CREDENTIAL },
  );
  output = captureOutput();
});

afterEach(async () => {
  output.restore();
  await world.close();
  await sim.close();
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

describe("a day of refreshes", () => {
  test("consumers always find a valid access token with at least two minutes left", async () => {
    const shortfalls: string[] = [];
    for (let minute = 0; minute < 24 * 60; minute += 2) {
      await world.refresh();
      // What a consumer reading just before the next run would find.
      world.clock.advance(2 * MINUTE - 1_000);
      const tokens = await world.storedTokens(CREDENTIAL);
      const left = (tokens?.accessTokenExpiresAt ?? 0) - world.clock.now();
      if (!tokens || !sim.isAccessTokenValid(tokens.accessToken) || left < 2 * MINUTE) {
        shortfalls.push(`${new Date(world.clock.now()).toISOString()}: ${Math.round(left / 1000)} s left`);
      }
      world.clock.advance(1_000);
    }

    expect(shortfalls).toEqual([]);
    expect(vendorCalls("/incorta/api/v1/tokens")).toBe(1);
    // A 10-minute token replaced once it has less than 5 minutes left: every 6 minutes.
    expect(vendorCalls("/incorta/api/v1/tokens/refresh")).toBeGreaterThan(200);
    expect(vendorCalls("/incorta/api/v1/tokens/refresh")).toBeLessThan(260);
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
