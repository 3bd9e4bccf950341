// How `keyturn status` decides a credential's next action and state from its ListSecrets entry
// alone, for the cases moto cannot produce (a rotation schedule) or that take a while to reach.

import { describe, expect, test } from "vitest";
import type { SecretDescription } from "#aws/secret-store.ts";
import { PinnedCredentials } from "#engine/pinned.ts";
import { Tag } from "#engine/settings.ts";
import { pinnedFromTags } from "#sandbox/pin-from-tags.ts";
import { credentialStatus } from "../../../cli/status.ts";

const NOW = new Date("2026-11-22T10:00:00Z");
const DAY = 86_400_000;
const at = (days: number) => new Date(NOW.getTime() + days * DAY);

/** The status of a secret pinned as its tags say (what a deployment of that config pins). */
function statusOf(description: SecretDescription, now: Date) {
  const pinned = pinnedFromTags(description.name, {}, description.tags);
  return credentialStatus(description, now, new PinnedCredentials(pinned ? [pinned] : []));
}

function secret(tags: Record<string, string>, extra: Partial<SecretDescription> = {}): SecretDescription {
  return {
    arn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:keyturn/x-AbCdEf",
    name: "keyturn/x",
    versions: { v1: ["AWSCURRENT"] },
    tags,
    ...extra,
  };
}

describe("an automatic credential", () => {
  test("with a schedule that comes before the expiry: the scheduled rotation is next", () => {
    const status = statusOf(
      secret(
        { [Tag.provider]: "immuta-request", [Tag.expiresAt]: at(60).toISOString() },
        { nextRotationDate: at(10) },
      ),
      NOW,
    );

    expect(status.nextAction).toEqual({
      action: "scheduled rotation",
      at: at(10).toISOString(),
      overdue: false,
    });
    expect(status.state).toBe("ok");
  });

  test("whose key expires before its next rotation: an early rotation at the first threshold", () => {
    const status = statusOf(
      secret(
        { [Tag.provider]: "immuta-request", [Tag.expiresAt]: at(20).toISOString() },
        { nextRotationDate: at(25) },
      ),
      NOW,
    );

    expect(status.nextAction).toEqual({
      action: "early rotation (key expiring)",
      at: at(-10).toISOString(),
      overdue: true,
    });
    expect(status.state).toBe("expiring");
  });

  test("with a disabled previous key: its deletion is next", () => {
    const status = statusOf(
      secret(
        {
          [Tag.provider]: "softwareone",
          [Tag.expiresAt]: "none",
          [Tag.previousKeyId]: "TKN-1111-2222",
          [Tag.previousState]: "disabled",
          [Tag.deleteAfter]: at(6).toISOString(),
        },
        { nextRotationDate: at(29) },
      ),
      NOW,
    );

    expect(status.nextAction.action).toBe("delete disabled previous key TKN-1111-2222");
    expect(status.expiresAt).toBe("never");
  });

  test("with an AWSPENDING version that is not current: rotating, now", () => {
    const status = statusOf(
      secret(
        { [Tag.provider]: "immuta-request" },
        { versions: { v1: ["AWSCURRENT"], "9f1c2d3e-aaaa": ["AWSPENDING"] } },
      ),
      NOW,
    );

    expect(status.state).toBe("rotating");
    expect(status.nextAction).toEqual({
      action: "rotation in progress (version 9f1c2d3e…)",
      at: NOW.toISOString(),
      overdue: true,
    });
  });
});

describe("a credential a person replaces", () => {
  test("past its expiry is expired, whatever else is due", () => {
    const status = statusOf(
      secret({
        [Tag.provider]: "incorta-v2",
        [Tag.expiresAt]: at(-1).toISOString(),
        [Tag.issuedAt]: at(-100).toISOString(),
        [Tag.maxAge]: "90d",
      }),
      NOW,
    );

    expect(status.state).toBe("expired");
    expect(status.ageDays).toBe(100);
    expect(status.nextAction.action).toBe("replace the key by hand (keyturn put)");
  });

  test("after a handover: revoking the old key in the vendor's UI is next, when the grace period ends", () => {
    const status = statusOf(
      secret({
        [Tag.provider]: "everflow",
        [Tag.issuedAt]: NOW.toISOString(),
        [Tag.rotatedAt]: NOW.toISOString(),
        [Tag.previousKeyId]: "reporting sync",
        [Tag.revokeAfter]: at(1).toISOString(),
        [Tag.maxAge]: "90d",
      }),
      NOW,
    );

    expect(status.nextAction).toEqual({
      action: `revoke old key "reporting sync" in Everflow's UI`,
      at: at(1).toISOString(),
      overdue: false,
    });
    expect(status.lastRotation).toBe(NOW.toISOString());
  });
});
