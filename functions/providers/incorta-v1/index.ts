// Incorta Public API v1: a long-lived API key that mints short-lived access and refresh
// tokens. Relies on Incorta's "References → Public API v1" (https://docs.incorta.com/cloud/references-public-api-v1
// and https://docs.incorta.com/cloud/references-api-create-token-endpoint-v1 for Cloud;
// docs.incorta.com/latest/references-public-api-v1 for on-premises 6.0+) and docs/vendors.md, "Incorta".
//
// - Base `${clusterUrl}/api` with clusterUrl `https://<cluster>/incorta`. HTTPS on Incorta Cloud
//   (Incorta's Public API v1 page: "You must use the HTTPS scheme"); an on-premises cluster is served over HTTP or
//   HTTPS "according to your installation", so an http:// clusterUrl is accepted only when the
//   credential's pinned settings say `allowPlainHttp: true`, and then only its requests may go
//   out over plain HTTP (the HTTP client refuses http:// to any other host but loopback).
// - Mint: POST /v1/tokens {tenantName, loginName, requestHash, timestamp}, where timestamp is
//   epoch ms and requestHash the hex SHA-256 of the key followed by that timestamp as a
//   decimal string; the timestamp must be within 30 minutes of the cluster's clock by default
//   (cluster setting public.apis.tokens.request.duration), which a refusal's message names.
//   Refresh: POST /v1/tokens/refresh {accessToken, refreshToken}. Both answer
//   201 {accessToken, refreshToken, type, accessTokenExpiresAt, refreshTokenExpiresAt} with
//   absolute epoch-ms expiries, which keyturn takes from the answer, never assumes.
// - A refresh invalidates the previous pair at once, so a 401 to a refresh means "mint anew
//   with the key": it is a CredentialRejectedError whose `cause` is the ResponseError (401).
// - Neither POST is idempotent: the HTTP client repeats them only after a 429.
// - Keys are generated and renewed only in the web UI and never expire; renewing invalidates
//   the old key at once. So this provider is "refresh" mode with no issue or revoke: the key
//   is replaced by a person following `manualSteps`. On Cloud 2023.4.0+ / On-Prem 6.0+ new
//   keys cannot be generated at all; existing keys keep minting.
// - Verify: minting a pair is the cheapest call Incorta offers that proves the key (it
//   changes nothing else: the new pair is simply left to expire).
//
// keyturn's choices where Incorta's pages are silent:
// - `keyId` is the key's fingerprint, the first 8 hex digits of its SHA-256: Incorta shows no
//   id for a key. keyturn computes it when absent and refuses one that does not match, so a
//   renewed key stored with its predecessor's keyId cannot pass for the old one.
// - `clusterUrl` must end in /incorta (the path the public API lives under), and be https unless
//   `allowPlainHttp` is true.
// - `apiKey` must be at least 16 characters (Incorta documents no format); `expiresAt` must
//   be null or absent.

import { createHash } from "node:crypto";
import * as v from "valibot";
import { CredentialRejectedError, InvalidSecretError, VendorError } from "#engine/errors.ts";
import { ResponseError } from "#http/errors.ts";
import type { RedactionRules } from "#http/redact.ts";
import { isoDateTime, parseSecretValue, parseVendorAnswer, secretFields, textSetting } from "../schema.ts";
import type { Provider, ProviderConfig, ProviderContext, TokenPair } from "../types.ts";
import { vendorFailure } from "../vendor-errors.ts";

export const INCORTA_VENDOR = "Incorta";

const EXAMPLE_CLUSTER_URL = "https://acme.cloud.incorta.com/incorta";
const SAID_CHARS = 200;
// Epoch milliseconds after September 2001: an answer in seconds would look like 1970.
const MIN_EPOCH_MS = 1e12;

