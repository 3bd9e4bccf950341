// One isolated world for a rotation test: an AWS account of its own in moto, an Immuta
// simulator, a subscriber queue on the keyturn bus, the real rotate handler, and the
// invariant checks of shared/DESIGN.md.

import {
  CreateSecretCommand,
  GetSecretValueCommand,
  ListSecretVersionIdsCommand,
} from "@aws-sdk/client-secrets-manager";
import { EventPublisher } from "#aws/event-publisher.ts";
import { SecretStore } from "#aws/secret-store.ts";
import { Tag } from "#engine/settings.ts";
import { createRotateHandler } from "#handlers/rotate.ts";
import { type EventSubscriber, subscribeToBus } from "#sandbox/event-subscriber.ts";
import { type RotationInvoker, rotateLikeSecretsManager } from "#sandbox/rotation-driver.ts";
import { ManualClock } from "#sandbox/simulators/clock.ts";
import { type ImmutaRegion, type ImmutaSimulator, startImmutaSimulator } from "#sandbox/simulators/immuta.ts";
import { type IsolatedAws, isolatedAws } from "./aws.ts";

export const BUS_NAME = "keyturn";
const DAY = 86_400_000;

export interface ImmutaCredentialOptions {
  name?: string;
  region?: ImmutaRegion;
  /** Secret name of an issuer credential that mints this one's successors. */
  issuer?: string;
  tokenExpiresInMs?: number;
  tags?: Record<string, string>;
  /** Replaces the secret value entirely (for malformed-value tests). */
  rawValue?: string;
}

export interface ImmutaFixture {
  aws: IsolatedAws;
  sim: ImmutaSimulator;
  clock: ManualClock;
  subscriber: EventSubscriber;
  invoke: RotationInvoker;
  userId: string;
  createCredential(
    options?: ImmutaCredentialOptions,
  ): Promise<{ secretId: string; token: string; keyId: string }>;
  rotate(
    secretId: string,
    options?: Parameters<typeof rotateLikeSecretsManager>[2],
  ): ReturnType<typeof rotateLikeSecretsManager>;
  current(secretId: string): Promise<Record<string, unknown> & { token: string; keyId: string }>;
  stages(secretId: string): Promise<Record<string, string[]>>;
  /** The invariants of DESIGN.md "Rotation protocol", as failures (empty when all hold). */
  invariantViolations(secretIds: string[], options?: { rotationFinished?: boolean }): Promise<string[]>;
  close(): Promise<void>;
}

export async function immutaFixture(options: { selfIssue?: boolean } = {}): Promise<ImmutaFixture> {
  const aws = isolatedAws();
  const clock = new ManualClock(new Date("2026-11-22T10:00:00Z"));
  const sim = await startImmutaSimulator({
    clock,
    ...(options.selfIssue === undefined ? {} : { selfIssue: options.selfIssue }),
  });
  const subscriber = await subscribeToBus(aws, BUS_NAME);
  const handler = createRotateHandler({
    store: new SecretStore(aws.secretsManager),
    publisher: new EventPublisher(aws.eventBridge, BUS_NAME),
    now: () => new Date(clock.now()),
    http: {
      endpointOverride: sim.url,
      timeoutMs: 1_000,
      retryBaseMs: 1,
      retryMaxMs: 10,
      sleep: async () => {},
    },
  });
  const context = { getRemainingTimeInMillis: () => 60_000, awsRequestId: "test-request" };
  const invoke: RotationInvoker = (event) => handler(event, context);
  const users = new Map<ImmutaRegion, string>();
  const userIn = (region: ImmutaRegion) => {
    let userId = users.get(region);
    if (!userId) {
      userId = sim.createUser(region, { name: "integration" }).userId;
      users.set(region, userId);
    }
    return userId;
  };
  const userId = userIn("na");

  // Always name the stage: moto answers a GetSecretValue without one from the version the
  // secret was created with, not from AWSCURRENT as Secrets Manager does.
  const read = async (secretId: string, versionId?: string) => {
    const answer = await aws.secretsManager.send(
      new GetSecretValueCommand({
        SecretId: secretId,
        ...(versionId ? { VersionId: versionId } : { VersionStage: "AWSCURRENT" }),
      }),
    );
    return JSON.parse(answer.SecretString ?? "{}") as Record<string, unknown> & {
      token: string;
      keyId: string;
    };
  };
  const stages = async (secretId: string) => {
    const answer = await aws.secretsManager.send(
      new ListSecretVersionIdsCommand({ SecretId: secretId, IncludeDeprecated: true }),
    );
    return Object.fromEntries(
      (answer.Versions ?? []).map((version) => [version.VersionId ?? "", version.VersionStages ?? []]),
    );
  };

  return {
    aws,
    sim,
    clock,
    subscriber,
    invoke,
    userId,
    async createCredential(credential = {}) {
      const region = credential.region ?? "na";
      const name = credential.name ?? `immuta/${region}-integration`;
      const seeded = sim.seedToken(region, userIn(region), {
        description: `created by hand in the Request app for ${name}`,
        expirationDate: new Date(clock.now() + (credential.tokenExpiresInMs ?? 90 * DAY)),
      });
      const value =
        credential.rawValue ??
        JSON.stringify({
          provider: "immuta-request",
          region,
          token: seeded.token,
          keyId: seeded.tokenId,
          expiresAt: new Date(clock.now() + (credential.tokenExpiresInMs ?? 90 * DAY)).toISOString(),
        });
      const tags = {
        [Tag.provider]: "immuta-request",
        [Tag.credential]: name,
        ...(credential.issuer ? { [Tag.issuer]: credential.issuer } : {}),
        ...credential.tags,
      };
      await aws.secretsManager.send(
        new CreateSecretCommand({
          Name: name,
          SecretString: value,
          Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
        }),
      );
      return { secretId: name, token: seeded.token, keyId: seeded.tokenId };
    },
    rotate: (secretId, driverOptions) => rotateLikeSecretsManager(invoke, secretId, driverOptions),
    current: (secretId) => read(secretId),
    stages,
    async invariantViolations(secretIds, checks = {}) {
      const violations: string[] = [];
      const referenced = new Set<string>();
      for (const secretId of secretIds) {
        const versions = await stages(secretId);
        for (const versionId of Object.keys(versions)) {
          referenced.add((await read(secretId, versionId)).keyId);
        }
        const current = await read(secretId);
        if (!sim.isLive(current.token))
          violations.push(`${secretId}: AWSCURRENT does not authenticate at the vendor`);
        const pending = Object.entries(versions).find(([, labels]) => labels.includes("AWSPENDING"));
        if (checks.rotationFinished && pending && !pending[1].includes("AWSCURRENT")) {
          violations.push(
            `${secretId}: AWSPENDING left on version ${pending[0]} after the rotation finished`,
          );
        }
      }
      for (const secretId of secretIds) {
        const live = sim.liveTokens().filter((token) => token.description.includes(secretId));
        if (live.length > 2)
          violations.push(`${secretId}: ${live.length} live keys (at most two outside a rotation)`);
      }
      for (const token of sim.liveTokens()) {
        if (token.description.startsWith("keyturn:") && !referenced.has(token.tokenId)) {
          violations.push(
            `live minted token ${token.tokenId} (${token.description}) is referenced by no secret version`,
          );
        }
      }
      return violations;
    },
    close: () => sim.close(),
  };
}
