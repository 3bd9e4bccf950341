// The refresh handler's invocation (functions/handlers/refresh.ts, ./middleware.ts): each run's
// log lines carry its own request id, and what it throws reaches Lambda as a KeyturnError. The
// refresh reads nothing from its event, so no event is refused.

import { expect, test } from "vitest";
import { KeyturnError } from "#engine/errors.ts";
import { EVERY_CREDENTIAL } from "#handlers/middleware.ts";
import { createRefreshHandler, parseRefreshEvent } from "#handlers/refresh.ts";
import { lambdaContext, linesAround, offlineDeps, offlineTests } from "./offline.ts";

const t = offlineTests();

function refresh() {
  return createRefreshHandler({
    ...offlineDeps(t.aws),
    parameterPrefix: "/keyturn/tokens",
    intervalMs: 120_000,
    minRemainingMs: 600_000,
  });
}

test("each run's log lines carry its own request id, never the previous run's", async () => {
  const run = refresh();

  const first = await linesAround(t.output, () => run({}, lambdaContext("request-refresh-1")));
  const second = await linesAround(t.output, () => run({}, lambdaContext("request-refresh-2")));

  expect(t.aws.calls.length).toBeGreaterThan(1);
  expect(first.during.length).toBeGreaterThan(0);
  expect(second.during.length).toBeGreaterThan(0);
  expect(first.during.map((line) => line.function_request_id)).toEqual(
    first.during.map(() => "request-refresh-1"),
  );
  expect(second.during.map((line) => line.function_request_id)).toEqual(
    second.during.map(() => "request-refresh-2"),
  );
  expect(second.after).not.toHaveProperty("credential");
});

test("a run that cannot list reaches Lambda as a KeyturnError about every credential, not as the SDK's error", async () => {
  const run = refresh();
  t.aws.failWith("ThrottlingException");

  const failure = await run({}, lambdaContext("request-refresh-3")).catch((error: unknown) => error);

  expect(t.aws.calls[0]).toBe("ListSecretsCommand");
  expect(failure).toBeInstanceOf(KeyturnError);
  expect(failure).toMatchObject({ name: "KeyturnError", credential: EVERY_CREDENTIAL, retryable: true });
  expect((failure as Error).message).toMatch(/^The token refresh failed: ThrottlingException: /);
});

test.each([[{}], [{ source: "aws.scheduler" }], ["anything"], [null]])(
  "the event %j is read as nothing",
  (event) => {
    expect(parseRefreshEvent(event)).toEqual({});
  },
);
