// A process-wide transcript for the suite-wide leak guard: every secret value the vendor
// simulators hand out, and the texts keyturn produces that a person or a subscriber would
// see (events received, errors of failed rotations, captured output). The test suite dumps
// it per test file and one last test scans all of it (test/leak-guard/). Outside tests
// nothing reads it; it costs a few array pushes.

const secrets = new Set<string>();
const texts: string[] = [];

export const transcript = {
  /** A value a simulator handed out: it must never appear in anything keyturn prints or publishes. */
  secret(value: string): void {
    secrets.add(value);
  },
  /** Something keyturn printed, published or raised. */
  text(value: string): void {
    texts.push(value);
  },
  /** Everything so far, emptied. */
  drain(): { secrets: string[]; texts: string[] } {
    const drained = { secrets: [...secrets], texts: texts.splice(0) };
    secrets.clear();
    return drained;
  },
};

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
      // cyclic: String() and the stack above already cover it
    }
    current = current instanceof Error ? current.cause : undefined;
  }
  return parts.join("\n");
}
