// Issue 14, lifecycle edges: a pinned credential whose secret is scheduled for deletion
// (DeleteSecret). Before, the secret dropped out of ListSecrets and its keys stayed live at the
// vendor for good. Now the next sweep revokes the keys keyturn stored for it (automatic, with its
// issuer's key) or names them once, critical, to a person (manual), and later sweeps do nothing
// more. The hostile neighbour who may delete or write one secret gets nothing else revoked: not
// another credential's key, not the issuer's, and nothing at all for a secret keyturn has no
// record of.

import { CreateSecretCommand, DeleteSecretCommand } from "@aws-sdk/client-secrets-manager";
import { describe, expect, test } from "vitest";
import { Tag } from "#engine/settings.ts";
import { ADMIN } from "../support/softwareone-fixture.ts";
import type { World } from "../support/world.ts";
import { EAGER_SWEEPS, neighbourWorlds, storeEverflowKey, tag, writeValue } from "./neighbour.ts";

const worlds = neighbourWorlds();

/** DeleteSecret with the shortest recovery window: the secret is scheduled for deletion, still described. */
async function deleteSecret(world: World, secretId: string): Promise<void> {
  await world.aws.secretsManager.send(
    new DeleteSecretCommand({ SecretId: secretId, RecoveryWindowInDays: 7 }),
  );
}

describe("an automatic credential whose secret is scheduled for deletion", () => {
  test("the next sweep revokes its live keys at the vendor with its issuer's key; a second sweep does nothing more", async () => {
    const fx = await worlds.softwareone(EAGER_SWEEPS);
    const admin = await fx.createAdmin();
    const catalog = await fx.createConsumer("softwareone/catalog");
    const billing = await fx.createConsumer("softwareone/billing");
    // A rotation: the first token is now the previous key, still in its grace period.
    await fx.rotate(catalog.secretId);
    const minted = (await fx.read(catalog.secretId)).keyId;
    await fx.sweep();
    await fx.subscriber.drain();

    await deleteSecret(fx, catalog.secretId);
    const first = await fx.sweep();
    const second = await fx.sweep();

    expect(fx.status(catalog.keyId)).toBe("Deleted");
    expect(fx.status(minted)).toBe("Deleted");
    expect(fx.status(admin.keyId)).toBe("Active");
    expect(fx.status(billing.keyId)).toBe("Active");
    expect(first.deleted).toEqual([catalog.secretId]);
    expect(first.revoked.map((r) => [r.keyId, r.reason]).sort()).toEqual(
      [
        [catalog.keyId, "secret-deleted"],
        [minted, "secret-deleted"],
      ].sort(),
    );
    expect(first.retired).toEqual([
      { credential: catalog.secretId, because: "secret-deleted", retirement: "revoked" },
    ]);
    expect(first.failures).toEqual([]);
    expect(second.revoked).toEqual([]);
    expect(second.retired).toEqual([]);
    const events = await worlds.published(fx, fx.sim.issuedValues);
    expect(events.map((e) => [e["detail-type"], e.detail.credential, e.detail.keyId]).sort()).toEqual(
      [
        ["Credential Revoked", catalog.secretId, catalog.keyId],
        ["Credential Revoked", catalog.secretId, minted],
      ].sort(),
    );
  });

  test("a secret deleted without a recovery window, gone at once: its keys are revoked all the same", async () => {
    const fx = await worlds.softwareone(EAGER_SWEEPS);
    const admin = await fx.createAdmin();
    const catalog = await fx.createConsumer("softwareone/catalog");
    await fx.sweep();
    await fx.subscriber.drain();

    await fx.aws.secretsManager.send(
      new DeleteSecretCommand({ SecretId: catalog.secretId, ForceDeleteWithoutRecovery: true }),
    );
    const first = await fx.sweep();
    const second = await fx.sweep();

    expect(fx.status(catalog.keyId)).toBe("Deleted");
    expect(fx.status(admin.keyId)).toBe("Active");
    expect(first.revoked.map((r) => [r.keyId, r.reason])).toEqual([[catalog.keyId, "secret-deleted"]]);
    expect(second.revoked).toEqual([]);
    // The config still names a secret that does not exist: that stays a failure until it is removed.
    expect(second.failures).toEqual([
      {
        credential: catalog.secretId,
        error: expect.stringMatching(/ResourceNotFoundException/),
        action: "lookup",
      },
    ]);
    await worlds.published(fx, fx.sim.issuedValues);
  });

  test("a neighbour who names another credential's key in the secret before deleting it gets only its own keys revoked", async () => {
    const fx = await worlds.softwareone(EAGER_SWEEPS);
    const admin = await fx.createAdmin();
    const mine = await fx.createConsumer("softwareone/mine");
    const victim = await fx.createConsumer("softwareone/victim");
    await fx.sweep();
    await fx.subscriber.drain();
    // The neighbour points the secret's value and tags at the victim's key and the issuer's, then deletes it.
    const current = await fx.read(mine.secretId);
    await writeValue(fx, mine.secretId, { ...current, keyId: victim.keyId });
    await tag(fx, mine.secretId, {
      [Tag.keyId]: victim.keyId,
      [Tag.previousKeyId]: admin.keyId,
      [Tag.previousState]: "active",
      [Tag.revokeAfter]: "2020-01-01T00:00:00.000Z",
    });
    await deleteSecret(fx, mine.secretId);

    const report = await fx.sweep();

    expect(fx.status(victim.keyId)).toBe("Active");
    expect(fx.status(admin.keyId)).toBe("Active");
    expect(fx.status(mine.keyId)).toBe("Deleted");
    expect(report.revoked.map((r) => r.keyId)).toEqual([mine.keyId]);
    await worlds.published(fx, fx.sim.issuedValues);
  });

  test("a deleted issuer, which cannot read its own value any more, has its keys named once for a person", async () => {
    const fx = await worlds.softwareone(EAGER_SWEEPS);
    const admin = await fx.createAdmin();
    const consumer = await fx.createConsumer("softwareone/catalog");
    await fx.sweep();
    await fx.subscriber.drain();

    await deleteSecret(fx, ADMIN);
    const first = await fx.sweep();
    const second = await fx.sweep();

    expect(fx.status(admin.keyId)).toBe("Active");
    expect(fx.status(consumer.keyId)).toBe("Active");
    expect(first.retired).toEqual([
      { credential: ADMIN, because: "secret-deleted", retirement: "announced" },
    ]);
    expect(second.retired).toEqual([]);
    const events = await worlds.published(fx, fx.sim.issuedValues);
    const left = events.filter((e) => e["detail-type"] === "Keys Left Behind");
    expect(left.map((e) => e.detail)).toEqual([
      expect.objectContaining({
        credential: ADMIN,
        severity: "critical",
        reason: "secret-deleted",
        why: "no-authority",
        keys: [{ keyId: admin.keyId, revoke: [] }],
      }),
    ]);
  });

  test("a secret tagged as keyturn's that keyturn has no record of, deleted, makes keyturn revoke nothing", async () => {
    const fx = await worlds.softwareone(EAGER_SWEEPS);
    await fx.createAdmin();
    const victim = await fx.createConsumer("softwareone/victim");
    await fx.sweep();
    await fx.subscriber.drain();
    // The neighbour's own secret, tagged as a keyturn credential issued by the administrator, naming the victim's key.
    await fx.aws.secretsManager.send(
      new CreateSecretCommand({
        Name: "softwareone/stray",
        SecretString: JSON.stringify({
          provider: "softwareone",
          token: "idt:not-a-token",
          keyId: victim.keyId,
          accountId: fx.accountId,
        }),
        Tags: [
          { Key: Tag.provider, Value: "softwareone" },
          { Key: Tag.credential, Value: "softwareone/stray" },
          { Key: Tag.issuer, Value: ADMIN },
          { Key: Tag.keyId, Value: victim.keyId },
        ],
      }),
    );
    await deleteSecret(fx, "softwareone/stray");

    const report = await fx.sweep();

    expect(fx.status(victim.keyId)).toBe("Active");
    expect(report.revoked).toEqual([]);
    expect(report.retired).toEqual([]);
    expect(report.notPinned).toEqual(["softwareone/stray"]);
    expect(await worlds.published(fx, fx.sim.issuedValues)).toEqual([]);
  });
});

