// SoftwareOne Marketplace Platform simulator: account API tokens over real HTTP on loopback,
// following the vendor's API Tokens pages
// (https://docs.platform.softwareone.com/modules-and-features/settings/api-tokens; what keyturn
// relies on: docs/vendors.md, "SoftwareOne"), and where they speak, SoftwareOne's spec (served at
// https://api.platform.softwareone.com/public/v1/accounts/openapi.json) and reference pages
// (github.com/softwareone-platform/docs, `developer-resources/`: rql.md, error-object.md,
// errors-handling.md).
//
// Clients reach it through a vendor endpoint override, like AWS_ENDPOINT_URL: the canonical
// `https://api.platform.softwareone.com/public/v1/accounts/api-tokens` becomes
// `http://127.0.0.1:PORT/api.platform.softwareone.com/public/v1/accounts/api-tokens`, so the
// first path segment names the vendor host; any other host is a 404.
//
// What the spec and the reference pages settle, followed here:
// - `limit` above 100 is capped to 100, not refused (rql.md, "Limit"); the answer's
//   `$meta.pagination.limit` says 100.
// - `$meta.pagination.total` is nullable (PaginationMetadata): `paginationTotal: "null"` answers
//   null; the default is the count, as rql.md's "Counting" example shows.
// - Only `lastAccessAt` is an "Optional" field of ApiToken (x-softwareone-rql constraints): lists
//   and GET /accounts/api-tokens/{id} leave it out unless `select=+lastAccessAt`, and name it in
//   `$meta.omitted`. Every other field, `token` included (constraint "None"), is in the default
//   representation: an administrator's GET answers the token's value again (the API token
//   object's `token` field; the UI's "Copy API token" page shows and copies it), and so does a
//   list. `select=-token` leaves it out.
// - Disable, enable and delete declare 400 (ProblemDetails): with `repeatedStateChange: "400"`,
//   disabling a disabled token or enabling an active one is a 400 problem; the default answers
//   200 with the record (idempotent).
// - Problem details `errors` come in two forms: error-object.md's array
//   `[{message, properties, id?, parameters?}]` (the default for validation failures and the
//   repeated-state 400) and errors-handling.md's map `{field: [messages]}`
//   (`problemErrors: "map"`). The spec's ProblemDetails allows any extra member.
// - Module ids are `MOD-\d{4}` (CreateApiTokenDto's ModuleDto pattern): MOD-1000..MOD-1003.
// - Tokens minted now are `idt:TKN-XXXX-XXXX:<64 letters and digits>`; `seedToken(…, {legacy:
//   true})` gives an older token, whose value is the bare secret without the `idt:TKN-…:` part
//   (SoftwareOne's CLI keeps such a token's id beside it); it authenticates the same way.
//
// Choices where the vendor's pages and the spec are silent (invented here):
// - Admin rights: managing tokens (list, create, PUT, disable/enable, DELETE, GET of another
//   token) needs an account administrator's token. Here that is a token whose modules include
//   `MOD-1000` ("Account administration"); `seedToken(…, {admin: true})` adds it, and a token
//   minted (or PUT) with it is an administrator too. Anyone else gets 403. Every live token may
//   GET its own record (how keyturn verifies a fresh token) and GET /accounts/modules.
// - Scope: a token sees only its own account's tokens; another account's token id is a 404, and
//   creating a token for another account is a 403.
// - Tokens never expire (no page says they do); disable and enable are 404 on a deleted token, and
//   which status a repeated disable gets is the `repeatedStateChange` switch above.
// - A deleted token is gone from every answer: GET and DELETE are 404 and lists leave it out.
// - Lists: default limit 10 (the spec gives none), ordered by creation; `select=-field` drops a
//   field. Whether a list really carries `token` is not stated anywhere; the spec's default
//   representation is taken literally, the worst case for a client.
// - The answers to PUT, disable and enable carry no `token` (the spec's ApiToken would allow it);
//   a token reading its own record gets its own value like an administrator would.
// - GET /accounts/api-tokens/{id} takes only `select` (the one query parameter the spec
//   declares for it); anything else is a 400.
// - An older token's value is 64 letters and digits, the secret part of the current form: how
//   such values really look is not documented.
// - RQL: `eq(field,value)` (value quoted or bare, `null` bare for "absent", dotted fields such
//   as `account.id`) and `and(…)`; several top-level expressions are and-ed. The query string is
//   percent-decoded before parsing, so a value holding `,` or `)` must be quoted. Other
//   operators, unknown fields, unknown query parameters and `?rql=` are 400s.
// - Problem details follow ASP.NET Core: an RFC 9110 `type` URL and `traceId` as a W3C
//   traceparent; which messages and which `errors` entries a failure gets is invented.
// - `lastAccessAt` is absent until first use; every authenticated call sets it, even one then
//   refused with 403 or 400. `audit.*.by` is `{id, name}` of the acting token, or of the
//   account's (simulated) web-UI user for seeded tokens.
// - Plain HTTP: a request with `x-forwarded-proto: http` (what the vendor's load balancer
//   would see) is a 403 problem.
// - No documented rate limit: a 429 with Retry-After comes from the fault injector.
//
// Tokens are looked up by SHA-256 hash. The plain values are kept with the token (an
// administrator may read them again) and in `issuedValues`, so that tests can scan everything
// keyturn printed for any of them; the test-facing `tokens()` never shows them.

