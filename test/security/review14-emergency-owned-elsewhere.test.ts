// Review 14: the lifecycle edges say a secret another AWS service manages, a replica, or a secret
// another rotation function rotates is "owned elsewhere": keyturn neither rotates nor relabels it,
// nor revokes its keys (functions/engine/lifecycle.ts). Only the monitor checks. The emergency
// revoke (the revoke function, `keyturn revoke`) never asks: one "Revoke Requested" from a
// configured requester rotates such a secret with keyturn's function, relabels it, and hard-revokes
// the key its owner put there. In AWS the rotation of a replica or of another function's secret
// fails instead (RotateSecret is refused), and keyturn then revokes the live key anyway, leaving
// the owner without a key. KEYTURN_ROTATE_FUNCTION_ARN is even in the revoke function's
// environment (functions/handlers/environment.ts) but the handler never reads it.
//
// moto derives OwningService from the tag aws:secretsmanager:owningService (as
// test/security/lifecycle-owned-elsewhere.test.ts does).

import { TagResourceCommand } from "@aws-sdk/client-secrets-manager";
import { describe, expect, test } from "vitest";
import { DetailType } from "#engine/events.ts";
import { neighbourWorlds } from "./neighbour.ts";

const worlds = neighbourWorlds();

describe("an emergency revoke from the bus for a credential whose secret another AWS service manages", () => {
  test("neither rotates it nor revokes its owner's key", async () => {
    const fx = await worlds.immuta();
    const mine = await fx.createCredential({ name: "immuta/na-rds-owned" });
    await fx.aws.secretsManager.send(
      new TagResourceCommand({
        SecretId: mine.secretId,
        Tags: [{ Key: "aws:secretsmanager:owningService", Value: "rds" }],
      }),
    );
    const sweep = await fx.sweep();
    expect(sweep.ownedElsewhere).toEqual([{ credential: mine.secretId, reasons: ["owning-service"] }]);

    await fx
      .revoke({
        "detail-type": DetailType.revokeRequested,
        source: "leak-scanner",
        detail: { credential: mine.secretId, keyId: mine.keyId, reason: "found in a paste" },
      })
      .catch(() => undefined); // refusing by throwing would do

    // Fails today: keyturn rotated the RDS-owned secret with its own function and hard-revoked the key.
    expect((await fx.current(mine.secretId)).keyId).toBe(mine.keyId);
    expect(fx.sim.isLive(mine.token)).toBe(true);
  });
});
