// Incorta v1 token refresh: the real refresh handler against moto server (Secrets Manager,
// SSM Parameter Store, DynamoDB leases, EventBridge) and the Incorta simulator, with an
// injected clock shared by both.

import type { InitializeMiddleware } from "@smithy/types";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import type { SecretStore } from "#aws/secret-store.ts";
import type { IncortaSimulator } from "#sandbox/simulators/incorta.ts";
import {
  INCORTA_CLUSTER as CLUSTER,
  INCORTA_CREDENTIAL as CREDENTIAL,
  playRefreshSchedule,
  type RefreshWorld,
  startRefreshWorld,
} from "../reliability/refresh-day.ts";
import { type IsolatedAws, isolatedAws } from "../support/aws.ts";
import { eventProblems } from "../support/event-schemas.ts";
import { type CapturedOutput, captureOutput, describeError, findLeaks } from "../support/leak-guard.ts";
import { MINUTE, type World } from "../support/world.ts";

let refreshWorld: RefreshWorld;
let world: World;
let sim: IncortaSimulator;
let output: CapturedOutput;
/** Every Secrets Manager and Parameter Store request, as "Operation" or "GetParameter+decrypt". */
let awsCalls: string[];

/** Records the requests of the world's own clients (moto answers them as before). */
function recordCalls(aws: IsolatedAws): string[] {
  const calls: string[] = [];
  const recorder =
    <I extends object, O extends object>(): InitializeMiddleware<I, O> =>
    (next, context) =>
    async (args) => {
      const decrypt = (args.input as { WithDecryption?: boolean }).WithDecryption === true;
      calls.push(`${(context.commandName ?? "?").replace(/Command$/, "")}${decrypt ? "+decrypt" : ""}`);
      return next(args);
    };
  const where = { step: "initialize", name: "refreshTestRecorder" } as const;
  aws.secretsManager.middlewareStack.add(recorder(), where);
  aws.ssm.middlewareStack.add(recorder(), where);
  return calls;
}

