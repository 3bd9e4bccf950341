// SoftwareOne Marketplace Platform API tokens (shared/VENDORS.md §2, seeds/002).
//
// - Base URL https://api.platform.softwareone.com/public/v1, HTTPS only, `Authorization:
//   Bearer idt:TKN-XXXX-XXXX:<secret>`; the token's second segment is its id (`keyId`).
// - Mint: POST /accounts/api-tokens {account:{id}, name, description, modules:[{id}]}; the
//   value comes back once, in the 201. keyturn's tracking marker goes into `description`, and
//   the successor copies the account, name and modules of the token it replaces.
// - Verify: GET /accounts/api-tokens/{id} with the token itself (a token may read its own record).
// - Revoke: soft = POST …/{id}/disable (reversible), hard = DELETE …/{id}; 404 = already gone.
// - Orphans and last use: the list (RQL in the query string, `limit` at most 100, `offset`,
//   `select=+description,+lastAccessAt` because lists leave those out) and `lastAccessAt`.
// - Errors are RFC 7807 problem details; their `detail`, `errors` and `traceId` go into
//   keyturn's messages, so that an operator can quote the traceId to SoftwareOne.
//
// Unconfirmed by SoftwareOne's documents, and how keyturn copes:
// - Tokens have no expiry field (§2: unconfirmed that they never expire): `expiresAt` must be
//   null or absent, and rotation age is enforced by the rotation schedule alone.
// - Whether disabling a disabled token is a 200: keyturn sends the disable as idempotent and,
//   should the platform answer 400/409/422 instead, reads the token and counts Disabled as
//   revoked and a gone token as already gone.
// - Which rights managing tokens needs beyond "an account administrator's token": a 401/403
//   to the issuing token is reported as "disabled, invalid or lacking administrator rights"
//   with what to do, and is never retried.

import * as v from "valibot";
import {
  CredentialRejectedError,
  InvalidSecretError,
  InvalidSettingsError,
  KeyturnError,
  VendorError,
} from "#engine/errors.ts";
import { ResponseError } from "#http/errors.ts";
import { rememberSecret } from "#http/redact.ts";
import { markerIn } from "../marker.ts";
import { isoDateTime, parseSecretValue, parseVendorAnswer } from "../schema.ts";
import type { AutomaticProvider, IssuedKey, ProviderContext } from "../types.ts";
import { vendorFailure } from "../vendor-errors.ts";

export const SOFTWAREONE_BASE_URL = "https://api.platform.softwareone.com/public/v1";

const VENDOR = "SoftwareOne";
const PAGE_SIZE = 100;
const DETAIL_CHARS = 300;
const SHOWN_FIELD_ERRORS = 3;

const TOKEN_ID = /^TKN-[0-9A-Za-z]+(?:-[0-9A-Za-z]+)*$/;
const TOKEN_VALUE = /^idt:(TKN-[0-9A-Za-z]+(?:-[0-9A-Za-z]+)*):\S+$/;
const ACCOUNT_ID = /^ACC-[0-9A-Za-z]+(?:-[0-9A-Za-z]+)*$/;
/** SoftwareOne's pattern for a module id (the spec's CreateApiTokenDto: ^MOD-\d\d\d\d$). */
const MODULE_ID = /^MOD-\d{4}$/;

function isHttpsUrl(text: string): boolean {
  try {
    return new URL(text).protocol === "https:";
  } catch {
    return false;
  }
}

