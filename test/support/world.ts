// A whole keyturn world for one test: an AWS account of its own on the run's moto server, a
// subscriber queue on the keyturn bus, the vendor simulators behind one hub, an injected
// clock, and the real rotate, monitor and revoke handlers wired to all of it.

import {
  CreateSecretCommand,
  GetSecretValueCommand,
  ListSecretVersionIdsCommand,
} from "@aws-sdk/client-secrets-manager";
import { EventPublisher } from "#aws/event-publisher.ts";
import { SecretStore } from "#aws/secret-store.ts";
import type { EmergencyOutcome } from "#engine/emergency.ts";
import type { SweepReport } from "#engine/revocation.ts";
import { createMonitorHandler } from "#handlers/monitor.ts";
import { createRevokeHandler } from "#handlers/revoke.ts";
import { createRotateHandler } from "#handlers/rotate.ts";
import { type EventSubscriber, subscribeToBus } from "#sandbox/event-subscriber.ts";
import { type RotationInvoker, rotateLikeSecretsManager } from "#sandbox/rotation-driver.ts";
import type { ManualClock } from "#sandbox/simulators/clock.ts";
import { startVendorHub, type VendorHub } from "#sandbox/simulators/hub.ts";
import { type IsolatedAws, isolatedAws } from "./aws.ts";

export const BUS_NAME = "keyturn";
export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;
export const TEST_START = new Date("2026-11-22T10:00:00Z");

export type StoredValue = Record<string, unknown> & { token: string; keyId: string };

export interface World {
  aws: IsolatedAws;
  clock: ManualClock;
  hub: VendorHub;
  store: SecretStore;
  subscriber: EventSubscriber;
  invoke: RotationInvoker;
  rotate(
    secretId: string,
    options?: Parameters<typeof rotateLikeSecretsManager>[2],
  ): ReturnType<typeof rotateLikeSecretsManager>;
  sweep(): Promise<SweepReport>;
  revoke(request: unknown): Promise<EmergencyOutcome>;
  createSecret(name: string, value: string | object, tags: Record<string, string>): Promise<void>;
  /** AWSCURRENT, or the version named. */
  read(secretId: string, versionId?: string): Promise<StoredValue>;
  stages(secretId: string): Promise<Record<string, string[]>>;
  tags(secretId: string): Promise<Record<string, string>>;
  close(): Promise<void>;
}

export interface WorldOptions {
  /** Vendor host -> simulator URL, for the hub. */
  vendors: Record<string, string>;
  /** The clock the simulators were given, so that AWS-side and vendor-side time agree. */
  clock: ManualClock;
  orphanSafetyMarginMs?: number;
  reconcileIntervalMs?: number;
}

export async function startWorld(options: WorldOptions): Promise<World> {
  const aws = isolatedAws();
  const { clock } = options;
  const hub = await startVendorHub(options.vendors);
  const subscriber = await subscribeToBus(aws, BUS_NAME);
  const store = new SecretStore(aws.secretsManager);
  const publisher = new EventPublisher(aws.eventBridge, BUS_NAME);
  const now = () => new Date(clock.now());
  const http = {
    endpointOverride: hub.url,
    timeoutMs: 1_000,
    retryBaseMs: 1,
    retryMaxMs: 10,
    sleep: async () => {},
  };
  const context = { getRemainingTimeInMillis: () => 60_000, awsRequestId: "test-request" };

  const rotateHandler = createRotateHandler({ store, publisher, now, http });
  const invoke: RotationInvoker = (event) => rotateHandler(event, context);
  const monitor = createMonitorHandler({
    store,
    publisher,
    now,
    http,
    orphanSafetyMarginMs: options.orphanSafetyMarginMs ?? HOUR,
    reconcileIntervalMs: options.reconcileIntervalMs ?? 0,
  });
  // moto cannot run a rotation Lambda, so the revoke handler's "rotate now" plays Secrets
  // Manager's part with the real rotate handler, as the rotation tests do.
  const revokeHandler = createRevokeHandler({
    store,
    publisher,
    now,
    http,
    rotate: async (secretId) => {
      const rotation = await rotateLikeSecretsManager(invoke, secretId);
      if (!rotation.succeeded) throw rotation.failures.at(-1)?.error;
    },
  });

  // Always name the stage: moto answers a GetSecretValue without one from the version the
  // secret was created with, not from AWSCURRENT as Secrets Manager does.
  const read = async (secretId: string, versionId?: string) => {
    const answer = await aws.secretsManager.send(
      new GetSecretValueCommand({
        SecretId: secretId,
        ...(versionId ? { VersionId: versionId } : { VersionStage: "AWSCURRENT" }),
      }),
    );
    return JSON.parse(answer.SecretString ?? "{}") as StoredValue;
  };

  return {
    aws,
    clock,
    hub,
    store,
    subscriber,
    invoke,
    rotate: (secretId, driverOptions) => rotateLikeSecretsManager(invoke, secretId, driverOptions),
    sweep: () => monitor({}, context),
    revoke: (request) => revokeHandler(request, context),
    async createSecret(name, value, tags) {
      await aws.secretsManager.send(
        new CreateSecretCommand({
          Name: name,
          SecretString: typeof value === "string" ? value : JSON.stringify(value),
          Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
        }),
      );
    },
    read,
    async stages(secretId) {
      const answer = await aws.secretsManager.send(
        new ListSecretVersionIdsCommand({ SecretId: secretId, IncludeDeprecated: true }),
      );
      return Object.fromEntries(
        (answer.Versions ?? []).map((version) => [version.VersionId ?? "", version.VersionStages ?? []]),
      );
    },
    tags: async (secretId) => (await store.describe(secretId)).tags,
    close: () => hub.close(),
  };
}
