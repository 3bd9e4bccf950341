import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/support/global-setup.ts"],
    // The rotate handler reads its environment at module load, as in Lambda.
    env: {
      KEYTURN_EVENT_BUS_NAME: "keyturn",
      KEYTURN_LEASE_TABLE: "keyturn-leases",
      POWERTOOLS_LOG_LEVEL: "INFO",
    },
    testTimeout: 30_000,
    hookTimeout: 120_000,
  },
});
