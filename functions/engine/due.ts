// When the monitor must next look at a credential (issue 16, "O(due)"): the earliest time any of
// its checks could act, written to keyturn's records (functions/aws/record-store.ts, nextDueAt) so
// that the hourly due sweep reads only the credentials due by now. The checks decide from
// keyturn's records (the previous keys, ./previous-keys.ts), the secret's keyturn:* tags (notices,
// reminders, reconciliation and pending marks) and the pinned policy exactly as the sweep does
// (./expiry.ts, ./revocation.ts, ./manual.ts); this module only asks "from when could it act?":
//
// - an automatic credential's previous keys: each one's revoke-after (active) or delete-after
//   (disabled); a key past it stays due every sweep until revoked (a postponed revocation is
//   retried hourly);
// - the next expiry notice not yet sent for the current key (a threshold, or the expiry itself);
// - a manual credential's reminders: its old keys' revoke-after, its maximum age, and a day after
//   the last reminder of either;
// - the reconciliation of an automatic credential's vendor keys (reconciled-at + interval);
// - a rotation in progress (an AWSPENDING version): the stuck-rotation check (first seen +
//   stuckAfter), at once when not seen yet; a leftover pending-seen mark, at once.
//
// When in doubt it answers earlier: a spurious due costs one DescribeSecret, a missed one costs a
// late revocation. Anything it cannot read (a tag missing or malformed, a key not mirrored yet, a
// rotation whose tags have not landed) is due now. Who can write what it decides from: nextDueAt
// itself only keyturn's functions (the records table is fenced); the keyturn:* tags the deployment
// role and keyturn's functions (the secrets' policies), and the policy comes from the pinned config.
// A tag edit is checked by the daily audit as today; it cannot put a credential in the due index.

import { CURRENT, PENDING } from "#aws/secret-store.ts";
import { isAutomatic } from "#providers/types.ts";
import type { ManagedCredential } from "./credentials.ts";
import type { PreviousKey } from "./previous-keys.ts";
import { Tag } from "./settings.ts";

const DAY = 86_400_000;

export interface DueOptions {
  now: Date;
  reconcileIntervalMs: number;
  stuckAfterMs: number;
}

/** A time read from a tag: NaN when absent or malformed. */
function at(text: string | undefined): number {
  return Date.parse(text ?? "");
}

/** The earliest of the candidates; `now` for any that is not a number (unreadable: due now). */
function earliest(now: number, candidates: number[]): number {
  let due = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) due = Math.min(due, Number.isNaN(candidate) ? now : candidate);
  return due;
}

/**
 * When the monitor must next look at `credential` (epoch ms; `Infinity` when nothing of it can
 * ever come due until its state changes, which a keyturn write then makes due at once).
 */
export function nextDueAt(
  credential: ManagedCredential,
  previous: readonly PreviousKey[],
  options: DueOptions,
): number {
  const now = options.now.getTime();
  const { tags, versions, settings, provider } = credential;
  const candidates: number[] = [];

  // A rotation or handover whose tag writes have not landed yet: look again at the next sweep.
  const current = Object.entries(versions).find(([, stages]) => stages.includes(CURRENT))?.[0];
  const rotated = tags[Tag.rotatedVersion];
  if (rotated && current && rotated !== current) candidates.push(now);

  // The previous keys: revoked by keyturn where the vendor has an API (a manual one's are reminded, below).
  if (isAutomatic(provider))
    for (const entry of previous) {
      if (entry.state === "active") candidates.push(at(entry.revokeAfter));
      else if (entry.state === "disabled") candidates.push(at(entry.deleteAfter ?? entry.revokeAfter));
    }

  // Expiry notices: the next threshold not yet sent for the current key, or the expiry.
  const keyId = tags[Tag.keyId];
  const expiresAt = tags[Tag.expiresAt];
  if (!keyId || expiresAt === undefined)
    candidates.push(now); // the check mirrors them from the value
  else if (expiresAt !== "none") {
    const expiry = at(expiresAt);
    const notice = tags[Tag.expiryNotice] ?? "";
    if (Number.isNaN(expiry)) candidates.push(now);
    else if (notice !== `${keyId}@expired`) {
      const sent = notice.startsWith(`${keyId}@`)
        ? settings.expiryThresholds.find((threshold) => threshold.text === notice.slice(keyId.length + 1))
        : undefined;
      const unsent = settings.expiryThresholds.filter((threshold) => !sent || threshold.ms < sent.ms);
      candidates.push(expiry, ...unsent.map((threshold) => expiry - threshold.ms));
    }
  }

  // A manual credential's reminders, at most one a day per reason.
  if (!isAutomatic(provider) && provider.manualSteps) {
    const reminder = tags[Tag.manualReminder] ?? "";
    const nextReminder = (reason: string, due: number) => {
      const remindedAt = reminder.startsWith(`${reason}@`)
        ? at(reminder.slice(reason.length + 1))
        : Number.NaN;
      return Number.isNaN(due) || Number.isNaN(remindedAt) ? due : Math.max(due, remindedAt + DAY);
    };
    for (const entry of previous)
      if (entry.state === "active")
        candidates.push(nextReminder("old-key-not-revoked", at(entry.revokeAfter)));
    if (settings.maxAgeMs !== undefined) {
      const issuedAt = tags[Tag.issuedAt];
      candidates.push(issuedAt ? nextReminder("max-age", at(issuedAt) + settings.maxAgeMs) : now);
    }
  }

  // The reconciliation of the vendor's keys.
  if (isAutomatic(provider)) candidates.push(at(tags[Tag.reconciledAt]) + options.reconcileIntervalMs);

  // A rotation in progress: the stuck-rotation check.
  const pending = Object.entries(versions).find(
    ([, stages]) => stages.includes(PENDING) && !stages.includes(CURRENT),
  )?.[0];
  const seen = tags[Tag.pendingSeen] ?? "";
  if (pending) {
    candidates.push(
      seen.startsWith(`${pending}@`) ? at(seen.slice(pending.length + 1)) + options.stuckAfterMs : now,
    );
  } else if (seen) candidates.push(now);

  return earliest(now, candidates);
}
