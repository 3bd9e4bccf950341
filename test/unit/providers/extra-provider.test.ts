// Adding a vendor is one folder, one simulator and one registry line: this test adds a minimal
// provider, "acme-keys", by that line alone (the registry's list, functions/providers/shipped.ts,
// is extended with vi.mock, which stands in for editing the file), and shows that the deployment
// config, the redactor, the HTTP client and the engine's reading of values take it with no other
// change. The vendor is a loopback HTTP server, not a stub.

import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from "vitest";
import { managedCredential, parseOwnValue } from "#engine/credentials.ts";
import { InvalidSecretError } from "#engine/errors.ts";
import { CredentialTamperedError, PinnedCredentials } from "#engine/pinned.ts";
import { HttpClient } from "#http/client.ts";
import { ResponseError } from "#http/errors.ts";
import { forgetSecrets, REDACTED, redactText, redactValue } from "#http/redact.ts";
import { isProviderId, PROVIDER_IDS, providerFor } from "#providers/registry.ts";
import type { ProviderId } from "#providers/types.ts";
import { InvalidConfigError, parseConfig, pinnedCredential } from "../../../infra/config.ts";
import { configReference, configSchemaFile } from "../../../infra/config-schema.ts";
import { rejection } from "../../support/provider-context.ts";

vi.mock("#providers/shipped.ts", async (importOriginal) => {
  const v = await import("valibot");
  const { parseSecretValue, secretFields } = await import("#providers/schema.ts");
  const original = await importOriginal<typeof import("#providers/shipped.ts")>();
  const Value = v.looseObject({
    provider: v.literal("acme-keys"),
    workspace: v.pipe(v.string(), v.minLength(1)),
    apiKey: v.pipe(v.string(), v.minLength(16)),
    keyId: v.pipe(v.string(), v.minLength(1)),
  });
  const summarizeProblem = (problem: unknown) =>
    typeof problem === "object" &&
    problem !== null &&
    typeof (problem as { fault?: unknown }).fault === "string"
      ? `Acme fault: ${(problem as { fault: string }).fault}`
      : "";
  const acme = {
    id: "acme-keys",
    vendor: "Acme",
    mode: "manual",
    revocation: "hard-only",
    config: {
      description: "An Acme API key, replaced by a person (a test-only provider).",
      settings: v.strictObject({
        workspace: v.pipe(
          v.string(),
          v.minLength(1),
          v.description("The Acme workspace the key belongs to."),
        ),
      }),
    },
    redaction: {
      sensitiveKeys: ["X-Acme-Key"],
      tokenPatterns: [/\b(acme_[a-z0-9]{4}_)[A-Za-z0-9]{16,}/g],
    },
    summarizeProblem,
    parse: (value: unknown, credential: string) =>
      parseSecretValue(Value, value, {
        credential,
        vendor: "Acme",
        publicFields: ["provider", "workspace", "keyId"],
      }),
    secretsOf: (value: object) => secretFields(value, ["apiKey"]),
    expiresAt: () => undefined,
    async verify(candidate: { workspace: string; apiKey: string }, ctx: { http: HttpClient }) {
      await ctx.http.request({
        method: "GET",
        url: `https://api.acme.test/v1/workspaces/${candidate.workspace}/me`,
        headers: { "x-acme-key": candidate.apiKey },
        summarizeProblem,
      });
    },
  };
  return { SHIPPED: { ...original.SHIPPED, "acme-keys": acme } };
});

const ACME = "acme-keys" as ProviderId;
const API_KEY = "acme_ab12_QWERTYUIOPASDFGHJKLZ";

function acmeConfig(entry: Record<string, unknown> = {}) {
  return {
    credentials: [{ name: "acme/main", provider: "acme-keys", settings: { workspace: "w1" }, ...entry }],
  };
}

afterEach(() => {
  forgetSecrets();
});

