// The hostile neighbour of issue 13, acting as that person would: someone allowed to tag or write
// one secret (TagResource, PutSecretValue straight at Secrets Manager, here moto), who wants
// keyturn to use its administrator rights for them. keyturn takes who a credential is and what
// its keys may do from the pinned configuration (functions/engine/pinned.ts); a secret whose tags
// or value disagree is not acted on, and "Credential Tampered" (critical) says what differs.

import { describe, expect, test } from "vitest";
import { Tag } from "#engine/settings.ts";
import { SOFTWAREONE_ADMIN_MODULE } from "#sandbox/simulators/softwareone.ts";
import { INCORTA_CREDENTIAL, type RefreshWorld, startRefreshWorld } from "../reliability/refresh-day.ts";
import { isolatedAws } from "../support/aws.ts";
import { eventProblems } from "../support/event-schemas.ts";
import { findLeaks } from "../support/leak-guard.ts";
import type { World } from "../support/world.ts";
import { EAGER_SWEEPS, neighbourWorlds, tag, writeValue } from "./neighbour.ts";

const worlds = neighbourWorlds();
const immuta = () => worlds.immuta(EAGER_SWEEPS);
const softwareone = () => worlds.softwareone(EAGER_SWEEPS);

/** The "Credential Tampered" events received, checked against their schema, with no secret in any event. */
async function tamperedEvents(world: World, secrets: readonly string[]) {
  const events = await world.subscriber.drain();
  expect(events.flatMap(eventProblems)).toEqual([]);
  expect(findLeaks([JSON.stringify(events), worlds.printed()], secrets)).toEqual([]);
  return events
    .filter((event) => event["detail-type"] === "Credential Tampered")
    .map((event) => event.detail);
}

describe("case 1: tags on a secret the deployment does not pin", () => {
  test("naming another credential's live key as a previous key past its deletion time do not get it deleted", async () => {
    const fx = await immuta();
    const victim = await fx.createCredential({ name: "immuta/na-victim" });
    // The neighbour's own secret, dressed as a keyturn credential whose previous key is the victim's.
    await fx.aws.secretsManager.send(
      new (await import("@aws-sdk/client-secrets-manager")).CreateSecretCommand({
        Name: "immuta/na-neighbour",
        SecretString: JSON.stringify({
          provider: "immuta-request",
          region: "na",
          token: "x".repeat(20),
          keyId: "k",
        }),
        Tags: Object.entries({
          [Tag.provider]: "immuta-request",
          [Tag.credential]: "immuta/na-neighbour",
          [Tag.previousKeyId]: victim.keyId,
          [Tag.previousState]: "disabled",
          [Tag.revokeAfter]: "2020-01-01T00:00:00.000Z",
          [Tag.deleteAfter]: "2020-01-01T00:00:00.000Z",
        }).map(([Key, Value]) => ({ Key, Value })),
      }),
    );

    const report = await fx.sweep();

    expect(fx.sim.isLive(victim.token)).toBe(true);
    expect(report.revoked).toEqual([]);
    expect(report.notPinned).toEqual(["immuta/na-neighbour"]);
  });
});

describe("case 2: keyturn:credential on one credential set to another's name", () => {
  test("is tampering: the sweep acts on neither key of it, and the other credential's key stays live", async () => {
    const fx = await immuta();
    const a = await fx.createCredential({ name: "immuta/na-a" });
    const b = await fx.createCredential({ name: "immuta/na-b" });
    await tag(fx, a.secretId, { [Tag.credential]: b.secretId });

    const report = await fx.sweep();

    expect(fx.sim.isLive(a.token)).toBe(true);
    expect(fx.sim.isLive(b.token)).toBe(true);
    expect(report.revoked).toEqual([]);
    expect(report.tampered).toEqual([a.secretId]);
    expect(await tamperedEvents(fx, fx.sim.issuedValues)).toEqual([
      expect.objectContaining({
        credential: a.secretId,
        severity: "critical",
        tags: [Tag.credential],
        valueFields: [],
        during: "sweep",
      }),
    ]);
  });
});

describe("case 3: keyturn:issuer on a self-issued credential set to a more privileged one", () => {
  test("is tampering: the rotation mints nothing with the other credential's token", async () => {
    const fx = await immuta();
    const own = await fx.createCredential({ name: "immuta/na-own" });
    const adminUser = fx.sim.createUser("na", { name: "administrator" }).userId;
    const seeded = fx.sim.seedToken("na", adminUser, {
      description: "administrator",
      expirationDate: new Date(fx.clock.now() + 90 * 86_400_000),
    });
    await fx.createSecret(
      "immuta/na-admin",
      { provider: "immuta-request", region: "na", token: seeded.token, keyId: seeded.tokenId },
      { [Tag.provider]: "immuta-request", [Tag.credential]: "immuta/na-admin" },
    );
    await tag(fx, own.secretId, { [Tag.issuer]: "immuta/na-admin" });

    const rotation = await fx.rotate(own.secretId, { maxAttempts: 1 });

    expect(rotation.succeeded).toBe(false);
    expect(rotation.failures[0]?.error).toMatchObject({ name: "CredentialTamperedError" });
    expect(fx.sim.liveTokens("na").filter((token) => token.userId === adminUser)).toHaveLength(1);
    expect((await fx.current(own.secretId)).keyId).toBe(own.keyId);
    expect(await tamperedEvents(fx, fx.sim.issuedValues)).toEqual([
      expect.objectContaining({ credential: own.secretId, tags: [Tag.issuer], during: "rotation" }),
    ]);
  });
});