import { createHash, randomBytes, randomInt } from "node:crypto";
import { type IncomingMessage, STATUS_CODES } from "node:http";
import { transcript } from "../transcript.ts";
import { type Clock, systemClock } from "./clock.ts";
import type { SimulatedResponse } from "./faults.ts";
import { type SimulatorControls, startSimulatorServer } from "./simulator-server.ts";

export const SOFTWAREONE_HOST = "api.platform.softwareone.com";
/** The module that makes a token an account administrator (a simulator choice, see above). */
export const SOFTWAREONE_ADMIN_MODULE = "MOD-1000";

export interface SoftwareOneModule {
  id: string;
  name: string;
}

/** What GET /accounts/modules lists: the modules a token may be granted. */
export const SOFTWAREONE_MODULES: readonly SoftwareOneModule[] = [
  { id: SOFTWAREONE_ADMIN_MODULE, name: "Account administration" },
  { id: "MOD-1001", name: "Catalog" },
  { id: "MOD-1002", name: "Commerce" },
  { id: "MOD-1003", name: "Billing" },
];

export type ApiTokenStatus = "Active" | "Disabled" | "Deleted";

export interface AuditEntry {
  at: string;
  by: { id: string; name: string };
}

/** As the platform answers it (the spec's ApiToken); `token` unless `select=-token`. */
export interface ApiToken {
  id: string;
  name: string;
  description?: string;
  icon?: string;
  status: ApiTokenStatus;
  lastAccessAt?: string;
  token?: string;
  account: { id: string; name: string; type: "Client"; status: "Active" };
  modules: SoftwareOneModule[];
  audit: { created: AuditEntry; updated: AuditEntry };
}

/** A token as the test-facing API shows it: never its value. */
export interface SimulatedApiToken extends Omit<ApiToken, "token"> {
  admin: boolean;
}

export interface RecordedRequest {
  method: string;
  /** Path after the host segment, without the query string, e.g. `/public/v1/accounts/api-tokens`. */
  path: string;
  /** The raw query string without `?` ("" for none); RQL and paging, never a credential. */
  query: string;
  /** Status sent; `NO_ANSWER` (0) when the connection was dropped. */
  status: number;
  /** Arrival time on the simulator's clock, epoch ms. */
  at: number;
}

/** Behaviours the spec allows either way; `configure` changes them on a running simulator. */
export interface SoftwareOneBehaviour {
  /** `$meta.pagination.total` of a token list: the count (default) or null, which the spec allows. */
  paginationTotal?: "count" | "null";
  /** Disabling a disabled token, or enabling an active one: 200 with the record (default) or a 400 problem. */
  repeatedStateChange?: "ok" | "400";
  /** The form of a 400 problem's `errors`: error-object.md's array (default) or errors-handling.md's map. */
  problemErrors?: "array" | "map";
}

export interface SoftwareOneSimulatorOptions extends SoftwareOneBehaviour {
  clock?: Clock;
  /** Default 0: a free port. */
  port?: number;
}

export interface SoftwareOneSimulator extends SimulatorControls<RecordedRequest> {
  /** `${url}/api.platform.softwareone.com/public/v1` */
  readonly baseUrl: string;
  /** `accountId` gives the account a known id (one a config names, such as ACC-1234-5678); default a new one. */
  createAccount(options?: { name?: string; accountId?: string }): { accountId: string };
  /** Changes behaviours the spec allows either way (see SoftwareOneBehaviour). */
  configure(behaviour: SoftwareOneBehaviour): void;
  /**
   * A token as if created on the platform's API tokens page; `legacy` gives an older token whose
   * value is the bare secret, without the `idt:TKN-…:` prefix.
   */
  seedToken(
    accountId: string,
    options: { name: string; description?: string; modules?: string[]; admin?: boolean; legacy?: boolean },
  ): { id: string; token: string };
  /** Every token, deleted ones included, optionally of one account. */
  tokens(accountId?: string): SimulatedApiToken[];
  /** Tokens that authenticate now (status Active). */
  liveTokens(accountId?: string): SimulatedApiToken[];
  isLive(tokenValue: string): boolean;
  /** Simulates a consumer using the token: sets its lastAccessAt (default: the clock's now). */
  touch(id: string, at?: Date | number): void;
}

