// Issue 19, usage-aware revocation: the monitor's sweep (the real handler, on moto and the Immuta
// simulator, whose API reports no last use) keeps a previous key that a consumer reported holding
// within the in-use window, up to the in-use limit, and names the consumers. Acting as a hostile
// consumer of the credential, which may write any report in its own credential's partition: it
// can delay that revocation up to the limit and no further, cannot keep an emergency revoke from
// happening, and a report naming any key but the previous one changes nothing.
import { BatchWriteItemCommand } from "@aws-sdk/client-dynamodb";
import { afterEach, beforeEach, expect, test } from "vitest";
import { EventPublisher } from "#aws/event-publisher.ts";
import { FailureStreaks } from "#aws/failure-streaks.ts";
import { KeyRecords } from "#aws/record-store.ts";
import { createUsageTable, UNNAMED_CONSUMER, UsageReports } from "#aws/usage-store.ts";
import { Tag } from "#engine/settings.ts";
import { createMonitorHandler } from "#handlers/monitor.ts";
import type { ReceivedEvent } from "#sandbox/event-subscriber.ts";
import { RECORDS_TABLE } from "#sandbox/local-keyturn.ts";
import { createConsumer } from "../../consumer/index.ts";
import { eventProblems } from "../support/event-schemas.ts";
import { BUS_NAME, HOUR, type ImmutaFixture, immutaFixture, MINUTE } from "../support/immuta-fixture.ts";
import { type CapturedOutput, captureOutput, findLeaks } from "../support/leak-guard.ts";

const USAGE_TABLE = "keyturn-usage";

let fx: ImmutaFixture;
let output: CapturedOutput;
let usage: UsageReports;
let sweep: () => ReturnType<ReturnType<typeof createMonitorHandler>>;

beforeEach(async () => {
  fx = await immutaFixture();
  output = captureOutput();
  await createUsageTable(fx.aws.dynamodb, USAGE_TABLE);
  usage = new UsageReports(fx.aws.dynamodb, USAGE_TABLE);
  // The world's monitor, as the stack wires it when the usage table exists (KEYTURN_USAGE_TABLE).
  const monitor = createMonitorHandler({
    store: fx.store,
    records: new KeyRecords(fx.aws.dynamodb, RECORDS_TABLE),
    failureStreaks: new FailureStreaks(fx.aws.dynamodb, RECORDS_TABLE),
    pinned: fx.pinned,
    publisher: new EventPublisher(fx.aws.eventBridge, BUS_NAME),
    now: () => new Date(fx.clock.now()),
    http: {
      endpointOverride: fx.hub.url,
      timeoutMs: 1_000,
      retryBaseMs: 1,
      retryMaxMs: 10,
      sleep: async () => {},
    },
    rotate: async (secretId) => {
      await fx.rotate(secretId);
    },
    orphanSafetyMarginMs: HOUR,
    reconcileIntervalMs: 0,
    stuckAfterMs: 6 * HOUR,
    usage,
  });
  sweep = () => monitor({}, { getRemainingTimeInMillis: () => 120_000, awsRequestId: "usage-test" });
});

afterEach(async () => {
  output.restore();
  await fx.close();
});

async function received(): Promise<ReceivedEvent[]> {
  const events = await fx.subscriber.drain();
  expect(events.flatMap(eventProblems)).toEqual([]);
  expect(findLeaks([JSON.stringify(events), output.text()], fx.sim.issuedValues)).toEqual([]);
  return events;
}

const tokenIds = () => fx.sim.liveTokens().map((token) => token.tokenId);

/** A credential with a short grace period, rotated once: its first key is the previous key. */
async function rotated(tags: Record<string, string> = {}, name = "immuta/na-integration") {
  const { secretId, keyId: previous } = await fx.createCredential({
    name,
    tags: { [Tag.gracePeriod]: "5m", [Tag.inUseWindow]: "1h", [Tag.inUseLimit]: "3", ...tags },
  });
  await fx.rotate(secretId);
  const current = (await fx.current(secretId)).keyId;
  await fx.subscriber.drain();
  return { secretId, previous, current };
}

