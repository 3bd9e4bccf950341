// The world of test/support/world.ts with an Immuta simulator, Immuta credentials, and the
// rotation invariant checks of ./rotation-invariants.ts (docs/testing.md, "Reliability").

import { Tag } from "#engine/settings.ts";
import { markerIn } from "#providers/marker.ts";
import { ManualClock } from "#sandbox/simulators/clock.ts";
import {
  IMMUTA_REGIONS,
  type ImmutaRegion,
  type ImmutaSimulator,
  startImmutaSimulator,
} from "#sandbox/simulators/immuta.ts";
import { rotationInvariantViolations } from "./rotation-invariants.ts";
import { DAY, startWorld, TEST_START, type World, type WorldOptions } from "./world.ts";

export { BUS_NAME, DAY, HOUR, MINUTE } from "./world.ts";

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

export interface ImmutaFixture extends World {
  sim: ImmutaSimulator;
  userId: string;
  createCredential(
    options?: ImmutaCredentialOptions,
  ): Promise<{ secretId: string; token: string; keyId: string }>;
  current(secretId: string): ReturnType<World["read"]>;
  /** The rotation invariants (docs/testing.md, "Reliability"), as failures (empty when all hold). */
  invariantViolations(secretIds: string[], options?: { rotationFinished?: boolean }): Promise<string[]>;
}

export async function immutaFixture(
  options: { selfIssue?: boolean } & Omit<WorldOptions, "vendors" | "clock"> = {},
): Promise<ImmutaFixture> {
  const { selfIssue, ...worldOptions } = options;
  const clock = new ManualClock(TEST_START);
  const sim = await startImmutaSimulator({ clock, ...(selfIssue === undefined ? {} : { selfIssue }) });
  const world = await startWorld({
    ...worldOptions,
    clock,
    vendors: Object.fromEntries(IMMUTA_REGIONS.map((region) => [`${region}.api.immutacloud.com`, sim.url])),
  });
  const users = new Map<ImmutaRegion, string>();
  const userIn = (region: ImmutaRegion) => {
    let userId = users.get(region);
    if (!userId) {
      userId = sim.createUser(region, { name: "integration" }).userId;
      users.set(region, userId);
    }
    return userId;
  };

  return {
    ...world,
    sim,
    userId: userIn("na"),
    async createCredential(credential = {}) {
      const region = credential.region ?? "na";
      const name = credential.name ?? `immuta/${region}-integration`;
      const expiresAt = new Date(world.clock.now() + (credential.tokenExpiresInMs ?? 90 * DAY));
      const seeded = sim.seedToken(region, userIn(region), {
        description: `created by hand in the Request app for ${name}`,
        expirationDate: expiresAt,
      });
      await world.createSecret(
        name,
        credential.rawValue ?? {
          provider: "immuta-request",
          region,
          token: seeded.token,
          keyId: seeded.tokenId,
          expiresAt: expiresAt.toISOString(),
        },
        {
          [Tag.provider]: "immuta-request",
          [Tag.credential]: name,
          ...(credential.issuer ? { [Tag.issuer]: credential.issuer } : {}),
          ...credential.tags,
        },
      );
      return { secretId: name, token: seeded.token, keyId: seeded.tokenId };
    },
    current: (secretId) => world.read(secretId),
    invariantViolations: (secretIds, checks = {}) =>
      rotationInvariantViolations(
        world,
        {
          isLive: (value) => sim.isLive(value.token),
          // The first key's description names the credential, and so does the marker of every key minted for it.
          liveKeysOf: (secretId) =>
            sim.liveTokens().filter((token) => token.description.includes(secretId)).length,
          liveMintedKeys: () =>
            sim
              .liveTokens()
              .filter((token) => markerIn(token.description) !== undefined)
              .map((token) => ({ keyId: token.tokenId, description: token.description })),
        },
        secretIds,
        checks,
      ),
    close: async () => {
      await world.close();
      await sim.close();
    },
  };
}
