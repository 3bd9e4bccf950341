// The SoftwareOne provider against the simulator over real HTTP: secret parsing, minting
// with an administrator token, verification, soft and hard revocation, orphan listing, last
// use, and error messages that name the credential and never carry a token value. Issue 18:
// what SoftwareOne's spec allows (a null total, a 400 to a repeated disable or to a delete,
// `errors` as an array, a GET answer carrying the token's value, older tokens without `idt:`).
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { parseValue } from "#engine/credentials.ts";
import {
  CredentialRejectedError,
  InvalidSecretError,
  InvalidSettingsError,
  VendorError,
} from "#engine/errors.ts";
import { redactText } from "#http/redact.ts";
import { providerFor } from "#providers/registry.ts";
import {
  parseApiToken,
  problemErrorsText,
  type SoftwareOneCredential,
  softwareone,
} from "#providers/softwareone/index.ts";
import type { IssuedKey, ProviderContext } from "#providers/types.ts";
import { ManualClock } from "#sandbox/simulators/clock.ts";
import { type SoftwareOneSimulator, startSoftwareOneSimulator } from "#sandbox/simulators/softwareone.ts";
import { captureOutput, describeError, findLeaks } from "../../support/leak-guard.ts";
import { rejection, simulatorContext, thrownBy } from "../../support/provider-context.ts";

