// keyturn wired for a local run, as the stack wires it in AWS: the real rotate, monitor,
// refresh and revoke handlers, on the AWS clients given (moto) and the vendor hub, with an injected
// clock. Used by the demo and the tests, so that both drive the same thing.

import { CreateTableCommand, type DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import {
  CreateSecretCommand,
  GetSecretValueCommand,
  ListSecretVersionIdsCommand,
  type SecretsManagerClient,
} from "@aws-sdk/client-secrets-manager";
import type { SQSClient } from "@aws-sdk/client-sqs";
import type { SSMClient } from "@aws-sdk/client-ssm";
import { EmergencyCooldowns } from "#aws/emergency-cooldown.ts";
import { EventPublisher } from "#aws/event-publisher.ts";
import { FailureStreaks } from "#aws/failure-streaks.ts";
import { LeaseTable } from "#aws/lease.ts";
import { KeyRecords } from "#aws/record-store.ts";
import { SecretStore } from "#aws/secret-store.ts";
import { type StoredTokens, TokenStore, tokenParameterName } from "#aws/token-store.ts";
import type { EmergencyOutcome } from "#engine/emergency.ts";
import { type AcceptedKey, acceptKey } from "#engine/manual.ts";
import type { MonitorReport } from "#engine/monitor.ts";
import { PinnedCredentials } from "#engine/pinned.ts";
import type { RefreshReport } from "#engine/refresh.ts";
import { createMonitorHandler } from "#handlers/monitor.ts";
import { createRefreshHandler } from "#handlers/refresh.ts";
import { createRelayHandler } from "#handlers/relay.ts";
import { createRevokeHandler } from "#handlers/revoke.ts";
import { createRotateHandler } from "#handlers/rotate.ts";
import { vendorHttp } from "#handlers/vendor-http.ts";
import type { HttpClientOptions } from "#http/client.ts";
import { type EventSubscriber, subscribeToBus } from "./event-subscriber.ts";
import { LEASE_TABLE } from "./local-aws.ts";
import { pinnedFromTags } from "./pin-from-tags.ts";
import { type DrivenRotation, type RotationInvoker, rotateLikeSecretsManager } from "./rotation-driver.ts";
import type { Clock } from "./simulators/clock.ts";

export type StoredValue = Record<string, unknown> & { token: string; keyId: string };

export { LEASE_TABLE };
/** keyturn's records table in a world the test or the demo did not provision from the config. */
export const RECORDS_TABLE = "keyturn-records";
export const TOKEN_PARAMETER_PREFIX = "/keyturn/tokens";

export interface LocalKeyturnOptions {
  clients: {
    secretsManager: SecretsManagerClient;
    eventBridge: EventBridgeClient;
    sqs: SQSClient;
    ssm: SSMClient;
    dynamodb: DynamoDBClient;
  };
  busName: string;
  clock: Clock;
  /** The vendor hub's URL: every vendor call goes there. */
  vendorEndpoint: string;
  orphanSafetyMarginMs: number;
  reconcileIntervalMs: number;
  stuckAfterMs: number;
  /** A sweep action failing this long is critical (default: the monitor's, 24 hours). */
  failureEscalationMs?: number;
  refreshIntervalMs: number;
  minTokenRemainingMs: number;
  /** HTTP client settings for the handlers (tests shorten timeouts and backoff). */
  http?: Partial<HttpClientOptions>;
  /** Default TOKEN_PARAMETER_PREFIX. */
  tokenParameterPrefix?: string;
  /**
   * What sandbox/provision.ts already created from the config, as the stack would: the bus with
   * its subscriber, and the lease table. Default: the bus, the subscriber and LEASE_TABLE are
   * created here.
   */
  provisioned?: { subscriber: EventSubscriber; leaseTable: string; recordsTable: string };
  /**
   * What the deployment pins (sandbox/provision.ts pins the config). Default: an empty set, to
   * which `createSecret` adds each credential as a config saying what its tags say would.
   */
  pinned?: PinnedCredentials;
}

export interface LocalKeyturn {
  store: SecretStore;
  /** keyturn's own records (the records table): what tests inspect, never what a neighbour can write. */
  records: KeyRecords;
  /** What the handlers trust: tests add to it, or tamper with the secrets behind it. */
  pinned: PinnedCredentials;
  subscriber: EventSubscriber;
  invoke: RotationInvoker;
  rotate(secretId: string, options?: Parameters<typeof rotateLikeSecretsManager>[2]): Promise<DrivenRotation>;
  sweep(): Promise<MonitorReport>;
  /** One run of the token refresh, as its schedule would start it. */
  refresh(requestId?: string): Promise<RefreshReport>;
  /** An operator handing over a key (what `keyturn put` does). */
  put(secretId: string, input: Record<string, unknown>): Promise<AcceptedKey>;
  /** The token pair a consumer would read for the credential. */
  storedTokens(credential: string): Promise<StoredTokens | undefined>;
  revoke(request: unknown): Promise<EmergencyOutcome>;
  /**
   * Creates a secret and pins it as a deployment would from a config saying what the tags say;
   * the key id its value holds is recorded, as a handover (`keyturn put`) records it.
   */
  createSecret(name: string, value: string | object, tags: Record<string, string>): Promise<void>;
  /** AWSCURRENT, or the version named. */
  read(secretId: string, versionId?: string): Promise<StoredValue>;
  stages(secretId: string): Promise<Record<string, string[]>>;
  tags(secretId: string): Promise<Record<string, string>>;
}

export async function startLocalKeyturn(options: LocalKeyturnOptions): Promise<LocalKeyturn> {
  const { clients, clock } = options;
  const subscriber = options.provisioned?.subscriber ?? (await subscribeToBus(clients, options.busName));
  const leaseTable = options.provisioned?.leaseTable ?? LEASE_TABLE;
  const tokenParameterPrefix = options.tokenParameterPrefix ?? TOKEN_PARAMETER_PREFIX;
  const store = new SecretStore(clients.secretsManager);
  const pinned = options.pinned ?? new PinnedCredentials();
  const records = new KeyRecords(clients.dynamodb, options.provisioned?.recordsTable ?? RECORDS_TABLE);
  const publisher = new EventPublisher(clients.eventBridge, options.busName);
  const now = () => new Date(clock.now());
  const http = { endpointOverride: options.vendorEndpoint, ...options.http };
  const context = { getRemainingTimeInMillis: () => 120_000, awsRequestId: "local" };

  /** What every handler is given, as the stack gives it to each function. */
  const handlerDeps = { store, records, pinned, publisher, now, http };
  const rotateHandler = createRotateHandler(handlerDeps);
  const invoke: RotationInvoker = (event) => rotateHandler(event, context);
  // A rotation that failed for good is reported by Secrets Manager (RotationFailed, in CloudTrail)
  // and relayed onto the bus by the relay function; moto has neither, so the driver hands the
  // relay the event CloudTrail would deliver.
  const relay = createRelayHandler({ store, publisher });
  const whenFailed = async (secretId: string, token: string) => {
    await relay({
      source: "aws.secretsmanager",
      "detail-type": "AWS Service Event via CloudTrail",
      detail: {
        eventName: "RotationFailed",
        additionalEventData: { SecretId: secretId },
        serviceEventDetails: { versionId: token },
      },
    });
  };
  // moto cannot run a rotation Lambda, so "rotate now" plays Secrets Manager's part with the
  // real rotate handler (sandbox/rotation-driver.ts).
  const rotateNow = async (secretId: string) => {
    const rotation = await rotateLikeSecretsManager(invoke, secretId, { whenFailed });
    if (!rotation.succeeded) throw rotation.failures.at(-1)?.error;
  };
  const monitor = createMonitorHandler({
    ...handlerDeps,
    failureStreaks: new FailureStreaks(clients.dynamodb, options.provisioned?.recordsTable ?? RECORDS_TABLE),
    failureEscalationMs: options.failureEscalationMs,
    rotate: rotateNow,
    orphanSafetyMarginMs: options.orphanSafetyMarginMs,
    reconcileIntervalMs: options.reconcileIntervalMs,
    stuckAfterMs: options.stuckAfterMs,
  });
  const revokeHandler = createRevokeHandler({
    ...handlerDeps,
    cooldowns: new EmergencyCooldowns(clients.dynamodb, options.provisioned?.recordsTable ?? RECORDS_TABLE),
    rotate: rotateNow,
  });
  if (!options.provisioned) {
    for (const [table, key] of [
      [LEASE_TABLE, "lease"],
      [RECORDS_TABLE, "credential"],
    ] as const) {
      await clients.dynamodb.send(
        new CreateTableCommand({
          TableName: table,
          AttributeDefinitions: [{ AttributeName: key, AttributeType: "S" }],
          KeySchema: [{ AttributeName: key, KeyType: "HASH" }],
          BillingMode: "PAY_PER_REQUEST",
        }),
      );
    }
  }

  const tokens = new TokenStore(clients.ssm);
  const refreshHandler = createRefreshHandler({
    store,
    pinned,
    tokens,
    leases: new LeaseTable(clients.dynamodb, leaseTable),
    records,
    publisher,
    now,
    http,
    parameterPrefix: tokenParameterPrefix,
    intervalMs: options.refreshIntervalMs,
    minRemainingMs: options.minTokenRemainingMs,
  });

  // Always name the stage: moto answers a GetSecretValue without one from the version the
  // secret was created with, not from AWSCURRENT as Secrets Manager does.
  const read = async (secretId: string, versionId?: string) => {
    const answer = await clients.secretsManager.send(
      new GetSecretValueCommand({
        SecretId: secretId,
        ...(versionId ? { VersionId: versionId } : { VersionStage: "AWSCURRENT" }),
      }),
    );
    return JSON.parse(answer.SecretString ?? "{}") as StoredValue;
  };

  return {
    store,
    records,
    pinned,
    subscriber,
    invoke,
    rotate: (secretId, driverOptions) =>
      rotateLikeSecretsManager(invoke, secretId, { whenFailed, ...driverOptions }),
    sweep: () => monitor({}, context),
    refresh: (requestId = "local-refresh") => refreshHandler({}, { ...context, awsRequestId: requestId }),
    put: (secretId, input) =>
      acceptKey({ store, records, pinned, publisher, now, http: vendorHttp(context, http) }, secretId, input),
    storedTokens: (credential) => tokens.read(tokenParameterName(credential, tokenParameterPrefix)),
    revoke: (request) => revokeHandler(request, context),
    async createSecret(name, value, tags) {
      const credential = pinnedFromTags(name, value, tags);
      if (credential) pinned.pin(credential);
      await clients.secretsManager.send(
        new CreateSecretCommand({
          Name: name,
          SecretString: typeof value === "string" ? value : JSON.stringify(value),
          Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
        }),
      );
      // Its key was handed over as `keyturn put` hands one over: keyturn records it.
      const keyId = (typeof value === "string" ? {} : (value as { keyId?: unknown })).keyId;
      if (credential && typeof keyId === "string") await records.addKeys(name, [keyId]);
    },
    read,
    async stages(secretId) {
      const answer = await clients.secretsManager.send(
        new ListSecretVersionIdsCommand({ SecretId: secretId, IncludeDeprecated: true }),
      );
      return Object.fromEntries(
        (answer.Versions ?? []).map((version) => [version.VersionId ?? "", version.VersionStages ?? []]),
      );
    },
    tags: async (secretId) => (await store.describe(secretId)).tags,
  };
}
