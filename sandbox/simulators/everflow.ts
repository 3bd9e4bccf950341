// Everflow Marketplace (partner) API simulator: API keys that only a person can create and
// revoke, over real HTTP on loopback, following Everflow's help-desk page "Managing Your
// Marketplace API Keys" (https://helpdesk.everflow.io/collaborator/managing-your-marketplace-api-keys;
// what keyturn relies on: docs/vendors.md, "Everflow").
//
// Clients reach it through a vendor endpoint override, like AWS_ENDPOINT_URL: the canonical
// `https://api.eflow.team/v1/partners` becomes `http://127.0.0.1:PORT/api.eflow.team/v1/partners`,
// so the first path segment names the vendor host: `api.eflow.team`, or `api-eu.eflow.team` for
// the accounts hosted in the EU. Any other host is a 404.
//
// Keys are made in the web UI only (the page above). The UI is stood for by a control endpoint
// on the simulator's own root, never under a vendor host: `POST /__ui/keys` {host?, portal, name,
// permissions?} answers 201 with the key (the one time it is shown), `POST /__ui/keys/{id}/revoke`
// revokes for good, `GET /__ui/keys` lists records without values. `createKey`, `revokeKey`
// and `keys` are the same operations for tests.
//
// Documented (the page above and Everflow's developer pages): header `X-Eflow-API-Key: <key>`
// (no Bearer), a missing key is a 401, a key of the wrong portal a 403 "Out of realm",
// `GET /v1/partners` is the cheap check, a key is shown once, a revoked key never works again,
// permissions are All or sections such as Reporting.
//
// Rate limit (Everflow's "Rate Limiting" page, https://developers.everflow.io/user-guide/rate-limiting):
// a partner gets 5 requests/s per customer, shared by all of the customer's keys, over a 30-second
// window, so X-RateLimit-Limit is 150; every answer carries X-RateLimit-Limit and
// X-RateLimit-Remaining, and once the limit is reached every request is a 429 until the window
// resets, with no Retry-After. The page's other user types (network 20/s, affiliate and advertiser
// 5/s) are applied to those portals' keys. Invented here: the window is fixed, starts at the
// customer's first request after the previous one ended and runs on the simulator's clock; only
// requests whose key authenticates count (an unknown key belongs to no customer, and its answer has
// no rate-limit headers); the 429 body is `{"error": "Too Many Requests"}`; X-RateLimit-Reset is
// sent only when `rateLimit.resetHeader` asks for it (as seconds left or epoch seconds), since
// Everflow documents no such header; `rateLimit: false` turns the limit off. (A newer revision of the
// page describes a token bucket with bursts of 20; the window above is what is modelled.)
//
// Unconfirmed by Everflow's pages, and chosen here:
// - Error bodies are `{"error": "<message>"}` (the shape of Everflow's public developer pages):
//   401 "No Authentication Method Found" without the header, 401 "Invalid API Key" for an
//   unknown or revoked key, 403 "Out of realm", 403 "Insufficient permissions", 400 "Invalid
//   parameters.", 404 "Not found". Faults without a body of their own get the same shape.
// - Portals: a key belongs to one portal, `partner` (Marketplace, `/v1/partners/...`),
//   `network` (`/v1/networks/...`), `affiliate` (`/v1/affiliates/...`) or `advertiser`
//   (`/v1/advertisers/...`); the path prefix decides the realm, and a key of another portal
//   gets the 403 on every path under it, before routing. Each portal has one cheap check
//   (GET /v1/partners, /v1/networks, /v1/affiliates/affiliate, /v1/advertisers/advertiser).
// - Hosts: the two hosts are separate installations; a key exists only on the host of the
//   account it was created in, and the other host answers 401 "Invalid API Key" to it.
// - Permissions: sections `reporting` (POST /v1/partners/reporting/entity/table) and
//   `connections` (POST /v1/partners/connections/table); a key without the section gets the
//   403 "Insufficient permissions". The cheap checks need no section.
// - Bodies: GET /v1/partners answers `{partner_id, name, status, time_created}` (epoch
//   seconds); reporting answers `{table: [], summary}` and validates `from`/`to` as
//   YYYY-MM-DD; connections answers `{connections: [], paging}`. One account per host.
// - Ids are integers from 1; key values are 32 url-safe characters. Keys never expire.
// - The UI endpoint answers 409 to revoking a revoked key (the UI offers no Revoke on it) and
//   has no route that re-enables one; `revokeKey` on a revoked key changes nothing. Editing a
//   key's name or permissions (the help-desk page's Edit) and the UI's login and roles are not modelled.
//   UI calls are neither fault-injected nor recorded in `requests`: they stand for a person.
// - `lastUsedAt` is the simulator's own bookkeeping (every authenticated API call), for tests;
//   Everflow's API reports no last use.
//
// Keys are looked up by SHA-256 hash. The plain values handed out are kept only in
// `issuedValues`, so that tests can scan everything keyturn printed for any of them.

