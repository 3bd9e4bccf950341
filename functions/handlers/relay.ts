// Re-publishes Secrets Manager's own RotationFailed / RotationAbandoned events (a rule on the
// default bus) as keyturn's "Credential Rotation Failed" (functions/engine/relay.ts). The event
// is parsed (an InvalidRelayEventError otherwise), the log keys set and cleared, and errors typed
// by ./middleware.ts.

import { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { EventPublisher } from "#aws/event-publisher.ts";
import { SecretStore } from "#aws/secret-store.ts";
import { parseRelayEvent, relaySecretsManagerEvent, secretOf } from "#engine/relay.ts";
import { RelayEnvironment, readEnvironment } from "./environment.ts";
import { invocation } from "./middleware.ts";

/** The relay; Lambda passes a context, a test may leave it out. */
export function createRelayHandler(deps: { store: SecretStore; publisher: EventPublisher }) {
  return invocation(
    {
      parse: parseRelayEvent,
      keys: (event) => ({ secretId: secretOf(event), eventName: event.detail?.eventName }),
      credential: secretOf,
      doing: (event) => `Relaying Secrets Manager's ${event.detail?.eventName ?? "event"}`,
    },
    async (event) => await relaySecretsManagerEvent(deps, event),
  );
}

const environment = readEnvironment(RelayEnvironment, process.env, "relay");

export const handler = createRelayHandler({
  store: new SecretStore(new SecretsManagerClient({})),
  publisher: new EventPublisher(new EventBridgeClient({}), environment.KEYTURN_EVENT_BUS_NAME),
});
