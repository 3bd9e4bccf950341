// The Incorta simulator over real HTTP: v1 token minting with a hashed API key, refreshing
// that invalidates the previous pair, key renewal, a protected v1 endpoint, and v2 personal
// access tokens (docs/vendors.md, "Incorta", and Incorta's Public API v1 and v2 pages).
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { ManualClock } from "#sandbox/simulators/clock.ts";
import {
  INCORTA_TIMESTAMP_WINDOW_MS,
  type IncortaSimulator,
  type IncortaTokenAnswer,
  requestHashOf,
  startIncortaSimulator,
} from "#sandbox/simulators/incorta.ts";

const CLUSTER = "acme.cloud.incorta.com";
const TENANT = "demo";
const LOGIN = "etl.bot";
const MINUTE = 60_000;

let clock: ManualClock;
let sim: IncortaSimulator;
let apiKey: string;

beforeEach(async () => {
  clock = new ManualClock(new Date("2026-03-01T09:00:00Z"));
  sim = await startIncortaSimulator({ clock });
  apiKey = sim.issueApiKey(CLUSTER, TENANT, LOGIN);
});

afterEach(async () => {
  await sim.close();
});

function post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${sim.baseUrl(CLUSTER)}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
}

function mintRequest(
  fields: { key?: string; timestamp?: number; tenantName?: string; loginName?: string } = {},
): Promise<Response> {
  const timestamp = fields.timestamp ?? clock.now();
  return post("/v1/tokens", {
    tenantName: fields.tenantName ?? TENANT,
    loginName: fields.loginName ?? LOGIN,
    requestHash: requestHashOf(fields.key ?? apiKey, timestamp),
    timestamp,
  });
}

async function mint(key = apiKey): Promise<IncortaTokenAnswer> {
  const response = await mintRequest({ key });
  expect(response.status).toBe(201);
  return (await response.json()) as IncortaTokenAnswer;
}

function refreshRequest(pair: { accessToken: string; refreshToken: string }): Promise<Response> {
  return post("/v1/tokens/refresh", { accessToken: pair.accessToken, refreshToken: pair.refreshToken });
}

function schemasV1(accessToken: string): Promise<Response> {
  return fetch(`${sim.baseUrl(CLUSTER)}/v1/schemas`, { headers: { authorization: `Bearer ${accessToken}` } });
}

function listV2(token: string, tenant = TENANT, cluster = CLUSTER): Promise<Response> {
  return fetch(`${sim.baseUrl(cluster)}/v2/${tenant}/schema/list?schemaType=ALL`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ limit: 1, offset: 0 }),
  });
}

function sqlConnection(token: string, cluster = CLUSTER): Promise<Response> {
  return fetch(`${sim.baseUrl(cluster)}/v2/${TENANT}/configs/sqlConnection`, {
    headers: { authorization: `Bearer ${token}` },
  });
}

function createPat(name: string, expiresInMs = 30 * 24 * 60 * MINUTE) {
  return sim.createPat(CLUSTER, TENANT, LOGIN, { name, expiresAt: new Date(clock.now() + expiresInMs) });
}

