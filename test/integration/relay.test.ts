// Secrets Manager's own rotation failures, re-published into keyturn's catalog.
import { afterEach, beforeEach, expect, test } from "vitest";
import { EventPublisher } from "#aws/event-publisher.ts";
import { InvalidRelayEventError } from "#engine/relay.ts";
import { createRelayHandler } from "#handlers/relay.ts";
import { eventProblems } from "../support/event-schemas.ts";
import { BUS_NAME, type ImmutaFixture, immutaFixture } from "../support/immuta-fixture.ts";

let fx: ImmutaFixture;
let relay: ReturnType<typeof createRelayHandler>;

beforeEach(async () => {
  fx = await immutaFixture();
  relay = createRelayHandler({
    store: fx.store,
    publisher: new EventPublisher(fx.aws.eventBridge, BUS_NAME),
  });
});

afterEach(async () => {
  await fx.close();
});

/** The shape of Secrets Manager's CloudTrail service events on the default bus. */
function serviceEvent(eventName: string, secretArn: string) {
  return {
    version: "0",
    source: "aws.secretsmanager",
    "detail-type": "AWS Service Event via CloudTrail",
    resources: [],
    detail: {
      eventSource: "secretsmanager.amazonaws.com",
      eventName,
      eventType: "AwsServiceEvent",
      additionalEventData: { SecretId: secretArn },
    },
  };
}

test("a RotationFailed of a managed secret is re-published as a critical Credential Rotation Failed", async () => {
  const { secretId } = await fx.createCredential();
  const { arn } = await fx.store.describe(secretId);

  const outcome = await relay(serviceEvent("RotationFailed", arn));

  const events = await fx.subscriber.drain();
  expect(outcome).toBe("relayed");
  expect(events.flatMap(eventProblems)).toEqual([]);
  expect(events.map((e) => e.detail)).toEqual([
    expect.objectContaining({
      credential: secretId,
      provider: "immuta-request",
      step: "secretsmanager",
      severity: "critical",
      error: expect.objectContaining({ name: "RotationFailed" }),
    }),
  ]);
});

test("a RotationAbandoned is relayed too", async () => {
  const { secretId } = await fx.createCredential();

  expect(await relay(serviceEvent("RotationAbandoned", (await fx.store.describe(secretId)).arn))).toBe(
    "relayed",
  );
});

test("a secret keyturn does not manage, or another kind of event, is ignored", async () => {
  await fx.createSecret("someone-elses/secret", "{}", { team: "data" });
  const { arn } = await fx.store.describe("someone-elses/secret");

  expect(await relay(serviceEvent("RotationFailed", arn))).toBe("ignored");
  expect(await relay(serviceEvent("RotationSucceeded", arn))).toBe("ignored");
  expect(await fx.subscriber.drain()).toEqual([]);
});

test("a failure of a secret keyturn may not even describe (another team's) is ignored, not retried", async () => {
  const outcome = await relay(
    serviceEvent(
      "RotationFailed",
      "arn:aws:secretsmanager:us-east-1:123456789012:secret:other-team/db-AbCdEf",
    ),
  );

  expect(outcome).toBe("ignored");
  expect(await fx.subscriber.drain()).toEqual([]);
});

test("an event that is not shaped as a service event is refused with a typed error naming the fields, and nothing is published", async () => {
  // Before: the handler cast whatever reached it (null became {}, a string detail was read as one).
  for (const event of [
    null,
    "RotationFailed",
    { source: "aws.secretsmanager", detail: "RotationFailed" },
    { detail: { additionalEventData: { SecretId: 42 } } },
  ]) {
    const error = await relay(event).catch((caught: unknown) => caught);

    expect(error, JSON.stringify(event)).toBeInstanceOf(InvalidRelayEventError);
    expect((error as InvalidRelayEventError).retryable).toBe(false);
  }
  const nested = await relay({ detail: { additionalEventData: { SecretId: 42 } } }).catch(
    (caught: unknown) => caught,
  );
  expect((nested as Error).message).toContain("detail.additionalEventData.SecretId");
  expect(await fx.subscriber.drain()).toEqual([]);
});
