// Issue 16, the sweep queue (functions/aws/sweep-queue.ts) as the neighbour sees it. In AWS only
// the monitor's role (and the deployment) may send to it (infra/keyturn-fences.ts, checked in
// test/infra/fan-out.test.ts); these tests are the monitor's own defence should a message get in
// anyway: a message can only ask keyturn to look at a credential. The batch acts only on names the
// deployment pins and keyturn's records say are due, takes every decision from the records and
// the secret, and refuses (InvalidSweepBatchError, a batch item failure: the queue's dead-letter
// queue after a few receives) any message that is not one the monitor sends. The real monitor
// handler against moto and the SoftwareOne simulator; the event source mapping's SQS event is built
// by the test (moto runs no Lambda).

import { CreateSecretCommand } from "@aws-sdk/client-secrets-manager";
import { expect, test } from "vitest";
import { KeyRecords } from "#aws/record-store.ts";
import { InvalidSweepBatchError, MAX_SWEEP_MESSAGE_CHARS } from "#aws/sweep-queue.ts";
import { InvalidEventError } from "#engine/errors.ts";
import { Tag } from "#engine/settings.ts";
import { RECORDS_TABLE } from "#sandbox/local-keyturn.ts";
import { ManualClock } from "#sandbox/simulators/clock.ts";
import { withDueIndex, worldMonitor } from "../support/monitor-world.ts";
import { HOUR, startWorld, TEST_START, type World } from "../support/world.ts";
import { neighbourWorlds, tag } from "./neighbour.ts";

const worlds = neighbourWorlds();
const context = { getRemainingTimeInMillis: () => 300_000, awsRequestId: "fan-out-queue" };

/** The world's monitor handler; `rotations` counts the early rotations it starts. */
function monitorOf(world: World, rotations: string[] = []) {
  return worldMonitor(world, {
    rotate: async (secretId) => {
      rotations.push(secretId);
    },
    orphanSafetyMarginMs: 0,
  });
}

/** An SQS event of the sweep queue with these bodies, message i having the id "m<i>". */
function sqsEvent(...bodies: string[]) {
  return {
    Records: bodies.map((body, i) => ({
      messageId: `m${i}`,
      receiptHandle: `receipt-${i}`,
      body,
      attributes: {},
      messageAttributes: {},
      eventSource: "aws:sqs",
      eventSourceARN: "arn:aws:sqs:us-east-1:123456789012:keyturn-sweep",
      awsRegion: "us-east-1",
    })),
  };
}

/** AWS calls made through the world's clients from now on. */
function countCalls(world: World): string[] {
  const calls: string[] = [];
  for (const client of [world.aws.dynamodb, world.aws.secretsManager, world.aws.eventBridge]) {
    (client.middlewareStack as World["aws"]["dynamodb"]["middlewareStack"]).add(
      (next, ctx) => async (args) => {
        calls.push(ctx.commandName ?? "?");
        return next(args);
      },
      { step: "initialize", name: `countCalls${Math.random()}` },
    );
  }
  return calls;
}

test("a forged message naming a secret keyturn does not pin and a credential with nothing due revokes and rotates nothing", async () => {
  const fx = await worlds.softwareone({ reconcileIntervalMs: 6 * HOUR });
  await withDueIndex(fx.aws.dynamodb);
  await fx.createAdmin();
  const { secretId, keyId: previous } = await fx.createConsumer("softwareone/catalog-sync", {
    tags: { [Tag.gracePeriod]: "24h" },
  });
  await fx.rotate(secretId);
  const rotations: string[] = [];
  const monitor = monitorOf(fx, rotations);
  // The rotation made it due: the due sweeps look at it (and reconcile it) until nothing is due.
  await monitor({ mode: "due" }, context);
  expect((await monitor({ mode: "due" }, context)).failures).toEqual([]);
  const record = await new KeyRecords(fx.aws.dynamodb, RECORDS_TABLE).get(secretId);
  expect(record?.nextDueAt).toBeGreaterThan(fx.clock.now());
  await worlds.published(fx, fx.sim.issuedValues);
  const statusBefore = fx.status(previous);
  // The neighbour's secret, tagged as keyturn's, and the pinned credential's tags made to look due.
  const theirs = "softwareone/neighbours-own";
  await fx.aws.secretsManager.send(
    new CreateSecretCommand({
      Name: theirs,
      SecretString: JSON.stringify({ provider: "softwareone", token: "t", keyId: previous }),
      Tags: [{ Key: Tag.provider, Value: "softwareone" }],
    }),
  );
  await tag(fx, secretId, { [Tag.revokeAfter]: TEST_START.toISOString(), [Tag.previousKeyId]: previous });

  const result = await monitor(
    sqsEvent(
      JSON.stringify({ mode: "batch", credentials: [theirs, secretId] }),
      // What the neighbour would like keyturn to believe: refused whole, never acted on.
      JSON.stringify({ mode: "batch", credentials: [secretId], revokeAfter: TEST_START, keyId: previous }),
    ),
    context,
  );

  expect(result.mode).toBe("batch");
  expect(result.notPinned).toEqual([theirs]);
  expect(result.notDue).toEqual([secretId]);
  expect(result.credentials).toBe(0);
  expect(result.revoked).toEqual([]);
  expect(result.batchItemFailures).toEqual([{ itemIdentifier: "m1" }]);
  expect(rotations).toEqual([]);
  expect(fx.status(previous)).toBe(statusBefore);
  const events = await worlds.published(fx, fx.sim.issuedValues);
  expect(events.map((e) => e["detail-type"])).toEqual([]);
  expect(worlds.printed()).toContain("InvalidSweepBatchError");
});

