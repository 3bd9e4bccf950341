// The SoftwareOne Marketplace Platform simulator over real HTTP: the API token contract of
// docs/vendors.md, "SoftwareOne" (auth, administrator rights, RQL lists, disable/delete, problem details), and
// where SoftwareOne's spec and reference pages speak, what they say (issue 18).
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { ManualClock } from "#sandbox/simulators/clock.ts";
import {
  type ApiToken,
  SOFTWAREONE_ADMIN_MODULE,
  type SoftwareOneSimulator,
  startSoftwareOneSimulator,
} from "#sandbox/simulators/softwareone.ts";

const TOKENS_PATH = "/public/v1/accounts/api-tokens";
const PROBLEM_KEYS = ["detail", "instance", "status", "title", "traceId", "type"];

interface ListAnswer {
  $meta: { pagination: { offset: number; limit: number; total: number | null }; omitted: string[] };
  data: Partial<ApiToken>[];
}

let clock: ManualClock;
let sim: SoftwareOneSimulator;
let accountId: string;
let admin: { id: string; token: string };

beforeEach(async () => {
  clock = new ManualClock(new Date("2026-03-01T09:00:00Z"));
  sim = await startSoftwareOneSimulator({ clock });
  accountId = sim.createAccount({ name: "Contoso" }).accountId;
  admin = sim.seedToken(accountId, { name: "keyturn issuer", admin: true });
});

afterEach(async () => {
  await sim.close();
});

interface CallOptions {
  method?: string;
  token?: string;
  body?: unknown;
  headers?: Record<string, string>;
}

function call(pathAndQuery: string, options: CallOptions = {}): Promise<Response> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers["content-type"] = "application/json";
  return fetch(`${sim.baseUrl}${pathAndQuery}`, {
    method: options.method ?? "GET",
    headers,
    ...(options.body === undefined
      ? {}
      : { body: typeof options.body === "string" ? options.body : JSON.stringify(options.body) }),
  });
}

async function list(query: string, token = admin.token): Promise<ListAnswer> {
  const response = await call(`/accounts/api-tokens?${query}`, { token });
  expect(response.status).toBe(200);
  return (await response.json()) as ListAnswer;
}

async function create(body: unknown, token = admin.token): Promise<Response> {
  return call("/accounts/api-tokens", { method: "POST", token, body });
}

async function mint(
  fields: { name?: string; description?: string; modules?: string[] } = {},
): Promise<ApiToken & { token: string }> {
  const response = await create({
    account: { id: accountId },
    name: fields.name ?? "reporting",
    ...(fields.description === undefined ? {} : { description: fields.description }),
    modules: (fields.modules ?? ["MOD-1001"]).map((id) => ({ id })),
  });
  expect(response.status).toBe(201);
  return (await response.json()) as ApiToken & { token: string };
}

