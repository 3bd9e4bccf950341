// Case 6 of issue 13: a sweep decides from the page it listed. If a rotation finishes between
// that listing and the sweep's bookkeeping, the sweep's "previous key revoked" must not land on
// the rotation's new previous key: that key would then be taken for an orphan and revoked a day
// before its grace period ended. The sweep is held at its vendor call while the rotation runs.
import { afterEach, beforeEach, expect, test } from "vitest";
import { Tag } from "#engine/settings.ts";
import { holdVendorCalls, type VendorCallHolder } from "../support/held-calls.ts";
import { DAY, HOUR, type ImmutaFixture, immutaFixture } from "../support/immuta-fixture.ts";
import { type CapturedOutput, captureOutput } from "../support/leak-guard.ts";

let fx: ImmutaFixture;
let vendor: VendorCallHolder;
let output: CapturedOutput;

beforeEach(async () => {
  vendor = holdVendorCalls();
  fx = await immutaFixture({
    orphanSafetyMarginMs: HOUR,
    reconcileIntervalMs: 0,
    http: { dispatcher: vendor.dispatcher },
  });
  output = captureOutput();
});

afterEach(async () => {
  output.restore();
  vendor.releaseAll();
  await fx.close();
  await vendor.close();
});

test("a sweep that listed before a rotation finished leaves the new previous key's state, and that key lives out its grace period", async () => {
  const { secretId, keyId: first } = await fx.createCredential();
  expect((await fx.rotate(secretId)).succeeded).toBe(true);
  fx.clock.advance(DAY + HOUR); // the first key's grace period is over
  // The sweep lists, then is held as it revokes the first key.
  const held = vendor.holdNext("DELETE", new RegExp(`/api/auth/tokens/${first}$`));
  const sweep = fx.sweep();
  await held.reached;

  // Meanwhile a rotation finishes: the second key becomes the previous one (the first is
  // revoked as superseded on the way).
  expect((await fx.rotate(secretId)).succeeded).toBe(true);
  const second = (await fx.tags(secretId))[Tag.previousKeyId];
  held.release();
  await sweep;

  const tags = await fx.tags(secretId);
  expect(second).not.toBe(first);
  expect(tags[Tag.previousKeyId]).toBe(second);
  expect(tags[Tag.previousState]).toBe("active");
  // keyturn's records (the authority): each key has its own entry, and the sweep's write, made
  // from the state it read, landed on the first key only.
  const record = await fx.records.get(secretId);
  expect(record?.previous.map((entry) => [entry.keyId, entry.state])).toEqual([
    [first, "revoked"],
    [second, "active"],
  ]);
  // Two hours on (past the orphan margin, within the grace period), the next sweep reconciles.
  fx.clock.advance(2 * HOUR);
  await fx.sweep();
  const secondToken = fx.sim.tokens().find((token) => token.tokenId === second);
  expect(secondToken?.deleted).toBe(false);
});
