// Issue 19, the consumer library (consumer/): an application reading a keyturn credential through
// `createConsumer` against moto, calling the Immuta simulator over real HTTP with the key it got,
// across keyturn's real rotations and emergency revokes.

import type { AddressInfo } from "node:net";
import { createServer, type Socket } from "node:net";
import { DynamoDBClient, GetItemCommand } from "@aws-sdk/client-dynamodb";
import { PutParameterCommand } from "@aws-sdk/client-ssm";
import { afterEach, beforeEach, expect, test, vi } from "vitest";
import { TokenStore } from "#aws/token-store.ts";
import { createUsageTable } from "#aws/usage-store.ts";
import { CredentialRefusedError, type CredentialValue, createConsumer } from "../../consumer/index.ts";
import { createTokenConsumer, TokensNotFoundError } from "../../consumer/tokens.ts";
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

/** PutItem calls the usage reports made. */
function countReports(): { puts: number } {
  const counter = { puts: 0 };
  fx.aws.dynamodb.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === "PutItemCommand") counter.puts++;
      return next(args);
    },
    { step: "initialize", name: `countReports${Math.random()}` },
  );
  return counter;
}

test("with reporting on, the consumer reports the key id it holds once per cache read, never the key", async () => {
  const { secretId, keyId, token } = await fx.createCredential();
  await createUsageTable(fx.aws.dynamodb, "usage");
  const puts = countReports();
  const consumer = createConsumer({
    client: fx.aws.secretsManager,
    maxAgeMs: 15_000,
    now: () => fx.clock.now(),
    report: { table: "usage", consumer: "billing-service", client: fx.aws.dynamodb },
  });

  await consumer.credential(secretId);
  fx.clock.advance(10_000);
  await consumer.credential(secretId);
  const putsWithinMaxAge = puts.puts;
  fx.clock.advance(6_000);
  await consumer.credential(secretId);
  const item = await fx.aws.dynamodb.send(
    new GetItemCommand({
      TableName: "usage",
      Key: { credential: { S: secretId }, holding: { S: `${keyId}#billing-service` } },
    }),
  );

  expect(putsWithinMaxAge).toBe(1);
  expect(puts.puts).toBe(2);
  expect(item.Item?.keyId?.S).toBe(keyId);
  expect(item.Item?.reportedAt?.S).toBe(new Date(fx.clock.now()).toISOString());
  expect(Number(item.Item?.expiresAt?.N)).toBeGreaterThan(fx.clock.now() / 1000);
  expect(JSON.stringify(item.Item)).not.toContain(token);
});

test("a report that fails (no such table) never fails the application's read, and warns once without the key", async () => {
  const { secretId, keyId } = await fx.createCredential();
  const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
  const consumer = createConsumer({
    client: fx.aws.secretsManager,
    maxAgeMs: 1_000,
    now: () => fx.clock.now(),
    report: { table: "no-such-table", consumer: "billing-service", client: fx.aws.dynamodb },
  });

  const first = await consumer.credential(secretId);
  fx.clock.advance(2_000);
  const second = await consumer.withCredential(secretId, async (value) => value.keyId);

  expect(first.keyId).toBe(keyId);
  expect(second).toBe(keyId);
  const warnings = warn.mock.calls.map((args) => args.join(" "));
  warn.mockRestore();
  expect(warnings).toHaveLength(1);
  expect(warnings[0]).toContain("could not report usage");
  expect(findLeaks([...warnings, output.text()], fx.sim.issuedValues)).toEqual([]);
});

test("an application that does not report makes no usage write", async () => {
  const { secretId } = await fx.createCredential();
  await createUsageTable(fx.aws.dynamodb, "usage");
  const puts = countReports();
  const previous = process.env.KEYTURN_USAGE_TABLE;
  delete process.env.KEYTURN_USAGE_TABLE;
  try {
    // A consumer name and a client, but no table: nothing to report to.
    const consumer = createConsumer({
      client: fx.aws.secretsManager,
      report: { consumer: "billing-service", client: fx.aws.dynamodb },
    });
    await consumer.credential(secretId);
  } finally {
    if (previous !== undefined) process.env.KEYTURN_USAGE_TABLE = previous;
  }

  expect(puts.puts).toBe(0);
});

test("a report that hangs (no route to DynamoDB) does not hold the application's read", async () => {
  const { secretId, keyId } = await fx.createCredential();
  // A DynamoDB endpoint that accepts the connection and never answers, as a VPC without a route
  // (or a stalled proxy) would: the real SDK client, over a real socket.
  const pending: Socket[] = [];
  const silent = createServer((socket) => {
    pending.push(socket);
  });
  await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
  const hanging = new DynamoDBClient({
    endpoint: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`,
    region: "us-east-1",
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
    maxAttempts: 1,
  });
  try {
    const consumer = createConsumer({
      client: fx.aws.secretsManager,
      now: () => fx.clock.now(),
      report: { table: "usage", consumer: "billing-service", client: hanging },
    });

    const value = await consumer.credential(secretId);

    // The read came back while the report was still waiting for an answer.
    expect(value.keyId).toBe(keyId);
    expect(pending.length).toBeGreaterThan(0);
    expect(pending.every((socket) => !socket.destroyed)).toBe(true);
  } finally {
    hanging.destroy();
    for (const socket of pending) socket.destroy();
    await new Promise((resolve) => silent.close(resolve));
  }
});

test("a token parameter that is not JSON is refused without quoting it", async () => {
  const text = "hand-written-access-token-0123456789";
  await fx.aws.ssm.send(
    new PutParameterCommand({ Name: "/keyturn/tokens/incorta/etl", Value: text, Type: "SecureString" }),
  );
  const consumer = createTokenConsumer({ client: fx.aws.ssm, now: () => fx.clock.now() });

  const error = await consumer.tokens("incorta/etl").catch((caught: unknown) => caught);

  expect(error).toBeInstanceOf(TokensNotFoundError);
  expect(String((error as Error).message)).toContain("/keyturn/tokens/incorta/etl");
  // Node's JSON.parse quotes the start of the text it could not parse; the error must not.
  expect(String((error as Error).message)).not.toContain(text.slice(0, 6));
  expect(findLeaks([String((error as Error).message), output.text()], [text])).toEqual([]);
});
