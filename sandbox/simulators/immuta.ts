// Immuta Request app simulator: personal access tokens (PATs) over real HTTP on loopback,
// following Immuta's Request App API page
// (https://documentation.immuta.com/saas/developer-guides/api-intro/marketplace-api; what keyturn
// relies on: docs/vendors.md, "Immuta").
//
// Clients reach it through a vendor endpoint override, like AWS_ENDPOINT_URL: the canonical
// `https://na.api.immutacloud.com/marketplace/...` becomes
// `http://127.0.0.1:PORT/na.api.immutacloud.com/marketplace/...`, so the first path segment
// names the vendor host. Each global segment (na, eu, ap) keeps its own users and tokens:
// a token used in the wrong region gets the documented 401.
//
// What Immuta's page and spec leave open is a setting or a stated choice here:
// - whether a PAT may mint its successor: `selfIssue` (default true); when false only tokens
//   seeded with `canIssue` may mint, and others get NestJS's guard answer (403);
// - omitting `expirationDate` means the token never expires;
// - 400/403/404 bodies follow the NestJS shape of the documented 401
//   (`{message, error, statusCode}`, class-validator messages for bad bodies);
// - DELETE answers 200 with an empty body.
//
// Where the vendor's published spec speaks ("Immuta Data Marketplace" 1.0, downloadable from the
// page above; public copy in github.com/api-evangelist/immuta,
// `openapi/immuta-marketplace-api-openapi.yml`; test/contract/immuta.test.ts checks every answer
// against it), the simulator follows it: GET /api/auth/user answers
// UserWithPermissionsAndEntitlements, whose tenantInfo names the tenant and the region
// (globalSegment); tokens are JWTs. Invented where the spec is silent: the
// JWT's claims and signature (a random one: keyturn never reads inside a token), the user's
// `expiration` (the token's expiry in epoch seconds, 0 for none), and the fields the spec leaves
// optional, which the simulator answers with plausible values.
//
// Tokens are looked up by SHA-256 hash. The plain values handed out are kept only in
// `issuedValues`, so that tests can scan everything keyturn printed for any of them.

import { createHash, randomBytes, randomUUID } from "node:crypto";
import { type IncomingMessage, STATUS_CODES } from "node:http";
import { transcript } from "../transcript.ts";
import { type Clock, systemClock } from "./clock.ts";
import type { SimulatedResponse } from "./faults.ts";
import { type SimulatorControls, startSimulatorServer } from "./simulator-server.ts";

export const IMMUTA_REGIONS = ["na", "eu", "ap"] as const;
export type ImmutaRegion = (typeof IMMUTA_REGIONS)[number];

/** As the Request app answers it (the spec's PersonalAccessToken); dates are ISO strings. */
export interface PersonalAccessToken {
  tokenId: string;
  userId: string;
  tenantId: string;
  description: string;
  /** False once expired. */
  active: boolean;
  creationDate: string;
  expirationDate?: string;
}

/** A token as the test-facing API shows it: never its value. */
export interface SimulatedToken extends PersonalAccessToken {
  region: ImmutaRegion;
  deleted: boolean;
}

export interface SimulatedUser {
  userId: string;
  tenantId: string;
  region: ImmutaRegion;
}

export interface RecordedRequest {
  method: string;
  /** Undefined when the host segment is not an Immuta region. */
  region: ImmutaRegion | undefined;
  /** Path after the host segment, without the query string. */
  path: string;
  /** Status sent; `NO_ANSWER` (0) when the connection was dropped. */
  status: number;
  /** Arrival time on the simulator's clock, epoch ms. */
  at: number;
}

export interface ImmutaSimulatorOptions {
  clock?: Clock;
  /** Default 0: a free port. */
  port?: number;
  /** May a PAT create its successor (Immuta does not say); default true. */
  selfIssue?: boolean;
}

