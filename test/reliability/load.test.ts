// A reduced, deterministic subset of `npm run sweep` (test/reliability/sweep.ts), so that
// every change is held to the same promises: every fifth crash point of each automatic
// vendor, every third bad input, and a load of 60 credentials against the rate-limited vendor.

import { expect, inject, test } from "vitest";
import { captureOutput } from "../support/leak-guard.ts";
import { loadRun } from "./load.ts";

test("forty credentials rotated at once against a vendor limited to 20 requests a second: none lost, none orphaned", async () => {
  const output = captureOutput();
  // Simulated time: the vendor's second passes only while a client waits out a 429, so the
  // burst is throttled on any machine. The achieved rate is measured by `npm run sweep`.
  const report = await loadRun(inject("awsEndpoint"), {
    credentials: 40,
    concurrency: 20,
    simulatedTime: true,
  }).finally(() => output.restore());

  expect(report).toMatchObject({ credentials: 40, rotated: 40, lost: 0, orphans: 0 });
  expect(report.throttled).toBeGreaterThan(0);
  expect(
    report.secrets.filter((secret) => output.text().includes(secret) || report.published.includes(secret)),
  ).toEqual([]);
});
