import { afterEach, describe, expect, test } from "vitest";
import {
  addRedactionRules,
  forgetSecrets,
  jsonReplacer,
  REDACTED,
  redactText,
  redactValue,
  rememberSecret,
} from "#http/redact.ts";
// The shipped providers' own rules (a key header, a token shape, requestHash), which the registry
// adds to the redactor when it loads: the vendor cases below test them as every function gets them.
import "#providers/registry.ts";

const SECRET = "s3cr3t-value-0123456789";

afterEach(() => {
  forgetSecrets();
});

describe("redactText", () => {
  test("blanks every occurrence of a remembered secret", () => {
    rememberSecret(SECRET);

    const text = redactText(`first ${SECRET}, then ${SECRET} again`);

    expect(text).toBe(`first ${REDACTED}, then ${REDACTED} again`);
  });

  test("blanks the percent-encoded form of a remembered secret", () => {
    rememberSecret("key with/slash+plus");

    const text = redactText("GET /v1?api_key=key%20with%2Fslash%2Bplus");

    expect(text).toBe(`GET /v1?api_key=${REDACTED}`);
  });

  test("ignores values too short to be a credential", () => {
    rememberSecret("short");
    rememberSecret(undefined);

    expect(redactText("a short message")).toBe("a short message");
  });

  test("blanks the token after Bearer up to whitespace, a quote or a comma", () => {
    const text = redactText(`Authorization: Bearer abc.def-ghi, next; "Bearer xyz123" bearer lower`);

    expect(text).toBe(`Authorization: Bearer ${REDACTED}, next; "Bearer ${REDACTED}" Bearer ${REDACTED}`);
  });

  test("keeps the id of a SoftwareOne token and blanks its secret part", () => {
    const text = redactText('{"token":"idt:TKN-1234-5678:Zm9vYmFyYmF6cXV4"}');

    expect(text).toBe(`{"token":"idt:TKN-1234-5678:${REDACTED}"}`);
  });

  test("blanks a JWT (an Immuta PAT) it has never seen, by its shape, and leaves other dotted text", () => {
    const jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1LTEifQ.c2lnbmF0dXJlLXBhcnQ";
    const text = redactText(`matched ${jwt} in app/.env; see docs.example.com/v1.2`);

    expect(text).toBe(`matched ${REDACTED} in app/.env; see docs.example.com/v1.2`);
  });

  test("forgets remembered secrets on request", () => {
    rememberSecret(SECRET);
    forgetSecrets();

    expect(redactText(SECRET)).toBe(SECRET);
  });
});

describe("addRedactionRules", () => {
  test("adds a vendor's key names and token shapes, keeping a pattern's first group", () => {
    addRedactionRules({
      sensitiveKeys: ["X-Zeta-Signature"],
      tokenPatterns: [/\b(zeta-[0-9]{3}-)[a-z0-9]{12,}/g, /\bzsk_[A-Za-z0-9]{20,}/g],
    });

    expect(redactValue({ x_zeta_signature: "sig-value" })).toEqual({ x_zeta_signature: REDACTED });
    expect(redactText("id zeta-123-abcdefghijkl0 and zsk_ABCDEFGHIJKLMNOPQRST12 end")).toBe(
      `id zeta-123-${REDACTED} and ${REDACTED} end`,
    );
  });

  test("refuses a pattern without the g flag, which would blank the first match only", () => {
    expect(() => addRedactionRules({ tokenPatterns: [/zeta-[0-9]+/] })).toThrow(/g flag/);
  });
});

describe("redactValue", () => {
  test("blanks values under sensitive keys whatever their case or separator", () => {
    const headers = {
      Authorization: "Basic dXNlcjpwYXNz",
      "X-Eflow-API-Key": "eflow-key",
      accessToken: "a",
      refresh_token: "r",
      SecretString: '{"token":"t"}',
      requestHash: "h",
      client_secret: "c",
      Cookie: "session=1",
      tokenId: "7f0c",
    };

    expect(redactValue(headers)).toEqual({
      Authorization: REDACTED,
      "X-Eflow-API-Key": REDACTED,
      accessToken: REDACTED,
      refresh_token: REDACTED,
      SecretString: REDACTED,
      requestHash: REDACTED,
      client_secret: REDACTED,
      Cookie: REDACTED,
      tokenId: "7f0c",
    });
  });

  test("passes every nested string through redactText and leaves the original untouched", () => {
    rememberSecret(SECRET);
    const original = {
      detail: `key ${SECRET} is invalid`,
      errors: [{ message: `Bearer ${SECRET}` }],
      count: 2,
    };

    const copy = redactValue(original);

    expect(copy).toEqual({
      detail: `key ${REDACTED} is invalid`,
      errors: [{ message: `Bearer ${REDACTED}` }],
      count: 2,
    });
    expect(original.detail).toContain(SECRET);
  });

  test("copies a structure with cycles without looping", () => {
    const node: { name: string; token: string; self?: unknown } = { name: "node", token: "t0ken-value" };
    node.self = node;

    const copy = redactValue(node);

    expect(copy.token).toBe(REDACTED);
    expect(copy.self).toBe(copy);
  });

  test("redacts an error's name, message, stack, cause and fields but keeps its class", () => {
    rememberSecret(SECRET);
    class VendorFailure extends Error {
      readonly token = SECRET;
    }
    const error = new VendorFailure(`rejected ${SECRET}`, { cause: new Error(`inner ${SECRET}`) });
    error.name = `VendorFailure ${SECRET}`;

    const copy = redactValue(error);

    expect(copy).toBeInstanceOf(VendorFailure);
    expect(copy.message).toBe(`rejected ${REDACTED}`);
    expect(copy.name).toBe(`VendorFailure ${REDACTED}`);
    expect(copy.stack).not.toContain(SECRET);
    expect(copy.token).toBe(REDACTED);
    expect((copy.cause as Error).message).toBe(`inner ${REDACTED}`);
  });

  test("redacts Maps by key and Headers as plain objects", () => {
    const map = new Map<string, string>([
      ["authorization", "Bearer abcdefgh"],
      ["region", "eu"],
    ]);
    const headers = new Headers({ "x-eflow-api-key": "eflow-key", accept: "application/json" });

    expect(redactValue(map)).toEqual(
      new Map([
        ["authorization", REDACTED],
        ["region", "eu"],
      ]),
    );
    expect(redactValue(headers)).toEqual({ "x-eflow-api-key": REDACTED, accept: "application/json" });
  });
});

describe("jsonReplacer", () => {
  test("applies the same rules inside JSON.stringify", () => {
    rememberSecret(SECRET);
    const entry = {
      message: `using ${SECRET}`,
      request: { headers: { Authorization: `Bearer ${SECRET}` }, url: "https://x/v1" },
      secrets: new Map([["apiKey", "k3y-value-123"]]),
      missing: null,
    };

    const json = JSON.stringify(entry, jsonReplacer);

    expect(JSON.parse(json)).toEqual({
      message: `using ${REDACTED}`,
      request: { headers: { Authorization: REDACTED }, url: "https://x/v1" },
      secrets: { apiKey: REDACTED },
      missing: null,
    });
  });
});

test("a huge remembered secret is still blanked, and does not break redaction of the others", () => {
  const huge = "h".repeat(120_000);
  rememberSecret(huge);
  rememberSecret("ordinary-secret-value-123");

  const text = redactText(`a ${huge} b ordinary-secret-value-123 c`);

  expect(text).toBe("a [REDACTED] b [REDACTED] c");
});