describe("v1 token minting", () => {
  test("a request hashed with the user's key gets a Bearer pair with absolute expiries from the clock", async () => {
    const response = await mintRequest();

    expect(response.status).toBe(201);
    const pair = (await response.json()) as IncortaTokenAnswer;
    expect(Object.keys(pair).sort()).toEqual([
      "accessToken",
      "accessTokenExpiresAt",
      "refreshToken",
      "refreshTokenExpiresAt",
      "type",
    ]);
    expect(pair.type).toBe("Bearer");
    expect(pair.accessTokenExpiresAt).toBe(clock.now() + 10 * MINUTE);
    expect(pair.refreshTokenExpiresAt).toBe(clock.now() + 30 * MINUTE);
  });

  test("setLifetimes changes the expiries of pairs minted afterwards", async () => {
    sim.setLifetimes({ accessMs: 2 * MINUTE, refreshMs: 5 * MINUTE });

    const pair = await mint();

    expect(pair.accessTokenExpiresAt - clock.now()).toBe(2 * MINUTE);
    expect(pair.refreshTokenExpiresAt - clock.now()).toBe(5 * MINUTE);
  });

  test("a request hashed with another key gets a 401 message", async () => {
    const response = await mintRequest({ key: "0".repeat(64) });

    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({ message: expect.stringContaining("Authentication failed") });
  });

  test("a hash of the right key with another timestamp gets a 401", async () => {
    const timestamp = clock.now();
    const response = await post("/v1/tokens", {
      tenantName: TENANT,
      loginName: LOGIN,
      requestHash: requestHashOf(apiKey, timestamp - 1),
      timestamp,
    });

    expect(response.status).toBe(401);
  });

  test("a timestamp outside the window gets a 401; one just inside it works", async () => {
    const tooOld = await mintRequest({ timestamp: clock.now() - INCORTA_TIMESTAMP_WINDOW_MS - 1 });
    const tooNew = await mintRequest({ timestamp: clock.now() + INCORTA_TIMESTAMP_WINDOW_MS + 1 });
    const inside = await mintRequest({ timestamp: clock.now() - INCORTA_TIMESTAMP_WINDOW_MS + 1_000 });

    expect([tooOld.status, tooNew.status, inside.status]).toEqual([401, 401, 201]);
    expect(await tooOld.json()).toEqual({ message: expect.stringContaining("timestamp") });
  });

  test("the timestamp window is Incorta's default of 30 minutes: 20 minutes off still mints", async () => {
    const late = await mintRequest({ timestamp: clock.now() - 20 * MINUTE });
    const early = await mintRequest({ timestamp: clock.now() + 20 * MINUTE });

    expect(INCORTA_TIMESTAMP_WINDOW_MS).toBe(30 * MINUTE);
    expect([late.status, early.status]).toEqual([201, 201]);
  });

  test("the window follows the cluster's public.apis.tokens.request.duration when set", async () => {
    const strict = await startIncortaSimulator({ clock, timestampWindowMs: 5 * MINUTE });
    try {
      const key = strict.issueApiKey(CLUSTER, TENANT, LOGIN);
      const timestamp = clock.now() - 6 * MINUTE;
      const response = await fetch(`${strict.baseUrl(CLUSTER)}/v1/tokens`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          tenantName: TENANT,
          loginName: LOGIN,
          requestHash: requestHashOf(key, timestamp),
          timestamp,
        }),
      });

      expect(response.status).toBe(401);
    } finally {
      await strict.close();
    }
  });

  test("an unknown tenant or login gets a 401", async () => {
    const otherTenant = await mintRequest({ tenantName: "other" });
    const otherLogin = await mintRequest({ loginName: "ETL Bot" });

    expect([otherTenant.status, otherLogin.status]).toEqual([401, 401]);
  });

  test("the same user on another cluster is someone else", async () => {
    const timestamp = clock.now();
    const response = await fetch(`${sim.baseUrl("other.cloud.incorta.com")}/v1/tokens`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        tenantName: TENANT,
        loginName: LOGIN,
        requestHash: requestHashOf(apiKey, timestamp),
        timestamp,
      }),
    });

    expect(response.status).toBe(401);
  });

  test("a body without the timestamp gets a 400 naming it", async () => {
    const response = await post("/v1/tokens", { tenantName: TENANT, loginName: LOGIN, requestHash: "ab" });

    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ message: expect.stringContaining("timestamp") });
  });

  test("renewing the key invalidates the old one at once and the new one mints", async () => {
    const renewed = sim.renewApiKey(CLUSTER, TENANT, LOGIN);

    const withOld = await mintRequest({ key: apiKey });
    const withNew = await mintRequest({ key: renewed });

    expect(renewed).not.toBe(apiKey);
    expect([withOld.status, withNew.status]).toEqual([401, 201]);
  });

  test("a user has one key: generating a second is an error, renewing one that does not exist too", () => {
    expect(() => sim.issueApiKey(CLUSTER, TENANT, LOGIN)).toThrow(/renewApiKey/);
    expect(() => sim.renewApiKey(CLUSTER, TENANT, "nobody")).toThrow(/issueApiKey/);
  });
});

