// Incorta Public API v2 personal access tokens (docs/vendors.md, "Incorta"). Relies on Incorta's
// pages "References → Public API v2" (https://docs.incorta.com/cloud/references-public-api-v2),
// "Public API v2 → List Schemas" and "Public API v2 → Get SQLi Connection Endpoint", and on
// ../incorta-v1 for the cluster URL.
//
// - `Authorization: Bearer <PAT>`, tenant (case-sensitive) in the path (required since Cloud
//   2023.7.0), base `${clusterUrl}/api` like v1; an http:// clusterUrl only with `allowPlainHttp`
//   (an on-premises cluster, see ../incorta-v1).
// - PATs are created and revoked only in the Profile Manager UI, with a name and an
//   expiration date; at most 10 active per user. So this provider is "manual": no issue, no
//   revoke, and the expiry is what the operator entered (`expiresAt`, required).
// - Documented refusals: an unknown or disabled tenant is a 404 (IncortaTenantNotFoundError); a bad
//   PAT a 401 {"message": "INC_09030101: Invalid personal access token."} (IncortaTokenRejectedError,
//   carrying the INC_ code).
// - Verify: POST /v2/{tenant}/schema/list?schemaType=ALL with {"limit":1,"offset":0}, which every
//   installation offers. Only users with permission on physical or business schemas may call it, so
//   a 403 there may be a good PAT whose user lacks that permission: the PAT is then checked with
//   GET /v2/{tenant}/configs/sqlConnection, which any tenant user may call. A 2xx there proves the
//   PAT; a 401 or 403 there is the PAT's refusal; a 404 (the endpoint exists on Incorta Cloud only,
//   and the tenant was found a moment before) leaves only the two causes to name
//   (IncortaCheckRefusedError). Both calls only read, so the HTTP client may repeat them. An answer
//   of any status whose message starts with INC_09030101 is the PAT's refusal too: Incorta's v1 page
//   shows sqlConnection answering a bad token with a 500 that says so.
//
// Unconfirmed by Incorta's documents, and how keyturn copes:
// - The list's answer (`schemasDetails`, `total`) is known only from a third-party
//   connector: verify needs a 2xx JSON object and checks those two fields' types only when
//   they are there, since the 2xx itself proves the token. sqlConnection's plain-text answer is
//   not read at all.
// - How /schema/list refuses a user without schema permission, and how a PAT is refused on an
//   existing tenant it does not belong to: taken to be a 403, the status that leads to the second
//   check; a 401 anywhere is always the PAT's refusal.
// - The Profile Manager's labels: the steps name the Profile Manager and what to do there,
//   not button captions.
// - `keyId` is whatever the operator uses to tell PATs apart in the Profile Manager (its name).

import * as v from "valibot";
import { CredentialRejectedError } from "#engine/errors.ts";
import { ResponseError } from "#http/errors.ts";
import {
  allowPlainHttpField,
  INCORTA_VENDOR,
  incortaApiBase,
  incortaClusterUrl,
  incortaSays,
  incortaSettings,
  PLAIN_HTTP_EXPECTED,
  plainHttpAllowed,
  plainHttpProblems,
  sendsPlainHttp,
  summarizeIncortaProblem,
} from "../incorta-v1/index.ts";
import { isoDateTime, parseSecretValue, parseVendorAnswer, secretFields } from "../schema.ts";
import type { Provider, ProviderContext } from "../types.ts";
import { vendorFailure } from "../vendor-errors.ts";

const MAX_ACTIVE_PATS = 10;
/** Public API v2: the code of Incorta's "Invalid personal access token." */
const INVALID_TOKEN_CODE = "INC_09030101";

const nonEmpty = v.pipe(v.string(), v.minLength(1));

const IncortaV2Value = v.pipe(
  v.looseObject({
    provider: v.literal("incorta-v2"),
    clusterUrl: incortaClusterUrl,
    allowPlainHttp: allowPlainHttpField,
    tenantName: nonEmpty,
    token: v.pipe(v.string(), v.minLength(16)),
    keyId: nonEmpty,
    expiresAt: isoDateTime,
    issuedAt: v.optional(isoDateTime),
    previous: v.optional(v.object({ keyId: v.string(), revokeAfter: v.optional(isoDateTime) })),
  }),
  v.forward(
    v.check((value) => plainHttpAllowed(value), PLAIN_HTTP_EXPECTED),
    ["clusterUrl"],
  ),
);

export type IncortaV2Credential = v.InferOutput<typeof IncortaV2Value>;

const SchemaList = v.looseObject({
  schemasDetails: v.optional(v.array(v.unknown())),
  total: v.optional(v.number()),
});

/** Incorta answered 404 for the tenant: it does not exist on the cluster, or it is disabled. */
export class IncortaTenantNotFoundError extends CredentialRejectedError {
  override name = "IncortaTenantNotFoundError";
  readonly tenantName: string;

