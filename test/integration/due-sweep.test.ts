// Issue 16, "O(due)": the hourly due sweep reads keyturn's due index (one Query per shard) and
// looks only at the credentials due by now; the audit (the full sweep) writes every credential's
// next due time, and storing a key (a rotation, a handover) makes the credential due at once. The
// index holds a week ahead: a later due time is parked out of it until an audit finds it within.
// The real monitor handler against moto (the records table created with its due index, as the
// stack creates it) and the SoftwareOne and Incorta simulators.

import { TagResourceCommand } from "@aws-sdk/client-secrets-manager";
import { afterEach, expect, test } from "vitest";
import { DUE_SHARDS, KeyRecords } from "#aws/record-store.ts";
import type { MonitorReport } from "#engine/monitor.ts";
import { Tag } from "#engine/settings.ts";
import { sweepModeOf } from "#handlers/monitor.ts";
import { RECORDS_TABLE } from "#sandbox/local-keyturn.ts";
import { ManualClock } from "#sandbox/simulators/clock.ts";
import { type IncortaSimulator, startIncortaSimulator } from "#sandbox/simulators/incorta.ts";
import { eventProblems } from "../support/event-schemas.ts";
import { type CapturedOutput, captureOutput, findLeaks } from "../support/leak-guard.ts";
import { storeIncortaPat, withDueIndex, worldMonitor } from "../support/monitor-world.ts";
import { DAY, HOUR, type SoftwareOneFixture, softwareoneFixture } from "../support/softwareone-fixture.ts";
import { startWorld, TEST_START, type World } from "../support/world.ts";

const CLUSTER = "acme.cloud.incorta.com";
const cleanups: (() => Promise<void>)[] = [];
let output: CapturedOutput | undefined;

