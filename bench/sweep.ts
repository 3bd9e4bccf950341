// The monitor's sweep at fleet scale: 10,000 managed credentials in one moto account, swept by
// the real monitor handler with nothing due (three times, the median counts), and once by a naive sweep that reads every
// secret's value (GetSecretValue per secret) to decide the same thing. The refresh function lists
// the same fleet on every run, so its listing is timed here too.
//
// moto's secret store is not thread-safe (concurrent CreateSecret calls fail once it holds a few
// thousand secrets), so the fleet is created one secret at a time: about 80 s.
//
// Import this module only after the handlers' environment is set (bench/run.ts does it).

import { randomBytes, randomUUID } from "node:crypto";
import { BatchWriteItemCommand, CreateTableCommand } from "@aws-sdk/client-dynamodb";
import { CreateEventBusCommand } from "@aws-sdk/client-eventbridge";
import { CreateSecretCommand } from "@aws-sdk/client-secrets-manager";
import { EventPublisher } from "#aws/event-publisher.ts";
import { FailureStreaks } from "#aws/failure-streaks.ts";
import { LeaseTable } from "#aws/lease.ts";
import { DUE_INDEX_DEFINITION, dueShardOf, KeyRecords } from "#aws/record-store.ts";
import { CURRENT, SecretStore } from "#aws/secret-store.ts";
import { TokenStore } from "#aws/token-store.ts";
import { DEFAULT_DUE_HORIZON_MS } from "#engine/monitor.ts";
import { PinnedCredentials } from "#engine/pinned.ts";
import { Tag } from "#engine/settings.ts";
import { createMonitorHandler } from "#handlers/monitor.ts";
import { createRefreshHandler } from "#handlers/refresh.ts";
import { pinnedFromTags } from "#sandbox/pin-from-tags.ts";
import { type AwsCall, benchAws, countByOperation, countOf } from "./aws.ts";
import { HOUR, MINUTE, timed } from "./scenarios.ts";

const NOW = new Date("2026-11-22T10:00:00Z");
const BUS_NAME = "keyturn";
/** Where no vendor answers: a sweep with nothing due must not call one. */
const NO_VENDOR = "http://127.0.0.1:9";
const CONTEXT = { getRemainingTimeInMillis: () => 900_000, awsRequestId: "bench-sweep" };

export interface SweepFigures {
  credentials: number;
  listCalls: number;
  getCalls: number;
  /** Every AWS call of the keyturn sweep, by Service.Operation. */
  byOperation: Record<string, number>;
  ms: number;
  cpuMs: number;
  /** Time spent inside ListSecrets calls (moto answering, the SDK parsing). */
  listingMs: number;
  /** Every keyturn sweep's wall time; `ms` is their median. */
  sweepRunsMs: number[];
  /** Mean time of one ListSecrets page in the keyturn sweep. */
  listMsPerCall: number;
  naive: { byOperation: Record<string, number>; ms: number; cpuMs: number; getMsPerCall: number };
  naiveMs: number;
  speedup: number;
  /** One run of the refresh function over the same fleet (no refresh credential in it). */
  refreshListing: { byOperation: Record<string, number>; ms: number; cpuMs: number };
  createMs: number;
}

function credentialValue(i: number) {
  return JSON.stringify({
    provider: "immuta-request",
    region: "na",
    token: randomBytes(32).toString("base64url"),
    keyId: randomUUID(),
    expiresAt: "2027-06-01T00:00:00.000Z",
    name: `fleet-${i}`,
  });
}

function tagsOf(i: number) {
  return {
    [Tag.provider]: "immuta-request",
    [Tag.credential]: `keyturn/fleet-${i}`,
    [Tag.keyId]: `key-${i}`,
    [Tag.expiresAt]: "2027-06-01T00:00:00.000Z",
    [Tag.reconciledAt]: NOW.toISOString(),
  };
}

const SWEEP_RUNS = 3;

const sum = (calls: AwsCall[], operation: string) =>
  calls.filter((c) => c.operation === operation).reduce((total, c) => total + c.ms, 0);
const mean = (calls: AwsCall[], operation: string) =>
  sum(calls, operation) / Math.max(1, calls.filter((c) => c.operation === operation).length);