export interface ImmutaSimulator extends SimulatorControls<RecordedRequest> {
  /** `${url}/${region}.api.immutacloud.com/marketplace` */
  baseUrl(region: ImmutaRegion): string;
  createUser(region: ImmutaRegion, options?: { name?: string; tenantId?: string }): SimulatedUser;
  /** A token as if generated in the web UI. */
  seedToken(
    region: ImmutaRegion,
    userId: string,
    options: { description: string; expirationDate?: Date; canIssue?: boolean },
  ): { tokenId: string; token: string };
  /** Every token, including expired and deleted ones. */
  tokens(region?: ImmutaRegion): SimulatedToken[];
  /** Tokens that would authenticate now: not deleted, not expired. */
  liveTokens(region?: ImmutaRegion): SimulatedToken[];
  isLive(tokenValue: string): boolean;
}

interface StoredUser {
  userId: string;
  tenantId: string;
  name: string;
}

interface StoredToken {
  tokenId: string;
  userId: string;
  tenantId: string;
  description: string;
  creationDate: number;
  expirationDate: number | undefined;
  deleted: boolean;
  canIssue: boolean;
}

interface RegionState {
  users: Map<string, StoredUser>;
  tokens: Map<string, StoredToken>;
  tokenIdByHash: Map<string, string>;
}

const HOST_SUFFIX = ".api.immutacloud.com";
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/i;
const JSON_CONTENT_TYPE = "application/json; charset=utf-8";

