// The Secrets Manager rotation function: parses the rotation event and runs one step of the
// protocol (functions/engine/rotation.ts). Secrets Manager's own schedule calls it, and so
// does RotateSecret (console, CLI, `keyturn rotate`). Each step writes its outcome and duration
// as metrics (./metrics.ts), timed here around the engine's step.

import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import * as v from "valibot";
import { EventPublisher } from "#aws/event-publisher.ts";
import { KeyRecords } from "#aws/record-store.ts";
import { SecretStore } from "#aws/secret-store.ts";
import { logger } from "#engine/logger.ts";
import type { PinnedCredentials } from "#engine/pinned.ts";
import { RotationEngine } from "#engine/rotation.ts";
import type { HttpClientOptions } from "#http/client.ts";
import { RotateEnvironment, readEnvironment } from "./environment.ts";
import { providerOf, publishMetrics, rotationStepMetrics } from "./metrics.ts";
import { bundledPinnedCredentials } from "./pinned.ts";
import { type InvocationContext, vendorHttp } from "./vendor-http.ts";

const RotationEvent = v.object({
  Step: v.picklist(["createSecret", "setSecret", "testSecret", "finishSecret"]),
  SecretId: v.pipe(v.string(), v.minLength(1)),
  ClientRequestToken: v.pipe(v.string(), v.minLength(1)),
});

export class InvalidRotationEventError extends Error {
  override readonly name = "InvalidRotationEventError";
  readonly retryable = false;
}

export interface RotateHandlerDeps {
  store: SecretStore;
  records: KeyRecords;
  /** What the deployment pinned (functions/handlers/pinned.ts in Lambda). */
  pinned: PinnedCredentials;
  publisher: EventPublisher;
  now?: () => Date;
  /** Overrides for the vendor HTTP client (tests shorten timeouts and backoff). */
  http?: Partial<HttpClientOptions>;
}

export function createRotateHandler(deps: RotateHandlerDeps) {
  return async (event: unknown, context: InvocationContext): Promise<void> => {
    const parsed = v.safeParse(RotationEvent, event);
    if (!parsed.success) {
      throw new InvalidRotationEventError(
        `Not a Secrets Manager rotation event: ${parsed.issues.map((i) => v.getDotPath(i) ?? "event").join(", ")} ` +
          "missing or invalid. The rotate function expects {Step, SecretId, ClientRequestToken}.",
      );
    }
    const { Step, SecretId, ClientRequestToken } = parsed.output;
    const engine = new RotationEngine({
      store: deps.store,
      pinned: deps.pinned,
      records: deps.records,
      publisher: deps.publisher,
      now: deps.now ?? (() => new Date()),
      http: vendorHttp(context, deps.http),
    });
    logger.appendKeys({ requestId: context.awsRequestId, secretId: SecretId, versionId: ClientRequestToken });
    const started = performance.now();
    let failed = true;
    try {
      await engine.run(Step, SecretId, ClientRequestToken);
      failed = false;
    } finally {
      publishMetrics(
        rotationStepMetrics(
          Step,
          providerOf(SecretId, deps.pinned),
          Math.round(performance.now() - started),
          failed,
        ),
      );
      logger.resetKeys();
    }
  };
}

const environment = readEnvironment(RotateEnvironment, process.env, "rotate");

export const handler = createRotateHandler({
  store: new SecretStore(new SecretsManagerClient({})),
  records: new KeyRecords(new DynamoDBClient({}), environment.KEYTURN_RECORDS_TABLE),
  pinned: bundledPinnedCredentials(),
  publisher: new EventPublisher(new EventBridgeClient({}), environment.KEYTURN_EVENT_BUS_NAME),
});
