// Everflow Marketplace (partner) API keys: a manual provider (docs/vendors.md, "Everflow";
// https://helpdesk.everflow.io/collaborator/managing-your-marketplace-api-keys).
//
// - Keys are created, edited and revoked only in the web UI (Account > API Keys), shown once,
//   and a revoked key can never be re-enabled. So keyturn mints and revokes nothing: it
//   verifies the key an operator stores and writes out the UI steps (`manualSteps`).
// - Base URL https://api.eflow.team/v1, or https://api-eu.eflow.team/v1 for the accounts
//   hosted in the EU; no other host is accepted, so that the key is sent to Everflow alone.
// - Auth header `X-Eflow-API-Key: <key>` (no Bearer). Verify: GET /partners, the cheap check.
// - 401: a missing, revoked or mistyped key. 403 "Out of realm": a key of another portal
//   (Network, Affiliate, Advertiser) used on the Marketplace's /v1/partners paths.
// - Rate limit (https://developers.everflow.io/user-guide/rate-limiting): 5 requests/s per
//   customer, shared by all its keys, over a 30-second window; X-RateLimit-Limit and
//   X-RateLimit-Remaining on every answer, 429 beyond the limit, no Retry-After. The check declares
//   the 30-second window to the HTTP client, which waits that long before retrying a 429 that says
//   nothing else, or gives the 429 up (a retryable VendorError) when the Lambda's time left is
//   shorter. The probe of the other host (below) does not wait: it only refines a diagnosis.
// - `keyId` is not Everflow's: the UI shows no key id, so it is the key's Name as entered in
//   the UI, the label an operator finds the row by when revoking.
//
// Unconfirmed by Everflow's documents, and how keyturn copes:
// - Whether a key of one host is refused on the other (and with which status): on a 401 the
//   key is tried once against the other documented host, and a success there is reported as
//   a wrong baseUrl.
// - The 403 body: "Out of realm" is looked for anywhere in it, whatever the field's name.
// - The body of GET /v1/partners: only checked to be a JSON object.
// - Key format: any string of at least 8 characters without whitespace.

import * as v from "valibot";
import { CredentialRejectedError, InvalidSecretError } from "#engine/errors.ts";
import { ResponseError } from "#http/errors.ts";
import { parseCredentialValue } from "../credential-value.ts";
import { isoDateTime, parseVendorAnswer, secretFields } from "../schema.ts";
import type { Provider, ProviderConfig, ProviderContext } from "../types.ts";
import { vendorFailure } from "../vendor-errors.ts";

export const EVERFLOW_BASE_URL = "https://api.eflow.team/v1";
export const EVERFLOW_EU_BASE_URL = "https://api-eu.eflow.team/v1";
const BASE_URLS = [EVERFLOW_BASE_URL, EVERFLOW_EU_BASE_URL] as const;

const VENDOR = "Everflow";
const KEY_HEADER = "x-eflow-api-key";
const CHECK_PATH = "/partners";
const MIN_KEY_LENGTH = 8;
/** Everflow's rate-limiting page: the limit resets every 30 seconds. */
const RATE_LIMIT_WINDOW_MS = 30_000;

/** What the deployment config (infra/config.ts) takes for an Everflow credential, with its reference descriptions. */
const CONFIG: ProviderConfig = {
  description: "An Everflow API key, replaced by a person in Everflow's UI.",
  settings: v.strictObject({
    baseUrl: v.optional(
      v.pipe(
        v.picklist(BASE_URLS),
        v.description(`Everflow's API base URL; ${EVERFLOW_EU_BASE_URL} for EU-hosted accounts.`),
      ),
    ),
  }),
};

/** Everflow's error bodies are `{"error": "<message>"}` (its developer pages). */
function summarizeProblem(problem: unknown): string {
  if (typeof problem !== "object" || problem === null) return "";
  const { error, message } = problem as Record<string, unknown>;
  const texts = [error, message].filter((text): text is string => typeof text === "string" && text !== "");
  return [...new Set(texts)].join(": ");
}

