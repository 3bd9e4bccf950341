// Security review of pinned identity (issue 13): the handover's "superseded" revocation.
// Found by a hostile review and FIXED since: the handover's superseded revocation goes through the revocation guard. What follows is the
// attack as found; the test below holds the fix.
//
// When `keyturn put` replaces the key of an automatic credential (how a leaked key is replaced
// by hand), retireSuperseded in functions/engine/manual.ts hard-revokes the key that
// keyturn:previous-key-id names, at once, with the credential's authority. The revocation guard
// (functions/engine/revocation-guard.ts, in progress) now stands before the sweep, the
// rotation's superseded key and the emergency revoke, but not before this one: a neighbour
// who tags their own secret gets another credential's key deleted by the operator's next
// handover on it.

import { TagResourceCommand } from "@aws-sdk/client-secrets-manager";
import { describe, expect, test } from "vitest";
import { Tag } from "#engine/settings.ts";
import { neighbourWorlds } from "./neighbour.ts";

const worlds = neighbourWorlds();
const immuta = () => worlds.immuta();

describe("keyturn:previous-key-id on the neighbour's own credential naming another credential's key", () => {
  test("the operator's next handover on it does not delete the other credential's key", async () => {
    const fx = await immuta();
    const neighbour = await fx.createCredential({ name: "immuta/na-neighbour" });
    const victim = await fx.createCredential({ name: "immuta/na-victim" });
    await fx.aws.secretsManager.send(
      new TagResourceCommand({
        SecretId: neighbour.secretId,
        Tags: [
          { Key: Tag.previousKeyId, Value: victim.keyId },
          { Key: Tag.previousState, Value: "active" },
        ],
      }),
    );

    // The operator replaces the neighbour credential's key by hand (`keyturn put`).
    const fresh = fx.sim.seedToken("na", fx.userId, {
      description: "created by hand for immuta/na-neighbour",
      expirationDate: new Date(fx.clock.now() + 30 * 86_400_000),
    });
    await fx.put(neighbour.secretId, { token: fresh.token, keyId: fresh.tokenId }).catch(() => undefined);

    expect(fx.sim.isLive(victim.token)).toBe(true);
  });
});
