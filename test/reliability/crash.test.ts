// A reduced, deterministic subset of `npm run sweep` (test/reliability/sweep.ts), so that
// every change is held to the same promises: every fifth crash point of each automatic
// vendor. SoftwareOne's (about twice Immuta's: an issuer, a disable then a delete) are dealt in
// two shards, so that no test runs long on a busy machine.

import { describe, expect, inject, test } from "vitest";
import { captureOutput } from "../support/leak-guard.ts";
import { crashSweep } from "./crash.ts";

const SHARDS = [
  { provider: "immuta-request", shard: "every fifth call", keep: (index: number) => index % 5 === 0 },
  { provider: "softwareone", shard: "every tenth call", keep: (index: number) => index % 10 === 0 },
  {
    provider: "softwareone",
    shard: "every tenth call, from the fifth",
    keep: (index: number) => index % 10 === 5,
  },
] as const;

describe.each(SHARDS)("$provider, $shard", ({ provider, keep }) => {
  test("a rotation and a revocation survive a crash before and after each call", async ({ signal }) => {
    const output = captureOutput();
    const report = await crashSweep(inject("awsEndpoint"), {
      providers: [provider],
      select: (point) => keep(point.index),
      signal,
    }).finally(() => output.restore());

    expect(report.failures).toEqual([]);
    expect(report.crashPoints).toBeGreaterThanOrEqual(10);
    expect(report.survived).toBe(report.crashPoints);
    const haystack = [output.text(), ...report.published].join("\n");
    expect(report.secrets.filter((secret) => haystack.includes(secret))).toEqual([]);
  });
});
