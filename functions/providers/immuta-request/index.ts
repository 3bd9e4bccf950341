// Immuta Request app (formerly "Marketplace app") personal access tokens (docs/vendors.md, "Immuta";
// https://documentation.immuta.com/saas/developer-guides/api-intro/marketplace-api).
//
// - Base URL per region (global segment): https://{na|eu|ap}.api.immutacloud.com/marketplace.
//   Data lives only in the region of the customer's Govern app; any other region answers a
//   plain 401, so the region is required in the secret and a 401 is diagnosed (below).
// - Mint: POST /api/auth/tokens {description, expirationDate?}; keyturn's tracking marker
//   goes into `description`. The value is shown once.
// - Verify: GET /api/auth/user (operation `user`), which answers UserWithPermissionsAndEntitlements:
//   its tenantInfo.globalSegment names the region the token belongs to, which must be the
//   credential's, and tenantInfo.id the tenant, which must be the configured tenantId when the
//   config names one (a handed-over token of another tenant is refused). Revoke: DELETE
//   /api/auth/tokens/{id} (`deleteToken`); 404 = already gone. Immuta has no reversible
//   "disable", so a soft revoke deletes too. Listing: GET /api/auth/tokens
//   (`listTokens`); minting: POST /api/auth/tokens (`createToken`). The operation ids are those of
//   Immuta's published spec ("Immuta Data Marketplace" 1.0, downloadable from the page above;
//   public copy in github.com/api-evangelist/immuta, `openapi/immuta-marketplace-api-openapi.yml`);
//   test/contract/immuta.test.ts checks every call and answer against it. PATs are JWTs; keyturn never reads inside one.
// - Unconfirmed by Immuta's documents, and therefore settings rather than assumptions:
//   whether a PAT may mint its own successor (a credential may name an issuer credential
//   instead, see the `keyturn:issuer` tag), and whether omitting expirationDate means
//   "never" (keyturn always sends one unless the policy says "none").

import * as v from "valibot";
import {
  CredentialRejectedError,
  InvalidSecretError,
  InvalidSettingsError,
  VendorError,
} from "#engine/errors.ts";
import { ResponseError } from "#http/errors.ts";
import { markerIn } from "../marker.ts";
import {
  httpsUrlSetting,
  isoDateTime,
  parseSecretValue,
  parseVendorAnswer,
  secretFields,
} from "../schema.ts";
import type { AutomaticProvider, IssuedKey, ProviderContext } from "../types.ts";
import { vendorFailure } from "../vendor-errors.ts";

export const IMMUTA_REGIONS = ["na", "eu", "ap"] as const;
export type ImmutaRegion = (typeof IMMUTA_REGIONS)[number];

export function immutaBaseUrl(region: ImmutaRegion): string {
  return `https://${region}.api.immutacloud.com/marketplace`;
}

const VENDOR = "Immuta";

/** The settings the deployment config takes (infra/config.ts), with their reference descriptions. */
const Settings = v.strictObject({
  region: v.pipe(
    v.picklist(IMMUTA_REGIONS),
    v.description("The region of the customer's Immuta Govern app: Immuta keeps data only there."),
  ),
  baseUrl: v.optional(
    httpsUrlSetting("Overrides the regional base URL (https://<region>.api.immutacloud.com/marketplace)."),
  ),
  tenantId: v.optional(
    v.pipe(
      v.string(),
      v.regex(
        /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/,
        "a tenant id (a UUID), as GET /api/auth/user answers it in tenantInfo.id",
      ),
      v.description(
        "The Immuta tenant the tokens must belong to (tenantInfo.id of GET /api/auth/user). Set, a token of " +
          "another tenant is refused at handover and at every check.",
      ),
    ),
  ),
});

/**
 * Immuta's error bodies are NestJS's `{statusCode, error, message}`, where `message` is a list of
 * class-validator messages for a refused body.
 */
function summarizeProblem(problem: unknown): string {
  if (typeof problem !== "object" || problem === null) return "";
  const { error, message } = problem as Record<string, unknown>;
  const said = Array.isArray(message)
    ? message.filter((item): item is string => typeof item === "string").join("; ")
    : message;
  const texts = [error, said].filter((text): text is string => typeof text === "string" && text !== "");
  return [...new Set(texts)].join(": ");
}

