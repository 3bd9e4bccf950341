// The relay handler's invocation (functions/handlers/relay.ts, ./middleware.ts): its log keys
// live exactly as long as the invocation, what reaches it is parsed before any AWS call, and an
// AWS failure reaches Lambda as a KeyturnError naming the secret.

import { expect, test } from "vitest";
import { KeyturnError } from "#engine/errors.ts";
import { InvalidRelayEventError } from "#engine/relay.ts";
import { createRelayHandler } from "#handlers/relay.ts";
import { lambdaContext, linesAround, offlineDeps, offlineTests } from "./offline.ts";

const SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:keyturn/immuta-ci-AbC123";

/** Secrets Manager's RotationFailed as CloudTrail puts it on the default bus. */
const rotationFailed = {
  version: "0",
  source: "aws.secretsmanager",
  "detail-type": "AWS Service Event via CloudTrail",
  resources: [],
  detail: { eventName: "RotationFailed", additionalEventData: { SecretId: SECRET } },
};

const t = offlineTests();

test("a relay's log lines carry its request id, secret id and event name, and the lines after it neither", async () => {
  const { store, publisher } = offlineDeps(t.aws);
  const relay = createRelayHandler({ store, publisher });

  let outcome: unknown;
  const { during, after } = await linesAround(t.output, async () => {
    outcome = await relay(rotationFailed, lambdaContext("request-relay-1"));
  });

  // Denied: the secret is not keyturn's to hear about.
  expect(outcome).toBe("ignored");
  expect(t.aws.calls).toEqual(["DescribeSecretCommand"]);
  expect(during).toContainEqual(
    expect.objectContaining({
      message: "unit test: AWS call stopped",
      function_request_id: "request-relay-1",
      secretId: SECRET,
      eventName: "RotationFailed",
    }),
  );
  expect(after).toMatchObject({ message: "unit test: after the invocation" });
  expect(after).not.toHaveProperty("secretId");
  expect(after).not.toHaveProperty("eventName");
});

test("an AWS failure reaches Lambda as a retryable KeyturnError naming the secret, not as the SDK's error", async () => {
  const { store, publisher } = offlineDeps(t.aws);
  const relay = createRelayHandler({ store, publisher });
  t.aws.failWith("ThrottlingException");

  const failure = await relay(rotationFailed, lambdaContext("request-relay-2")).catch(
    (error: unknown) => error,
  );

  expect(failure).toBeInstanceOf(KeyturnError);
  expect(failure).toMatchObject({ name: "KeyturnError", credential: SECRET, retryable: true });
  expect((failure as Error).message).toMatch(
    /^Relaying Secrets Manager's RotationFailed for credential ".*" failed: ThrottlingException/,
  );
  expect((failure as Error).cause).toMatchObject({ name: "ThrottlingException" });
});

test.each([
  ["a source that is not a string", { ...rotationFailed, source: 42 }],
  ["resources that are not a list", { ...rotationFailed, resources: "arn:aws:secretsmanager:..." }],
  [
    "a secret id that is not a string",
    { ...rotationFailed, detail: { additionalEventData: { SecretId: { $gt: "" } } } },
  ],
  ["nothing but a string", "RotationFailed"],
])("an event with %s is refused with InvalidRelayEventError before any AWS call", async (_, event) => {
  const { store, publisher } = offlineDeps(t.aws);
  const relay = createRelayHandler({ store, publisher });

  const failure = await relay(event, lambdaContext("request-invalid")).catch((error: unknown) => error);

  expect(failure).toBeInstanceOf(InvalidRelayEventError);
  expect(failure).toBeInstanceOf(KeyturnError);
  expect(failure).toMatchObject({
    name: "InvalidRelayEventError",
    retryable: false,
    credential: "(unknown)",
  });
  expect(t.aws.calls).toEqual([]);
});
