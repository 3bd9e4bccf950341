// The SoftwareOne provider against the simulator over real HTTP: secret parsing, minting
// with an administrator token, verification, soft and hard revocation, orphan listing, last
// use, and error messages that name the credential and never carry a token value.
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import {
  CredentialRejectedError,
  InvalidSecretError,
  InvalidSettingsError,
  VendorError,
} from "#engine/errors.ts";
import { redactText } from "#http/redact.ts";
import { type SoftwareOneCredential, softwareone } from "#providers/softwareone/index.ts";
import type { IssuedKey, ProviderContext } from "#providers/types.ts";
import { ManualClock } from "#sandbox/simulators/clock.ts";
import { type SoftwareOneSimulator, startSoftwareOneSimulator } from "#sandbox/simulators/softwareone.ts";
import { describeError, findLeaks } from "../../support/leak-guard.ts";
import { rejection, simulatorContext, thrownBy } from "../../support/provider-context.ts";

const CREDENTIAL = "softwareone/reporting";
const TOKENS_PATH = "/public/v1/accounts/api-tokens";
const MARKER = "keyturn:softwareone/reporting:v2";

let clock: ManualClock;
let sim: SoftwareOneSimulator;
let ctx: ProviderContext;
let accountId: string;
let issuer: SoftwareOneCredential;
/** A second administrator, for arranging states the test needs (e.g. disabling the issuer). */
let operator: SoftwareOneCredential;
let reporting: SoftwareOneCredential;

function credentialOf(
  seeded: { id: string; token: string },
  extra: Record<string, unknown> = {},
  name = CREDENTIAL,
): SoftwareOneCredential {
  return softwareone.parse(
    { provider: "softwareone", token: seeded.token, keyId: seeded.id, accountId, ...extra },
    name,
  );
}

beforeEach(async () => {
  clock = new ManualClock(new Date("2026-03-01T09:00:00Z"));
  sim = await startSoftwareOneSimulator({ clock });
  ctx = simulatorContext({ vendor: "SoftwareOne", credential: CREDENTIAL, url: sim.url, clock });
  accountId = sim.createAccount({ name: "Contoso" }).accountId;
  issuer = credentialOf(
    sim.seedToken(accountId, { name: "keyturn issuer", admin: true }),
    {},
    "softwareone/admin",
  );
  operator = credentialOf(
    sim.seedToken(accountId, { name: "operator", admin: true }),
    {},
    "softwareone/operator",
  );
  reporting = credentialOf(
    sim.seedToken(accountId, { name: "reporting", modules: ["MOD-1001", "MOD-1003"] }),
    { name: "reporting", modules: ["MOD-1001", "MOD-1003"] },
  );
});

afterEach(async () => {
  await sim.close();
});

function parseFailure(value: Record<string, unknown>): Error {
  return thrownBy(() => softwareone.parse(value, CREDENTIAL));
}

async function collect(keys: AsyncIterable<IssuedKey>): Promise<IssuedKey[]> {
  const collected: IssuedKey[] = [];
  for await (const key of keys) collected.push(key);
  return collected;
}

function recordOf(id: string) {
  const record = sim.tokens().find((token) => token.id === id);
  if (!record) throw new Error(`the simulator has no token ${id}`);
  return record;
}

describe("parse", () => {
  test("accepts a complete value and reports no expiry", () => {
    const value = {
      ...reporting,
      baseUrl: "https://api.platform.softwareone.com/public/v1",
      expiresAt: null,
    };

    const parsed = softwareone.parse(value, CREDENTIAL);

    expect(parsed).toMatchObject({
      keyId: reporting.keyId,
      accountId,
      modules: ["MOD-1001", "MOD-1003"],
    });
    expect(softwareone.expiresAt(parsed)).toBeUndefined();
  });

  test("names every bad field without echoing the token", () => {
    const token = "not-a-softwareone-token-value";

    const error = parseFailure({ provider: "softwareone", token, keyId: "TKN-1234-5678" });

    expect(error).toBeInstanceOf(InvalidSecretError);
    expect(error.message).toContain(CREDENTIAL);
    expect(error.message).toContain('"token"');
    expect(error.message).toContain('"accountId" is missing');
    expect(describeError(error)).not.toContain(token);
  });

  test("refuses a keyId that is not the token's own id", () => {
    const error = parseFailure({ ...reporting, keyId: "TKN-0000-0000" });

    expect(error).toBeInstanceOf(InvalidSecretError);
    expect(error.message).toContain("TKN-0000-0000");
    expect(error.message).toContain(reporting.keyId);
    expect(describeError(error)).not.toContain(reporting.token);
  });

  test("refuses a base URL that is not https", () => {
    const error = parseFailure({ ...reporting, baseUrl: "http://api.platform.softwareone.com/public/v1" });

    expect(error.message).toContain('"baseUrl" must be an https:// URL');
  });

  test("refuses an expiry date, which SoftwareOne tokens do not have", () => {
    const error = parseFailure({ ...reporting, expiresAt: "2027-01-01T00:00:00Z" });

    expect(error.message).toContain('"expiresAt" must be null or absent');
  });

  test("remembers the token, so redaction blanks it even percent-encoded", () => {
    const text = `seen in a URL: ${encodeURIComponent(reporting.token)}`;

    expect(redactText(text)).not.toContain(encodeURIComponent(reporting.token));
  });
});

