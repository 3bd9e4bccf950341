// Re-publishes Secrets Manager's own RotationFailed / RotationAbandoned events (a rule on the
// default bus) as keyturn's "Credential Rotation Failed" (functions/engine/relay.ts).

import { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { EventPublisher } from "#aws/event-publisher.ts";
import { SecretStore } from "#aws/secret-store.ts";
import { parseRelayEvent, relaySecretsManagerEvent } from "#engine/relay.ts";
import { RelayEnvironment, readEnvironment } from "./environment.ts";

export function createRelayHandler(deps: { store: SecretStore; publisher: EventPublisher }) {
  return async (event: unknown) => await relaySecretsManagerEvent(deps, parseRelayEvent(event));
}

const environment = readEnvironment(RelayEnvironment, process.env, "relay");

export const handler = createRelayHandler({
  store: new SecretStore(new SecretsManagerClient({})),
  publisher: new EventPublisher(new EventBridgeClient({}), environment.KEYTURN_EVENT_BUS_NAME),
});
