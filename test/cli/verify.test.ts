// keyturn verify against the sandbox: a dry run that checks the current key and, for
// automatic providers, that the issuer can list keys; nothing minted, nothing changed.

import { describe, expect, test } from "vitest";
import { lines, useCliSandbox } from "./cli-sandbox.ts";

const sandbox = useCliSandbox();

describe("keyturn verify", () => {
  test("checks the current key and the issuer's listing, and mints nothing", async () => {
    const { consumerKeyId } = await sandbox().seedSoftwareOne("keyturn/s1-admin", "keyturn/s1-catalog");
    const tokensBefore = sandbox().softwareone.tokens().length;

    const result = await sandbox().run(["verify", "keyturn/s1-catalog", "--json"]);

    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({
      credential: "keyturn/s1-catalog",
      provider: "softwareone",
      mode: "automatic",
      ok: true,
      checks: [
        { check: "current key", ok: true, detail: `key ${consumerKeyId} authenticates at SoftwareOne` },
        {
          check: "key management",
          ok: true,
          detail:
            "issuer keyturn/s1-admin can list keys at SoftwareOne: 2 key(s), 2 active, 0 minted by keyturn for this credential",
        },
      ],
    });
    expect(sandbox().softwareone.tokens()).toHaveLength(tokensBefore);
    expect(await sandbox().subscriber.drain()).toEqual([]);
  });

  test("checks only the key of a credential a person replaces", async () => {
    await sandbox().seedEverflow("keyturn/everflow");

    const result = await sandbox().run(["verify", "keyturn/everflow"]);

    expect(result.code).toBe(0);
    expect(lines(result.stdout)).toEqual([
      "verify keyturn/everflow (Everflow, manual): a dry run, nothing minted or changed",
      "  ok    current key: key reporting sync authenticates at Everflow",
    ]);
  });

  test("a key revoked at the vendor fails its check, with the vendor's reason, and exits 1", async () => {
    await sandbox().seedEverflow("keyturn/everflow");
    const record = sandbox()
      .everflow.keys()
      .find((k) => k.name === "reporting sync");
    sandbox().everflow.revokeKey(record?.id ?? -1);

    const result = await sandbox().run(["verify", "keyturn/everflow"]);

    expect(result.code).toBe(1);
    expect(lines(result.stdout)[1]).toMatch(
      /^ {2}FAIL {2}current key: Everflow rejected the API key "reporting sync"/,
    );
    expect(lines(result.stderr)).toEqual([
      'keyturn: verify: 1 of 1 check(s) failed for credential "keyturn/everflow" (current key)',
    ]);
  });
});