describe("case 4: a value written with another scope or host", () => {
  test("modules including the administrator module: the rotation mints no administrator token", async () => {
    const fx = await softwareone();
    await fx.createAdmin();
    const consumer = await fx.createConsumer("softwareone/catalog", { modules: ["MOD-1001"] });
    const current = await fx.read(consumer.secretId);
    await writeValue(fx, consumer.secretId, {
      ...current,
      modules: ["MOD-1001", SOFTWAREONE_ADMIN_MODULE],
    });
    const adminsBefore = fx.sim.liveTokens(fx.accountId).filter((t) => t.admin).length;

    const rotation = await fx.rotate(consumer.secretId, { maxAttempts: 1 });

    expect(rotation.succeeded).toBe(false);
    expect(rotation.failures[0]?.error).toMatchObject({ name: "CredentialTamperedError" });
    expect(fx.sim.liveTokens(fx.accountId).filter((t) => t.admin)).toHaveLength(adminsBefore);
    expect(await tamperedEvents(fx, fx.sim.issuedValues)).toEqual([
      expect.objectContaining({
        credential: consumer.secretId,
        valueFields: ["modules"],
        during: "rotation",
      }),
    ]);
  });

  test("a base URL of the writer's host: no vendor call goes anywhere, the token included", async () => {
    const fx = await softwareone();
    await fx.createAdmin();
    const consumer = await fx.createConsumer("softwareone/catalog");
    const current = await fx.read(consumer.secretId);
    await writeValue(fx, consumer.secretId, { ...current, baseUrl: "https://attacker.example/public/v1" });
    const callsBefore = fx.hub.calls.length;

    const rotation = await fx.rotate(consumer.secretId, { maxAttempts: 1 });

    expect(rotation.succeeded).toBe(false);
    expect(fx.hub.calls.slice(callsBefore)).toEqual([]);
    expect(await tamperedEvents(fx, fx.sim.issuedValues)).toEqual([
      expect.objectContaining({ credential: consumer.secretId, valueFields: ["baseUrl"] }),
    ]);
  });

  test("a handover cannot set a setting either: `keyturn put` with a base URL is refused", async () => {
    const fx = await softwareone();
    await fx.createAdmin();
    const consumer = await fx.createConsumer("softwareone/catalog");
    const fresh = fx.sim.seedToken(fx.accountId, {
      name: "integration softwareone/catalog",
      modules: ["MOD-1001", "MOD-1002"],
    });

    const refused = fx.put(consumer.secretId, {
      token: fresh.token,
      keyId: fresh.id,
      baseUrl: "https://attacker.example/public/v1",
    });

    await expect(refused).rejects.toMatchObject({
      name: "KeyRefusedError",
      message: expect.stringMatching(/baseUrl/),
    });
    expect((await fx.read(consumer.secretId)).keyId).toBe(consumer.keyId);
  });
});

describe("case 8: an Incorta v1 credential's tags and value", () => {
  async function refreshWorld(): Promise<RefreshWorld> {
    const refresh = await startRefreshWorld(isolatedAws());
    return worlds.adopt(refresh);
  }

  test("keyturn:credential set to another name: the refresh writes no token pair anywhere", async () => {
    const { world, sim } = await refreshWorld();
    await tag(world, INCORTA_CREDENTIAL, { [Tag.credential]: "keyturn/payments" });

    await world.refresh();

    expect(await world.storedTokens("keyturn/payments")).toBeUndefined();
    expect(await world.storedTokens(INCORTA_CREDENTIAL)).toBeUndefined();
    expect(sim.requests).toEqual([]);
    const report = await world.sweep();
    expect(report.tampered).toEqual([INCORTA_CREDENTIAL]);
  });

  test("a clusterUrl of the writer's choosing never reaches an alert: the refresh and the sweep report tampering instead", async () => {
    const { world, sim } = await refreshWorld();
    const current = await world.read(INCORTA_CREDENTIAL);
    await writeValue(world, INCORTA_CREDENTIAL, {
      ...current,
      clusterUrl: "https://attacker.example/incorta",
    });

    const report = await world.refresh();
    await world.sweep();

    expect(report.outcomes.map((o) => o.outcome)).toEqual(["failed"]);
    const events = await world.subscriber.drain();
    expect(JSON.stringify(events)).not.toContain("attacker.example");
    const tampered = events.filter((e) => e["detail-type"] === "Credential Tampered").map((e) => e.detail);
    expect(tampered.map((detail) => detail.during).sort()).toEqual(["refresh", "sweep"]);
    for (const detail of tampered) {
      expect(detail).toMatchObject({
        credential: INCORTA_CREDENTIAL,
        severity: "critical",
        valueFields: ["clusterUrl"],
      });
    }
    expect(sim.requests).toEqual([]);
  });
});

describe("hiding a credential from the sweep", () => {
  test("removing keyturn:provider does not take a pinned credential out of keyturn's sight", async () => {
    const fx = await immuta();
    const a = await fx.createCredential({ name: "immuta/na-hidden" });
    await fx.aws.secretsManager.send(
      new (await import("@aws-sdk/client-secrets-manager")).UntagResourceCommand({
        SecretId: a.secretId,
        TagKeys: [Tag.provider],
      }),
    );

    const report = await fx.sweep();

    expect(report.tampered).toEqual([a.secretId]);
    expect(await tamperedEvents(fx, fx.sim.issuedValues)).toEqual([
      expect.objectContaining({ credential: a.secretId, tags: [Tag.provider], during: "sweep" }),
    ]);
  });
});