const SoftwareOneValue = v.looseObject({
  provider: v.literal("softwareone"),
  baseUrl: v.optional(
    v.pipe(v.string(), v.check(isHttpsUrl, `an https:// URL such as ${SOFTWAREONE_BASE_URL}`)),
  ),
  token: v.pipe(
    v.string(),
    v.check((text) => TOKEN_VALUE.test(text), "a SoftwareOne API token value idt:TKN-XXXX-XXXX:<secret>"),
  ),
  keyId: v.pipe(
    v.string(),
    v.check((text) => TOKEN_ID.test(text), "a token id such as TKN-1234-5678"),
  ),
  accountId: v.pipe(
    v.string(),
    v.check((text) => ACCOUNT_ID.test(text), "an account id such as ACC-1234-5678"),
  ),
  name: v.optional(v.pipe(v.string(), v.minLength(1))),
  modules: v.optional(
    v.array(
      v.pipe(
        v.string(),
        v.check((text) => MODULE_ID.test(text), "a module id such as MOD-1234"),
      ),
    ),
  ),
  issuedAt: v.optional(isoDateTime),
  expiresAt: v.optional(
    v.nullable(
      v.pipe(
        v.string(),
        v.check(() => false, "null or absent (SoftwareOne API tokens have no expiry date)"),
      ),
    ),
  ),
  previous: v.optional(v.object({ keyId: v.string(), revokeAfter: v.optional(isoDateTime) })),
});

export type SoftwareOneCredential = v.InferOutput<typeof SoftwareOneValue>;

const ApiTokenRecord = v.looseObject({
  id: v.pipe(v.string(), v.regex(TOKEN_ID)),
  name: v.optional(v.string()),
  description: v.optional(v.nullable(v.string())),
  status: v.string(),
  lastAccessAt: v.optional(v.nullable(isoDateTime)),
  account: v.optional(v.looseObject({ id: v.string() })),
  modules: v.optional(v.array(v.looseObject({ id: v.string() }))),
  audit: v.optional(
    v.looseObject({ created: v.optional(v.looseObject({ at: v.optional(v.nullable(isoDateTime)) })) }),
  ),
});

const MintAnswer = v.looseObject({
  ...ApiTokenRecord.entries,
  name: v.string(),
  modules: v.array(v.looseObject({ id: v.string() })),
  token: v.pipe(v.string(), v.minLength(1)),
});

const TokenPage = v.looseObject({
  $meta: v.looseObject({
    pagination: v.looseObject({ offset: v.number(), limit: v.number(), total: v.number() }),
  }),
  data: v.array(ApiTokenRecord),
});

type ApiTokenRecord = v.InferOutput<typeof ApiTokenRecord>;

/** Who a call authenticates as: the key being checked, or the token that manages keys. */
type Role = "candidate" | "issuer";

function baseUrl(credential: SoftwareOneCredential): string {
  return (credential.baseUrl ?? SOFTWAREONE_BASE_URL).replace(/\/+$/, "");
}

function tokenPath(keyId: string, suffix = ""): string {
  return `/accounts/api-tokens/${encodeURIComponent(keyId)}${suffix}`;
}

/** The problem details' `detail`, field `errors` and `traceId`, as far as the message lacks them. */
function problemNote(error: ResponseError, message: string): string {
  const { problem } = error;
  if (typeof problem !== "object" || problem === null) return "";
  const { detail, errors, traceId } = problem as Record<string, unknown>;
  const notes: string[] = [];
  if (typeof detail === "string" && detail !== "" && !message.includes(detail)) {
    notes.push(`SoftwareOne says: ${detail.slice(0, DETAIL_CHARS)}`);
  }
  if (typeof errors === "object" && errors !== null) {
    const fields = Object.entries(errors as Record<string, unknown>)
      .slice(0, SHOWN_FIELD_ERRORS)
      .map(
        ([field, messages]) => `${field}: ${Array.isArray(messages) ? messages.join(" ") : String(messages)}`,
      );
    if (fields.length > 0) notes.push(`Invalid fields: ${fields.join("; ").slice(0, DETAIL_CHARS)}`);
  }
  if (typeof traceId === "string" && traceId !== "")
    notes.push(`traceId ${traceId} (quote it to SoftwareOne support)`);
  return notes.map((note) => ` ${note.replace(/[.\s]+$/, "")}.`).join("");
}

