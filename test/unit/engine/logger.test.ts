import { afterEach, beforeEach, expect, test } from "vitest";
import { logger } from "#engine/logger.ts";
import { rememberSecret } from "#http/redact.ts";
import { type CapturedOutput, captureOutput } from "../../support/leak-guard.ts";

let output: CapturedOutput;
beforeEach(() => {
  output = captureOutput();
});
afterEach(() => output.restore());

test("the logger blanks a remembered secret wherever it appears in a record", () => {
  rememberSecret("imm_pat_remembered_0123456789");

  logger.info("minted imm_pat_remembered_0123456789", { note: "value imm_pat_remembered_0123456789 inside" });

  expect(output.text()).toContain("minted [REDACTED]");
  expect(output.text()).not.toContain("imm_pat_remembered_0123456789");
});

test("the logger blanks values under sensitive keys it has never seen before", () => {
  logger.info("calling the vendor", {
    headers: { authorization: "Bearer never_seen_token_abcdef" },
    token: "plain_token_abcdef123",
  });

  expect(output.text()).toContain('"calling the vendor"');
  expect(output.text()).not.toMatch(/never_seen_token_abcdef|plain_token_abcdef123/);
});