describe("issue", () => {
  test("mints a token with the template's account, name and modules and the marker as description", async () => {
    const successor = await softwareone.issue(
      issuer,
      reporting,
      { marker: MARKER, expiresAt: undefined },
      ctx,
    );

    expect(recordOf(successor.keyId)).toMatchObject({
      name: "reporting",
      description: MARKER,
      status: "Active",
      account: { id: accountId },
      modules: [{ id: "MOD-1001" }, { id: "MOD-1003" }],
    });
    expect(sim.isLive(successor.token)).toBe(true);
  });

  test("returns the template's shape with the new token, issuedAt now and no previous", async () => {
    const template = { ...reporting, previous: { keyId: "TKN-9999-9999" } };

    const successor = await softwareone.issue(
      issuer,
      template,
      { marker: MARKER, expiresAt: undefined },
      ctx,
    );

    expect(successor.keyId).not.toBe(reporting.keyId);
    expect(successor.token.startsWith(`idt:${successor.keyId}:`)).toBe(true);
    expect(successor).toMatchObject({
      provider: "softwareone",
      accountId,
      name: "reporting",
      issuedAt: "2026-03-01T09:00:00.000Z",
      expiresAt: null,
    });
    expect(successor).not.toHaveProperty("previous");
    expect(softwareone.parse(successor, CREDENTIAL).keyId).toBe(successor.keyId);
  });

  test("reads the template's name and modules first when the secret lacks them", async () => {
    const bare = credentialOf({ id: reporting.keyId, token: reporting.token });
    sim.resetRequests();

    const successor = await softwareone.issue(issuer, bare, { marker: MARKER, expiresAt: undefined }, ctx);

    expect(sim.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      `GET ${TOKENS_PATH}/${reporting.keyId}`,
      `POST ${TOKENS_PATH}`,
    ]);
    expect(successor).toMatchObject({ name: "reporting", modules: ["MOD-1001", "MOD-1003"] });
  });

  test("a failed mint is not retried", async () => {
    sim.faults.add({ method: "POST", path: TOKENS_PATH, fault: { kind: "status", status: 503 } });
    sim.resetRequests();

    const error = await rejection(
      softwareone.issue(issuer, reporting, { marker: MARKER, expiresAt: undefined }, ctx),
    );

    expect(error).toBeInstanceOf(VendorError);
    expect(sim.requests.filter((r) => r.method === "POST")).toHaveLength(1);
  });

  test("a 201 without the token value is a VendorError", async () => {
    sim.faults.add({
      method: "POST",
      path: TOKENS_PATH,
      phase: "after",
      fault: {
        kind: "status",
        status: 201,
        body: JSON.stringify({ id: "TKN-1111-2222", name: "reporting", status: "Active", modules: [] }),
      },
    });

    const error = await rejection(
      softwareone.issue(issuer, reporting, { marker: MARKER, expiresAt: undefined }, ctx),
    );

    expect(error).toBeInstanceOf(VendorError);
    expect(error.message).toContain("token creation");
    expect(error.message).toContain(CREDENTIAL);
  });

  test("an issuer of another account is a settings error", async () => {
    const otherAccount = sim.createAccount().accountId;
    const foreign = softwareone.parse({ ...issuer, accountId: otherAccount }, "softwareone/foreign-admin");

    const error = await rejection(
      softwareone.issue(foreign, reporting, { marker: MARKER, expiresAt: undefined }, ctx),
    );

    expect(error).toBeInstanceOf(InvalidSettingsError);
    expect(error.message).toContain(otherAccount);
  });
});