export async function measureSweep(
  endpoint: string,
  credentials: number,
  progress: (line: string) => void,
): Promise<SweepFigures> {
  const aws = benchAws(endpoint);
  await aws.eventBridge.send(new CreateEventBusCommand({ Name: BUS_NAME }));
  const created = await timed(async () => {
    for (let i = 0; i < credentials; i++) {
      await aws.secretsManager.send(
        new CreateSecretCommand({
          Name: `keyturn/fleet-${i}`,
          SecretString: credentialValue(i),
          Tags: Object.entries(tagsOf(i)).map(([Key, Value]) => ({ Key, Value })),
        }),
      );
      if ((i + 1) % 1000 === 0 || i + 1 === credentials) {
        progress(`fleet: created ${i + 1} of ${credentials} secrets`);
      }
    }
  });

  const store = new SecretStore(aws.secretsManager);
  const publisher = new EventPublisher(aws.eventBridge, BUS_NAME);
  // What a deployment of a config listing the fleet pins.
  const pinned = new PinnedCredentials();
  for (let i = 0; i < credentials; i++) {
    const credential = pinnedFromTags(`keyturn/fleet-${i}`, credentialValue(i), tagsOf(i));
    if (credential) pinned.pin(credential);
  }
  const monitor = createMonitorHandler({
    // Nothing is due: no credential's record is read. The benchmark's account has no records
    // table, so the claim of the departures scan and the scan find none (both tolerated).
    records: new KeyRecords(aws.dynamodb, "keyturn-records"),
    failureStreaks: new FailureStreaks(aws.dynamodb, "keyturn-records"),
    store,
    pinned,
    publisher,
    now: () => NOW,
    rotate: async () => {
      throw new Error("no rotation is due in the benchmark's sweep");
    },
    orphanSafetyMarginMs: HOUR,
    reconcileIntervalMs: 6 * HOUR,
    stuckAfterMs: 6 * HOUR,
    http: { endpointOverride: NO_VENDOR },
  });

  const sweepOnce = async (run: number) => {
    progress(`fleet: keyturn sweep ${run} of ${SWEEP_RUNS} over ${credentials} credentials`);
    const mark = aws.log.calls.length;
    const sweep = await timed(() => monitor({}, CONTEXT));
    if (sweep.value.credentials !== credentials || sweep.value.failures.length > 0) {
      throw new Error(
        `The benchmark's sweep saw ${sweep.value.credentials} of ${credentials} credentials, ` +
          `failures: ${JSON.stringify(sweep.value.failures.slice(0, 3))}`,
      );
    }
    return { ...sweep, calls: aws.log.since(mark) };
  };
  // The sweep runs before and after the naive one; the median of the three stands, so that a
  // neighbour loading the machine for a while weighs on one run, not on the figure.
  const sweeps = [await sweepOnce(1)];

  progress(`fleet: naive sweep (a GetSecretValue per credential, minutes on moto)`);
  let mark = aws.log.calls.length;
  const naive = await timed(async () => {
    let expiring = 0;
    for await (const page of store.listTagged(Tag.provider)) {
      for (const description of page) {
        const version = await store.read(description.arn, { stage: CURRENT });
        const value = JSON.parse(version?.secretString ?? "{}") as { expiresAt?: string };
        if (Date.parse(value.expiresAt ?? "") - NOW.getTime() < 30 * 24 * HOUR) expiring++;
      }
    }
    return expiring;
  });
  const naiveCalls = aws.log.since(mark);
  for (let run = 2; run <= SWEEP_RUNS; run++) sweeps.push(await sweepOnce(run));
  const sweep = [...sweeps].sort((a, b) => a.wallMs - b.wallMs)[Math.floor(SWEEP_RUNS / 2)] ?? sweeps[0];
  if (!sweep) throw new Error("no sweep ran");
  const sweepCalls = sweep.calls;

  progress("fleet: one refresh run over the same fleet");
  const refresh = createRefreshHandler({
    store,
    pinned,
    tokens: new TokenStore(aws.ssm),
    leases: new LeaseTable(aws.dynamodb, "keyturn-leases"),
    publisher,
    now: () => NOW,
    http: { endpointOverride: NO_VENDOR },
    parameterPrefix: "/keyturn/tokens",
    intervalMs: 2 * MINUTE,
    minRemainingMs: 2 * MINUTE,
  });
  mark = aws.log.calls.length;
  const refreshRun = await timed(() => refresh({}, CONTEXT));
  const refreshCalls = aws.log.since(mark);

  return {
    credentials,
    listCalls: countOf(sweepCalls, "SecretsManager", "ListSecrets"),
    getCalls: countOf(sweepCalls, "SecretsManager", "GetSecretValue"),
    byOperation: countByOperation(sweepCalls),
    ms: sweep.wallMs,
    cpuMs: sweep.cpuMs,
    listingMs: sum(sweepCalls, "ListSecrets"),
    sweepRunsMs: sweeps.map((run) => run.wallMs),
    listMsPerCall: mean(sweepCalls, "ListSecrets"),
    naive: {
      byOperation: countByOperation(naiveCalls),
      ms: naive.wallMs,
      cpuMs: naive.cpuMs,
      getMsPerCall: mean(naiveCalls, "GetSecretValue"),
    },
    naiveMs: naive.wallMs,
    speedup: naive.wallMs / sweep.wallMs,
    refreshListing: {
      byOperation: countByOperation(refreshCalls),
      ms: refreshRun.wallMs,
      cpuMs: refreshRun.cpuMs,
    },
    createMs: created.wallMs,
  };
}

