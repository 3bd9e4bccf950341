// Where each test file dumps its transcript for the suite-wide leak guard: a folder of the run's
// own (the root global setup makes it and passes it to the workers in the environment), so that
// two runs in one checkout never read or empty each other's.
import { join } from "node:path";

const ROOT = join(import.meta.dirname, "..", "..", ".keyturn", "leak-scan");
const VARIABLE = "KEYTURN_LEAK_SCAN_DIR";

/** Makes this run's folder the one every worker and the config's console hook write to. */
export function claimLeakScanDir(): string {
  const dir = join(ROOT, `${process.pid}-${Date.now()}`);
  process.env[VARIABLE] = dir;
  return dir;
}

/** This run's folder (set by the root global setup before any worker starts). */
export function leakScanDir(): string {
  const dir = process.env[VARIABLE];
  if (!dir)
    throw new Error(
      `${VARIABLE} is unset: the leak guard's global setup (test/support/leak-scan-reset.ts) did not run`,
    );
  return dir;
}