describe("a provider added by its registry line alone", () => {
  test("the registry holds it beside the shipped ones", () => {
    expect(PROVIDER_IDS).toContain("acme-keys");
    expect(PROVIDER_IDS).toContain("softwareone");
    expect(isProviderId("acme-keys")).toBe(true);
    expect(providerFor(ACME).vendor).toBe("Acme");
  });

  test("the config takes its credentials with its settings, and the fields of its mode", () => {
    const config = parseConfig(acmeConfig({ maxAge: "90d" }));

    expect(config.credentials[0]).toMatchObject({
      name: "acme/main",
      provider: "acme-keys",
      mode: "manual",
      settings: { workspace: "w1" },
      policy: { maxAge: "90d" },
    });
    expect(pinnedCredential(config.credentials[0] as never).settingsFields).toEqual(["workspace"]);
  });

  test("the config refuses what its schema and mode refuse, naming the credential and the field", () => {
    const problems = (json: unknown) => {
      try {
        parseConfig(json);
      } catch (error) {
        if (error instanceof InvalidConfigError) return error.problems.join("\n");
        throw error;
      }
      throw new Error("expected the config to be refused");
    };

    expect(problems(acmeConfig({ settings: {} }))).toContain(
      'credential "acme/main": field "settings.workspace" is missing',
    );
    expect(problems(acmeConfig({ settings: { workspace: "w1", region: "eu" } }))).toContain(
      'field "settings.region" is not a field keyturn knows here',
    );
    expect(problems(acmeConfig({ rotateEvery: "30d" }))).toMatch(
      /field "rotateEvery" .*acme-keys keys cannot be minted by API/,
    );
  });

  test("the published JSON Schema and the config reference describe it", () => {
    const schema = configSchemaFile();
    const reference = configReference();

    expect(schema).toContain('"const": "acme-keys"');
    expect(schema).toContain("The Acme workspace the key belongs to.");
    expect(reference).toContain("### `acme-keys` (manual)");
    expect(reference).toContain(
      "| `settings.workspace` (required) | string |  | The Acme workspace the key belongs to. |",
    );
  });

  test("the redactor blanks its key header and its token shape, keeping the public part", () => {
    expect(redactValue({ "x-acme-key": "anything-at-all", accept: "application/json" })).toEqual({
      "x-acme-key": REDACTED,
      accept: "application/json",
    });
    expect(redactText(`sent ${API_KEY} twice`)).toBe(`sent acme_ab12_${REDACTED} twice`);
  });

  describe("the engine reads its values", () => {
    const config = parseConfig(acmeConfig());
    const pinned = pinnedCredential(config.credentials[0] as never);
    const credential = managedCredential(
      {
        arn: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:keyturn/acme/main-AbC123",
        name: pinned.secretName,
        versions: {},
        tags: {},
      },
      new PinnedCredentials([pinned]),
    );
    // A key of no shape the redactor knows: only the provider's secretsOf can tell it is secret.
    const plainKey = "plain-key-0123456789-xyz";

    test("parsing with its provider, and remembering its secrets for redaction", () => {
      const value = parseOwnValue(
        credential,
        JSON.stringify({ provider: "acme-keys", workspace: "w1", apiKey: plainKey, keyId: "main" }),
      );

      expect(value).toMatchObject({ provider: "acme-keys", keyId: "main" });
      expect(redactText(`key ${plainKey}`)).toBe(`key ${REDACTED}`);
    });

    test("remembering the secret of a value its provider refuses, before the refusal", () => {
      let refused: unknown;
      try {
        parseOwnValue(
          credential,
          JSON.stringify({ provider: "acme-keys", workspace: "w1", apiKey: plainKey }),
        );
      } catch (error) {
        refused = error;
      }

      expect(refused).toBeInstanceOf(InvalidSecretError);
      expect(redactText(plainKey)).toBe(REDACTED);
    });

    test("refusing a value whose settings are not the pinned ones", () => {
      expect(() =>
        parseOwnValue(
          credential,
          JSON.stringify({ provider: "acme-keys", workspace: "other", apiKey: plainKey, keyId: "main" }),
        ),
      ).toThrow(CredentialTamperedError);
    });
  });

  describe("the HTTP client sums up its vendor's errors with its summary", () => {
    let server: Server;
    let url: string;

    beforeAll(async () => {
      // The vendor's simulator: every request is refused with Acme's error body.
      server = createServer((_req, res) => {
        res.writeHead(401, { "content-type": "application/json" });
        res.end(JSON.stringify({ fault: "the key was revoked", code: 7 }));
      });
      server.listen(0, "127.0.0.1");
      await once(server, "listening");
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });

    afterAll(async () => {
      server.close();
      await once(server, "close");
    });

    test("in the refusal's message, without the key", async () => {
      const acme = providerFor(ACME);
      const http = new HttpClient({ vendor: acme.vendor, endpointOverride: url, maxRetries: 0 });
      const key = "another-plain-key-0123456789";
      const value = acme.parse(
        { provider: "acme-keys", workspace: "w1", apiKey: key, keyId: "k" },
        "acme/main",
      );

      const error = await rejection(
        acme.verify(value, { credential: "acme/main", http, now: () => new Date() }),
      );

      expect(error).toBeInstanceOf(ResponseError);
      expect(error.message).toContain("Acme answered 401");
      expect(error.message).toContain("Acme fault: the key was revoked");
      expect(error.message).not.toContain(key);
    });
  });
});