afterEach(async () => {
  output?.restore();
  output = undefined;
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** AWS calls by command, from the moment it is called. */
function countCalls(world: World): Map<string, number> {
  const calls = new Map<string, number>();
  for (const client of [world.aws.dynamodb, world.aws.secretsManager, world.aws.eventBridge]) {
    (client.middlewareStack as World["aws"]["dynamodb"]["middlewareStack"]).add(
      (next, context) => async (args) => {
        const name = context.commandName ?? "?";
        calls.set(name, (calls.get(name) ?? 0) + 1);
        return next(args);
      },
      { step: "initialize", name: `countCalls${Math.random()}` },
    );
  }
  return calls;
}

/** The world's monitor as the stack's two schedules invoke it. */
function sweeps(world: World, reconcileIntervalMs: number) {
  const monitor = worldMonitor(world, { reconcileIntervalMs });
  const context = { getRemainingTimeInMillis: () => 300_000, awsRequestId: "due-sweep" };
  /** An invocation with time for `credentials` credentials' budgets, then almost none. */
  const shortOf = (credentials: number) => {
    let asked = 0;
    return {
      awsRequestId: "due-sweep-short",
      getRemainingTimeInMillis: () => (asked++ < credentials ? 300_000 : 1_000),
    };
  };
  return {
    due: (): Promise<MonitorReport> => monitor({ mode: "due" }, context),
    audit: (): Promise<MonitorReport> => monitor({ mode: "audit" }, context),
    shortAudit: (credentials: number): Promise<MonitorReport> =>
      monitor({ mode: "audit" }, shortOf(credentials)),
  };
}

async function incortaWorld(): Promise<{ world: World; incorta: IncortaSimulator }> {
  const clock = new ManualClock(TEST_START);
  const incorta = await startIncortaSimulator({ clock });
  const world = await startWorld({ clock, vendors: { [CLUSTER]: incorta.url } });
  cleanups.push(async () => {
    await world.close();
    await incorta.close();
  });
  await withDueIndex(world.aws.dynamodb);
  return { world, incorta };
}

/** An Incorta v2 PAT expiring `days` from now (manual: no vendor call until a person acts). */
async function storePat(world: World, incorta: IncortaSimulator, i: number, days: number): Promise<string> {
  const expiresAt = new Date(world.clock.now() + days * DAY);
  return storeIncortaPat(world, incorta, { cluster: CLUSTER, name: `keyturn/pat-${i}`, i, expiresAt });
}

test("with nothing due, the due sweep makes one Query per shard and no other call; a notice comes due on its day", async () => {
  const { world, incorta } = await incortaWorld();
  output = captureOutput();
  const names: string[] = [];
  for (let i = 0; i < 6; i++) names.push(await storePat(world, incorta, i, 100 + 40 * i));
  const { due, audit } = sweeps(world, 6 * HOUR);
  // Stored keys are due at once: the first due sweep looks at each and writes its real due time.
  const first = await due();
  expect(first.due).toBe(6);
  const calls = countCalls(world);

  const nothingDue = await due();

  expect(nothingDue.due).toBe(0);
  expect(nothingDue.credentials).toBe(0);
  expect(Object.fromEntries(calls)).toEqual({ QueryCommand: DUE_SHARDS });

  // The audit changes nothing of it (the due times it computes are those written).
  await audit();
  calls.clear();
  expect((await due()).due).toBe(0);
  expect(Object.fromEntries(calls)).toEqual({ QueryCommand: DUE_SHARDS });

  // Due beyond the horizon (a week): parked out of the due index, which a Query then never reads.
  const records = new KeyRecords(world.aws.dynamodb, RECORDS_TABLE);
  for (const name of names) expect((await records.get(name))?.indexed).toBe(false);
  // 64 days later pat-0's 30-day threshold (day 70) is within the week: the daily audit puts it back.
  world.clock.advance(64 * DAY);
  await audit();
  expect((await records.get("keyturn/pat-0"))?.indexed).toBe(true);
  expect((await records.get("keyturn/pat-1"))?.indexed).toBe(false);
  // 71 days in, pat-0 crosses its 30-day threshold: the due sweep looks at it alone.
  world.clock.advance(7 * DAY);
  calls.clear();
  const noticeDay = await due();
  expect(noticeDay.due).toBe(1);
  expect(noticeDay.expiring.map((entry) => [entry.credential, entry.threshold])).toEqual([
    ["keyturn/pat-0", "30d"],
  ]);
  expect(calls.get("DescribeSecretCommand")).toBeGreaterThanOrEqual(1);
  expect(calls.get("ListSecretsCommand") ?? 0).toBe(0);
  // Sent once: the next due sweep has nothing to do until the 7-day threshold (day 93), which an
  // audit puts back in the index a week before.
  expect((await due()).due).toBe(0);
  world.clock.advance(16 * DAY);
  await audit();
  world.clock.advance(7 * DAY);
  expect((await due()).expiring.map((entry) => entry.threshold)).toEqual(["7d"]);

  const events = await world.subscriber.drain();
  expect(events.flatMap(eventProblems)).toEqual([]);
  expect(findLeaks([output.text(), JSON.stringify(events)], incorta.issuedValues)).toEqual([]);
  expect(
    events
      .filter((e) => e["detail-type"] === "Credential Expiring")
      .map((e) => [e.detail.credential, e.detail.threshold]),
  ).toEqual([
    ["keyturn/pat-0", "30d"],
    ["keyturn/pat-0", "7d"],
  ]);
});

test("a neighbour's tag edit puts no credential in the due sweep: only keyturn's records decide what it reads", async () => {
  const { world, incorta } = await incortaWorld();
  output = captureOutput();
  const name = await storePat(world, incorta, 0, 100);
  const { due } = sweeps(world, 6 * HOUR);
  await due(); // stored: due at once, then written
  // Someone allowed to tag the secret makes it look due: its expiry tomorrow, a previous key past
  // its revocation time.
  await world.aws.secretsManager.send(
    new TagResourceCommand({
      SecretId: name,
      Tags: [
        { Key: Tag.expiresAt, Value: new Date(world.clock.now() + DAY).toISOString() },
        { Key: Tag.previousKeyId, Value: "someone-elses-key" },
        { Key: Tag.revokeAfter, Value: TEST_START.toISOString() },
      ],
    }),
  );
  const calls = countCalls(world);

  const report = await due();

  expect(report.due).toBe(0);
  expect(Object.fromEntries(calls)).toEqual({ QueryCommand: DUE_SHARDS });
  expect(await world.subscriber.drain()).toEqual([]);
});

test("a rotation makes its credential due; the due sweep revokes the previous key when its grace period ends, not before", async () => {
  const fx: SoftwareOneFixture = await softwareoneFixture({ reconcileIntervalMs: 6 * HOUR });
  cleanups.push(() => fx.close());
  await withDueIndex(fx.aws.dynamodb);
  output = captureOutput();
  await fx.createAdmin();
  const { secretId, keyId: previous } = await fx.createConsumer("softwareone/catalog-sync", {
    tags: { [Tag.gracePeriod]: "24h" },
  });
  const { due } = sweeps(fx, 6 * HOUR);
  await due();
  await fx.rotate(secretId);
  await fx.subscriber.drain();

  const afterRotation = await due(); // the new key made it due: looked at, its revocation time written
  fx.clock.advance(12 * HOUR);
  const withinGrace = await due(); // a reconciliation is due (6 h), the revocation is not
  fx.clock.advance(12 * HOUR + 1);
  const graceOver = await due();

  expect(afterRotation.due).toBeGreaterThanOrEqual(1);
  expect(afterRotation.revoked).toEqual([]);
  expect(withinGrace.revoked).toEqual([]);
  expect(fx.status(previous)).toBe("Disabled");
  expect(graceOver.revoked).toEqual([
    expect.objectContaining({ credential: secretId, keyId: previous, reason: "grace-period-ended" }),
  ]);
  expect(graceOver.failures).toEqual([]);
  const events = await fx.subscriber.drain();
  expect(events.flatMap(eventProblems)).toEqual([]);
  expect(findLeaks([output.text(), JSON.stringify(events)], fx.sim.issuedValues)).toEqual([]);
  expect(events.filter((e) => e["detail-type"] === "Credential Revoked").map((e) => e.detail.keyId)).toEqual([
    previous,
  ]);
});

test("an audit cut short by its invocation's time defers the rest, and the next audit starts with them", async () => {
  const { world, incorta } = await incortaWorld();
  output = captureOutput();
  // Six PATs whose 30-day notice is due (no vendor call).
  for (let i = 0; i < 6; i++) await storePat(world, incorta, i, 20);
  const { shortAudit } = sweeps(world, 6 * HOUR);

  const first = await shortAudit(2);
  const second = await shortAudit(2);
  const third = await shortAudit(10);

  const noticed = (report: MonitorReport) => report.expiring.map((entry) => entry.credential);
  expect(noticed(first)).toEqual(["keyturn/pat-0", "keyturn/pat-1"]);
  expect(first.deferred).toEqual(["keyturn/pat-2", "keyturn/pat-3", "keyturn/pat-4", "keyturn/pat-5"]);
  expect(noticed(second)).toEqual(["keyturn/pat-2", "keyturn/pat-3"]);
  expect(second.deferred).toEqual(["keyturn/pat-4", "keyturn/pat-5", "keyturn/pat-0", "keyturn/pat-1"]);
  expect(noticed(third)).toEqual(["keyturn/pat-4", "keyturn/pat-5"]);
  expect(third.deferred).toEqual([]);
  const events = await world.subscriber.drain();
  expect(events.flatMap(eventProblems)).toEqual([]);
  expect(events.filter((e) => e["detail-type"] === "Credential Expiring")).toHaveLength(6);
});

test('only {"mode":"due"} asks for the due sweep; any other event is the audit, the sweep that misses nothing', () => {
  expect(sweepModeOf({ mode: "due" })).toBe("due");
  for (const event of [{}, { mode: "audit" }, { mode: "DUE" }, { mode: ["due"] }, "due", null, undefined, []])
    expect(sweepModeOf(event)).toBe("audit");
});