beforeEach(async () => {
  const aws = isolatedAws();
  awsCalls = recordCalls(aws);
  refreshWorld = await startRefreshWorld(aws);
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

describe("a warm refresh function", () => {
  const callsDuring = async <T>(work: () => Promise<T>) => {
    const mark = awsCalls.length;
    const value = await work();
    return { value, calls: awsCalls.slice(mark) };
  };
  const count = (calls: string[], call: string) => calls.filter((c) => c === call).length;

  test("refreshes within its one-hour bound with the key it kept and the pair it wrote: no key read, no decryption", async () => {
    const first = await callsDuring(() => world.refresh());
    world.clock.advance(6 * MINUTE);

    const second = await callsDuring(() => world.refresh());

    expect(first.value.outcomes.map((o) => o.outcome)).toEqual(["minted"]);
    expect(count(first.calls, "GetSecretValue")).toBe(1);
    expect(second.value.outcomes.map((o) => o.outcome)).toEqual(["refreshed"]);
    expect(count(second.calls, "GetSecretValue")).toBe(0);
    // Each read of the pair checks its version only (no KMS request): this function wrote it.
    expect(count(second.calls, "GetParameter+decrypt")).toBe(0);
    expect(count(second.calls, "GetParameter")).toBeGreaterThanOrEqual(1);
    expect(count(second.calls, "PutParameter")).toBe(1);
    expect(sim.isAccessTokenValid((await world.storedTokens(CREDENTIAL))?.accessToken ?? "")).toBe(true);
    await noLeaks();
  });

  test("reads the key again once its one-hour bound has passed", async () => {
    await world.refresh();
    world.clock.advance(61 * MINUTE);

    const run = await callsDuring(() => world.refresh());

    expect(run.value.outcomes.map((o) => o.outcome)).toEqual(["minted"]); // the refresh token is gone too
    expect(count(run.calls, "GetSecretValue")).toBe(1);
  });

  test("decrypts the pair when someone else wrote it since (a new parameter version)", async () => {
    await world.refresh();
    world.clock.advance(6 * MINUTE);
    // Someone else (an operator, a second deployment) writes the parameter.
    const { TokenStore, tokenParameterName } = await import("#aws/token-store.ts");
    const stored = await world.storedTokens(CREDENTIAL);
    if (!stored) throw new Error("the first run stored no pair");
    await new TokenStore(world.aws.ssm).write(tokenParameterName(CREDENTIAL), {
      ...stored,
      refreshedAt: "elsewhere",
    });

    const run = await callsDuring(() => world.refresh());

    expect(run.value.outcomes.map((o) => o.outcome)).toEqual(["refreshed"]);
    expect(count(run.calls, "GetParameter+decrypt")).toBeGreaterThanOrEqual(1);
    expect(count(run.calls, "GetSecretValue")).toBe(0);
  });

  test("a key stored since its last run is a new version: read at the next run and minted with, no refusal, no failure", async () => {
    await world.refresh();
    const newKey = sim.renewApiKey(CLUSTER, "analytics", "etl.bot");
    await world.put(CREDENTIAL, { apiKey: newKey });
    world.clock.advance(6 * MINUTE);
    sim.resetRequests();

    const run = await callsDuring(() => world.refresh());

    expect(run.value.outcomes.map((o) => o.outcome)).toEqual(["minted"]);
    expect(run.value.failures).toEqual([]);
    expect(count(run.calls, "GetSecretValue")).toBe(1);
    expect(sim.requests.filter((r) => r.status === 401)).toEqual([]);
    expect(sim.isAccessTokenValid((await world.storedTokens(CREDENTIAL))?.accessToken ?? "")).toBe(true);
    expect((await noLeaks()).filter((e) => e["detail-type"] === "Token Refresh Failed")).toEqual([]);
  });

  test("a key replaced after the run listed the secrets: the kept key is refused, read again, and minted with; no failure event", async () => {
    sim.setLifetimes({ refreshMs: 5 * MINUTE }); // the next due run mints: its refresh token is gone
    await world.refresh();
    world.clock.advance(6 * MINUTE);
    // An operator renews the key at Incorta and stores it while the run is under way, after its
    // listing (which still names the old version): the race the vendor's refusal settles.
    const store: SecretStore = world.store;
    const listTagged = store.listTagged.bind(store);
    let replaced = false;
    let putCalls: string[] = [];
    store.listTagged = async function* (...args: Parameters<SecretStore["listTagged"]>) {
      for await (const page of listTagged(...args)) {
        if (!replaced) {
          replaced = true;
          const mark = awsCalls.length;
          await world.put(CREDENTIAL, { apiKey: sim.renewApiKey(CLUSTER, "analytics", "etl.bot") });
          putCalls = awsCalls.slice(mark);
          sim.resetRequests();
        }
        yield page;
      }
    };

    const run = await callsDuring(() => world.refresh());

    expect(replaced).toBe(true);
    expect(run.value.outcomes.map((o) => o.outcome)).toEqual(["minted"]);
    expect(run.value.failures).toEqual([]);
    // The kept key's mint was refused; the key read again minted.
    expect(sim.requests.map((r) => `${r.path} ${r.status}`)).toEqual([
      "/incorta/api/v1/tokens 401",
      "/incorta/api/v1/tokens 201",
    ]);
    // The refresh's own reads of the key: the one after the refusal (the operator's put reads too).
    expect(count(run.calls, "GetSecretValue") - count(putCalls, "GetSecretValue")).toBe(1);
    expect(sim.isAccessTokenValid((await world.storedTokens(CREDENTIAL))?.accessToken ?? "")).toBe(true);
    expect((await noLeaks()).filter((e) => e["detail-type"] === "Token Refresh Failed")).toEqual([]);
  });

  test("a kept key the vendor refuses, with no other key stored, is read once more and then fails as any refused key", async () => {
    sim.setLifetimes({ refreshMs: 5 * MINUTE }); // the next due run mints
    await world.refresh();
    sim.renewApiKey(CLUSTER, "analytics", "etl.bot"); // renewed in the Incorta UI, not stored
    world.clock.advance(6.5 * MINUTE); // 3.5 minutes left: less than the next run needs
    sim.resetRequests();

    const run = await callsDuring(() => world.refresh());

    expect(run.value.outcomes.map((o) => o.outcome)).toEqual(["failed"]);
    expect(run.value.failures.map((f) => f.credential)).toEqual([CREDENTIAL]);
    expect(count(run.calls, "GetSecretValue")).toBe(1);
    expect(sim.requests.map((r) => `${r.path} ${r.status}`)).toEqual(["/incorta/api/v1/tokens 401"]);
    const failed = (await noLeaks()).filter((e) => e["detail-type"] === "Token Refresh Failed");
    expect(failed.map((e) => e.detail)).toEqual([
      expect.objectContaining({ credential: CREDENTIAL, severity: "critical" }),
    ]);
  });
});
