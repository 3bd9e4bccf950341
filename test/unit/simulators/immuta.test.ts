// The Immuta Request app simulator over real HTTP: the PAT contract of docs/vendors.md, "Immuta",
// and the fault injection every vendor simulator shares.
import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { ManualClock } from "../../../sandbox/simulators/clock.ts";
import {
  type ImmutaRegion,
  type ImmutaSimulator,
  type ImmutaSimulatorOptions,
  type SimulatedUser,
  startImmutaSimulator,
} from "../../../sandbox/simulators/immuta.ts";

const NOT_AUTHENTICATED = { message: "Not authenticated.", error: "Unauthorized", statusCode: 401 };
const TOKENS_PATH = "/marketplace/api/auth/tokens";

let clock: ManualClock;
let sim: ImmutaSimulator;
let user: SimulatedUser;
let token: string;
const started: ImmutaSimulator[] = [];

async function start(options: ImmutaSimulatorOptions = {}): Promise<ImmutaSimulator> {
  const simulator = await startImmutaSimulator({ clock, ...options });
  started.push(simulator);
  return simulator;
}

beforeEach(async () => {
  clock = new ManualClock(new Date("2025-06-01T00:00:00Z"));
  sim = await start();
  user = sim.createUser("na", { name: "rotation-bot" });
  token = sim.seedToken("na", user.userId, { description: "seeded in the web UI" }).token;
});

afterEach(async () => {
  await Promise.all(started.splice(0).map((simulator) => simulator.close()));
});

interface CallOptions {
  method?: string;
  token?: string;
  body?: unknown;
  region?: ImmutaRegion;
  simulator?: ImmutaSimulator;
  redirect?: RequestInit["redirect"];
  signal?: AbortSignal;
}

function call(path: string, options: CallOptions = {}): Promise<Response> {
  const headers: Record<string, string> = {};
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers["content-type"] = "application/json";
  const body = typeof options.body === "string" ? options.body : JSON.stringify(options.body);
  const url = `${(options.simulator ?? sim).baseUrl(options.region ?? "na")}${path}`;
  return fetch(url, {
    method: options.method ?? "GET",
    headers,
    ...(options.body === undefined ? {} : { body }),
    ...(options.redirect ? { redirect: options.redirect } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
}

async function mint(body: unknown = { description: "keyturn:immuta:v2" }): Promise<Response> {
  return call("/api/auth/tokens", { method: "POST", token, body });
}

async function mintValue(): Promise<{ tokenId: string; token: string }> {
  return (await (await mint()).json()) as { tokenId: string; token: string };
}

describe("minting a token", () => {
  test("returns a uuid and a JWT (three base64url parts), as Immuta's PATs are", async () => {
    const response = await mint();

    expect(response.status).toBe(200);
    const body = (await response.json()) as { tokenId: string; token: string };
    expect(body.tokenId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(body.token).toMatch(/^[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{40,}$/);
    const claims = JSON.parse(Buffer.from(body.token.split(".")[1] ?? "", "base64url").toString("utf8"));
    expect(claims).toMatchObject({ sub: user.userId, jti: body.tokenId });
  });

  test("the new value authenticates as the user who minted it", async () => {
    const minted = await mintValue();

    const response = await call("/api/auth/user", { token: minted.token });

    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      globalUserId: user.userId,
      tenantInfo: { id: user.tenantId, globalSegment: "na" },
    });
  });

  test("the value is never shown again by list, get or the test-facing records", async () => {
    const minted = await mintValue();

    const listed = await (await call("/api/auth/tokens", { token })).text();
    const fetched = await (await call(`/api/auth/tokens/${minted.tokenId}`, { token })).text();

    expect(listed).toContain(minted.tokenId);
    expect(fetched).toContain(minted.tokenId);
    for (const text of [listed, fetched, JSON.stringify(sim.tokens()), JSON.stringify(sim.requests)]) {
      expect(text).not.toContain(minted.token);
    }
  });

  test("records the description and expiration date it was given", async () => {
    const minted = await mintValue();
    await mint({ description: "expiring", expirationDate: "2025-09-01T00:00:00.000Z" });

    const [first, second] = ((await (await call("/api/auth/tokens", { token })).json()) as unknown[]).slice(
      1,
    );

    expect(first).toEqual({
      tokenId: minted.tokenId,
      userId: user.userId,
      tenantId: user.tenantId,
      description: "keyturn:immuta:v2",
      active: true,
      creationDate: "2025-06-01T00:00:00.000Z",
    });
    expect(second).toMatchObject({ description: "expiring", expirationDate: "2025-09-01T00:00:00.000Z" });
  });

  test("without an expiration date the token never expires", async () => {
    const minted = await mintValue();
    clock.advance(100 * 365 * 24 * 3600 * 1000);

    const response = await call("/api/auth/user", { token: minted.token });

    expect(response.status).toBe(200);
  });

  test("rejects a body without a description with NestJS validation messages", async () => {
    const response = await mint({});

    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({
      message: ["description should not be empty", "description must be a string"],
      error: "Bad Request",
      statusCode: 400,
    });
  });

  test("rejects an expiration date in the past", async () => {
    const response = await mint({ description: "late", expirationDate: "2025-05-31T23:59:59Z" });

    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ message: ["expirationDate must be in the future"] });
  });

  test("rejects an expiration date that is not an ISO date-time", async () => {
    const response = await mint({ description: "soon", expirationDate: "next tuesday" });

    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({
      message: ["expirationDate must be a valid ISO 8601 date string"],
    });
  });

  test("rejects a body that is not valid JSON", async () => {
    const response = await mint('{"description":');

    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: "Bad Request", statusCode: 400 });
  });
});

