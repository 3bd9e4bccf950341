// The providers keyturn ships, by id: the registry's one line per vendor. `satisfies` makes a
// half-added vendor a compile error: an id in ProviderId (./types.ts) without an entry here, or
// an entry whose id is another's. Everything else about a vendor is in its folder; the registry
// (./registry.ts) hands it to the config, the redactor and the engine.

import { everflow } from "./everflow/index.ts";
import { immutaRequest } from "./immuta-request/index.ts";
import { incortaV1 } from "./incorta-v1/index.ts";
import { incortaV2 } from "./incorta-v2/index.ts";
import { softwareone } from "./softwareone/index.ts";
import type { CredentialValue, ProviderConfig, ProviderId, ProviderMode } from "./types.ts";

export const SHIPPED = {
  "immuta-request": immutaRequest,
  softwareone,
  everflow,
  "incorta-v1": incortaV1,
  "incorta-v2": incortaV2,
} as const satisfies {
  [K in ProviderId]: {
    id: K;
    mode: ProviderMode;
    config: ProviderConfig;
    parse(value: unknown, credential: string): CredentialValue;
  };
};