import { createHash, randomBytes } from "node:crypto";
import { type IncomingMessage, STATUS_CODES } from "node:http";
import { transcript } from "../transcript.ts";
import { type Clock, systemClock } from "./clock.ts";
import type { SimulatedResponse } from "./faults.ts";
import { type SimulatorControls, startSimulatorServer } from "./simulator-server.ts";

export const EVERFLOW_HOSTS = ["api.eflow.team", "api-eu.eflow.team"] as const;
export type EverflowHost = (typeof EVERFLOW_HOSTS)[number];
export const EVERFLOW_DEFAULT_HOST: EverflowHost = "api.eflow.team";

export const EVERFLOW_PORTALS = ["partner", "network", "affiliate", "advertiser"] as const;
export type EverflowPortal = (typeof EVERFLOW_PORTALS)[number];

/** The sections a key may be limited to (a simulator choice, see above). */
export const EVERFLOW_SECTIONS = ["reporting", "connections"] as const;
export type EverflowSection = (typeof EVERFLOW_SECTIONS)[number];
export type EverflowPermissions = "all" | EverflowSection[];

/** A key as the UI lists it and the test-facing API shows it: never its value. */
export interface EverflowKeyRecord {
  id: number;
  name: string;
  host: EverflowHost;
  portal: EverflowPortal;
  permissions: EverflowPermissions;
  status: "active" | "revoked";
  createdAt: string;
  revokedAt?: string;
  lastUsedAt?: string;
}

export interface CreateKeyOptions {
  portal: EverflowPortal;
  name: string;
  /** Default "all". */
  permissions?: EverflowPermissions;
  /** The host of the account the key is created in; default api.eflow.team. */
  host?: EverflowHost;
}

export interface RecordedRequest {
  method: string;
  /** Undefined when the host segment is not an Everflow API host. */
  host: EverflowHost | undefined;
  /** Path after the host segment, without the query string, e.g. `/v1/partners`. */
  path: string;
  /** Status sent; `NO_ANSWER` (0) when the connection was dropped. */
  status: number;
  /** Arrival time on the simulator's clock, epoch ms. */
  at: number;
}

/** Requests per second per customer, by portal (Everflow's rate-limiting page). */
export const EVERFLOW_RATE_PER_SECOND: Record<EverflowPortal, number> = {
  partner: 5,
  network: 20,
  affiliate: 5,
  advertiser: 5,
};
/** Everflow's rate-limiting page: the limit resets every 30 seconds. */
export const EVERFLOW_RATE_WINDOW_MS = 30_000;

export interface EverflowRateLimitOptions {
  /** Default 30 000 ms, as documented. */
  windowMs?: number;
  /** Undocumented by Everflow, so off by default: send X-RateLimit-Reset as seconds left or epoch seconds. */
  resetHeader?: "seconds-left" | "epoch-seconds";
}

export interface EverflowSimulatorOptions {
  clock?: Clock;
  /** Default 0: a free port. */
  port?: number;
  /** Default: the documented limit, with no X-RateLimit-Reset; false turns it off. */
  rateLimit?: EverflowRateLimitOptions | false;
}

export interface EverflowSimulator extends SimulatorControls<RecordedRequest> {
  /** `${url}/${host}/v1`, default host api.eflow.team. */
  baseUrl(host?: EverflowHost): string;
  /** A key as if created under Account > API Keys; the value is returned once. */
  createKey(options: CreateKeyOptions): { id: number; key: string };
  /** Revokes a key for good, as the row menu's Revoke does; a revoked key stays revoked. */
  revokeKey(id: number): void;
  /** Whether the key authenticates now (on its own host). */
  isLive(key: string): boolean;
  /** Every key, revoked ones included. */
  keys(): EverflowKeyRecord[];
}

interface RateWindow {
  startedAt: number;
  used: number;
}