describe("authentication", () => {
  test("a request without a token gets a 401 problem details answer", async () => {
    const response = await call("/accounts/api-tokens");

    expect(response.status).toBe(401);
    expect(response.headers.get("content-type")).toBe("application/problem+json; charset=utf-8");
    const problem = (await response.json()) as Record<string, unknown>;
    expect(Object.keys(problem).sort()).toEqual(PROBLEM_KEYS);
    expect(problem).toMatchObject({ status: 401, title: "Unauthorized", instance: TOKENS_PATH });
    expect(problem.traceId).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
  });

  test("an unknown token of the right shape gets 401", async () => {
    const response = await call(`/accounts/api-tokens/${admin.id}`, {
      token: `idt:${admin.id}:${"x".repeat(43)}`,
    });

    expect(response.status).toBe(401);
  });

  test("a disabled token gets 401 until it is enabled again", async () => {
    const minted = await mint();
    await call(`/accounts/api-tokens/${minted.id}/disable`, { method: "POST", token: admin.token });

    const whileDisabled = await call(`/accounts/api-tokens/${minted.id}`, { token: minted.token });
    await call(`/accounts/api-tokens/${minted.id}/enable`, { method: "POST", token: admin.token });
    const afterEnable = await call(`/accounts/api-tokens/${minted.id}`, { token: minted.token });

    expect([whileDisabled.status, afterEnable.status]).toEqual([401, 200]);
  });

  test("a deleted token gets 401", async () => {
    const minted = await mint();
    await call(`/accounts/api-tokens/${minted.id}`, { method: "DELETE", token: admin.token });

    const response = await call(`/accounts/api-tokens/${minted.id}`, { token: minted.token });

    expect(response.status).toBe(401);
    expect(sim.isLive(minted.token)).toBe(false);
  });

  test("a host other than the platform's is a 404", async () => {
    const response = await fetch(`${sim.url}/api.softwareone.com/public/v1/accounts/api-tokens`, {
      headers: { authorization: `Bearer ${admin.token}` },
    });

    expect(response.status).toBe(404);
  });

  test("a request that arrived over plain HTTP is refused", async () => {
    const response = await call("/accounts/api-tokens", {
      token: admin.token,
      headers: { "x-forwarded-proto": "http" },
    });

    expect(response.status).toBe(403);
    expect(await response.json()).toMatchObject({ detail: expect.stringContaining("HTTPS") });
  });

  test("every authenticated call sets the caller's lastAccessAt from the clock", async () => {
    clock.advance(3_600_000);

    await call(`/accounts/api-tokens/${admin.id}`, { token: admin.token });

    expect(sim.tokens().find((t) => t.id === admin.id)?.lastAccessAt).toBe("2026-03-01T10:00:00.000Z");
  });

  test("a token that was never used has no lastAccessAt, even when selected", async () => {
    const minted = await mint();

    const answer = (await (
      await call(`/accounts/api-tokens/${minted.id}?select=+lastAccessAt`, { token: admin.token })
    ).json()) as ApiToken;

    expect(answer).not.toHaveProperty("lastAccessAt");
  });

  test("a GET of one token leaves out lastAccessAt unless select=+lastAccessAt, and says so in $meta", async () => {
    sim.touch(admin.id, new Date("2026-02-28T12:00:00Z"));

    const plain = (await (
      await call(`/accounts/api-tokens/${admin.id}`, { token: admin.token })
    ).json()) as Record<string, unknown>;
    const selected = (await (
      await call(`/accounts/api-tokens/${admin.id}?select=+lastAccessAt,-token`, { token: admin.token })
    ).json()) as Record<string, unknown>;

    expect(plain).not.toHaveProperty("lastAccessAt");
    expect(plain.$meta).toEqual({ omitted: ["lastAccessAt"] });
    expect(selected.lastAccessAt).toBe("2026-03-01T09:00:00.000Z"); // the call itself used it
    expect(selected).not.toHaveProperty("$meta");
    expect(selected).not.toHaveProperty("token");
  });

  test("a GET of one token with a query parameter other than select is a 400", async () => {
    const response = await call(`/accounts/api-tokens/${admin.id}?limit=1`, { token: admin.token });

    expect(response.status).toBe(400);
  });

  test("an older token, seeded without the idt: prefix, authenticates with its bare value", async () => {
    const legacy = sim.seedToken(accountId, { name: "older", legacy: true });

    const response = await call(`/accounts/api-tokens/${legacy.id}`, { token: legacy.token });

    expect(legacy.token).toMatch(/^[A-Za-z0-9]{64}$/);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ id: legacy.id, token: legacy.token });
    expect(sim.issuedValues).toContain(legacy.token);
  });
});

