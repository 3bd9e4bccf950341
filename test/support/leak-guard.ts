// Captures everything a test makes keyturn print (stdout, stderr: Powertools logs go there)
// and finds any secret value in it or in events and errors. Captured output is kept, not
// echoed, so that the test run's own output stays readable.

export interface CapturedOutput {
  text(): string;
  restore(): void;
}

export function captureOutput(): CapturedOutput {
  const chunks: string[] = [];
  const originals = { out: process.stdout.write, err: process.stderr.write };
  const tap = ((chunk: unknown, ...rest: unknown[]) => {
    chunks.push(typeof chunk === "string" ? chunk : Buffer.from(chunk as Uint8Array).toString("utf8"));
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

/** Everything an error shows: message, stack, JSON form and its causes. */
export function describeError(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 5; depth++) {
    parts.push(String(current));
    if (current instanceof Error) parts.push(current.stack ?? "");
    try {
      parts.push(JSON.stringify(current));
    } catch {
      // cyclic: String() and stack above already cover it
    }
    current = current instanceof Error ? current.cause : undefined;
  }
  return parts.join("\n");
}

/** The secret values (abbreviated) found in any of the texts. */
export function findLeaks(texts: readonly string[], secrets: readonly string[]): string[] {
  const haystack = texts.join("\n");
  return secrets
    .filter((secret) => secret.length >= 8 && haystack.includes(secret))
    .map((s) => `${s.slice(0, 4)}…`);
}
