// Issue 13 case 5 (Immuta) and issue 18: a handed-over Immuta token must belong to the tenant
// the config pins. GET /api/auth/user answers UserWithPermissionsAndEntitlements, whose
// tenantInfo.id names the token's tenant: with `tenantId` in the credential's settings, a working
// token of another tenant (same region) is refused at handover and nothing is stored or recorded.
import { beforeEach, expect, test } from "vitest";
import { Tag } from "#engine/settings.ts";
import type { ImmutaFixture } from "../support/immuta-fixture.ts";
import { neighbourWorlds } from "./neighbour.ts";

const worlds = neighbourWorlds();
let fx: ImmutaFixture;
let tenantId: string;

beforeEach(async () => {
  fx = await worlds.immuta();
  // The fixture's user, in "na": its tenant is the one the config pins.
  const own = fx.sim.seedToken("na", fx.userId, { description: "probe" });
  tenantId = fx.sim.tokens().find((token) => token.tokenId === own.tokenId)?.tenantId ?? "";
});

/** A credential whose config pins the fixture user's tenant. */
async function pinnedToTenant(name: string) {
  const seeded = fx.sim.seedToken("na", fx.userId, { description: `created by hand for ${name}` });
  await fx.createSecret(
    name,
    { provider: "immuta-request", region: "na", tenantId, token: seeded.token, keyId: seeded.tokenId },
    { [Tag.provider]: "immuta-request", [Tag.credential]: name },
  );
  return { secretId: name, ...seeded };
}

test("a working token of another tenant is refused at handover, and nothing is stored", async () => {
  const { secretId, tokenId: currentId } = await pinnedToTenant("immuta/tenant-pinned");
  const stranger = fx.sim.createUser("na", { name: "another company" });
  const foreign = fx.sim.seedToken("na", stranger.userId, { description: "their own token" });

  const error = await fx.put(secretId, { token: foreign.token, keyId: foreign.tokenId }).then(
    () => undefined,
    (failure: unknown) => failure as Error,
  );

  expect(error?.name).toBe("KeyRefusedError");
  expect(error?.message).toMatch(/belongs to another tenant than the configured one/);
  expect(error?.message).not.toContain(foreign.token);
  expect((await fx.current(secretId)).keyId).toBe(currentId);
  expect(fx.sim.isLive(foreign.token)).toBe(true);
});

test("a token of the pinned tenant is accepted, and the credential rotates with the tenant check passing", async () => {
  const { secretId } = await pinnedToTenant("immuta/tenant-pinned");
  const fresh = fx.sim.seedToken("na", fx.userId, { description: "the next one, by hand" });

  const accepted = await fx.put(secretId, { token: fresh.token, keyId: fresh.tokenId });
  const rotation = await fx.rotate(secretId);

  expect(accepted.keyId).toBe(fresh.tokenId);
  expect(rotation.succeeded).toBe(true);
  expect((await fx.current(secretId)).tenantId).toBe(tenantId);
});

test("without a pinned tenant, the check is the region alone (as before)", async () => {
  const { secretId } = await fx.createCredential({ name: "immuta/any-tenant" });
  const stranger = fx.sim.createUser("na", { name: "another company" });
  const foreign = fx.sim.seedToken("na", stranger.userId, { description: "their own token" });

  const accepted = await fx.put(secretId, { token: foreign.token, keyId: foreign.tokenId });

  expect(accepted.keyId).toBe(foreign.tokenId);
});