const ImmutaValue = v.looseObject({
  provider: v.literal("immuta-request"),
  region: v.picklist(IMMUTA_REGIONS),
  baseUrl: v.optional(v.string()),
  /** The tenant the config pins, when it names one: a token of another tenant is refused. */
  tenantId: v.optional(v.string()),
  token: v.pipe(v.string(), v.minLength(16)),
  keyId: v.pipe(v.string(), v.minLength(1)),
  issuedAt: v.optional(isoDateTime),
  expiresAt: v.optional(v.nullable(isoDateTime)),
  previous: v.optional(v.object({ keyId: v.string(), revokeAfter: v.optional(isoDateTime) })),
});

export type ImmutaCredential = v.InferOutput<typeof ImmutaValue>;

/** UserWithPermissionsAndEntitlements, what keyturn reads of it: the tenant and region the token belongs to. */
const CurrentUser = v.looseObject({
  tenantInfo: v.looseObject({ id: v.string(), globalSegment: v.optional(v.string()) }),
});

const MintAnswer = v.object({
  tokenId: v.pipe(v.string(), v.minLength(1)),
  token: v.pipe(v.string(), v.minLength(1)),
});

const TokenList = v.array(
  v.looseObject({
    tokenId: v.string(),
    description: v.optional(v.nullable(v.string())),
    active: v.optional(v.boolean()),
    expirationDate: v.optional(v.nullable(v.string())),
    creationDate: v.optional(v.nullable(v.string())),
  }),
);

function auth(credential: ImmutaCredential): Record<string, string> {
  return { authorization: `Bearer ${credential.token}` };
}

function url(credential: ImmutaCredential, path: string): string {
  return `${immutaBaseUrl(credential.region)}${path}`;
}

/**
 * A 401 from Immuta is the same body for a deleted, expired or wrong-region token. Tell
 * them apart where we can: an expiry in the past, or the token working in another region.
 */
async function diagnoseRejection(
  candidate: ImmutaCredential,
  ctx: ProviderContext,
  cause: ResponseError,
): Promise<CredentialRejectedError> {
  const where = `region "${candidate.region}" (${immutaBaseUrl(candidate.region)})`;
  const expiresAt = candidate.expiresAt ? new Date(candidate.expiresAt) : undefined;
  if (expiresAt && expiresAt.getTime() <= ctx.now().getTime()) {
    return new CredentialRejectedError(
      `Immuta rejected the token of credential "${ctx.credential}" in ${where}: it expired at ${expiresAt.toISOString()}. ` +
        "An expired token cannot mint its successor: generate a new PAT in the Request app and store it with keyturn put.",
      { credential: ctx.credential, cause },
    );
  }
  for (const region of IMMUTA_REGIONS) {
    if (region === candidate.region) continue;
    const probe = { ...candidate, region };
    try {
      await ctx.http.request({
        method: "GET",
        url: url(probe, "/api/auth/user"),
        headers: auth(probe),
        summarizeProblem,
      });
      return new CredentialRejectedError(
        `Immuta rejected the token of credential "${ctx.credential}" in ${where}, but it authenticates in region "${region}": ` +
          `wrong region? Set the credential's region to "${region}" (the global segment of your Govern app).`,
        { credential: ctx.credential, cause },
      );
    } catch {
      // not valid there either
    }
  }
  return new CredentialRejectedError(
    `Immuta rejected the token of credential "${ctx.credential}" in ${where} (401 Not authenticated.): ` +
      "it was deleted, has expired, or belongs to another region (wrong region?). Check the region matches your " +
      "Govern app's global segment, or generate a new PAT and store it with keyturn put.",
    { credential: ctx.credential, cause },
  );
}

/** One authenticated call; a 401 is diagnosed, any other failure named with the action. */
async function call(
  as: ImmutaCredential,
  ctx: ProviderContext,
  action: string,
  request: { method: "GET" | "POST" | "DELETE"; path: string; body?: unknown },
): Promise<unknown> {
  try {
    const answer = await ctx.http.request({
      method: request.method,
      url: url(as, request.path),
      headers: auth(as),
      ...(request.body === undefined ? {} : { body: request.body }),
      summarizeProblem,
    });
    return answer.body;
  } catch (error) {
    if (error instanceof ResponseError && error.status === 401) throw await diagnoseRejection(as, ctx, error);
    throw vendorFailure(
      error,
      { credential: ctx.credential, vendor: VENDOR },
      `${action} (${request.method} ${request.path})`,
    );
  }
}

