// Review 14: a departed credential's record is checked as strictly as the pinned document and a
// secret value before the monitor acts on it (functions/engine/lifecycle.ts, recordedEntry), and
// the revocation guard fails closed when another credential's references cannot be known
// (functions/engine/revocation-guard.ts, KeyReferences).

import { describe, expect, test } from "vitest";
import type { KeyRecord } from "#aws/record-store.ts";
import type { SecretDescription, SecretStore } from "#aws/secret-store.ts";
import { recordedEntry } from "#engine/lifecycle.ts";
import { type PinnedCredential, PinnedCredentials } from "#engine/pinned.ts";
import { KeyReferences, ReferencesUnavailableError } from "#engine/revocation-guard.ts";
import { Tag } from "#engine/settings.ts";

const FIELDS = ["accountId", "name", "modules", "baseUrl"];
const policy = { gracePeriod: "24h", expiryThresholds: ["7d"] };
const admin: PinnedCredential = {
  secretName: "keyturn/softwareone-admin",
  provider: "softwareone",
  settings: { accountId: "ACC-1111-2222", name: "keyturn administrator" },
  settingsFields: FIELDS,
  policy,
};
const pinnedNow = new PinnedCredentials([admin]);
const departed: PinnedCredential = {
  secretName: "keyturn/catalog",
  provider: "softwareone",
  issuer: admin.secretName,
  settings: { accountId: "ACC-1111-2222", name: "catalog", modules: ["MOD-1001"] },
  settingsFields: FIELDS,
  policy,
};

function record(pinned: unknown, keys: string[] = ["TKN-1111-0001"]): KeyRecord {
  return {
    credential: "keyturn/catalog",
    keys: new Set(keys),
    pinned,
    departedAt: "2020-01-01T00:00:00.000Z",
    retiredAt: undefined,
    retirement: undefined,
    previous: [],
    ledger: true,
    written: [],
    marks: {},
    retiredBecause: undefined,
  };
}

describe("recordedEntry", () => {
  test("an entry keyturn would have written passes; a record without one has no entry and no problem", () => {
    expect(recordedEntry(record(departed), pinnedNow)).toEqual({ entry: departed });
    expect(recordedEntry(record(undefined), pinnedNow)).toEqual({});
  });

  test("an issued credential of another provider than its issuer's is refused (no issuer key to another vendor's host)", () => {
    const immuta = {
      ...departed,
      provider: "immuta-request",
      settings: { region: "na" },
      settingsFields: ["region", "baseUrl", "tenantId"],
    };
    expect(recordedEntry(record(immuta), pinnedNow).problem).toMatch(/provider immuta-request.*softwareone/);
  });

  test("another account, another base URL than the issuer's, or a plain-http URL are refused", () => {
    const otherAccount = { ...departed, settings: { ...departed.settings, accountId: "ACC-9999-9999" } };
    const otherHost = { ...departed, settings: { ...departed.settings, baseUrl: "https://evil.example" } };
    expect(recordedEntry(record(otherAccount), pinnedNow).problem).toMatch(/accountId differs/);
    expect(recordedEntry(record(otherHost), pinnedNow).problem).toMatch(/baseUrl differs/);
    const selfIssued = {
      ...departed,
      issuer: undefined,
      settings: { accountId: "ACC-1", baseUrl: "http://x" },
    };
    expect(recordedEntry(record(selfIssued), pinnedNow).problem).toMatch(/baseUrl is not an https/);
  });

  test("settings outside the provider's fields, another name, a malformed entry or a key id that is not plain are refused", () => {
    const extra = { ...departed, settings: { ...departed.settings, host: "evil.example" } };
    const moreFields = {
      ...departed,
      settings: { ...departed.settings, host: "x" },
      settingsFields: [...FIELDS, "host"],
    };
    expect(recordedEntry(record(extra), pinnedNow).problem).toMatch(
      /fields its provider's config does not have/,
    );
    expect(recordedEntry(record(moreFields), pinnedNow).problem).toMatch(
      /not those of a softwareone credential/,
    );
    expect(recordedEntry(record({ ...departed, secretName: "keyturn/other" }), pinnedNow).problem).toMatch(
      /another secret/,
    );
    expect(recordedEntry(record({ ...departed, provider: "acme" }), pinnedNow).problem).toMatch(/schema/);
    expect(recordedEntry(record(departed, ["<a href=x>click</a>"]), pinnedNow).problem).toMatch(/key id/);
    expect(
      recordedEntry({ ...record(departed), credential: "see https://evil.example" }, pinnedNow).problem,
    ).toBe("its name is not a secret name");
    // The problem never echoes what the record holds.
    expect(recordedEntry(record(extra), pinnedNow).problem).not.toContain("evil");
  });
});

function description(name: string, tags: Record<string, string> = {}): SecretDescription {
  return { arn: `arn:aws:secretsmanager:eu-west-1:123456789012:secret:${name}`, name, versions: {}, tags };
}

describe("KeyReferences", () => {
  const pinned = new PinnedCredentials([
    { ...admin, secretName: "keyturn/a" },
    { ...admin, secretName: "keyturn/b" },
  ]);

  test("a pinned credential whose value cannot be read refuses every other credential's revocation, until it can", async () => {
    let throttled = true;
    const store = {
      read: async () => {
        if (throttled) throw Object.assign(new Error("Rate exceeded"), { name: "ThrottlingException" });
        return { versionId: "v1", secretString: JSON.stringify({ keyId: "TKN-B" }), stages: [] };
      },
    } as unknown as SecretStore;
    const references = new KeyReferences(
      store,
      [description("keyturn/a", { [Tag.keyId]: "TKN-A" }), description("keyturn/b")],
      pinned,
    );

    await expect(references.othersUsing("keyturn/a", "TKN-B", undefined)).rejects.toThrow(
      ReferencesUnavailableError,
    );
    // Its own unreadable value does not hold back the credential's own revocations.
    await expect(references.othersUsing("keyturn/b", "TKN-A", undefined)).resolves.toEqual(["keyturn/a"]);
    throttled = false;
    await expect(references.othersUsing("keyturn/a", "TKN-B", undefined)).resolves.toEqual(["keyturn/b"]);
  });

  test("a secret that is gone or scheduled for deletion uses no key; one that could not be looked up may use any", async () => {
    const store = {
      read: async () => {
        throw Object.assign(new Error("not found"), { name: "ResourceNotFoundException" });
      },
    } as unknown as SecretStore;
    const deleted = { ...description("keyturn/b"), deletedDate: new Date(0) };
    const references = new KeyReferences(store, [description("keyturn/a"), deleted], pinned);

    await expect(references.othersUsing("keyturn/b", "TKN-A", undefined)).resolves.toEqual([]);
    references.unknown("keyturn/b");
    await expect(references.othersUsing("keyturn/a", "TKN-A", undefined)).rejects.toThrow(/"keyturn\/b"/);
  });
});
