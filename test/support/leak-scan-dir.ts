// Where each test file dumps its transcript for the suite-wide leak guard.
import { join } from "node:path";

export const LEAK_SCAN_DIR = join(import.meta.dirname, "..", "..", ".keyturn", "leak-scan");