interface Actor {
  id: string;
  name: string;
}

interface StoredAccount {
  id: string;
  name: string;
  /** The simulated web-UI user who seeds tokens. */
  user: Actor;
}

interface StoredToken {
  id: string;
  /** The value, which an administrator may read again with GET. */
  value: string;
  accountId: string;
  name: string;
  description: string | undefined;
  icon: string | undefined;
  status: ApiTokenStatus;
  modules: string[];
  lastAccessAt: number | undefined;
  created: { at: number; by: Actor };
  updated: { at: number; by: Actor };
}

const API_PREFIX = "/public/v1";
const DEFAULT_LIMIT = 10;
const MAX_LIMIT = 100;
const PROBLEM_CONTENT_TYPE = "application/problem+json; charset=utf-8";
const JSON_CONTENT_TYPE = "application/json; charset=utf-8";
// Fields an answer leaves out unless `select=+field` asks for them: ApiToken's fields with the
// "Optional" constraint in the spec's x-softwareone-rql.
const OMITTED_BY_DEFAULT = ["lastAccessAt"] as const;
const SELECTABLE_FIELDS = new Set([
  "id",
  "name",
  "description",
  "icon",
  "status",
  "lastAccessAt",
  "token",
  "account",
  "modules",
  "audit",
]);
const FILTERABLE_FIELDS = new Set([
  "id",
  "name",
  "description",
  "icon",
  "status",
  "lastAccessAt",
  "account.id",
  "account.name",
  "modules.id",
  "modules.name",
  "audit.created.at",
  "audit.created.by.id",
  "audit.created.by.name",
  "audit.updated.at",
  "audit.updated.by.id",
  "audit.updated.by.name",
]);
const PROBLEM_TYPES: Record<number, string> = {
  400: "https://tools.ietf.org/html/rfc9110#section-15.5.1",
  401: "https://tools.ietf.org/html/rfc9110#section-15.5.2",
  403: "https://tools.ietf.org/html/rfc9110#section-15.5.4",
  404: "https://tools.ietf.org/html/rfc9110#section-15.5.5",
  409: "https://tools.ietf.org/html/rfc9110#section-15.5.10",
  429: "https://tools.ietf.org/html/rfc6585#section-4",
  500: "https://tools.ietf.org/html/rfc9110#section-15.6.1",
  502: "https://tools.ietf.org/html/rfc9110#section-15.6.3",
  503: "https://tools.ietf.org/html/rfc9110#section-15.6.4",
  504: "https://tools.ietf.org/html/rfc9110#section-15.6.5",
};