describe("reading tokens", () => {
  test("the user endpoint answers with the calling token's user, in the spec's UserWithPermissionsAndEntitlements shape", async () => {
    const response = await call("/api/auth/user", { token });

    expect(await response.json()).toMatchObject({
      displayName: "rotation-bot",
      globalUserId: user.userId,
      tenantInfo: { id: user.tenantId, globalSegment: "na" },
      authorizations: {},
      groups: [],
    });
  });

  test("the list shows only the calling user's tokens", async () => {
    const other = sim.createUser("na", { tenantId: user.tenantId });
    const othersToken = sim.seedToken("na", other.userId, { description: "someone else's" });

    const listed = (await (await call("/api/auth/tokens", { token })).json()) as { tokenId: string }[];

    expect(listed.map((t) => t.tokenId)).not.toContain(othersToken.tokenId);
    expect(listed).toHaveLength(1);
  });

  test("another user's token id is not found", async () => {
    const other = sim.createUser("na", { tenantId: user.tenantId });
    const othersToken = sim.seedToken("na", other.userId, { description: "someone else's" });

    const response = await call(`/api/auth/tokens/${othersToken.tokenId}`, { token });

    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ error: "Not Found", statusCode: 404 });
  });
});

describe("deleting a token", () => {
  test("answers 200, after which getting it is a 404", async () => {
    const minted = await mintValue();

    const deleted = await call(`/api/auth/tokens/${minted.tokenId}`, { method: "DELETE", token });
    const fetched = await call(`/api/auth/tokens/${minted.tokenId}`, { token });

    expect(deleted.status).toBe(200);
    expect(fetched.status).toBe(404);
  });

  test("deleting it a second time is a 404", async () => {
    const minted = await mintValue();
    await call(`/api/auth/tokens/${minted.tokenId}`, { method: "DELETE", token });

    const again = await call(`/api/auth/tokens/${minted.tokenId}`, { method: "DELETE", token });

    expect(again.status).toBe(404);
  });

  test("the deleted value no longer authenticates", async () => {
    const minted = await mintValue();
    await call(`/api/auth/tokens/${minted.tokenId}`, { method: "DELETE", token });

    const response = await call("/api/auth/user", { token: minted.token });

    expect(response.status).toBe(401);
    expect(await response.json()).toEqual(NOT_AUTHENTICATED);
    expect(sim.isLive(minted.token)).toBe(false);
  });
});

