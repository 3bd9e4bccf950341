// Case 6 of issue 13, the bookkeeping half: a credential's previous keys, their revocation state
// and times are keyturn's own records (functions/engine/previous-keys.ts), not its secret's tags.
// The neighbour who may tag the secret writes the keyturn:previous-* tags to hasten, block or
// hijack a revocation; the records decide, and the tags are only a mirror.
import { UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import { expect, test } from "vitest";
import { Tag } from "#engine/settings.ts";
import { RECORDS_TABLE } from "#sandbox/local-keyturn.ts";
import { DAY, HOUR } from "../support/world.ts";
import { EAGER_SWEEPS, neighbourWorlds, tag } from "./neighbour.ts";

const worlds = neighbourWorlds();

test("tags saying the previous key is already revoked (or refused) do not keep it alive past its grace period", async () => {
  for (const state of ["revoked", "refused"]) {
    const fx = await worlds.immuta(EAGER_SWEEPS);
    const { secretId, keyId: first, token } = await fx.createCredential();
    expect((await fx.rotate(secretId)).succeeded).toBe(true);
    await tag(fx, secretId, { [Tag.previousState]: state, [Tag.revokeAfter]: "2099-01-01T00:00:00.000Z" });
    fx.clock.advance(DAY + HOUR);

    const report = await fx.sweep();

    expect(report.revoked.map((revocation) => revocation.keyId)).toEqual([first]);
    expect(fx.sim.isLive(token)).toBe(false);
  }
});

test("tags saying the grace period is over do not revoke the previous key early", async () => {
  const fx = await worlds.immuta(EAGER_SWEEPS);
  const { secretId, token } = await fx.createCredential();
  expect((await fx.rotate(secretId)).succeeded).toBe(true);
  await tag(fx, secretId, {
    [Tag.revokeAfter]: "2020-01-01T00:00:00.000Z",
    [Tag.previousState]: "disabled",
    [Tag.deleteAfter]: "2020-01-01T00:00:00.000Z",
  });
  fx.clock.advance(HOUR);

  const report = await fx.sweep();

  expect(report.revoked).toEqual([]);
  expect(fx.sim.isLive(token)).toBe(true);
  const record = await fx.records.get(secretId);
  expect(record?.previous).toEqual([expect.objectContaining({ state: "active", postponements: 0 })]);
});

test("every previous key is tracked: a second rotation in the grace period records the first revoked (superseded), the second active", async () => {
  const fx = await worlds.immuta(EAGER_SWEEPS);
  const { secretId, keyId: first } = await fx.createCredential();
  expect((await fx.rotate(secretId)).succeeded).toBe(true);
  const second = (await fx.read(secretId)).keyId;
  fx.clock.advance(2 * HOUR);
  expect((await fx.rotate(secretId)).succeeded).toBe(true);
  const record = await fx.records.get(secretId);

  expect(record?.previous.map((entry) => [entry.keyId, entry.state])).toEqual([
    [first, "revoked"],
    [second, "active"],
  ]);
  fx.clock.advance(DAY);
  const report = await fx.sweep();
  expect(report.revoked.map((revocation) => revocation.keyId)).toEqual([second]);
});

test("after an upgrade, a record without previous keys adopts the tags' previous key once, never earlier than a fresh grace period", async () => {
  const fx = await worlds.immuta(EAGER_SWEEPS);
  const { secretId, keyId: first, token } = await fx.createCredential();
  expect((await fx.rotate(secretId)).succeeded).toBe(true);
  // What an earlier keyturn left: the record holds the keys, the tags the bookkeeping.
  await fx.aws.dynamodb.send(
    new UpdateItemCommand({
      TableName: RECORDS_TABLE,
      Key: { credential: { S: secretId } },
      UpdateExpression: "REMOVE #ledger, #p",
      ExpressionAttributeNames: { "#ledger": "ledger", "#p": `prev:${first}` },
    }),
  );
  // The tags say the grace period ended long ago.
  await tag(fx, secretId, { [Tag.revokeAfter]: "2020-01-01T00:00:00.000Z" });

  const adopted = await fx.sweep();
  const record = await fx.records.get(secretId);
  fx.clock.advance(DAY + HOUR);
  const later = await fx.sweep();

  expect(adopted.revoked).toEqual([]);
  expect(record?.ledger).toBe(true);
  expect(record?.previous).toEqual([
    expect.objectContaining({
      keyId: first,
      state: "active",
      revokeAfter: new Date(fx.clock.now() - HOUR).toISOString(),
    }),
  ]);
  expect(later.revoked.map((revocation) => revocation.keyId)).toEqual([first]);
  expect(fx.sim.isLive(token)).toBe(false);
});
