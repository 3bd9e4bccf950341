// Secrets Manager's own rotation events (RotationFailed, RotationAbandoned: CloudTrail
// "AWS Service Event via CloudTrail" on the default bus) re-published into keyturn's
// catalog, so that a rotation that fails outside keyturn's code (the function could not be
// invoked, timed out, was throttled) still reaches the people subscribed.

import * as v from "valibot";
import type { EventPublisher } from "#aws/event-publisher.ts";
import type { SecretStore } from "#aws/secret-store.ts";
import { isProviderId } from "#providers/registry.ts";
import { InvalidEventError } from "./errors.ts";
import { credentialRotationFailed } from "./events.ts";
import { logger } from "./logger.ts";
import { Tag } from "./settings.ts";

export const RELAYED_EVENT_NAMES = ["RotationFailed", "RotationAbandoned"] as const;

/**
 * The fields of a CloudTrail service event the relay reads, each checked for its type (any other
 * field is left alone): the rule on the default bus matches Secrets Manager's, but whatever
 * reaches the function is parsed, not cast.
 */
export const CloudTrailServiceEventSchema = v.looseObject({
  source: v.optional(v.string()),
  resources: v.optional(v.array(v.string())),
  detail: v.optional(
    v.looseObject({
      eventName: v.optional(v.string()),
      additionalEventData: v.optional(v.looseObject({ SecretId: v.optional(v.string()) })),
      requestParameters: v.optional(v.looseObject({ secretId: v.optional(v.string()) })),
      serviceEventDetails: v.optional(v.looseObject({ versionId: v.optional(v.string()) })),
      resources: v.optional(v.array(v.looseObject({ ARN: v.optional(v.string()) }))),
    }),
  ),
});
type CloudTrailServiceEvent = v.InferOutput<typeof CloudTrailServiceEventSchema>;

/** What reached the relay is not an EventBridge event of the shape Secrets Manager's have. */
export class InvalidRelayEventError extends InvalidEventError {
  override readonly name = "InvalidRelayEventError";
}

/** The event, parsed; a typed error naming the fields that are not what a service event carries. */
export function parseRelayEvent(event: unknown): CloudTrailServiceEvent {
  const parsed = v.safeParse(CloudTrailServiceEventSchema, event);
  if (!parsed.success) {
    throw new InvalidRelayEventError(
      `Not an EventBridge service event: ${parsed.issues.map((issue) => v.getDotPath(issue) ?? "event").join(", ")} ` +
        "missing or of the wrong type. The relay expects Secrets Manager's RotationFailed or RotationAbandoned " +
        "from the rule on the default bus.",
    );
  }
  return parsed.output;
}

/** The secret a CloudTrail service event is about: its documented fields, most specific first. */
export function secretOf(event: CloudTrailServiceEvent): string | undefined {
  const detail = event.detail ?? {};
  return (
    detail.additionalEventData?.SecretId ??
    detail.requestParameters?.secretId ??
    detail.resources?.find((r) => r.ARN)?.ARN ??
    event.resources?.[0]
  );
}

export async function relaySecretsManagerEvent(
  deps: { store: SecretStore; publisher: EventPublisher },
  event: CloudTrailServiceEvent,
): Promise<"relayed" | "ignored"> {
  const eventName = event.detail?.eventName;
  const secretId = secretOf(event);
  if (
    event.source !== "aws.secretsmanager" ||
    !RELAYED_EVENT_NAMES.some((n) => n === eventName) ||
    !secretId
  ) {
    logger.info("relay: not a Secrets Manager rotation failure, ignored", {
      source: event.source,
      eventName,
    });
    return "ignored";
  }
  let description: Awaited<ReturnType<SecretStore["describe"]>>;
  try {
    description = await deps.store.describe(secretId);
  } catch (error) {
    // The relay may describe only keyturn's secrets: a denial, or a secret already deleted,
    // means the failure is someone else's to hear about.
    const name = error instanceof Error ? error.name : "";
    if (name === "AccessDeniedException" || name === "ResourceNotFoundException") {
      logger.info("relay: secret not readable by keyturn, ignored", { secretId, reason: name });
      return "ignored";
    }
    throw error;
  }
  const provider = description.tags[Tag.provider];
  if (!provider) {
    logger.info("relay: secret not managed by keyturn, ignored", { secretId });
    return "ignored";
  }
  const credential = description.tags[Tag.credential] || description.name;
  await deps.publisher.publish([
    credentialRotationFailed(
      { credential, provider: isProviderId(provider) ? provider : "unknown", secretArn: description.arn },
      {
        step: "secretsmanager",
        versionId: event.detail?.serviceEventDetails?.versionId ?? "unknown",
        severity: "critical",
        error: {
          name: eventName ?? "RotationFailed",
          message:
            `Secrets Manager reported ${eventName} for "${credential}": the rotation did not complete. ` +
            "Check the rotate function's logs and its permissions; AWSCURRENT still holds the previous key.",
          retryable: false,
        },
      },
    ),
  ]);
  return "relayed";
}
