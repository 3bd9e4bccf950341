// SoftwareOne Marketplace Platform API tokens (docs/vendors.md, "SoftwareOne";
// https://docs.platform.softwareone.com/modules-and-features/settings/api-tokens).
//
// The contract is SoftwareOne's spec, served at
// https://api.platform.softwareone.com/public/v1/accounts/openapi.json ("Marketplace API"
// 4.0.2162; its operations have no ids, so they are named by method and path), and the reference
// pages in github.com/softwareone-platform/docs (`developer-resources/`: rql.md, error-object.md,
// errors-handling.md). keyturn calls:
// - GET /public/v1/accounts/api-tokens/{id}: verify (with the token itself: a token may read its
//   own record), the name and modules a successor copies, the state after a refused disable or
//   delete, and last use. `select=+lastAccessAt` for last use: lastAccessAt is ApiToken's only
//   field with the "Optional" constraint, left out unless selected (rql.md, "Select").
// - POST /public/v1/accounts/api-tokens: mint, {account:{id}, name, description, modules:[{id}]}
//   (CreateApiTokenDto; module ids ^MOD-\d{4}$). keyturn's tracking marker goes into
//   `description`; the successor copies the account, name and modules of the token it replaces.
// - POST /public/v1/accounts/api-tokens/{id}/disable: soft revoke (reversible).
// - DELETE /public/v1/accounts/api-tokens/{id}: hard revoke (204; 404 = already gone).
// - GET /public/v1/accounts/api-tokens: orphans and last use, RQL in the query string (rql.md),
//   `limit=100` (the most a page holds: more is capped), `offset`, `select=+description,
//   +lastAccessAt,-token`. Paging stops at the first short page: `$meta.pagination.total` is
//   nullable in the spec (PaginationMetadata) and is never needed.
// The base URL is https://api.platform.softwareone.com/public/v1 (HTTPS only) and every call
// sends `Authorization: Bearer <token>`.
//
// Token values: `idt:TKN-XXXX-XXXX:<secret>`, whose second segment is the token's id, or, for
// older tokens, the bare secret without that prefix: SoftwareOne's own CLI keeps such a token's
// id beside it, and so does keyturn, in the secret's `keyId`. Accepted as older:
// letters and digits only, at least 32 of them (the secret part of published values is 64).
// Such a value cannot prove its id, and an administrator's token may read any token: so verify
// and rotation read its own record without `select=-token` and require the answered `token` to
// be the value held (unconfirmed that a token's read of itself shows it; if not, keyturn refuses
// the older value and asks for the idt: form). Successors are always minted in the current form.
//
// The token's value can be read again: an administrator's GET answers the ApiToken `token` field
// (constraint "None": part of the default representation; the UI copies it). So every read asks
// for `select=-token` (but the older token's check of itself above), and a record is parsed into
// the fields keyturn uses only, before anything else sees it: no raw record reaches a log line,
// an error message or an event.
//
// Errors are RFC 7807 problem details (ProblemDetails, any extra member allowed); `detail` (or
// `details`), `errors` and `traceId` go into keyturn's messages, bounded, so that an operator can
// quote the traceId to SoftwareOne. `errors` is error-object.md's array
// [{message, properties, id, parameters}] or errors-handling.md's map {field: [messages]}.
//
// Unconfirmed by SoftwareOne's documents, and how keyturn copes:
// - Tokens have no expiry field (no page says they never expire): `expiresAt` must be
//   null or absent, and rotation age is enforced by the rotation schedule alone.
// - What a repeated disable answers: the spec declares 400 for disable, enable and delete.
//   keyturn sends the disable as idempotent and, should the platform answer 400/409/422, reads
//   the token and counts Disabled as revoked and a gone token as already gone; a 400/409/422 to a
//   delete counts as already gone when the token is gone.
// - Which rights managing tokens needs beyond "an account administrator's token": a 401/403
//   to the issuing token is reported as "disabled, invalid or lacking administrator rights"
//   with what to do, and is never retried.
// - Whether `select=-token` is honoured: the parsed record drops `token` either way, and the HTTP
//   layer remembers any `token` value it sees for redaction.