export async function startSoftwareOneSimulator(
  options: SoftwareOneSimulatorOptions = {},
): Promise<SoftwareOneSimulator> {
  const clock = options.clock ?? systemClock;
  const behaviour: Required<SoftwareOneBehaviour> = {
    paginationTotal: options.paginationTotal ?? "count",
    repeatedStateChange: options.repeatedStateChange ?? "ok",
    problemErrors: options.problemErrors ?? "array",
  };
  const accounts = new Map<string, StoredAccount>();
  const tokens = new Map<string, StoredToken>();
  const tokenIdByHash = new Map<string, string>();
  const usedIds = new Set<string>();
  const issuedValues: string[] = [];

  const newId = (prefix: string): string => {
    for (;;) {
      const id = `${prefix}-${digits(4)}-${digits(4)}`;
      if (!usedIds.has(id)) {
        usedIds.add(id);
        return id;
      }
    }
  };

  const accountOf = (accountId: string): StoredAccount => {
    const account = accounts.get(accountId);
    if (!account) throw new Error(`No SoftwareOne account ${accountId}; create it with createAccount first`);
    return account;
  };

  const issue = (
    account: StoredAccount,
    request: { name: string; description?: string | undefined; icon?: string | undefined; modules: string[] },
    by: Actor,
    legacy = false,
  ): { stored: StoredToken; token: string } => {
    const id = newId("TKN");
    const secret = randomAlphanumeric(64);
    const token = legacy ? secret : `idt:${id}:${secret}`;
    const now = clock.now();
    const stored: StoredToken = {
      id,
      value: token,
      accountId: account.id,
      name: request.name,
      description: request.description,
      icon: request.icon,
      status: "Active",
      modules: [...new Set(request.modules)],
      lastAccessAt: undefined,
      created: { at: now, by },
      updated: { at: now, by },
    };
    tokens.set(id, stored);
    tokenIdByHash.set(hashOf(token), id);
    issuedValues.push(token);
    transcript.secret(token);
    return { stored, token };
  };

  /** The whole representation, `token` only with `withValue`. */
  const toApiToken = (token: StoredToken, withValue = false): ApiToken => {
    const account = accountOf(token.accountId);
    return {
      id: token.id,
      name: token.name,
      ...(token.description === undefined ? {} : { description: token.description }),
      ...(token.icon === undefined ? {} : { icon: token.icon }),
      status: token.status,
      ...(token.lastAccessAt === undefined
        ? {}
        : { lastAccessAt: new Date(token.lastAccessAt).toISOString() }),
      ...(withValue ? { token: token.value } : {}),
      // The spec's Account requires its type and status besides the name.
      account: { id: account.id, name: account.name, type: "Client", status: "Active" },
      modules: token.modules.map(moduleOf),
      audit: {
        created: { at: new Date(token.created.at).toISOString(), by: { ...token.created.by } },
        updated: { at: new Date(token.updated.at).toISOString(), by: { ...token.updated.by } },
      },
    };
  };

  const authenticate = (authorization: string | undefined): StoredToken | undefined => {
    const value = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "")?.[1];
    if (value === undefined) return undefined;
    const id = tokenIdByHash.get(hashOf(value));
    const token = id === undefined ? undefined : tokens.get(id);
    return token?.status === "Active" ? token : undefined;
  };

  const answer = (
    method: string,
    path: string,
    query: string,
    req: IncomingMessage,
    body: Buffer,
  ): SimulatedResponse => {
    const problemAt = (status: number, detail: string, extra: ProblemExtra = {}) =>
      problem(status, detail, path, extra);
    const validationProblem = (errors: FieldErrors) =>
      problemAt(400, `Invalid fields: ${Object.keys(errors).join(", ")}.`, {
        title: "One or more validation errors occurred.",
        errors: errorsIn(behaviour.problemErrors, errors),
      });

    if (firstHeader(req.headers["x-forwarded-proto"])?.toLowerCase() === "http") {
      return problemAt(403, "HTTPS is required: calls made over plain HTTP fail.");
    }
    const route = routeOf(method, path);
    if (!route) return problemAt(404, `No route for ${method} ${path}.`);

    const hasCredential = req.headers.authorization !== undefined;
    const caller = authenticate(req.headers.authorization);
    if (!caller) {
      return problemAt(
        401,
        hasCredential
          ? "The API token is invalid, disabled or deleted."
          : "No API token was sent: use the Authorization header with the Bearer prefix.",
      );
    }
    caller.lastAccessAt = clock.now();
    const actor: Actor = { id: caller.id, name: caller.name };

    const readsItself = route.name === "getToken" && route.tokenId === caller.id;
    if (route.name !== "listModules" && !readsItself && !caller.modules.includes(SOFTWAREONE_ADMIN_MODULE)) {
      return problemAt(403, "Managing API tokens requires an account administrator's token.");
    }

    const parsedBody = route.name === "createToken" || route.name === "updateToken" ? readJson(body) : {};
    if (parsedBody instanceof SyntaxError)
      return problemAt(400, `The body is not valid JSON: ${parsedBody.message}`);

    // Tokens of the caller's account only; deleted ones are gone.
    const visible = (id: string): StoredToken | undefined => {
      const token = tokens.get(id);
      return token && token.accountId === caller.accountId && token.status !== "Deleted" ? token : undefined;
    };
    const notFound = (id: string) => problemAt(404, `API token ${id} was not found.`);

    switch (route.name) {
      case "listModules":
        return json(200, {
          $meta: {
            pagination: { offset: 0, limit: MAX_LIMIT, total: SOFTWAREONE_MODULES.length },
            omitted: [],
          },
          data: SOFTWAREONE_MODULES.map((module) => ({ ...module })),
        });
      case "listTokens": {
        const listQuery = parseListQuery(query);
        if ("error" in listQuery) return problemAt(400, listQuery.error);
        const matching = [...tokens.values()]
          .filter((token) => token.accountId === caller.accountId && token.status !== "Deleted")
          .map((token) => toApiToken(token, true))
          .filter((token) => listQuery.filters.every((filter) => matchesRql(filter, token)));
        const hidden = hiddenFields(listQuery);
        const data = matching
          .slice(listQuery.offset, listQuery.offset + listQuery.limit)
          .map((token) => project(token, hidden));
        return json(200, {
          $meta: {
            pagination: {
              offset: listQuery.offset,
              limit: listQuery.limit,
              total: behaviour.paginationTotal === "null" ? null : matching.length,
            },
            omitted: omittedOf(hidden),
          },
          data,
        });
      }
      case "createToken": {
        const request = validateTokenRequest(parsedBody, { creating: true });
        if ("errors" in request) return validationProblem(request.errors);
        if (request.accountId !== caller.accountId) {
          return problemAt(
            403,
            `A token of account ${caller.accountId} cannot create tokens for another account.`,
          );
        }
        const { stored, token } = issue(
          accountOf(caller.accountId),
          { ...request, modules: request.modules ?? [] },
          actor,
        );
        return json(
          201,
          { ...toApiToken(stored), token },
          { location: `${API_PREFIX}/accounts/api-tokens/${stored.id}` },
        );
      }
      case "getToken": {
        const selection = parseSelectOnly(query);
        if ("error" in selection) return problemAt(400, selection.error);
        const token = visible(route.tokenId);
        if (!token) return notFound(route.tokenId);
        const hidden = hiddenFields(selection);
        const omitted = omittedOf(hidden);
        return json(200, {
          ...project(toApiToken(token, true), hidden),
          ...(omitted.length > 0 ? { $meta: { omitted } } : {}),
        });
      }
      case "updateToken": {
        const token = visible(route.tokenId);
        if (!token) return notFound(route.tokenId);
        const request = validateTokenRequest(parsedBody, { creating: false });
        if ("errors" in request) return validationProblem(request.errors);
        token.name = request.name;
        token.description = request.description;
        token.icon = request.icon;
        if (request.modules) token.modules = [...new Set(request.modules)];
        token.updated = { at: clock.now(), by: actor };
        return json(200, toApiToken(token));
      }
      case "disableToken":
      case "enableToken": {
        const token = visible(route.tokenId);
        if (!token) return notFound(route.tokenId);
        const status = route.name === "disableToken" ? "Disabled" : "Active";
        if (token.status === status && behaviour.repeatedStateChange === "400") {
          const already = `The API token ${token.id} is already ${status === "Active" ? "active" : "disabled"}.`;
          return problemAt(400, already, {
            errors: errorsIn(behaviour.problemErrors, { status: [already] }),
          });
        }
        if (token.status !== status) {
          token.status = status;
          token.updated = { at: clock.now(), by: actor };
        }
        return json(200, toApiToken(token));
      }
      case "deleteToken": {
        const token = visible(route.tokenId);
        if (!token) return notFound(route.tokenId);
        token.status = "Deleted";
        token.updated = { at: clock.now(), by: actor };
        return { status: 204 };
      }
    }
  };

  const server = await startSimulatorServer({
    clock,
    port: options.port,
    issuedValues,
    locate,
    answer: ({ known, path, query }, method, req, body) =>
      known ? answer(method, path, query, req, body) : problem(404, "Unknown host.", path),
    statusBody: (status, { path }) => problem(status, faultDetail(status), path).body ?? "",
    logEntry: ({ target: { path, query }, method, status, at }) => ({ method, path, query, status, at }),
  });
  const { url } = server;

  const toSimulated = (token: StoredToken): SimulatedApiToken => ({
    ...toApiToken(token),
    admin: token.modules.includes(SOFTWAREONE_ADMIN_MODULE),
  });
  const ofAccount = (accountId: string | undefined) =>
    [...tokens.values()].filter((token) => accountId === undefined || token.accountId === accountId);

  return server.with<SoftwareOneSimulator>({
    baseUrl: `${url}/${SOFTWAREONE_HOST}${API_PREFIX}`,
    configure(changes) {
      for (const key of ["paginationTotal", "repeatedStateChange", "problemErrors"] as const) {
        const value = changes[key];
        if (value !== undefined) Object.assign(behaviour, { [key]: value });
      }
    },
    createAccount(accountOptions = {}) {
      const wanted = accountOptions.accountId;
      if (wanted !== undefined && usedIds.has(wanted)) {
        throw new Error(`SoftwareOne account id ${wanted} is taken already`);
      }
      if (wanted !== undefined) usedIds.add(wanted);
      const id = wanted ?? newId("ACC");
      accounts.set(id, {
        id,
        name: accountOptions.name ?? `Account ${accounts.size + 1}`,
        user: { id: newId("USR"), name: "Account Administrator" },
      });
      return { accountId: id };
    },
    seedToken(accountId, tokenOptions) {
      const account = accountOf(accountId);
      const modules = [...(tokenOptions.modules ?? ["MOD-1001"])];
      for (const id of modules) {
        if (!SOFTWAREONE_MODULES.some((module) => module.id === id)) {
          throw new Error(`Unknown SoftwareOne module ${id}; the simulator knows ${moduleIds()}`);
        }
      }
      if (tokenOptions.admin) modules.unshift(SOFTWAREONE_ADMIN_MODULE);
      const { stored, token } = issue(
        account,
        { name: tokenOptions.name, description: tokenOptions.description, modules },
        account.user,
        tokenOptions.legacy === true,
      );
      return { id: stored.id, token };
    },
    tokens: (accountId) => ofAccount(accountId).map(toSimulated),
    liveTokens: (accountId) =>
      ofAccount(accountId)
        .filter((token) => token.status === "Active")
        .map(toSimulated),
    isLive(tokenValue) {
      const id = tokenIdByHash.get(hashOf(tokenValue));
      return id !== undefined && tokens.get(id)?.status === "Active";
    },
    touch(id, at) {
      const token = tokens.get(id);
      if (!token) throw new Error(`No SoftwareOne token ${id}`);
      token.lastAccessAt = at === undefined ? clock.now() : typeof at === "number" ? at : at.getTime();
    },
  });
}

