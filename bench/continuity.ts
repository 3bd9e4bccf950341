// The continuity benchmark (issue 19): do the applications that use the keys keep working across
// keyturn's rotations and revocations? Consumers read their credential through keyturn/consumer
// (consumer/index.ts) and call the vendor simulators over real HTTP with it, on an injected clock,
// while keyturn rotates every automatic credential on schedule (Immuta, and SoftwareOne's consumer
// token and its issuing administrator), the monitor sweeps on its schedule and revokes each previous
// key after its grace period, and one emergency revoke kills a key at once. The grace period (10
// minutes) is deliberately shorter than the consumers' cache (30 minutes): without usage reports a
// consumer may still hold a previous key when the sweep revokes it; with them, the monitor waits.
//
// The same week is played twice, in a fresh moto account and fresh simulators each time: once with
// every consumer reporting its key id (`report`), once with none reporting. Each consumer makes one
// call per simulated minute (no denser or sparser anywhere: 20 consumers over 7 days is 201,600
// calls, less the few minutes each consumer starts late so that their caches are not all read in
// the same minute).
//
//   calls    the application's calls (withCredential), each one real HTTP call to a simulator,
//            or two when the vendor refused the key and the library read it again;
//   failed   vendor refusals (401/403) of a key the lifecycle retired (a previous key revoked while
//            a consumer still held it), plus calls that threw: what the reports are meant to prevent;
//   emergencyFailedPerConsumer  refusals of the keys the emergency revoke killed, per consumer of
//            that credential, the most any had (the library re-reads on the first).
//
// The handler modules are imported only when a week is played, after bench/run.ts has set their
// environment: they read it once at load, as in Lambda. So bench/report.ts may import this module.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EventPublisher } from "#aws/event-publisher.ts";
import { FailureStreaks } from "#aws/failure-streaks.ts";
import { KeyRecords } from "#aws/record-store.ts";
import { createUsageTable, UsageReports } from "#aws/usage-store.ts";
import { Tag } from "#engine/settings.ts";
import { ManualClock } from "#sandbox/simulators/clock.ts";
import { IMMUTA_REGIONS, startImmutaSimulator } from "#sandbox/simulators/immuta.ts";
import {
  SOFTWAREONE_ADMIN_MODULE,
  SOFTWAREONE_HOST,
  startSoftwareOneSimulator,
} from "#sandbox/simulators/softwareone.ts";
import { type CredentialValue, createConsumer } from "../consumer/index.ts";
import { bundleLambda } from "./lambda-build.ts";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const START = new Date("2026-11-22T10:00:00Z");
const BUS_NAME = "keyturn";
const USAGE_TABLE = "keyturn-usage";

export interface ContinuityOptions {
  /** Default 20. */
  consumers?: number;
  /** Simulated days. Default 7. */
  days?: number;
  /** The consumers' cache max age. Default 30 minutes. */
  cacheMaxAgeMs?: number;
  /** The credentials' grace period (a keyturn:grace-period tag). Default "10m", shorter than the cache. */
  gracePeriod?: string;
  /**
   * The credentials' in-use window (a keyturn:in-use-window tag). Default "1h": longer than the
   * cache max age, since a consumer reports its key when it reads it and may hold it that long.
   */
  inUseWindow?: string;
  /** The monitor's schedule. Default every 15 minutes. */
  sweepEveryMs?: number;
  /** Each automatic credential's rotation schedule. Default daily. */
  rotateEveryMs?: number;
  /**
   * How often each consumer calls outside the minutes where a call can meet a retired key (from
   * each rotation and the emergency revoke until the caches have all been read again): every
   * minute by default, as the issue asks; the test thins the quiet hours to stay short.
   */
  quietCallEveryMs?: number;
  /** Skips the esbuild build of the consumer bundle (tests); libraryBundleBytes is then 0. */
  bundle?: boolean;
  progress?: (line: string) => void;
}

export interface ContinuityRun {
  calls: number;
  failed: number;
}

export interface ContinuityFigures {
  consumers: number;
  withReporting: ContinuityRun;
  withoutReporting: ContinuityRun;
  emergencyFailedPerConsumer: number;
  libraryBundleBytes: number;
}

/** One week played: the counts, and what the run did (for the progress lines). */
interface PlayedWeek extends ContinuityRun {
  emergencyRefusals: number[];
  rotations: number;
  sweeps: number;
  revoked: number;
  postponed: number;
  sweepFailures: number;
}