/** The due sweep's figures (issue 16): `sweep.due` in the JSON. */
export interface DueSweepFigures {
  credentials: number;
  /** `awsMs`: of `ms`, the time spent waiting for AWS (moto) answers. */
  nothingDue: { awsCalls: number; ms: number; awsMs: number; byOperation: Record<string, number> };
  onePercentDue: {
    dueCredentials: number;
    awsCalls: number;
    ms: number;
    awsMs: number;
    byOperation: Record<string, number>;
  };
  /** What one invocation can do: due credentials per minute, and calls per due credential. */
  capacity: { dueCredentialsPerMinute: number; awsCallsPerDueCredential: number };
  /** Writing the records (BatchWriteItem, 25 a call) and the due credentials' secrets. */
  createMs: number;
}

const DUE_RECORDS_TABLE = "keyturn-due-records";
const CLUSTER = "acme.cloud.incorta.com";

/** An Incorta v2 PAT's value and tags, expiring 20 days after NOW: its 30-day notice is due. */
function patOf(i: number) {
  const name = `keyturn/due-${i}`;
  const expiresAt = new Date(NOW.getTime() + 20 * 24 * HOUR).toISOString();
  const value = JSON.stringify({
    provider: "incorta-v2",
    clusterUrl: `https://${CLUSTER}/incorta`,
    tenantName: "analytics",
    token: randomBytes(24).toString("base64url"),
    keyId: `pat-${i}`,
    expiresAt,
  });
  const tags = {
    [Tag.provider]: "incorta-v2",
    [Tag.credential]: name,
    [Tag.keyId]: `pat-${i}`,
    [Tag.expiresAt]: expiresAt,
  };
  return { name, value, tags };
}

/**
 * The due sweep at fleet scale: `credentials` records in keyturn's records table (with the due
 * index), all pinned, written with BatchWriteItem (25 a call); secrets exist only for the 1% made
 * due (an Incorta v2 PAT whose 30-day expiry notice is due: Credential Expiring and Manual
 * Rotation Required, no vendor call). First a due sweep with nothing due, then one with 1% due.
 */
