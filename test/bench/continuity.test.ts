// Issue 19's continuity benchmark (bench/continuity.ts) on a tiny week, so that `npm test` notices
// when it breaks before someone runs `npm run bench`: two consumers through keyturn/consumer over
// one simulated day of real HTTP calls to the simulators, on moto, with scheduled rotations, the
// monitor's sweeps and one emergency revoke. And the consumer Lambda's bundle: keyturn/consumer
// brings neither an HTTP client nor keyturn's engine.
import { expect, inject, test } from "vitest";
import { consumerBundle, continuity } from "../../bench/continuity.ts";

test("two consumers over a simulated day: no failed call with usage reports, at most one per emergency", async () => {
  // Hourly sweeps, a 2-hour cache (a 10-minute grace period) and calls thinned out in the quiet
  // hours, to keep the test short: the Immuta consumer reads its key at 02:00, the rotation comes
  // at 02:07, and the 03:00 sweep is past the grace period.
  const figures = await continuity(inject("awsEndpoint"), {
    consumers: 2,
    days: 1,
    cacheMaxAgeMs: 2 * 3_600_000,
    inUseWindow: "3h",
    sweepEveryMs: 3_600_000,
    quietCallEveryMs: 15 * 60_000,
    bundle: false,
  });

  expect(figures.consumers).toBe(2);
  // Every minute from each rotation and the emergency until the caches are read again, and every
  // 15 minutes in between.
  expect(figures.withReporting.calls).toBeGreaterThan(2 * (4 * 120 + 60));
  expect(figures.withReporting.failed).toBe(0);
  expect(figures.withoutReporting.calls).toBe(figures.withReporting.calls);
  expect(figures.withoutReporting.failed).toBeGreaterThan(0);
  expect(figures.emergencyFailedPerConsumer).toBe(1);
});

test("the consumer Lambda's bundle holds keyturn/consumer and the AWS SDK, no undici and no engine", async () => {
  const bundle = await consumerBundle();

  expect(bundle.inputs).toContain("consumer/index.ts");
  expect(
    bundle.inputs.filter((input) => input.includes("undici") || input.startsWith("functions/engine/")),
  ).toEqual([]);
  expect(bundle.bytes).toBeGreaterThan(0);
});