describe("administrator rights", () => {
  test("a token without the admin module cannot list tokens", async () => {
    const plain = sim.seedToken(accountId, { name: "consumer" });

    const response = await call("/accounts/api-tokens", { token: plain.token });

    expect(response.status).toBe(403);
    expect(await response.json()).toMatchObject({ status: 403, title: "Forbidden" });
  });

  test("a token without the admin module cannot read another token", async () => {
    const plain = sim.seedToken(accountId, { name: "consumer" });

    const response = await call(`/accounts/api-tokens/${admin.id}`, { token: plain.token });

    expect(response.status).toBe(403);
  });

  test("any token may read its own record; select=-token leaves its value out", async () => {
    const plain = sim.seedToken(accountId, { name: "consumer" });

    const response = await call(`/accounts/api-tokens/${plain.id}?select=-token`, { token: plain.token });

    expect(response.status).toBe(200);
    const record = (await response.json()) as ApiToken;
    expect(record).toMatchObject({ id: plain.id, name: "consumer", status: "Active" });
    expect(record).not.toHaveProperty("token");
  });

  test("a token minted with the admin module may manage tokens; one minted without may not", async () => {
    const withAdmin = await mint({ modules: [SOFTWAREONE_ADMIN_MODULE, "MOD-1001"] });
    const without = await mint({ modules: ["MOD-1001"] });

    const statuses = [
      (await call("/accounts/api-tokens", { token: withAdmin.token })).status,
      (await call("/accounts/api-tokens", { token: without.token })).status,
    ];

    expect(statuses).toEqual([200, 403]);
  });

  test("any token may list the modules it could be granted", async () => {
    const plain = sim.seedToken(accountId, { name: "consumer" });

    const response = await call("/accounts/modules", { token: plain.token });

    expect(response.status).toBe(200);
    const answer = (await response.json()) as { data: { id: string; name: string }[] };
    expect(answer.data.map((module) => module.id)).toContain(SOFTWAREONE_ADMIN_MODULE);
  });

  test("an administrator cannot see another account's tokens", async () => {
    const other = sim.createAccount().accountId;
    const foreign = sim.seedToken(other, { name: "theirs" });

    const response = await call(`/accounts/api-tokens/${foreign.id}`, { token: admin.token });

    expect(response.status).toBe(404);
  });

  test("an administrator cannot create a token in another account", async () => {
    const other = sim.createAccount().accountId;

    const response = await create({ account: { id: other }, name: "x", modules: [{ id: "MOD-1001" }] });

    expect(response.status).toBe(403);
  });
});

describe("creating a token", () => {
  test("answers 201 with the value idt:<id>:<secret>, account, modules and audit", async () => {
    const minted = await mint({ name: "reporting", description: "keyturn:x", modules: ["MOD-1003"] });

    expect(minted.id).toMatch(/^TKN-\d{4}-\d{4}$/);
    expect(minted.token.startsWith(`idt:${minted.id}:`)).toBe(true);
    expect(minted.token.length).toBeGreaterThan(`idt:${minted.id}:`.length + 32);
    expect(minted).toMatchObject({
      name: "reporting",
      description: "keyturn:x",
      status: "Active",
      account: { id: accountId, name: "Contoso" },
      modules: [{ id: "MOD-1003", name: "Billing" }],
      audit: { created: { at: "2026-03-01T09:00:00.000Z", by: { id: admin.id, name: "keyturn issuer" } } },
    });
  });

  test("the new value authenticates; an administrator's GET shows it again (the spec's token field)", async () => {
    const minted = await mint();

    const fetched = (await (
      await call(`/accounts/api-tokens/${minted.id}`, { token: admin.token })
    ).json()) as ApiToken;
    const listed = (await (await call("/accounts/api-tokens", { token: admin.token })).json()) as ListAnswer;

    expect(fetched).toMatchObject({ id: minted.id, token: minted.token });
    expect(listed.data.find((t) => t.id === minted.id)?.token).toBe(minted.token);
  });

  test("select=-token leaves the value out of a GET and a list, and the test-facing API never shows it", async () => {
    const minted = await mint();

    const fetched = await (
      await call(`/accounts/api-tokens/${minted.id}?select=-token`, { token: admin.token })
    ).text();
    const listed = await (await call("/accounts/api-tokens?select=-token", { token: admin.token })).text();
    const disabled = await (
      await call(`/accounts/api-tokens/${minted.id}/disable`, { method: "POST", token: admin.token })
    ).text();

    expect(fetched).toContain(minted.id);
    expect(listed).toContain(minted.id);
    for (const text of [
      fetched,
      listed,
      disabled,
      JSON.stringify(sim.tokens()),
      JSON.stringify(sim.requests),
    ]) {
      expect(text).not.toContain(minted.token);
    }
  });

  test("a body without name or modules is a 400 naming both, in error-object.md's array form", async () => {
    const response = await create({ account: { id: accountId } });

    expect(response.status).toBe(400);
    const problem = (await response.json()) as { errors: { message: string; properties: string[] }[] };
    expect(problem.errors.flatMap((error) => error.properties).sort()).toEqual(["modules", "name"]);
    expect(problem.errors.every((error) => typeof error.message === "string")).toBe(true);
  });

  test("an unknown module is a 400 naming it", async () => {
    const response = await create({ account: { id: accountId }, name: "x", modules: [{ id: "MOD-9999" }] });

    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({
      errors: [{ message: expect.stringContaining("MOD-9999"), properties: ["modules[0].id"] }],
    });
  });

  test("problemErrors: map answers errors-handling.md's {field: [messages]} form", async () => {
    sim.configure({ problemErrors: "map" });

    const response = await create({ account: { id: accountId }, name: "x", modules: [{ id: "MOD-9999" }] });

    expect(await response.json()).toMatchObject({
      errors: { "modules[0].id": [expect.stringContaining("MOD-9999")] },
    });
  });

  test("a body that is not JSON is a 400", async () => {
    const response = await create('{"name":');

    expect(response.status).toBe(400);
  });
});

