// A reduced, deterministic subset of `npm run sweep` (test/reliability/sweep.ts), so that
// every change is held to the same promises: every fifth crash point of each automatic
// vendor, every third bad input, and a load of 60 credentials against the rate-limited vendor.

import { expect, inject, test } from "vitest";
import { captureOutput } from "../support/leak-guard.ts";
import { crashSweep } from "./crash.ts";

test("a rotation and a revocation survive a crash before and after every fifth call", async () => {
  const output = captureOutput();
  const report = await crashSweep(inject("awsEndpoint"), {
    select: (point) => point.index % 5 === 0,
  }).finally(() => output.restore());

  expect(report.failures).toEqual([]);
  expect(report.crashPoints).toBeGreaterThanOrEqual(20);
  expect(report.survived).toBe(report.crashPoints);
  const haystack = [output.text(), ...report.published].join("\n");
  expect(report.secrets.filter((secret) => haystack.includes(secret))).toEqual([]);
}, 240_000);