import { timingSafeEqual } from "node:crypto";
import * as v from "valibot";
import {
  CredentialRejectedError,
  InvalidSecretError,
  InvalidSettingsError,
  KeyturnError,
  VendorError,
} from "#engine/errors.ts";
import { ResponseError } from "#http/errors.ts";
import { parseCredentialValue } from "../credential-value.ts";
import { markerIn } from "../marker.ts";
import { httpsUrlSetting, isoDateTime, parseVendorAnswer, secretFields, textSetting } from "../schema.ts";
import type { AutomaticProvider, IssuedKey, ProviderContext } from "../types.ts";
import { vendorFailure } from "../vendor-errors.ts";

export const SOFTWAREONE_BASE_URL = "https://api.platform.softwareone.com/public/v1";

const VENDOR = "SoftwareOne";
/** The most a page holds (rql.md: "Maximum is 100 (values above 100 are capped)"). */
const PAGE_SIZE = 100;
/** 100 000 tokens: a listing that has not ended by then is not advancing. */
const MAX_PAGES = 1_000;
const DETAIL_CHARS = 300;
const ERROR_CHARS = 160;
const SHOWN_FIELD_ERRORS = 3;

const TOKEN_ID = /^TKN-[0-9A-Za-z]+(?:-[0-9A-Za-z]+)*$/;
const TOKEN_VALUE = /^idt:(TKN-[0-9A-Za-z]+(?:-[0-9A-Za-z]+)*):\S+$/;
/** An older token's value: the bare secret, without `idt:TKN-…:` (its id is the secret's keyId). */
const LEGACY_TOKEN_VALUE = /^[0-9A-Za-z]{32,}$/;
const ACCOUNT_ID = /^ACC-[0-9A-Za-z]+(?:-[0-9A-Za-z]+)*$/;
/** SoftwareOne's pattern for a module id (the spec's CreateApiTokenDto: ^MOD-\d\d\d\d$). */
const MODULE_ID = /^MOD-\d{4}$/;

/**
 * A token value in any text, `idt:TKN-…:<secret>`: the redactor keeps the id (group 1) and blanks
 * the secret, even in a token it has never seen.
 */
