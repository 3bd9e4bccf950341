// The Secrets Manager rotation function: parses the rotation event and runs one step of the
// protocol (functions/engine/rotation.ts). Secrets Manager's own schedule calls it, and so
// does RotateSecret (console, CLI, `keyturn rotate`). Each step writes its outcome and duration
// as metrics (./metrics.ts), timed here around the engine's step. The event is parsed, the log
// keys set and cleared, and errors typed by ./middleware.ts.

import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import * as v from "valibot";
import { EventPublisher } from "#aws/event-publisher.ts";
import { KeyRecords } from "#aws/record-store.ts";
import { SecretStore } from "#aws/secret-store.ts";
import { InvalidEventError } from "#engine/errors.ts";
import type { PinnedCredentials } from "#engine/pinned.ts";
import { RotationEngine } from "#engine/rotation.ts";
import type { HttpClientOptions } from "#http/client.ts";
import { RotateEnvironment, readEnvironment } from "./environment.ts";
import { providerOf, publishMetrics, rotationStepMetrics } from "./metrics.ts";
import { type InvocationHandler, invocation } from "./middleware.ts";
import { bundledPinnedCredentials } from "./pinned.ts";
import { vendorHttp } from "./vendor-http.ts";

const RotationEvent = v.object({
  Step: v.picklist(["createSecret", "setSecret", "testSecret", "finishSecret"]),
  SecretId: v.pipe(v.string(), v.minLength(1)),
  ClientRequestToken: v.pipe(v.string(), v.minLength(1)),
});

/** Not a Secrets Manager rotation event: refused before any call (./middleware.ts). */
export class InvalidRotationEventError extends InvalidEventError {
  override readonly name = "InvalidRotationEventError";
}

type RotationEvent = v.InferOutput<typeof RotationEvent>;

/** The event, parsed; an InvalidRotationEventError naming the fields that are not what Secrets Manager sends. */
export function parseRotationEvent(event: unknown): RotationEvent {
  const parsed = v.safeParse(RotationEvent, event);
  if (parsed.success) return parsed.output;
  const secretId = (event as { SecretId?: unknown } | null)?.SecretId;
  throw new InvalidRotationEventError(
    `Not a Secrets Manager rotation event: ${parsed.issues.map((i) => v.getDotPath(i) ?? "event").join(", ")} ` +
      "missing or invalid. The rotate function expects {Step, SecretId, ClientRequestToken}.",
    { credential: typeof secretId === "string" ? secretId : undefined },
  );
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

export function createRotateHandler(deps: RotateHandlerDeps): InvocationHandler<void> {
  return invocation(
    {
      parse: parseRotationEvent,
      keys: (event) => ({ secretId: event.SecretId, versionId: event.ClientRequestToken }),
      credential: (event) => event.SecretId,
      doing: (event) => `Rotation step ${event.Step}`,
    },
    async ({ Step, SecretId, ClientRequestToken }, context) => {
      const engine = new RotationEngine({
        store: deps.store,
        pinned: deps.pinned,
        records: deps.records,
        publisher: deps.publisher,
        now: deps.now ?? (() => new Date()),
        http: vendorHttp(context, deps.http),
      });
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
      }
    },
  );
}

const environment = readEnvironment(RotateEnvironment, process.env, "rotate");

export const handler = createRotateHandler({
  store: new SecretStore(new SecretsManagerClient({})),
  records: new KeyRecords(new DynamoDBClient({}), environment.KEYTURN_RECORDS_TABLE),
  pinned: bundledPinnedCredentials(),
  publisher: new EventPublisher(new EventBridgeClient({}), environment.KEYTURN_EVENT_BUS_NAME),
});
