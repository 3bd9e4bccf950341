// The automatic vendors as the reliability runs need them: a simulator, credentials seeded
// as an operator would store them, and what the invariants ask of the vendor (does a key
// authenticate; which keys that keyturn minted are alive).

import { Tag } from "#engine/settings.ts";
import type { ManualClock } from "#sandbox/simulators/clock.ts";
import { IMMUTA_REGIONS, startImmutaSimulator } from "#sandbox/simulators/immuta.ts";
import {
  SOFTWAREONE_ADMIN_MODULE,
  SOFTWAREONE_HOST,
  startSoftwareOneSimulator,
} from "#sandbox/simulators/softwareone.ts";
import type { World } from "../support/world-core.ts";

export const DAY = 86_400_000;

export interface VendorUnderTest {
  provider: "immuta-request" | "softwareone";
  /** Vendor host -> simulator URL, for the hub. */
  vendors: Record<string, string>;
  /** Stores the credentials; returns the one the scenario rotates and all secret names. */
  seed(
    world: World,
    options?: { count?: number; tags?: Record<string, string> },
  ): Promise<{
    rotated: string[];
    all: string[];
  }>;
  isLive(value: Record<string, unknown>): boolean;
  /** Keys keyturn minted (a marker in their description) that the vendor accepts now. */
  liveMintedKeys(): { keyId: string; description: string }[];
  /** Live keys whose description names the credential (its first key and every one minted for it). */
  liveKeysOf(credential: string): number;
  issuedValues(): readonly string[];
  close(): Promise<void>;
}

export async function immutaUnderTest(clock: ManualClock): Promise<VendorUnderTest> {
  const sim = await startImmutaSimulator({ clock });
  const user = sim.createUser("na", { name: "reliability" });
  return {
    provider: "immuta-request",
    vendors: Object.fromEntries(IMMUTA_REGIONS.map((region) => [`${region}.api.immutacloud.com`, sim.url])),
    async seed(world, options = {}) {
      const names: string[] = [];
      for (let i = 0; i < (options.count ?? 1); i++) {
        const name = `keyturn/immuta-${i}`;
        const expiresAt = new Date(clock.now() + 90 * DAY);
        const seeded = sim.seedToken("na", user.userId, {
          description: `first key of ${name}`,
          expirationDate: expiresAt,
        });
        await world.createSecret(
          name,
          {
            provider: "immuta-request",
            region: "na",
            token: seeded.token,
            keyId: seeded.tokenId,
            expiresAt: expiresAt.toISOString(),
          },
          { [Tag.provider]: "immuta-request", [Tag.credential]: name, ...options.tags },
        );
        names.push(name);
      }
      return { rotated: names, all: names };
    },
    isLive: (value) => sim.isLive(String(value.token)),
    liveMintedKeys: () =>
      sim
        .liveTokens()
        .filter((t) => t.description.startsWith("keyturn:"))
        .map((t) => ({ keyId: t.tokenId, description: t.description })),
    liveKeysOf: (credential) =>
      sim
        .liveTokens()
        .filter(
          (t) =>
            t.description === `first key of ${credential}` ||
            t.description.startsWith(`keyturn:${credential}:`),
        ).length,
    issuedValues: () => sim.issuedValues,
    close: () => sim.close(),
  };
}

export async function softwareoneUnderTest(clock: ManualClock): Promise<VendorUnderTest> {
  const sim = await startSoftwareOneSimulator({ clock });
  const { accountId } = sim.createAccount({ name: "Reliability Co" });
  const ADMIN = "keyturn/softwareone-admin";
  const seedOne = async (
    world: World,
    name: string,
    modules: string[],
    admin: boolean,
    tags: Record<string, string>,
  ) => {
    const seeded = sim.seedToken(accountId, {
      name: `token of ${name}`,
      description: `first key of ${name}`,
      modules,
      admin,
    });
    await world.createSecret(
      name,
      {
        provider: "softwareone",
        token: seeded.token,
        keyId: seeded.id,
        accountId,
        name: `token of ${name}`,
        modules,
      },
      { [Tag.provider]: "softwareone", [Tag.credential]: name, ...tags },
    );
  };
  return {
    provider: "softwareone",
    vendors: { [SOFTWAREONE_HOST]: sim.url },
    async seed(world, options = {}) {
      await seedOne(world, ADMIN, [SOFTWAREONE_ADMIN_MODULE], true, {});
      const names: string[] = [];
      for (let i = 0; i < (options.count ?? 1); i++) {
        const name = `keyturn/softwareone-${i}`;
        await seedOne(world, name, ["MOD-1001"], false, { [Tag.issuer]: ADMIN, ...options.tags });
        names.push(name);
      }
      return { rotated: names, all: [ADMIN, ...names] };
    },
    isLive: (value) => sim.isLive(String(value.token)),
    liveMintedKeys: () =>
      sim
        .liveTokens()
        .filter((t) => t.description?.startsWith("keyturn:"))
        .map((t) => ({ keyId: t.id, description: t.description ?? "" })),
    liveKeysOf: (credential) =>
      sim
        .liveTokens()
        .filter(
          (t) =>
            t.description === `first key of ${credential}` ||
            t.description?.startsWith(`keyturn:${credential}:`),
        ).length,
    issuedValues: () => sim.issuedValues,
    close: () => sim.close(),
  };
}

export const VENDORS_UNDER_TEST = {
  "immuta-request": immutaUnderTest,
  softwareone: softwareoneUnderTest,
} as const;