const TOKEN_IN_TEXT = /\b(idt:TKN-[0-9A-Za-z]+(?:-[0-9A-Za-z]+)*:)[^\s"'`,\\]+/g;

/** The settings the deployment config takes (infra/config.ts), with their reference descriptions. */
const Settings = v.strictObject({
  accountId: v.pipe(
    v.string(),
    v.regex(ACCOUNT_ID, "an account id such as ACC-1234-5678"),
    v.description("The SoftwareOne account the token belongs to."),
  ),
  name: v.optional(textSetting("The token's name at SoftwareOne; successors get the same name.")),
  modules: v.optional(
    v.pipe(
      v.array(
        v.pipe(
          v.string(),
          v.regex(
            MODULE_ID,
            "a module id: MOD- and four digits, such as MOD-1234 (SoftwareOne's CreateApiTokenDto pattern)",
          ),
        ),
      ),
      v.description("The token's modules; successors get the same modules."),
    ),
  ),
  baseUrl: v.optional(httpsUrlSetting("Overrides SoftwareOne's API base URL.")),
});

/** RFC 7807 problem details: `title` and `detail` (`details` in error-object.md's table). */
function summarizeProblem(problem: unknown): string {
  if (typeof problem !== "object" || problem === null) return "";
  const { title, detail, details } = problem as Record<string, unknown>;
  const texts = [title, typeof detail === "string" ? detail : details].filter(
    (text): text is string => typeof text === "string" && text !== "",
  );
  return [...new Set(texts)].join(": ");
}

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
    v.check(
      (text) => TOKEN_VALUE.test(text) || LEGACY_TOKEN_VALUE.test(text),
      "a SoftwareOne API token value idt:TKN-XXXX-XXXX:<secret> (or an older token's bare secret: 32 or more letters and digits)",
    ),
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

// The fields of an ApiToken keyturn uses, and nothing else: v.object drops every other member
// (`token` above all, which an administrator's GET may carry) while parsing.
const ApiTokenRecord = v.object({
  id: v.pipe(v.string(), v.regex(TOKEN_ID)),
  name: v.optional(v.string()),
  description: v.optional(v.nullable(v.string())),
  status: v.string(),
  lastAccessAt: v.optional(v.nullable(isoDateTime)),
  account: v.optional(v.object({ id: v.string() })),
  modules: v.optional(v.array(v.object({ id: v.string() }))),
  audit: v.optional(v.object({ created: v.optional(v.object({ at: v.optional(v.nullable(isoDateTime)) })) })),
});

/** The answer to a mint: the one place keyturn keeps a token's value from. */
const MintAnswer = v.object({
  ...ApiTokenRecord.entries,
  name: v.string(),
  modules: v.array(v.object({ id: v.string() })),
  token: v.pipe(v.string(), v.minLength(1)),
});

// `$meta`, `pagination` and every member of it are optional in the spec, and `total` nullable.
const TokenPage = v.object({
  $meta: v.optional(
    v.object({
      pagination: v.optional(v.object({ limit: v.optional(v.nullable(v.number())) })),
    }),
  ),
  data: v.array(ApiTokenRecord),
});

export type ApiTokenRecord = v.InferOutput<typeof ApiTokenRecord>;

/**
 * An ApiToken answer as keyturn keeps it: only the fields it uses, never `token`. A body that
 * lacks them is a VendorError naming the action (and never quoting the body).
 */
export function parseApiToken(
  body: unknown,
  context: { credential: string; action: string },
): ApiTokenRecord {
  return parseVendorAnswer(ApiTokenRecord, body, { ...context, vendor: VENDOR });
}

/** `select` of every read: the value stays at the platform (see the header). */
const WITHOUT_VALUE = "select=-token";

/** Who a call authenticates as: the key being checked, or the token that manages keys. */
type Role = "candidate" | "issuer";

function baseUrl(credential: SoftwareOneCredential): string {
  return (credential.baseUrl ?? SOFTWAREONE_BASE_URL).replace(/\/+$/, "");
}

function tokenPath(keyId: string, suffix = ""): string {
  return `/accounts/api-tokens/${encodeURIComponent(keyId)}${suffix}`;
}

/** One line of vendor text: whitespace (markdown line breaks included) folded, at most `chars`. */
function oneLine(text: string, chars: number): string {
  const folded = text.replace(/\s+/g, " ").trim();
  return folded.length > chars ? `${folded.slice(0, chars - 1)}…` : folded;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A scalar as text; anything else (objects, arrays) is not shown. */
function scalarText(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return undefined;
}

/**
 * One entry of error-object.md's array form, {message, properties, id, parameters}: "properties:
 * message", the message's `{{name}}` placeholders filled from `parameters`. A bare string is a
 * message; anything without a message is skipped.
 */
function arrayEntryText(entry: unknown): string | undefined {
  if (typeof entry === "string") return entry === "" ? undefined : entry;
  if (!isRecord(entry) || typeof entry.message !== "string" || entry.message === "") return undefined;
  const parameters = isRecord(entry.parameters) ? entry.parameters : {};
  const message = entry.message.replace(
    /\{\{\s*([\w.$-]+)\s*\}\}/g,
    (placeholder, name: string) => scalarText(parameters[name]) ?? placeholder,
  );
  const properties = Array.isArray(entry.properties)
    ? entry.properties.filter(
        (property): property is string => typeof property === "string" && property !== "",
      )
    : [];
  return properties.length > 0 ? `${properties.join(", ")}: ${message}` : message;
}

/** errors-handling.md's map form, {field: [messages]}: "field: messages". */
function mapEntryText(field: string, messages: unknown): string | undefined {
  const texts = (Array.isArray(messages) ? messages : [messages])
    .map((message) => (isRecord(message) ? arrayEntryText(message) : scalarText(message)))
    .filter((text): text is string => text !== undefined && text !== "");
  return texts.length > 0 ? `${field}: ${texts.join(" ")}` : undefined;
}

/** A problem's `errors` in either form, as at most SHOWN_FIELD_ERRORS short readable entries. */
export function problemErrorsText(errors: unknown): string | undefined {
  let entries: string[];
  if (Array.isArray(errors)) {
    entries = errors.map(arrayEntryText).filter((text): text is string => text !== undefined);
  } else if (isRecord(errors)) {
    entries = Object.entries(errors)
      .map(([field, messages]) => mapEntryText(field, messages))
      .filter((text): text is string => text !== undefined);
  } else {
    return undefined;
  }
  if (entries.length === 0) return undefined;
  const shown = entries.slice(0, SHOWN_FIELD_ERRORS).map((entry) => oneLine(entry, ERROR_CHARS));
  const more =
    entries.length > SHOWN_FIELD_ERRORS ? ` (and ${entries.length - SHOWN_FIELD_ERRORS} more)` : "";
  return `${shown.join("; ")}${more}`;
}

/** The problem details' `detail`, `errors` and `traceId`, as far as the message lacks them. */
function problemNote(error: ResponseError, message: string): string {
  const { problem } = error;
  if (!isRecord(problem)) return "";
  const { errors, traceId } = problem;
  // error-object.md's table names it `details`; its examples and RFC 7807 say `detail`.
  const detail = typeof problem.detail === "string" ? problem.detail : problem.details;
  const notes: string[] = [];
  if (typeof detail === "string" && detail !== "" && !message.includes(detail)) {
    notes.push(`SoftwareOne says: ${oneLine(detail, DETAIL_CHARS)}`);
  }
  const errorsText = problemErrorsText(errors);
  if (errorsText !== undefined) notes.push(`Errors: ${errorsText}`);
  if (typeof traceId === "string" && traceId !== "")
    notes.push(`traceId ${oneLine(traceId, 100)} (quote it to SoftwareOne support)`);
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
      summarizeProblem,
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

/**
 * The token's record (the fields keyturn uses), or "gone" when the platform no longer knows it.
 * `select` adds to the default representation and always leaves the value out.
 */
async function readToken(
  keyId: string,
  authority: SoftwareOneCredential,
  ctx: ProviderContext,
  action: string,
  options: { role?: Role; select?: string } = {},
): Promise<ApiTokenRecord | "gone"> {
  try {
    const select = options.select === undefined ? WITHOUT_VALUE : `select=${options.select},-token`;
    const body = await call(authority, options.role ?? "issuer", ctx, action, {
      method: "GET",
      path: tokenPath(keyId),
      rawQuery: select,
    });
    const record = parseApiToken(body, { credential: ctx.credential, action });
    return record.status === "Deleted" ? "gone" : record;
  } catch (error) {
    if (statusOf(error) === 404) return "gone";
    throw error;
  }
}

function isLegacy(credential: SoftwareOneCredential): boolean {
  return LEGACY_TOKEN_VALUE.test(credential.token);
}

function sameText(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/**
 * The candidate's own record, read with the candidate. An older token's bare value names no id,
 * and an administrator's token may read any token's record: so for such a value the record must
 * answer the very value keyturn holds (the caller's own, already sent in its Authorization
 * header), or the keyId is not known to be this token's and the rotation or handover stops
 * before keyturn could revoke another token under that id. The answered value is compared here
 * and dropped; the record keeps only the fields keyturn uses.
 */
async function readOwnRecord(
  candidate: SoftwareOneCredential,
  ctx: ProviderContext,
  action: string,
): Promise<ApiTokenRecord> {
  const legacy = isLegacy(candidate);
  const body = await call(candidate, "candidate", ctx, action, {
    method: "GET",
    path: tokenPath(candidate.keyId),
    ...(legacy ? {} : { rawQuery: WITHOUT_VALUE }),
  });
  if (legacy) {
    const answered = isRecord(body) ? body.token : undefined;
    if (typeof answered !== "string" || !sameText(answered, candidate.token)) {
      throw new CredentialRejectedError(
        `${VENDOR} ${action} for credential "${ctx.credential}": its value is an older token's bare secret ` +
          `(without idt:TKN-…:), so its id is only what the secret's keyId says, and the record of ` +
          `${candidate.keyId} ${typeof answered === "string" ? "belongs to another token" : "does not show the value to confirm it"}. ` +
          `Store the keyId of this very token, or its value in the idt:TKN-…:<secret> form, with keyturn put.`,
        { credential: ctx.credential },
      );
    }
  }
  return parseApiToken(body, { credential: ctx.credential, action });
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
  config: {
    description: "A SoftwareOne Marketplace API token, rotated by keyturn.",
    settings: Settings,
  },
  redaction: { tokenPatterns: [TOKEN_IN_TEXT] },
  summarizeProblem,

  parse(value, credential) {
    const parsed = parseCredentialValue(SoftwareOneValue, value, {
      credential,
      vendor: VENDOR,
      publicFields: ["baseUrl", "accountId", "name"],
    });
    // An older token's bare value names no id: its keyId is the one the secret states.
    const owner = LEGACY_TOKEN_VALUE.test(parsed.token) ? parsed.keyId : TOKEN_VALUE.exec(parsed.token)?.[1];
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
    return secretFields(value, ["token"]);
  },

  expiresAt() {
    return undefined;
  },

  async verify(candidate, ctx) {
    const action = "token check";
    const record = await readOwnRecord(candidate, ctx, action);
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
    if (isLegacy(template)) {
      // Confirms, before anything is minted, that the keyId the successor replaces is this token's.
      const record = await readOwnRecord(
        template,
        ctx,
        `reading older token ${template.keyId} to confirm its id`,
      );
      name ??= record.name;
      if (modules === undefined || modules.length === 0) modules = record.modules?.map((module) => module.id);
    }
    if (name === undefined || modules === undefined || modules.length === 0) {
      // Read as the token itself (every live token may read its own record), never as the
      // issuer: the key id comes from the secret's value, and the issuer could read any token
      // of the account, an administrator's included.
      const action = `reading token ${template.keyId} to copy its name and modules`;
      const record = await readToken(template.keyId, template, ctx, action, { role: "candidate" });
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
    // The HTTP client has remembered the answer's `token` for redaction.
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
      const action = `deletion of token ${keyId}`;
      try {
        await call(authority, "issuer", ctx, action, { method: "DELETE", path: tokenPath(keyId) });
        return "revoked";
      } catch (error) {
        const status = statusOf(error);
        if (status === 404) return "already-gone";
        if (status === 400 || status === 409 || status === 422) {
          // The spec declares 400 for DELETE without saying when: a token already gone is gone.
          const record = await readToken(keyId, authority, ctx, `${action} (checking its state)`);
          if (record === "gone") return "already-gone";
        }
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
        // The spec declares 400 for disable (a repeated disable may get it): judge by the token's state.
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
    const seen = new Set<string>();
    const filter = `eq(account.id,"${authority.accountId}")`;
    for (let offset = 0, pages = 0; ; pages++) {
      const action = `token listing (offset ${offset})`;
      if (pages === MAX_PAGES) {
        throw new VendorError(
          `${VENDOR} ${action} for credential "${ctx.credential}": the listing has not ended after ` +
            `${MAX_PAGES} pages, so keyturn stopped reading it; no key was revoked as an orphan.`,
          { credential: ctx.credential, retryable: false },
        );
      }
      const body = await call(authority, "issuer", ctx, action, {
        method: "GET",
        path: "/accounts/api-tokens",
        rawQuery: `${filter}&select=+description,+lastAccessAt,-token&limit=${PAGE_SIZE}&offset=${offset}`,
      });
      const page = parseVendorAnswer(TokenPage, body, { credential: ctx.credential, vendor: VENDOR, action });
      let fresh = 0;
      for (const record of page.data) {
        if (!seen.has(record.id)) fresh += 1;
        seen.add(record.id);
        if (record.status !== "Deleted") keys.set(record.id, toIssuedKey(record));
      }
      // A short page is the last: `total` is nullable in the spec, so it is never relied on. The
      // page size is the limit the platform says it applied (it caps), or the one asked for.
      const answeredLimit = page.$meta?.pagination?.limit;
      const pageSize =
        typeof answeredLimit === "number" && answeredLimit > 0 && answeredLimit < PAGE_SIZE
          ? answeredLimit
          : PAGE_SIZE;
      if (page.data.length < pageSize) break;
      if (fresh === 0) {
        throw new VendorError(
          `${VENDOR} ${action} for credential "${ctx.credential}" answered a full page of tokens it had ` +
            "listed already, so the listing does not advance; no key was revoked as an orphan.",
          { credential: ctx.credential, retryable: false },
        );
      }
      offset += page.data.length;
    }
    yield* keys.values();
  },

  async lastUsed(keyId, authority, ctx) {
    const record = await readToken(keyId, authority, ctx, `reading when token ${keyId} was last used`, {
      select: "+lastAccessAt",
    });
    if (record === "gone") return "gone";
    return record.lastAccessAt ? new Date(record.lastAccessAt) : null;
  },
};
