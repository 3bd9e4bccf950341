// Case 9 of issue 13: "Revoke Requested" is delivered at least once (EventBridge retries a
// target, Lambda retries an asynchronous invocation), and anyone allowed to put events can send
// one again. A request names the key it is about, so a second delivery finds that key revoked and
// changes nothing: it does not rotate again, and never takes the fresh successor for the leak.
import { beforeEach, expect, test } from "vitest";
import { DetailType } from "#engine/events.ts";
import type { ImmutaFixture } from "../support/immuta-fixture.ts";
import { neighbourWorlds } from "./neighbour.ts";

const worlds = neighbourWorlds();
let fx: ImmutaFixture;

beforeEach(async () => {
  fx = await worlds.immuta();
});

const requestFor = (credential: string, keyId: string) => ({
  "detail-type": DetailType.revokeRequested,
  source: "leak-scanner",
  detail: { credential, keyId, reason: "token found in a public repository" },
});

test("a request delivered twice rotates once, and the successor stays live", async () => {
  const { secretId, keyId: leaked } = await fx.createCredential();

  const first = await fx.revoke(requestFor(secretId, leaked));
  const successor = await fx.current(secretId);
  const second = await fx.revoke(requestFor(secretId, leaked));

  expect(first).toMatchObject({ keyId: leaked, target: "current", rotated: true, revocation: "revoked" });
  expect(second).toEqual({
    credential: secretId,
    keyId: leaked,
    target: "neither",
    rotated: false,
    revocation: "nothing-to-revoke",
  });
  expect((await fx.current(secretId)).keyId).toBe(successor.keyId);
  expect(fx.sim.isLive(successor.token)).toBe(true);
  const events = await fx.subscriber.drain();
  expect(events.filter((e) => e["detail-type"] === "Credential Rotated")).toHaveLength(1);
  expect(events.filter((e) => e["detail-type"] === "Credential Revoked").map((e) => e.detail.keyId)).toEqual([
    leaked,
  ]);
});

test("a request for the previous key, still in its grace period, revokes it without rotating", async () => {
  const { secretId, keyId: previous } = await fx.createCredential();
  expect((await fx.rotate(secretId)).succeeded).toBe(true);
  const current = await fx.current(secretId);

  const outcome = await fx.revoke(requestFor(secretId, previous));

  expect(outcome).toMatchObject({
    keyId: previous,
    target: "previous",
    rotated: false,
    revocation: "revoked",
  });
  expect((await fx.current(secretId)).keyId).toBe(current.keyId);
  expect(fx.sim.isLive(current.token)).toBe(true);
});

test("a request for a key the credential never had changes nothing", async () => {
  const { secretId, token } = await fx.createCredential();

  const outcome = await fx.revoke(requestFor(secretId, "not-a-key-of-it"));

  expect(outcome).toMatchObject({ target: "neither", revocation: "nothing-to-revoke", rotated: false });
  expect(fx.sim.isLive(token)).toBe(true);
});
