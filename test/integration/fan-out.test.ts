// Issue 16, "fans out over an existing engine": a due sweep that finds more due credentials than
// its share (fanOutAbove, made small here) handles its share and sends the rest to the sweep queue;
// the queue's messages, handed to the same monitor handler as Lambda's event source mapping hands
// them (an SQS event; a message not in batchItemFailures deleted), handle each of the others
// exactly once, with the outcome of one big sweep. The real monitor handler against moto (SQS, the
// records table with its due index) and the Incorta simulator; the event source mapping itself is
// played by the test (moto runs no Lambda).

import { DeleteMessageCommand, type Message, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { afterEach, expect, test } from "vitest";
import { SWEEP_BATCH_CREDENTIALS, SweepQueue } from "#aws/sweep-queue.ts";
import type { MonitorResult } from "#handlers/monitor.ts";
import { createTargetQueue } from "#sandbox/event-subscriber.ts";
import { ManualClock } from "#sandbox/simulators/clock.ts";
import { type IncortaSimulator, startIncortaSimulator } from "#sandbox/simulators/incorta.ts";
import { eventProblems } from "../support/event-schemas.ts";
import { type CapturedOutput, captureOutput, findLeaks } from "../support/leak-guard.ts";
import { storeIncortaPat, withDueIndex, worldMonitor } from "../support/monitor-world.ts";
import { DAY, startWorld, TEST_START, type World } from "../support/world.ts";

const CLUSTER = "acme.cloud.incorta.com";
/** More than the due sweep's share and one full message: two messages, one of them full. */
const PATS = 24;
const SHARE = 2;
const cleanups: (() => Promise<void>)[] = [];
let output: CapturedOutput | undefined;

afterEach(async () => {
  output?.restore();
  output = undefined;
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A world with `count` Incorta v2 PATs whose 30-day notice is due (no vendor call): each due at once. */
async function dueWorld(count = PATS): Promise<{ world: World; incorta: IncortaSimulator; names: string[] }> {
  const clock = new ManualClock(TEST_START);
  const incorta = await startIncortaSimulator({ clock });
  const world = await startWorld({ clock, vendors: { [CLUSTER]: incorta.url } });
  cleanups.push(async () => {
    await world.close();
    await incorta.close();
  });
  await withDueIndex(world.aws.dynamodb);
  const expiresAt = new Date(world.clock.now() + 20 * DAY);
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    const name = `keyturn/pat-${String(i).padStart(2, "0")}`;
    names.push(await storeIncortaPat(world, incorta, { cluster: CLUSTER, name, i, expiresAt }));
  }
  return { world, incorta, names };
}

/** The world's monitor handler, fanning out to `sweepQueue` above `fanOutAbove` when given one. */
function monitorOf(
  world: World,
  fanOut?: { sweepQueue: SweepQueue; fanOutAbove: number; auditFanOutAbove?: number },
) {
  return worldMonitor(world, { ...fanOut });
}

const context = { getRemainingTimeInMillis: () => 300_000, awsRequestId: "fan-out" };

/** An SQS event as Lambda's event source mapping builds it from a received message. */
function sqsEvent(message: Message, queueArn: string) {
  return {
    Records: [
      {
        messageId: message.MessageId,
        receiptHandle: message.ReceiptHandle,
        body: message.Body,
        attributes: {},
        messageAttributes: {},
        md5OfBody: message.MD5OfBody,
        eventSource: "aws:sqs",
        eventSourceARN: queueArn,
        awsRegion: "us-east-1",
      },
    ],
  };
}

/**
 * What the event source mapping does, until the queue is empty: receives a message, invokes the
 * handler with it (batch size 1) and deletes it unless the handler reported it failed.
 */
async function drainSweepQueue(
  world: World,
  queue: { url: string; arn: string },
  handler: ReturnType<typeof monitorOf>,
): Promise<{ results: MonitorResult[]; bodies: string[] }> {
  const results: MonitorResult[] = [];
  const bodies: string[] = [];
  for (;;) {
    const received = await world.aws.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queue.url, MaxNumberOfMessages: 1, WaitTimeSeconds: 0 }),
    );
    const message = received.Messages?.[0];
    if (!message) return { results, bodies };
    bodies.push(message.Body ?? "");
    const result = await handler(sqsEvent(message, queue.arn), context);
    results.push(result);
    if (!result.batchItemFailures?.some((failure) => failure.itemIdentifier === message.MessageId))
      await world.aws.sqs.send(
        new DeleteMessageCommand({ QueueUrl: queue.url, ReceiptHandle: message.ReceiptHandle }),
      );
  }
}

/** The Credential Expiring events published since the last drain, as [credential, threshold], sorted. */
async function expiringNotices(world: World, secrets: readonly string[]): Promise<string[][]> {
  const events = await world.subscriber.drain();
  expect(events.flatMap(eventProblems)).toEqual([]);
  expect(findLeaks([output?.text() ?? "", JSON.stringify(events)], secrets)).toEqual([]);
  return events
    .filter((e) => e["detail-type"] === "Credential Expiring")
    .map((e) => [String(e.detail.credential), String(e.detail.threshold)])
    .sort(([a], [b]) => (a ?? "").localeCompare(b ?? ""));
}

