// keyturn rotate and keyturn revoke against the sandbox(). moto cannot run a rotation Lambda, so
// with KEYTURN_SANDBOX=1 the CLI plays Secrets Manager in-process with the real rotate handler;
// against AWS it calls RotateSecret and waits for the rotate function, which on moto never
// comes (the last test shows that path and how it reports).

import { describe, expect, test } from "vitest";
import { eventProblems } from "../support/event-schemas.ts";
import { lines, useCliSandbox } from "./cli-sandbox.ts";

const sandbox = useCliSandbox();

async function received() {
  const events = await sandbox().subscriber.drain();
  expect(events.flatMap(eventProblems)).toEqual([]);
  return events;
}

describe("keyturn rotate", () => {
  test("mints a successor, makes it AWSCURRENT and prints both key ids", async () => {
    const seeded = await sandbox().seedImmuta("keyturn/immuta");

    const result = await sandbox().run(["rotate", "keyturn/immuta", "--json"]);

    expect(result.code).toBe(0);
    const rotated = JSON.parse(result.stdout) as Record<string, string>;
    expect(rotated).toMatchObject({
      credential: "keyturn/immuta",
      previousKeyId: seeded.keyId,
      via: "sandbox",
    });
    const current = await sandbox().current("keyturn/immuta");
    expect(current.keyId).toBe(rotated.keyId);
    expect(current.keyId).not.toBe(seeded.keyId);
    expect(sandbox().immuta.isLive(current.token as string)).toBe(true);
    expect(sandbox().immuta.isLive(seeded.token)).toBe(true);
    expect((await received()).map((e) => e["detail-type"])).toEqual(["Credential Rotated"]);
  });

  test("says in text which key is current and until when the old one stays valid", async () => {
    await sandbox().seedSoftwareOne("keyturn/s1-admin", "keyturn/s1-catalog");

    const result = await sandbox().run(["rotate", "keyturn/s1-catalog"]);

    expect(result.code).toBe(0);
    expect(lines(result.stdout)).toEqual([
      expect.stringMatching(/^Rotated keyturn\/s1-catalog: key TKN-[\d-]+ is AWSCURRENT \(SoftwareOne\)\.$/),
      expect.stringMatching(
        /^The previous key TKN-[\d-]+ stays valid until \S+Z; then the monitor revokes it\.$/,
      ),
    ]);
  });

  test("refuses a credential only a person can replace, in one line", async () => {
    await sandbox().seedEverflow("keyturn/everflow");

    const result = await sandbox().run(["rotate", "keyturn/everflow"]);

    expect(result.code).toBe(1);
    expect(lines(result.stderr)).toEqual([
      'keyturn: Credential "keyturn/everflow" uses Everflow (manual): keyturn cannot mint its keys by API. ' +
        "Create the new key in Everflow's UI and hand it over with keyturn put keyturn/everflow.",
    ]);
  });

  test("a rotation the vendor refuses fails in one line and leaves AWSCURRENT as it was", async () => {
    const seeded = await sandbox().seedImmuta("keyturn/immuta");
    sandbox().immuta.faults.add({
      method: "POST",
      path: "/marketplace/api/auth/tokens",
      times: Number.POSITIVE_INFINITY,
      fault: { kind: "status", status: 400, body: JSON.stringify({ message: "token limit reached" }) },
    });

    const result = await sandbox().run(["rotate", "keyturn/immuta"]);

    expect(result.code).toBe(1);
    expect(lines(result.stderr)).toHaveLength(1);
    expect(result.stderr).toContain("token creation");
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect((await sandbox().current("keyturn/immuta")).keyId).toBe(seeded.keyId);
  });

  test("against AWS it calls RotateSecret and waits; on moto, which runs no rotation function, it times out", async () => {
    await sandbox().seedImmuta("keyturn/immuta");

    const result = await sandbox().run(["rotate", "keyturn/immuta", "--timeout", "3s"], {
      env: { KEYTURN_SANDBOX: "", AWS_ACCESS_KEY_ID: "testing", AWS_SECRET_ACCESS_KEY: "testing" },
    });

    expect(result.code).toBe(1);
    expect(lines(result.stderr).at(-1)).toMatch(
      /^keyturn: The rotation of keyturn\/immuta did not complete: Credential "keyturn\/immuta": rotation \S+ did not finish within 3 s; it may still finish: keyturn status shows whether it is pending\. Check the rotate function's logs/,
    );
  });
});

