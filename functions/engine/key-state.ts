// A live credential's state as people and dashboards see it, by one rule for `keyturn status`
// (cli/status.ts) and the monitor's "credentials by state" metric (functions/handlers/metrics.ts),
// so that the CLI and the dashboard agree: expired, being rotated, due for replacement by a
// person, inside its first expiry warning, or ok. Read from the tags keyturn mirrors; the states
// that come before it (invalid, deleted, owned elsewhere) are each caller's.

import { CURRENT, PENDING, type SecretDescription } from "#aws/secret-store.ts";
import { isAutomatic } from "#providers/types.ts";
import type { ManagedCredential } from "./credentials.ts";
import { Tag } from "./settings.ts";

export type KeyState = "ok" | "expiring" | "expired" | "replace-due" | "rotating";

/** Milliseconds since the epoch of an ISO time in a tag; undefined when absent or not a time. */
export function timeOf(text: string | undefined): number | undefined {
  if (!text) return undefined;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : ms;
}

/** When the credential's current key expires and was issued, from its tags. */
export function keyTimes(tags: Record<string, string>): { expiry?: number; issuedAt?: number } {
  const expiry = timeOf(tags[Tag.expiresAt]);
  const issuedAt = timeOf(tags[Tag.issuedAt]) ?? timeOf(tags[Tag.rotatedAt]);
  return {
    ...(expiry === undefined ? {} : { expiry }),
    ...(issuedAt === undefined ? {} : { issuedAt }),
  };
}

export function keyState(
  credential: ManagedCredential,
  versions: SecretDescription["versions"],
  nowMs: number,
): KeyState {
  const { settings, provider } = credential;
  const { expiry, issuedAt } = keyTimes(credential.tags);
  const rotating = Object.values(versions).some(
    (stages) => stages.includes(PENDING) && !stages.includes(CURRENT),
  );
  if (expiry !== undefined && expiry <= nowMs) return "expired";
  if (rotating) return "rotating";
  if (
    !isAutomatic(provider) &&
    settings.maxAgeMs !== undefined &&
    issuedAt !== undefined &&
    issuedAt + settings.maxAgeMs <= nowMs
  ) {
    return "replace-due";
  }
  if (expiry !== undefined && expiry - nowMs <= (settings.expiryThresholds[0]?.ms ?? 0)) return "expiring";
  return "ok";
}
