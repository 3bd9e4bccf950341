// Incorta simulator: Public API v1 (API key -> access and refresh tokens; Incorta's pages
// https://docs.incorta.com/cloud/references-public-api-v1 and
// https://docs.incorta.com/cloud/references-api-create-token-endpoint-v1) and Public API v2
// personal access tokens (https://docs.incorta.com/cloud/references-public-api-v2), over real
// HTTP on loopback. What keyturn relies on: docs/vendors.md, "Incorta".
//
// Clients reach it through a vendor endpoint override, like AWS_ENDPOINT_URL: the canonical
// `https://acme.cloud.incorta.com/incorta/api/v1/tokens` becomes
// `http://127.0.0.1:PORT/acme.cloud.incorta.com/incorta/api/v1/tokens`. The first path
// segment is the vendor host; every Incorta cluster has its own host, so any host is accepted
// and names a cluster, each with its own tenants, users, keys, tokens and PATs.
//
// Documented behaviour (Incorta's Public API v1 and v2 pages): requestHash is the hex SHA-256 of the
// API key followed by the timestamp as a decimal string; the timestamp must lie within a window of
// 30 minutes by default (the cluster setting public.apis.tokens.request.duration:
// `timestampWindowMs`); timestamps and expiries are absolute epoch milliseconds (from the injected
// clock); access tokens live 10 minutes and refresh tokens 30 by default (`setLifetimes`); a
// refresh invalidates the previous pair, both tokens, at once; renewing a key invalidates the old
// key at once; errors are `{"message": "..."}`; at most 10 active PATs per user; revoked PATs are
// rejected; v2 takes the tenant in the path; an unknown or disabled tenant is a 404; a bad PAT is
// a 401 `{"message": "INC_09030101: Invalid personal access token."}`; only users with permission
// on physical or business schemas may call /schema/list, while GET /v2/{tenant}/configs/sqlConnection
// is open to any tenant user, answers the SQLi address as plain text, and exists on Cloud only;
// an on-premises cluster is served over HTTP or HTTPS "according to your installation".
//
// Choices where Incorta's pages are silent (invented here):
// - Keys and PATs exist only through the test API (`issueApiKey`, `renewApiKey`, `createPat`,
//   `revokePat`): Incorta creates them in its web UI, never by API. `issueApiKey` creates the
//   tenant and user as needed; a user has at most one key (Generate Key, then Renew Key).
// - Minting: a `timestamp` further than the window from the simulator's clock, on either side,
//   an unknown tenant or login, a user without a key, or a wrong hash is a 401; the hash is
//   compared case-insensitively. The same hash and timestamp may be sent again (no replay
//   protection). A body that lacks a field is a 400. Minting does not touch the user's other
//   pairs, and renewing the key leaves pairs minted with the old key valid until they expire.
// - Refreshing: the refresh token must be live and paired with the access token sent; an
//   unknown, used or mismatched pair and an expired refresh token are 401s. The access
//   token may have expired (that is when clients refresh).
// - `GET /incorta/api/v1/schemas` (answer `{schemas: [...]}`) stands for the "other v1
//   areas": it takes a live access token of its cluster, so tests can prove a consumer holds a
//   valid one.
// - v2: `POST /incorta/api/v2/{tenant}/schema/list` answers `{schemasDetails, total}` (the
//   shape only a third-party connector confirms), paged by `limit` (default 10) and `offset` from the JSON
//   body; `schemaType` is accepted whatever its value. The tenant is looked up first, so an
//   unknown or disabled one (`disableTenant`) is a 404 whatever the token, with an invented
//   message. A missing, unknown, revoked or expired PAT (expired from its `expiresAt` on) or one
//   of another cluster gets the documented 401 with INC_09030101; a live PAT used with another
//   existing tenant in the path is a 403. A user without schema permission (`setSchemaAccess`)
//   gets a 403 from /schema/list whose message is invented (Incorta documents who may call it,
//   not how it refuses the others). configs/sqlConnection answers `sqli.<cluster>:15926`
//   (invented address) with the same refusals. The path without a tenant (before Cloud
//   2023.7.0) is a 404.
// - A request with `x-forwarded-proto: http` (what the vendor's load balancer would see of
//   plain HTTP) is a 403 on a Cloud cluster; `installOnPremises` makes a cluster on-premises,
//   which answers it, and has no configs/sqlConnection (a 404).
// - No documented rate limit or server failure: 429 and 5xx come from the fault injector.
//
// Keys, tokens and PATs are looked up by SHA-256 hash; only API keys are kept in plain text,
// because checking a requestHash needs the key itself. Every value handed out is listed in
// `issuedValues`, so that tests can scan everything keyturn printed for any of them.