const CREDENTIAL = "softwareone/reporting";
const TOKENS_PATH = "/public/v1/accounts/api-tokens";
const MARKER = "keyturn:softwareone/reporting:v2";
const LIST_SELECT = "select=+description,+lastAccessAt,-token";

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
  // As the engine reads a value: its secrets (secretsOf) remembered for redaction, then parsed.
  return parseValue(
    providerFor("softwareone"),
    { provider: "softwareone", token: seeded.token, keyId: seeded.id, accountId, ...extra },
    name,
  ) as SoftwareOneCredential;
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

  test("names the token in secretsOf, which the engine remembers, so redaction blanks it even percent-encoded", () => {
    expect(softwareone.secretsOf(reporting)).toEqual([reporting.token]);
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
      [TOKENS_PATH, `eq(account.id,"${accountId}")&${LIST_SELECT}&limit=100&offset=0`, 200],
      [TOKENS_PATH, `eq(account.id,"${accountId}")&${LIST_SELECT}&limit=100&offset=100`, 200],
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

describe("issue 18: what SoftwareOne's spec allows", () => {
  /** A 400 problem answered to the next `method` call at `path`, in place of the simulator's own answer. */
  function problem400(method: string, path: string, body: Record<string, unknown>): void {
    sim.faults.add({
      method,
      path,
      fault: {
        kind: "status",
        status: 400,
        contentType: "application/problem+json",
        body: JSON.stringify({
          type: "https://docs.platform.softwareone.com/developer-resources/rest-api/errors/accounts#MPTACC03-0001",
          title: "Bad Request",
          status: 400,
          traceId: "00-9e02a91b64ac56904703a3a69ea9101d-56be90a29d0b0b25-00",
          ...body,
        }),
      },
    });
  }

  test("listing pages without $meta.pagination.total (nullable) and stops on the short page", async () => {
    sim.configure({ paginationTotal: "null" });
    for (let i = 0; i < 150; i++)
      sim.seedToken(accountId, { name: `key-${i}`, description: `keyturn:c:${i}` });
    sim.resetRequests();

    const keys = await collect(softwareone.listIssued(issuer, ctx));

    expect(keys).toHaveLength(153);
    expect(sim.requests.map((r) => r.query)).toEqual([
      `eq(account.id,"${accountId}")&${LIST_SELECT}&limit=100&offset=0`,
      `eq(account.id,"${accountId}")&${LIST_SELECT}&limit=100&offset=100`,
    ]);
  });

  test("a full last page is followed by one empty page, total or not", async () => {
    sim.configure({ paginationTotal: "null" });
    for (let i = 0; i < 97; i++) sim.seedToken(accountId, { name: `key-${i}` });
    sim.resetRequests();

    const keys = await collect(softwareone.listIssued(issuer, ctx));

    expect(keys).toHaveLength(100);
    expect(sim.requests.map((r) => r.query.replace(/.*&offset=/, "offset="))).toEqual([
      "offset=0",
      "offset=100",
    ]);
  });

  test("a listing that answers the same full page again is a VendorError, not an endless loop", async () => {
    for (let i = 0; i < 120; i++) sim.seedToken(accountId, { name: `key-${i}` });
    const page = await (
      await fetch(`${sim.baseUrl}/accounts/api-tokens?limit=100&select=-token`, {
        headers: { authorization: `Bearer ${issuer.token}` },
      })
    ).text();
    sim.faults.add({
      method: "GET",
      path: TOKENS_PATH,
      times: Number.POSITIVE_INFINITY,
      fault: { kind: "status", status: 200, body: page.replace(/"total":\d+/, '"total":null') },
    });

    const error = await rejection(collect(softwareone.listIssued(issuer, ctx)));

    expect(error).toBeInstanceOf(VendorError);
    expect(error.message).toContain("does not advance");
    expect(sim.requests.filter((r) => r.path === TOKENS_PATH)).toHaveLength(3);
  });

  test("problem errors as error-object.md's array are printed as 'properties: message'", async () => {
    problem400("POST", TOKENS_PATH, {
      detail: "Value of listing does not correspond to a valid listing; External ID is too long",
      errors: [
        {
          message: "Module {{moduleId}} was not found",
          properties: ["modules[0].id"],
          parameters: { moduleId: "MOD-9999" },
        },
        { message: "External ID is too long", properties: ["externalId"], id: "MPTACC03-0078" },
      ],
    });

    const error = await rejection(
      softwareone.issue(issuer, reporting, { marker: MARKER, expiresAt: undefined }, ctx),
    );

    expect(error).toBeInstanceOf(VendorError);
    expect(error.message).toContain(
      "Errors: modules[0].id: Module MOD-9999 was not found; externalId: External ID is too long.",
    );
    expect(error.message).not.toContain("[object Object]");
    expect(error.message).not.toMatch(/\b0: /);
  });

  test("problem errors as errors-handling.md's map are printed as 'field: messages'", async () => {
    sim.configure({ problemErrors: "map" });

    const error = await rejection(
      softwareone.issue(
        issuer,
        { ...reporting, modules: ["MOD-9999"] },
        { marker: MARKER, expiresAt: undefined },
        ctx,
      ),
    );

    expect(error.message).toContain("Errors: modules[0].id: Module MOD-9999 was not found");
    expect(error.message).not.toContain("[object Object]");
  });

  test("problem errors are bounded: three entries shown, each cut short, the rest counted", async () => {
    const long = `A message with markdown\n\n**${"x".repeat(5_000)}**`;
    problem400("POST", TOKENS_PATH, {
      errors: Array.from({ length: 50 }, (_, i) => ({ message: long, properties: [`field${i}`] })),
    });

    const error = await rejection(
      softwareone.issue(issuer, reporting, { marker: MARKER, expiresAt: undefined }, ctx),
    );

    expect(error.message).toContain("(and 47 more)");
    expect(error.message).toContain("field0: A message with markdown **xxx");
    expect(error.message).not.toContain("field3:");
    expect(error.message.length).toBeLessThan(1_500);
  });

  test("errors that are neither messages nor fields are left out, never printed as [object Object]", () => {
    expect(
      problemErrorsText([{ properties: ["a"] }, 42, null, { message: { nested: true } }]),
    ).toBeUndefined();
    expect(problemErrorsText({ name: [{ message: "is required" }], other: { deep: {} } })).toBe(
      "name: is required",
    );
    expect(problemErrorsText(["plain text"])).toBe("plain text");
    expect(problemErrorsText("not a collection")).toBeUndefined();
  });

  test("a repeated disable answered 400 (the simulator's switch) reads the token and counts as revoked", async () => {
    sim.configure({ repeatedStateChange: "400" });
    await softwareone.revoke(reporting.keyId, issuer, "soft", ctx);
    sim.resetRequests();

    const outcome = await softwareone.revoke(reporting.keyId, issuer, "soft", ctx);

    expect(outcome).toBe("revoked");
    expect(sim.requests.map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual([
      `POST ${TOKENS_PATH}/${reporting.keyId}/disable 400`,
      `GET ${TOKENS_PATH}/${reporting.keyId} 200`,
    ]);
  });

  test("a 400 to disabling a token that is still active is not taken for revoked", async () => {
    problem400("POST", `${TOKENS_PATH}/${reporting.keyId}/disable`, {
      errors: [{ message: "The token cannot be disabled now.", properties: ["status"] }],
    });

    const error = await rejection(softwareone.revoke(reporting.keyId, issuer, "soft", ctx));

    expect(error).toBeInstanceOf(VendorError);
    expect(error.message).toContain("status: The token cannot be disabled now.");
    expect(recordOf(reporting.keyId).status).toBe("Active");
  });

  test("a 400 to deleting a token that is gone already is already gone", async () => {
    await softwareone.revoke(reporting.keyId, issuer, "hard", ctx);
    problem400("DELETE", `${TOKENS_PATH}/${reporting.keyId}`, { detail: "The token is deleted." });

    const outcome = await softwareone.revoke(reporting.keyId, issuer, "hard", ctx);

    expect(outcome).toBe("already-gone");
  });

  test("lastUsed asks for lastAccessAt, which a GET leaves out unless selected", async () => {
    sim.touch(reporting.keyId, new Date("2026-02-27T17:45:00Z"));
    sim.resetRequests();

    const lastUsed = await softwareone.lastUsed?.(reporting.keyId, issuer, ctx);

    expect(lastUsed).toEqual(new Date("2026-02-27T17:45:00Z"));
    expect(sim.requests).toMatchObject([
      { method: "GET", path: `${TOKENS_PATH}/${reporting.keyId}`, query: "select=+lastAccessAt,-token" },
    ]);
  });

  test("every read asks for the record without the token's value", async () => {
    const bare = credentialOf({ id: reporting.keyId, token: reporting.token });
    sim.configure({ repeatedStateChange: "400" });
    sim.resetRequests();

    const successor = await softwareone.issue(issuer, bare, { marker: MARKER, expiresAt: undefined }, ctx);
    await softwareone.verify(successor, ctx);
    await softwareone.lastUsed?.(reporting.keyId, issuer, ctx);
    await softwareone.revoke(reporting.keyId, issuer, "soft", ctx);
    await softwareone.revoke(reporting.keyId, issuer, "soft", ctx);
    await collect(softwareone.listIssued(issuer, ctx));

    const reads = sim.requests.filter((r) => r.method === "GET");
    expect(reads).toHaveLength(5);
    for (const read of reads) expect(read.query).toMatch(/(?:^|[=,])-token(?:&|$)/);
  });

  test("a parsed token record keeps only the fields keyturn uses, never the value", () => {
    const record = parseApiToken(
      {
        id: "TKN-1234-5678",
        name: "reporting",
        status: "Active",
        token: "idt:TKN-1234-5678:0123456789abcdefghij0123456789ABCDEFGHIJ",
        account: { id: accountId, name: "Contoso", type: "Client", status: "Active" },
        modules: [{ id: "MOD-1001", name: "Catalog" }],
        $meta: { omitted: ["lastAccessAt"] },
        audit: { created: { at: "2026-01-01T00:00:00Z", by: { id: "USR-1", name: "A" } } },
      },
      { credential: CREDENTIAL, action: "a test" },
    );

    expect(record).toEqual({
      id: "TKN-1234-5678",
      name: "reporting",
      status: "Active",
      account: { id: accountId },
      modules: [{ id: "MOD-1001" }],
      audit: { created: { at: "2026-01-01T00:00:00Z" } },
    });
  });

  test("a GET answer carrying a token's value (a platform ignoring select=-token) never leaks", async () => {
    const legacy = sim.seedToken(accountId, { name: "legacy", legacy: true, modules: ["MOD-1001"] });
    const answerWithValue = await (
      await fetch(`${sim.baseUrl}/accounts/api-tokens/${legacy.id}`, {
        headers: { authorization: `Bearer ${operator.token}` },
      })
    ).text();
    expect(answerWithValue).toContain(legacy.token);
    const serve = (path: string, body: string, times = 1) =>
      sim.faults.add({
        method: "GET",
        path,
        phase: "after",
        times,
        fault: { kind: "status", status: 200, body },
      });
    const output = captureOutput();
    const outcomes: unknown[] = [];
    const errors: Error[] = [];
    try {
      // Every read keyturn makes answered with that record: the value is in each answer.
      serve(`${TOKENS_PATH}/${reporting.keyId}`, answerWithValue, 2);
      errors.push(await rejection(softwareone.verify(reporting, ctx))); // another token's record
      outcomes.push(await softwareone.lastUsed?.(reporting.keyId, issuer, ctx));
      serve(`${TOKENS_PATH}/${legacy.id}`, answerWithValue.replace('"Active"', '"Disabled"'));
      sim.configure({ repeatedStateChange: "400" });
      await softwareone.revoke(legacy.id, issuer, "soft", ctx);
      outcomes.push(await softwareone.revoke(legacy.id, issuer, "soft", ctx));
      serve(TOKENS_PATH, `{"$meta":{"pagination":{"total":null}},"data":[${answerWithValue}]}`);
      outcomes.push(await collect(softwareone.listIssued(issuer, ctx)));
      serve(TOKENS_PATH, `{"data":[${answerWithValue.replace(legacy.id, "not-an-id")}]}`);
      errors.push(await rejection(collect(softwareone.listIssued(issuer, ctx))));
    } finally {
      output.restore();
    }

    expect(errors.map((error) => error.constructor.name)).toEqual(["VendorError", "VendorError"]);
    const texts = [output.text(), ...errors.map(describeError), JSON.stringify(outcomes)];
    expect(findLeaks(texts, [legacy.token])).toEqual([]);
  });
});

describe("issue 18: older tokens without the idt: prefix", () => {
  let legacy: SoftwareOneCredential;

  beforeEach(() => {
    const seeded = sim.seedToken(accountId, {
      name: "legacy reporting",
      legacy: true,
      modules: ["MOD-1002"],
    });
    expect(seeded.token.startsWith("idt:")).toBe(false);
    legacy = credentialOf(seeded, {}, "softwareone/legacy");
  });

  test("a bare value is accepted, its id being the secret's keyId", () => {
    expect(legacy.keyId).toMatch(/^TKN-\d{4}-\d{4}$/);
    expect(redactText(`echo ${legacy.token}`)).not.toContain(legacy.token);
  });

  test("verify reads the token's own record with the bare value", async () => {
    sim.resetRequests();

    await softwareone.verify(legacy, ctx);

    expect(sim.requests).toMatchObject([
      { method: "GET", path: `${TOKENS_PATH}/${legacy.keyId}`, status: 200 },
    ]);
  });

  test("a rotation mints a successor in the current form from the older token's record", async () => {
    const successor = await softwareone.issue(issuer, legacy, { marker: MARKER, expiresAt: undefined }, ctx);
    await softwareone.verify(successor, ctx);

    expect(successor.token.startsWith(`idt:${successor.keyId}:`)).toBe(true);
    expect(successor).toMatchObject({ name: "legacy reporting", modules: ["MOD-1002"] });
    expect(softwareone.parse(successor, "softwareone/legacy").keyId).toBe(successor.keyId);
    expect(await softwareone.revoke(legacy.keyId, issuer, "soft", ctx)).toBe("revoked");
    expect(sim.isLive(legacy.token)).toBe(false);
  });

  test("a bare value with a keyId that is not its token is refused by the platform's check", async () => {
    const wrong = softwareone.parse({ ...legacy, keyId: issuer.keyId }, "softwareone/legacy");

    const error = await rejection(softwareone.verify(wrong, ctx));

    expect(error).toBeInstanceOf(CredentialRejectedError);
    expect(describeError(error)).not.toContain(legacy.token);
  });

  test("values that are neither form are still refused", () => {
    for (const token of [
      "not-a-softwareone-token-value",
      "idt:not-a-token",
      "short0123456789",
      "x".repeat(31),
    ]) {
      expect(parseFailure({ ...legacy, token })).toBeInstanceOf(InvalidSecretError);
    }
  });
});

describe("issue 18: an older token's keyId is confirmed before it is trusted", () => {
  test("an administrator's bare value with another token's keyId is refused, and that token left alone", async () => {
    const legacyAdmin = sim.seedToken(accountId, { name: "legacy admin", legacy: true, admin: true });
    // The value is the administrator's; the keyId names the reporting token, which it may read.
    const lying = credentialOf({ id: reporting.keyId, token: legacyAdmin.token }, {}, "softwareone/legacy");
    sim.resetRequests();

    const verifyError = await rejection(softwareone.verify(lying, ctx));
    const issueError = await rejection(
      softwareone.issue(issuer, lying, { marker: MARKER, expiresAt: undefined }, ctx),
    );

    for (const error of [verifyError, issueError]) {
      expect(error).toBeInstanceOf(CredentialRejectedError);
      expect(error.message).toContain("belongs to another token");
      expect(findLeaks([describeError(error)], [legacyAdmin.token, reporting.token])).toEqual([]);
    }
    expect(sim.requests.filter((r) => r.method === "POST")).toEqual([]);
    expect(recordOf(reporting.keyId).status).toBe("Active");
  });
});
