// A credential's previous keys, from keyturn's own records (functions/aws/record-store.ts; issue 13,
// case 6): the keys a rotation or a handover replaced, each with its revocation state and times.
// Only keyturn's functions write the records; the secret's keyturn:previous-* tags are a mirror
// written after, for `keyturn status` and for people, and nothing reads them back as authority,
// with one exception: a record written before the ledger existed (an upgrade) adopts, once, the
// previous key its secret's tags name, and only a key the record already holds, never with an
// earlier time than a fresh grace period (or hard-revoke delay) from the adoption: a tag can delay
// a revocation it names, never hasten one.
//
// Every decision about a previous key is written with a conditional write on the state it was
// made from (KeyRecords.movePrevious), so that a sweep that read the record before a rotation or
// another sweep changed it loses instead of overwriting the newer decision. The in-memory entry
// follows each write that landed, so that the sweep's next-due time is computed from what it did.

import type {
  KeyRecord,
  KeyRecords,
  PreviousKey,
  PreviousKeyChange,
  PreviousState,
} from "#aws/record-store.ts";
import type { AutomaticProvider, CredentialValue, ProviderContext } from "#providers/types.ts";
import { type ManagedCredential, readAuthority } from "./credentials.ts";
import { credentialRevoked } from "./events.ts";
import { logger } from "./logger.ts";
import { type GuardDeps, refuseRevocation } from "./revocation-guard.ts";
import { Tag } from "./settings.ts";

export type { PreviousKey, PreviousState } from "#aws/record-store.ts";

/** States in which a previous key still has to be revoked (or, for a manual vendor, reminded). */
export const OPEN_STATES: readonly PreviousState[] = ["active", "disabled"];

/** Whether keyturn still has something to do about this previous key. */
export function isOpen(entry: PreviousKey): boolean {
  return OPEN_STATES.includes(entry.state);
}

const LEGACY_STATES: readonly string[] = ["active", "disabled"];

/**
 * The credential's previous keys, from its record (`record`: as the sweep read it; undefined when it
 * has none, and then it has no previous key keyturn could act on). A record from before the ledger
 * adopts its tags' previous key once (see the header).
 */
export async function previousKeysOf(
  deps: { records: KeyRecords; now: () => Date },
  credential: ManagedCredential,
  record: KeyRecord | undefined,
): Promise<PreviousKey[]> {
  if (!record) return [];
  if (record.ledger) return record.previous;
  const { tags, settings } = credential;
  const keyId = tags[Tag.previousKeyId];
  const state = tags[Tag.previousState] ?? "active";
  if (!keyId || !LEGACY_STATES.includes(state) || !record.keys.has(keyId)) return [];
  const now = deps.now().getTime();
  const notBefore = (text: string | undefined, floorMs: number) =>
    new Date(Math.max(Date.parse(text ?? "") || 0, now + floorMs)).toISOString();
  const entry: PreviousKey = {
    keyId,
    state: state as PreviousState,
    revokeAfter: notBefore(tags[Tag.revokeAfter], settings.gracePeriodMs),
    deleteAfter:
      state === "disabled" ? notBefore(tags[Tag.deleteAfter], settings.hardRevokeDelayMs) : undefined,
    postponements: 0,
  };
  if (await deps.records.adoptPrevious(credential.name, entry)) {
    logger.info("previous key adopted from the secret's tags into keyturn's records (an upgrade)", {
      credential: credential.name,
      keyId,
      revokeAfter: entry.revokeAfter,
    });
    record.previous = [entry];
    record.ledger = true;
    return record.previous;
  }
  // Another writer started the ledger meanwhile: its record is the truth.
  return (await deps.records.get(credential.name))?.previous ?? [];
}

/**
 * Moves `entry` on in the records, from the state it is in (and, when `checkPostponements`, its
 * postponement count) to `change`; the in-memory entry follows when the write landed. False when
 * another writer changed it first: the caller's decision is dropped (logged), theirs stands.
 */
export async function movePrevious(
  records: KeyRecords,
  credential: string,
  entry: PreviousKey,
  change: PreviousKeyChange,
  checkPostponements = false,
): Promise<boolean> {
  const landed = await records.movePrevious(
    credential,
    entry.keyId,
    { states: [entry.state], postponements: checkPostponements ? entry.postponements : undefined },
    change,
  );
  if (!landed) {
    logger.warn("previous key: changed by another writer since it was read; this decision is dropped", {
      credential,
      keyId: entry.keyId,
      from: entry.state,
      to: change.state,
    });
    return false;
  }
  entry.state = change.state;
  if (change.deleteAfter !== undefined) entry.deleteAfter = change.deleteAfter;
  if (change.postponements !== undefined) entry.postponements = change.postponements;
  return true;
}

/** The open previous key named `keyId`, if the credential has one. */
export function openPrevious(previous: readonly PreviousKey[], keyId: string): PreviousKey | undefined {
  return previous.find((entry) => entry.keyId === keyId && isOpen(entry));
}

/**
 * Revokes `entry`, an older previous key still open when a rotation or a handover (`during`) makes
 * another key previous: at most two keys live, so it goes before its grace period ends, through the
 * revocation guard, announced as "superseded" and recorded revoked (or `refused`, left to a person,
 * when the guard refuses it: the rotation or handover itself is sound and goes on). The outcome
 * at the vendor, or "refused".
 */
export async function revokeSuperseded(
  deps: GuardDeps,
  credential: ManagedCredential & { provider: AutomaticProvider<CredentialValue> },
  entry: PreviousKey,
  during: "rotation" | "handover",
  ctx: ProviderContext,
): Promise<"revoked" | "already-gone" | "refused"> {
  const { keyId } = entry;
  const authority = await readAuthority(deps.store, credential);
  if (await refuseRevocation(deps, credential, keyId, authority, { during })) {
    await movePrevious(deps.records, credential.name, entry, { state: "refused" });
    return "refused";
  }
  const outcome = await credential.provider.revoke(keyId, authority, "hard", ctx);
  const { settings } = credential;
  await deps.publisher.publish([
    credentialRevoked(
      { credential: settings.credential, provider: settings.provider, secretArn: credential.arn },
      { keyId, reason: "superseded", strength: "hard", outcome, alreadyDisabled: entry.state === "disabled" },
    ),
  ]);
  await movePrevious(deps.records, credential.name, entry, { state: "revoked" });
  return outcome;
}