function rejection(
  as: SoftwareOneCredential,
  role: Role,
  ctx: ProviderContext,
  action: string,
  cause: ResponseError,
): CredentialRejectedError {
  const which =
    role === "issuer"
      ? `the issuing token ${as.keyId} (account ${as.accountId}) used for credential "${ctx.credential}"`
      : `token ${as.keyId} of credential "${ctx.credential}"`;
  let advice: string;
  if (cause.status === 403) {
    advice =
      role === "issuer"
        ? "it lacks the account administrator rights that creating, listing, disabling and deleting API tokens " +
          "need. Give it administrator access on the Marketplace Platform, or name an account administrator's " +
          "token as this credential's issuer."
        : "the platform refused it access to its own record. Check the token's modules on the API tokens page.";
  } else {
    advice =
      role === "issuer"
        ? "it is disabled, deleted or not a valid token. Enable it on the Marketplace Platform's API tokens page, " +
          "or store a working account administrator's token in the issuer credential (keyturn put), then rotate again."
        : "it is disabled, deleted or not a valid token. Enable it on the Marketplace Platform's API tokens page, " +
          "or store a new token with keyturn put.";
  }
  const message = `SoftwareOne refused ${which} during ${action} (${cause.status}): ${advice}`;
  return new CredentialRejectedError(`${message}${problemNote(cause, message)}`, {
    credential: ctx.credential,
    cause,
  });
}

/** One authenticated call; any failure becomes a KeyturnError naming the credential and the action. */
async function call(
  as: SoftwareOneCredential,
  role: Role,
  ctx: ProviderContext,
  action: string,
  request: {
    method: "GET" | "POST" | "DELETE";
    path: string;
    body?: unknown;
    rawQuery?: string;
    idempotent?: boolean;
  },
): Promise<unknown> {
  try {
    const answer = await ctx.http.request({
      method: request.method,
      url: `${baseUrl(as)}${request.path}`,
      headers: { authorization: `Bearer ${as.token}` },
      ...(request.body === undefined ? {} : { body: request.body }),
      ...(request.rawQuery === undefined ? {} : { rawQuery: request.rawQuery }),
      ...(request.idempotent === undefined ? {} : { idempotent: request.idempotent }),
    });
    return answer.body;
  } catch (error) {
    if (error instanceof ResponseError && (error.status === 401 || error.status === 403)) {
      throw rejection(as, role, ctx, action, error);
    }
    const wrapped = vendorFailure(
      error,
      { credential: ctx.credential, vendor: VENDOR },
      `${action} (${request.method} ${request.path})`,
    );
    if (error instanceof ResponseError && wrapped instanceof VendorError) {
      throw new VendorError(`${wrapped.message}${problemNote(error, wrapped.message)}`, {
        credential: ctx.credential,
        retryable: error.retryable,
        cause: error,
      });
    }
    throw wrapped;
  }
}

function statusOf(error: unknown): number | undefined {
  return error instanceof KeyturnError && error.cause instanceof ResponseError
    ? error.cause.status
    : undefined;
}

/** The token's record, or "gone" when the platform no longer knows it. */
async function readToken(
  keyId: string,
  authority: SoftwareOneCredential,
  ctx: ProviderContext,
  action: string,
  role: Role = "issuer",
): Promise<ApiTokenRecord | "gone"> {
  try {
    const body = await call(authority, role, ctx, action, { method: "GET", path: tokenPath(keyId) });
    const record = parseVendorAnswer(ApiTokenRecord, body, {
      credential: ctx.credential,
      vendor: VENDOR,
      action: action,
    });
    return record.status === "Deleted" ? "gone" : record;
  } catch (error) {
    if (statusOf(error) === 404) return "gone";
    throw error;
  }
}

function toIssuedKey(record: ApiTokenRecord): IssuedKey {
  const createdAt = record.audit?.created?.at;
  return {
    keyId: record.id,
    marker: markerIn(record.description),
    active: record.status === "Active",
    createdAt: createdAt ? new Date(createdAt) : undefined,
    lastUsedAt: record.lastAccessAt ? new Date(record.lastAccessAt) : undefined,
  };
}

