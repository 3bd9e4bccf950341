// Captures everything a test makes keyturn print (stdout, stderr: Powertools logs go there)
// and finds any secret value in it or in events and errors. Captured output is kept, not
// echoed, so that the test run's own output stays readable.

import { transcript } from "#sandbox/transcript.ts";

export interface CapturedOutput {
  text(): string;
  restore(): void;
}

export function captureOutput(): CapturedOutput {
  const chunks: string[] = [];
  const originals = { out: process.stdout.write, err: process.stderr.write };
  const tap = ((chunk: unknown, ...rest: unknown[]) => {
    const text = typeof chunk === "string" ? chunk : Buffer.from(chunk as Uint8Array).toString("utf8");
    chunks.push(text);
    transcript.text(text);
    const callback = rest.find((arg) => typeof arg === "function") as (() => void) | undefined;
    callback?.();
    return true;
  }) as typeof process.stdout.write;
  process.stdout.write = tap;
  process.stderr.write = tap;
  return {
    text: () => chunks.join(""),
    restore() {
      process.stdout.write = originals.out;
      process.stderr.write = originals.err;
    },
  };
}

export { describeError } from "#sandbox/transcript.ts";

/** The secret values (abbreviated) found in any of the texts. */
export function findLeaks(texts: readonly string[], secrets: readonly string[]): string[] {
  const haystack = texts.join("\n");
  return secrets
    .filter((secret) => secret.length >= 8 && haystack.includes(secret))
    .map((s) => `${s.slice(0, 4)}…`);
}