type Route =
  | { name: "listTokens" | "createToken" | "listModules" }
  | {
      name: "getToken" | "updateToken" | "deleteToken" | "disableToken" | "enableToken";
      tokenId: string;
    };

function routeOf(method: string, path: string): Route | undefined {
  const normalized = path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : path;
  if (normalized === `${API_PREFIX}/accounts/modules`) {
    return method === "GET" ? { name: "listModules" } : undefined;
  }
  if (normalized === `${API_PREFIX}/accounts/api-tokens`) {
    if (method === "GET") return { name: "listTokens" };
    if (method === "POST") return { name: "createToken" };
    return undefined;
  }
  const match = /^\/public\/v1\/accounts\/api-tokens\/([^/]+)(?:\/(disable|enable))?$/.exec(normalized);
  if (!match?.[1]) return undefined;
  let tokenId: string;
  try {
    tokenId = decodeURIComponent(match[1]);
  } catch {
    return undefined;
  }
  if (match[2] === "disable") return method === "POST" ? { name: "disableToken", tokenId } : undefined;
  if (match[2] === "enable") return method === "POST" ? { name: "enableToken", tokenId } : undefined;
  if (method === "GET") return { name: "getToken", tokenId };
  if (method === "PUT") return { name: "updateToken", tokenId };
  if (method === "DELETE") return { name: "deleteToken", tokenId };
  return undefined;
}