  constructor(message: string, options: { credential: string; tenantName: string; cause: ResponseError }) {
    super(message, options);
    this.tenantName = options.tenantName;
  }
}

/** Incorta answered 401: the PAT itself was refused (revoked, expired, mistyped, another cluster's). */
export class IncortaTokenRejectedError extends CredentialRejectedError {
  override name = "IncortaTokenRejectedError";
  /** The INC_ code Incorta's message starts with, such as INC_09030101; undefined when it had none. */
  readonly incortaCode: string | undefined;

  constructor(
    message: string,
    options: { credential: string; incortaCode: string | undefined; cause: ResponseError },
  ) {
    super(message, options);
    this.incortaCode = options.incortaCode;
  }
}

/**
 * /schema/list refused the PAT (403) and no check open to every tenant user could settle whether the
 * PAT is good: its user lacks schema permission, or the PAT does not belong to the tenant.
 */
export class IncortaCheckRefusedError extends CredentialRejectedError {
  override name = "IncortaCheckRefusedError";
}

function which(candidate: IncortaV2Credential, ctx: ProviderContext): string {
  return (
    `personal access token "${candidate.keyId}" of credential "${ctx.credential}" ` +
    `(tenant ${candidate.tenantName} at ${candidate.clusterUrl})`
  );
}

function incortaCodeOf(error: ResponseError): string | undefined {
  const { problem } = error;
  const said =
    typeof problem === "object" && problem !== null ? (problem as { message?: unknown }).message : undefined;
  return typeof said === "string" ? /^\s*(INC_\d+)\b/.exec(said)?.[1] : undefined;
}

function tenantNotFound(
  candidate: IncortaV2Credential,
  ctx: ProviderContext,
  cause: ResponseError,
): IncortaTenantNotFoundError {
  return new IncortaTenantNotFoundError(
    `Incorta answered 404 for tenant ${candidate.tenantName} at ${candidate.clusterUrl} while checking the ` +
      `${which(candidate, ctx)}.${incortaSays(cause)} The tenant does not exist on that cluster or is disabled. ` +
      "Tenant names are case-sensitive: fix settings.tenantName in the keyturn config (and deploy), or ask an " +
      "Incorta administrator to enable the tenant (check too that settings.clusterUrl is the cluster's " +
      "/incorta URL); the token itself was not checked.",
    { credential: ctx.credential, tenantName: candidate.tenantName, cause },
  );
}

function tokenRejected(
  candidate: IncortaV2Credential,
  ctx: ProviderContext,
  cause: ResponseError,
): IncortaTokenRejectedError {
  const incortaCode = incortaCodeOf(cause);
  const expiresAt = new Date(candidate.expiresAt);
  const advice =
    expiresAt.getTime() <= ctx.now().getTime()
      ? `It expired at ${expiresAt.toISOString()}.`
      : "It was revoked in the Profile Manager, expired before the expiresAt stored with it " +
        `(${expiresAt.toISOString()}: check the date entered), was stored incompletely, or belongs to ` +
        "another tenant or cluster.";
  return new IncortaTokenRejectedError(
    `Incorta rejected the ${which(candidate, ctx)} during the token check (${cause.status}` +
      `${incortaCode === undefined ? "" : ` ${incortaCode}`}).${incortaSays(cause)} ${advice} Create a new ` +
      "token in the Profile Manager and store it with keyturn put.",
    { credential: ctx.credential, incortaCode, cause },
  );
}

function notForTenant(
  candidate: IncortaV2Credential,
  ctx: ProviderContext,
  cause: ResponseError,
): CredentialRejectedError {
  return new CredentialRejectedError(
    `Incorta refused the ${which(candidate, ctx)} (${cause.status}) both at /schema/list and at ` +
      `/configs/sqlConnection, which any user of tenant ${candidate.tenantName} may call.${incortaSays(cause)} ` +
      "The token belongs to a user of another tenant (check tenantName) or the user was removed from this one.",
    { credential: ctx.credential, cause },
  );
}

function checkRefused(
  candidate: IncortaV2Credential,
  ctx: ProviderContext,
  cause: ResponseError,
): IncortaCheckRefusedError {
  return new IncortaCheckRefusedError(
    `Incorta refused the ${which(candidate, ctx)} at /schema/list (403), and this cluster offers no ` +
      "/configs/sqlConnection (Incorta Cloud only) to tell why." +
      `${incortaSays(cause)} Only users with permission on physical or business schemas may list schemas: ` +
      "either the token's user lacks that permission (grant it access to at least one schema; the token " +
      "itself may be fine), or the token belongs to another tenant (check tenantName).",
    { credential: ctx.credential, cause },
  );
}

function vendorOf(ctx: ProviderContext): { credential: string; vendor: string } {
  return { credential: ctx.credential, vendor: INCORTA_VENDOR };
}

