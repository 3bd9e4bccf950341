// Validation of secret values with valibot (small and tree-shakable: a Lambda bundle only
// carries the validators it uses), turned into messages a person can act on. A message
// names the credential and the field and shows a received value only for fields that are
// not secret.

import * as v from "valibot";
import { InvalidSecretError, VendorError } from "#engine/errors.ts";

/** An ISO 8601 date-time string. */
export const isoDateTime = v.pipe(
  v.string(),
  v.check((text) => !Number.isNaN(Date.parse(text)), "an ISO 8601 date-time"),
);

/** An https:// URL setting, without query or credentials, with its description for the config reference. */
export function httpsUrlSetting(description: string) {
  return v.pipe(
    v.string(),
    v.regex(/^https:\/\/[^\s/?#@]+(\/[^\s?#]*)?$/, "an https:// URL without query or credentials"),
    v.description(description),
  );
}

/** A non-empty string setting, with its description for the config reference. */
export function textSetting(description: string) {
  return v.pipe(v.string(), v.minLength(1), v.description(description));
}

const MAX_SHOWN = 3;

export function parseSecretValue<S extends v.GenericSchema>(
  schema: S,
  value: unknown,
  context: { credential: string; vendor: string; publicFields: readonly string[] },
): v.InferOutput<S> {
  const result = v.safeParse(schema, value);
  if (result.success) return result.output;
  const problems = result.issues.slice(0, MAX_SHOWN).map((issue) => {
    const field = v.getDotPath(issue) ?? "(the value)";
    const expected = issue.expected ?? issue.message;
    // Never the value itself, public fields included: whoever wrote the secret would choose the
    // text of keyturn's alert (a link, an instruction).
    const shown = `a ${typeof issue.input}${context.publicFields.includes(field) ? ` (${issue.received.length} characters)` : ""}`;
    return issue.input === undefined
      ? `"${field}" is missing (expected ${expected})`
      : `"${field}" must be ${expected}, got ${shown}`;
  });
  const more = result.issues.length > MAX_SHOWN ? ` (and ${result.issues.length - MAX_SHOWN} more)` : "";
  throw new InvalidSecretError(
    `Secret value of credential "${context.credential}" (${context.vendor}) is invalid: ${problems.join("; ")}${more}. ` +
      "Fix the secret's JSON (keyturn put, or the console) and try again; the current version was left as it is.",
    { credential: context.credential },
  );
}

/**
 * The strings at `fields` of a value, parsed or not (a provider's `secretsOf`); anything else
 * there (a number, a missing field) is no text that could show up in a message, and is skipped.
 */
export function secretFields(value: object, fields: readonly string[]): string[] {
  const record = value as Record<string, unknown>;
  return fields.map((field) => record[field]).filter((item): item is string => typeof item === "string");
}

/** Parses a secret string as JSON, with an error that names the credential (and never echoes the text). */
export function parseSecretJson(secretString: string, credential: string): unknown {
  try {
    return JSON.parse(secretString);
  } catch {
    throw new InvalidSecretError(
      `Secret value of credential "${credential}" is not JSON (${secretString.length} characters). ` +
        'keyturn stores each credential as a JSON object such as {"provider": "...", "token": "...", "keyId": "..."}.',
      { credential },
    );
  }
}

/** A vendor's answer checked against the shape the provider relies on; a surprise is a VendorError naming the action. */
export function parseVendorAnswer<S extends v.GenericSchema>(
  schema: S,
  body: unknown,
  context: { credential: string; vendor: string; action: string },
): v.InferOutput<S> {
  const result = v.safeParse(schema, body);
  if (!result.success) {
    throw new VendorError(
      `${context.vendor} ${context.action} for credential "${context.credential}" answered with an unexpected body ` +
        `(${v.getDotPath(result.issues[0]) ?? "top level"}: ${result.issues[0].expected ?? "invalid"}).`,
      { credential: context.credential, retryable: false },
    );
  }
  return result.output;
}