/** The documented base URL `text` stands for (trailing slashes and letter case aside), if any. */
function documentedBaseUrl(text: string): (typeof BASE_URLS)[number] | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return undefined;
  }
  if (url.username !== "" || url.password !== "" || url.search !== "" || url.hash !== "") return undefined;
  const canonical = `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, "")}`;
  return BASE_URLS.find((known) => known === canonical);
}

const EverflowValue = v.looseObject({
  provider: v.literal("everflow"),
  baseUrl: v.optional(
    v.pipe(
      v.string(),
      v.check(
        (text) => documentedBaseUrl(text) !== undefined,
        `one of Everflow's API base URLs, ${EVERFLOW_BASE_URL} or ${EVERFLOW_EU_BASE_URL} (EU-hosted accounts)`,
      ),
    ),
  ),
  apiKey: v.pipe(
    v.string(),
    v.check(
      (text) => text.length >= MIN_KEY_LENGTH && !/\s/.test(text),
      `an Everflow API key as the UI showed it (at least ${MIN_KEY_LENGTH} characters, no spaces or line breaks)`,
    ),
  ),
  keyId: v.pipe(
    v.string(),
    v.check((text) => text.trim() !== "", "the key's Name in Everflow's UI (e.g. \"keyturn reporting\")"),
  ),
  issuedAt: v.optional(isoDateTime),
  expiresAt: v.optional(
    v.nullable(
      v.pipe(
        v.string(),
        v.check(() => false, "null or absent (Everflow API keys do not expire)"),
      ),
    ),
  ),
  previous: v.optional(v.object({ keyId: v.string(), revokeAfter: v.optional(isoDateTime) })),
});

export type EverflowCredential = v.InferOutput<typeof EverflowValue>;

// An object schema would accept an array (and answer an empty object), hence the check.
const PartnerAnswer = v.pipe(
  v.unknown(),
  v.check((body) => typeof body === "object" && body !== null && !Array.isArray(body), "a JSON object"),
);

function baseUrlOf(credential: EverflowCredential): string {
  return documentedBaseUrl(credential.baseUrl ?? EVERFLOW_BASE_URL) ?? EVERFLOW_BASE_URL;
}

function isOutOfRealm(error: ResponseError): boolean {
  const { problem } = error;
  const text = typeof problem === "string" ? problem : JSON.stringify(problem ?? "");
  return /out of realm/i.test(text);
}

/** Whether the key authenticates at `baseUrl`; any failure there counts as no. */
async function worksAt(
  candidate: EverflowCredential,
  baseUrl: string,
  ctx: ProviderContext,
): Promise<boolean> {
  try {
    await ctx.http.request({
      method: "GET",
      url: `${baseUrl}${CHECK_PATH}`,
      headers: { [KEY_HEADER]: candidate.apiKey },
      summarizeProblem,
    });
    return true;
  } catch {
    return false;
  }
}

async function rejection(
  candidate: EverflowCredential,
  ctx: ProviderContext,
  cause: ResponseError,
): Promise<CredentialRejectedError> {
  const baseUrl = baseUrlOf(candidate);
  const which = `the API key "${candidate.keyId}" of credential "${ctx.credential}"`;
  if (cause.status === 403 && isOutOfRealm(cause)) {
    return new CredentialRejectedError(
      `${VENDOR} refused ${which} with 403 "Out of realm" at ${baseUrl}${CHECK_PATH}: it is a key of another ` +
        "Everflow portal (e.g. a Network key from Control Center > Security, or an Affiliate or Advertiser key), " +
        "not a Marketplace (partner) key. Create a key under Account > API Keys in the Marketplace Platform " +
        "and store it with keyturn put.",
      { credential: ctx.credential, cause },
    );
  }
  if (cause.status === 403) {
    return new CredentialRejectedError(
      `${VENDOR} refused ${which} (403 at ${baseUrl}${CHECK_PATH}): the key lacks a permission the check ` +
        "needs. Grant it All permissions (Account > API Keys, the row's menu, Edit), or create a new key " +
        "and store it with keyturn put.",
      { credential: ctx.credential, cause },
    );
  }
  const otherBaseUrl = BASE_URLS.find((known) => known !== baseUrl);
  if (otherBaseUrl !== undefined && (await worksAt(candidate, otherBaseUrl, ctx))) {
    return new CredentialRejectedError(
      `${VENDOR} rejected ${which} at ${baseUrl} (401), but it works at ${otherBaseUrl}: the account is ` +
        `hosted there. Set the credential's baseUrl to ${otherBaseUrl}.`,
      { credential: ctx.credential, cause },
    );
  }
  return new CredentialRejectedError(
    `${VENDOR} rejected ${which} (401 at ${baseUrl}${CHECK_PATH}): revoked in the UI, or mistyped. ` +
      "A revoked key can never be re-enabled: create a new one under Account > API Keys and store it with " +
      "keyturn put (check that it was pasted whole, and that baseUrl names the host of your account).",
    { credential: ctx.credential, cause },
  );
}

