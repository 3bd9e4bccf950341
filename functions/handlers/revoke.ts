// Emergency revoke: "kill this key now". Invoked directly (the console, an operator allowed to
// invoke it) with {credential, keyId, reason}, or by an EventBridge rule on a "Revoke Requested"
// event on the keyturn bus (a leak scanner, a person). Every request is held to the
// credential's cooldown, whichever way it came: a direct invocation needs only
// lambda:InvokeFunction, which the account's IAM may give to more than the operators (and a
// function policy cannot deny). The operators' `keyturn revoke` invokes this function too
// (cli/connection.ts), so it is held alike: the answer says until when. See
// functions/engine/emergency.ts. The request is parsed, the log keys set and cleared, and errors
// typed by ./middleware.ts.

import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import * as v from "valibot";
import { EmergencyCooldowns } from "#aws/emergency-cooldown.ts";
import { EventPublisher } from "#aws/event-publisher.ts";
import { KeyRecords } from "#aws/record-store.ts";
import { SecretStore } from "#aws/secret-store.ts";
import { DEFAULT_REVOKE_COOLDOWN } from "#engine/defaults.ts";
import { parseDuration } from "#engine/duration.ts";
import { type EmergencyOutcome, emergencyRevoke, rotateThroughSecretsManager } from "#engine/emergency.ts";
import { InvalidEventError } from "#engine/errors.ts";
import { RevokeRequested } from "#engine/event-catalog.ts";
import { DetailType } from "#engine/events.ts";
import type { PinnedCredentials } from "#engine/pinned.ts";
import type { HttpClientOptions } from "#http/client.ts";
import { RevokeEnvironment, readEnvironment } from "./environment.ts";
import { type InvocationHandler, invocation } from "./middleware.ts";
import { bundledPinnedCredentials } from "./pinned.ts";
import { vendorHttp } from "./vendor-http.ts";

/** Not a revoke request: refused before any call (./middleware.ts). */
export class InvalidRevokeRequestError extends InvalidEventError {
  override readonly name = "InvalidRevokeRequestError";
}

export interface RevokeHandlerDeps {
  store: SecretStore;
  records: KeyRecords;
  /** What the deployment pinned (functions/handlers/pinned.ts in Lambda). */
  pinned: PinnedCredentials;
  publisher: EventPublisher;
  /** The emergency cooldowns (in the records table). */
  cooldowns: EmergencyCooldowns;
  /** How long an emergency revoke holds back requests for other keys of its credential. Default 10 minutes. */
  cooldownMs?: number;
  /** keyturn's rotate function: a secret another function rotates is not keyturn's to rotate or revoke for. */
  rotateFunctionArn?: string | undefined;
  /** Rotates a secret now and waits for it; the default goes through Secrets Manager's RotateSecret. */
  rotate?: (secretId: string) => Promise<void>;
  now?: () => Date;
  http?: Partial<HttpClientOptions>;
}

/** The cooldown of a request when the deps name none (functions/engine/defaults.ts). */
const defaultCooldownMs = parseDuration(DEFAULT_REVOKE_COOLDOWN) ?? 0;

/** The request, from an event's envelope or as invoked directly. */
export function requestOf(event: unknown): v.InferOutput<typeof RevokeRequested> {
  const fromBus =
    typeof event === "object" &&
    event !== null &&
    (event as { "detail-type"?: unknown })["detail-type"] === DetailType.revokeRequested;
  const body = fromBus ? (event as { detail?: unknown }).detail : event;
  const parsed = v.safeParse(RevokeRequested, body);
  if (!parsed.success) {
    const credential = (body as { credential?: unknown } | null)?.credential;
    throw new InvalidRevokeRequestError(
      `Not a revoke request: ${parsed.issues.map((i) => v.getDotPath(i) ?? "request").join(", ")} missing or invalid. ` +
        'Send {"credential": "<secret name>", "keyId": "<the compromised key\'s id>", "reason": "<why>"}, directly or as ' +
        'the detail of a "Revoke Requested" event on the keyturn bus.',
      { credential: typeof credential === "string" ? credential : undefined },
    );
  }
  return parsed.output;
}

export function createRevokeHandler(deps: RevokeHandlerDeps): InvocationHandler<EmergencyOutcome> {
  return invocation(
    {
      parse: requestOf,
      keys: (request) => ({ credential: request.credential }),
      credential: (request) => request.credential,
      doing: () => "Emergency revoke",
    },
    async (request, context) =>
      await emergencyRevoke(
        {
          store: deps.store,
          pinned: deps.pinned,
          records: deps.records,
          publisher: deps.publisher,
          now: deps.now ?? (() => new Date()),
          http: vendorHttp(context, deps.http),
          cooldown: { claims: deps.cooldowns, periodMs: deps.cooldownMs ?? defaultCooldownMs },
          rotateFunctionArn: deps.rotateFunctionArn,
          rotate:
            deps.rotate ??
            rotateThroughSecretsManager(deps.store, {
              // Leave a minute to revoke and publish after waiting for the rotation.
              timeoutMs: Math.max(0, context.getRemainingTimeInMillis() - 60_000),
            }),
        },
        request,
      ),
  );
}

const environment = readEnvironment(RevokeEnvironment, process.env, "revoke");

const dynamodb = new DynamoDBClient({});
export const handler = createRevokeHandler({
  store: new SecretStore(new SecretsManagerClient({})),
  records: new KeyRecords(dynamodb, environment.KEYTURN_RECORDS_TABLE),
  cooldowns: new EmergencyCooldowns(dynamodb, environment.KEYTURN_RECORDS_TABLE),
  cooldownMs: environment.KEYTURN_REVOKE_COOLDOWN,
  rotateFunctionArn: environment.KEYTURN_ROTATE_FUNCTION_ARN,
  pinned: bundledPinnedCredentials(),
  publisher: new EventPublisher(new EventBridgeClient({}), environment.KEYTURN_EVENT_BUS_NAME),
});