describe("authentication", () => {
  test("an expired token gets 401 once the clock passes its expiration date", async () => {
    const expiring = sim.seedToken("na", user.userId, {
      description: "short-lived",
      expirationDate: new Date("2025-06-02T00:00:00Z"),
    });
    clock.advance(24 * 3600 * 1000);

    const response = await call("/api/auth/user", { token: expiring.token });

    expect(response.status).toBe(401);
    expect(await response.json()).toEqual(NOT_AUTHENTICATED);
  });

  test("an expired token is still listed, as inactive", async () => {
    const expiring = sim.seedToken("na", user.userId, {
      description: "short-lived",
      expirationDate: new Date("2025-06-02T00:00:00Z"),
    });
    clock.advance(24 * 3600 * 1000);

    const response = await call(`/api/auth/tokens/${expiring.tokenId}`, { token });

    expect(await response.json()).toMatchObject({
      active: false,
      expirationDate: "2025-06-02T00:00:00.000Z",
    });
  });

  test("a token used in the wrong region gets the documented 401 body exactly", async () => {
    const response = await call("/api/auth/user", { token, region: "eu" });

    expect(response.status).toBe(401);
    expect(await response.text()).toBe(
      '{"message":"Not authenticated.","error":"Unauthorized","statusCode":401}',
    );
  });

  test("a request without a token gets 401", async () => {
    const response = await call("/api/auth/tokens");

    expect(response.status).toBe(401);
    expect(await response.json()).toEqual(NOT_AUTHENTICATED);
  });

  test("an unknown token gets 401", async () => {
    const response = await call("/api/auth/user", { token: "x".repeat(43) });

    expect(response.status).toBe(401);
  });

  test("a host segment that is not an Immuta region is a 404", async () => {
    const response = await fetch(`${sim.url}/us.api.immutacloud.com/marketplace/api/auth/user`, {
      headers: { authorization: `Bearer ${token}` },
    });

    expect(response.status).toBe(404);
  });

  test("without self-issue a token cannot mint its successor", async () => {
    const strict = await start({ selfIssue: false });
    const strictUser = strict.createUser("na");
    const plain = strict.seedToken("na", strictUser.userId, { description: "plain" });

    const response = await call("/api/auth/tokens", {
      simulator: strict,
      method: "POST",
      token: plain.token,
      body: { description: "successor" },
    });

    expect(response.status).toBe(403);
    expect(await response.json()).toEqual({
      message: "Forbidden resource",
      error: "Forbidden",
      statusCode: 403,
    });
  });

  test("without self-issue a token seeded with canIssue can still mint", async () => {
    const strict = await start({ selfIssue: false });
    const strictUser = strict.createUser("na");
    const issuer = strict.seedToken("na", strictUser.userId, { description: "admin", canIssue: true });

    const response = await call("/api/auth/tokens", {
      simulator: strict,
      method: "POST",
      token: issuer.token,
      body: { description: "successor" },
    });

    expect(response.status).toBe(200);
  });
});

describe("faults", () => {
  test("a 429 carries the Retry-After it was given", async () => {
    sim.faults.add({
      path: "/marketplace/api/auth/user",
      fault: { kind: "status", status: 429, retryAfter: "7" },
    });

    const response = await call("/api/auth/user", { token });

    expect(response.status).toBe(429);
    expect(response.headers.get("retry-after")).toBe("7");
  });

  test("a 500 answers in the vendor's error shape", async () => {
    sim.faults.add({ fault: { kind: "status", status: 500 } });

    const response = await call("/api/auth/user", { token });

    expect(response.status).toBe(500);
    expect(await response.json()).toEqual({
      message: "Internal Server Error",
      error: "Internal Server Error",
      statusCode: 500,
    });
  });

  test("a rule without times applies to one request only", async () => {
    sim.faults.add({ fault: { kind: "status", status: 503 } });

    const first = await call("/api/auth/user", { token });
    const second = await call("/api/auth/user", { token });

    expect([first.status, second.status]).toEqual([503, 200]);
  });

  test("a rule for one method and path leaves other requests alone", async () => {
    sim.faults.add({
      method: "POST",
      path: TOKENS_PATH,
      times: Infinity,
      fault: { kind: "status", status: 500 },
    });

    const listed = await call("/api/auth/tokens", { token });
    const minted = await mint();

    expect([listed.status, minted.status]).toEqual([200, 500]);
  });

  test("a before-phase fault answers without performing the action", async () => {
    sim.faults.add({ method: "POST", path: TOKENS_PATH, fault: { kind: "status", status: 500 } });

    await mint();

    expect(sim.liveTokens("na")).toHaveLength(1);
  });

  test("an after-phase fault performs the action and loses the answer", async () => {
    sim.faults.add({
      method: "POST",
      path: TOKENS_PATH,
      phase: "after",
      fault: { kind: "status", status: 500 },
    });

    const response = await mint();

    expect(response.status).toBe(500);
    expect(sim.liveTokens("na").map((t) => t.description)).toContain("keyturn:immuta:v2");
  });

  test("a delay answers normally, only later", async () => {
    sim.faults.add({ fault: { kind: "delay", ms: 200 } });
    const startedAt = performance.now();

    const response = await call("/api/auth/user", { token });

    expect(response.status).toBe(200);
    expect(performance.now() - startedAt).toBeGreaterThanOrEqual(190);
  });

  test("a delayed mint still takes effect after the client gives up", async () => {
    sim.faults.add({ method: "POST", path: TOKENS_PATH, fault: { kind: "delay", ms: 300 } });

    const outcome = await call("/api/auth/tokens", {
      method: "POST",
      token,
      body: { description: "keyturn:immuta:v2" },
      signal: AbortSignal.timeout(50),
    }).then(
      () => "answered",
      () => "gave up",
    );
    await vi.waitFor(() => expect(sim.liveTokens("na")).toHaveLength(2), { timeout: 2_000 });

    expect(outcome).toBe("gave up");
  });

  test("a drip sends the headers at once and the body slowly", async () => {
    sim.faults.add({ fault: { kind: "drip", ms: 400 } });
    const startedAt = performance.now();

    const response = await call("/api/auth/user", { token });
    const headersAfter = performance.now() - startedAt;
    const body = await response.json();
    const bodyAfter = performance.now() - startedAt;

    // Order and a lower bound only: a busy machine may deliver the headers late, never the body early.
    expect(headersAfter).toBeLessThan(bodyAfter);
    expect(bodyAfter).toBeGreaterThanOrEqual(350);
    expect(body).toMatchObject({ globalUserId: user.userId });
  });

  test("a malformed answer is a 200 whose body is not JSON", async () => {
    sim.faults.add({ fault: { kind: "malformed" } });

    const response = await call("/api/auth/tokens", { token });

    expect(response.status).toBe(200);
    await expect(response.json()).rejects.toThrow(SyntaxError);
  });

  test("an html fault is a 502 with an HTML page", async () => {
    sim.faults.add({ fault: { kind: "html" } });

    const response = await call("/api/auth/user", { token });

    expect(response.status).toBe(502);
    expect(response.headers.get("content-type")).toBe("text/html");
    expect(await response.text()).toContain("<h1>502 Bad Gateway</h1>");
  });

  test("an empty fault is a 200 with no body", async () => {
    sim.faults.add({ fault: { kind: "empty" } });

    const response = await call("/api/auth/user", { token });

    expect(response.status).toBe(200);
    expect(await response.text()).toBe("");
  });

  test("a dropped connection gets no answer at all", async () => {
    sim.faults.add({ fault: { kind: "drop" } });

    const outcome = call("/api/auth/user", { token });

    await expect(outcome).rejects.toThrow(TypeError);
  });

  test("a redirect answers with its status and location", async () => {
    sim.faults.add({ fault: { kind: "redirect", location: "https://login.example.com/" } });

    const response = await call("/api/auth/user", { token, redirect: "manual" });

    expect(response.status).toBe(302);
    expect(response.headers.get("location")).toBe("https://login.example.com/");
  });
});

