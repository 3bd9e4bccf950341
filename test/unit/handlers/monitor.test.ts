// The monitor handler's invocation (functions/handlers/monitor.ts, ./middleware.ts): its log keys
// live exactly as long as the invocation, its event is parsed (never cast), and what it throws
// reaches Lambda as a KeyturnError. An event that is not one the schedules send is not refused:
// it runs the audit, the sweep that misses nothing, and a warning says so.

import { expect, test } from "vitest";
import { KeyturnError } from "#engine/errors.ts";
import { EVERY_CREDENTIAL } from "#handlers/middleware.ts";
import { createMonitorHandler, parseMonitorEvent } from "#handlers/monitor.ts";
import { lambdaContext, linesAround, logLines, offlineDeps, offlineTests } from "./offline.ts";

const t = offlineTests();

function monitor() {
  return createMonitorHandler({
    ...offlineDeps(t.aws),
    orphanSafetyMarginMs: 3_600_000,
    reconcileIntervalMs: 86_400_000,
    stuckAfterMs: 86_400_000,
  });
}

test("a sweep's log lines carry its request id and mode, and the lines after it neither", async () => {
  const sweep = monitor();

  const { during, after } = await linesAround(t.output, () =>
    sweep({ mode: "due" }, lambdaContext("request-sweep-1")),
  );

  expect(t.aws.calls.length).toBeGreaterThan(0);
  expect(during).toContainEqual(
    expect.objectContaining({
      message: "unit test: AWS call stopped",
      function_request_id: "request-sweep-1",
      sweep: "due",
    }),
  );
  expect(after).toMatchObject({ message: "unit test: after the invocation" });
  expect(after).not.toHaveProperty("sweep");
  expect(after).not.toHaveProperty("credential");
});

test("an audit that cannot list reaches Lambda as a KeyturnError about every credential, not as the SDK's error", async () => {
  const sweep = monitor();
  t.aws.failWith("ThrottlingException");

  const failure = await sweep({ mode: "audit" }, lambdaContext("request-sweep-2")).catch(
    (error: unknown) => error,
  );

  expect(t.aws.calls).toEqual(["ListSecretsCommand"]);
  expect(failure).toBeInstanceOf(KeyturnError);
  expect(failure).toMatchObject({ name: "KeyturnError", credential: EVERY_CREDENTIAL, retryable: true });
  expect((failure as Error).message).toBe(
    "The monitor's audit sweep failed: ThrottlingException: ListSecretsCommand reaches no AWS in the unit tests",
  );
});

test.each([
  [{ mode: "due" }, "due"],
  [{ mode: "audit" }, "audit"],
  [{}, "audit"],
  // Scheduler's default notification, or any envelope without a mode: the audit.
  [{ source: "aws.scheduler", "detail-type": "Scheduled Event" }, "audit"],
])("%j is the %s sweep, without a warning", (event, mode) => {
  expect(parseMonitorEvent(event)).toEqual({ mode });
  expect(t.output.text()).not.toContain('"level":"WARN"');
});

test.each([
  ["a mode in capitals", { mode: "DUE" }],
  ["a mode that is a list", { mode: ["due"] }],
  ["a string", "due"],
  ["null", null],
])("an event with %s runs the audit and says so, naming what was wrong", (_, event) => {
  expect(parseMonitorEvent(event)).toEqual({ mode: "audit" });

  const warning = logLines(t.output).find((line) => line.level === "WARN");
  expect(warning).toMatchObject({
    message: expect.stringContaining("running the audit"),
    invalid: expect.any(Array),
  });
  // The event's values are never written, only where it was wrong.
  expect(JSON.stringify(warning)).not.toContain("DUE");
});