interface StoredKey {
  id: number;
  name: string;
  host: EverflowHost;
  portal: EverflowPortal;
  permissions: EverflowPermissions;
  revokedAt: number | undefined;
  createdAt: number;
  lastUsedAt: number | undefined;
}

const UI_SEGMENT = "__ui";
const KEY_HEADER = "x-eflow-api-key";
const JSON_CONTENT_TYPE = "application/json; charset=utf-8";
const MAX_NAME_LENGTH = 255;
const DATE = /^\d{4}-\d{2}-\d{2}$/;

const PORTAL_PREFIXES: Record<EverflowPortal, string> = {
  partner: "/v1/partners",
  network: "/v1/networks",
  affiliate: "/v1/affiliates",
  advertiser: "/v1/advertisers",
};

// One account per host: the partner (and network, affiliate, advertiser) that every key of
// that host belongs to.
const ACCOUNT_IDS: Record<EverflowHost, number> = { "api.eflow.team": 1023, "api-eu.eflow.team": 2047 };

export async function startEverflowSimulator(
  options: EverflowSimulatorOptions = {},
): Promise<EverflowSimulator> {
  const clock = options.clock ?? systemClock;
  const startedAt = clock.now();
  const keys = new Map<number, StoredKey>();
  const keyIdByHash = new Map<string, number>();
  let nextId = 1;
  const rateLimit = options.rateLimit === false ? undefined : (options.rateLimit ?? {});
  const rateWindowMs = rateLimit?.windowMs ?? EVERFLOW_RATE_WINDOW_MS;
  // One window per customer: the account of a host and portal.
  const rateWindows = new Map<string, RateWindow>();
  const issuedValues: string[] = [];

  const create = (request: Required<CreateKeyOptions>): { stored: StoredKey; key: string } => {
    const key = randomBytes(24).toString("base64url");
    const stored: StoredKey = {
      id: nextId++,
      name: request.name,
      host: request.host,
      portal: request.portal,
      permissions: request.permissions === "all" ? "all" : [...new Set(request.permissions)],
      revokedAt: undefined,
      createdAt: clock.now(),
      lastUsedAt: undefined,
    };
    keys.set(stored.id, stored);
    keyIdByHash.set(hashOf(key), stored.id);
    issuedValues.push(key);
    transcript.secret(key);
    return { stored, key };
  };

  const toRecord = (key: StoredKey): EverflowKeyRecord => ({
    id: key.id,
    name: key.name,
    host: key.host,
    portal: key.portal,
    permissions: key.permissions === "all" ? "all" : [...key.permissions],
    status: key.revokedAt === undefined ? "active" : "revoked",
    createdAt: new Date(key.createdAt).toISOString(),
    ...(key.revokedAt === undefined ? {} : { revokedAt: new Date(key.revokedAt).toISOString() }),
    ...(key.lastUsedAt === undefined ? {} : { lastUsedAt: new Date(key.lastUsedAt).toISOString() }),
  });

  const liveKey = (value: string): StoredKey | undefined => {
    const id = keyIdByHash.get(hashOf(value));
    const key = id === undefined ? undefined : keys.get(id);
    return key?.revokedAt === undefined ? key : undefined;
  };

  /** Counts one request against the key's customer: its rate-limit headers, and whether it is over. */
  const meter = (key: StoredKey): { headers: Record<string, string>; limited: boolean } | undefined => {
    if (rateLimit === undefined) return undefined;
    const now = clock.now();
    const customer = `${key.host}/${key.portal}`;
    let window = rateWindows.get(customer);
    if (window === undefined || now >= window.startedAt + rateWindowMs) {
      window = { startedAt: now, used: 0 };
      rateWindows.set(customer, window);
    }
    const limit = EVERFLOW_RATE_PER_SECOND[key.portal] * Math.round(rateWindowMs / 1000);
    const limited = window.used >= limit;
    if (!limited) window.used += 1;
    const headers: Record<string, string> = {
      "x-ratelimit-limit": String(limit),
      "x-ratelimit-remaining": String(limit - window.used),
    };
    const resetAt = window.startedAt + rateWindowMs;
    if (rateLimit.resetHeader === "seconds-left") {
      headers["x-ratelimit-reset"] = String(Math.ceil((resetAt - now) / 1000));
    } else if (rateLimit.resetHeader === "epoch-seconds") {
      headers["x-ratelimit-reset"] = String(Math.ceil(resetAt / 1000));
    }
    return { headers, limited };
  };

  const answerApi = (
    host: EverflowHost,
    method: string,
    path: string,
    req: IncomingMessage,
    body: Buffer,
  ): SimulatedResponse => {
    const normalized = path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : path;
    if (realmOf(normalized) === undefined) return everflowError(404, "Not found");
    const sent = firstHeader(req.headers[KEY_HEADER])?.trim();
    if (!sent) return everflowError(401, "No Authentication Method Found");
    const caller = liveKey(sent);
    if (caller === undefined || caller.host !== host) return everflowError(401, "Invalid API Key");
    const metered = meter(caller);
    if (metered === undefined) return answerFor(caller, host, method, normalized, body);
    const answer = metered.limited
      ? everflowError(429, "Too Many Requests")
      : answerFor(caller, host, method, normalized, body);
    return { ...answer, headers: { ...answer.headers, ...metered.headers } };
  };

  /** The answer to a request whose key authenticated on `host`. */
  const answerFor = (
    caller: StoredKey,
    host: EverflowHost,
    method: string,
    normalized: string,
    body: Buffer,
  ): SimulatedResponse => {
    const realm = realmOf(normalized);
    caller.lastUsedAt = clock.now();
    if (caller.portal !== realm) return everflowError(403, "Out of realm");

    const route = routeOf(method, normalized);
    if (route === undefined) return everflowError(404, "Not found");
    if (
      route.section !== undefined &&
      caller.permissions !== "all" &&
      !caller.permissions.includes(route.section)
    ) {
      return everflowError(403, "Insufficient permissions");
    }

    const accountId = ACCOUNT_IDS[host];
    const timeCreated = Math.floor(startedAt / 1000);
    switch (route.name) {
      case "partner":
        return json(200, {
          partner_id: accountId,
          name: `Simulated Marketplace Partner (${host})`,
          status: "active",
          time_created: timeCreated,
        });
      case "network":
        return json(200, { network_id: accountId, name: "Simulated Network", time_created: timeCreated });
      case "affiliate":
        return json(200, { network_affiliate_id: accountId, name: "Simulated Affiliate" });
      case "advertiser":
        return json(200, { network_advertiser_id: accountId, name: "Simulated Advertiser" });
      case "reporting": {
        const request = readJson(body);
        if (!isObject(request) || !isDate(request.from) || !isDate(request.to) || request.from > request.to) {
          return everflowError(400, "Invalid parameters.");
        }
        return json(200, { table: [], summary: { clicks: 0, conversions: 0, revenue: 0 } });
      }
      case "connections": {
        const request = readJson(body);
        if (!isObject(request)) return everflowError(400, "Invalid parameters.");
        return json(200, { connections: [], paging: { page: 1, page_size: 100, total_count: 0 } });
      }
    }
  };

  const answerUi = (method: string, path: string, body: Buffer): SimulatedResponse => {
    const normalized = path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : path;
    if (normalized === "/keys") {
      if (method === "GET") return json(200, { keys: [...keys.values()].map(toRecord) });
      if (method !== "POST") return everflowError(404, "Not found");
      const request = validateCreateRequest(readJson(body));
      if ("error" in request) return everflowError(400, request.error);
      const { stored, key } = create(request);
      return json(201, { ...toRecord(stored), key });
    }
    const revoke = /^\/keys\/(\d+)\/revoke$/.exec(normalized);
    if (revoke?.[1] === undefined || method !== "POST") return everflowError(404, "Not found");
    const key = keys.get(Number(revoke[1]));
    if (key === undefined) return everflowError(404, `API key ${revoke[1]} was not found.`);
    if (key.revokedAt !== undefined) {
      return everflowError(409, `API key ${key.id} is already revoked; a revoked key cannot be re-enabled.`);
    }
    key.revokedAt = clock.now();
    return json(200, toRecord(key));
  };

  const server = await startSimulatorServer({
    clock,
    port: options.port,
    issuedValues,
    locate,
    answer: (target, method, req, body) => {
      if (target.ui) return answerUi(method, target.path, body);
      return target.host === undefined
        ? everflowError(404, "Not found")
        : answerApi(target.host, method, target.path, req, body);
    },
    statusBody: (status) => everflowError(status, STATUS_CODES[status] ?? "Error").body ?? "",
    logEntry: ({ target, method, status, at }) => ({
      method,
      host: target.ui ? undefined : target.host,
      path: target.path,
      status,
      at,
    }),
    // UI calls stand for a person: neither fault-injected nor recorded in `requests`.
    bypass: (target) => target.ui,
  });
  const { url } = server;

  return server.with<EverflowSimulator>({
    baseUrl: (host = EVERFLOW_DEFAULT_HOST) => `${url}/${host}/v1`,
    createKey(keyOptions) {
      const request = validateCreateRequest(keyOptions);
      if ("error" in request) throw new Error(`Everflow simulator: ${request.error}`);
      const { stored, key } = create(request);
      return { id: stored.id, key };
    },
    revokeKey(id) {
      const key = keys.get(id);
      if (key === undefined) throw new Error(`No Everflow API key ${id}; create it with createKey first`);
      key.revokedAt ??= clock.now();
    },
    isLive: (key) => liveKey(key) !== undefined,
    keys: () => [...keys.values()].map(toRecord),
  });
}