export const everflow: Provider<EverflowCredential> = {
  id: "everflow",
  vendor: VENDOR,
  mode: "manual",
  revocation: "hard-only",
  config: CONFIG,
  redaction: { sensitiveKeys: [KEY_HEADER] },
  summarizeProblem,

  parse(value, credential) {
    const parsed = parseCredentialValue(EverflowValue, value, {
      credential,
      vendor: VENDOR,
      publicFields: ["baseUrl"],
    });
    const labels = [parsed.keyId, parsed.previous?.keyId].filter((label) => label !== undefined);
    if (labels.some((label) => label.includes(parsed.apiKey))) {
      throw new InvalidSecretError(
        `Secret value of credential "${credential}" (${VENDOR}) is invalid: "keyId" holds the API key itself. ` +
          "keyId is shown in messages and events: set it to the key's Name in Everflow's UI, and keep the key " +
          "in apiKey alone (keyturn put); the current version was left as it is.",
        { credential },
      );
    }
    return parsed;
  },

  secretsOf(value) {
    return secretFields(value, ["apiKey"]);
  },

  expiresAt() {
    return undefined;
  },

  async verify(candidate, ctx) {
    const action = "API key check";
    const url = `${baseUrlOf(candidate)}${CHECK_PATH}`;
    let body: unknown;
    try {
      const answer = await ctx.http.request({
        method: "GET",
        url,
        headers: { [KEY_HEADER]: candidate.apiKey },
        rateLimitWindowMs: RATE_LIMIT_WINDOW_MS,
        summarizeProblem,
      });
      body = answer.body;
    } catch (error) {
      if (error instanceof ResponseError && (error.status === 401 || error.status === 403)) {
        throw await rejection(candidate, ctx, error);
      }
      throw vendorFailure(error, { credential: ctx.credential, vendor: VENDOR }, `${action} (GET ${url})`);
    }
    parseVendorAnswer(PartnerAnswer, body, { credential: ctx.credential, vendor: VENDOR, action });
  },

  manualSteps(value) {
    const baseUrl = baseUrlOf(value);
    // Once a successor is stored, the key to revoke is the one it replaced.
    const retiring = value.previous?.keyId ?? value.keyId;
    return {
      create: [
        "Sign in to Everflow's Marketplace Platform as an Administrator, or as a Marketplace Manager an " +
          "Administrator has granted API access (only they see Account > API Keys).",
        "Open Account > API Keys in the left-hand menu.",
        "Click the API Key button in the top left corner.",
        `Give the key a descriptive Name that tells it apart from "${value.keyId}"; ` +
          "that Name becomes the credential's keyId.",
        `Grant the permissions "${value.keyId}" has: All permissions, or the sections the integration uses ` +
          "(e.g. Reporting).",
        "Copy the key from the window that shows it: this is the only time Everflow shows it. Then click Done.",
        "Store it with keyturn put (paste it at the prompt or pipe it on stdin, never as an argument), with " +
          `keyId set to the new Name and baseUrl ${baseUrl}; keyturn tests it before it becomes current.`,
      ],
      revoke: [
        `Once every consumer uses the new key, an Administrator opens Account > API Keys (the Manage API Keys ` +
          `page) and finds the row of "${retiring}".`,
        "Click the menu on the right side of its row and select Revoke.",
        "In the confirmation window click Revoke API Key. This is permanent: the key stops working at once " +
          "and can never be re-enabled.",
      ],
    };
  },
};
