// The refresh function's memory between runs (functions/engine/refresh-memory.ts): what it keeps,
// for how long, and what makes it read again. The token store side runs against moto in
// test/integration/refresh.test.ts.

import { describe, expect, test } from "vitest";
import { RefreshMemory } from "#engine/refresh-memory.ts";
import { redactText } from "#http/redact.ts";
import type { CredentialValue } from "#providers/types.ts";

const MINUTE = 60_000;
const ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:keyturn/incorta-analytics-AbCdEf";
const KEY = "kept-api-key-0123456789abcdef";
const value = { provider: "incorta-v1", keyId: "1a2b3c4d", apiKey: KEY } as unknown as CredentialValue;

describe("a kept value", () => {
  test("serves the same AWSCURRENT version until the bound has passed", () => {
    const memory = new RefreshMemory(15 * MINUTE);
    memory.keepValue(ARN, "v1", value, [KEY], 0);

    expect(memory.value(ARN, "v1", 14 * MINUTE)).toBe(value);
    expect(memory.value(ARN, "v1", 15 * MINUTE)).toBeUndefined();
    // Dropped once stale: no later answer brings it back.
    expect(memory.value(ARN, "v1", MINUTE)).toBeUndefined();
  });

  test("is not served for another version, nor when the listing names none", () => {
    const memory = new RefreshMemory(15 * MINUTE);
    memory.keepValue(ARN, "v1", value, [KEY], 0);
    expect(memory.value(ARN, "v2", MINUTE)).toBeUndefined();

    memory.keepValue(ARN, "v1", value, [KEY], 0);
    expect(memory.value(ARN, undefined, MINUTE)).toBeUndefined();
  });

  test("is not served when the clock went back before it was read", () => {
    const memory = new RefreshMemory(15 * MINUTE);
    memory.keepValue(ARN, "v1", value, [KEY], 10 * MINUTE);

    expect(memory.value(ARN, "v1", 9 * MINUTE)).toBeUndefined();
  });

  test("is forgotten when the vendor refused it", () => {
    const memory = new RefreshMemory(15 * MINUTE);
    memory.keepValue(ARN, "v1", value, [KEY], 0);
    memory.forgetValue(ARN);

    expect(memory.value(ARN, "v1", MINUTE)).toBeUndefined();
  });

  test("a bound of 0 keeps nothing", () => {
    const memory = new RefreshMemory(0);
    memory.keepValue(ARN, "v1", value, [KEY], 0);

    expect(memory.value(ARN, "v1", 0)).toBeUndefined();
  });

  test("stays redacted whenever it is served", () => {
    const memory = new RefreshMemory(15 * MINUTE);
    memory.keepValue(ARN, "v1", value, [KEY], 0);

    memory.value(ARN, "v1", MINUTE);

    expect(redactText(`the key is ${KEY}`)).not.toContain(KEY);
  });
});