describe("a manual credential whose secret is scheduled for deletion", () => {
  test("one critical event names its key with Everflow's revoke steps; a second sweep publishes nothing new", async () => {
    const { world, everflow } = await worlds.everflow();
    const name = "keyturn/everflow-partner";
    const apiKey = await storeEverflowKey(world, everflow, name);
    await world.sweep();
    await world.subscriber.drain();

    await deleteSecret(world, name);
    const first = await world.sweep();
    const second = await world.sweep();

    expect(first.deleted).toEqual([name]);
    expect(first.retired).toEqual([{ credential: name, because: "secret-deleted", retirement: "announced" }]);
    expect(second.retired).toEqual([]);
    expect(everflow.isLive(apiKey)).toBe(true); // only a person can revoke it
    const events = await worlds.published(world, everflow.issuedValues);
    expect(events.map((e) => e["detail-type"])).toEqual(["Keys Left Behind"]);
    expect(events[0]?.detail).toMatchObject({
      credential: name,
      provider: "everflow",
      severity: "critical",
      reason: "secret-deleted",
      why: "manual-provider",
      moreKeys: 0,
    });
    const keys = events[0]?.detail.keys as { keyId: string; revoke: string[] }[];
    expect(keys.map((k) => k.keyId)).toEqual(["reporting sync"]);
    expect(keys[0]?.revoke.join(" ")).toContain('"reporting sync"');
  });
});