function locate(rawUrl: string): { known: boolean; path: string; query: string } {
  const questionMark = rawUrl.indexOf("?");
  const pathname = questionMark === -1 ? rawUrl : rawUrl.slice(0, questionMark);
  const query = questionMark === -1 ? "" : rawUrl.slice(questionMark + 1);
  const [, host = "", ...rest] = pathname.split("/");
  return { known: host.toLowerCase() === SOFTWAREONE_HOST, path: `/${rest.join("/")}`, query };
}

// --- lists: paging, select and RQL -------------------------------------------------------

type Rql = { op: "and"; args: Rql[] } | { op: "eq"; field: string; value: string | null };

interface ListQuery {
  filters: Rql[];
  limit: number;
  offset: number;
  added: Set<string>;
  removed: Set<string>;
}

class RqlSyntaxError extends Error {}

function parseListQuery(query: string): ListQuery | { error: string } {
  const result: ListQuery = {
    filters: [],
    limit: DEFAULT_LIMIT,
    offset: 0,
    added: new Set(),
    removed: new Set(),
  };
  for (const raw of query.split("&")) {
    if (raw === "") continue;
    let part: string;
    try {
      part = decodeURIComponent(raw);
    } catch {
      return { error: `The query string part "${raw}" is not valid percent-encoding.` };
    }
    const parameter = /^([A-Za-z_$][\w$]*)=(.*)$/s.exec(part);
    if (!parameter) {
      try {
        result.filters.push(parseRql(part));
      } catch (error) {
        if (error instanceof RqlSyntaxError) return { error: error.message };
        throw error;
      }
      continue;
    }
    const [, name = "", value = ""] = parameter;
    switch (name) {
      case "rql":
        return {
          error: 'RQL goes straight into the query string, e.g. ?eq(status,Active); "rql=" is not supported.',
        };
      case "limit":
      case "offset": {
        if (!/^\d+$/.test(value)) return { error: `${name} must be a non-negative integer, got "${value}".` };
        // rql.md: "Maximum is 100 (values above 100 are capped)".
        result[name] = name === "limit" ? Math.min(Number(value), MAX_LIMIT) : Number(value);
        break;
      }
      case "select": {
        const error = parseSelect(value, result);
        if (error !== undefined) return { error };
        break;
      }
      default:
        return { error: `Unknown query parameter "${name}"; expected RQL, limit, offset or select.` };
    }
  }
  return result;
}

interface Selection {
  added: Set<string>;
  removed: Set<string>;
}