test("a forged audit message makes keyturn look at a pinned credential, and do nothing the records do not say is due", async () => {
  const fx = await worlds.softwareone({ reconcileIntervalMs: 6 * HOUR });
  await withDueIndex(fx.aws.dynamodb);
  await fx.createAdmin();
  const { secretId, keyId: previous } = await fx.createConsumer("softwareone/catalog-sync", {
    tags: { [Tag.gracePeriod]: "24h" },
  });
  await fx.rotate(secretId);
  const rotations: string[] = [];
  const monitor = monitorOf(fx, rotations);
  await monitor({ mode: "due" }, context);
  await monitor({ mode: "due" }, context);
  await worlds.published(fx, fx.sim.issuedValues);
  const statusBefore = fx.status(previous);
  // The tags made to look as if the previous key's grace period had ended long ago.
  await tag(fx, secretId, { [Tag.revokeAfter]: TEST_START.toISOString(), [Tag.previousKeyId]: previous });

  const result = await monitor(sqsEvent(JSON.stringify({ mode: "audit", credentials: [secretId] })), context);

  expect(result.credentials).toBe(1);
  expect(result.revoked).toEqual([]);
  expect(result.batchItemFailures).toEqual([]);
  expect(rotations).toEqual([]);
  expect(fx.status(previous)).toBe(statusBefore);
  const events = await worlds.published(fx, fx.sim.issuedValues);
  expect(events.map((e) => e["detail-type"])).toEqual([]);
});

test("garbled, oversized and overlong messages are refused with InvalidSweepBatchError and go back to the queue, at no AWS call", async () => {
  const world = worlds.adopt(await startWorld({ clock: new ManualClock(TEST_START), vendors: {} }));
  const calls = countCalls(world);
  const names = (count: number) => Array.from({ length: count }, (_, i) => `keyturn/x-${i}`);

  const result = await monitorOf(world)(
    sqsEvent(
      "not json {",
      JSON.stringify({ mode: "batch", credentials: ["keyturn/x".padEnd(MAX_SWEEP_MESSAGE_CHARS, "x")] }),
      JSON.stringify({ mode: "batch", credentials: names(21) }),
      JSON.stringify({ mode: "due" }),
      JSON.stringify({ mode: "batch", credentials: [] }),
      JSON.stringify({ mode: "batch", credentials: ["keyturn/not-pinned"] }),
    ),
    context,
  );

  expect(result.batchItemFailures).toEqual(
    ["m0", "m1", "m2", "m3", "m4"].map((itemIdentifier) => ({ itemIdentifier })),
  );
  expect(result.notPinned).toEqual(["keyturn/not-pinned"]);
  expect(result.credentials).toBe(0);
  expect(calls).toEqual([]);
  const refusals = worlds
    .printed()
    .split("\n")
    .filter((line) => line.includes("a sweep queue message was refused"));
  expect(refusals).toHaveLength(5);
  for (const line of refusals) expect(line).toContain("InvalidSweepBatchError");
});

test("an event with Records that is not an SQS event is refused whole, typed, before any AWS call", async () => {
  const world = worlds.adopt(await startWorld({ clock: new ManualClock(TEST_START), vendors: {} }));
  const calls = countCalls(world);

  const refused = monitorOf(world)({ Records: [{ body: JSON.stringify({ mode: "batch" }) }] }, context);

  await expect(refused).rejects.toBeInstanceOf(InvalidSweepBatchError);
  await expect(refused).rejects.toBeInstanceOf(InvalidEventError);
  await expect(refused).rejects.toMatchObject({ retryable: false });
  expect(calls).toEqual([]);
});
