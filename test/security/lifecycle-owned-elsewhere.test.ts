// Issue 14, lifecycle edges: a pinned credential's secret that something else owns: a replica
// (only its primary region's secret may be rotated or written), a secret another AWS service
// manages (OwningService), or one another rotation function rotates. keyturn never rotates it
// early nor removes its AWSPENDING label; the sweep reports it (a failure and a critical "Credential
// Owned Elsewhere") and `keyturn status` shows it.
//
// moto derives OwningService from the tag aws:secretsmanager:owningService (AWS refuses `aws:` tags
// from callers; moto does not), and reports a replica (PrimaryRegion) in the replica's region. It
// does not keep RotationLambdaARN without a Lambda to call, so the rotation-function case is a unit
// test of the decision (test/unit/engine/lifecycle.test.ts).

import {
  CreateSecretCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
  TagResourceCommand,
} from "@aws-sdk/client-secrets-manager";
import type { BuildMiddleware } from "@smithy/types";
import { describe, expect, test } from "vitest";
import { Tag } from "#engine/settings.ts";
import { pinnedFromTags } from "#sandbox/pin-from-tags.ts";
import { credentialStatus } from "../../cli/status.ts";
import { DAY, HOUR, type World } from "../support/world.ts";
import { neighbourWorlds } from "./neighbour.ts";

const worlds = neighbourWorlds();

describe("a secret another AWS service manages", () => {
  test("is neither rotated early nor relabelled, and is reported every sweep", async () => {
    const fx = await worlds.immuta({ stuckAfterMs: HOUR });
    // Expiring in 5 days with no scheduled rotation: keyturn would rotate it early.
    const mine = await fx.createCredential({ name: "immuta/na-mine", tokenExpiresInMs: 5 * DAY });
    await fx.aws.secretsManager.send(
      new TagResourceCommand({
        SecretId: mine.secretId,
        Tags: [{ Key: "aws:secretsmanager:owningService", Value: "rds" }],
      }),
    );
    // A pending version the owner's rotation left: keyturn would remove the label once stuck.
    const pendingVersion = "11111111-2222-3333-4444-555555555555";
    await fx.aws.secretsManager.send(
      new PutSecretValueCommand({
        SecretId: mine.secretId,
        ClientRequestToken: pendingVersion,
        SecretString: JSON.stringify(await fx.read(mine.secretId)),
        VersionStages: ["AWSPENDING"],
      }),
    );

    const first = await fx.sweep();
    fx.clock.advance(2 * HOUR);
    const second = await fx.sweep();

    expect(first.rotatedEarly).toEqual([]);
    expect(second.rotatedEarly).toEqual([]);
    expect((await fx.read(mine.secretId)).keyId).toBe(mine.keyId);
    expect(second.stuck).toEqual([]);
    expect((await fx.stages(mine.secretId))[pendingVersion]).toEqual(["AWSPENDING"]);
    expect(first.ownedElsewhere).toEqual([{ credential: mine.secretId, reasons: ["owning-service"] }]);
    expect(second.failures).toEqual([
      { credential: mine.secretId, error: expect.stringMatching(/owned elsewhere \(owning-service\)/) },
    ]);
    const events = await worlds.published(fx, fx.sim.issuedValues);
    expect(events.map((e) => [e["detail-type"], e.detail.severity, e.detail.reasons])).toEqual([
      ["Credential Owned Elsewhere", "critical", ["owning-service"]],
      ["Credential Owned Elsewhere", "critical", ["owning-service"]],
    ]);
    // keyturn status shows it, from the listing alone.
    const description = await fx.store.describe(mine.secretId);
    expect(credentialStatus(description, new Date(fx.clock.now()), fx.pinned)).toMatchObject({
      state: "owned-elsewhere",
      problem: expect.stringMatching(/owned elsewhere \(owning-service\)/),
    });
  });
});

/** The test's moto account in another region (moto keys accounts by a header, regions by the signature). */
function otherRegion(world: World, region: string): SecretsManagerClient {
  const client = new SecretsManagerClient({
    endpoint: world.aws.endpoint,
    region,
    credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
  });
  const header =
    <I extends object, O extends object>(): BuildMiddleware<I, O> =>
    (next) =>
    async (args) => {
      const request = args.request as { headers?: Record<string, string> };
      if (request.headers) request.headers["x-moto-account-id"] = world.aws.accountId;
      return next(args);
    };
  client.middlewareStack.add(header(), { step: "build", name: "motoAccountIsolation" });
  return client;
}

describe("a replica of a secret whose primary is in another region", () => {
  test("is neither rotated early nor revoked for, and is reported", async () => {
    const fx = await worlds.immuta({ reconcileIntervalMs: 0, orphanSafetyMarginMs: 0 });
    const name = "immuta/na-replicated";
    const seeded = fx.sim.seedToken("na", fx.userId, {
      description: `created by hand for ${name}`,
      expirationDate: new Date(fx.clock.now() + 5 * DAY),
    });
    const value = {
      provider: "immuta-request",
      region: "na",
      token: seeded.token,
      keyId: seeded.tokenId,
      expiresAt: new Date(fx.clock.now() + 5 * DAY).toISOString(),
    };
    const tags = { [Tag.provider]: "immuta-request", [Tag.credential]: name };
    // The primary lives in us-west-2 and replicates into the deployment's region.
    await otherRegion(fx, "us-west-2").send(
      new CreateSecretCommand({
        Name: name,
        SecretString: JSON.stringify(value),
        Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
        AddReplicaRegions: [{ Region: "us-east-1" }],
      }),
    );
    const pinned = pinnedFromTags(name, value, tags);
    if (pinned) fx.pinned.pin(pinned);

    const report = await fx.sweep();

    expect(report.rotatedEarly).toEqual([]);
    expect(report.revoked).toEqual([]);
    expect(fx.sim.isLive(seeded.token)).toBe(true);
    expect(report.ownedElsewhere).toEqual([{ credential: name, reasons: ["replica"] }]);
    const events = await worlds.published(fx, fx.sim.issuedValues);
    expect(events.map((e) => [e["detail-type"], e.detail.reasons])).toEqual([
      ["Credential Owned Elsewhere", ["replica"]],
    ]);
  });
});