describe("listing tokens", () => {
  test("pages with limit and offset across more than 100 tokens and reports the total", async () => {
    for (let i = 0; i < 150; i++) sim.seedToken(accountId, { name: `consumer-${i}` });

    const first = await list("limit=100&offset=0");
    const second = await list("limit=100&offset=100");

    expect(first.$meta.pagination).toEqual({ offset: 0, limit: 100, total: 151 });
    expect(first.data).toHaveLength(100);
    expect(second.$meta.pagination).toEqual({ offset: 100, limit: 100, total: 151 });
    expect(second.data).toHaveLength(51);
    expect(new Set([...first.data, ...second.data].map((t) => t.id)).size).toBe(151);
  });

  test("without a limit answers 10 tokens", async () => {
    for (let i = 0; i < 12; i++) sim.seedToken(accountId, { name: `consumer-${i}` });

    const answer = await list("");

    expect(answer.data).toHaveLength(10);
    expect(answer.$meta.pagination.limit).toBe(10);
  });

  test("a limit above 100 is capped to 100, not refused (rql.md)", async () => {
    for (let i = 0; i < 120; i++) sim.seedToken(accountId, { name: `consumer-${i}` });

    const answer = await list("limit=500");

    expect(answer.data).toHaveLength(100);
    expect(answer.$meta.pagination).toEqual({ offset: 0, limit: 100, total: 121 });
  });

  test("paginationTotal: null answers a null total, which the spec's PaginationMetadata allows", async () => {
    sim.configure({ paginationTotal: "null" });

    const answer = await list("limit=100");

    expect(answer.$meta.pagination).toEqual({ offset: 0, limit: 100, total: null });
    expect(answer.data).toHaveLength(1);
  });

  test("RQL sent as ?rql= is a 400", async () => {
    const response = await call("/accounts/api-tokens?rql=eq(status,Active)", { token: admin.token });

    expect(response.status).toBe(400);
  });

  test("an operator the simulator does not know is a 400", async () => {
    const response = await call("/accounts/api-tokens?like(name,*x*)", { token: admin.token });

    expect(response.status).toBe(400);
  });

  test("eq filters on a dotted field with a quoted value and on a bare value", async () => {
    const disabled = await mint({ name: "old" });
    await call(`/accounts/api-tokens/${disabled.id}/disable`, { method: "POST", token: admin.token });

    const byAccount = await list(`eq(account.id,"${accountId}")`);
    const active = await list("eq(status,Active)");

    expect(byAccount.data.map((t) => t.id).sort()).toEqual([admin.id, disabled.id].sort());
    expect(active.data.map((t) => t.id)).toEqual([admin.id]);
  });

  test("and() combines filters, nested or side by side", async () => {
    const reporting = await mint({ name: "reporting" });
    await mint({ name: "billing" });

    const nested = await list(`and(eq(account.id,"${accountId}"),and(eq(status,Active),eq(name,reporting)))`);
    const sideBySide = await list("eq(status,Active)&eq(name,'reporting')");

    expect(nested.data.map((t) => t.id)).toEqual([reporting.id]);
    expect(sideBySide.data.map((t) => t.id)).toEqual([reporting.id]);
  });

  test("an eq on a module id matches any of the token's modules", async () => {
    const billing = await mint({ modules: ["MOD-1001", "MOD-1003"] });

    const answer = await list("eq(modules.id,MOD-1003)");

    expect(answer.data.map((t) => t.id)).toEqual([billing.id]);
  });

  test("leaves out lastAccessAt (the spec's only Optional field) unless selected, and says so", async () => {
    await mint({ description: "keyturn:marker" });

    const plain = await list("limit=100");
    const selected = await list("select=+description,+lastAccessAt&limit=100");

    expect(plain.$meta.omitted).toEqual(["lastAccessAt"]);
    expect(plain.data.length).toBeGreaterThan(0);
    expect(plain.data.every((t) => !("lastAccessAt" in t))).toBe(true);
    expect(plain.data.map((t) => t.description)).toContain("keyturn:marker");
    expect(selected.$meta.omitted).toEqual([]);
    expect(selected.data.find((t) => t.id === admin.id)?.lastAccessAt).toBe("2026-03-01T09:00:00.000Z");
  });

  test("select of a field ApiToken does not have is a 400", async () => {
    const response = await call("/accounts/api-tokens?select=+secret", { token: admin.token });

    expect(response.status).toBe(400);
  });

  test("deleted tokens are not listed; disabled ones are, as Disabled", async () => {
    const deleted = await mint({ name: "deleted" });
    const disabled = await mint({ name: "disabled" });
    await call(`/accounts/api-tokens/${deleted.id}`, { method: "DELETE", token: admin.token });
    await call(`/accounts/api-tokens/${disabled.id}/disable`, { method: "POST", token: admin.token });

    const answer = await list("limit=100");

    expect(answer.data.map((t) => [t.id, t.status])).toEqual([
      [admin.id, "Active"],
      [disabled.id, "Disabled"],
    ]);
  });
});