export const immutaRequest: AutomaticProvider<ImmutaCredential> = {
  id: "immuta-request",
  vendor: VENDOR,
  mode: "automatic",
  revocation: "hard-only",
  config: {
    description: "An Immuta Request app personal access token, rotated by keyturn.",
    settings: Settings,
    keyLifetime: true,
  },
  summarizeProblem,

  parse(value, credential) {
    const parsed = parseSecretValue(ImmutaValue, value, {
      credential,
      vendor: VENDOR,
      publicFields: ["provider", "region", "baseUrl", "keyId", "issuedAt", "expiresAt"],
    });
    if (parsed.baseUrl !== undefined && parsed.baseUrl.replace(/\/+$/, "") !== immutaBaseUrl(parsed.region)) {
      throw new InvalidSecretError(
        `Secret value of credential "${credential}": baseUrl ${parsed.baseUrl} does not match region "${parsed.region}" ` +
          `(${immutaBaseUrl(parsed.region)}). The region decides the URL: fix or remove baseUrl.`,
        { credential },
      );
    }
    return parsed;
  },

  secretsOf(value) {
    return secretFields(value, ["token"]);
  },

  expiresAt(value) {
    return value.expiresAt ? new Date(value.expiresAt) : undefined;
  },

  settingDefaults(settings) {
    const region = IMMUTA_REGIONS.find((known) => known === settings.region);
    return region ? { baseUrl: immutaBaseUrl(region) } : {};
  },

  async verify(candidate, ctx) {
    const user = await call(candidate, ctx, "token check", { method: "GET", path: "/api/auth/user" });
    // A 200 without the user (an empty body, a proxy's page) proves nothing about the token.
    const { tenantInfo } = parseVendorAnswer(CurrentUser, user, {
      credential: ctx.credential,
      vendor: VENDOR,
      action: "token check",
    });
    if (candidate.tenantId !== undefined && tenantInfo.id !== candidate.tenantId) {
      throw new CredentialRejectedError(
        `Immuta accepted the token of credential "${ctx.credential}", but it belongs to another tenant than the ` +
          `configured one (${candidate.tenantId}): hand over a token of that tenant, or correct tenantId in the config.`,
        { credential: ctx.credential },
      );
    }
    const segment = tenantInfo.globalSegment;
    if (segment !== undefined && segment !== candidate.region) {
      throw new CredentialRejectedError(
        `Immuta accepted the token of credential "${ctx.credential}", but says it belongs to region ` +
          `${/^[a-z0-9-]{1,16}$/.test(segment) ? `"${segment}"` : "(unreadable)"}, not "${candidate.region}": set the ` +
          "credential's region to the global segment " +
          "of your Govern app, or hand over a token of that region.",
        { credential: ctx.credential },
      );
    }
  },

  async issue(authority, template, request, ctx) {
    if (authority.region !== template.region) {
      throw new InvalidSettingsError(
        `Credential "${ctx.credential}" is in region "${template.region}" but its issuer is in "${authority.region}": ` +
          "Immuta tokens only work in the region that minted them. Use an issuer in the same region.",
        { credential: ctx.credential },
      );
    }
    const body = await call(authority, ctx, "token creation", {
      method: "POST",
      path: "/api/auth/tokens",
      body: {
        description: request.marker,
        ...(request.expiresAt ? { expirationDate: request.expiresAt.toISOString() } : {}),
      },
    });
    const minted = parseVendorAnswer(MintAnswer, body, {
      credential: ctx.credential,
      vendor: VENDOR,
      action: "token creation",
    });
    // The HTTP client has remembered the answer's `token` for redaction.
    return {
      ...template,
      baseUrl: immutaBaseUrl(template.region),
      token: minted.token,
      keyId: minted.tokenId,
      issuedAt: ctx.now().toISOString(),
      expiresAt: request.expiresAt ? request.expiresAt.toISOString() : null,
    };
  },

  async revoke(keyId, authority, _how, ctx) {
    try {
      await call(authority, ctx, `revocation of token ${keyId}`, {
        method: "DELETE",
        path: `/api/auth/tokens/${encodeURIComponent(keyId)}`,
      });
      return "revoked";
    } catch (error) {
      if (
        error instanceof VendorError &&
        error.cause instanceof ResponseError &&
        error.cause.status === 404
      ) {
        return "already-gone";
      }
      throw error;
    }
  },

  async *listIssued(authority, ctx): AsyncIterable<IssuedKey> {
    const body = await call(authority, ctx, "token listing", { method: "GET", path: "/api/auth/tokens" });
    for (const token of parseVendorAnswer(TokenList, body, {
      credential: ctx.credential,
      vendor: VENDOR,
      action: "token listing",
    })) {
      yield {
        keyId: token.tokenId,
        marker: markerIn(token.description),
        active: token.active !== false,
        createdAt: token.creationDate ? new Date(token.creationDate) : undefined,
        expiresAt: token.expirationDate ? new Date(token.expirationDate) : undefined,
      };
    }
  },
};