type Route =
  | { name: "partner" | "network" | "affiliate" | "advertiser"; section?: undefined }
  | { name: EverflowSection; section: EverflowSection };

/** The portal whose realm a path is in, by its prefix. */
function realmOf(path: string): EverflowPortal | undefined {
  return EVERFLOW_PORTALS.find(
    (portal) => path === PORTAL_PREFIXES[portal] || path.startsWith(`${PORTAL_PREFIXES[portal]}/`),
  );
}

function routeOf(method: string, path: string): Route | undefined {
  if (method === "GET") {
    if (path === "/v1/partners") return { name: "partner" };
    if (path === "/v1/networks") return { name: "network" };
    if (path === "/v1/affiliates/affiliate") return { name: "affiliate" };
    if (path === "/v1/advertisers/advertiser") return { name: "advertiser" };
  }
  if (method === "POST") {
    if (path === "/v1/partners/reporting/entity/table") return { name: "reporting", section: "reporting" };
    if (path === "/v1/partners/connections/table") return { name: "connections", section: "connections" };
  }
  return undefined;
}

function locate(
  rawUrl: string,
): { ui: true; path: string } | { ui: false; host: EverflowHost | undefined; path: string } {
  const questionMark = rawUrl.indexOf("?");
  const pathname = questionMark === -1 ? rawUrl : rawUrl.slice(0, questionMark);
  const [, first = "", ...rest] = pathname.split("/");
  const path = `/${rest.join("/")}`;
  if (first === UI_SEGMENT) return { ui: true, path };
  const lower = first.toLowerCase();
  return { ui: false, host: EVERFLOW_HOSTS.find((host) => host === lower), path };
}

