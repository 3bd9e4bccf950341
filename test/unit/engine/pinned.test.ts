// What the deployment pinned decides who a credential is (functions/engine/pinned.ts): the tags
// and the value are only checked against it, by name, never believed.
import { describe, expect, test } from "vitest";
import type { SecretDescription } from "#aws/secret-store.ts";
import {
  CredentialNotPinnedError,
  CredentialTamperedError,
  type PinnedCredential,
  PinnedCredentials,
  pinnedDocument,
  policyTags,
  valueTampering,
} from "#engine/pinned.ts";
import { Tag } from "#engine/settings.ts";

const CATALOG: PinnedCredential = {
  secretName: "keyturn/softwareone-catalog",
  provider: "softwareone",
  issuer: "keyturn/softwareone-admin",
  settings: { accountId: "ACC-1234-5678", name: "catalog", modules: ["MOD-1001"] },
  settingsFields: ["accountId", "name", "modules", "baseUrl"],
  policy: { gracePeriod: "24h", expiryThresholds: ["30d", "7d"], keyLifetime: "90d" },
};
const ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:keyturn/softwareone-catalog-AbCdEf";

function described(tags: Record<string, string>, name = CATALOG.secretName, arn = ARN): SecretDescription {
  return { arn, name, versions: {}, tags };
}

describe("identify", () => {
  const pinned = new PinnedCredentials([CATALOG]);

  test("a secret whose policy tags mirror the pinned config is that credential", () => {
    expect(pinned.identify(described(policyTags(CATALOG)))).toBe(CATALOG);
  });

  test("bookkeeping tags and tags the stack has not written yet are no tampering", () => {
    expect(pinned.identify(described({ [Tag.provider]: "softwareone", [Tag.previousKeyId]: "TKN-1" }))).toBe(
      CATALOG,
    );
  });

  test.for([
    [Tag.credential, "keyturn/softwareone-admin"],
    [Tag.issuer, "keyturn/someone-else"],
    [Tag.provider, "immuta-request"],
    [Tag.gracePeriod, "10000d"],
    [Tag.expiryThresholds, "1d"],
  ])("a changed %s is tampering, named without its value", ([tag, value]) => {
    const attempt = () =>
      pinned.identify(described({ ...policyTags(CATALOG), [tag as string]: value as string }));

    expect(attempt).toThrow(CredentialTamperedError);
    expect(attempt).toThrow(new RegExp(`tags ${tag}`));
    expect(attempt).not.toThrow(new RegExp(String(value).replace("/", "\\/")));
  });

  test("an issuer tag on a credential that mints its own successors is tampering", () => {
    const own = new PinnedCredentials([{ ...CATALOG, issuer: undefined }]);

    expect(() => own.identify(described({ [Tag.issuer]: "keyturn/softwareone-admin" }))).toThrow(
      CredentialTamperedError,
    );
  });

  test("a secret that is not pinned is refused, whatever its tags say", () => {
    expect(() => pinned.identify(described(policyTags(CATALOG), "keyturn/stray"))).toThrow(
      CredentialNotPinnedError,
    );
  });

  test("a secret of the pinned name but another ARN (deleted and created again) is refused", () => {
    const byArn = new PinnedCredentials([{ ...CATALOG, secretArn: ARN }]);

    expect(() =>
      byArn.identify(described(policyTags(CATALOG), CATALOG.secretName, `${ARN.slice(0, -6)}ZzZzZz`)),
    ).toThrow(CredentialNotPinnedError);
  });
});

describe("valueTampering", () => {
  test("a value that carries the pinned settings, or leaves them out, differs in nothing", () => {
    expect(valueTampering(CATALOG, { ...CATALOG.settings, provider: "softwareone", token: "t" })).toEqual([]);
    expect(valueTampering(CATALOG, { provider: "softwareone", token: "t" })).toEqual([]);
  });

  test("another scope, host or provider is named field by field", () => {
    expect(
      valueTampering(CATALOG, {
        ...CATALOG.settings,
        provider: "immuta-request",
        modules: ["MOD-1001", "MOD-1000"],
        baseUrl: "https://attacker.example/public/v1",
      }),
    ).toEqual(["provider", "modules", "baseUrl"]);
  });

  test("a setting the provider derives from the pinned ones may be carried, with the derived value only", () => {
    const immuta: PinnedCredential = {
      ...CATALOG,
      provider: "immuta-request",
      settings: { region: "eu" },
      settingsFields: ["region", "baseUrl"],
    };
    const defaults = { baseUrl: "https://eu.api.immutacloud.com/marketplace" };

    expect(valueTampering(immuta, { region: "eu", baseUrl: defaults.baseUrl }, defaults)).toEqual([]);
    expect(
      valueTampering(
        immuta,
        { region: "eu", baseUrl: "https://na.api.immutacloud.com/marketplace" },
        defaults,
      ),
    ).toEqual(["baseUrl"]);
  });
});

describe("the pinned document", () => {
  test("round-trips through the form the stack bakes into the functions", () => {
    const encoded = Buffer.from(JSON.stringify(pinnedDocument([CATALOG]))).toString("base64");

    const read = PinnedCredentials.fromDocument(JSON.parse(Buffer.from(encoded, "base64").toString("utf8")));

    expect(read.all()).toEqual([CATALOG]);
  });

  test("a malformed document fails the cold start, naming the field", () => {
    expect(() =>
      PinnedCredentials.fromDocument({ version: 1, credentials: [{ ...CATALOG, provider: "acme" }] }),
    ).toThrow(/credentials\.0\.provider/);
  });
});
