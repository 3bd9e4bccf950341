// Case 7 of issue 13: a value written by hand (PutSecretValue to AWSCURRENT) between a rotation's
// createSecret and finishSecret. keyturn used to move AWSCURRENT to its successor anyway, so the
// hand-written key was replaced without a word and stayed live at the vendor, tracked by nothing.
// Now finishSecret moves AWSCURRENT only while it is still the version the successor replaces.
import { PutSecretValueCommand } from "@aws-sdk/client-secrets-manager";
import { beforeEach, expect, test } from "vitest";
import { Tag } from "#engine/settings.ts";
import { eventProblems } from "../support/event-schemas.ts";
import { DAY, type ImmutaFixture } from "../support/immuta-fixture.ts";
import { findLeaks } from "../support/leak-guard.ts";
import { neighbourWorlds } from "./neighbour.ts";

const worlds = neighbourWorlds();
let fx: ImmutaFixture;

beforeEach(async () => {
  fx = await worlds.immuta();
});

test("AWSCURRENT moved by hand mid-rotation stays; the minted key is revoked, the replaced one tracked, and a critical event says so", async () => {
  const { secretId, keyId: original, token: originalToken } = await fx.createCredential();
  const token = "7e57ab1e-0000-4000-8000-000000000007";
  await fx.invoke({ Step: "createSecret", SecretId: secretId, ClientRequestToken: token });
  await fx.invoke({ Step: "testSecret", SecretId: secretId, ClientRequestToken: token });
  const minted = await fx.read(secretId, token);
  // Someone writes a key of their own as AWSCURRENT (a person fixing things by hand).
  const byHand = fx.sim.seedToken("na", fx.userId, {
    description: "made by hand",
    expirationDate: new Date(fx.clock.now() + 90 * DAY),
  });
  const current = await fx.read(secretId);
  await fx.aws.secretsManager.send(
    new PutSecretValueCommand({
      SecretId: secretId,
      SecretString: JSON.stringify({ ...current, token: byHand.token, keyId: byHand.tokenId }),
    }),
  );

  const finish = fx.invoke({ Step: "finishSecret", SecretId: secretId, ClientRequestToken: token });

  await expect(finish).rejects.toMatchObject({ name: "RotationStateError", retryable: false });
  expect((await fx.current(secretId)).keyId).toBe(byHand.tokenId);
  expect(fx.sim.isLive(byHand.token)).toBe(true);
  expect(fx.sim.isLive(minted.token)).toBe(false);
  expect(Object.values(await fx.stages(secretId)).flat()).not.toContain("AWSPENDING");
  // The key the rotation meant to replace is the previous key now, revoked after its grace period.
  expect(fx.sim.isLive(originalToken)).toBe(true);
  expect((await fx.tags(secretId))[Tag.previousKeyId]).toBe(original);
  const events = await fx.subscriber.drain();
  expect(events.flatMap(eventProblems)).toEqual([]);
  expect(findLeaks([JSON.stringify(events), worlds.printed()], fx.sim.issuedValues)).toEqual([]);
  expect(
    events.filter((e) => e["detail-type"] === "Credential Rotation Failed").map((e) => e.detail),
  ).toEqual([expect.objectContaining({ step: "finishSecret", severity: "critical" })]);
  expect(events.filter((e) => e["detail-type"] === "Credential Revoked").map((e) => e.detail.keyId)).toEqual([
    minted.keyId,
  ]);

  // The hand-written key is not keyturn's: the next rotation refuses it until it is handed over.
  const next = await fx.rotate(secretId, { maxAttempts: 1 });
  expect(next.succeeded).toBe(false);
  expect(next.failures[0]?.error).toMatchObject({ name: "CredentialTamperedError" });
});
