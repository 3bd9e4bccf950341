// keyturn put against the sandbox: the key from stdin, verified at the vendor before it
// becomes AWSCURRENT; the flags some vendors need besides the key; refusals.

import { describe, expect, test } from "vitest";
import { Tag } from "#engine/settings.ts";
import { CLUSTER, DAY, lines, useCliSandbox } from "./cli-sandbox.ts";

const sandbox = useCliSandbox();

describe("keyturn put", () => {
  test("stores an Everflow key read from stdin, once Everflow accepts it, and says how to retire the old one", async () => {
    await sandbox().seedEverflow("keyturn/everflow");
    const fresh = sandbox().everflow.createKey({ portal: "partner", name: "reporting sync 2" });

    const result = await sandbox().run(["put", "keyturn/everflow", "--key-id", "reporting sync 2"], {
      input: `${fresh.key}\n`,
    });

    expect(result.code).toBe(0);
    const [accepted, next, ...steps] = lines(result.stdout);
    expect(accepted).toBe(
      "Accepted: key reporting sync 2 of keyturn/everflow was verified by Everflow and is AWSCURRENT.",
    );
    expect(next).toContain('retire the old key "reporting sync"');
    expect(steps.join("\n")).toContain("select Revoke");
    expect(await sandbox().current("keyturn/everflow")).toMatchObject({
      apiKey: fresh.key,
      keyId: "reporting sync 2",
      previous: { keyId: "reporting sync" },
    });
    expect((await sandbox().tags("keyturn/everflow"))[Tag.previousKeyId]).toBe("reporting sync");
  });

  test("takes an Incorta v2 token's name and expiry as flags, and answers JSON", async () => {
    await sandbox().seedIncortaPat("keyturn/incorta-pat", 3 * DAY);
    const expiresAt = new Date(Date.now() + 90 * DAY);
    const fresh = sandbox().incorta.createPat(CLUSTER, "reporting", "report.bot", {
      name: "reporting 2",
      expiresAt,
    });

    const result = await sandbox().run(
      [
        "put",
        "keyturn/incorta-pat",
        "--key-id",
        "reporting 2",
        "--expires-at",
        expiresAt.toISOString(),
        "--json",
      ],
      { input: fresh.token },
    );

    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({
      credential: "keyturn/incorta-pat",
      keyId: "reporting 2",
      previousKeyId: "reporting 1",
      revokeAfter: expect.any(String),
      revokeSteps: [expect.any(String), expect.stringContaining('Revoke the token "reporting 1"')],
    });
    expect((await sandbox().tags("keyturn/incorta-pat"))[Tag.expiresAt]).toBe(expiresAt.toISOString());
  });

  test("derives an Incorta v1 key's id from the key itself", async () => {
    const { keyId: oldKeyId } = await sandbox().seedIncortaV1("keyturn/incorta-v1");
    const renewed = sandbox().incorta.renewApiKey(CLUSTER, "analytics", "etl.bot");

    const result = await sandbox().run(["put", "keyturn/incorta-v1", "--json"], { input: renewed });

    expect(result.code).toBe(0);
    const accepted = JSON.parse(result.stdout) as { keyId: string; previousKeyId: string };
    expect(accepted.previousKeyId).toBe(oldKeyId);
    expect((await sandbox().current("keyturn/incorta-v1")).keyId).toBe(accepted.keyId);
  });

  test("a key the vendor refuses changes nothing and is reported in one line", async () => {
    const seeded = await sandbox().seedEverflow("keyturn/everflow");
    const revoked = sandbox().everflow.createKey({ portal: "partner", name: "already revoked" });
    const record = sandbox()
      .everflow.keys()
      .find((k) => k.name === "already revoked");
    sandbox().everflow.revokeKey(record?.id ?? -1);

    const result = await sandbox().run(["put", "keyturn/everflow", "--key-id", "already revoked"], {
      input: revoked.key,
    });

    expect(result.code).toBe(1);
    expect(lines(result.stderr)).toHaveLength(1);
    expect(result.stderr).toContain("the new key was refused, Everflow did not accept it");
    expect(result.stderr).toContain("AWSCURRENT is unchanged");
    expect((await sandbox().current("keyturn/everflow")).apiKey).toBe(seeded.key);
  });

  test("a missing --key-id is a usage error found before the key is read", async () => {
    await sandbox().seedEverflow("keyturn/everflow");

    const result = await sandbox().run(["put", "keyturn/everflow"], { input: "never-read-key-0123456789" });

    expect(result.code).toBe(2);
    expect(lines(result.stderr)).toEqual([
      "keyturn: keyturn/everflow (everflow) needs --key-id <the key's Name in Everflow's Account > API Keys>. " +
        "See keyturn put --help.",
    ]);
  });

  test("--expires-at for keys that never expire is a usage error", async () => {
    await sandbox().seedIncortaV1("keyturn/incorta-v1");

    const result = await sandbox().run(["put", "keyturn/incorta-v1", "--expires-at", "2030-01-01"], {
      input: "x",
    });

    expect(result.code).toBe(2);
    expect(result.stderr).toContain("Incorta keys of incorta-v1 do not expire: drop --expires-at");
  });

  test("nothing on stdin is a usage error that says how to give the key", async () => {
    await sandbox().seedEverflow("keyturn/everflow");

    const result = await sandbox().run(["put", "keyturn/everflow", "--key-id", "new"]);

    expect(result.code).toBe(2);
    expect(result.stderr).toContain("no key on stdin: pipe it in");
  });
});
