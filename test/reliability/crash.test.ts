// A reduced, deterministic subset of `npm run sweep` (test/reliability/sweep.ts), so that
// every change is held to the same promises: every fifth crash point of each automatic
// vendor, one test per vendor.

import { describe, expect, inject, test } from "vitest";
import { captureOutput } from "../support/leak-guard.ts";
import { crashSweep } from "./crash.ts";

describe.each(["immuta-request", "softwareone"] as const)("%s", (provider) => {
  test("a rotation and a revocation survive a crash before and after every fifth call", async ({
    signal,
  }) => {
    const output = captureOutput();
    const report = await crashSweep(inject("awsEndpoint"), {
      providers: [provider],
      select: (point) => point.index % 5 === 0,
      signal,
    }).finally(() => output.restore());

    expect(report.failures).toEqual([]);
    expect(report.crashPoints).toBeGreaterThanOrEqual(10);
    expect(report.survived).toBe(report.crashPoints);
    const haystack = [output.text(), ...report.published].join("\n");
    expect(report.secrets.filter((secret) => haystack.includes(secret))).toEqual([]);
  });
});
