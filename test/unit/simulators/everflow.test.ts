// The Everflow Marketplace simulator over real HTTP: the API key contract of docs/vendors.md,
// "Everflow" (the X-Eflow-API-Key header, 401s, 403 "Out of realm", two hosts) and the control endpoint
// that stands for the web UI, where keys are created and revoked for good.
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { ManualClock } from "#sandbox/simulators/clock.ts";
import {
  type EverflowKeyRecord,
  type EverflowSimulator,
  startEverflowSimulator,
} from "#sandbox/simulators/everflow.ts";

const EU = "api-eu.eflow.team";

let clock: ManualClock;
let sim: EverflowSimulator;
let partner: { id: number; key: string };

beforeEach(async () => {
  clock = new ManualClock(new Date("2026-03-01T09:00:00Z"));
  sim = await startEverflowSimulator({ clock });
  partner = sim.createKey({ portal: "partner", name: "keyturn reporting" });
});

afterEach(async () => {
  await sim.close();
});

interface CallOptions {
  method?: string;
  key?: string;
  body?: unknown;
  headers?: Record<string, string>;
  base?: string;
}

function call(path: string, options: CallOptions = {}): Promise<Response> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.key !== undefined) headers["X-Eflow-API-Key"] = options.key;
  if (options.body !== undefined) headers["content-type"] = "application/json";
  return fetch(`${options.base ?? sim.baseUrl()}${path}`, {
    method: options.method ?? "GET",
    headers,
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
  });
}