test("a previous key a consumer reported holding waits, naming the consumer, until that report is older than the in-use window", async () => {
  const { secretId, previous, current } = await rotated();
  await usage.report({
    credential: secretId,
    consumer: "billing",
    keyId: previous,
    at: new Date(fx.clock.now()),
  });
  fx.clock.advance(10 * MINUTE); // past the 5-minute grace period

  const waited = await sweep();
  await usage.report({
    credential: secretId,
    consumer: "billing",
    keyId: current,
    at: new Date(fx.clock.now()),
  });
  // Its report of the new key does not erase its report of the old one: another instance under the
  // same name may still hold the old key, until the in-use window (1h) has passed since that report.
  fx.clock.advance(45 * MINUTE);
  const stillHeld = await sweep();
  fx.clock.advance(10 * MINUTE);
  const revoked = await sweep();

  expect(waited.postponed).toEqual([{ credential: secretId, keyId: previous, postponements: 1 }]);
  expect(stillHeld.postponed).toEqual([{ credential: secretId, keyId: previous, postponements: 2 }]);
  expect(revoked.revoked).toEqual([
    expect.objectContaining({ keyId: previous, reason: "grace-period-ended" }),
  ]);
  expect(tokenIds()).toEqual([current]);
  const stillInUse = (await received()).filter(
    (e) => e["detail-type"] === "Previous Credential Still In Use",
  );
  const oldReport = new Date(fx.clock.now() - 65 * MINUTE).toISOString();
  expect(stillInUse.map((e) => e.detail)).toEqual([
    expect.objectContaining({
      keyId: previous,
      postponements: 1,
      consumers: [{ consumer: "billing", reportedAt: oldReport }],
    }),
    expect.objectContaining({
      keyId: previous,
      postponements: 2,
      consumers: [{ consumer: "billing", reportedAt: oldReport }],
    }),
  ]);
});

test("a hostile consumer reporting the previous key on every sweep delays it up to the in-use limit only", async () => {
  const { secretId, previous } = await rotated({ [Tag.inUseLimit]: "2" });
  fx.clock.advance(10 * MINUTE);

  const sweeps = [];
  for (let i = 0; i < 3; i++) {
    // Dated a little ahead (clocks differ): it counts as made now, and the limit holds all the same.
    await usage.report({
      credential: secretId,
      consumer: "hostile",
      keyId: previous,
      at: new Date(fx.clock.now() + 2 * MINUTE),
    });
    sweeps.push(await sweep());
    fx.clock.advance(HOUR);
  }

  expect(sweeps.map((s) => s.postponed.length)).toEqual([1, 1, 0]);
  expect(sweeps[2]?.revoked).toEqual([
    expect.objectContaining({ keyId: previous, reason: "in-use-limit-reached" }),
  ]);
  expect(tokenIds()).not.toContain(previous);
  const events = await received();
  const stillInUse = events.filter((e) => e["detail-type"] === "Previous Credential Still In Use");
  expect(stillInUse.map((e) => Date.parse(String(e.detail.lastUsedAt)) <= fx.clock.now())).toEqual([
    true,
    true,
  ]);
});

test("reports naming any other key id, old reports, reports dated far ahead, or another credential's reports change nothing", async () => {
  const { secretId, previous, current } = await rotated();
  const other = await rotated({}, "immuta/na-neighbour");
  const at = new Date(fx.clock.now());
  await usage.report({ credential: secretId, consumer: "moved-on", keyId: current, at });
  await usage.report({
    credential: secretId,
    consumer: "made-up",
    keyId: "not-a-key-of-this-credential",
    at,
  });
  await usage.report({
    credential: secretId,
    consumer: "long-gone",
    keyId: previous,
    at: new Date(at.getTime() - 2 * HOUR),
  });
  // The previous key of secretId, reported in the other credential's partition (and the other way round).
  await usage.report({ credential: other.secretId, consumer: "neighbour", keyId: previous, at });
  await usage.report({ credential: secretId, consumer: "neighbour", keyId: other.previous, at });
  // Dated far ahead, to be believed for ever (until the in-use limit): not believed at all.
  await usage.report({
    credential: secretId,
    consumer: "from-the-future",
    keyId: previous,
    at: new Date(at.getTime() + 365 * 24 * HOUR),
  });
  fx.clock.advance(10 * MINUTE);

  const report = await sweep();

  expect(report.postponed).toEqual([]);
  expect(report.revoked.map((r) => r.keyId).sort()).toEqual([previous, other.previous].sort());
  expect(tokenIds().sort()).toEqual([current, other.current].sort());
});