/** `select=+a,-b` into `into`; an error text for an unknown field. */
function parseSelect(value: string, into: Selection): string | undefined {
  for (const item of value.split(",")) {
    const [, sign = "+", field = ""] = /^([+-]?)(.*)$/s.exec(item.trim()) ?? [];
    if (!SELECTABLE_FIELDS.has(field)) return `select: unknown field "${field}".`;
    (sign === "-" ? into.removed : into.added).add(field);
  }
  return undefined;
}

/** The query of GET /accounts/api-tokens/{id}: the spec declares `select` only. */
function parseSelectOnly(query: string): Selection | { error: string } {
  const result: Selection = { added: new Set(), removed: new Set() };
  for (const raw of query.split("&")) {
    if (raw === "") continue;
    let part: string;
    try {
      part = decodeURIComponent(raw);
    } catch {
      return { error: `The query string part "${raw}" is not valid percent-encoding.` };
    }
    const parameter = /^select=(.*)$/s.exec(part);
    if (!parameter) return { error: `Unknown query parameter "${part}"; a single token takes only select.` };
    const error = parseSelect(parameter[1] ?? "", result);
    if (error !== undefined) return { error };
  }
  return result;
}

/** The fields an answer leaves out: the "Optional" ones not selected, and those `-`selected. */
function hiddenFields(selection: Selection): Set<string> {
  const hidden = new Set<string>(selection.removed);
  for (const field of OMITTED_BY_DEFAULT) if (!selection.added.has(field)) hidden.add(field);
  return hidden;
}

/** `$meta.omitted`: the fields left out, `token` excepted (a value is never named as omitted). */
function omittedOf(hidden: Set<string>): string[] {
  return [...hidden].filter((field) => field !== "token");
}

function project(token: ApiToken, hidden: Set<string>): Partial<ApiToken> {
  return Object.fromEntries(Object.entries(token).filter(([key]) => !hidden.has(key)));
}

function parseRql(source: string): Rql {
  let at = 0;
  const fail = (problem: string): never => {
    throw new RqlSyntaxError(`RQL: ${problem} at position ${at} of "${source}".`);
  };
  const expect = (char: string) => {
    if (source[at] !== char) fail(`expected "${char}"`);
    at += 1;
  };
  const atom = (): { text: string; quoted: boolean } => {
    const quote = source[at];
    if (quote === '"' || quote === "'") {
      const end = source.indexOf(quote, at + 1);
      if (end === -1) fail("unterminated string");
      const text = source.slice(at + 1, end);
      at = end + 1;
      return { text, quoted: true };
    }
    const text = /^[^,()]*/.exec(source.slice(at))?.[0] ?? "";
    at += text.length;
    return { text: text.trim(), quoted: false };
  };
  const expression = (): Rql => {
    const operator = /^[A-Za-z]+/.exec(source.slice(at))?.[0] ?? fail("expected an operator");
    at += operator.length;
    expect("(");
    if (operator === "and") {
      const args = [expression()];
      while (source[at] === ",") {
        at += 1;
        args.push(expression());
      }
      expect(")");
      return { op: "and", args };
    }
    if (operator === "eq") {
      const field = atom();
      if (!FILTERABLE_FIELDS.has(field.text)) fail(`unknown field "${field.text}"`);
      expect(",");
      const value = atom();
      expect(")");
      return {
        op: "eq",
        field: field.text,
        value: !value.quoted && value.text === "null" ? null : value.text,
      };
    }
    return fail(`unsupported operator "${operator}" (the simulator knows eq and and)`);
  };
  const parsed = expression();
  if (at !== source.length) fail("unexpected text after the expression");
  return parsed;
}

function matchesRql(filter: Rql, token: ApiToken): boolean {
  if (filter.op === "and") return filter.args.every((arg) => matchesRql(arg, token));
  const values = resolve(token, filter.field.split("."));
  if (filter.value === null) return values.length === 0 || values.every((value) => value === null);
  return values.some((value) => value !== null && String(value) === filter.value);
}

/** Every value at a dotted path; an array on the way contributes each of its items. */
function resolve(value: unknown, path: string[]): unknown[] {
  if (value === undefined) return [];
  if (Array.isArray(value)) return value.flatMap((item) => resolve(item, path));
  const [head, ...rest] = path;
  if (head === undefined) return [value];
  if (typeof value !== "object" || value === null) return [];
  return resolve((value as Record<string, unknown>)[head], rest);
}

// --- bodies ------------------------------------------------------------------------------

interface TokenRequest {
  accountId: string | undefined;
  name: string;
  description: string | undefined;
  icon: string | undefined;
  modules: string[] | undefined;
}

/** Validation failures by field (the property path), before they take the answer's form. */
type FieldErrors = Record<string, string[]>;