describe("keyturn revoke", () => {
  test("rotates, then deletes the leaked key at the vendor and publishes Credential Revoked", async () => {
    const { consumerKeyId } = await sandbox().seedSoftwareOne("keyturn/s1-admin", "keyturn/s1-catalog");

    const result = await sandbox().run([
      "revoke",
      "keyturn/s1-catalog",
      "--reason",
      "token pasted in a public issue",
      "--json",
    ]);

    expect(result.code).toBe(0);
    const outcome = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(outcome).toMatchObject({
      credential: "keyturn/s1-catalog",
      keyId: consumerKeyId,
      target: "current",
      rotated: true,
      revocation: "revoked",
      reason: "token pasted in a public issue",
    });
    expect(
      sandbox()
        .softwareone.tokens()
        .find((t) => t.id === consumerKeyId)?.status,
    ).toBe("Deleted");
    const current = await sandbox().current("keyturn/s1-catalog");
    expect(current.keyId).toBe(outcome.newKeyId);
    expect(sandbox().softwareone.isLive(current.token as string)).toBe(true);
    const revoked = (await received()).filter((e) => e["detail-type"] === "Credential Revoked");
    expect(revoked.map((e) => e.detail)).toEqual([
      expect.objectContaining({ keyId: consumerKeyId, reason: "compromised", strength: "hard" }),
    ]);
  });

  test("--previous revokes the previous key and rotates nothing", async () => {
    const seeded = await sandbox().seedImmuta("keyturn/immuta");
    await sandbox().run(["rotate", "keyturn/immuta"]);
    const current = await sandbox().current("keyturn/immuta");

    const result = await sandbox().run([
      "revoke",
      "keyturn/immuta",
      "--previous",
      "--reason",
      "found in a log",
    ]);

    expect(result.code).toBe(0);
    expect(lines(result.stdout)).toEqual([
      `Revoked previous key ${seeded.keyId} of keyturn/immuta; "Credential Revoked" published.`,
    ]);
    expect(sandbox().immuta.isLive(seeded.token)).toBe(false);
    expect((await sandbox().current("keyturn/immuta")).keyId).toBe(current.keyId);
  });

  test("when the rotation fails the leaked key is revoked anyway, and keyturn exits 1 saying consumers have no key", async () => {
    const seeded = await sandbox().seedImmuta("keyturn/immuta");
    sandbox().immuta.faults.add({
      method: "POST",
      path: "/marketplace/api/auth/tokens",
      times: Number.POSITIVE_INFINITY,
      fault: { kind: "status", status: 400, body: JSON.stringify({ message: "token limit reached" }) },
    });

    const result = await sandbox().run(["revoke", "keyturn/immuta", "--reason", "leaked"]);

    expect(result.code).toBe(1);
    expect(sandbox().immuta.isLive(seeded.token)).toBe(false);
    expect(lines(result.stdout)).toEqual([
      `Revoked current key ${seeded.keyId} of keyturn/immuta; "Credential Revoked" published.`,
    ]);
    expect(lines(result.stderr)).toHaveLength(1);
    expect(result.stderr).toContain(
      `keyturn: The leaked key ${seeded.keyId} of keyturn/immuta was revoked, but the rotation failed, so consumers ` +
        "are without a working key: mint a key at the vendor and store it with keyturn put keyturn/immuta.",
    );
    const types = (await received()).map((e) => e["detail-type"]);
    expect(types).toContain("Credential Revoked");
    expect(types).toContain("Credential Rotation Failed");
  });

  test("a credential that cannot be revoked by API is refused with what to do instead", async () => {
    await sandbox().seedIncortaPat("keyturn/incorta-pat", 30 * 86_400_000);

    const result = await sandbox().run(["revoke", "keyturn/incorta-pat", "--reason", "leaked"]);

    expect(result.code).toBe(1);
    expect(lines(result.stderr)).toEqual([
      expect.stringContaining("cannot be revoked by API: revoke the key in the vendor's web UI now"),
    ]);
  });
});
