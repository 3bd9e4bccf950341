// Every vendor simulator behind one hub, as the demo and `npm run sandbox` run them: Immuta (every
// region), SoftwareOne, Everflow (both hosts) and Incorta on each cluster a config names, so that
// one KEYTURN_VENDOR_ENDPOINT serves every credential of that config.

import type { KeyturnConfig } from "../infra/config.ts";
import type { Clock } from "./simulators/clock.ts";
import { EVERFLOW_HOSTS, type EverflowSimulator, startEverflowSimulator } from "./simulators/everflow.ts";
import { startVendorHub, type VendorHub } from "./simulators/hub.ts";
import { IMMUTA_REGIONS, type ImmutaSimulator, startImmutaSimulator } from "./simulators/immuta.ts";
import { type IncortaSimulator, startIncortaSimulator } from "./simulators/incorta.ts";
import {
  SOFTWAREONE_HOST,
  type SoftwareOneSimulator,
  startSoftwareOneSimulator,
} from "./simulators/softwareone.ts";

export interface SandboxVendors {
  immuta: ImmutaSimulator;
  softwareone: SoftwareOneSimulator;
  everflow: EverflowSimulator;
  incorta: IncortaSimulator;
  hub: VendorHub;
  /** The vendor endpoint override: what KEYTURN_VENDOR_ENDPOINT is set to. */
  url: string;
  close(): Promise<void>;
}

/** The host of an Incorta credential's cluster URL, as the simulator and the hub know it. */
export function incortaCluster(settings: Record<string, unknown>): string {
  return new URL(String(settings.clusterUrl)).host.toLowerCase();
}

/** Starts the simulators on `clock` and routes each vendor host of `config` to its simulator. */
export async function startVendors(config: KeyturnConfig, clock: Clock): Promise<SandboxVendors> {
  const immuta = await startImmutaSimulator({ clock });
  const softwareone = await startSoftwareOneSimulator({ clock });
  const everflow = await startEverflowSimulator({ clock });
  const incorta = await startIncortaSimulator({ clock });
  const clusters = config.credentials
    .filter((credential) => credential.provider === "incorta-v1" || credential.provider === "incorta-v2")
    .map((credential) => incortaCluster(credential.settings));
  const hub = await startVendorHub({
    ...Object.fromEntries(IMMUTA_REGIONS.map((region) => [`${region}.api.immutacloud.com`, immuta.url])),
    ...Object.fromEntries(EVERFLOW_HOSTS.map((host) => [host, everflow.url])),
    [SOFTWAREONE_HOST]: softwareone.url,
    ...Object.fromEntries(clusters.map((cluster) => [cluster, incorta.url])),
  });
  return {
    immuta,
    softwareone,
    everflow,
    incorta,
    hub,
    url: hub.url,
    async close() {
      await hub.close();
      await Promise.all([immuta.close(), softwareone.close(), everflow.close(), incorta.close()]);
    },
  };
}
