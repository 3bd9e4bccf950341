// Every provider keyturn ships (./shipped.ts), looked up by id. Loading the registry adds each
// provider's redaction rules (its key header, its token shapes) to the redactor, so that any
// code that can reach a provider also blanks its vendor's secrets.

import { addRedactionRules } from "#http/redact.ts";
import { SHIPPED } from "./shipped.ts";
import type { CredentialValue, Provider, ProviderId } from "./types.ts";

export const PROVIDER_IDS = Object.keys(SHIPPED) as ProviderId[];

export function isProviderId(id: string): id is ProviderId {
  return Object.hasOwn(SHIPPED, id);
}

/** The provider for an id; the cast is safe because each entry is keyed by its own id. */
export function providerFor(id: ProviderId): Provider<CredentialValue> {
  return SHIPPED[id] as unknown as Provider<CredentialValue>;
}

for (const id of PROVIDER_IDS) {
  const { redaction } = providerFor(id);
  if (redaction !== undefined) addRedactionRules(redaction);
}