describe("verify", () => {
  test("reads the new token's own record with the new token", async () => {
    const successor = await softwareone.issue(
      issuer,
      reporting,
      { marker: MARKER, expiresAt: undefined },
      ctx,
    );
    sim.resetRequests();

    await softwareone.verify(successor, ctx);

    expect(sim.requests).toMatchObject([
      { method: "GET", path: `${TOKENS_PATH}/${successor.keyId}`, status: 200 },
    ]);
    expect(recordOf(successor.keyId).lastAccessAt).toBe("2026-03-01T09:00:00.000Z");
  });

  test("a disabled token is rejected with a message naming the credential", async () => {
    await softwareone.revoke(reporting.keyId, operator, "soft", ctx);

    const error = await rejection(softwareone.verify(reporting, ctx));

    expect(error).toBeInstanceOf(CredentialRejectedError);
    expect(error.message).toContain(`"${CREDENTIAL}"`);
    expect(error.message).toContain("disabled");
  });
});

describe("revoke", () => {
  test("soft disables the token, and disabling it again is still revoked", async () => {
    const first = await softwareone.revoke(reporting.keyId, issuer, "soft", ctx);
    const second = await softwareone.revoke(reporting.keyId, issuer, "soft", ctx);

    expect([first, second]).toEqual(["revoked", "revoked"]);
    expect(recordOf(reporting.keyId).status).toBe("Disabled");
    expect(sim.isLive(reporting.token)).toBe(false);
  });

  test("hard deletes a disabled token, and deleting it again is already gone", async () => {
    await softwareone.revoke(reporting.keyId, issuer, "soft", ctx);

    const first = await softwareone.revoke(reporting.keyId, issuer, "hard", ctx);
    const second = await softwareone.revoke(reporting.keyId, issuer, "hard", ctx);

    expect([first, second]).toEqual(["revoked", "already-gone"]);
    expect(recordOf(reporting.keyId).status).toBe("Deleted");
  });

  test("soft on an already deleted token is already gone", async () => {
    await softwareone.revoke(reporting.keyId, issuer, "hard", ctx);

    const outcome = await softwareone.revoke(reporting.keyId, issuer, "soft", ctx);

    expect(outcome).toBe("already-gone");
  });

  test("a token the platform never knew is already gone", async () => {
    const outcome = await softwareone.revoke("TKN-0000-0001", issuer, "hard", ctx);

    expect(outcome).toBe("already-gone");
  });

  test("a conflict answer to disabling a disabled token still counts as revoked", async () => {
    await softwareone.revoke(reporting.keyId, issuer, "soft", ctx);
    sim.faults.add({
      method: "POST",
      path: `${TOKENS_PATH}/${reporting.keyId}/disable`,
      fault: { kind: "status", status: 409 },
    });

    const outcome = await softwareone.revoke(reporting.keyId, issuer, "soft", ctx);

    expect(outcome).toBe("revoked");
  });

  test("a lost answer to a disable is retried, because disabling twice is harmless", async () => {
    sim.faults.add({
      method: "POST",
      path: `${TOKENS_PATH}/${reporting.keyId}/disable`,
      phase: "after",
      fault: { kind: "status", status: 503 },
    });

    const outcome = await softwareone.revoke(reporting.keyId, issuer, "soft", ctx);

    expect(outcome).toBe("revoked");
    expect(recordOf(reporting.keyId).status).toBe("Disabled");
  });
});

describe("listIssued", () => {
  test("pages through 150 tokens with limit 100 and the account filter", async () => {
    for (let i = 0; i < 150; i++)
      sim.seedToken(accountId, { name: `key-${i}`, description: `keyturn:c:${i}` });
    sim.resetRequests();

    const keys = await collect(softwareone.listIssued(issuer, ctx));

    expect(keys).toHaveLength(153);
    expect(keys.filter((key) => key.marker?.startsWith("keyturn:c:"))).toHaveLength(150);
    expect(sim.requests.map((r) => [r.path, r.query, r.status])).toEqual([
      [
        TOKENS_PATH,
        `eq(account.id,"${accountId}")&select=+description,+lastAccessAt&limit=100&offset=0`,
        200,
      ],
      [
        TOKENS_PATH,
        `eq(account.id,"${accountId}")&select=+description,+lastAccessAt&limit=100&offset=100`,
        200,
      ],
    ]);
  });

  test("maps marker, active, createdAt and lastUsedAt; disabled keys are listed as inactive", async () => {
    const successor = await softwareone.issue(
      issuer,
      reporting,
      { marker: MARKER, expiresAt: undefined },
      ctx,
    );
    sim.touch(reporting.keyId, new Date("2026-03-01T08:30:00Z"));
    await softwareone.revoke(reporting.keyId, issuer, "soft", ctx);
    const deleted = sim.seedToken(accountId, { name: "gone", description: "keyturn:gone" });
    await softwareone.revoke(deleted.id, issuer, "hard", ctx);

    const keys = await collect(softwareone.listIssued(issuer, ctx));

    expect(keys.map((key) => key.keyId)).not.toContain(deleted.id);
    expect(keys.find((key) => key.keyId === successor.keyId)).toEqual({
      keyId: successor.keyId,
      marker: MARKER,
      active: true,
      createdAt: new Date("2026-03-01T09:00:00Z"),
      lastUsedAt: undefined,
    });
    expect(keys.find((key) => key.keyId === reporting.keyId)).toMatchObject({
      marker: undefined,
      active: false,
      lastUsedAt: new Date("2026-03-01T08:30:00Z"),
    });
  });
});

