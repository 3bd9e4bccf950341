// keyturn status against the sandbox: every managed credential in one table, or as JSON.

import { CreateSecretCommand, TagResourceCommand } from "@aws-sdk/client-secrets-manager";
import { describe, expect, test } from "vitest";
import { Tag } from "#engine/settings.ts";
import { DAY, lines, useCliSandbox } from "./cli-sandbox.ts";

const sandbox = useCliSandbox();

interface StatusJson {
  generatedAt: string;
  credentials: {
    credential: string;
    provider: string | null;
    mode: string | null;
    keyId: string | null;
    issuedAt: string | null;
    ageDays: number | null;
    lastRotation: string | null;
    nextAction: { action: string; at: string | null; overdue: boolean };
    expiresAt: string | null;
    state: string;
    problem?: string;
  }[];
}

async function statusJson(): Promise<StatusJson> {
  const result = await sandbox().run(["status", "--json"]);
  expect(result.code).toBe(0);
  expect(result.stderr).toBe("");
  return JSON.parse(result.stdout) as StatusJson;
}

describe("keyturn status", () => {
  test("shows every credential with its provider, mode and state in a table", async () => {
    await sandbox().seedImmuta("keyturn/immuta");
    await sandbox().seedEverflow("keyturn/everflow");
    await sandbox().seedIncortaV1("keyturn/incorta-v1");

    const result = await sandbox().run(["status"]);

    expect(result.code).toBe(0);
    const [header, ...rows] = lines(result.stdout);
    expect(header?.split(/\s{2,}/)).toEqual([
      "CREDENTIAL",
      "PROVIDER",
      "MODE",
      "AGE",
      "LAST ROTATION",
      "NEXT ACTION",
      "WHEN",
      "EXPIRES",
      "STATE",
    ]);
    expect(rows.map((row) => row.split(/\s{2,}/).slice(0, 3))).toEqual([
      ["keyturn/everflow", "everflow", "manual"],
      ["keyturn/immuta", "immuta-request", "automatic"],
      ["keyturn/incorta-v1", "incorta-v1", "refresh"],
    ]);
    expect(result.stdout).not.toContain("\u001b[");
  });

  test("--json gives each credential's key, age, next action, expiry and state", async () => {
    const issuedAt = new Date(Date.now() - 100 * DAY).toISOString();
    await sandbox().seedEverflow("keyturn/everflow", { [Tag.maxAge]: "90d", [Tag.issuedAt]: issuedAt });
    await sandbox().seedIncortaPat("keyturn/incorta-pat", 5 * DAY);

    const { credentials } = await statusJson();

    const everflow = credentials.find((c) => c.credential === "keyturn/everflow");
    expect(everflow).toMatchObject({
      provider: "everflow",
      mode: "manual",
      issuedAt,
      ageDays: 100,
      lastRotation: null,
      nextAction: { action: "replace the key by hand (keyturn put)", overdue: true },
      state: "replace-due",
    });
    const pat = credentials.find((c) => c.credential === "keyturn/incorta-pat");
    expect(pat).toMatchObject({
      provider: "incorta-v2",
      keyId: "reporting 1",
      nextAction: { action: "replace the key before it expires (keyturn put)", overdue: false },
      state: "expiring",
    });
    expect(Date.parse(pat?.expiresAt ?? "")).toBeGreaterThan(Date.now() + 4 * DAY);
  });

  test("after a rotation the old key's revocation is the next action, when the grace period ends", async () => {
    await sandbox().seedImmuta("keyturn/immuta");
    const rotated = await sandbox().run(["rotate", "keyturn/immuta", "--json"]);
    const { previousKeyId, revokeAfter } = JSON.parse(rotated.stdout) as Record<string, string>;

    const { credentials } = await statusJson();

    expect(credentials[0]).toMatchObject({
      lastRotation: expect.any(String),
      nextAction: { action: `revoke previous key ${previousKeyId}`, at: revokeAfter, overdue: false },
      state: "ok",
    });
  });

  test("a credential whose keyturn tags were changed by hand is listed as invalid, naming the tag", async () => {
    await sandbox().createSecret("keyturn/broken", { provider: "everflow" }, { [Tag.provider]: "everflow" });
    await sandbox().aws.secretsManager.send(
      new TagResourceCommand({ SecretId: "keyturn/broken", Tags: [{ Key: Tag.provider, Value: "evrflow" }] }),
    );

    const { credentials } = await statusJson();

    expect(credentials).toEqual([
      expect.objectContaining({
        credential: "keyturn/broken",
        state: "invalid",
        problem: expect.stringMatching(/tags keyturn:provider differ from what the deployment pinned/),
      }),
    ]);
  });

  test("a secret tagged as keyturn's that the deployment does not manage is listed as invalid, and why", async () => {
    await sandbox().aws.secretsManager.send(
      new CreateSecretCommand({
        Name: "keyturn/stray",
        SecretString: "{}",
        Tags: [{ Key: Tag.provider, Value: "everflow" }],
      }),
    );

    const { credentials } = await statusJson();

    expect(credentials).toEqual([
      expect.objectContaining({
        credential: "keyturn/stray",
        state: "invalid",
        nextAction: expect.objectContaining({ action: "add it to the config and deploy" }),
        problem: expect.stringMatching(/not a credential this keyturn deployment manages/),
      }),
    ]);
  });

  test("an account without keyturn credentials says so on stderr and exits 0", async () => {
    const result = await sandbox().run(["status"]);

    expect(result.code).toBe(0);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain("No credentials managed by keyturn");
  });
});