function validateTokenRequest(
  body: unknown,
  { creating }: { creating: boolean },
): TokenRequest | { errors: FieldErrors } {
  const errors: FieldErrors = {};
  const fail = (field: string, message: string) => {
    errors[field] = [...(errors[field] ?? []), message];
  };
  const fields = (typeof body === "object" && body !== null && !Array.isArray(body) ? body : {}) as Record<
    string,
    unknown
  >;

  let accountId: string | undefined;
  if (creating) {
    const account = fields.account as { id?: unknown } | undefined;
    if (typeof account?.id !== "string" || !/^ACC-\d{4}-\d{4}$/.test(account.id)) {
      fail("account.id", "The account id is required, e.g. ACC-1234-5678.");
    } else {
      accountId = account.id;
    }
  }
  const { name, description, icon } = fields;
  if (typeof name !== "string" || name.trim() === "") fail("name", "The name field is required.");
  else if (name.length > 255) fail("name", "The name must be at most 255 characters.");
  if (description !== undefined && description !== null && typeof description !== "string") {
    fail("description", "The description must be a string.");
  }
  if (icon !== undefined && icon !== null && typeof icon !== "string")
    fail("icon", "The icon must be a string.");

  let modules: string[] | undefined;
  if (fields.modules !== undefined || creating) {
    if (!Array.isArray(fields.modules) || fields.modules.length === 0) {
      fail("modules", "At least one module is required.");
    } else {
      modules = [];
      fields.modules.forEach((module: unknown, index) => {
        const id = (module as { id?: unknown } | null)?.id;
        if (typeof id !== "string") fail(`modules[${index}].id`, "The module id is required.");
        else if (!SOFTWAREONE_MODULES.some((known) => known.id === id)) {
          fail(`modules[${index}].id`, `Module ${id} was not found; GET /accounts/modules lists them.`);
        } else modules?.push(id);
      });
    }
  }

  if (Object.keys(errors).length > 0 || typeof name !== "string") return { errors };
  return {
    accountId,
    name,
    description: typeof description === "string" ? description : undefined,
    icon: typeof icon === "string" ? icon : undefined,
    modules,
  };
}

function readJson(body: Buffer): unknown {
  if (body.length === 0) return {};
  try {
    return JSON.parse(body.toString("utf8"));
  } catch (error) {
    return error instanceof SyntaxError ? error : new SyntaxError(String(error));
  }
}

// --- answers -----------------------------------------------------------------------------

/** error-object.md's "Parameter Errors Fields". */
interface ParameterError {
  message: string;
  properties: string[];
}

interface ProblemExtra {
  title?: string;
  errors?: FieldErrors | ParameterError[];
}

/** `errors` as error-object.md's array (one entry per message) or errors-handling.md's map. */
function errorsIn(form: "array" | "map", errors: FieldErrors): FieldErrors | ParameterError[] {
  if (form === "map") return errors;
  return Object.entries(errors).flatMap(([property, messages]) =>
    messages.map((message) => ({ message, properties: [property] })),
  );
}

function problem(
  status: number,
  detail: string,
  instance: string,
  extra: ProblemExtra = {},
): SimulatedResponse {
  const body = {
    type: PROBLEM_TYPES[status] ?? "about:blank",
    title: extra.title ?? STATUS_CODES[status] ?? "Error",
    status,
    detail,
    instance,
    traceId: `00-${randomBytes(16).toString("hex")}-${randomBytes(8).toString("hex")}-00`,
    ...(extra.errors ? { errors: extra.errors } : {}),
  };
  return { status, headers: { "content-type": PROBLEM_CONTENT_TYPE }, body: JSON.stringify(body) };
}

function faultDetail(status: number): string {
  if (status === 429) return "Too many requests: retry after the Retry-After delay.";
  if (status >= 500) return "An unexpected error occurred while processing the request.";
  return STATUS_CODES[status] ?? "Error";
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): SimulatedResponse {
  return { status, headers: { "content-type": JSON_CONTENT_TYPE, ...headers }, body: JSON.stringify(body) };
}

function moduleOf(id: string): SoftwareOneModule {
  const module = SOFTWAREONE_MODULES.find((known) => known.id === id);
  return { id, name: module?.name ?? id };
}

function moduleIds(): string {
  return SOFTWAREONE_MODULES.map((module) => module.id).join(", ");
}

const ALPHANUMERIC = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** Letters and digits, as the secret part of published SoftwareOne token values. */
function randomAlphanumeric(count: number): string {
  let text = "";
  for (let i = 0; i < count; i++) text += ALPHANUMERIC[randomInt(0, ALPHANUMERIC.length)];
  return text;
}

function digits(count: number): string {
  return String(randomInt(0, 10 ** count)).padStart(count, "0");
}

function hashOf(tokenValue: string): string {
  return createHash("sha256").update(tokenValue).digest("hex");
}

function firstHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