import { createHash, randomBytes, randomUUID } from "node:crypto";
import { type IncomingMessage, STATUS_CODES } from "node:http";
import { transcript } from "../transcript.ts";
import { type Clock, systemClock } from "./clock.ts";
import type { SimulatedResponse } from "./faults.ts";
import { type SimulatorControls, startSimulatorServer } from "./simulator-server.ts";

/** Public API v1: how far a mint request's `timestamp` may be from the cluster's clock, by default. */
export const INCORTA_TIMESTAMP_WINDOW_MS = 30 * 60_000;
/** Public API v2: its answer to a bad personal access token. */
export const INCORTA_INVALID_PAT_MESSAGE = "INC_09030101: Invalid personal access token.";
/** Public API v1: the default lifetimes of the access and refresh tokens. */
export const INCORTA_DEFAULT_ACCESS_MS = 10 * 60_000;
export const INCORTA_DEFAULT_REFRESH_MS = 30 * 60_000;
/** Public API v2: at most this many active PATs per user. */
export const INCORTA_MAX_ACTIVE_PATS = 10;
/** The schemas every simulated tenant has, for the v1 and v2 list answers. */
export const INCORTA_SCHEMAS: readonly string[] = ["SALES", "HR", "FINANCE"];

/** As `POST /v1/tokens` and `/v1/tokens/refresh` answer it (Public API v1). */
export interface IncortaTokenAnswer {
  accessToken: string;
  refreshToken: string;
  type: "Bearer";
  accessTokenExpiresAt: number;
  refreshTokenExpiresAt: number;
}

/** A PAT as the test-facing API shows it: never its value. */
export interface SimulatedPat {
  id: string;
  cluster: string;
  tenantName: string;
  loginName: string;
  name: string;
  createdAt: number;
  expiresAt: number;
  revoked: boolean;
  /** Not revoked and not expired: it counts towards the limit of 10 and authenticates. */
  active: boolean;
}

export interface RecordedRequest {
  method: string;
  /** The host segment, lower-cased: the cluster. */
  cluster: string;
  /** Path after the host segment, without the query string, e.g. `/incorta/api/v1/tokens`. */
  path: string;
  /** Status sent; `NO_ANSWER` (0) when the connection was dropped. */
  status: number;
  /** Arrival time on the simulator's clock, epoch ms. */
  at: number;
}

export interface IncortaSimulatorOptions {
  clock?: Clock;
  /** Default 0: a free port. */
  port?: number;
  /** The clusters' public.apis.tokens.request.duration; default 30 minutes. */
  timestampWindowMs?: number;
}

export interface IncortaSimulator extends SimulatorControls<RecordedRequest> {
  /** `${url}/${cluster}/incorta/api` */
  baseUrl(cluster: string): string;
  /** Lifetimes of pairs minted or refreshed from now on. */
  setLifetimes(lifetimes: { accessMs?: number; refreshMs?: number }): void;
  /** Generate Key in the user's Security tab; creates the tenant and user as needed. Returns the key. */
  issueApiKey(cluster: string, tenantName: string, loginName: string): string;
  /** Renew Key in the user's Security tab: the old key stops working at once. Returns the new key. */
  renewApiKey(cluster: string, tenantName: string, loginName: string): string;
  /** A PAT as if created in the Profile Manager; throws when the user already has 10 active ones. */
  createPat(
    cluster: string,
    tenantName: string,
    loginName: string,
    options: { name: string; expiresAt: Date },
  ): { id: string; token: string };
  /** Revokes a PAT as the Profile Manager would; revoking twice is harmless. */
  revokePat(id: string): void;
  /** Whether the user may access physical or business schemas (default yes): /schema/list needs it. */
  setSchemaAccess(cluster: string, tenantName: string, loginName: string, allowed: boolean): void;
  /** Disables a tenant: v2 calls naming it get a 404. */
  disableTenant(cluster: string, tenantName: string): void;
  /** Makes a cluster an on-premises installation: plain HTTP works, configs/sqlConnection does not exist. */
  installOnPremises(cluster: string): void;
  /** Every PAT, revoked and expired ones included. */
  pats(): SimulatedPat[];
  /** Whether a v1 protected endpoint would accept this access token now. */
  isAccessTokenValid(accessToken: string): boolean;
  /** Whether a v2 call would accept this PAT now (for its own tenant). */
  isPatLive(value: string): boolean;
}