describe("v1 token refresh", () => {
  test("a refresh answers a new pair and invalidates both tokens of the previous one", async () => {
    const first = await mint();

    const response = await refreshRequest(first);

    expect(response.status).toBe(201);
    const second = (await response.json()) as IncortaTokenAnswer;
    expect(second.accessToken).not.toBe(first.accessToken);
    expect(second.refreshToken).not.toBe(first.refreshToken);
    expect(sim.isAccessTokenValid(first.accessToken)).toBe(false);
    expect(sim.isAccessTokenValid(second.accessToken)).toBe(true);
    expect((await refreshRequest(first)).status).toBe(401);
  });

  test("refreshing an already refreshed pair says the refresh token was used", async () => {
    const first = await mint();
    await refreshRequest(first);

    const again = await refreshRequest(first);

    expect(again.status).toBe(401);
    expect(await again.json()).toEqual({ message: expect.stringContaining("already used") });
  });

  test("a refresh token works after its access token expired, and not after it expired itself", async () => {
    const first = await mint();
    clock.advance(11 * MINUTE);
    const afterAccessExpiry = await refreshRequest(first);
    const second = (await afterAccessExpiry.json()) as IncortaTokenAnswer;
    clock.set(second.refreshTokenExpiresAt);

    const afterRefreshExpiry = await refreshRequest(second);

    expect(afterAccessExpiry.status).toBe(201);
    expect(afterRefreshExpiry.status).toBe(401);
    expect(await afterRefreshExpiry.json()).toEqual({ message: expect.stringContaining("expired") });
  });

  test("a refresh token sent with another pair's access token gets a 401", async () => {
    const first = await mint();
    const other = await mint();

    const response = await refreshRequest({
      accessToken: other.accessToken,
      refreshToken: first.refreshToken,
    });

    expect(response.status).toBe(401);
    expect(sim.isAccessTokenValid(first.accessToken)).toBe(true);
  });

  test("minting again leaves the user's other pairs valid", async () => {
    const first = await mint();

    await mint();

    expect(sim.isAccessTokenValid(first.accessToken)).toBe(true);
  });
});

describe("v1 protected endpoint", () => {
  test("accepts only the newest access token of a refreshed chain", async () => {
    const first = await mint();
    const second = (await (await refreshRequest(first)).json()) as IncortaTokenAnswer;

    const statuses = [
      (await schemasV1(first.accessToken)).status,
      (await schemasV1(second.accessToken)).status,
    ];

    expect(statuses).toEqual([401, 200]);
  });

  test("refuses an access token once it expired", async () => {
    const pair = await mint();
    clock.set(pair.accessTokenExpiresAt);

    const response = await schemasV1(pair.accessToken);

    expect(response.status).toBe(401);
    expect(sim.isAccessTokenValid(pair.accessToken)).toBe(false);
  });

  test("refuses a refresh token, a PAT and no token at all", async () => {
    const pair = await mint();
    const pat = createPat("reporting");

    const statuses = [
      (await schemasV1(pair.refreshToken)).status,
      (await schemasV1(pat.token)).status,
      (await fetch(`${sim.baseUrl(CLUSTER)}/v1/schemas`)).status,
    ];

    expect(statuses).toEqual([401, 401, 401]);
  });
});

