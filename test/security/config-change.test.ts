// Case 10 of issue 13, as an operator meets it: a credential's settings change in the config. The
// deploy leaves the secret's value alone (its template value is a constant), so the live key is
// kept; the functions read the new settings at once. A value keyturn wrote under the earlier
// config (its records keep the settings it wrote under) is still its own: it is acted on with the
// new settings, and the next rotation writes them. A value whose settings keyturn never wrote is
// someone else's: nothing is done ("Credential Tampered") until a handover of the same key.
import { PutSecretValueCommand } from "@aws-sdk/client-secrets-manager";
import { describe, expect, test } from "vitest";
import { markerIn } from "#providers/marker.ts";
import { INCORTA_CLUSTER, INCORTA_CREDENTIAL, startRefreshWorld } from "../reliability/refresh-day.ts";
import { isolatedAws } from "../support/aws.ts";
import { neighbourWorlds } from "./neighbour.ts";

const worlds = neighbourWorlds();

describe("a SoftwareOne credential whose token name changes in the config", () => {
  test("after a rotation keyturn wrote: the next rotation mints with the new name, no handover, no alert", async () => {
    const fx = await worlds.softwareone();
    await fx.createAdmin();
    const consumer = await fx.createConsumer("softwareone/catalog", { modules: ["MOD-1001"] });
    expect((await fx.rotate(consumer.secretId)).succeeded).toBe(true);
    const before = await fx.read(consumer.secretId);
    await fx.subscriber.drain();
    const pinned = fx.pinned.bySecretName(consumer.secretId);
    if (!pinned) throw new Error("the fixture pins the consumer");
    fx.pinned.pin({ ...pinned, settings: { ...pinned.settings, name: "catalog sync v2" } });

    const sweep = await fx.sweep();
    const rotation = await fx.rotate(consumer.secretId, { maxAttempts: 1 });

    expect(sweep.tampered).toEqual([]);
    expect(rotation.succeeded).toBe(true);
    const successor = await fx.read(consumer.secretId);
    expect(successor).toMatchObject({ name: "catalog sync v2", previous: { keyId: before.keyId } });
    expect(fx.sim.tokens().find((t) => t.id === successor.keyId)).toMatchObject({ name: "catalog sync v2" });
    // The key the config change found current lives out its grace period.
    expect(fx.status(before.keyId)).toBe("Active");
    const events = await worlds.published(fx, fx.sim.issuedValues);
    expect(events.filter((e) => e["detail-type"] === "Credential Tampered")).toEqual([]);
  });

  test("a value with settings keyturn never wrote (not the old config's, not the new one's) is still tampering", async () => {
    const fx = await worlds.softwareone();
    await fx.createAdmin();
    const consumer = await fx.createConsumer("softwareone/catalog", { modules: ["MOD-1001"] });
    expect((await fx.rotate(consumer.secretId)).succeeded).toBe(true);
    const value = await fx.read(consumer.secretId);
    // The neighbour's value, made AWSCURRENT (a version of its own, then the label moved: moto's
    // PutSecretValue leaves AWSCURRENT on a version that also holds AWSPENDING, which AWS does not).
    const current = Object.entries((await fx.store.describe(consumer.secretId)).versions).find(([, stages]) =>
      stages.includes("AWSCURRENT"),
    )?.[0];
    const written = await fx.aws.secretsManager.send(
      new PutSecretValueCommand({
        SecretId: consumer.secretId,
        SecretString: JSON.stringify({ ...value, name: "the neighbour's name" }),
        VersionStages: ["NEIGHBOUR"],
      }),
    );
    await fx.store.moveStage(consumer.secretId, "AWSCURRENT", String(written.VersionId), current);

    const rotation = await fx.rotate(consumer.secretId, { maxAttempts: 1 });

    expect(rotation.failures[0]?.error).toMatchObject({ name: "CredentialTamperedError" });
  });

  test("a value keyturn has no record of writing is refused until its key is handed over again, then rotates to the new name", async () => {
    const fx = await worlds.softwareone();
    await fx.createAdmin();
    const consumer = await fx.createConsumer("softwareone/catalog", { modules: ["MOD-1001"] });
    const { token } = await fx.read(consumer.secretId);
    // The deploy of the new config: what the functions now pin.
    const pinned = fx.pinned.bySecretName(consumer.secretId);
    if (!pinned) throw new Error("the fixture pins the consumer");
    fx.pinned.pin({ ...pinned, settings: { ...pinned.settings, name: "catalog sync v2" } });

    const refused = await fx.rotate(consumer.secretId, { maxAttempts: 1 });
    const accepted = await fx.put(consumer.secretId, { token, keyId: consumer.keyId });
    const rotation = await fx.rotate(consumer.secretId, { maxAttempts: 1 });

    expect(refused.failures[0]?.error).toMatchObject({ name: "CredentialTamperedError" });
    expect(accepted).toMatchObject({ keyId: consumer.keyId, previousKeyId: undefined });
    expect(rotation.succeeded).toBe(true);
    const successor = await fx.read(consumer.secretId);
    expect(successor).toMatchObject({ name: "catalog sync v2" });
    expect(fx.sim.tokens().find((t) => t.id === successor.keyId)).toMatchObject({ name: "catalog sync v2" });
    expect(markerIn(fx.sim.tokens().find((t) => t.id === successor.keyId)?.description)).toBeDefined();
    expect(fx.status(consumer.keyId)).toBe("Active");
  });
});

describe("an Incorta v1 credential whose cluster URL is written another way in the config", () => {
  test("the token refresh goes on with the key keyturn recorded: a config change is not tampering", async () => {
    const { world, sim } = worlds.adopt(await startRefreshWorld(isolatedAws()));
    await world.refresh();
    // A key handed over with keyturn put: its value is keyturn's write, under the settings of then.
    await world.put(INCORTA_CREDENTIAL, { apiKey: sim.renewApiKey(INCORTA_CLUSTER, "analytics", "etl.bot") });
    const pinned = world.pinned.bySecretName(INCORTA_CREDENTIAL);
    if (!pinned) throw new Error("the refresh world pins its credential");
    // The deploy of the new config: the same cluster, its URL with a trailing slash.
    world.pinned.pin({
      ...pinned,
      settings: { ...pinned.settings, clusterUrl: `https://${INCORTA_CLUSTER}/incorta/` },
    });
    world.clock.advance(6 * 60_000);

    const refresh = await world.refresh();

    expect(refresh.failures).toEqual([]);
    expect(refresh.outcomes.map((outcome) => outcome.outcome)).toEqual(["minted"]);
    const events = await worlds.published(world, sim.issuedValues);
    expect(events.filter((e) => e["detail-type"] === "Credential Tampered")).toEqual([]);
  });
});
