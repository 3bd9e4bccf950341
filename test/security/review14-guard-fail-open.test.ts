// Review 14: the revocation guard fails open. A pinned credential whose tags name no current key
// yet (an adopted secret, or one handed over and not rotated since) is protected by its AWSCURRENT
// value's key id, read when a revocation needs it (functions/engine/revocation-guard.ts,
// KeyReferences.#resolve); a read that fails for any reason (throttling, a KMS key policy that
// does not name the monitor, a network error) is swallowed, and the key is then protected by
// nothing. The lifecycle edges made that reachable without any tag or value written: a credential
// moved to a new secret (the config's entry renamed, the same key handed over to the new secret)
// leaves the old name's record behind, and once its grace period ends the departure revokes the
// key the new, pinned, credential still uses.
//
// Fixed in the guard: a pinned credential whose value cannot be read makes every other
// credential's revocation wait (ReferencesUnavailableError), reported as a failed action
// ("Credential Action Failed"). The assertions on that announcement were added with the fix.

import { GetSecretValueCommand } from "@aws-sdk/client-secrets-manager";
import { describe, expect, test } from "vitest";
import { Tag } from "#engine/settings.ts";
import { ADMIN } from "../support/softwareone-fixture.ts";
import { DAY, type World } from "../support/world.ts";
import { EAGER_SWEEPS, neighbourWorlds, redeployWithout } from "./neighbour.ts";

const worlds = neighbourWorlds();

/** From now on, GetSecretValue of `secretName` fails as a throttled (or KMS-denied) read would. */
function failReadsOf(world: World, secretName: string): void {
  world.aws.secretsManager.middlewareStack.add(
    (next, context) => async (args) => {
      const secretId = (args.input as { SecretId?: string }).SecretId ?? "";
      if (context.commandName === GetSecretValueCommand.name && secretId.includes(secretName)) {
        throw Object.assign(new Error("Rate exceeded"), { name: "ThrottlingException" });
      }
      return next(args);
    },
    { step: "initialize", name: "review14FailReads" },
  );
}

describe("a credential moved to a new secret with the same key", () => {
  test("keeps its key when the old name's departure comes due while the new secret cannot be read", async () => {
    const fx = await worlds.softwareone(EAGER_SWEEPS);
    const admin = await fx.createAdmin();
    const old = await fx.createConsumer("softwareone/catalog");
    await fx.sweep(); // the records keep the old entry
    // The operator moves the credential: a new secret under a new name, the same token handed over.
    const value = await fx.read(old.secretId);
    await fx.createSecret("softwareone/catalog-v2", value, {
      [Tag.provider]: "softwareone",
      [Tag.credential]: "softwareone/catalog-v2",
      [Tag.issuer]: ADMIN,
    });
    // The new secret cannot be read by the monitor: an adopted secret under a KMS key whose policy
    // does not name the monitor's role (the config's kmsKey; docs/deploy.md, "Adopting an existing
    // secret": its key policy is the adopter's), or GetSecretValue throttled during the sweeps that matter.
    failReadsOf(fx, "softwareone/catalog-v2");
    const redeployed = await redeployWithout(fx, old.secretId);
    await redeployed.sweep(); // "Credential Departing" for the old name
    fx.clock.advance(DAY + 1);
    const due = await redeployed.sweep();

    expect(fx.status(admin.keyId)).toBe("Active");
    // Failed before the fix: the guard could not read catalog-v2's value, counted it as using nothing, and
    // the old name's departure revoked the key catalog-v2 holds.
    expect(due.revoked).toEqual([]);
    expect(fx.status(old.keyId)).toBe("Active");
    // Added with the fix: the refusal is a failure that is announced, not a silent pass.
    expect(due.failures).toContainEqual({
      credential: old.secretId,
      error: expect.stringMatching(/"softwareone\/catalog-v2"/),
      action: "retirement",
    });
    const events = await fx.subscriber.drain();
    const failed = events.filter(
      (e) => e["detail-type"] === "Credential Action Failed" && e.detail.credential === old.secretId,
    );
    expect(failed.map((e) => [e.detail.action, (e.detail.error as { name: string }).name])).toContainEqual([
      "retirement",
      "ReferencesUnavailableError",
    ]);
  });
});
