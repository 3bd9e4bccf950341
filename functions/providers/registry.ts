// Every provider keyturn ships, by id. `satisfies` makes a half-added vendor a compile
// error: an id in ProviderId without an entry here, or an entry whose id is another's.

import { everflow } from "./everflow/index.ts";
import { immutaRequest } from "./immuta-request/index.ts";
import { incortaV1 } from "./incorta-v1/index.ts";
import { incortaV2 } from "./incorta-v2/index.ts";
import { softwareone } from "./softwareone/index.ts";
import type { CredentialValue, Provider, ProviderId, ProviderMode } from "./types.ts";

const providers = {
  "immuta-request": immutaRequest,
  softwareone,
  everflow,
  "incorta-v1": incortaV1,
  "incorta-v2": incortaV2,
} as const satisfies {
  [K in ProviderId]: {
    id: K;
    mode: ProviderMode;
    parse(value: unknown, credential: string): CredentialValue;
  };
};

export const PROVIDER_IDS = Object.keys(providers) as ProviderId[];

export function isProviderId(id: string): id is ProviderId {
  return Object.hasOwn(providers, id);
}

/** The provider for an id; the cast is safe because each entry is keyed by its own id. */
export function providerFor(id: ProviderId): Provider<CredentialValue> {
  return providers[id] as unknown as Provider<CredentialValue>;
}
