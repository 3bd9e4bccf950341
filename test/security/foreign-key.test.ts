// Case 5 of issue 13: a SoftwareOne token of another account handed over with `keyturn put`. It
// works (SoftwareOne answers 200), and keyturn used to accept it as "verified by SoftwareOne",
// while the stored accountId still named the configured account; a later `revoke --previous`
// then reported it revoked ("the vendor no longer knew it") while it still answered 200. The
// vendor's record of the key must match the pinned scope: another account's token is refused.
import { expect, test } from "vitest";
import { neighbourWorlds } from "./neighbour.ts";

const worlds = neighbourWorlds();

test("a working token of another account is refused, and the credential is left as it was", async () => {
  const fx = await worlds.softwareone();
  await fx.createAdmin();
  const consumer = await fx.createConsumer("softwareone/catalog", { modules: ["MOD-1001"] });
  const { accountId: elsewhere } = fx.sim.createAccount({ name: "Someone Else Ltd" });
  const foreign = fx.sim.seedToken(elsewhere, {
    name: "integration softwareone/catalog",
    modules: ["MOD-1001"],
  });

  const handover = fx.put(consumer.secretId, { token: foreign.token, keyId: foreign.id });

  await expect(handover).rejects.toMatchObject({
    name: "KeyRefusedError",
    message: expect.stringMatching(new RegExp(`belongs to account ${elsewhere}, not to ${fx.accountId}`)),
  });
  expect((await fx.read(consumer.secretId)).keyId).toBe(consumer.keyId);
  expect(Object.values(await fx.stages(consumer.secretId)).flat()).not.toContain("AWSPENDING");
  expect(fx.status(foreign.id)).toBe("Active");
});

test("a token of the configured account is still accepted", async () => {
  const fx = await worlds.softwareone();
  await fx.createAdmin();
  const consumer = await fx.createConsumer("softwareone/catalog", { modules: ["MOD-1001"] });
  const fresh = fx.sim.seedToken(fx.accountId, {
    name: "integration softwareone/catalog",
    modules: ["MOD-1001"],
  });

  const accepted = await fx.put(consumer.secretId, { token: fresh.token, keyId: fresh.id });

  expect(accepted).toMatchObject({ keyId: fresh.id, previousKeyId: consumer.keyId });
});
