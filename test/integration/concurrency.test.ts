// Things that should never run together, run together: two rotations of one secret, a
// retry overlapping the attempt it retries, a sweep during a rotation. Nothing may be lost
// (AWSCURRENT authenticates) and nothing left behind (every minted key is referenced or
// revoked by the next sweep, at most two live keys). (A refresh racing a refresh is in
// refresh.test.ts.)

import { afterEach, beforeEach, expect, test } from "vitest";
import { HOUR, type ImmutaFixture, immutaFixture } from "../support/immuta-fixture.ts";
import { type CapturedOutput, captureOutput } from "../support/leak-guard.ts";

let fx: ImmutaFixture;
let output: CapturedOutput;

beforeEach(async () => {
  fx = await immutaFixture({ orphanSafetyMarginMs: HOUR, reconcileIntervalMs: 0, stuckAfterMs: 6 * HOUR });
  output = captureOutput();
  // A little latency at the vendor, so that the two runs really interleave.
  fx.sim.faults.add({
    path: /\/api\/auth\//,
    times: Number.POSITIVE_INFINITY,
    fault: { kind: "delay", ms: 20 },
  });
});

afterEach(async () => {
  output.restore();
  await fx.close();
});

/** Lets the system settle as it would in AWS: the monitor sweeps once a stuck rotation is due, and again after. */
async function settle() {
  fx.clock.advance(7 * HOUR);
  await fx.sweep();
  fx.clock.advance(HOUR);
  await fx.sweep();
}

test("two rotations of one secret started at once leave one working key and nothing behind", async () => {
  const { secretId } = await fx.createCredential();

  const [first, second] = await Promise.all([fx.rotate(secretId), fx.rotate(secretId)]);
  await settle();

  expect(first.succeeded || second.succeeded).toBe(true);
  expect(await fx.invariantViolations([secretId], { rotationFinished: true })).toEqual([]);
  expect((await fx.rotate(secretId)).succeeded).toBe(true);
});

test("a retry that overlaps the attempt it retries (one token, twice at once) mints one key", async () => {
  const { secretId } = await fx.createCredential();
  const token = "12345678-1234-4234-8234-123456789012";

  const both = await Promise.all([fx.rotate(secretId, { token }), fx.rotate(secretId, { token })]);
  await settle();

  expect(both.some((rotation) => rotation.succeeded)).toBe(true);
  expect(await fx.invariantViolations([secretId], { rotationFinished: true })).toEqual([]);
  const live = fx.sim.liveTokens().filter((t) => t.description === `keyturn:${secretId}:${token}`);
  expect(live).toHaveLength(1);
});

test("a sweep running during a rotation neither revokes the key being minted nor loses the old one", async () => {
  const { secretId } = await fx.createCredential();
  await fx.rotate(secretId);
  fx.clock.advance(25 * HOUR); // the previous key is due for revocation

  const [rotation] = await Promise.all([fx.rotate(secretId), fx.sweep(), fx.sweep()]);
  await settle();

  expect(rotation.succeeded).toBe(true);
  expect(await fx.invariantViolations([secretId], { rotationFinished: true })).toEqual([]);
});
