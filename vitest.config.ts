import { appendFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { defineConfig } from "vitest/config";
import { leakScanDir } from "./test/support/leak-scan-dir.ts";

/** Pure logic: nothing running (no moto, no Python, no synth); `npm run test:unit`. */
const UNIT = ["test/unit/**/*.test.ts"];

export default defineConfig({
  test: {
    // The root's global setup runs once per run, whichever projects run: the suite-wide leak
    // guard, which empties the scan folder first and scans it after the last test file.
    globalSetup: ["test/support/leak-scan-reset.ts"],
    setupFiles: ["test/support/leak-recorder.ts"],
    // The handlers read their environment at module load, as in Lambda.
    env: {
      KEYTURN_EVENT_BUS_NAME: "keyturn",
      KEYTURN_LEASE_TABLE: "keyturn-leases",
      KEYTURN_RECORDS_TABLE: "keyturn-records",
      POWERTOOLS_LOG_LEVEL: "INFO",
    },
    // Console output of the tests reaches this process, not the workers' streams: the leak
    // guard scans it too.
    onConsoleLog(log) {
      const dir = leakScanDir();
      mkdirSync(dir, { recursive: true });
      appendFileSync(join(dir, "console.txt"), `${log}\n`);
    },
    // No test may raise these: a test that needs longer is split or shortened, and its full
    // length runs in `npm run sweep` or `npm run bench`.
    testTimeout: 30_000,
    hookTimeout: 60_000,
    projects: [
      { test: { name: "unit", include: UNIT } },
      {
        test: {
          name: "integration",
          include: ["test/**/*.test.ts"],
          exclude: UNIT,
          // One moto server for the project's run; tests isolate themselves by account.
          globalSetup: ["test/support/global-setup.ts"],
        },
      },
    ],
  },
});
