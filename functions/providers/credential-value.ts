// The fields every credential's secret value has whatever the vendor (CredentialValue in
// ./types.ts), and a provider's `parse` of a value with them: each provider lists only the
// fields of its own vendor that a message may describe.

import type * as v from "valibot";
import { parseSecretValue } from "./schema.ts";

/**
 * keyturn's bookkeeping in every value: no secret, so a message about a bad one may say how long
 * it is (never what it holds: see parseSecretValue).
 */
export const BOOKKEEPING_FIELDS = [
  "provider",
  "keyId",
  "issuedAt",
  "expiresAt",
  "previous.keyId",
  "previous.revokeAfter",
] as const;

/** Validates a secret's value against a provider's schema; `publicFields` are the vendor's own non-secret fields. */
export function parseCredentialValue<S extends v.GenericSchema>(
  schema: S,
  value: unknown,
  context: { credential: string; vendor: string; publicFields: readonly string[] },
): v.InferOutput<S> {
  return parseSecretValue(schema, value, {
    ...context,
    publicFields: [...BOOKKEEPING_FIELDS, ...context.publicFields],
  });
}
