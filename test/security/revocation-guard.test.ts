// The revocation guard (functions/engine/revocation-guard.ts), acting as the neighbour who may
// tag or write one credential's secret, even one the deployment pins: whatever its tags or value
// name, keyturn never revokes a key that another managed credential uses, nor an issuer's key.
// A refusal is a critical "Revocation Refused", and the sweep does not try again.

import { PutSecretValueCommand } from "@aws-sdk/client-secrets-manager";
import { describe, expect, test } from "vitest";
import { Tag } from "#engine/settings.ts";
import { eventProblems } from "../support/event-schemas.ts";
import { findLeaks } from "../support/leak-guard.ts";
import type { World } from "../support/world.ts";
import { EAGER_SWEEPS, neighbourWorlds, tag } from "./neighbour.ts";

const worlds = neighbourWorlds();
const immuta = () => worlds.immuta(EAGER_SWEEPS);
const softwareone = () => worlds.softwareone(EAGER_SWEEPS);

/** The bookkeeping tags that make a previous key due for deletion now. */
const dueForDeletion = (keyId: string) => ({
  [Tag.previousKeyId]: keyId,
  [Tag.previousState]: "disabled",
  [Tag.revokeAfter]: "2020-01-01T00:00:00.000Z",
  [Tag.deleteAfter]: "2020-01-01T00:00:00.000Z",
});

async function refusals(world: World, secrets: readonly string[]) {
  const events = await world.subscriber.drain();
  expect(events.flatMap(eventProblems)).toEqual([]);
  expect(findLeaks([JSON.stringify(events), worlds.printed()], secrets)).toEqual([]);
  return {
    refused: events.filter((e) => e["detail-type"] === "Revocation Refused").map((e) => e.detail),
    revoked: events.filter((e) => e["detail-type"] === "Credential Revoked").map((e) => e.detail),
  };
}

describe("case 1: a pinned credential's tags naming another credential's key as its previous key", () => {
  test("the tags are only a mirror: the sweep revokes nothing and records nothing from them", async () => {
    const fx = await immuta();
    const mine = await fx.createCredential({ name: "immuta/na-mine" });
    const victim = await fx.createCredential({ name: "immuta/na-victim" });
    await tag(fx, mine.secretId, dueForDeletion(victim.keyId));

    const first = await fx.sweep();
    const second = await fx.sweep();

    expect(fx.sim.isLive(victim.token)).toBe(true);
    expect([...first.revoked, ...second.revoked]).toEqual([]);
    // keyturn's records hold no previous key for it: the victim's key is not among its keys.
    const record = await fx.records.get(mine.secretId);
    expect(record?.previous).toEqual([]);
    expect(record?.keys.has(victim.keyId)).toBe(false);
  });

  test("nor an issuer's own key, which would cut every credential it mints for", async () => {
    const fx = await softwareone();
    const admin = await fx.createAdmin();
    const consumer = await fx.createConsumer("softwareone/catalog");
    await tag(fx, consumer.secretId, dueForDeletion(admin.keyId));

    await fx.sweep();

    expect(fx.status(admin.keyId)).toBe("Active");
    const { revoked } = await refusals(fx, fx.sim.issuedValues);
    expect(revoked).toEqual([]);
  });

  test("a key in two credentials' records (handed over to both) is refused once, critical, and not tried again", async () => {
    const fx = await immuta();
    const mine = await fx.createCredential({ name: "immuta/na-mine" });
    const victim = await fx.createCredential({ name: "immuta/na-victim" });
    // An operator hands the victim's key to mine too (the same user's token: Immuta accepts it).
    await fx.put(mine.secretId, { token: victim.token, keyId: victim.keyId });
    // mine's next rotation makes it mine's previous key, revoked when the grace period ends.
    expect((await fx.rotate(mine.secretId)).succeeded).toBe(true);
    fx.clock.advance(25 * 3_600_000);
    await fx.subscriber.drain();

    const first = await fx.sweep();
    const second = await fx.sweep();

    expect(fx.sim.isLive(victim.token)).toBe(true);
    expect([...first.revoked, ...second.revoked].map((r) => r.keyId)).not.toContain(victim.keyId);
    const { refused } = await refusals(fx, fx.sim.issuedValues);
    expect(refused).toEqual([
      expect.objectContaining({
        credential: mine.secretId,
        severity: "critical",
        keyId: victim.keyId,
        referencedBy: [victim.secretId],
        during: "sweep",
      }),
    ]);
    const record = await fx.records.get(mine.secretId);
    expect(record?.previous.find((entry) => entry.keyId === victim.keyId)?.state).toBe("refused");
    expect((await fx.tags(mine.secretId))[Tag.previousState]).toBe("refused");
  });

  test("the credential's own previous key is still revoked when its grace period ends", async () => {
    const fx = await immuta();
    const own = await fx.createCredential({ name: "immuta/na-own" });
    expect((await fx.rotate(own.secretId)).succeeded).toBe(true);
    fx.clock.advance(25 * 3_600_000);

    const report = await fx.sweep();

    expect(report.revoked.map((r) => r.keyId)).toEqual([own.keyId]);
    expect(fx.sim.isLive(own.token)).toBe(false);
    expect((await refusals(fx, fx.sim.issuedValues)).refused).toEqual([]);
  });
});