interface StoredUser {
  loginName: string;
  apiKey: string | undefined;
  schemaAccess: boolean;
}

interface StoredPair {
  cluster: string;
  tenantName: string;
  loginName: string;
  accessHash: string;
  accessTokenExpiresAt: number;
  refreshTokenExpiresAt: number;
  /** False once refreshed: both tokens stop working at once. */
  live: boolean;
}

interface StoredPat {
  id: string;
  cluster: string;
  tenantName: string;
  loginName: string;
  name: string;
  createdAt: number;
  expiresAt: number;
  revoked: boolean;
}

const JSON_CONTENT_TYPE = "application/json; charset=utf-8";
const DEFAULT_PAGE_SIZE = 10;
const V2_SCHEMA_LIST = /^\/incorta\/api\/v2\/([^/]+)\/schema\/list$/;
const V2_SQL_CONNECTION = /^\/incorta\/api\/v2\/([^/]+)\/configs\/sqlConnection$/;
const SQLI_PORT = 15926;

export async function startIncortaSimulator(
  options: IncortaSimulatorOptions = {},
): Promise<IncortaSimulator> {
  const clock = options.clock ?? systemClock;
  // cluster -> tenant -> login -> user
  const clusters = new Map<string, Map<string, Map<string, StoredUser>>>();
  const pairsByAccess = new Map<string, StoredPair>();
  const pairsByRefresh = new Map<string, StoredPair>();
  const pats = new Map<string, StoredPat>();
  const patIdByHash = new Map<string, string>();
  const lifetimes = { accessMs: INCORTA_DEFAULT_ACCESS_MS, refreshMs: INCORTA_DEFAULT_REFRESH_MS };
  const issuedValues: string[] = [];
  const timestampWindowMs = options.timestampWindowMs ?? INCORTA_TIMESTAMP_WINDOW_MS;
  const disabledTenants = new Set<string>();
  const onPremises = new Set<string>();

  const hand = (value: string): string => {
    issuedValues.push(value);
    transcript.secret(value);
    return value;
  };

  const userOf = (cluster: string, tenantName: string, loginName: string): StoredUser | undefined =>
    clusters.get(cluster.toLowerCase())?.get(tenantName)?.get(loginName);

  const ensureUser = (cluster: string, tenantName: string, loginName: string): StoredUser => {
    const host = cluster.toLowerCase();
    let tenants = clusters.get(host);
    if (!tenants) {
      tenants = new Map();
      clusters.set(host, tenants);
    }
    let users = tenants.get(tenantName);
    if (!users) {
      users = new Map();
      tenants.set(tenantName, users);
    }
    let user = users.get(loginName);
    if (!user) {
      user = { loginName, apiKey: undefined, schemaAccess: true };
      users.set(loginName, user);
    }
    return user;
  };

  const mintPair = (cluster: string, tenantName: string, loginName: string): IncortaTokenAnswer => {
    const now = clock.now();
    const accessToken = hand(randomBytes(32).toString("base64url"));
    const refreshToken = hand(randomBytes(32).toString("base64url"));
    const pair: StoredPair = {
      cluster,
      tenantName,
      loginName,
      accessHash: hashOf(accessToken),
      accessTokenExpiresAt: now + lifetimes.accessMs,
      refreshTokenExpiresAt: now + lifetimes.refreshMs,
      live: true,
    };
    pairsByAccess.set(pair.accessHash, pair);
    pairsByRefresh.set(hashOf(refreshToken), pair);
    return {
      accessToken,
      refreshToken,
      type: "Bearer",
      accessTokenExpiresAt: pair.accessTokenExpiresAt,
      refreshTokenExpiresAt: pair.refreshTokenExpiresAt,
    };
  };

  const accessPair = (cluster: string, accessToken: string): StoredPair | undefined => {
    const pair = pairsByAccess.get(hashOf(accessToken));
    return pair?.live && pair.cluster === cluster && clock.now() < pair.accessTokenExpiresAt
      ? pair
      : undefined;
  };

  const isPatActive = (pat: StoredPat): boolean => !pat.revoked && clock.now() < pat.expiresAt;

  const patOf = (value: string): StoredPat | undefined => {
    const id = patIdByHash.get(hashOf(value));
    return id === undefined ? undefined : pats.get(id);
  };

  const mint = (body: Record<string, unknown>, cluster: string): SimulatedResponse => {
    const { tenantName, loginName, requestHash, timestamp } = body;
    const missing = [
      typeof tenantName === "string" && tenantName !== "" ? undefined : "tenantName",
      typeof loginName === "string" && loginName !== "" ? undefined : "loginName",
      typeof requestHash === "string" && requestHash !== "" ? undefined : "requestHash",
      typeof timestamp === "number" && Number.isInteger(timestamp) ? undefined : "timestamp",
    ].filter((field) => field !== undefined);
    if (missing.length > 0) {
      return message(
        400,
        `Missing or invalid fields: ${missing.join(", ")} (timestamp is epoch milliseconds).`,
      );
    }
    const when = timestamp as number;
    if (Math.abs(clock.now() - when) > timestampWindowMs) {
      return message(401, "The request timestamp is outside the allowed window; check the client's clock.");
    }
    const user = userOf(cluster, tenantName as string, loginName as string);
    const expected = user?.apiKey === undefined ? undefined : requestHashOf(user.apiKey, when);
    if (expected === undefined || expected !== (requestHash as string).toLowerCase()) {
      return message(401, "Authentication failed: invalid tenant name, login name or request hash.");
    }
    return json(201, mintPair(cluster, tenantName as string, loginName as string));
  };

  const refresh = (body: Record<string, unknown>, cluster: string): SimulatedResponse => {
    const { accessToken, refreshToken } = body;
    if (typeof accessToken !== "string" || typeof refreshToken !== "string") {
      return message(400, "Missing or invalid fields: accessToken and refreshToken are required.");
    }
    const pair = pairsByRefresh.get(hashOf(refreshToken));
    if (!pair || pair.cluster !== cluster || pair.accessHash !== hashOf(accessToken)) {
      return message(401, "Invalid access token or refresh token.");
    }
    if (!pair.live) return message(401, "The refresh token was already used.");
    if (clock.now() >= pair.refreshTokenExpiresAt) return message(401, "The refresh token has expired.");
    pair.live = false;
    return json(201, mintPair(pair.cluster, pair.tenantName, pair.loginName));
  };

  const listSchemasV1 = (req: IncomingMessage, cluster: string): SimulatedResponse => {
    const accessToken = bearerOf(req.headers.authorization);
    if (accessToken === undefined || !accessPair(cluster, accessToken)) {
      return message(401, "Invalid or expired access token.");
    }
    return json(200, { schemas: INCORTA_SCHEMAS.map((name) => ({ name })) });
  };

  /** The v2 caller's PAT on a live tenant, or the refusal: 404 tenant, 401 PAT, 403 other tenant. */
  const v2Caller = (
    req: IncomingMessage,
    cluster: string,
    tenantName: string,
  ): { pat: StoredPat } | { refusal: SimulatedResponse } => {
    if (!clusters.get(cluster)?.has(tenantName) || disabledTenants.has(`${cluster}/${tenantName}`)) {
      return { refusal: message(404, `Tenant ${tenantName} was not found or is disabled.`) };
    }
    const value = bearerOf(req.headers.authorization);
    const pat = value === undefined ? undefined : patOf(value);
    if (!pat || pat.cluster !== cluster || !isPatActive(pat)) {
      return { refusal: message(401, INCORTA_INVALID_PAT_MESSAGE) };
    }
    if (pat.tenantName !== tenantName) {
      return {
        refusal: message(403, `The personal access token does not grant access to tenant ${tenantName}.`),
      };
    }
    return { pat };
  };

  const sqlConnectionV2 = (req: IncomingMessage, cluster: string, tenantName: string): SimulatedResponse => {
    const caller = v2Caller(req, cluster, tenantName);
    if ("refusal" in caller) return caller.refusal;
    return {
      status: 200,
      headers: { "content-type": "text/plain; charset=utf-8" },
      body: `sqli.${cluster.replace(/:\d+$/, "")}:${SQLI_PORT}`,
    };
  };

  const listSchemasV2 = (
    req: IncomingMessage,
    cluster: string,
    tenantName: string,
    body: Record<string, unknown>,
  ): SimulatedResponse => {
    const caller = v2Caller(req, cluster, tenantName);
    if ("refusal" in caller) return caller.refusal;
    const { pat } = caller;
    if (userOf(cluster, pat.tenantName, pat.loginName)?.schemaAccess === false) {
      return message(403, "The user has no permission to access physical or business schemas.");
    }
    const limit = body.limit ?? DEFAULT_PAGE_SIZE;
    const offset = body.offset ?? 0;
    if (!isCount(limit) || !isCount(offset)) {
      return message(400, "limit and offset must be non-negative integers.");
    }
    const schemasDetails = INCORTA_SCHEMAS.slice(offset, offset + limit).map((name) => ({
      name,
      schemaType: "SCHEMA",
    }));
    return json(200, { schemasDetails, total: INCORTA_SCHEMAS.length });
  };

  const answer = (
    method: string,
    cluster: string,
    path: string,
    req: IncomingMessage,
    raw: Buffer,
  ): SimulatedResponse => {
    const cloud = !onPremises.has(cluster);
    if (cloud && firstHeader(req.headers["x-forwarded-proto"])?.toLowerCase() === "http") {
      return message(403, "HTTPS is required: the public API does not answer plain HTTP.");
    }
    const normalized = path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : path;
    const tenantMatch = V2_SCHEMA_LIST.exec(normalized);
    const sqlMatch = cloud ? V2_SQL_CONNECTION.exec(normalized) : null;
    const known =
      normalized === "/incorta/api/v1/tokens" ||
      normalized === "/incorta/api/v1/tokens/refresh" ||
      normalized === "/incorta/api/v1/schemas" ||
      tenantMatch !== null ||
      sqlMatch !== null;
    if (!known) return message(404, `No endpoint ${method} ${path}.`);
    const expectedMethod = normalized === "/incorta/api/v1/schemas" || sqlMatch !== null ? "GET" : "POST";
    if (method !== expectedMethod) return message(405, `Method ${method} is not allowed on ${path}.`);
    if (normalized === "/incorta/api/v1/schemas") return listSchemasV1(req, cluster);
    if (sqlMatch !== null) {
      const sqlTenant = decodeTenant(sqlMatch[1] ?? "");
      return sqlTenant === undefined
        ? message(400, "The tenant in the path is not valid percent-encoding.")
        : sqlConnectionV2(req, cluster, sqlTenant);
    }

    const body = readJsonObject(raw);
    if (body === undefined) return message(400, "The body must be a JSON object.");
    if (normalized === "/incorta/api/v1/tokens") return mint(body, cluster);
    if (normalized === "/incorta/api/v1/tokens/refresh") return refresh(body, cluster);
    const tenantName = decodeTenant(tenantMatch?.[1] ?? "");
    if (tenantName === undefined)
      return message(400, "The tenant in the path is not valid percent-encoding.");
    return listSchemasV2(req, cluster, tenantName, body);
  };

  const server = await startSimulatorServer({
    clock,
    port: options.port,
    issuedValues,
    locate,
    answer: ({ cluster, path }, method, req, body) =>
      cluster === "" ? message(404, "No cluster in the path.") : answer(method, cluster, path, req, body),
    statusBody: (status) => message(status, faultMessage(status)).body ?? "",
    logEntry: ({ target: { cluster, path }, method, status, at }) => ({ method, cluster, path, status, at }),
  });
  const { url } = server;

  return server.with<IncortaSimulator>({
    baseUrl: (cluster) => `${url}/${cluster}/incorta/api`,
    setLifetimes(next) {
      for (const [name, ms] of Object.entries(next)) {
        if (ms !== undefined && !(Number.isFinite(ms) && ms > 0)) {
          throw new RangeError(`setLifetimes needs a positive number of ms for ${name}, got ${ms}`);
        }
      }
      if (next.accessMs !== undefined) lifetimes.accessMs = next.accessMs;
      if (next.refreshMs !== undefined) lifetimes.refreshMs = next.refreshMs;
    },
    issueApiKey(cluster, tenantName, loginName) {
      const user = ensureUser(cluster, tenantName, loginName);
      if (user.apiKey !== undefined) {
        throw new Error(
          `User ${loginName} of tenant ${tenantName} on ${cluster} already has an API key; use renewApiKey`,
        );
      }
      user.apiKey = hand(randomBytes(32).toString("hex"));
      return user.apiKey;
    },
    renewApiKey(cluster, tenantName, loginName) {
      const user = userOf(cluster, tenantName, loginName);
      if (user?.apiKey === undefined) {
        throw new Error(
          `User ${loginName} of tenant ${tenantName} on ${cluster} has no API key to renew; use issueApiKey`,
        );
      }
      user.apiKey = hand(randomBytes(32).toString("hex"));
      return user.apiKey;
    },
    createPat(cluster, tenantName, loginName, patOptions) {
      const host = cluster.toLowerCase();
      ensureUser(host, tenantName, loginName);
      const active = [...pats.values()].filter(
        (pat) =>
          pat.cluster === host &&
          pat.tenantName === tenantName &&
          pat.loginName === loginName &&
          isPatActive(pat),
      );
      if (active.length >= INCORTA_MAX_ACTIVE_PATS) {
        throw new Error(
          `User ${loginName} of tenant ${tenantName} on ${cluster} already has ${INCORTA_MAX_ACTIVE_PATS} ` +
            "active personal access tokens; revoke one first",
        );
      }
      const expiresAt = patOptions.expiresAt.getTime();
      if (!Number.isFinite(expiresAt) || expiresAt <= clock.now()) {
        throw new RangeError(`A PAT's expiresAt must be in the future, got ${String(patOptions.expiresAt)}`);
      }
      const id = randomUUID();
      const token = hand(randomBytes(40).toString("base64url"));
      pats.set(id, {
        id,
        cluster: host,
        tenantName,
        loginName,
        name: patOptions.name,
        createdAt: clock.now(),
        expiresAt,
        revoked: false,
      });
      patIdByHash.set(hashOf(token), id);
      return { id, token };
    },
    revokePat(id) {
      const pat = pats.get(id);
      if (!pat) throw new Error(`No Incorta personal access token ${id}`);
      pat.revoked = true;
    },
    setSchemaAccess(cluster, tenantName, loginName, allowed) {
      const user = userOf(cluster, tenantName, loginName);
      if (!user) throw new Error(`No user ${loginName} of tenant ${tenantName} on ${cluster}`);
      user.schemaAccess = allowed;
    },
    disableTenant(cluster, tenantName) {
      disabledTenants.add(`${cluster.toLowerCase()}/${tenantName}`);
    },
    installOnPremises(cluster) {
      onPremises.add(cluster.toLowerCase());
    },
    pats: () => [...pats.values()].map((pat) => ({ ...pat, active: isPatActive(pat) })),
    isAccessTokenValid(accessToken) {
      const pair = pairsByAccess.get(hashOf(accessToken));
      return pair?.live === true && clock.now() < pair.accessTokenExpiresAt;
    },
    isPatLive(value) {
      const pat = patOf(value);
      return pat !== undefined && isPatActive(pat);
    },
  });
}