function validateCreateRequest(body: unknown): Required<CreateKeyOptions> | { error: string } {
  if (!isObject(body)) return { error: "The body must be a JSON object." };
  const { host = EVERFLOW_DEFAULT_HOST, portal, name, permissions = "all" } = body;
  if (!EVERFLOW_HOSTS.includes(host as EverflowHost)) {
    return { error: `host must be one of ${EVERFLOW_HOSTS.join(", ")}.` };
  }
  if (!EVERFLOW_PORTALS.includes(portal as EverflowPortal)) {
    return { error: `portal must be one of ${EVERFLOW_PORTALS.join(", ")}.` };
  }
  if (typeof name !== "string" || name.trim() === "") return { error: "name is required." };
  if (name.length > MAX_NAME_LENGTH) return { error: `name must be at most ${MAX_NAME_LENGTH} characters.` };
  const sections = EVERFLOW_SECTIONS as readonly unknown[];
  if (
    permissions !== "all" &&
    !(
      Array.isArray(permissions) &&
      permissions.length > 0 &&
      permissions.every((section) => sections.includes(section))
    )
  ) {
    return { error: `permissions must be "all" or a non-empty list of ${EVERFLOW_SECTIONS.join(", ")}.` };
  }
  return {
    host: host as EverflowHost,
    portal: portal as EverflowPortal,
    name,
    permissions: permissions as EverflowPermissions,
  };
}

function everflowError(status: number, message: string): SimulatedResponse {
  return json(status, { error: message });
}

function json(status: number, body: unknown): SimulatedResponse {
  return { status, headers: { "content-type": JSON_CONTENT_TYPE }, body: JSON.stringify(body) };
}

function readJson(body: Buffer): unknown {
  if (body.length === 0) return {};
  try {
    return JSON.parse(body.toString("utf8"));
  } catch {
    return undefined;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isDate(value: unknown): value is string {
  return typeof value === "string" && DATE.test(value) && !Number.isNaN(Date.parse(value));
}

function hashOf(key: string): string {
  return createHash("sha256").update(key).digest("hex");
}

function firstHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
