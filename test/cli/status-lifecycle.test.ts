// keyturn status and the lifecycle edges (issue 14): a credential whose secret is scheduled for
// deletion, and one keyturn has records of that the config no longer pins, are shown with what
// keyturn does about them; neither was visible before (ListSecrets leaves out deleted secrets, and
// a credential out of the config had no row at all).

import { DeleteSecretCommand } from "@aws-sdk/client-secrets-manager";
import { describe, expect, test } from "vitest";
import { KeyRecords } from "#aws/record-store.ts";
import { BUS_NAME, lines, useCliSandbox } from "./cli-sandbox.ts";

const sandbox = useCliSandbox();

interface Row {
  credential: string;
  provider: string | null;
  state: string;
  nextAction: { action: string; at: string | null };
  problem?: string;
}

async function statusJson(): Promise<Row[]> {
  const result = await sandbox().run(["status", "--json"]);
  expect(result.code).toBe(0);
  expect(result.stderr).toBe("");
  return (JSON.parse(result.stdout) as { credentials: Row[] }).credentials;
}

describe("keyturn status and credentials that are gone", () => {
  test("a credential whose secret is scheduled for deletion is shown as deleted", async () => {
    await sandbox().seedImmuta("keyturn/immuta");
    await sandbox().seedEverflow("keyturn/everflow");
    await sandbox().aws.secretsManager.send(
      new DeleteSecretCommand({ SecretId: "keyturn/immuta", RecoveryWindowInDays: 7 }),
    );

    const rows = await statusJson();

    expect(rows.map((row) => [row.credential, row.state])).toEqual([
      ["keyturn/everflow", "ok"],
      ["keyturn/immuta", "deleted"],
    ]);
    expect(rows[1]).toMatchObject({
      nextAction: { action: "the monitor revokes its keys" },
      problem: expect.stringMatching(/scheduled for deletion/),
    });
    const table = await sandbox().run(["status"]);
    expect(lines(table.stdout).find((line) => line.startsWith("keyturn/immuta"))).toMatch(/deleted$/);
  });

  test("a credential keyturn stored keys for that the config no longer pins is shown as departed", async () => {
    await sandbox().seedEverflow("keyturn/everflow");
    const records = new KeyRecords(sandbox().aws.dynamodb, `${BUS_NAME}-records`);
    await records.addKeys("keyturn/removed", ["reporting sync"], {
      secretName: "keyturn/removed",
      provider: "everflow",
      settings: {},
      settingsFields: ["baseUrl"],
      policy: { gracePeriod: "24h", expiryThresholds: ["30d"] },
    });

    const rows = await statusJson();

    expect(rows.map((row) => [row.credential, row.provider, row.state])).toEqual([
      ["keyturn/everflow", "everflow", "ok"],
      ["keyturn/removed", "everflow", "departed"],
    ]);
    expect(rows[1]?.problem).toMatch(/no longer in the config/);
  });
});
