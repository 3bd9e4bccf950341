// Consumers of an Incorta v1 credential read the access token keyturn keeps in Parameter Store:
// through every refresh run, the token they find must be valid at Incorta with at least two
// minutes left. `npm test` plays a few hours of the 2-minute schedule
// (test/integration/refresh.test.ts); `npm run sweep` plays a whole day.

import { Tag } from "#engine/settings.ts";
import type { IsolatedAws } from "#sandbox/moto-account.ts";
import { ManualClock } from "#sandbox/simulators/clock.ts";
import { type IncortaSimulator, startIncortaSimulator } from "#sandbox/simulators/incorta.ts";
import { MINUTE, startWorldOn, TEST_START, type World } from "../support/world-core.ts";

export const INCORTA_CLUSTER = "acme.cloud.incorta.com";
export const INCORTA_CREDENTIAL = "keyturn/incorta-analytics";
const SCHEDULE_MS = 2 * MINUTE;
const MIN_REMAINING_MS = 2 * MINUTE;

export interface RefreshWorld {
  world: World;
  sim: IncortaSimulator;
  close(): Promise<void>;
}

/** A world with one Incorta v1 credential whose API key the simulator knows. */
export async function startRefreshWorld(aws: IsolatedAws): Promise<RefreshWorld> {
  const clock = new ManualClock(TEST_START);
  const sim = await startIncortaSimulator({ clock });
  const world = await startWorldOn(aws, {
    clock,
    vendors: { [INCORTA_CLUSTER]: sim.url },
    refreshIntervalMs: SCHEDULE_MS,
  });
  await world.createSecret(
    INCORTA_CREDENTIAL,
    {
      provider: "incorta-v1",
      clusterUrl: `https://${INCORTA_CLUSTER}/incorta`,
      tenantName: "analytics",
      loginName: "etl.bot",
      apiKey: sim.issueApiKey(INCORTA_CLUSTER, "analytics", "etl.bot"),
    },
    { [Tag.provider]: "incorta-v1", [Tag.credential]: INCORTA_CREDENTIAL },
  );
  return {
    world,
    sim,
    async close() {
      await world.close();
      await sim.close();
    },
  };
}

export interface RefreshDayReport {
  runs: number;
  /** Moments a consumer would have found no valid token, or one with too little time left. */
  shortfalls: string[];
  mints: number;
  refreshes: number;
}

/** The refresh schedule for `hours`, and what a consumer reading just before each run finds. */
export async function playRefreshSchedule(
  { world, sim }: RefreshWorld,
  hours: number,
): Promise<RefreshDayReport> {
  const report: RefreshDayReport = { runs: 0, shortfalls: [], mints: 0, refreshes: 0 };
  for (let elapsed = 0; elapsed < hours * 60 * MINUTE; elapsed += SCHEDULE_MS) {
    await world.refresh();
    report.runs++;
    world.clock.advance(SCHEDULE_MS - 1_000);
    const tokens = await world.storedTokens(INCORTA_CREDENTIAL);
    const left = (tokens?.accessTokenExpiresAt ?? 0) - world.clock.now();
    if (!tokens || !sim.isAccessTokenValid(tokens.accessToken) || left < MIN_REMAINING_MS) {
      report.shortfalls.push(
        `${new Date(world.clock.now()).toISOString()}: ${Math.round(left / 1000)} s left`,
      );
    }
    world.clock.advance(1_000);
  }
  const posts = (path: string) => sim.requests.filter((r) => r.path === path && r.method === "POST").length;
  report.mints = posts("/incorta/api/v1/tokens");
  report.refreshes = posts("/incorta/api/v1/tokens/refresh");
  return report;
}