describe("test-facing API", () => {
  test("requests are recorded with method, region, path and status but no credential", async () => {
    sim.resetRequests();

    await call("/api/auth/user", { token });
    await call("/api/auth/user", { token, region: "ap" });

    expect(sim.requests).toEqual([
      { method: "GET", region: "na", path: "/marketplace/api/auth/user", status: 200, at: clock.now() },
      { method: "GET", region: "ap", path: "/marketplace/api/auth/user", status: 401, at: clock.now() },
    ]);
    expect(JSON.stringify(sim.requests)).not.toContain(token);
  });

  test("live tokens leave out expired and deleted ones while tokens keeps them", async () => {
    const expiring = sim.seedToken("na", user.userId, {
      description: "expiring",
      expirationDate: new Date(clock.now() + 1000),
    });
    const minted = await mintValue();
    await call(`/api/auth/tokens/${minted.tokenId}`, { method: "DELETE", token });
    clock.advance(1000);

    const live = sim.liveTokens().map((t) => t.tokenId);
    const all = sim.tokens().map((t) => t.tokenId);

    expect(live).not.toContain(expiring.tokenId);
    expect(live).not.toContain(minted.tokenId);
    expect(all).toEqual(expect.arrayContaining([expiring.tokenId, minted.tokenId]));
  });

  test("isLive tells a live value from an unknown one", () => {
    expect([sim.isLive(token), sim.isLive("not-a-token")]).toEqual([true, false]);
  });

  test("close returns promptly with a keep-alive connection open", async () => {
    await (await call("/api/auth/user", { token })).text();
    const startedAt = performance.now();

    await sim.close();

    // Node keeps an idle keep-alive connection open for 5 s: closing must not wait for it.
    expect(performance.now() - startedAt).toBeLessThan(4_000);
  });

  test("close returns promptly while a delayed answer is pending", async () => {
    const rule = sim.faults.add({ fault: { kind: "delay", ms: 60_000 } });
    const pending = call("/api/auth/user", { token }).catch((error: unknown) => error);
    await vi.waitFor(() => expect(sim.faults.hits(rule)).toBe(1));
    const startedAt = performance.now();

    await sim.close();

    // The answer was due in 60 s: closing must not wait for it.
    expect(performance.now() - startedAt).toBeLessThan(30_000);
    expect(await pending).toBeInstanceOf(TypeError);
  });
});
