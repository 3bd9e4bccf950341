// Security review of pinned identity (issue 13): the scope of a SoftwareOne successor.
// Found by a hostile review and FIXED since: successors are minted from the pinned settings (withPinnedSettings), and a token's own record is read as that token, never as the issuer. What follows is the
// attack as found; the test below holds the fix.
//
// The consumer's config pins its name and modules, and valueTampering refuses a value that
// carries other ones. But a value may leave them out ("an absent field is fine"), and then the
// provider's issue() copies the name and modules from the vendor's record of the value's own
// keyId, which the neighbour writes too. Naming the issuer's (administrator's) token id there
// makes keyturn mint, with the administrator's token, a successor with the administrator's
// modules, and store it in the neighbour's secret (AWSPENDING). Only testSecret, after the
// mint, finds that the successor's name and modules differ from the pinned ones: the rotation
// fails (Credential Tampered), but the administrator token stays live and readable in the
// pending version until the stuck-rotation check and the orphan reconciliation (hours).

import { PutSecretValueCommand } from "@aws-sdk/client-secrets-manager";
import { describe, expect, test } from "vitest";
import { EAGER_SWEEPS, neighbourWorlds } from "./neighbour.ts";

const worlds = neighbourWorlds();
const softwareone = () => worlds.softwareone(EAGER_SWEEPS);

describe("a SoftwareOne value that leaves out name and modules", () => {
  test("and names the administrator's token id: the rotation mints no administrator token for the consumer", async () => {
    const fx = await softwareone();
    const admin = await fx.createAdmin();
    const consumer = await fx.createConsumer("softwareone/catalog", { modules: ["MOD-1001"] });
    const adminsBefore = fx.sim.liveTokens(fx.accountId).filter((t) => t.admin).length;

    // The neighbour's PutSecretValue: the pinned accountId, no name, no modules, and a keyId
    // (with a token of matching shape; its secret part is never checked) of the administrator.
    const { name: _name, modules: _modules, ...rest } = await fx.read(consumer.secretId);
    await fx.aws.secretsManager.send(
      new PutSecretValueCommand({
        SecretId: consumer.secretId,
        SecretString: JSON.stringify({
          ...rest,
          keyId: admin.keyId,
          token: `idt:${admin.keyId}:not-the-administrators-secret`,
        }),
      }),
    );

    await fx.rotate(consumer.secretId, { maxAttempts: 1 });

    // keyturn minted before it checked what it minted (testSecret finds name and modules differ
    // from the pinned ones): no token with the administrator's module may exist for the
    // consumer, not even in an AWSPENDING version the neighbour can read.
    const versions = Object.keys(await fx.stages(consumer.secretId));
    const held = await Promise.all(versions.map((versionId) => fx.read(consumer.secretId, versionId)));
    const adminTokensHeld = held.filter((value) =>
      fx.sim.liveTokens(fx.accountId).some((t) => t.admin && t.id === value.keyId && t.id !== admin.keyId),
    );
    expect(adminTokensHeld.map((value) => value.keyId)).toEqual([]);
    expect(fx.sim.liveTokens(fx.accountId).filter((t) => t.admin)).toHaveLength(adminsBefore);
  });
});
