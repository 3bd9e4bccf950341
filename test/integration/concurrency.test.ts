// Things that should never run together, run together: two rotations of one secret, a
// retry overlapping the attempt it retries, a sweep during a rotation. Nothing may be lost
// (AWSCURRENT authenticates) and nothing left behind (every minted key is referenced or
// revoked by the next sweep, at most two live keys). (A refresh racing a refresh is in
// refresh.test.ts.)
//
// The parties do not race by luck: test/support/held-calls.ts holds each at a known call until
// the other has reached its own, so every run plays the same interleaving, and each test checks
// that the overlap it names really happened.

import { afterEach, beforeEach, expect, test } from "vitest";
import { Tag } from "#engine/settings.ts";
import { parseMarker, rotationMarker } from "#providers/marker.ts";
import {
  type AwsCallHolder,
  type HeldCall,
  holdAwsCalls,
  holdVendorCalls,
  type VendorCallHolder,
} from "../support/held-calls.ts";
import { HOUR, type ImmutaFixture, immutaFixture } from "../support/immuta-fixture.ts";
import { type CapturedOutput, captureOutput } from "../support/leak-guard.ts";

/** Immuta's mint: POST /api/auth/tokens. */
const MINT = /\/api\/auth\/tokens$/;

let fx: ImmutaFixture;
let vendor: VendorCallHolder;
let aws: AwsCallHolder;
let output: CapturedOutput;

beforeEach(async () => {
  vendor = holdVendorCalls();
  fx = await immutaFixture({
    orphanSafetyMarginMs: HOUR,
    reconcileIntervalMs: 0,
    stuckAfterMs: 6 * HOUR,
    http: { dispatcher: vendor.dispatcher },
  });
  aws = holdAwsCalls(fx.aws.secretsManager);
  output = captureOutput();
});

afterEach(async () => {
  output.restore();
  // A failed test may leave a party held: let it finish, so that the world can close.
  aws.releaseAll();
  vendor.releaseAll();
  await fx.close();
  await vendor.close();
});

/**
 * Waits until every held call has arrived. A party that finishes first never reached its
 * call (it failed earlier, or took another path), so the overlap the test needs did not
 * happen: that fails the test at once rather than at its timeout.
 */
async function arrival<C>(held: HeldCall<C>[], parties: Promise<unknown>[]): Promise<C[]> {
  const finishedFirst = Promise.race(parties).then(() => {
    throw new Error(
      "a party finished before reaching its held call: the overlap this test needs did not happen",
    );
  });
  return Promise.race([Promise.all(held.map((call) => call.reached)), finishedFirst]);
}

/** Both parties meet at their held calls, then go on together. */
async function meet(held: HeldCall<unknown>[], parties: Promise<unknown>[]): Promise<void> {
  await arrival(held, parties);
  for (const call of held) call.release();
}

/** Keys keyturn minted for this credential, live or not. */
function mintedFor(secretId: string) {
  return fx.sim.tokens().filter((token) => parseMarker(token.description)?.credential === secretId);
}

/** Lets the system settle as it would in AWS: the monitor sweeps once a stuck rotation is due, and again after. */
async function settle() {
  fx.clock.advance(7 * HOUR);
  await fx.sweep();
  fx.clock.advance(HOUR);
  await fx.sweep();
}

test("two rotations of one secret, both minting before either stores, leave one working key and nothing behind", async () => {
  const { secretId } = await fx.createCredential();
  const mints = [vendor.holdNext("POST", MINT), vendor.holdNext("POST", MINT)];

  const rotations = [fx.rotate(secretId), fx.rotate(secretId)];
  await meet(mints, rotations);
  const [first, second] = await Promise.all(rotations);
  const markersMinted = new Set(mintedFor(secretId).map((token) => token.description));
  await settle();

  // Both held mints went through, one key for each rotation's token.
  expect(markersMinted.size).toBe(2);
  expect(first?.succeeded || second?.succeeded).toBe(true);
  expect(await fx.invariantViolations([secretId], { rotationFinished: true })).toEqual([]);
  expect((await fx.rotate(secretId)).succeeded).toBe(true);
});

test("a retry that overlaps the attempt it retries (one token, both minting at once) leaves one live key", async () => {
  const { secretId } = await fx.createCredential();
  const token = "12345678-1234-4234-8234-123456789012";
  const marker = rotationMarker(secretId, token);
  const mints = [vendor.holdNext("POST", MINT), vendor.holdNext("POST", MINT)];

  const attempts = [fx.rotate(secretId, { token }), fx.rotate(secretId, { token })];
  await meet(mints, attempts);
  const both = await Promise.all(attempts);
  const mintedUnderMarker = fx.sim.tokens().filter((t) => t.description === marker);
  await settle();

  // Each attempt minted a key of its own under the one marker; one of them had to go.
  expect(mintedUnderMarker).toHaveLength(2);
  expect(both.some((rotation) => rotation.succeeded)).toBe(true);
  expect(await fx.invariantViolations([secretId], { rotationFinished: true })).toEqual([]);
  expect(fx.sim.liveTokens().filter((t) => t.description === marker)).toHaveLength(1);
});

test("a sweep while the new key is minted but not stored, and one while AWSCURRENT has moved but the tags have not, lose and leave nothing", async () => {
  const { secretId } = await fx.createCredential();
  await fx.rotate(secretId);
  fx.clock.advance(25 * HOUR); // the previous key is due for revocation
  const store = aws.holdNext("PutSecretValueCommand");
  const bookkeeping = aws.holdNext("TagResourceCommand", (input) =>
    JSON.stringify(input.Tags).includes(Tag.rotatedVersion),
  );

  const rotation = fx.rotate(secretId);
  const [stored] = await arrival([store], [rotation]);
  const marker = rotationMarker(secretId, String(stored?.input.ClientRequestToken));
  await fx.sweep();
  const liveAfterFirstSweep = fx.sim.liveTokens().filter((t) => t.description === marker);
  store.release();
  const heldInBookkeeping = await Promise.race([
    bookkeeping.reached.then(() => true),
    rotation.then(() => false),
  ]);
  await fx.sweep();
  bookkeeping.release();
  const finished = await rotation;
  await settle();

  // The first sweep found the new key live at the vendor and in no secret version, and left it.
  expect(liveAfterFirstSweep).toHaveLength(1);
  // The second one ran while the rotation was held in its bookkeeping.
  expect(heldInBookkeeping).toBe(true);
  expect(finished.succeeded).toBe(true);
  expect(await fx.invariantViolations([secretId], { rotationFinished: true })).toEqual([]);
});
