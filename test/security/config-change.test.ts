// Case 10 of issue 13, as an operator meets it: a credential's settings change in the config. The
// deploy leaves the secret's value alone (its template value is a constant), so the live key is
// kept; the functions read the new settings at once, find the value still holding the old ones,
// and act on nothing ("Credential Tampered") until a handover of the same key writes them.
import { describe, expect, test } from "vitest";
import { markerIn } from "#providers/marker.ts";
import { neighbourWorlds } from "./neighbour.ts";

const worlds = neighbourWorlds();

describe("a SoftwareOne credential whose token name changes in the config", () => {
  test("is refused until its key is handed over again, then rotates to the new name", async () => {
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
