// The monitor: one scheduled sweep over every managed credential. Here, the revocation
// sweep: previous keys whose grace period ended, and orphaned vendor keys.

import { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { EventPublisher } from "#aws/event-publisher.ts";
import { SecretStore } from "#aws/secret-store.ts";
import { logger } from "#engine/logger.ts";
import { RevocationSweep, type SweepReport } from "#engine/revocation.ts";
import type { HttpClientOptions } from "#http/client.ts";
import { MonitorEnvironment, readEnvironment } from "./environment.ts";
import { type InvocationContext, vendorHttp } from "./vendor-http.ts";

export interface MonitorHandlerDeps {
  store: SecretStore;
  publisher: EventPublisher;
  orphanSafetyMarginMs: number;
  reconcileIntervalMs: number;
  now?: () => Date;
  http?: Partial<HttpClientOptions>;
}

export function createMonitorHandler(deps: MonitorHandlerDeps) {
  return async (_event: unknown, context: InvocationContext): Promise<SweepReport> => {
    logger.appendKeys({ requestId: context.awsRequestId });
    try {
      return await new RevocationSweep({
        store: deps.store,
        publisher: deps.publisher,
        now: deps.now ?? (() => new Date()),
        http: vendorHttp(context, deps.http),
        orphanSafetyMarginMs: deps.orphanSafetyMarginMs,
        reconcileIntervalMs: deps.reconcileIntervalMs,
      }).run();
    } finally {
      logger.resetKeys();
    }
  };
}

const environment = readEnvironment(MonitorEnvironment, process.env, "monitor");

export const handler = createMonitorHandler({
  store: new SecretStore(new SecretsManagerClient({})),
  publisher: new EventPublisher(new EventBridgeClient({}), environment.KEYTURN_EVENT_BUS_NAME),
  orphanSafetyMarginMs: environment.KEYTURN_ORPHAN_SAFETY_MARGIN,
  reconcileIntervalMs: environment.KEYTURN_RECONCILE_INTERVAL,
});