describe("changing and revoking a token", () => {
  test("disable answers the Disabled record, and again when it is already disabled", async () => {
    const minted = await mint();

    const first = await call(`/accounts/api-tokens/${minted.id}/disable`, {
      method: "POST",
      token: admin.token,
    });
    const second = await call(`/accounts/api-tokens/${minted.id}/disable`, {
      method: "POST",
      token: admin.token,
    });

    expect([first.status, second.status]).toEqual([200, 200]);
    expect(await second.json()).toMatchObject({ id: minted.id, status: "Disabled" });
  });

  test("repeatedStateChange: 400 refuses a repeated disable or enable with a problem carrying errors", async () => {
    sim.configure({ repeatedStateChange: "400" });
    const minted = await mint();
    const post = (action: string) =>
      call(`/accounts/api-tokens/${minted.id}/${action}`, { method: "POST", token: admin.token });

    const first = await post("disable");
    const second = await post("disable");
    const enabled = await post("enable");
    const enabledAgain = await post("enable");

    expect([first.status, second.status, enabled.status, enabledAgain.status]).toEqual([200, 400, 200, 400]);
    expect(await second.json()).toMatchObject({
      status: 400,
      detail: `The API token ${minted.id} is already disabled.`,
      errors: [{ message: `The API token ${minted.id} is already disabled.`, properties: ["status"] }],
    });
    expect(sim.tokens().find((t) => t.id === minted.id)?.status).toBe("Active");
  });

  test("disabling a deleted token is a 404", async () => {
    const minted = await mint();
    await call(`/accounts/api-tokens/${minted.id}`, { method: "DELETE", token: admin.token });

    const response = await call(`/accounts/api-tokens/${minted.id}/disable`, {
      method: "POST",
      token: admin.token,
    });

    expect(response.status).toBe(404);
  });

  test("delete answers 204, then the token is a 404 to GET and DELETE", async () => {
    const minted = await mint();

    const deleted = await call(`/accounts/api-tokens/${minted.id}`, { method: "DELETE", token: admin.token });
    const fetched = await call(`/accounts/api-tokens/${minted.id}`, { token: admin.token });
    const again = await call(`/accounts/api-tokens/${minted.id}`, { method: "DELETE", token: admin.token });

    expect([deleted.status, fetched.status, again.status]).toEqual([204, 404, 404]);
    expect(await deleted.text()).toBe("");
    expect(sim.tokens().find((t) => t.id === minted.id)?.status).toBe("Deleted");
  });

  test("PUT replaces name and description and records who updated it", async () => {
    const minted = await mint({ description: "before" });
    clock.advance(60_000);

    const response = await call(`/accounts/api-tokens/${minted.id}`, {
      method: "PUT",
      token: admin.token,
      body: { name: "renamed", description: "after" },
    });

    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      name: "renamed",
      description: "after",
      modules: [{ id: "MOD-1001" }],
      audit: { updated: { at: "2026-03-01T09:01:00.000Z", by: { id: admin.id } } },
    });
  });
});