export async function startImmutaSimulator(options: ImmutaSimulatorOptions = {}): Promise<ImmutaSimulator> {
  const clock = options.clock ?? systemClock;
  const selfIssue = options.selfIssue ?? true;
  const regions = new Map<ImmutaRegion, RegionState>(
    IMMUTA_REGIONS.map((region) => [
      region,
      { users: new Map(), tokens: new Map(), tokenIdByHash: new Map() },
    ]),
  );
  const issuedValues: string[] = [];

  const stateOf = (region: ImmutaRegion): RegionState => {
    const state = regions.get(region);
    if (!state)
      throw new Error(`Unknown Immuta region "${region}"; expected one of ${IMMUTA_REGIONS.join(", ")}`);
    return state;
  };

  const isExpired = (token: StoredToken): boolean =>
    token.expirationDate !== undefined && clock.now() >= token.expirationDate;

  const isTokenLive = (token: StoredToken): boolean => !token.deleted && !isExpired(token);

  const issue = (
    state: RegionState,
    user: StoredUser,
    description: string,
    expirationDate: number | undefined,
    canIssue: boolean,
  ): { tokenId: string; token: string } => {
    const tokenId = randomUUID();
    const token = jwt({ sub: user.userId, tid: user.tenantId, jti: tokenId });
    state.tokens.set(tokenId, {
      tokenId,
      userId: user.userId,
      tenantId: user.tenantId,
      description,
      creationDate: clock.now(),
      expirationDate,
      deleted: false,
      canIssue,
    });
    state.tokenIdByHash.set(hashOf(token), tokenId);
    issuedValues.push(token);
    transcript.secret(token);
    return { tokenId, token };
  };

  const toPersonalAccessToken = (token: StoredToken): PersonalAccessToken => ({
    tokenId: token.tokenId,
    userId: token.userId,
    tenantId: token.tenantId,
    description: token.description,
    active: !isExpired(token),
    creationDate: new Date(token.creationDate).toISOString(),
    ...(token.expirationDate === undefined
      ? {}
      : { expirationDate: new Date(token.expirationDate).toISOString() }),
  });

  const authenticate = (state: RegionState, authorization: string | undefined): StoredToken | undefined => {
    const value = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "")?.[1];
    if (value === undefined) return undefined;
    const tokenId = state.tokenIdByHash.get(hashOf(value));
    const token = tokenId === undefined ? undefined : state.tokens.get(tokenId);
    return token && isTokenLive(token) ? token : undefined;
  };

  const answer = (
    state: RegionState,
    region: ImmutaRegion,
    method: string,
    path: string,
    req: IncomingMessage,
    body: Buffer,
  ) => {
    // Express's body parser runs before routing and guards, so bad JSON is a 400 even unauthenticated.
    let parsedBody: unknown = {};
    if (isJson(req.headers["content-type"]) && body.length > 0) {
      try {
        parsedBody = JSON.parse(body.toString("utf8"));
      } catch (error) {
        return nestError(400, (error as Error).message);
      }
    }

    const route = routeOf(method, path);
    if (!route) return nestError(404, `Cannot ${method} ${path}`);

    const caller = authenticate(state, req.headers.authorization);
    const user = caller && state.users.get(caller.userId);
    if (!caller || !user) return notAuthenticated();

    const owned = (tokenId: string): StoredToken | undefined => {
      const token = state.tokens.get(tokenId);
      return token && !token.deleted && token.userId === user.userId && token.tenantId === user.tenantId
        ? token
        : undefined;
    };

    switch (route.name) {
      case "user":
        return json(200, {
          displayName: user.name,
          username: `${user.name}@example.com`,
          email: `${user.name}@example.com`,
          expiration: caller.expirationDate === undefined ? 0 : Math.floor(caller.expirationDate / 1000),
          globalUserId: user.userId,
          trackingId: user.userId,
          tenantInfo: {
            id: user.tenantId,
            fqdn: `${region}.api.immutacloud.com`,
            organizationId: user.tenantId,
            organizationName: "Simulated organization",
            globalSegment: region,
          },
          globalPermissions: [],
          collectionPermissions: {},
          authorizations: {},
          groups: [],
        });
      case "listTokens":
        return json(
          200,
          [...state.tokens.values()]
            .filter((token) => owned(token.tokenId))
            .map((token) => toPersonalAccessToken(token)),
        );
      case "mintToken": {
        if (!selfIssue && !caller.canIssue) return nestError(403, "Forbidden resource");
        const request = validateMintRequest(parsedBody, clock.now());
        if ("errors" in request) return nestError(400, request.errors);
        return json(200, issue(state, user, request.description, request.expirationDate, false));
      }
      case "getToken": {
        const token = owned(route.tokenId);
        return token ? json(200, toPersonalAccessToken(token)) : tokenNotFound(route.tokenId);
      }
      case "deleteToken": {
        const token = owned(route.tokenId);
        if (!token) return tokenNotFound(route.tokenId);
        token.deleted = true;
        return { status: 200 };
      }
    }
  };

  const server = await startSimulatorServer({
    clock,
    port: options.port,
    issuedValues,
    locate,
    answer: ({ region, path }, method, req, body) =>
      region
        ? answer(stateOf(region), region, method, path, req, body)
        : nestError(404, `Cannot ${method} ${path}`),
    statusBody: (status) => nestError(status, STATUS_CODES[status] ?? "Error").body ?? "",
    logEntry: ({ target: { region, path }, method, status, at }) => ({ method, region, path, status, at }),
  });
  const { url } = server;

  const allTokens = (region?: ImmutaRegion): { region: ImmutaRegion; token: StoredToken }[] =>
    (region ? [region] : IMMUTA_REGIONS).flatMap((r) =>
      [...stateOf(r).tokens.values()].map((token) => ({ region: r, token })),
    );
  const toSimulatedToken = ({
    region,
    token,
  }: {
    region: ImmutaRegion;
    token: StoredToken;
  }): SimulatedToken => ({
    ...toPersonalAccessToken(token),
    region,
    deleted: token.deleted,
  });

  return server.with<ImmutaSimulator>({
    baseUrl: (region) => `${url}/${region}${HOST_SUFFIX}/marketplace`,
    createUser(region, userOptions = {}) {
      const state = stateOf(region);
      const user: StoredUser = {
        userId: randomUUID(),
        tenantId: userOptions.tenantId ?? randomUUID(),
        name: userOptions.name ?? `user-${state.users.size + 1}`,
      };
      state.users.set(user.userId, user);
      return { userId: user.userId, tenantId: user.tenantId, region };
    },
    seedToken(region, userId, tokenOptions) {
      const state = stateOf(region);
      const user = state.users.get(userId);
      if (!user)
        throw new Error(`No user ${userId} in Immuta region "${region}"; create it with createUser first`);
      return issue(
        state,
        user,
        tokenOptions.description,
        tokenOptions.expirationDate?.getTime(),
        tokenOptions.canIssue ?? false,
      );
    },
    tokens: (region) => allTokens(region).map(toSimulatedToken),
    liveTokens: (region) =>
      allTokens(region)
        .filter(({ token }) => isTokenLive(token))
        .map(toSimulatedToken),
    isLive(tokenValue) {
      const hash = hashOf(tokenValue);
      return IMMUTA_REGIONS.some((region) => {
        const state = stateOf(region);
        const tokenId = state.tokenIdByHash.get(hash);
        const token = tokenId === undefined ? undefined : state.tokens.get(tokenId);
        return token !== undefined && isTokenLive(token);
      });
    },
  });
}