/** After /schema/list refused with 403: the PAT is good if a call open to every tenant user accepts it. */
async function checkAsAnyTenantUser(
  candidate: IncortaV2Credential,
  ctx: ProviderContext,
  url: string,
  common: {
    headers: Record<string, string>;
    allowPlainHttp: boolean;
    summarizeProblem: (problem: unknown) => string;
  },
  schemaRefusal: ResponseError,
): Promise<void> {
  try {
    await ctx.http.request({ method: "GET", url, expectJson: false, ...common });
  } catch (error) {
    if (error instanceof ResponseError && error.status === 403) throw notForTenant(candidate, ctx, error);
    if (error instanceof ResponseError && error.status === 404) {
      throw checkRefused(candidate, ctx, schemaRefusal);
    }
    throw refusalOf(candidate, ctx, error, "token check (GET configs/sqlConnection)");
  }
}

/** A failed check call in keyturn's terms: the PAT refused, the tenant missing, or the vendor failing. */
function refusalOf(
  candidate: IncortaV2Credential,
  ctx: ProviderContext,
  error: unknown,
  action: string,
): unknown {
  if (!(error instanceof ResponseError)) return vendorFailure(error, vendorOf(ctx), action);
  // Incorta's v1 page shows sqlConnection answering a bad token with a 500 carrying this code.
  if (error.status === 401 || incortaCodeOf(error) === INVALID_TOKEN_CODE) {
    return tokenRejected(candidate, ctx, error);
  }
  if (error.status === 404) return tenantNotFound(candidate, ctx, error);
  return vendorFailure(error, vendorOf(ctx), action);
}

/** A manual provider: its manual steps are always there. */
export type IncortaV2Provider = Provider<IncortaV2Credential> &
  Required<Pick<Provider<IncortaV2Credential>, "manualSteps">>;

export const incortaV2: IncortaV2Provider = {
  id: "incorta-v2",
  vendor: INCORTA_VENDOR,
  mode: "manual",
  revocation: "hard-only",
  config: {
    description: "An Incorta v2 personal access token, replaced by a person in Incorta's UI.",
    settings: incortaSettings("The Incorta tenant (case-sensitive).", {}),
    settingsProblems: plainHttpProblems,
  },
  summarizeProblem: summarizeIncortaProblem,

  parse(value, credential) {
    return parseSecretValue(IncortaV2Value, value, {
      credential,
      vendor: INCORTA_VENDOR,
      publicFields: [
        "provider",
        "clusterUrl",
        "allowPlainHttp",
        "tenantName",
        "keyId",
        "issuedAt",
        "expiresAt",
        "previous.keyId",
        "previous.revokeAfter",
      ],
    });
  },

  secretsOf(value) {
    return secretFields(value, ["token"]);
  },

  expiresAt(value) {
    return new Date(value.expiresAt);
  },

  async verify(candidate, ctx) {
    const action = "token check";
    const base = `${incortaApiBase(candidate.clusterUrl)}/v2/${encodeURIComponent(candidate.tenantName)}`;
    const common = {
      headers: { authorization: `Bearer ${candidate.token}` },
      allowPlainHttp: sendsPlainHttp(candidate),
      summarizeProblem: summarizeIncortaProblem,
    };
    let body: unknown;
    try {
      const answer = await ctx.http.request({
        method: "POST",
        url: `${base}/schema/list`,
        query: { schemaType: "ALL" },
        body: { limit: 1, offset: 0 },
        // A list changes nothing, so repeating it after a lost answer is safe.
        idempotent: true,
        ...common,
      });
      body = answer.body;
    } catch (error) {
      if (error instanceof ResponseError && error.status === 403) {
        await checkAsAnyTenantUser(candidate, ctx, `${base}/configs/sqlConnection`, common, error);
        return;
      }
      throw refusalOf(candidate, ctx, error, `${action} (POST schema/list)`);
    }
    parseVendorAnswer(SchemaList, body, { credential: ctx.credential, vendor: INCORTA_VENDOR, action });
  },

  manualSteps(value) {
    const replaced = value.previous?.keyId ?? value.keyId;
    return {
      create: [
        `Sign in to ${value.clusterUrl} (tenant ${value.tenantName}) as the user the token acts for.`,
        "Open the Profile Manager (profile icon in the top right corner of the Navigation bar) and go to its " +
          "personal access tokens.",
        `A user may have at most ${MAX_ACTIVE_PATS} active personal access tokens: if the limit is reached, ` +
          `revoke one that nothing uses (never "${replaced}" before the new token is current).`,
        "Create a token with a name that says what uses it (it becomes the keyId) and an expiration date " +
          "within your rotation policy, and copy its value when it is shown.",
        "Store it with keyturn put (value from stdin or the prompt) with token = the value, keyId = its name " +
          "and expiresAt = its expiration date (ISO 8601); keyturn checks it before it becomes current.",
      ],
      revoke: [
        "Once keyturn reports the new token current and every consumer has picked it up, open the Profile " +
          "Manager's personal access tokens again.",
        `Revoke the token "${replaced}"; Incorta rejects a revoked token at once.`,
      ],
    };
  },
};