describe("v2 personal access tokens", () => {
  test("a live PAT lists its tenant's schemas, one per page as asked", async () => {
    const pat = createPat("reporting");

    const response = await listV2(pat.token);

    expect(response.status).toBe(200);
    const body = (await response.json()) as { schemasDetails: unknown[]; total: number };
    expect(body.schemasDetails).toHaveLength(1);
    expect(body.total).toBeGreaterThan(1);
  });

  test("a revoked PAT gets a 401 at once", async () => {
    const pat = createPat("reporting");

    sim.revokePat(pat.id);

    expect((await listV2(pat.token)).status).toBe(401);
    expect(sim.isPatLive(pat.token)).toBe(false);
  });

  test("a PAT works until its expiry and gets a 401 from then on", async () => {
    const pat = createPat("reporting", 60 * MINUTE);
    clock.advance(60 * MINUTE - 1);
    const before = await listV2(pat.token);
    clock.advance(1);

    const after = await listV2(pat.token);

    expect([before.status, after.status]).toEqual([200, 401]);
  });

  test("a live PAT used with another existing tenant in the path gets a 403", async () => {
    const pat = createPat("reporting");
    sim.createPat(CLUSTER, "other-tenant", "someone", {
      name: "x",
      expiresAt: new Date(clock.now() + MINUTE),
    });

    const response = await listV2(pat.token, "other-tenant");

    expect(response.status).toBe(403);
    expect(await response.json()).toEqual({ message: expect.stringContaining("other-tenant") });
  });

  test("a PAT of another cluster and an unknown token get a 401", async () => {
    const pat = createPat("reporting");
    sim.createPat("other.cloud.incorta.com", TENANT, LOGIN, {
      name: "x",
      expiresAt: new Date(clock.now() + MINUTE),
    });

    const statuses = [
      (await listV2(pat.token, TENANT, "other.cloud.incorta.com")).status,
      (await listV2("x".repeat(54))).status,
    ];

    expect(statuses).toEqual([401, 401]);
  });

  test("a bad PAT gets a 401 with Incorta's INC_ error code", async () => {
    const revoked = createPat("revoked");
    sim.revokePat(revoked.id);

    const answers = [await listV2("x".repeat(54)), await listV2(revoked.token)];

    for (const answer of answers) {
      expect(answer.status).toBe(401);
      expect(await answer.json()).toEqual({ message: "INC_09030101: Invalid personal access token." });
    }
  });

  test("an unknown tenant gets a 404, whatever the token", async () => {
    const pat = createPat("reporting");

    const statuses = [
      (await listV2(pat.token, "nowhere")).status,
      (await listV2("x".repeat(54), "nowhere")).status,
    ];

    expect(statuses).toEqual([404, 404]);
  });

  test("a disabled tenant gets a 404", async () => {
    const pat = createPat("reporting");

    sim.disableTenant(CLUSTER, TENANT);

    expect((await listV2(pat.token)).status).toBe(404);
  });

  test("schema/list refuses a live PAT of a user without schema permission with a 403; sqlConnection accepts it", async () => {
    const pat = createPat("reporting");
    sim.setSchemaAccess(CLUSTER, TENANT, LOGIN, false);

    const list = await listV2(pat.token);
    const sql = await sqlConnection(pat.token);

    expect(list.status).toBe(403);
    expect(await list.json()).toEqual({ message: expect.stringContaining("schemas") });
    expect(sql.status).toBe(200);
  });

  test("configs/sqlConnection answers any tenant user's PAT with the SQLi address as plain text", async () => {
    const pat = createPat("reporting");

    const answer = await sqlConnection(pat.token);
    const bad = await sqlConnection("x".repeat(54));

    expect(answer.status).toBe(200);
    expect(answer.headers.get("content-type")).toContain("text/plain");
    expect(await answer.text()).toMatch(/^[a-z0-9.-]+:\d+$/);
    expect(bad.status).toBe(401);
  });

  test("an on-premises cluster answers plain HTTP and offers no configs/sqlConnection", async () => {
    const onPrem = "incorta.corp.example:8080";
    sim.installOnPremises(onPrem);
    const pat = sim.createPat(onPrem, TENANT, LOGIN, {
      name: "r",
      expiresAt: new Date(clock.now() + MINUTE),
    });

    const list = await fetch(`${sim.baseUrl(onPrem)}/v2/${TENANT}/schema/list?schemaType=ALL`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: `Bearer ${pat.token}`,
        "x-forwarded-proto": "http",
      },
      body: JSON.stringify({ limit: 1, offset: 0 }),
    });
    const sql = await sqlConnection(pat.token, onPrem);

    expect(list.status).toBe(200);
    expect(sql.status).toBe(404);
  });

  test("a user may have 10 active PATs; the 11th is refused until one is revoked", () => {
    const created = Array.from({ length: 10 }, (_, index) => createPat(`pat-${index}`));

    expect(() => createPat("eleventh")).toThrow(/10 active/);
    sim.revokePat(created[0]?.id ?? "");
    expect(() => createPat("eleventh")).not.toThrow();
    expect(sim.pats().filter((pat) => pat.active)).toHaveLength(10);
  });

  test("expired PATs do not count towards the limit", () => {
    for (let index = 0; index < 10; index++) createPat(`short-${index}`, MINUTE);
    clock.advance(MINUTE);

    expect(() => createPat("after expiry")).not.toThrow();
  });

  test("the path without a tenant is not an endpoint", async () => {
    const pat = createPat("reporting");

    const response = await fetch(`${sim.baseUrl(CLUSTER)}/v2/schema/list?schemaType=ALL`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${pat.token}` },
      body: "{}",
    });

    expect(response.status).toBe(404);
  });
});

describe("faults and bookkeeping", () => {
  test("a 500 fault on refresh answers Incorta's message shape and leaves the pair valid", async () => {
    const pair = await mint();
    sim.faults.add({ path: "/incorta/api/v1/tokens/refresh", fault: { kind: "status", status: 500 } });

    const failed = await refreshRequest(pair);
    const retried = await refreshRequest(pair);

    expect(failed.status).toBe(500);
    expect(await failed.json()).toEqual({ message: expect.any(String) });
    expect(retried.status).toBe(201);
  });

  test("an 'after' fault refreshes the pair but loses the answer", async () => {
    const pair = await mint();
    sim.faults.add({
      path: "/incorta/api/v1/tokens/refresh",
      phase: "after",
      fault: { kind: "status", status: 502 },
    });

    const lost = await refreshRequest(pair);

    expect(lost.status).toBe(502);
    expect(sim.isAccessTokenValid(pair.accessToken)).toBe(false);
  });

  test("a request that arrived over plain HTTP is refused", async () => {
    const timestamp = clock.now();
    const response = await post(
      "/v1/tokens",
      { tenantName: TENANT, loginName: LOGIN, requestHash: requestHashOf(apiKey, timestamp), timestamp },
      { "x-forwarded-proto": "http" },
    );

    expect(response.status).toBe(403);
    expect(await response.json()).toEqual({ message: expect.stringContaining("HTTPS") });
  });

  test("requests are recorded by cluster, path and status, without credentials", async () => {
    const pair = await mint();
    await schemasV1(pair.accessToken);

    expect(
      sim.requests.map(({ method, cluster, path, status }) => ({ method, cluster, path, status })),
    ).toEqual([
      { method: "POST", cluster: CLUSTER, path: "/incorta/api/v1/tokens", status: 201 },
      { method: "GET", cluster: CLUSTER, path: "/incorta/api/v1/schemas", status: 200 },
    ]);
    expect(JSON.stringify(sim.requests)).not.toContain(pair.accessToken);
    sim.resetRequests();
    expect(sim.requests).toEqual([]);
  });

  test("issuedValues lists every key, token and PAT handed out", async () => {
    const renewed = sim.renewApiKey(CLUSTER, TENANT, LOGIN);
    const pair = await mint(renewed);
    const pat = createPat("reporting");

    expect(sim.issuedValues).toEqual([apiKey, renewed, pair.accessToken, pair.refreshToken, pat.token]);
  });
});
