// When the monitor must next look at a credential (functions/engine/due.ts): the earliest time any
// check could act, and "now" for anything it cannot read.

import { describe, expect, test } from "vitest";
import { managedCredential } from "#engine/credentials.ts";
import { nextDueAt } from "#engine/due.ts";
import { PinnedCredentials } from "#engine/pinned.ts";
import type { PreviousKey, PreviousState } from "#engine/previous-keys.ts";
import { Tag } from "#engine/settings.ts";
import { pinnedFromTags } from "#sandbox/pin-from-tags.ts";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const NOW = new Date("2026-11-22T10:00:00Z");
const OPTIONS = { now: NOW, reconcileIntervalMs: 6 * HOUR, stuckAfterMs: 6 * HOUR };
const iso = (ms: number) => new Date(NOW.getTime() + ms).toISOString();
const previousKey = (keyId: string, state: PreviousState, revokeAfter: string): PreviousKey => ({
  keyId,
  state,
  revokeAfter,
  deleteAfter: undefined,
  postponements: 0,
});

function credential(provider: "immuta-request" | "incorta-v2", tags: Record<string, string>, versions = {}) {
  const name = `keyturn/${provider}`;
  const value =
    provider === "incorta-v2"
      ? {
          provider,
          clusterUrl: "https://acme.cloud.incorta.com/incorta",
          tenantName: "analytics",
          token: "t",
        }
      : { provider, region: "na", token: "t", name: "n" };
  const allTags = { [Tag.provider]: provider, [Tag.credential]: name, ...tags };
  const pinned = new PinnedCredentials();
  const entry = pinnedFromTags(name, value, allTags);
  if (entry) pinned.pin(entry);
  return managedCredential(
    { arn: name, name, versions: { v1: ["AWSCURRENT"], ...versions }, tags: allTags },
    pinned,
  );
}

describe("an automatic credential", () => {
  const mirrored = { [Tag.keyId]: "k1", [Tag.expiresAt]: "none", [Tag.reconciledAt]: iso(-HOUR) };

  test("is due for its reconciliation one interval after the last", () => {
    expect(nextDueAt(credential("immuta-request", mirrored), [], OPTIONS)).toBe(NOW.getTime() + 5 * HOUR);
  });

  test("is due for each previous key's revocation (keyturn's records), or its deletion once disabled, whichever is earliest", () => {
    const fresh = credential("immuta-request", { ...mirrored, [Tag.reconciledAt]: iso(0) });
    const k0 = previousKey("k0", "active", iso(2 * HOUR));
    expect(nextDueAt(fresh, [k0], OPTIONS)).toBe(NOW.getTime() + 2 * HOUR);
    const disabled = { ...k0, state: "disabled" as const, deleteAfter: iso(3 * HOUR) };
    expect(nextDueAt(fresh, [disabled], OPTIONS)).toBe(NOW.getTime() + 3 * HOUR);
    // Every previous key counts, not one.
    expect(nextDueAt(fresh, [disabled, previousKey("k-1", "active", iso(HOUR))], OPTIONS)).toBe(
      NOW.getTime() + HOUR,
    );
    for (const state of ["revoked", "refused"] as const)
      expect(nextDueAt(fresh, [{ ...k0, state }], OPTIONS)).toBe(NOW.getTime() + 6 * HOUR);
  });

  test("takes no time from the secret's previous-key tags (a mirror: anyone who may tag could write them)", () => {
    const forged = {
      ...mirrored,
      [Tag.reconciledAt]: iso(0),
      [Tag.previousKeyId]: "k0",
      [Tag.revokeAfter]: iso(-DAY),
    };
    expect(nextDueAt(credential("immuta-request", forged), [], OPTIONS)).toBe(NOW.getTime() + 6 * HOUR);
  });

  test("is due now when its key is not mirrored yet, or its reconciliation time is unreadable", () => {
    expect(nextDueAt(credential("immuta-request", { [Tag.reconciledAt]: iso(0) }), [], OPTIONS)).toBe(
      NOW.getTime(),
    );
    expect(
      nextDueAt(credential("immuta-request", { ...mirrored, [Tag.reconciledAt]: "soon" }), [], OPTIONS),
    ).toBe(NOW.getTime());
  });

  test("with a rotation in progress: now when first seen, then when it would be stuck", () => {
    const pending = { v2: ["AWSPENDING"] };
    const fresh = { ...mirrored, [Tag.reconciledAt]: iso(0) };
    expect(nextDueAt(credential("immuta-request", fresh, pending), [], OPTIONS)).toBe(NOW.getTime());
    const seen = { ...fresh, [Tag.pendingSeen]: `v2@${iso(-HOUR)}` };
    expect(nextDueAt(credential("immuta-request", seen, pending), [], OPTIONS)).toBe(
      NOW.getTime() + 5 * HOUR,
    );
  });

  test("is due now when a rotation's tags have not landed (the current version is not the one it recorded)", () => {
    const rotated = { ...mirrored, [Tag.reconciledAt]: iso(0), [Tag.rotatedVersion]: "v0" };
    expect(nextDueAt(credential("immuta-request", rotated), [], OPTIONS)).toBe(NOW.getTime());
  });
});

describe("a manual credential's expiry", () => {
  const expiring = { [Tag.keyId]: "pat-1", [Tag.expiresAt]: iso(40 * DAY) };

  test("is due at the first threshold not yet noticed", () => {
    expect(nextDueAt(credential("incorta-v2", expiring), [], OPTIONS)).toBe(NOW.getTime() + 10 * DAY);
    const noticed = { ...expiring, [Tag.expiryNotice]: "pat-1@30d" };
    expect(nextDueAt(credential("incorta-v2", noticed), [], OPTIONS)).toBe(NOW.getTime() + 33 * DAY);
  });

  test("a notice for another key counts for nothing; once expired and noticed, nothing more is due", () => {
    const otherKey = { ...expiring, [Tag.expiryNotice]: "pat-0@1d" };
    expect(nextDueAt(credential("incorta-v2", otherKey), [], OPTIONS)).toBe(NOW.getTime() + 10 * DAY);
    const expired = { [Tag.keyId]: "pat-1", [Tag.expiresAt]: iso(-DAY), [Tag.expiryNotice]: "pat-1@expired" };
    expect(nextDueAt(credential("incorta-v2", expired), [], OPTIONS)).toBe(Number.POSITIVE_INFINITY);
  });

  test("an old key not confirmed revoked is chased a day after the last reminder", () => {
    const old = {
      [Tag.keyId]: "pat-1",
      [Tag.expiresAt]: "none",
      [Tag.manualReminder]: `old-key-not-revoked@${iso(-HOUR)}`,
    };
    const pat0 = previousKey("pat-0", "active", iso(-2 * DAY));
    expect(nextDueAt(credential("incorta-v2", old), [pat0], OPTIONS)).toBe(NOW.getTime() + 23 * HOUR);
    expect(nextDueAt(credential("incorta-v2", old), [{ ...pat0, state: "refused" }], OPTIONS)).toBe(
      Number.POSITIVE_INFINITY,
    );
  });
});