type Route =
  | { name: "user" | "listTokens" | "mintToken" }
  | { name: "getToken" | "deleteToken"; tokenId: string };

function routeOf(method: string, path: string): Route | undefined {
  // Express routing is not strict about one trailing slash.
  const normalized = path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : path;
  if (normalized === "/marketplace/api/auth/user" && method === "GET") return { name: "user" };
  if (normalized === "/marketplace/api/auth/tokens") {
    if (method === "GET") return { name: "listTokens" };
    if (method === "POST") return { name: "mintToken" };
    return undefined;
  }
  const tokenId = /^\/marketplace\/api\/auth\/tokens\/([^/]+)$/.exec(normalized)?.[1];
  if (tokenId === undefined) return undefined;
  let decoded: string;
  try {
    decoded = decodeURIComponent(tokenId);
  } catch {
    return undefined;
  }
  if (method === "GET") return { name: "getToken", tokenId: decoded };
  if (method === "DELETE") return { name: "deleteToken", tokenId: decoded };
  return undefined;
}

function locate(rawUrl: string): { region: ImmutaRegion | undefined; path: string } {
  const { pathname } = new URL(rawUrl, "http://simulator.invalid");
  const [, host = "", ...rest] = pathname.split("/");
  const lowerHost = host.toLowerCase();
  const region = IMMUTA_REGIONS.find((r) => lowerHost === `${r}${HOST_SUFFIX}`);
  return { region, path: `/${rest.join("/")}` };
}

function validateMintRequest(
  body: unknown,
  now: number,
): { description: string; expirationDate: number | undefined } | { errors: string[] } {
  const fields = typeof body === "object" && body !== null && !Array.isArray(body) ? body : {};
  const errors = Object.keys(fields)
    .filter((key) => key !== "description" && key !== "expirationDate")
    .map((key) => `property ${key} should not exist`);
  const { description, expirationDate } = fields as { description?: unknown; expirationDate?: unknown };

  if (description === undefined || description === null || description === "") {
    errors.push("description should not be empty");
  }
  if (typeof description !== "string") errors.push("description must be a string");

  let expiresAt: number | undefined;
  if (expirationDate !== undefined && expirationDate !== null) {
    expiresAt =
      typeof expirationDate === "string" && ISO_DATE_TIME.test(expirationDate)
        ? Date.parse(expirationDate)
        : Number.NaN;
    if (Number.isNaN(expiresAt)) errors.push("expirationDate must be a valid ISO 8601 date string");
    else if (expiresAt <= now) errors.push("expirationDate must be in the future");
  }

  if (errors.length > 0 || typeof description !== "string") return { errors };
  return { description, expirationDate: expiresAt };
}

function hashOf(tokenValue: string): string {
  return createHash("sha256").update(tokenValue).digest("hex");
}

function isJson(contentType: string | undefined): boolean {
  const mediaType = contentType?.split(";")[0]?.trim().toLowerCase() ?? "";
  return mediaType === "application/json" || mediaType.endsWith("+json");
}

function json(status: number, body: unknown): SimulatedResponse {
  return { status, headers: { "content-type": JSON_CONTENT_TYPE }, body: JSON.stringify(body) };
}

function nestError(status: number, message: string | string[]): SimulatedResponse {
  return json(status, { message, error: STATUS_CODES[status] ?? "Error", statusCode: status });
}

/** The exact 401 body Immuta documents, also for the wrong region. */
function notAuthenticated(): SimulatedResponse {
  return nestError(401, "Not authenticated.");
}

function tokenNotFound(tokenId: string): SimulatedResponse {
  return nestError(404, `Personal access token ${tokenId} not found`);
}

/** A JWT's shape (header.claims.signature, base64url), as Immuta's PATs are; the signature is random. */
function jwt(claims: Record<string, string>): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${part({ alg: "HS256", typ: "JWT" })}.${part(claims)}.${randomBytes(32).toString("base64url")}`;
}