/** Public API v1: hex SHA-256 of the API key followed by the timestamp as a decimal string. */
export function requestHashOf(apiKey: string, timestamp: number): string {
  return createHash("sha256")
    .update(`${apiKey}${String(timestamp)}`)
    .digest("hex");
}

function locate(rawUrl: string): { cluster: string; path: string } {
  const questionMark = rawUrl.indexOf("?");
  const pathname = questionMark === -1 ? rawUrl : rawUrl.slice(0, questionMark);
  const [, host = "", ...rest] = pathname.split("/");
  return { cluster: host.toLowerCase(), path: `/${rest.join("/")}` };
}

function decodeTenant(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

function bearerOf(authorization: string | undefined): string | undefined {
  return /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "")?.[1];
}

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 0;
}

function readJsonObject(body: Buffer): Record<string, unknown> | undefined {
  if (body.length === 0) return {};
  try {
    const parsed: unknown = JSON.parse(body.toString("utf8"));
    return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function message(status: number, text: string): SimulatedResponse {
  return json(status, { message: text });
}

function faultMessage(status: number): string {
  if (status === 429) return "Too many requests: retry after the Retry-After delay.";
  if (status >= 500) return "An unexpected error occurred while processing the request.";
  return STATUS_CODES[status] ?? "Error";
}

function json(status: number, body: unknown): SimulatedResponse {
  return { status, headers: { "content-type": JSON_CONTENT_TYPE }, body: JSON.stringify(body) };
}

function hashOf(value: string): string {
  return createHash("sha256").update(value).digest("hex");
}

function firstHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