describe("faults", () => {
  test("a 429 carries Retry-After and a problem details body", async () => {
    sim.faults.add({ path: TOKENS_PATH, fault: { kind: "status", status: 429, retryAfter: "3" } });

    const response = await call("/accounts/api-tokens", { token: admin.token });

    expect(response.status).toBe(429);
    expect(response.headers.get("retry-after")).toBe("3");
    expect(await response.json()).toMatchObject({
      status: 429,
      title: "Too Many Requests",
      instance: TOKENS_PATH,
    });
  });

  test("a 500 answers with every problem details field", async () => {
    sim.faults.add({ fault: { kind: "status", status: 500 } });

    const response = await call(`/accounts/api-tokens/${admin.id}`, { token: admin.token });

    expect(response.status).toBe(500);
    expect(Object.keys((await response.json()) as object).sort()).toEqual(PROBLEM_KEYS);
  });

  test("a rule is matched on the path after the host segment and leaves others alone", async () => {
    sim.faults.add({
      method: "POST",
      path: TOKENS_PATH,
      times: Infinity,
      fault: { kind: "status", status: 503 },
    });

    const listed = await call("/accounts/api-tokens", { token: admin.token });
    const created = await create({ account: { id: accountId }, name: "x", modules: [{ id: "MOD-1001" }] });

    expect([listed.status, created.status]).toEqual([200, 503]);
    expect(sim.liveTokens()).toHaveLength(1);
  });

  test("an after-phase fault mints the token and loses the answer", async () => {
    sim.faults.add({
      method: "POST",
      path: TOKENS_PATH,
      phase: "after",
      fault: { kind: "status", status: 500 },
    });

    const response = await create({
      account: { id: accountId },
      name: "lost",
      description: "keyturn:lost",
      modules: [{ id: "MOD-1001" }],
    });

    expect(response.status).toBe(500);
    expect(sim.liveTokens().map((t) => t.description)).toContain("keyturn:lost");
  });
});

describe("test-facing API", () => {
  test("requests are recorded with method, path, query and status but no credential", async () => {
    sim.resetRequests();

    await call("/accounts/api-tokens?limit=5", { token: admin.token });

    expect(sim.requests).toEqual([
      { method: "GET", path: TOKENS_PATH, query: "limit=5", status: 200, at: clock.now() },
    ]);
    expect(JSON.stringify(sim.requests)).not.toContain(admin.token);
  });

  test("touch sets lastAccessAt as a consumer's call would", async () => {
    const plain = sim.seedToken(accountId, { name: "consumer" });

    sim.touch(plain.id, new Date("2026-02-28T12:00:00Z"));

    expect(sim.tokens().find((t) => t.id === plain.id)?.lastAccessAt).toBe("2026-02-28T12:00:00.000Z");
  });

  test("tokens and liveTokens are per account, with the admin flag and never a value", () => {
    const other = sim.createAccount().accountId;
    sim.seedToken(other, { name: "theirs" });

    const ours = sim.tokens(accountId);

    expect(ours.map((t) => [t.id, t.admin])).toEqual([[admin.id, true]]);
    expect(sim.liveTokens()).toHaveLength(2);
    expect(JSON.stringify(sim.tokens())).not.toContain(admin.token);
  });

  test("issuedValues holds every value handed out", async () => {
    const minted = await mint();

    expect(sim.issuedValues).toEqual([admin.token, minted.token]);
  });
});