test("a consumer flooding its partition costs the sweep one Query, and buries no report of the previous key", async () => {
  const { secretId, previous } = await rotated();
  const at = new Date(fx.clock.now()).toISOString();
  for (let batch = 0; batch < 12; batch++) {
    await fx.aws.dynamodb.send(
      new BatchWriteItemCommand({
        RequestItems: {
          [USAGE_TABLE]: Array.from({ length: 25 }, (_, i) => ({
            PutRequest: {
              Item: {
                credential: { S: secretId },
                holding: { S: `made-up-${batch}-${i}#flood-${batch}-${i}` },
                consumer: { S: `flood-${batch}-${i}` },
                keyId: { S: `made-up-${batch}-${i}` },
                reportedAt: { S: at },
              },
            },
          })),
        },
      }),
    );
  }
  await usage.report({ credential: secretId, consumer: "billing", keyId: previous, at: new Date(at) });
  let queries = 0;
  fx.aws.dynamodb.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === "QueryCommand") queries++;
      return next(args);
    },
    { step: "initialize", name: "countQueries" },
  );
  fx.clock.advance(10 * MINUTE);

  const report = await sweep();

  expect(queries).toBe(1);
  expect(report.postponed).toEqual([{ credential: secretId, keyId: previous, postponements: 1 }]);
  const stillInUse = (await received()).filter(
    (e) => e["detail-type"] === "Previous Credential Still In Use",
  );
  expect(stillInUse.map((e) => e.detail.consumers)).toEqual([[{ consumer: "billing", reportedAt: at }]]);
});

test("an emergency revoke is never postponed by reports of the leaked key", async () => {
  const { secretId, previous, current } = await rotated();
  const at = new Date(fx.clock.now());
  await usage.report({ credential: secretId, consumer: "billing", keyId: previous, at });
  await usage.report({ credential: secretId, consumer: "billing-2", keyId: current, at });

  await fx.revoke({ credential: secretId, keyId: current, reason: "leaked" });
  await fx.revoke({ credential: secretId, keyId: previous, reason: "leaked too" });

  expect(tokenIds()).not.toContain(current);
  expect(tokenIds()).not.toContain(previous);
  expect(tokenIds()).toHaveLength(1);
});

test("through the library: a consumer whose cache outlives the grace period keeps its key and never sees a 401", async () => {
  const { secretId, keyId: first } = await fx.createCredential({
    tags: { [Tag.gracePeriod]: "5m", [Tag.inUseWindow]: "1h", [Tag.inUseLimit]: "24" },
  });
  const consumer = createConsumer({
    client: fx.aws.secretsManager,
    maxAgeMs: 30 * MINUTE,
    now: () => fx.clock.now(),
    report: { table: USAGE_TABLE, consumer: "reporting-app", client: fx.aws.dynamodb },
  });
  const statuses: number[] = [];
  const call = async () =>
    consumer.withCredential(secretId, async (value) => {
      const response = await fetch(`${fx.sim.url}/na.api.immutacloud.com/marketplace/api/auth/user`, {
        headers: { authorization: `Bearer ${String(value.token)}` },
      });
      statuses.push(response.status);
      await response.arrayBuffer();
      return response;
    });

  await call(); // reads (and reports) the first key
  await fx.rotate(secretId);
  fx.clock.advance(10 * MINUTE); // grace period over, the cache still holds the first key
  const waited = await sweep();
  await call();
  fx.clock.advance(25 * MINUTE); // the cache reads the new key (and reports it)
  await call();
  // Its report of the first key stays believed for the in-use window (1h): another instance of
  // the same application may still hold that key.
  fx.clock.advance(30 * MINUTE);
  const revoked = await sweep();
  await call();

  expect(waited.postponed.map((p) => p.keyId)).toEqual([first]);
  expect(revoked.revoked.map((r) => r.keyId)).toEqual([first]);
  expect(statuses).toEqual([200, 200, 200, 200]);
});

test("a consumer name that is a link, a sentence or a key is not repeated in keyturn's alert, and the report still postpones", async () => {
  // Acting as a hostile consumer: its name is text of its choosing, and keyturn's alerts reach more
  // people than the credential's consumers (a link to click, or the very key it holds).
  const { secretId, previous, current } = await rotated();
  const names = ["https://evil.example/reset", "please rotate manually now", "x".repeat(30), "svc-catalog"];
  for (const [index, consumer] of names.entries()) {
    await usage.report({
      credential: secretId,
      consumer,
      keyId: previous,
      at: new Date(fx.clock.now() - index * 1_000),
    });
  }
  fx.clock.advance(10 * MINUTE);

  const waited = await sweep();

  expect(waited.postponed).toEqual([{ credential: secretId, keyId: previous, postponements: 1 }]);
  const events = await received();
  const named = events
    .filter((e) => e["detail-type"] === "Previous Credential Still In Use")
    .flatMap((e) => (e.detail as { consumers?: { consumer: string }[] }).consumers ?? [])
    .map((entry) => entry.consumer);
  expect(named).toEqual([UNNAMED_CONSUMER, UNNAMED_CONSUMER, UNNAMED_CONSUMER, "svc-catalog"]);
  expect(JSON.stringify(events)).not.toContain("evil.example");
  expect(tokenIds().sort()).toEqual([previous, current].sort());
});
