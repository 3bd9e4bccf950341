// What the tests of test/security share: worlds that close after each test, with what keyturn
// printed captured for the leak checks, and the hostile neighbour's own moves, made straight at
// Secrets Manager (moto) as someone allowed to tag or write one secret would make them.

import { PutSecretValueCommand, TagResourceCommand } from "@aws-sdk/client-secrets-manager";
import { afterEach, expect } from "vitest";
import { PinnedCredentials } from "#engine/pinned.ts";
import { Tag } from "#engine/settings.ts";
import { LEASE_TABLE, type LocalKeyturn, RECORDS_TABLE, startLocalKeyturn } from "#sandbox/local-keyturn.ts";
import { ManualClock } from "#sandbox/simulators/clock.ts";
import {
  EVERFLOW_HOSTS,
  type EverflowSimulator,
  startEverflowSimulator,
} from "#sandbox/simulators/everflow.ts";
import { eventProblems } from "../support/event-schemas.ts";
import { type ImmutaFixture, immutaFixture } from "../support/immuta-fixture.ts";
import { type CapturedOutput, captureOutput, findLeaks } from "../support/leak-guard.ts";
import { type SoftwareOneFixture, softwareoneFixture } from "../support/softwareone-fixture.ts";
import { startWorld, TEST_START, type World, type WorldOptions } from "../support/world.ts";

/** Sweeps that reconcile at once, and take any marked key for an orphan: what the neighbour hopes for. */
export const EAGER_SWEEPS = { reconcileIntervalMs: 0, orphanSafetyMarginMs: 0 } as const;

type FixtureOptions = Omit<WorldOptions, "vendors" | "clock">;

/** Registers the teardown in the calling test file; each world it starts closes after its test. */
export function neighbourWorlds() {
  const closers: (() => Promise<void>)[] = [];
  let output: CapturedOutput | undefined;
  afterEach(async () => {
    output?.restore();
    output = undefined;
    for (const close of closers.splice(0)) await close();
  });
  const started = <F extends { close(): Promise<void> }>(fx: F): F => {
    closers.push(() => fx.close());
    output ??= captureOutput();
    return fx;
  };
  return {
    immuta: async (options: FixtureOptions = {}): Promise<ImmutaFixture> =>
      started(await immutaFixture(options)),
    softwareone: async (options: FixtureOptions = {}): Promise<SoftwareOneFixture> =>
      started(await softwareoneFixture(options)),
    /** A world with the Everflow simulator behind both of Everflow's hosts. */
    everflow: async (): Promise<{ world: World; everflow: EverflowSimulator }> => {
      const clock = new ManualClock(TEST_START);
      const everflow = await startEverflowSimulator({ clock });
      const world = await startWorld({
        clock,
        vendors: Object.fromEntries(EVERFLOW_HOSTS.map((host) => [host, everflow.url])),
      });
      started({ close: () => world.close().then(() => everflow.close()) });
      return { world, everflow };
    },
    /** Any other world of the test's (a refresh world, a bare world): closed after the test too. */
    adopt: started,
    /** Everything keyturn printed in this test so far. */
    printed: () => output?.text() ?? "",
    /**
     * The events the world's subscriber received since the last drain, each checked against its
     * schema, and with no secret of `secrets` in them or in anything printed.
     */
    async published(world: World, secrets: readonly string[]) {
      const events = await world.subscriber.drain();
      expect(events.flatMap(eventProblems)).toEqual([]);
      expect(findLeaks([JSON.stringify(events), output?.text() ?? ""], secrets)).toEqual([]);
      return events;
    },
  };
}

/** The neighbour tags a secret (TagResource). */
export async function tag(world: World, secretId: string, tags: Record<string, string>): Promise<void> {
  await world.aws.secretsManager.send(
    new TagResourceCommand({
      SecretId: secretId,
      Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
    }),
  );
}

/** The neighbour writes a secret's value (PutSecretValue: it becomes AWSCURRENT). */
export async function writeValue(world: World, secretId: string, value: object): Promise<void> {
  await world.aws.secretsManager.send(
    new PutSecretValueCommand({ SecretId: secretId, SecretString: JSON.stringify(value) }),
  );
}

/**
 * keyturn deployed again from a config without the credentials `removed` (a secret name or
 * several): same account, bus, tables and vendors, as a redeploy of the stack would leave them.
 */
export function redeployWithout(world: World, removed: string | readonly string[]): Promise<LocalKeyturn> {
  const gone = typeof removed === "string" ? [removed] : removed;
  return startLocalKeyturn({
    clients: world.aws,
    busName: "keyturn",
    clock: world.clock,
    vendorEndpoint: world.hub.url,
    ...EAGER_SWEEPS,
    stuckAfterMs: 6 * 3_600_000,
    refreshIntervalMs: 120_000,
    minTokenRemainingMs: 120_000,
    http: { timeoutMs: 1_000, retryBaseMs: 1, retryMaxMs: 10, sleep: async () => {} },
    provisioned: { subscriber: world.subscriber, leaseTable: LEASE_TABLE, recordsTable: RECORDS_TABLE },
    pinned: new PinnedCredentials(
      world.pinned.all().filter((credential) => !gone.includes(credential.secretName)),
    ),
  });
}

/** An Everflow credential keyturn manages, as a person handed its key over: the key's value. */
export async function storeEverflowKey(
  world: World,
  everflow: EverflowSimulator,
  name: string,
): Promise<string> {
  const key = everflow.createKey({ portal: "partner", name: "reporting sync" });
  await world.createSecret(
    name,
    {
      provider: "everflow",
      apiKey: key.key,
      keyId: "reporting sync",
      issuedAt: new Date(world.clock.now()).toISOString(),
    },
    { [Tag.provider]: "everflow", [Tag.credential]: name },
  );
  return key.key;
}
