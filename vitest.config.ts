import { appendFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { defineConfig } from "vitest/config";
import { LEAK_SCAN_DIR } from "./test/support/leak-scan-dir.ts";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // The leak guard's teardown runs after every test file: it must be set up before moto.
    globalSetup: ["test/support/leak-scan-reset.ts", "test/support/global-setup.ts"],
    setupFiles: ["test/support/leak-recorder.ts"],
    // The handlers read their environment at module load, as in Lambda.
    env: {
      KEYTURN_EVENT_BUS_NAME: "keyturn",
      KEYTURN_LEASE_TABLE: "keyturn-leases",
      POWERTOOLS_LOG_LEVEL: "INFO",
    },
    // Console output of the tests reaches this process, not the workers' streams: the leak
    // guard scans it too.
    onConsoleLog(log) {
      mkdirSync(LEAK_SCAN_DIR, { recursive: true });
      appendFileSync(join(LEAK_SCAN_DIR, "console.txt"), `${log}\n`);
    },
    testTimeout: 30_000,
    hookTimeout: 120_000,
  },
});
