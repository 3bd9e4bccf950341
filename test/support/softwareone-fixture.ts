// The world of test/support/world.ts with a SoftwareOne simulator: one account, an
// administrator credential that issues tokens (and its own successors), and consumer
// credentials issued by it.

import { Tag } from "#engine/settings.ts";
import { markerIn } from "#providers/marker.ts";
import { ManualClock } from "#sandbox/simulators/clock.ts";
import {
  SOFTWAREONE_ADMIN_MODULE,
  SOFTWAREONE_HOST,
  type SoftwareOneSimulator,
  startSoftwareOneSimulator,
} from "#sandbox/simulators/softwareone.ts";
import { referencedKeyIds } from "./rotation-invariants.ts";
import { startWorld, TEST_START, type World, type WorldOptions } from "./world.ts";

export { DAY, HOUR, MINUTE } from "./world.ts";

export const ADMIN = "softwareone/admin";

export interface SoftwareOneFixture extends World {
  sim: SoftwareOneSimulator;
  accountId: string;
  /** The administrator credential `ADMIN`, self-issued. */
  createAdmin(): Promise<{ secretId: string; keyId: string }>;
  /** A consumer credential issued by `ADMIN`. */
  createConsumer(
    name: string,
    options?: { modules?: string[]; tags?: Record<string, string> },
  ): Promise<{ secretId: string; keyId: string }>;
  status(keyId: string): string | undefined;
  /** Live keys keyturn minted (marker in the description) that no secret version references. */
  untrackedKeys(secretIds: string[]): Promise<string[]>;
}

export async function softwareoneFixture(
  options: Omit<WorldOptions, "vendors" | "clock"> = {},
): Promise<SoftwareOneFixture> {
  const clock = new ManualClock(TEST_START);
  const sim = await startSoftwareOneSimulator({ clock });
  const world = await startWorld({ ...options, clock, vendors: { [SOFTWAREONE_HOST]: sim.url } });
  const { accountId } = sim.createAccount({ name: "Integration Co" });

  const store = async (
    name: string,
    seeded: { id: string; token: string },
    extra: { name: string; modules: string[] },
    tags: Record<string, string>,
  ) => {
    await world.createSecret(
      name,
      { provider: "softwareone", token: seeded.token, keyId: seeded.id, accountId, ...extra },
      { [Tag.provider]: "softwareone", [Tag.credential]: name, ...tags },
    );
    return { secretId: name, keyId: seeded.id };
  };

  return {
    ...world,
    sim,
    accountId,
    async createAdmin() {
      const modules = [SOFTWAREONE_ADMIN_MODULE];
      const seeded = sim.seedToken(accountId, { name: "keyturn administrator", modules, admin: true });
      return store(ADMIN, seeded, { name: "keyturn administrator", modules }, {});
    },
    async createConsumer(name, consumer = {}) {
      const modules = consumer.modules ?? ["MOD-1001", "MOD-1002"];
      const seeded = sim.seedToken(accountId, { name: `integration ${name}`, modules });
      return store(
        name,
        seeded,
        { name: `integration ${name}`, modules },
        { [Tag.issuer]: ADMIN, ...consumer.tags },
      );
    },
    status: (keyId) => sim.tokens().find((t) => t.id === keyId)?.status,
    async untrackedKeys(secretIds) {
      const referenced = await referencedKeyIds(world, secretIds);
      return sim
        .liveTokens()
        .filter((t) => markerIn(t.description) !== undefined && !referenced.has(t.id))
        .map((t) => t.id);
    },
    close: async () => {
      await world.close();
      await sim.close();
    },
  };
}