describe("lastUsed", () => {
  test("is the token's lastAccessAt", async () => {
    sim.touch(reporting.keyId, new Date("2026-02-27T17:45:00Z"));

    expect(await softwareone.lastUsed?.(reporting.keyId, issuer, ctx)).toEqual(
      new Date("2026-02-27T17:45:00Z"),
    );
  });

  test("is null for a token never used", async () => {
    expect(await softwareone.lastUsed?.(reporting.keyId, issuer, ctx)).toBeNull();
  });

  test("is gone for a deleted token", async () => {
    await softwareone.revoke(reporting.keyId, issuer, "hard", ctx);

    expect(await softwareone.lastUsed?.(reporting.keyId, issuer, ctx)).toBe("gone");
  });
});

describe("errors", () => {
  test("a disabled issuer is a CredentialRejectedError naming the credential and what to do", async () => {
    await softwareone.revoke(issuer.keyId, operator, "soft", ctx);

    const error = await rejection(
      softwareone.issue(issuer, reporting, { marker: MARKER, expiresAt: undefined }, ctx),
    );

    expect(error).toBeInstanceOf(CredentialRejectedError);
    expect(error.message).toContain(`"${CREDENTIAL}"`);
    expect(error.message).toContain(`issuing token ${issuer.keyId}`);
    expect(error.message).toContain("disabled");
    expect(error.message).toContain("Enable it");
  });

  test("an issuer without administrator rights is a CredentialRejectedError saying so", async () => {
    const error = await rejection(collect(softwareone.listIssued(reporting, ctx)));

    expect(error).toBeInstanceOf(CredentialRejectedError);
    expect(error.message).toContain("(403)");
    expect(error.message).toContain("administrator rights");
  });

  test("a problem details 500 carries its detail and traceId into the message", async () => {
    const traceId = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";
    sim.faults.add({
      path: TOKENS_PATH,
      fault: {
        kind: "status",
        status: 500,
        contentType: "application/problem+json",
        body: JSON.stringify({
          type: "https://tools.ietf.org/html/rfc9110#section-15.6.1",
          title: "Internal Server Error",
          status: 500,
          detail: "The token store did not answer in time.",
          instance: TOKENS_PATH,
          traceId,
        }),
      },
    });

    const error = await rejection(collect(softwareone.listIssued(issuer, ctx)));

    expect(error).toBeInstanceOf(VendorError);
    expect(error.message).toContain("The token store did not answer in time.");
    expect(error.message).toContain(traceId);
    expect(error.message).toContain(`"${CREDENTIAL}"`);
  });

  test("a validation problem names the fields the platform rejected", async () => {
    const template = { ...reporting, modules: ["MOD-UNKNOWN"] };

    const error = await rejection(
      softwareone.issue(issuer, template, { marker: MARKER, expiresAt: undefined }, ctx),
    );

    expect(error).toBeInstanceOf(VendorError);
    expect(error.message).toContain("modules[0].id");
    expect(error.message).toContain("traceId");
  });

  test("no error message, stack or JSON form carries a token value", async () => {
    const successor = await softwareone.issue(
      issuer,
      reporting,
      { marker: MARKER, expiresAt: undefined },
      ctx,
    );
    await softwareone.revoke(successor.keyId, issuer, "soft", ctx);
    sim.faults.add({ path: TOKENS_PATH, fault: { kind: "status", status: 500 } });
    const errors = [
      await rejection(softwareone.verify(successor, ctx)),
      await rejection(collect(softwareone.listIssued(issuer, ctx))),
      await rejection(collect(softwareone.listIssued(reporting, ctx))),
      await rejection(
        softwareone.issue(
          issuer,
          { ...reporting, modules: ["MOD-UNKNOWN"] },
          { marker: MARKER, expiresAt: undefined },
          ctx,
        ),
      ),
      parseFailure({ ...reporting, keyId: "TKN-0000-0000" }),
      parseFailure({ ...issuer, accountId: "nope" }),
    ];

    // With nothing to look for, the leak scans below would pass whatever the errors say.
    expect(sim.issuedValues.length).toBeGreaterThan(0);
    expect(findLeaks(errors.map(describeError), sim.issuedValues)).toEqual([]);
  });
});
