// Security review of pinned identity (issue 13): a value that looks like "awaiting its first key".
// Found by a hostile review and FIXED since: readCurrent now checks a keyless value against the pinned settings, and refuses one where keyturn had stored a key. What follows is the
// attack as found; the test below holds the fix.
//
// readCurrent (functions/engine/credentials.ts) asks isAwaitingFirstKey before parsePinned: a
// JSON object without keyId, token or apiKey is "the stack created it with its settings only",
// and no pinned check runs on it, whatever its settings say. The neighbour who wants a replaced
// key to live on (one they kept) writes such a value after a rotation: the sweep then cannot
// read the authority of a self-issued credential (AwaitingFirstKeyError), skips the revocation
// of the previous key, and says nothing but a line in its report; no critical event.

import { PutSecretValueCommand, UpdateSecretVersionStageCommand } from "@aws-sdk/client-secrets-manager";
import { describe, expect, test } from "vitest";
import type { ImmutaFixture } from "../support/immuta-fixture.ts";
import { HOUR } from "../support/world.ts";
import { neighbourWorlds } from "./neighbour.ts";

const worlds = neighbourWorlds();
const immuta = () => worlds.immuta();

/**
 * The neighbour's PutSecretValue, as Secrets Manager answers it: the new version becomes
 * AWSCURRENT and the one it replaces AWSPREVIOUS. (After a rotation moto leaves AWSCURRENT on the
 * rotation's version too, because it tracks its "current" version apart from labels moved by
 * UpdateSecretVersionStage; the second call takes the label off there, as Secrets Manager would.)
 */
async function writeValue(fx: ImmutaFixture, secretId: string, value: object) {
  const before = Object.entries(await fx.stages(secretId))
    .filter(([, stages]) => stages.includes("AWSCURRENT"))
    .map(([versionId]) => versionId);
  const put = await fx.aws.secretsManager.send(
    new PutSecretValueCommand({ SecretId: secretId, SecretString: JSON.stringify(value) }),
  );
  for (const stale of before) {
    if ((await fx.stages(secretId))[stale]?.includes("AWSCURRENT") && stale !== put.VersionId) {
      await fx.aws.secretsManager.send(
        new UpdateSecretVersionStageCommand({
          SecretId: secretId,
          VersionStage: "AWSCURRENT",
          RemoveFromVersionId: stale,
        }),
      );
    }
  }
}

describe("a settings-only value written over a credential that has keys", () => {
  test("with a region the config does not pin: the sweep reports it as tampering (critical)", async () => {
    const fx = await immuta();
    const own = await fx.createCredential({ name: "immuta/na-integration" });
    const rotation = await fx.rotate(own.secretId, { maxAttempts: 1 });
    expect(rotation.succeeded).toBe(true);
    await fx.subscriber.drain();

    // The neighbour: a value as the stack creates it, with another region.
    await writeValue(fx, own.secretId, { provider: "immuta-request", region: "eu" });
    expect(await fx.read(own.secretId)).toEqual({ provider: "immuta-request", region: "eu" });
    fx.clock.advance(25 * HOUR);
    const report = await fx.sweep();

    // The region differs from the pinned one: tampering, whatever else the value lacks.
    expect(report.tampered).toEqual([own.secretId]);
    const events = await fx.subscriber.drain();
    expect(events.filter((e) => e["detail-type"] === "Credential Tampered").map((e) => e.detail)).toEqual([
      expect.objectContaining({
        credential: own.secretId,
        severity: "critical",
        valueFields: expect.arrayContaining(["region"]),
      }),
    ]);
  });
});