/** A cluster's URL as the config and the value both take it: http(s), no credentials, query or fragment, ending in /incorta. */
const CLUSTER_URL = /^https?:\/\/[^\s/?#@]+(\/[^\s?#]*)?\/incorta\/*$/;

function isClusterUrl(text: string): boolean {
  if (!CLUSTER_URL.test(text)) return false;
  try {
    const url = new URL(text);
    return (
      (url.protocol === "https:" || url.protocol === "http:") &&
      url.username === "" &&
      url.password === "" &&
      url.search === "" &&
      url.hash === "" &&
      /\/incorta\/*$/.test(url.pathname)
    );
  } catch {
    return false;
  }
}

/**
 * An Incorta cluster's URL, `https://<cluster>/incorta`: the public API lives under its /api. A
 * plain http:// URL passes here; `plainHttpAllowed` refuses it without `allowPlainHttp`.
 */
export const incortaClusterUrl = v.pipe(
  v.string(),
  v.check(isClusterUrl, `an https:// URL ending in /incorta, such as ${EXAMPLE_CLUSTER_URL}`),
);

/** The setting that lets an on-premises cluster's clusterUrl be plain http (pinned like clusterUrl). */
export const allowPlainHttpField = v.optional(v.boolean());

/** Whether a value's clusterUrl is https, or http with `allowPlainHttp` true. */
export function plainHttpAllowed(value: {
  clusterUrl: string;
  allowPlainHttp?: boolean | undefined;
}): boolean {
  return !value.clusterUrl.startsWith("http:") || value.allowPlainHttp === true;
}

/** What a clusterUrl must be when `plainHttpAllowed` fails. */
export const PLAIN_HTTP_EXPECTED =
  'an https:// URL: plain http:// only with "allowPlainHttp": true in the credential\'s settings, ' +
  "for an on-premises cluster installed without HTTPS";

/** Whether this credential's requests may go out over plain http (its settings allow it, and it is http). */
export function sendsPlainHttp(value: { clusterUrl: string; allowPlainHttp?: boolean | undefined }): boolean {
  return value.allowPlainHttp === true && value.clusterUrl.startsWith("http:");
}

/** The clusterUrl setting, as the deployment config takes it (a regex, which the JSON Schema can carry). */
const clusterUrlSetting = v.pipe(
  v.string(),
  v.regex(CLUSTER_URL, `an https:// URL ending in /incorta, such as ${EXAMPLE_CLUSTER_URL}`),
  v.description(
    "The Incorta cluster's URL, https://<cluster>/incorta; http:// only with allowPlainHttp: true.",
  ),
);

const allowPlainHttpSetting = v.optional(
  v.pipe(
    v.boolean(),
    v.description(
      "Lets clusterUrl be plain http:// (an on-premises cluster installed without HTTPS; Incorta Cloud is " +
        "HTTPS only). The key and its tokens then cross the network unencrypted. Default false.",
    ),
  ),
);

/** The settings every Incorta credential takes in the deployment config, with `tenantName` described per API. */
export function incortaSettings<const E extends v.ObjectEntries>(tenantName: string, entries: E) {
  return v.strictObject({
    clusterUrl: clusterUrlSetting,
    allowPlainHttp: allowPlainHttpSetting,
    tenantName: textSetting(tenantName),
    ...entries,
  });
}

/** The config's check the JSON Schema cannot express: a plain http clusterUrl only with allowPlainHttp. */
export function plainHttpProblems(
  settings: Readonly<Record<string, unknown>>,
): { field: string; problem: string }[] {
  const { clusterUrl, allowPlainHttp } = settings;
  if (typeof clusterUrl !== "string" || !clusterUrl.startsWith("http:") || allowPlainHttp === true) return [];
  return [
    {
      field: "settings.clusterUrl",
      problem:
        `is ${clusterUrl}, plain http: keyturn sends Incorta keys over https only, unless the credential's ` +
        "settings say allowPlainHttp: true (an on-premises cluster installed without HTTPS). Use the " +
        "cluster's https:// URL, or set settings.allowPlainHttp to true.",
    },
  ];
}

/** Incorta's error bodies are `{"message": "..."}` (v2: the message starts with an INC_ code). */
export function summarizeIncortaProblem(problem: unknown): string {
  if (typeof problem !== "object" || problem === null) return "";
  const { message } = problem as Record<string, unknown>;
  return typeof message === "string" ? message : "";
}

/** A v1 token request carries `requestHash`, a hash of the API key that proves it: secret too. */
const REDACTION: RedactionRules = { sensitiveKeys: ["requestHash"] };

const CONFIG: ProviderConfig = {
  description:
    "An Incorta v1 API key, replaced by a person; keyturn keeps its tokens refreshed in Parameter Store.",
  settings: incortaSettings("The Incorta tenant.", {
    loginName: textSetting("The Incorta user the API key belongs to."),
  }),
  settingsProblems: plainHttpProblems,
};

/** The public API's base URL of a cluster, e.g. `https://acme.cloud.incorta.com/incorta/api`. */
export function incortaApiBase(clusterUrl: string): string {
  return `${clusterUrl.replace(/\/+$/, "")}/api`;
}

/** What Incorta's `{"message": "..."}` error body said, as a sentence to append; "" when nothing. */
export function incortaSays(error: ResponseError): string {
  const { problem } = error;
  const said =
    typeof problem === "object" && problem !== null ? (problem as { message?: unknown }).message : undefined;
  return typeof said === "string" && said.trim() !== ""
    ? ` Incorta says: "${said.trim().slice(0, SAID_CHARS)}".`
    : "";
}

/** The keyId of an API key: the first 8 hex digits of its SHA-256 (Incorta shows no key id). */
export function incortaKeyId(apiKey: string): string {
  return createHash("sha256").update(apiKey).digest("hex").slice(0, 8);
}

const nonEmpty = v.pipe(v.string(), v.minLength(1));

const IncortaV1Value = v.pipe(
  v.looseObject({
    provider: v.literal("incorta-v1"),
    clusterUrl: incortaClusterUrl,
    allowPlainHttp: allowPlainHttpField,
    tenantName: nonEmpty,
    loginName: nonEmpty,
    apiKey: v.pipe(v.string(), v.minLength(16)),
    keyId: v.optional(
      v.pipe(
        v.string(),
        v.check(
          (text) => /^[0-9a-f]{8}$/.test(text),
          "8 lower-case hex digits (or absent: keyturn computes it)",
        ),
      ),
    ),
    issuedAt: v.optional(isoDateTime),
    expiresAt: v.optional(
      v.nullable(
        v.pipe(
          v.string(),
          v.check(() => false, "null or absent (Incorta v1 API keys never expire)"),
        ),
      ),
    ),
    previous: v.optional(v.object({ keyId: v.string(), revokeAfter: v.optional(isoDateTime) })),
  }),
  v.forward(
    v.check((value) => plainHttpAllowed(value), PLAIN_HTTP_EXPECTED),
    ["clusterUrl"],
  ),
);

export type IncortaV1Credential = v.InferOutput<typeof IncortaV1Value> & { keyId: string };

const epochMs = v.pipe(v.number(), v.integer());

const TokenAnswer = v.looseObject({
  accessToken: nonEmpty,
  refreshToken: nonEmpty,
  type: nonEmpty,
  accessTokenExpiresAt: epochMs,
  refreshTokenExpiresAt: epochMs,
});

function requestHash(apiKey: string, timestamp: number): string {
  return createHash("sha256")
    .update(`${apiKey}${String(timestamp)}`)
    .digest("hex");
}

function who(value: IncortaV1Credential): string {
  return `login ${value.loginName}, tenant ${value.tenantName} at ${value.clusterUrl}`;
}

function keyRejected(
  value: IncortaV1Credential,
  ctx: ProviderContext,
  action: string,
  cause: ResponseError,
): CredentialRejectedError {
  return new CredentialRejectedError(
    `Incorta refused the API key ${value.keyId} of credential "${ctx.credential}" (${who(value)}) during ` +
      `${action} (${cause.status}).${incortaSays(cause)} The key was renewed or revoked in the Incorta UI ` +
      "(renewing invalidates the old key at once), API key use was disabled for the user, or the loginName " +
      "or tenantName is wrong (loginName is the login, not the display name). Store the user's current key " +
      "with keyturn put. Incorta also refuses a request whose timestamp is further from its clock than the " +
      "cluster's window (30 minutes unless public.apis.tokens.request.duration says otherwise): check this " +
      "machine's clock.",
    { credential: ctx.credential, cause },
  );
}

function pairRejected(ctx: ProviderContext, cause: ResponseError): CredentialRejectedError {
  return new CredentialRejectedError(
    `Incorta refused to refresh the token pair of credential "${ctx.credential}" (${cause.status}).` +
      `${incortaSays(cause)} The refresh token has expired, or the pair was already refreshed (each refresh ` +
      "invalidates the previous pair, so a pair must be refreshed once, by one caller). Mint a new pair " +
      "with the API key.",
    { credential: ctx.credential, cause },
  );
}

/** One token POST; the answer checked and every token remembered for redaction. */
async function postForPair(
  value: IncortaV1Credential,
  ctx: ProviderContext,
  action: string,
  path: "/v1/tokens" | "/v1/tokens/refresh",
  body: Record<string, unknown>,
): Promise<TokenPair> {
  let answer: unknown;
  try {
    const response = await ctx.http.request({
      method: "POST",
      url: `${incortaApiBase(value.clusterUrl)}${path}`,
      body,
      allowPlainHttp: sendsPlainHttp(value),
      summarizeProblem: summarizeIncortaProblem,
    });
    answer = response.body;
  } catch (error) {
    if (error instanceof ResponseError && (error.status === 401 || error.status === 403)) {
      throw path === "/v1/tokens" ? keyRejected(value, ctx, action, error) : pairRejected(ctx, error);
    }
    throw vendorFailure(
      error,
      { credential: ctx.credential, vendor: INCORTA_VENDOR },
      `${action} (POST ${path})`,
    );
  }
  // The HTTP client has remembered the answer's accessToken and refreshToken for redaction.
  const pair = parseVendorAnswer(TokenAnswer, answer, {
    credential: ctx.credential,
    vendor: INCORTA_VENDOR,
    action,
  });
  for (const field of ["accessTokenExpiresAt", "refreshTokenExpiresAt"] as const) {
    if (pair[field] <= MIN_EPOCH_MS) {
      throw new VendorError(
        `${INCORTA_VENDOR} ${action} for credential "${ctx.credential}" answered ${field} ${pair[field]}, ` +
          "which is not epoch milliseconds (seconds?): keyturn takes expiries from the answer and cannot use it.",
        { credential: ctx.credential, retryable: false },
      );
    }
  }
  return {
    accessToken: pair.accessToken,
    refreshToken: pair.refreshToken,
    type: pair.type,
    accessTokenExpiresAt: pair.accessTokenExpiresAt,
    refreshTokenExpiresAt: pair.refreshTokenExpiresAt,
  };
}

function mintPair(value: IncortaV1Credential, ctx: ProviderContext, action: string): Promise<TokenPair> {
  const timestamp = ctx.now().getTime();
  return postForPair(value, ctx, action, "/v1/tokens", {
    tenantName: value.tenantName,
    loginName: value.loginName,
    requestHash: requestHash(value.apiKey, timestamp),
    timestamp,
  });
}

/** A refresh provider: its token minter and manual steps are always there. */
export type IncortaV1Provider = Provider<IncortaV1Credential> &
  Required<Pick<Provider<IncortaV1Credential>, "tokens" | "manualSteps">>;

export const incortaV1: IncortaV1Provider = {
  id: "incorta-v1",
  vendor: INCORTA_VENDOR,
  mode: "refresh",
  revocation: "hard-only",
  config: CONFIG,
  redaction: REDACTION,
  summarizeProblem: summarizeIncortaProblem,

  parse(value, credential) {
    const parsed = parseSecretValue(IncortaV1Value, value, {
      credential,
      vendor: INCORTA_VENDOR,
      publicFields: [
        "provider",
        "clusterUrl",
        "allowPlainHttp",
        "tenantName",
        "loginName",
        "keyId",
        "issuedAt",
        "expiresAt",
        "previous.keyId",
        "previous.revokeAfter",
      ],
    });
    const fingerprint = incortaKeyId(parsed.apiKey);
    if (parsed.keyId !== undefined && parsed.keyId !== fingerprint) {
      throw new InvalidSecretError(
        `Secret value of credential "${credential}" (${INCORTA_VENDOR}) is invalid: "keyId" is ${parsed.keyId} ` +
          `but the API key's fingerprint (the first 8 hex digits of its SHA-256) is ${fingerprint}: was the key ` +
          "renewed and stored with the old keyId? Remove keyId (keyturn computes it) or set it to " +
          `${fingerprint}; the current version was left as it is.`,
        { credential },
      );
    }
    return { ...parsed, keyId: fingerprint };
  },

  secretsOf(value) {
    return secretFields(value, ["apiKey"]);
  },

  expiresAt() {
    return undefined;
  },

  async verify(candidate, ctx) {
    await mintPair(candidate, ctx, "API key check (minting a token pair)");
  },

  manualSteps(value) {
    return {
      create: [
        "On Incorta Cloud 2023.4.0 and later and On-Premises 6.0 and later, v1 API keys can no longer be " +
          "generated or renewed: the existing key keeps working (v1 keys never expire). To replace it there, " +
          "move the consumers to Public API v2 with a personal access token (provider incorta-v2).",
        `Sign in to ${value.clusterUrl} (tenant ${value.tenantName}) as ${value.loginName}, the user the key belongs to.`,
        "Select profile (person icon) in the top right corner of the Navigation bar, then select your username " +
          "to open your profile.",
        "In the Edit User drawer, select the Security tab.",
        "In the API Key section, select Renew Key. The previous key stops working at once: every program " +
          "using it fails until it has the new key.",
        "Store the new key in this credential immediately (keyturn put, value from stdin or the prompt); " +
          "keyturn checks it by minting a token pair before it becomes current.",
        "If the API Key section is missing, an Incorta Super User must enable API key generation for the " +
          `user: Security > Users > ${value.loginName} > Edit > Security tab > Developer Tool > Enable API Key Generation.`,
      ],
      revoke: [
        "Nothing more to do: Renew Key invalidated the previous key at once, and Incorta offers no other way " +
          "to revoke a v1 key.",
      ],
    };
  },

  tokens: {
    mint(value, ctx) {
      return mintPair(value, ctx, "token minting");
    },
    refresh(value, pair, ctx) {
      return postForPair(value, ctx, "token refresh", "/v1/tokens/refresh", {
        accessToken: pair.accessToken,
        refreshToken: pair.refreshToken,
      });
    },
    secretsOf(pair) {
      return [pair.accessToken, pair.refreshToken];
    },
  },
};
