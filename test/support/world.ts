// A keyturn world for one test, in the test's own moto account (see ./world-core.ts).
import { isolatedAws } from "./aws.ts";
import { startWorldOn, type World, type WorldOptions } from "./world-core.ts";

export { BUS_NAME, DAY, HOUR, MINUTE, TEST_START, type World, type WorldOptions } from "./world-core.ts";

export function startWorld(options: WorldOptions): Promise<World> {
  return startWorldOn(isolatedAws(), options);
}