/** A small consumer Lambda that imports keyturn/consumer, bundled as the stack bundles keyturn's own. */
export const CONSUMER_LAMBDA = `import { withCredential } from "keyturn/consumer";

export const handler = async () =>
  withCredential(process.env.CREDENTIAL ?? "", async (value) => {
    const response = await fetch("https://vendor.example.com/v1/me", {
      headers: { authorization: \`Bearer \${String(value.token)}\` },
    });
    return { statusCode: response.status };
  });
`;

/** The bytes of CONSUMER_LAMBDA's bundle, and the inputs it took from the project and node_modules. */
export async function consumerBundle(): Promise<{ bytes: number; inputs: string[] }> {
  const outdir = mkdtempSync(join(tmpdir(), "keyturn-consumer-bundle-"));
  try {
    const built = await bundleLambda({ contents: CONSUMER_LAMBDA, name: "consumer-lambda.ts" }, outdir);
    return { bytes: built.bytes, inputs: Object.keys(built.metafile.inputs) };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

export async function continuity(
  endpoint: string,
  options: ContinuityOptions = {},
): Promise<ContinuityFigures> {
  const progress = options.progress ?? (() => {});
  const consumers = options.consumers ?? 20;
  // The two weeks share nothing (an account, simulators and a clock each): played side by side.
  const [withReporting, withoutReporting] = await Promise.all([
    playWeek(endpoint, { ...options, consumers, report: true }),
    playWeek(endpoint, { ...options, consumers, report: false }),
  ]);
  progress(`continuity with reporting: ${describe(withReporting)}`);
  progress(`continuity without reporting: ${describe(withoutReporting)}`);
  const libraryBundleBytes = options.bundle === false ? 0 : (await consumerBundle()).bytes;
  return {
    consumers,
    withReporting: { calls: withReporting.calls, failed: withReporting.failed },
    withoutReporting: { calls: withoutReporting.calls, failed: withoutReporting.failed },
    emergencyFailedPerConsumer: Math.max(
      0,
      ...withReporting.emergencyRefusals,
      ...withoutReporting.emergencyRefusals,
    ),
    libraryBundleBytes,
  };
}

function describe(run: PlayedWeek): string {
  return (
    `${run.calls} calls, ${run.failed} failed; ${run.rotations} rotations, ${run.sweeps} sweeps ` +
    `(${run.revoked} revocations, ${run.postponed} postponements, ${run.sweepFailures} sweep failures); ` +
    `emergency refusals per consumer ${JSON.stringify(run.emergencyRefusals)}`
  );
}

/** The URL a consumer calls with its key: a cheap authenticated read at its vendor's simulator. */
interface Vendor {
  url: string;
  header: (value: CredentialValue) => string;
}

async function playWeek(
  endpoint: string,
  options: ContinuityOptions & { consumers: number; report: boolean },
): Promise<PlayedWeek> {
  const days = options.days ?? 7;
  const maxAgeMs = options.cacheMaxAgeMs ?? 30 * MINUTE;
  const sweepEveryMs = options.sweepEveryMs ?? 15 * MINUTE;
  const rotateEveryMs = options.rotateEveryMs ?? DAY;
  const { createMonitorHandler } = await import("#handlers/monitor.ts");
  const { RECORDS_TABLE } = await import("#sandbox/local-keyturn.ts");
  const clock = new ManualClock(START);
  const immuta = await startImmutaSimulator({ clock });
  const softwareone = await startSoftwareOneSimulator({ clock });
  // The benchmark's world (bench/scenarios.ts), imported once the handlers' environment is set.
  const { startBenchWorld } = await import("./scenarios.ts");
  const world = await startBenchWorld(
    endpoint,
    clock,
    {
      ...Object.fromEntries(IMMUTA_REGIONS.map((region) => [`${region}.api.immutacloud.com`, immuta.url])),
      [SOFTWAREONE_HOST]: softwareone.url,
    },
    [immuta, softwareone],
  );
  try {
    const { aws, keyturn } = world;
    await createUsageTable(aws.dynamodb, USAGE_TABLE);
    const http = { endpointOverride: world.vendorEndpoint };
    const context = { getRemainingTimeInMillis: () => 120_000, awsRequestId: "continuity" };
    // The world's monitor as the stack wires it: with the usage table (KEYTURN_USAGE_TABLE).
    const monitor = createMonitorHandler({
      store: keyturn.store,
      records: new KeyRecords(aws.dynamodb, RECORDS_TABLE),
      failureStreaks: new FailureStreaks(aws.dynamodb, RECORDS_TABLE),
      pinned: keyturn.pinned,
      publisher: new EventPublisher(aws.eventBridge, BUS_NAME),
      now: () => new Date(clock.now()),
      http,
      rotate: async (secretId) => {
        await keyturn.rotate(secretId);
      },
      orphanSafetyMarginMs: HOUR,
      reconcileIntervalMs: 6 * HOUR,
      stuckAfterMs: 6 * HOUR,
      usage: new UsageReports(aws.dynamodb, USAGE_TABLE),
    });
    const lifecycle = {
      [Tag.gracePeriod]: options.gracePeriod ?? "10m",
      [Tag.inUseWindow]: options.inUseWindow ?? "1h",
    };

    // The automatic credentials: an Immuta token, a SoftwareOne consumer token and its issuer.
    const immutaName = "keyturn/immuta-app";
    const user = immuta.createUser("na", { name: "continuity" });
    const expiresAt = new Date(clock.now() + 90 * DAY);
    const seeded = immuta.seedToken("na", user.userId, {
      description: immutaName,
      expirationDate: expiresAt,
    });
    await keyturn.createSecret(
      immutaName,
      {
        provider: "immuta-request",
        region: "na",
        token: seeded.token,
        keyId: seeded.tokenId,
        expiresAt: expiresAt.toISOString(),
      },
      {
        [Tag.provider]: "immuta-request",
        [Tag.credential]: immutaName,
        [Tag.keyLifetime]: "90d",
        ...lifecycle,
      },
    );
    const { accountId } = softwareone.createAccount({ name: "Continuity Co" });
    const admin = "keyturn/softwareone-admin";
    const catalog = "keyturn/softwareone-catalog";
    for (const [name, modules, tags] of [
      [admin, [SOFTWAREONE_ADMIN_MODULE], {}],
      [catalog, ["MOD-1001"], { [Tag.issuer]: admin }],
    ] as const) {
      const token = softwareone.seedToken(accountId, { name, modules: [...modules], admin: name === admin });
      await keyturn.createSecret(
        name,
        {
          provider: "softwareone",
          token: token.token,
          keyId: token.id,
          accountId,
          name,
          modules: [...modules],
        },
        { [Tag.provider]: "softwareone", [Tag.credential]: name, ...lifecycle, ...tags },
      );
    }
    const bearer = (value: CredentialValue) => `Bearer ${String(value.token)}`;
    const vendors: Record<string, Vendor> = {
      [immutaName]: { url: `${immuta.url}/na.api.immutacloud.com/marketplace/api/auth/user`, header: bearer },
      [catalog]: {
        url: `${softwareone.url}/${SOFTWAREONE_HOST}/public/v1/accounts/modules`,
        header: bearer,
      },
    };

    // The schedule: each automatic credential rotates every rotateEveryMs, each at its own time
    // of day drifting 7 minutes a day (so that rotations meet the sweeps and the caches at every
    // phase); one emergency revoke of the Immuta token's current key half-way through.
    const rotations = [
      { name: immutaName, firstAt: 2 * HOUR + 7 * MINUTE },
      { name: catalog, firstAt: 5 * HOUR + 31 * MINUTE },
      { name: admin, firstAt: 9 * HOUR + 53 * MINUTE },
    ];
    const due = new Map<number, string[]>();
    for (const rotation of rotations) {
      for (let at = rotation.firstAt; at < days * DAY; at += rotateEveryMs + 7 * MINUTE) {
        const minute = Math.floor(at / MINUTE);
        due.set(minute, [...(due.get(minute) ?? []), rotation.name]);
      }
    }
    const emergencyMinute = Math.floor((Math.floor(days / 2) * DAY + 13 * HOUR + 43 * MINUTE) / MINUTE);

    // The consumers: half on each consumed credential, joining one after another over the first
    // cache period, so that their caches expire at different minutes.
    const apps = Array.from({ length: options.consumers }, (_, i) => ({
      index: i,
      credential: i % 2 === 0 ? immutaName : catalog,
      joinsAt: Math.floor((i * maxAgeMs) / options.consumers / MINUTE),
      consumer: createConsumer({
        client: aws.secretsManager,
        maxAgeMs,
        now: () => clock.now(),
        report: options.report ? { table: USAGE_TABLE, consumer: `app-${i}`, client: aws.dynamodb } : false,
      }),
    }));

    const played: PlayedWeek = {
      calls: 0,
      failed: 0,
      emergencyRefusals: apps.filter((app) => app.credential === immutaName).map(() => 0),
      rotations: 0,
      sweeps: 0,
      revoked: 0,
      postponed: 0,
      sweepFailures: 0,
    };
    /** The keys the emergency revoke killed (its leaked key, and any other it revoked with it). */
    let emergencyKilled = new Set<string>();

    const call = async (app: (typeof apps)[number]) => {
      const vendor = vendors[app.credential] as Vendor;
      played.calls++;
      try {
        await app.consumer.withCredential(app.credential, async (value) => {
          const response = await fetch(vendor.url, { headers: { authorization: vendor.header(value) } });
          await response.arrayBuffer();
          if (response.status === 401 || response.status === 403) {
            if (emergencyKilled.has(value.keyId)) {
              const slot = Math.floor(app.index / 2);
              played.emergencyRefusals[slot] = (played.emergencyRefusals[slot] ?? 0) + 1;
            } else {
              played.failed++;
            }
          }
          return response;
        });
      } catch {
        played.failed++;
      }
    };

    const minutes = Math.floor((days * DAY) / MINUTE);
    // Where a call can meet a retired key: from a rotation or the emergency until every cache has
    // been read again (a consumer holds a key at most maxAgeMs after it read it).
    const hot = new Set<number>();
    for (const start of [...due.keys(), emergencyMinute]) {
      for (let minute = start; minute <= start + Math.ceil(maxAgeMs / MINUTE); minute++) hot.add(minute);
    }
    const quietEvery = Math.max(1, Math.round((options.quietCallEveryMs ?? MINUTE) / MINUTE));
    const sweepEvery = Math.max(1, Math.round(sweepEveryMs / MINUTE));
    for (let minute = 0; minute < minutes; minute++) {
      clock.set(START.getTime() + minute * MINUTE);
      for (const name of due.get(minute) ?? []) {
        const rotation = await keyturn.rotate(name);
        if (!rotation.succeeded) throw new Error(`continuity: the rotation of ${name} failed`);
        played.rotations++;
      }
      if (minute === emergencyMinute) {
        const live = new Set(immuta.liveTokens().map((token) => token.tokenId));
        const leaked = (await keyturn.read(immutaName)).keyId;
        await keyturn.revoke({ credential: immutaName, keyId: leaked, reason: "continuity benchmark" });
        const after = new Set(immuta.liveTokens().map((token) => token.tokenId));
        emergencyKilled = new Set([...live].filter((keyId) => !after.has(keyId)));
      }
      if (minute % sweepEvery === 0) {
        const report = await monitor({}, context);
        played.sweeps++;
        played.revoked += report.revoked.length;
        played.postponed += report.postponed.length;
        played.sweepFailures += report.failures.length;
      }
      if (!hot.has(minute) && minute % quietEvery !== 0) continue;
      await Promise.all(apps.filter((app) => minute >= app.joinsAt).map(call));
    }
    return played;
  } finally {
    await world.close();
  }
}

/** The continuity figures for people (`npm run bench` without --json). */
export function continuityTable(figures: ContinuityFigures): string {
  const verdict = (ok: boolean) => (ok ? "met" : "MISSED");
  return [
    `Continuity: ${figures.consumers} consumers through keyturn/consumer, one real HTTP call to the simulators per ` +
      "simulated minute over a week, daily rotations of every automatic credential, one emergency revoke, sweeps " +
      "every 15 minutes, a 10-minute grace period under a 30-minute cache.",
    `  with usage reports      ${figures.withReporting.calls} calls, ${figures.withReporting.failed} failed ` +
      `(target 0: ${verdict(figures.withReporting.failed === 0 && figures.withReporting.calls > 0)})`,
    `  without usage reports   ${figures.withoutReporting.calls} calls, ${figures.withoutReporting.failed} failed`,
    `  emergency revoke        ${figures.emergencyFailedPerConsumer} failed call per consumer at most ` +
      `(target <= 1: ${verdict(figures.emergencyFailedPerConsumer <= 1)})`,
    `  consumer Lambda bundle  ${(figures.libraryBundleBytes / 1024).toFixed(0)} KiB (keyturn/consumer and the AWS SDK clients it uses)`,
  ].join("\n");
}
