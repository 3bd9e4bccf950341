// The revoke handler's invocation (functions/handlers/revoke.ts, ./middleware.ts): its log keys
// live exactly as long as the invocation, and a request that is not one is refused with a typed
// error before any AWS call, whoever sent it (a direct invoke, an event on the bus).

import { expect, test } from "vitest";
import { KeyturnError } from "#engine/errors.ts";
import { createRevokeHandler, InvalidRevokeRequestError } from "#handlers/revoke.ts";
import { lambdaContext, linesAround, offlineDeps, offlineTests } from "./offline.ts";

const CREDENTIAL = "keyturn/immuta-ci";

const t = offlineTests();

test("a revoke's log lines carry its request id and credential, the lines after it neither, and its failure is typed", async () => {
  const revoke = createRevokeHandler(offlineDeps(t.aws));

  let failure: unknown;
  const { during, after } = await linesAround(t.output, async () => {
    failure = await revoke(
      { credential: CREDENTIAL, keyId: "key-1", reason: "leaked in a build log" },
      lambdaContext("request-revoke-1"),
    ).catch((error: unknown) => error);
  });

  expect(t.aws.calls[0]).toBe("DescribeSecretCommand");
  expect(during).toContainEqual(
    expect.objectContaining({ function_request_id: "request-revoke-1", credential: CREDENTIAL }),
  );
  expect(after).toMatchObject({ message: "unit test: after the invocation" });
  expect(after).not.toHaveProperty("credential");
  expect(failure).toBeInstanceOf(KeyturnError);
  expect(failure).toMatchObject({ credential: CREDENTIAL });
});

test("a request on the bus is read from its detail", async () => {
  const revoke = createRevokeHandler(offlineDeps(t.aws));

  const { during } = await linesAround(t.output, () =>
    revoke(
      {
        "detail-type": "Revoke Requested",
        source: "leak-scanner",
        detail: { credential: CREDENTIAL, keyId: "key-1", reason: "found on a paste site" },
      },
      lambdaContext("request-revoke-2"),
    ),
  );

  expect(t.aws.calls[0]).toBe("DescribeSecretCommand");
  expect(during).toContainEqual(
    expect.objectContaining({ function_request_id: "request-revoke-2", credential: CREDENTIAL }),
  );
});

test.each([
  ["nothing", undefined, "(unknown)"],
  ["no key id", { credential: CREDENTIAL, reason: "leak" }, CREDENTIAL],
  ["a credential that is not a string", { credential: ["a", "b"], keyId: "k", reason: "leak" }, "(unknown)"],
  [
    "the request in the wrong envelope",
    { "detail-type": "Something Else", detail: { credential: CREDENTIAL } },
    "(unknown)",
  ],
  ["a bus event without a detail", { "detail-type": "Revoke Requested" }, "(unknown)"],
])(
  "a request with %s is refused with InvalidRevokeRequestError before any AWS call",
  async (_, event, credential) => {
    const revoke = createRevokeHandler(offlineDeps(t.aws));

    const failure = await revoke(event, lambdaContext("request-invalid")).catch((error: unknown) => error);

    expect(failure).toBeInstanceOf(InvalidRevokeRequestError);
    expect(failure).toBeInstanceOf(KeyturnError);
    expect(failure).toMatchObject({ name: "InvalidRevokeRequestError", retryable: false, credential });
    expect((failure as Error).message).toMatch(/^Not a revoke request: /);
    expect(t.aws.calls).toEqual([]);
  },
);
