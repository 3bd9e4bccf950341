// keyturn status shows each credential's last failure (issue 15), as the monitor announced it
// ("Credential Action Failed") and recorded it in keyturn's records table, so that the CLI and the
// dashboard agree; a failure older than a week is history and not shown.

import { expect, test } from "vitest";
import { FailureStreaks } from "#aws/failure-streaks.ts";
import { BUS_NAME, useCliSandbox } from "./cli-sandbox.ts";

const sandbox = useCliSandbox();
const DAY = 86_400_000;

test("a credential whose revocation keeps failing shows what failed, since when, and the error", async () => {
  await sandbox().seedImmuta("keyturn/immuta");
  await sandbox().seedEverflow("keyturn/everflow");
  const streaks = new FailureStreaks(sandbox().aws.dynamodb, `${BUS_NAME}-records`);
  const now = Date.now();
  await streaks.failed(
    "keyturn/immuta",
    "revocation",
    new Date(now - 2 * 3_600_000),
    DAY,
    "Immuta answered 503",
  );
  await streaks.failed(
    "keyturn/immuta",
    "revocation",
    new Date(now - 3_600_000),
    DAY,
    "Immuta answered 503 again",
  );
  await streaks.failed("keyturn/everflow", "reminder", new Date(now - 8 * DAY), DAY, "long ago");

  const json = await sandbox().run(["status", "--json"]);
  const table = await sandbox().run(["status"]);

  expect(json.code).toBe(0);
  const rows = (JSON.parse(json.stdout) as { credentials: { credential: string; lastFailure?: unknown }[] })
    .credentials;
  expect(rows.find((row) => row.credential === "keyturn/immuta")?.lastFailure).toEqual({
    action: "revocation",
    since: new Date(now - 2 * 3_600_000).toISOString(),
    at: new Date(now - 3_600_000).toISOString(),
    error: "Immuta answered 503 again",
  });
  expect(rows.find((row) => row.credential === "keyturn/everflow")?.lastFailure).toBeUndefined();
  expect(table.stdout).toMatch(
    /keyturn\/immuta: revocation failed at .* \(failing since .*\): Immuta answered 503 again/,
  );
  expect(table.stdout).not.toMatch(/long ago/);
});
