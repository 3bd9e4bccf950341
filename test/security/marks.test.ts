// The sweep's marks (functions/engine/marks.ts): the last expiry notice, the rotation first seen
// pending, the last reconciliation. The neighbour who may tag a pinned credential's secret writes
// the keyturn:* tags of those names to hold a notice back, hide a stuck rotation or keep orphans
// from being looked for; for a credential keyturn holds a record for, the records decide.
import { expect, test } from "vitest";
import { Tag } from "#engine/settings.ts";
import { DAY, HOUR } from "../support/world.ts";
import { EAGER_SWEEPS, neighbourWorlds, tag } from "./neighbour.ts";

const worlds = neighbourWorlds();

test("a tag saying the expiry was already announced does not hold the notices back", async () => {
  const fx = await worlds.immuta(EAGER_SWEEPS);
  const { secretId, keyId } = await fx.createCredential({ tokenExpiresInMs: 40 * DAY });
  expect((await fx.rotate(secretId)).succeeded).toBe(true); // keyturn holds a record for it now
  const current = (await fx.read(secretId)).keyId;
  // Immuta refuses new tokens from now on: the early rotation fails, the key stays.
  fx.sim.faults.add({
    method: "POST",
    path: "/marketplace/api/auth/tokens",
    times: Number.POSITIVE_INFINITY,
    fault: { kind: "status", status: 503 },
  });
  await fx.sweep();
  await fx.subscriber.drain();
  await tag(fx, secretId, { [Tag.expiryNotice]: `${current}@expired` });
  const expiresAt = Date.parse((await fx.tags(secretId))[Tag.expiresAt] ?? "");
  expect(Number.isNaN(expiresAt)).toBe(false);

  fx.clock.advance(expiresAt - fx.clock.now() + HOUR);
  await fx.sweep();

  const events = await worlds.published(fx, fx.sim.issuedValues);
  expect(events.filter((e) => e["detail-type"] === "Credential Expired").map((e) => e.detail.keyId)).toEqual([
    current,
  ]);
  expect(keyId).not.toBe(current);
});

test("a tag saying the vendor's keys were just reconciled does not keep an orphan alive", async () => {
  const fx = await worlds.immuta({ reconcileIntervalMs: 6 * HOUR, orphanSafetyMarginMs: HOUR });
  const { secretId } = await fx.createCredential();
  expect((await fx.rotate(secretId)).succeeded).toBe(true);
  await fx.sweep(); // reconciled now (the record's mark)
  // An orphan: a token carrying keyturn's marker for this credential that no version references
  // (what a rotation whose Lambda died between minting and storing leaves behind).
  const marker = `keyturn:${secretId}:7d0c1f7e-5a1b-4c2d-9e3f-000000000001`;
  fx.sim.seedToken("na", fx.userId, { description: marker });
  const orphan = fx.sim.tokens().find((token) => token.description === marker);
  fx.clock.advance(7 * HOUR);
  await tag(fx, secretId, { [Tag.reconciledAt]: "2099-01-01T00:00:00.000Z" });

  const report = await fx.sweep();

  expect(report.revoked.map((revocation) => revocation.keyId)).toContain(orphan?.tokenId);
  expect(fx.sim.tokens().find((token) => token.description === marker)?.deleted).toBe(true);
});
