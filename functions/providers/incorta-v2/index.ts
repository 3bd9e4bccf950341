// Incorta Public API v2 personal access tokens (shared/VENDORS.md §5).
//
// - `Authorization: Bearer <PAT>`, tenant in the path (required since Cloud 2023.7.0), base
//   `${clusterUrl}/api` like v1 (see ../incorta-v1).
// - PATs are created and revoked only in the Profile Manager UI, with a name and an
//   expiration date; at most 10 active per user. So this provider is "manual": no issue, no
//   revoke, and the expiry is what the operator entered (`expiresAt`, required).
// - Verify: POST /v2/{tenant}/schema/list?schemaType=ALL with {"limit":1,"offset":0}. It only
//   reads, so the HTTP client may repeat it after a transient failure.
//
// Unconfirmed by Incorta's documents, and how keyturn copes:
// - The list's answer (`schemasDetails`, `total`) is known only from a third-party
//   connector: verify needs a 2xx JSON object and checks those two fields' types only when
//   they are there, since the 2xx itself proves the token.
// - Whether a wrong tenant is a 401 or a 403: both are a CredentialRejectedError; a 401 names
//   expiry, revocation and a wrong tenant as causes, a 403 the tenant and the user's rights.
// - The Profile Manager's labels: the steps name the Profile Manager and what to do there,
//   not button captions.
// - `keyId` is whatever the operator uses to tell PATs apart in the Profile Manager (its name).

import * as v from "valibot";
import { CredentialRejectedError } from "#engine/errors.ts";
import { ResponseError } from "#http/errors.ts";
import { rememberSecret } from "#http/redact.ts";
import { INCORTA_VENDOR, incortaApiBase, incortaClusterUrl, incortaSays } from "../incorta-v1/index.ts";
import { isoDateTime, parseSecretValue, parseVendorAnswer } from "../schema.ts";
import type { Provider, ProviderContext } from "../types.ts";
import { vendorFailure } from "../vendor-errors.ts";

const MAX_ACTIVE_PATS = 10;

const nonEmpty = v.pipe(v.string(), v.minLength(1));

const IncortaV2Value = v.looseObject({
  provider: v.literal("incorta-v2"),
  clusterUrl: incortaClusterUrl,
  tenantName: nonEmpty,
  token: v.pipe(v.string(), v.minLength(16)),
  keyId: nonEmpty,
  expiresAt: isoDateTime,
  issuedAt: v.optional(isoDateTime),
  previous: v.optional(v.object({ keyId: v.string(), revokeAfter: v.optional(isoDateTime) })),
});

export type IncortaV2Credential = v.InferOutput<typeof IncortaV2Value>;

const SchemaList = v.looseObject({
  schemasDetails: v.optional(v.array(v.unknown())),
  total: v.optional(v.number()),
});

function rejection(
  candidate: IncortaV2Credential,
  ctx: ProviderContext,
  cause: ResponseError,
): CredentialRejectedError {
  const which =
    `personal access token "${candidate.keyId}" of credential "${ctx.credential}" ` +
    `(tenant ${candidate.tenantName} at ${candidate.clusterUrl})`;
  const expiresAt = new Date(candidate.expiresAt);
  let advice: string;
  if (cause.status === 403) {
    advice =
      `It was refused access to tenant ${candidate.tenantName}: the token belongs to another tenant (check ` +
      "tenantName), or its user lacks the right to list schemas.";
  } else if (expiresAt.getTime() <= ctx.now().getTime()) {
    advice =
      `It expired at ${expiresAt.toISOString()}. Create a new token in the Profile Manager and store it with ` +
      "keyturn put.";
  } else {
    advice =
      "It was revoked in the Profile Manager, expired before the expiresAt stored with it " +
      `(${expiresAt.toISOString()}: check the date entered), or belongs to another tenant or cluster. ` +
      "Create a new token in the Profile Manager and store it with keyturn put.";
  }
  return new CredentialRejectedError(
    `Incorta refused the ${which} during the token check (${cause.status}).${incortaSays(cause)} ${advice}`,
    { credential: ctx.credential, cause },
  );
}

/** A manual provider: its manual steps are always there. */
export type IncortaV2Provider = Provider<IncortaV2Credential> &
  Required<Pick<Provider<IncortaV2Credential>, "manualSteps">>;

export const incortaV2: IncortaV2Provider = {
  id: "incorta-v2",
  vendor: INCORTA_VENDOR,
  mode: "manual",
  revocation: "hard-only",

  parse(value, credential) {
    const token = (value as { token?: unknown } | null)?.token;
    if (typeof token === "string") rememberSecret(token);
    return parseSecretValue(IncortaV2Value, value, {
      credential,
      vendor: INCORTA_VENDOR,
      publicFields: [
        "provider",
        "clusterUrl",
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
    return [value.token];
  },

  expiresAt(value) {
    return new Date(value.expiresAt);
  },

  async verify(candidate, ctx) {
    const action = "token check";
    const path = `/v2/${encodeURIComponent(candidate.tenantName)}/schema/list`;
    let body: unknown;
    try {
      const answer = await ctx.http.request({
        method: "POST",
        url: `${incortaApiBase(candidate.clusterUrl)}${path}`,
        query: { schemaType: "ALL" },
        headers: { authorization: `Bearer ${candidate.token}` },
        body: { limit: 1, offset: 0 },
        // A list changes nothing, so repeating it after a lost answer is safe.
        idempotent: true,
      });
      body = answer.body;
    } catch (error) {
      if (error instanceof ResponseError && (error.status === 401 || error.status === 403)) {
        throw rejection(candidate, ctx, error);
      }
      throw vendorFailure(
        error,
        { credential: ctx.credential, vendor: INCORTA_VENDOR },
        `${action} (POST ${path})`,
      );
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
