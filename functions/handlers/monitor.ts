// The monitor: one scheduled sweep over every managed credential (functions/engine/monitor.ts):
// expiry notices and early rotations, stuck rotations, revocation of old keys, orphans.

import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { EventPublisher } from "#aws/event-publisher.ts";
import { KeyRecords } from "#aws/record-store.ts";
import { SecretStore } from "#aws/secret-store.ts";
import { logger } from "#engine/logger.ts";
import { Monitor, type MonitorReport } from "#engine/monitor.ts";
import type { PinnedCredentials } from "#engine/pinned.ts";
import type { HttpClientOptions } from "#http/client.ts";
import { MonitorEnvironment, readEnvironment } from "./environment.ts";
import { bundledPinnedCredentials } from "./pinned.ts";
import { type InvocationContext, vendorHttp } from "./vendor-http.ts";

export interface MonitorHandlerDeps {
  store: SecretStore;
  records: KeyRecords;
  /** What the deployment pinned (functions/handlers/pinned.ts in Lambda). */
  pinned: PinnedCredentials;
  publisher: EventPublisher;
  orphanSafetyMarginMs: number;
  reconcileIntervalMs: number;
  stuckAfterMs: number;
  /** keyturn's rotate function: a secret with any other rotation function is not keyturn's to rotate. */
  rotateFunctionArn?: string | undefined;
  /** Starts a rotation now; the default asks Secrets Manager (RotateSecret) and does not wait. */
  rotate?: (secretId: string) => Promise<void>;
  now?: () => Date;
  http?: Partial<HttpClientOptions>;
}

export function createMonitorHandler(deps: MonitorHandlerDeps) {
  return async (_event: unknown, context: InvocationContext): Promise<MonitorReport> => {
    logger.appendKeys({ requestId: context.awsRequestId });
    try {
      return await new Monitor({
        store: deps.store,
        pinned: deps.pinned,
        records: deps.records,
        publisher: deps.publisher,
        now: deps.now ?? (() => new Date()),
        http: vendorHttp(context, deps.http),
        rotate:
          deps.rotate ??
          (async (secretId) => {
            await deps.store.rotateNow(secretId);
          }),
        orphanSafetyMarginMs: deps.orphanSafetyMarginMs,
        reconcileIntervalMs: deps.reconcileIntervalMs,
        stuckAfterMs: deps.stuckAfterMs,
        rotateFunctionArn: deps.rotateFunctionArn,
      }).run();
    } finally {
      logger.resetKeys();
    }
  };
}

const environment = readEnvironment(MonitorEnvironment, process.env, "monitor");

export const handler = createMonitorHandler({
  store: new SecretStore(new SecretsManagerClient({})),
  records: new KeyRecords(new DynamoDBClient({}), environment.KEYTURN_RECORDS_TABLE),
  pinned: bundledPinnedCredentials(),
  publisher: new EventPublisher(new EventBridgeClient({}), environment.KEYTURN_EVENT_BUS_NAME),
  orphanSafetyMarginMs: environment.KEYTURN_ORPHAN_SAFETY_MARGIN,
  reconcileIntervalMs: environment.KEYTURN_RECONCILE_INTERVAL,
  stuckAfterMs: environment.KEYTURN_STUCK_ROTATION_AFTER,
  rotateFunctionArn: environment.KEYTURN_ROTATE_FUNCTION_ARN,
});
