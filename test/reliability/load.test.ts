// A reduced, deterministic subset of `npm run sweep` (test/reliability/sweep.ts), so that
// every change is held to the same promises: every fifth crash point of each automatic
// vendor, every third bad input, and a load of 60 credentials against the rate-limited vendor.

import { expect, inject, test } from "vitest";
import { captureOutput } from "../support/leak-guard.ts";
import { loadRun } from "./load.ts";

test("sixty credentials rotated at once against a vendor limited to 20 requests a second: none lost, none orphaned", async () => {
  const output = captureOutput();
  const report = await loadRun(inject("awsEndpoint"), { credentials: 60, concurrency: 30 }).finally(() =>
    output.restore(),
  );

  expect(report).toMatchObject({ credentials: 60, rotated: 60, lost: 0, orphans: 0 });
  expect(report.throttled).toBeGreaterThan(0);
  expect(report.rateRatio).toBeGreaterThanOrEqual(0.8);
}, 240_000);
