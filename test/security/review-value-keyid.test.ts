// Security review of pinned identity (issue 13): the key id in a value the neighbour writes.
//
// valueTampering checks a value's settings fields and provider, but not its keyId: that names
// "the key this secret holds", and keyturn revokes it. The rotation records the current
// value's keyId as the successor's `previous` (and as keyturn:previous-key-id, written by
// keyturn itself), and an emergency revoke hard-deletes the current value's keyId. Both run
// with an authority that can delete keys the neighbour's own credential does not own: here
// two Immuta credentials of one service user (the fixture's), so either token may delete the
// other's. The neighbour writes only their own secret's value (and, for the second case, puts
// a "Revoke Requested" event on the bus), and the other credential's key is deleted.
//
// FIXED since: the revocation guard (functions/engine/revocation-guard.ts) refuses a key that
// another *managed* credential references, and keyturn's own records
// (functions/aws/record-store.ts) hold every key keyturn stored for a credential: a current key
// id that is not in them is tampering, and no key outside them is revoked. The SoftwareOne
// cases name a token of the same account that no secret holds (another integration), which the
// administrator issuer could disable and delete.

import { PutSecretValueCommand } from "@aws-sdk/client-secrets-manager";
import { describe, expect, test } from "vitest";
import { DetailType } from "#engine/events.ts";
import type { ImmutaFixture } from "../support/immuta-fixture.ts";
import { HOUR } from "../support/world.ts";
import { neighbourWorlds } from "./neighbour.ts";

const worlds = neighbourWorlds();
const immuta = () => worlds.immuta();
const softwareone = () => worlds.softwareone();

/** The neighbour's PutSecretValue on their own secret: everything pinned as it is, another credential's key id. */
async function nameAnotherKey(fx: ImmutaFixture, secretId: string, keyId: string) {
  const current = await fx.read(secretId);
  await fx.aws.secretsManager.send(
    new PutSecretValueCommand({ SecretId: secretId, SecretString: JSON.stringify({ ...current, keyId }) }),
  );
}

describe("a value whose keyId is another credential's key", () => {
  test("the scheduled rotation and the sweep after the grace period do not delete the other credential's key", async () => {
    const fx = await immuta();
    const neighbour = await fx.createCredential({ name: "immuta/na-neighbour" });
    const victim = await fx.createCredential({ name: "immuta/na-victim" });
    await nameAnotherKey(fx, neighbour.secretId, victim.keyId);

    await fx.rotate(neighbour.secretId, { maxAttempts: 1 });
    fx.clock.advance(25 * HOUR);
    await fx.sweep();

    expect(fx.sim.isLive(victim.token)).toBe(true);
  });

  test("a Revoke Requested for the neighbour's own credential does not delete the other credential's key", async () => {
    const fx = await immuta();
    const neighbour = await fx.createCredential({ name: "immuta/na-neighbour" });
    const victim = await fx.createCredential({ name: "immuta/na-victim" });
    await nameAnotherKey(fx, neighbour.secretId, victim.keyId);

    // What the neighbour puts on the bus, as the revoke function's rule hands it over.
    await fx
      .revoke({
        "detail-type": DetailType.revokeRequested,
        detail: {
          credential: neighbour.secretId,
          keyId: victim.keyId,
          reason: "leak scanner: token seen in a public gist",
        },
      })
      .catch(() => undefined);

    expect(fx.sim.isLive(victim.token)).toBe(true);
  });
});

describe("a SoftwareOne value whose keyId is a token of the account that keyturn does not manage", () => {
  /** An administrator issuer, the neighbour's consumer credential, and another integration's token. */
  async function world() {
    const fx = await softwareone();
    await fx.createAdmin();
    const neighbour = await fx.createConsumer("softwareone/catalog", { modules: ["MOD-1001"] });
    const other = fx.sim.seedToken(fx.accountId, {
      name: "ERP sync (not keyturn's)",
      modules: ["MOD-1003"],
    });
    // The value keeps everything pinned (accountId, name, modules); keyId and the token's id
    // segment name the other integration's token. The token's secret part is never checked.
    const current = await fx.read(neighbour.secretId);
    await fx.aws.secretsManager.send(
      new PutSecretValueCommand({
        SecretId: neighbour.secretId,
        SecretString: JSON.stringify({ ...current, keyId: other.id, token: `idt:${other.id}:anything` }),
      }),
    );
    return { fx, neighbour, other };
  }

  test("the scheduled rotation and the sweep after the grace period leave the other integration's token active", async () => {
    const { fx, neighbour, other } = await world();

    await fx.rotate(neighbour.secretId, { maxAttempts: 1 });
    fx.clock.advance(25 * HOUR);
    await fx.sweep();

    expect(fx.status(other.id)).toBe("Active");
  });

  test("a Revoke Requested for the neighbour's own credential leaves the other integration's token active", async () => {
    const { fx, neighbour, other } = await world();

    await fx
      .revoke({
        "detail-type": DetailType.revokeRequested,
        detail: {
          credential: neighbour.secretId,
          keyId: other.id,
          reason: "leak scanner: token seen in a public gist",
        },
      })
      .catch(() => undefined);

    expect(fx.status(other.id)).toBe("Active");
  });
});
