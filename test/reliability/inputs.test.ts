// A reduced, deterministic subset of `npm run sweep` (test/reliability/sweep.ts), so that
// every change is held to the same promises: every fifth crash point of each automatic
// vendor, every third bad input, and a load of 60 credentials against the rate-limited vendor.

import { expect, inject, test } from "vitest";
import { captureOutput } from "../support/leak-guard.ts";
import { badInputCorpus } from "./bad-inputs.ts";

test("every third bad input gets a typed error naming the credential, and changes nothing", async () => {
  const output = captureOutput();
  const report = await badInputCorpus(inject("awsEndpoint"), {
    select: (_c, index) => index % 3 === 0,
  }).finally(() => output.restore());

  expect(report.failures).toEqual([]);
  expect(report.badInputs).toBeGreaterThanOrEqual(70);
  expect(report.unhandledRejections).toBe(0);
  expect(report.secrets.filter((secret) => output.text().includes(secret))).toEqual([]);
}, 240_000);
