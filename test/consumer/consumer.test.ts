// Issue 19, the consumer library (consumer/): an application reading a keyturn credential through
// `createConsumer` against moto, calling the Immuta simulator over real HTTP with the key it got,
// across keyturn's real rotations and emergency revokes.
import { afterEach, beforeEach, expect, test } from "vitest";
import { TokenStore } from "#aws/token-store.ts";
import { CredentialRefusedError, type CredentialValue, createConsumer } from "../../consumer/index.ts";
import { createTokenConsumer } from "../../consumer/tokens.ts";
import { DAY, HOUR, type ImmutaFixture, immutaFixture } from "../support/immuta-fixture.ts";
import { type CapturedOutput, captureOutput, findLeaks } from "../support/leak-guard.ts";

let fx: ImmutaFixture;
let output: CapturedOutput;

beforeEach(async () => {
  fx = await immutaFixture();
  output = captureOutput();
});

afterEach(async () => {
  output.restore();
  await fx.close();
});

/** How many values the consumer read from Secrets Manager. */
function countReads(): { reads: number } {
  const counter = { reads: 0 };
  fx.aws.secretsManager.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === "GetSecretValueCommand") counter.reads++;
      return next(args);
    },
    { step: "initialize", name: `countReads${Math.random()}` },
  );
  return counter;
}

/** The application's call: Immuta's "who am I" with the key it was given, over real HTTP. */
function callImmuta(statuses: number[]) {
  return async (value: CredentialValue) => {
    const response = await fetch(`${fx.sim.url}/na.api.immutacloud.com/marketplace/api/auth/user`, {
      headers: { authorization: `Bearer ${String(value.token)}` },
    });
    statuses.push(response.status);
    await response.arrayBuffer();
    return response;
  };
}

test("credential() reads the secret once per max age, and again after it", async () => {
  const { secretId, keyId } = await fx.createCredential();
  const reads = countReads();
  const consumer = createConsumer({
    client: fx.aws.secretsManager,
    maxAgeMs: 15_000,
    now: () => fx.clock.now(),
  });

  const first = await consumer.credential(secretId);
  fx.clock.advance(10_000);
  await consumer.credential(secretId);
  const readsWithinMaxAge = reads.reads;
  fx.clock.advance(6_000);
  await consumer.credential(secretId);

  expect(first.keyId).toBe(keyId);
  expect(readsWithinMaxAge).toBe(1);
  expect(reads.reads).toBe(2);
});

test("after an emergency revoke, withCredential fails once, reads again and succeeds with the new key", async () => {
  const { secretId, keyId: leaked } = await fx.createCredential();
  const consumer = createConsumer({
    client: fx.aws.secretsManager,
    maxAgeMs: 60_000,
    now: () => fx.clock.now(),
  });
  const statuses: number[] = [];
  await consumer.withCredential(secretId, callImmuta(statuses));

  await fx.revoke({ credential: secretId, keyId: leaked, reason: "leaked" });
  const response = await consumer.withCredential(secretId, callImmuta(statuses));

  expect(response.status).toBe(200);
  expect(statuses).toEqual([200, 401, 200]);
  expect((await consumer.credential(secretId)).keyId).not.toBe(leaked);
  expect(findLeaks([output.text()], fx.sim.issuedValues)).toEqual([]);
});

test("a fresh key the vendor does not accept yet falls back to AWSPREVIOUS, and never after its revokeAfter", async () => {
  const { secretId, keyId: previous } = await fx.createCredential();
  await fx.rotate(secretId);
  const fresh = await fx.current(secretId);
  // Stands in for a vendor that takes a while to accept a new key (the simulator accepts it at
  // once): the call refuses the fresh key, and is the real HTTP call for any other.
  const propagating = (statuses: number[]) => async (value: CredentialValue) =>
    value.keyId === fresh.keyId ? new Response(null, { status: 401 }) : callImmuta(statuses)(value);
  const consumer = createConsumer({ client: fx.aws.secretsManager, now: () => fx.clock.now() });

  const statuses: number[] = [];
  const within = await consumer.withCredential(secretId, propagating(statuses));
  fx.clock.advance(DAY + HOUR); // past revokeAfter (the grace period is 24 h)
  consumer.clear();
  const after = await consumer.withCredential(secretId, propagating([])).catch((error: unknown) => error);

  expect(within.status).toBe(200);
  expect(statuses).toEqual([200]); // served by the previous key
  expect(fx.sim.isLive((await fx.read(secretId, undefined)).token)).toBe(true);
  expect(after).toBeInstanceOf(CredentialRefusedError);
  expect((after as CredentialRefusedError).keyId).toBe(fresh.keyId);
  expect((after as Error).message).not.toContain(fresh.token);
  expect(previous).not.toBe(fresh.keyId);
});

test("a refusal that is not about the key is the application's own: no re-read, no retry", async () => {
  const { secretId } = await fx.createCredential();
  const consumer = createConsumer({ client: fx.aws.secretsManager });
  let calls = 0;

  const outcome = await consumer
    .withCredential(secretId, async () => {
      calls++;
      throw Object.assign(new Error("bad request"), { status: 400 });
    })
    .catch((error: Error) => error.message);

  expect(outcome).toBe("bad request");
  expect(calls).toBe(1);
});

test("tokens() reads the pair the refresh stored, and withTokens reads it again once on a 401", async () => {
  const store = new TokenStore(fx.aws.ssm);
  const pair = (accessToken: string) => ({
    accessToken,
    refreshToken: `${accessToken}-refresh`,
    type: "Bearer",
    accessTokenExpiresAt: fx.clock.now() + 10 * 60_000,
    refreshTokenExpiresAt: fx.clock.now() + DAY,
    keyId: "key-1",
    refreshedAt: new Date(fx.clock.now()).toISOString(),
  });
  await store.write("/keyturn/tokens/incorta/etl", pair("access-one-0123456789"));
  const consumer = createTokenConsumer({ client: fx.aws.ssm, now: () => fx.clock.now() });

  const first = await consumer.tokens("incorta/etl");
  await store.write("/keyturn/tokens/incorta/etl", pair("access-two-0123456789"));
  const seen: string[] = [];
  const result = await consumer.withTokens("incorta/etl", async (tokens) => {
    seen.push(tokens.accessToken);
    return new Response(null, { status: tokens.accessToken === "access-two-0123456789" ? 200 : 401 });
  });

  expect(first.accessToken).toBe("access-one-0123456789");
  expect(seen).toEqual(["access-one-0123456789", "access-two-0123456789"]);
  expect(result.status).toBe(200);
});

test("the package exports the library as keyturn/consumer and keyturn/consumer/tokens", async () => {
  const library = await import("keyturn/consumer");
  const tokens = await import("keyturn/consumer/tokens");

  expect(typeof library.createConsumer).toBe("function");
  expect(typeof library.withCredential).toBe("function");
  expect(typeof tokens.createTokenConsumer).toBe("function");
});