export const softwareone: AutomaticProvider<SoftwareOneCredential> = {
  id: "softwareone",
  vendor: VENDOR,
  mode: "automatic",
  revocation: "soft-then-hard",

  parse(value, credential) {
    const token = (value as { token?: unknown } | null)?.token;
    if (typeof token === "string") rememberSecret(token);
    const parsed = parseSecretValue(SoftwareOneValue, value, {
      credential,
      vendor: VENDOR,
      publicFields: [
        "provider",
        "baseUrl",
        "keyId",
        "accountId",
        "name",
        "issuedAt",
        "expiresAt",
        "previous.keyId",
        "previous.revokeAfter",
      ],
    });
    const owner = TOKEN_VALUE.exec(parsed.token)?.[1];
    if (owner !== parsed.keyId) {
      throw new InvalidSecretError(
        `Secret value of credential "${credential}" (${VENDOR}) is invalid: "keyId" is ${parsed.keyId} but the ` +
          `token belongs to ${owner} (the second segment of idt:TKN-…:…). Store the matching keyId and token ` +
          "together (keyturn put); the current version was left as it is.",
        { credential },
      );
    }
    return parsed;
  },

  secretsOf(value) {
    return [value.token];
  },

  expiresAt() {
    return undefined;
  },

  async verify(candidate, ctx) {
    const action = "token check";
    const body = await call(candidate, "candidate", ctx, action, {
      method: "GET",
      path: tokenPath(candidate.keyId),
    });
    const record = parseVendorAnswer(ApiTokenRecord, body, {
      credential: ctx.credential,
      vendor: VENDOR,
      action: action,
    });
    if (record.id !== candidate.keyId) {
      throw new VendorError(
        `${VENDOR} ${action} for credential "${ctx.credential}" answered with token ${record.id} instead of ` +
          `${candidate.keyId}; check the credential's baseUrl.`,
        { credential: ctx.credential, retryable: false },
      );
    }
    // A token that works is not enough: it must be a token of the account the credential is
    // configured for (the candidate's accountId is the pinned one), or a handover could slip in
    // another account's token, which keyturn would then rotate and revoke in the wrong account.
    if (record.account?.id !== undefined && record.account.id !== candidate.accountId) {
      throw new CredentialRejectedError(
        `${VENDOR} token ${candidate.keyId} handed to credential "${ctx.credential}" belongs to account ` +
          `${record.account.id}, not to ${candidate.accountId}, the account the credential is configured for. ` +
          "Create the token in the configured account, or change the account in the config.",
        { credential: ctx.credential },
      );
    }
  },

  async issue(authority, template, request, ctx) {
    if (authority.accountId !== template.accountId) {
      throw new InvalidSettingsError(
        `Credential "${ctx.credential}" belongs to account ${template.accountId} but its issuer token is of ` +
          `account ${authority.accountId}: a token can only create tokens of its own account. Use an ` +
          "administrator token of the same account as the issuer.",
        { credential: ctx.credential },
      );
    }
    let { name, modules } = template;
    if (name === undefined || modules === undefined || modules.length === 0) {
      // Read as the token itself (every live token may read its own record), never as the
      // issuer: the key id comes from the secret's value, and the issuer could read any token
      // of the account, an administrator's included.
      const action = `reading token ${template.keyId} to copy its name and modules`;
      const record = await readToken(template.keyId, template, ctx, action, "candidate");
      if (record === "gone") {
        throw new VendorError(
          `${VENDOR} no longer knows token ${template.keyId} of credential "${ctx.credential}", so its name and ` +
            'modules cannot be copied. Add "name" and "modules" to the secret value and rotate again.',
          { credential: ctx.credential, retryable: false },
        );
      }
      name ??= record.name;
      if (modules === undefined || modules.length === 0) modules = record.modules?.map((module) => module.id);
    }
    if (name === undefined || modules === undefined || modules.length === 0) {
      throw new VendorError(
        `${VENDOR} token ${template.keyId} of credential "${ctx.credential}" has no name or no modules to copy. ` +
          'Add "name" and "modules" to the secret value and rotate again.',
        { credential: ctx.credential, retryable: false },
      );
    }

    const action = "token creation";
    const body = await call(authority, "issuer", ctx, action, {
      method: "POST",
      path: "/accounts/api-tokens",
      body: {
        account: { id: template.accountId },
        name,
        description: request.marker,
        modules: modules.map((id) => ({ id })),
      },
    });
    const minted = parseVendorAnswer(MintAnswer, body, {
      credential: ctx.credential,
      vendor: VENDOR,
      action: action,
    });
    rememberSecret(minted.token);
    if (TOKEN_VALUE.exec(minted.token)?.[1] !== minted.id) {
      throw new VendorError(
        `${VENDOR} ${action} for credential "${ctx.credential}" answered with token ${minted.id} whose value ` +
          `is not of the form idt:${minted.id}:<secret>. The key, if minted, carries the marker ` +
          `${request.marker} and is revoked by the next attempt.`,
        { credential: ctx.credential, retryable: false },
      );
    }
    const { previous: _replaced, ...successor } = template;
    return {
      ...successor,
      token: minted.token,
      keyId: minted.id,
      name: minted.name,
      modules: minted.modules.map((module) => module.id),
      issuedAt: ctx.now().toISOString(),
      expiresAt: null,
    };
  },

  async revoke(keyId, authority, how, ctx) {
    if (how === "hard") {
      try {
        await call(authority, "issuer", ctx, `deletion of token ${keyId}`, {
          method: "DELETE",
          path: tokenPath(keyId),
        });
        return "revoked";
      } catch (error) {
        if (statusOf(error) === 404) return "already-gone";
        throw error;
      }
    }
    const action = `disabling token ${keyId}`;
    try {
      // Disabling twice leaves the token disabled, so the client may repeat it after a lost answer.
      await call(authority, "issuer", ctx, action, {
        method: "POST",
        path: tokenPath(keyId, "/disable"),
        idempotent: true,
      });
      return "revoked";
    } catch (error) {
      const status = statusOf(error);
      if (status === 404) return "already-gone";
      if (status === 400 || status === 409 || status === 422) {
        // Unconfirmed that disabling a disabled token is a 200: judge by the token's state instead.
        const record = await readToken(keyId, authority, ctx, `${action} (checking its state)`);
        if (record === "gone") return "already-gone";
        if (record.status === "Disabled") return "revoked";
      }
      throw error;
    }
  },

  async *listIssued(authority, ctx): AsyncIterable<IssuedKey> {
    // Every page is read before the first key is yielded: the engine revokes keys while it
    // iterates, which would shift later pages under a running offset.
    const keys = new Map<string, IssuedKey>();
    const filter = `eq(account.id,"${authority.accountId}")`;
    for (let offset = 0; ; ) {
      const action = `token listing (offset ${offset})`;
      const body = await call(authority, "issuer", ctx, action, {
        method: "GET",
        path: "/accounts/api-tokens",
        rawQuery: `${filter}&select=+description,+lastAccessAt&limit=${PAGE_SIZE}&offset=${offset}`,
      });
      const page = parseVendorAnswer(TokenPage, body, {
        credential: ctx.credential,
        vendor: VENDOR,
        action: action,
      });
      for (const record of page.data) {
        if (record.status !== "Deleted") keys.set(record.id, toIssuedKey(record));
      }
      offset += page.data.length;
      if (page.data.length === 0 || offset >= page.$meta.pagination.total) break;
    }
    yield* keys.values();
  },

  async lastUsed(keyId, authority, ctx) {
    const record = await readToken(keyId, authority, ctx, `reading when token ${keyId} was last used`);
    if (record === "gone") return "gone";
    return record.lastAccessAt ? new Date(record.lastAccessAt) : null;
  },
};