test("a due sweep over its share queues the rest; the batches handle each exactly once, as one big sweep does", async () => {
  const { world, incorta, names } = await dueWorld();
  output = captureOutput();
  const queue = await createTargetQueue(world.aws.sqs, "keyturn-sweep");
  const handler = monitorOf(world, {
    sweepQueue: new SweepQueue(world.aws.sqs, queue.url),
    fanOutAbove: SHARE,
  });

  const sweep = await handler({ mode: "due" }, context);
  const { results, bodies } = await drainSweepQueue(world, queue, handler);

  // The due sweep took the longest-due SHARE on itself and queued the others, in full messages.
  expect(sweep.due).toBe(PATS);
  expect(sweep.credentials).toBe(SHARE);
  expect(sweep.queued).toHaveLength(PATS - SHARE);
  expect(sweep.deferred).toEqual([]);
  expect(bodies).toHaveLength(Math.ceil((PATS - SHARE) / SWEEP_BATCH_CREDENTIALS));
  expect(results.every((result) => result.mode === "batch" && result.batchItemFailures?.length === 0)).toBe(
    true,
  );
  // Each credential handled once: by the sweep, or by exactly one batch.
  const handled = [sweep, ...results].flatMap((report) => report.expiring.map((entry) => entry.credential));
  expect(handled.sort()).toEqual(names);
  expect(results.flatMap((result) => [...result.notDue, ...result.notPinned, ...result.deferred])).toEqual(
    [],
  );
  const notices = await expiringNotices(world, incorta.issuedValues);
  expect(notices).toEqual(names.map((name) => [name, "30d"]));
  // Every one's next due time written: nothing is due any more.
  expect((await handler({ mode: "due" }, context)).due).toBe(0);

  // The same outcome as one big sweep, in a world without the queue.
  const big = await dueWorld();
  const alone = await monitorOf(big.world)({ mode: "due" }, context);
  expect(alone.credentials).toBe(PATS);
  expect(alone.queued).toEqual([]);
  expect(await expiringNotices(big.world, big.incorta.issuedValues)).toEqual(notices);
});

test("a message delivered twice does nothing the second time: its credentials are no longer due", async () => {
  const { world, incorta } = await dueWorld(6);
  output = captureOutput();
  const queue = await createTargetQueue(world.aws.sqs, "keyturn-sweep");
  const handler = monitorOf(world, {
    sweepQueue: new SweepQueue(world.aws.sqs, queue.url),
    fanOutAbove: 3,
  });
  const sweep = await handler({ mode: "due" }, context);
  const received = await world.aws.sqs.send(
    new ReceiveMessageCommand({ QueueUrl: queue.url, MaxNumberOfMessages: 1, WaitTimeSeconds: 0 }),
  );
  const message = received.Messages?.[0] as Message;
  const first = await handler(sqsEvent(message, queue.arn), context);
  await world.subscriber.drain();

  const again = await handler(sqsEvent(message, queue.arn), context);

  expect(sweep.queued).toHaveLength(3);
  expect(first.expiring).toHaveLength(3);
  expect(again.credentials).toBe(0);
  expect(again.notDue.sort()).toEqual([...sweep.queued].sort());
  expect(again.batchItemFailures).toEqual([]);
  expect(await expiringNotices(world, incorta.issuedValues)).toEqual([]);
});

test("when the sweep queue cannot be sent to, the due sweep keeps every due credential and says so", async () => {
  const { world, incorta, names } = await dueWorld(6);
  output = captureOutput();
  const missing = `${(await createTargetQueue(world.aws.sqs, "keyturn-other")).url.replace(/keyturn-other$/, "")}keyturn-no-such-queue`;
  const handler = monitorOf(world, {
    sweepQueue: new SweepQueue(world.aws.sqs, missing),
    fanOutAbove: SHARE,
  });

  const sweep = await handler({ mode: "due" }, context);

  expect(sweep.queued).toEqual([]);
  expect(sweep.credentials).toBe(names.length);
  expect(sweep.deferred).toEqual([]);
  expect(await expiringNotices(world, incorta.issuedValues)).toEqual(names.map((name) => [name, "30d"]));
  expect(output.text()).toContain("due credentials could not be queued");
});

test("an audit over more credentials than its share queues the rest for the audit's checks; each is checked once", async () => {
  const { world, incorta, names } = await dueWorld(12);
  output = captureOutput();
  const queue = await createTargetQueue(world.aws.sqs, "keyturn-sweep");
  const handler = monitorOf(world, {
    sweepQueue: new SweepQueue(world.aws.sqs, queue.url),
    fanOutAbove: SHARE,
    auditFanOutAbove: 5,
  });

  const audit = await handler({ mode: "audit" }, context);
  const { results, bodies } = await drainSweepQueue(world, queue, handler);

  expect(audit.credentials).toBe(5);
  expect(audit.queued).toHaveLength(7);
  expect(audit.deferred).toEqual([]);
  expect(bodies.map((body) => (JSON.parse(body) as { mode: string }).mode)).toEqual(["audit"]);
  expect(results.every((result) => result.batchItemFailures?.length === 0)).toBe(true);
  // Every credential checked once, by the audit or by its batch, due or not.
  const checked = [audit, ...results].flatMap((report) => report.expiring.map((entry) => entry.credential));
  expect(checked.sort()).toEqual(names);
  expect(await expiringNotices(world, incorta.issuedValues)).toEqual(names.map((name) => [name, "30d"]));
});