function ui(path: string, body?: unknown): Promise<Response> {
  return fetch(`${sim.url}/__ui${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

function recordOf(id: number): EverflowKeyRecord {
  const record = sim.keys().find((key) => key.id === id);
  if (!record) throw new Error(`the simulator has no key ${id}`);
  return record;
}

describe("authentication", () => {
  test("a live Marketplace key in X-Eflow-API-Key reads the partner", async () => {
    const response = await call("/partners", { key: partner.key });

    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ partner_id: expect.any(Number), status: "active" });
  });

  test("a request without the key header gets 401 with an error body", async () => {
    const response = await call("/partners");

    expect(response.status).toBe(401);
    expect(response.headers.get("content-type")).toBe("application/json; charset=utf-8");
    expect(await response.json()).toEqual({ error: "No Authentication Method Found" });
  });

  test("the key sent as a Bearer token is no key at all", async () => {
    const response = await call("/partners", { headers: { authorization: `Bearer ${partner.key}` } });

    expect(response.status).toBe(401);
  });

  test("an unknown key gets 401", async () => {
    const response = await call("/partners", { key: "x".repeat(32) });

    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({ error: "Invalid API Key" });
  });

  test("a revoked key gets 401", async () => {
    sim.revokeKey(partner.id);

    const response = await call("/partners", { key: partner.key });

    expect(response.status).toBe(401);
    expect(sim.isLive(partner.key)).toBe(false);
  });

  test("every authenticated call sets the key's lastUsedAt from the clock", async () => {
    clock.advance(3_600_000);

    await call("/partners", { key: partner.key });

    expect(recordOf(partner.id).lastUsedAt).toBe("2026-03-01T10:00:00.000Z");
  });

  test("a host other than Everflow's is a 404", async () => {
    const response = await call("/partners", { key: partner.key, base: `${sim.url}/api.everflow.io/v1` });

    expect(response.status).toBe(404);
  });
});

describe("portals", () => {
  test("a Network key on the Marketplace's /v1/partners gets 403 Out of realm", async () => {
    const network = sim.createKey({ portal: "network", name: "network key" });

    const response = await call("/partners", { key: network.key });

    expect(response.status).toBe(403);
    expect(await response.json()).toEqual({ error: "Out of realm" });
  });

  test("a Marketplace key on a Network path gets 403 Out of realm", async () => {
    const response = await call("/networks", { key: partner.key });

    expect(response.status).toBe(403);
    expect(await response.json()).toEqual({ error: "Out of realm" });
  });

  test("each portal's key reads its own portal's check", async () => {
    const checks = [
      ["network", "/networks"],
      ["affiliate", "/affiliates/affiliate"],
      ["advertiser", "/advertisers/advertiser"],
    ] as const;

    const statuses = [];
    for (const [portal, path] of checks) {
      const { key } = sim.createKey({ portal, name: portal });
      statuses.push((await call(path, { key })).status);
    }

    expect(statuses).toEqual([200, 200, 200]);
  });

  test("the realm is checked before the route: an unknown partner path is Out of realm to a Network key", async () => {
    const network = sim.createKey({ portal: "network", name: "network key" });

    const foreign = await call("/partners/nowhere", { key: network.key });
    const own = await call("/partners/nowhere", { key: partner.key });

    expect([foreign.status, own.status]).toEqual([403, 404]);
  });
});

describe("permissions and reporting", () => {
  const REPORT = { from: "2026-02-01", to: "2026-02-28", columns: [{ column: "offer" }] };

  test("a key with All permissions reads reporting and connections", async () => {
    const report = await call("/partners/reporting/entity/table", {
      method: "POST",
      key: partner.key,
      body: REPORT,
    });
    const connections = await call("/partners/connections/table", {
      method: "POST",
      key: partner.key,
      body: { filters: { status: "active" } },
    });

    expect([report.status, connections.status]).toEqual([200, 200]);
    expect(await report.json()).toMatchObject({ table: [], summary: { clicks: 0 } });
    expect(await connections.json()).toMatchObject({ connections: [], paging: { page: 1 } });
  });

  test("a Reporting-only key reads reporting but gets 403 (not Out of realm) on connections", async () => {
    const reporting = sim.createKey({ portal: "partner", name: "reporting", permissions: ["reporting"] });

    const report = await call("/partners/reporting/entity/table", {
      method: "POST",
      key: reporting.key,
      body: REPORT,
    });
    const connections = await call("/partners/connections/table", {
      method: "POST",
      key: reporting.key,
      body: {},
    });

    expect(report.status).toBe(200);
    expect(connections.status).toBe(403);
    expect(await connections.json()).toEqual({ error: "Insufficient permissions" });
  });

  test("a report without dates is a 400", async () => {
    const response = await call("/partners/reporting/entity/table", {
      method: "POST",
      key: partner.key,
      body: { columns: [] },
    });

    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ error: "Invalid parameters." });
  });
});

describe("hosts", () => {
  test("a key of an EU-hosted account works on api-eu.eflow.team", async () => {
    const eu = sim.createKey({ portal: "partner", name: "eu", host: EU });

    const response = await call("/partners", { key: eu.key, base: sim.baseUrl(EU) });

    expect(response.status).toBe(200);
  });

  test("a key is unknown on the other host: 401 both ways", async () => {
    const eu = sim.createKey({ portal: "partner", name: "eu", host: EU });

    const euKeyOnDefault = await call("/partners", { key: eu.key });
    const defaultKeyOnEu = await call("/partners", { key: partner.key, base: sim.baseUrl(EU) });

    expect([euKeyOnDefault.status, defaultKeyOnEu.status]).toEqual([401, 401]);
  });

  test("baseUrl names the host in the first path segment", () => {
    expect(sim.baseUrl()).toBe(`${sim.url}/api.eflow.team/v1`);
    expect(sim.baseUrl(EU)).toBe(`${sim.url}/api-eu.eflow.team/v1`);
  });
});

describe("the UI control endpoint", () => {
  test("creating a key answers 201 with the value, which authenticates", async () => {
    const response = await ui("/keys", { portal: "partner", name: "dashboard", permissions: ["reporting"] });

    expect(response.status).toBe(201);
    const created = (await response.json()) as EverflowKeyRecord & { key: string };
    expect(created).toMatchObject({
      name: "dashboard",
      host: "api.eflow.team",
      portal: "partner",
      permissions: ["reporting"],
      status: "active",
      createdAt: "2026-03-01T09:00:00.000Z",
    });
    expect((await call("/partners", { key: created.key })).status).toBe(200);
  });

  test("a key is shown once: never in the list, the records or the request log", async () => {
    const created = (await (await ui("/keys", { portal: "partner", name: "once" })).json()) as {
      key: string;
    };
    await call("/partners", { key: created.key });

    const listed = await (await fetch(`${sim.url}/__ui/keys`)).text();

    expect(listed).toContain('"once"');
    for (const text of [listed, JSON.stringify(sim.keys()), JSON.stringify(sim.requests)]) {
      expect(text).not.toContain(created.key);
      expect(text).not.toContain(partner.key);
    }
  });

  test("a key without a name or with an unknown portal is a 400 naming the field", async () => {
    const noName = await ui("/keys", { portal: "partner" });
    const badPortal = await ui("/keys", { portal: "publisher", name: "x" });

    expect(noName.status).toBe(400);
    expect(await noName.json()).toEqual({ error: "name is required." });
    expect(badPortal.status).toBe(400);
    expect(await badPortal.json()).toMatchObject({ error: expect.stringContaining("portal") });
  });

  test("revoking disables the key at once and records when", async () => {
    clock.advance(60_000);

    const response = await ui(`/keys/${partner.id}/revoke`);

    expect(response.status).toBe(200);
    expect(recordOf(partner.id)).toMatchObject({ status: "revoked", revokedAt: "2026-03-01T09:01:00.000Z" });
    expect((await call("/partners", { key: partner.key })).status).toBe(401);
  });

  test("a revoked key stays revoked: revoking again is a 409 and nothing re-enables it", async () => {
    await ui(`/keys/${partner.id}/revoke`);

    const again = await ui(`/keys/${partner.id}/revoke`);
    const enable = await ui(`/keys/${partner.id}/enable`);
    sim.revokeKey(partner.id);

    expect([again.status, enable.status]).toEqual([409, 404]);
    expect(recordOf(partner.id).status).toBe("revoked");
    expect((await call("/partners", { key: partner.key })).status).toBe(401);
  });

  test("revoking an unknown key is a 404, and revokeKey throws", async () => {
    const response = await ui("/keys/999/revoke");

    expect(response.status).toBe(404);
    expect(() => sim.revokeKey(999)).toThrow("No Everflow API key 999");
  });

  test("the UI lives on the simulator's root, not under a vendor host", async () => {
    const response = await fetch(`${sim.url}/api.eflow.team/__ui/keys`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ portal: "partner", name: "x" }),
    });

    expect(response.status).toBe(404);
    expect(sim.keys()).toHaveLength(1);
  });

  test("UI calls are not vendor API requests: they are neither recorded nor fault-injected", async () => {
    sim.faults.add({ path: /.*/, times: Number.POSITIVE_INFINITY, fault: { kind: "status", status: 500 } });

    const response = await ui("/keys", { portal: "partner", name: "during an outage" });

    expect(response.status).toBe(201);
    expect(sim.requests).toEqual([]);
  });
});

describe("faults and the request log", () => {
  test("a fault is matched on the path after the host segment and answers in Everflow's error shape", async () => {
    const rule = sim.faults.add({
      path: "/v1/partners",
      fault: { kind: "status", status: 429, retryAfter: "2" },
    });

    const limited = await call("/partners", { key: partner.key });
    const next = await call("/partners", { key: partner.key });

    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe("2");
    expect(await limited.json()).toEqual({ error: "Too Many Requests" });
    expect(next.status).toBe(200);
    expect(sim.faults.hits(rule)).toBe(1);
  });

  test("a fault applies to both hosts", async () => {
    const eu = sim.createKey({ portal: "partner", name: "eu", host: EU });
    sim.faults.add({ path: "/v1/partners", times: 2, fault: { kind: "status", status: 503 } });

    const statuses = [
      (await call("/partners", { key: partner.key })).status,
      (await call("/partners", { key: eu.key, base: sim.baseUrl(EU) })).status,
    ];

    expect(statuses).toEqual([503, 503]);
  });

  test("a dropped connection is logged with no status", async () => {
    sim.faults.add({ path: "/v1/partners", fault: { kind: "drop" } });

    await expect(call("/partners", { key: partner.key })).rejects.toThrow();

    expect(sim.requests).toMatchObject([
      { method: "GET", host: "api.eflow.team", path: "/v1/partners", status: 0 },
    ]);
  });

  test("requests record method, host, path and status, and reset on demand", async () => {
    await call("/partners", { key: partner.key });
    await call("/partners", { base: sim.baseUrl(EU) });

    expect(sim.requests).toEqual([
      { method: "GET", host: "api.eflow.team", path: "/v1/partners", status: 200, at: clock.now() },
      { method: "GET", host: EU, path: "/v1/partners", status: 401, at: clock.now() },
    ]);

    sim.resetRequests();

    expect(sim.requests).toEqual([]);
  });

  test("issuedValues holds every key handed out, from the test API and the UI", async () => {
    const created = (await (await ui("/keys", { portal: "network", name: "n" })).json()) as { key: string };

    expect(sim.issuedValues).toEqual([partner.key, created.key]);
  });
});

// Everflow's rate-limiting page (https://developers.everflow.io/user-guide/rate-limiting): partner
// keys get 5 requests/s per customer over a 30-second window (150 a window), every answer says X-RateLimit-Limit and X-RateLimit-Remaining,
// and beyond the limit every request is a 429 until the window resets, with no Retry-After.
describe("rate limit", () => {
  const LIMIT = 150;
  const WINDOW_MS = 30_000;

  async function spend(count: number, key = partner.key): Promise<void> {
    for (let index = 0; index < count; index++) {
      const response = await call("/partners", { key });
      await response.arrayBuffer();
    }
  }

  test("every answer to a partner key says the limit and what remains of it", async () => {
    const first = await call("/partners", { key: partner.key });
    const second = await call("/partners", { key: partner.key });

    expect(first.headers.get("x-ratelimit-limit")).toBe(String(LIMIT));
    expect(first.headers.get("x-ratelimit-remaining")).toBe(String(LIMIT - 1));
    expect(second.headers.get("x-ratelimit-remaining")).toBe(String(LIMIT - 2));
  });

  test("past the limit a partner key gets 429 without Retry-After until the 30-second window resets", async () => {
    await spend(LIMIT);

    const limited = await call("/partners", { key: partner.key });
    clock.advance(WINDOW_MS - 1);
    const stillLimited = await call("/partners", { key: partner.key });
    clock.advance(1);
    const reset = await call("/partners", { key: partner.key });

    expect(limited.status).toBe(429);
    expect(await limited.json()).toEqual({ error: expect.any(String) });
    expect(limited.headers.get("retry-after")).toBeNull();
    expect(limited.headers.get("x-ratelimit-remaining")).toBe("0");
    expect(limited.headers.get("x-ratelimit-reset")).toBeNull();
    expect(stillLimited.status).toBe(429);
    expect(reset.status).toBe(200);
    expect(reset.headers.get("x-ratelimit-remaining")).toBe(String(LIMIT - 1));
  });

  test("the quota is the customer's: the account's other partner keys share it, the EU account's do not", async () => {
    const sibling = sim.createKey({ portal: "partner", name: "second integration" });
    const eu = sim.createKey({ portal: "partner", name: "eu", host: EU });
    await spend(LIMIT);

    const siblingAnswer = await call("/partners", { key: sibling.key });
    const euAnswer = await call("/partners", { key: eu.key, base: sim.baseUrl(EU) });

    expect(siblingAnswer.status).toBe(429);
    expect(euAnswer.status).toBe(200);
  });

  test("sends X-RateLimit-Reset, which Everflow does not document, only when told how", async () => {
    const secondsLeft = await startEverflowSimulator({ clock, rateLimit: { resetHeader: "seconds-left" } });
    const epoch = await startEverflowSimulator({ clock, rateLimit: { resetHeader: "epoch-seconds" } });
    try {
      const answers = [];
      for (const other of [secondsLeft, epoch]) {
        const key = other.createKey({ portal: "partner", name: "reset" }).key;
        await fetch(`${other.baseUrl()}/partners`, { headers: { "X-Eflow-API-Key": key } });
        clock.advance(10_000);
        answers.push(await fetch(`${other.baseUrl()}/partners`, { headers: { "X-Eflow-API-Key": key } }));
        clock.set(new Date("2026-03-01T09:00:00Z"));
      }

      expect(answers.map((answer) => answer.headers.get("x-ratelimit-reset"))).toEqual([
        "20",
        String(Date.parse("2026-03-01T09:00:30Z") / 1000),
      ]);
    } finally {
      await Promise.all([secondsLeft.close(), epoch.close()]);
    }
  });

  test("a request without a valid key is answered without rate-limit headers and counts for nobody", async () => {
    const unknown = await call("/partners", { key: "not-a-key-at-all" });
    const known = await call("/partners", { key: partner.key });

    expect(unknown.status).toBe(401);
    expect(unknown.headers.get("x-ratelimit-limit")).toBeNull();
    expect(known.headers.get("x-ratelimit-remaining")).toBe(String(LIMIT - 1));
  });
});