export async function measureDueSweep(
  endpoint: string,
  credentials: number,
  progress: (line: string) => void,
): Promise<DueSweepFigures> {
  const aws = benchAws(endpoint);
  await aws.eventBridge.send(new CreateEventBusCommand({ Name: BUS_NAME }));
  await aws.dynamodb.send(
    new CreateTableCommand({
      TableName: DUE_RECORDS_TABLE,
      AttributeDefinitions: [
        { AttributeName: "credential", AttributeType: "S" },
        ...DUE_INDEX_DEFINITION.attributes,
      ],
      KeySchema: [{ AttributeName: "credential", KeyType: "HASH" }],
      GlobalSecondaryIndexes: [
        { ...DUE_INDEX_DEFINITION.index, KeySchema: [...DUE_INDEX_DEFINITION.index.KeySchema] },
      ],
      BillingMode: "PAY_PER_REQUEST",
    }),
  );
  const pinned = new PinnedCredentials();
  const dueEvery = 100;
  // As keyturn's own writes leave a record (KeyRecords.setDue): in the due index when due within
  // the horizon (a week), parked out of it (no shard) when due later.
  const record = (i: number, dueAt: number) => ({
    PutRequest: {
      Item: {
        credential: { S: `keyturn/due-${i}` },
        keys: { SS: [`pat-${i}`] },
        ...(dueAt <= NOW.getTime() + DEFAULT_DUE_HORIZON_MS
          ? { dueShard: { S: dueShardOf(`keyturn/due-${i}`) } }
          : {}),
        nextDueAt: { N: String(dueAt) },
      },
    },
  });
  const writeRecords = async (indexes: number[], dueAt: (i: number) => number) => {
    for (let at = 0; at < indexes.length; at += 25) {
      let items: Record<string, unknown>[] = indexes.slice(at, at + 25).map((i) => record(i, dueAt(i)));
      while (items.length > 0) {
        const answer = await aws.dynamodb.send(
          new BatchWriteItemCommand({ RequestItems: { [DUE_RECORDS_TABLE]: items as never } }),
        );
        items = (answer.UnprocessedItems?.[DUE_RECORDS_TABLE] ?? []) as Record<string, unknown>[];
      }
    }
  };
  const all = Array.from({ length: credentials }, (_, i) => i);
  const due = all.filter((i) => i % dueEvery === 0);
  // Not due for a month or more: spread, as a real fleet's due times are.
  const later = (i: number) => NOW.getTime() + 30 * 24 * HOUR + (i % 10_000) * MINUTE;
  const created = await timed(async () => {
    for (let at = 0; at < credentials; at += 10_000) {
      await writeRecords(all.slice(at, at + 10_000), later);
      progress(`due sweep: wrote ${Math.min(at + 10_000, credentials)} of ${credentials} records`);
    }
    for (const i of all) {
      const { name, value, tags } = patOf(i);
      const credential = pinnedFromTags(name, value, tags);
      if (credential) pinned.pin(credential);
    }
    for (const [n, i] of due.entries()) {
      const { name, value, tags } = patOf(i);
      await aws.secretsManager.send(
        new CreateSecretCommand({
          Name: name,
          SecretString: value,
          Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
        }),
      );
      if ((n + 1) % 250 === 0) progress(`due sweep: created ${n + 1} of ${due.length} due secrets`);
    }
  });
  const monitor = createMonitorHandler({
    records: new KeyRecords(aws.dynamodb, DUE_RECORDS_TABLE),
    failureStreaks: new FailureStreaks(aws.dynamodb, DUE_RECORDS_TABLE),
    store: new SecretStore(aws.secretsManager),
    pinned,
    publisher: new EventPublisher(aws.eventBridge, BUS_NAME),
    now: () => NOW,
    rotate: async () => {
      throw new Error("no rotation is due in the benchmark's due sweep");
    },
    orphanSafetyMarginMs: HOUR,
    reconcileIntervalMs: 6 * HOUR,
    stuckAfterMs: 6 * HOUR,
    http: { endpointOverride: NO_VENDOR },
  });
  const dueSweep = async (expected: number) => {
    const mark = aws.log.calls.length;
    const run = await timed(() => monitor({ mode: "due" }, CONTEXT));
    const report = run.value;
    if (report.due !== expected || report.failures.length > 0 || report.expiring.length !== expected) {
      throw new Error(
        `The benchmark's due sweep found ${report.due} due (expected ${expected}), ${report.expiring.length} ` +
          `notices, failures: ${JSON.stringify(report.failures.slice(0, 3))}`,
      );
    }
    const calls = aws.log.since(mark);
    const awsMs = calls.reduce((total, call) => total + call.ms, 0);
    return { awsCalls: calls.length, ms: run.wallMs, awsMs, byOperation: countByOperation(calls) };
  };
  progress(`due sweep: ${credentials} records, nothing due`);
  const nothingDue = await dueSweep(0);
  await writeRecords(due, () => NOW.getTime() - HOUR);
  progress(`due sweep: ${credentials} records, ${due.length} due`);
  const onePercent = await dueSweep(due.length);
  return {
    credentials,
    nothingDue,
    onePercentDue: { dueCredentials: due.length, ...onePercent },
    capacity: {
      dueCredentialsPerMinute: Math.round((due.length * MINUTE) / onePercent.ms),
      awsCallsPerDueCredential: onePercent.awsCalls / due.length,
    },
    createMs: created.wallMs,
  };
}
