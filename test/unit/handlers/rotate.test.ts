// The rotate handler's invocation (functions/handlers/rotate.ts, ./middleware.ts): its log keys
// live exactly as long as the invocation, an event that is not Secrets Manager's is refused with
// a typed error before any AWS call, and the event itself never reaches the log.

import { expect, test, vi } from "vitest";
import { KeyturnError } from "#engine/errors.ts";
import { createRotateHandler, InvalidRotationEventError } from "#handlers/rotate.ts";
import { lambdaContext, linesAround, logLines, offlineDeps, offlineTests } from "./offline.ts";

const SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:keyturn/immuta-ci-AbC123";

const t = offlineTests();

test("a step's log lines carry its request id, secret id and version, and the lines after it carry neither", async () => {
  const rotate = createRotateHandler(offlineDeps(t.aws));

  // setSecret is the step that reads nothing: its one line is the engine's own.
  const { during, after } = await linesAround(t.output, () =>
    rotate(
      { Step: "setSecret", SecretId: SECRET, ClientRequestToken: "version-1" },
      lambdaContext("request-rotate-1"),
    ),
  );

  expect(t.aws.calls).toEqual([]);
  expect(during).toContainEqual(
    expect.objectContaining({
      message: expect.stringContaining("setSecret"),
      function_request_id: "request-rotate-1",
      secretId: SECRET,
      versionId: "version-1",
    }),
  );
  expect(after).toMatchObject({ message: "unit test: after the invocation" });
  expect(after).not.toHaveProperty("secretId");
  expect(after).not.toHaveProperty("versionId");
  expect(after).not.toHaveProperty("credential");
});

test("a step that fails clears the keys too, and throws a KeyturnError naming the secret", async () => {
  const rotate = createRotateHandler(offlineDeps(t.aws));

  let failure: unknown;
  const { during, after } = await linesAround(t.output, async () => {
    failure = await rotate(
      { Step: "createSecret", SecretId: SECRET, ClientRequestToken: "version-2" },
      lambdaContext("request-rotate-2"),
    ).catch((error: unknown) => error);
  });

  expect(t.aws.calls[0]).toBe("DescribeSecretCommand");
  expect(failure).toBeInstanceOf(KeyturnError);
  expect(failure).toMatchObject({ credential: SECRET, retryable: false });
  expect(during).toContainEqual(
    expect.objectContaining({
      function_request_id: "request-rotate-2",
      secretId: SECRET,
      versionId: "version-2",
    }),
  );
  expect(after).not.toHaveProperty("secretId");
  expect(after).not.toHaveProperty("versionId");
});

test.each([
  ["nothing", undefined, "(unknown)"],
  ["no step", { SecretId: SECRET, ClientRequestToken: "v" }, SECRET],
  ["an unknown step", { Step: "deleteSecret", SecretId: SECRET, ClientRequestToken: "v" }, SECRET],
  ["an empty secret id", { Step: "createSecret", SecretId: "", ClientRequestToken: "v" }, "(unknown)"],
  [
    "a secret id that is not a string",
    { Step: "createSecret", SecretId: { $ne: 1 }, ClientRequestToken: "v" },
    "(unknown)",
  ],
  ["a string", "createSecret", "(unknown)"],
])(
  "an event with %s is refused with InvalidRotationEventError before any AWS call",
  async (_, event, credential) => {
    const rotate = createRotateHandler(offlineDeps(t.aws));

    const failure = await rotate(event, lambdaContext("request-invalid")).catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(InvalidRotationEventError);
    expect(failure).toBeInstanceOf(KeyturnError);
    expect(failure).toMatchObject({ name: "InvalidRotationEventError", retryable: false, credential });
    expect((failure as Error).message).toMatch(
      /^Not a Secrets Manager rotation event: .* missing or invalid\./,
    );
    expect(t.aws.calls).toEqual([]);
  },
);

test("whoever invokes the function cannot have its event logged, even where POWERTOOLS_LOGGER_LOG_EVENT is on", async () => {
  vi.stubEnv("POWERTOOLS_LOGGER_LOG_EVENT", "true");
  vi.resetModules();
  // A logger and handler of their own, built with event logging turned on by the environment.
  const { logger } = await import("#engine/logger.ts");
  const fresh = await import("#handlers/rotate.ts");
  expect(logger.getLogEvent()).toBe(true);
  const rotate = fresh.createRotateHandler(offlineDeps(t.aws));

  await rotate(
    { Step: "setSecret", SecretId: SECRET, ClientRequestToken: "v", note: "imm_pat_smuggled_0123456789" },
    lambdaContext("request-log-event"),
  );

  expect(logLines(t.output).some((line) => line.function_request_id === "request-log-event")).toBe(true);
  expect(t.output.text()).not.toContain("imm_pat_smuggled_0123456789");
  expect(t.output.text()).not.toContain("Lambda invocation event");
});