describe("an emergency revoke of a key that is not the credential's", () => {
  test("--previous naming another credential's key by the tags alone is nothing to do", async () => {
    const fx = await immuta();
    const mine = await fx.createCredential({ name: "immuta/na-mine" });
    const victim = await fx.createCredential({ name: "immuta/na-victim" });
    await tag(fx, mine.secretId, { [Tag.previousKeyId]: victim.keyId });

    const outcome = await fx.revoke({ credential: mine.secretId, keyId: victim.keyId, reason: "test" });

    expect(outcome).toMatchObject({ target: "neither", revocation: "nothing-to-revoke", rotated: false });
    expect(fx.sim.isLive(victim.token)).toBe(true);
    const { revoked } = await refusals(fx, fx.sim.issuedValues);
    expect(revoked).toEqual([]);
  });

  test("--previous naming a key another credential uses is refused before anything is done", async () => {
    const fx = await immuta();
    const mine = await fx.createCredential({ name: "immuta/na-mine" });
    const victim = await fx.createCredential({ name: "immuta/na-victim" });
    await fx.put(mine.secretId, { token: victim.token, keyId: victim.keyId });
    expect((await fx.rotate(mine.secretId)).succeeded).toBe(true);
    await fx.subscriber.drain();

    const attempt = fx.revoke({ credential: mine.secretId, keyId: victim.keyId, reason: "test" });

    await expect(attempt).rejects.toMatchObject({
      name: "RevocationRefusedError",
      credential: mine.secretId,
    });
    expect(fx.sim.isLive(victim.token)).toBe(true);
    const { refused } = await refusals(fx, fx.sim.issuedValues);
    expect(refused).toEqual([expect.objectContaining({ keyId: victim.keyId, during: "emergency-revoke" })]);
  });

  test("the current key, when a written value names another credential's key id, is refused and nothing rotates", async () => {
    const fx = await immuta();
    const mine = await fx.createCredential({ name: "immuta/na-mine" });
    const victim = await fx.createCredential({ name: "immuta/na-victim" });
    const value = await fx.read(mine.secretId);
    await fx.aws.secretsManager.send(
      new PutSecretValueCommand({
        SecretId: mine.secretId,
        SecretString: JSON.stringify({ ...value, keyId: victim.keyId }),
      }),
    );
    const tokensBefore = fx.sim.liveTokens("na").length;

    const attempt = fx.revoke({ credential: mine.secretId, keyId: victim.keyId, reason: "test" });

    // The key id is not one keyturn stored for this credential (keyturn's records): the value is
    // someone else's write, and nothing is rotated or revoked.
    await expect(attempt).rejects.toMatchObject({ name: "CredentialTamperedError" });
    expect(fx.sim.isLive(victim.token)).toBe(true);
    expect(fx.sim.liveTokens("na")).toHaveLength(tokensBefore);
    const events = await fx.subscriber.drain();
    expect(events.filter((e) => e["detail-type"] === "Credential Tampered").map((e) => e.detail)).toEqual([
      expect.objectContaining({
        credential: mine.secretId,
        valueFields: ["keyId"],
        during: "emergency-revoke",
      }),
    ]);
  });
});
