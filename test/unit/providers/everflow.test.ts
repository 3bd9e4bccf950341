// The Everflow provider against the simulator over real HTTP: a manual provider, so secret
// parsing, verification of a key an operator stored, the diagnosis of a refused key (revoked,
// wrong portal, wrong host), the UI steps, and errors that never carry a key value.
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { parseValue } from "#engine/credentials.ts";
import { CredentialRejectedError, InvalidSecretError, VendorError } from "#engine/errors.ts";
import { HttpClient } from "#http/client.ts";
import { redactText } from "#http/redact.ts";
import { type EverflowCredential, everflow } from "#providers/everflow/index.ts";
import { providerFor } from "#providers/registry.ts";
import type { ProviderContext } from "#providers/types.ts";
import { ManualClock } from "#sandbox/simulators/clock.ts";
import {
  type EverflowHost,
  type EverflowPortal,
  type EverflowSimulator,
  startEverflowSimulator,
} from "#sandbox/simulators/everflow.ts";
import { describeError, findLeaks } from "../../support/leak-guard.ts";
import { rejection, simulatorContext, thrownBy } from "../../support/provider-context.ts";

const CREDENTIAL = "everflow/reporting";
const KEY_NAME = "keyturn reporting";
const CHECK_PATH = "/v1/partners";
const EU_BASE_URL = "https://api-eu.eflow.team/v1";

let clock: ManualClock;
let sim: EverflowSimulator;
let ctx: ProviderContext;
let created: { id: number; key: string };
let reporting: EverflowCredential;

function credentialOf(
  options: { portal?: EverflowPortal; host?: EverflowHost; name?: string } = {},
  extra: Record<string, unknown> = {},
): { id: number; credential: EverflowCredential } {
  const name = options.name ?? KEY_NAME;
  const { id, key } = sim.createKey({
    portal: options.portal ?? "partner",
    name,
    ...(options.host === undefined ? {} : { host: options.host }),
  });
  return {
    id,
    credential: readAsTheEngineDoes({ provider: "everflow", apiKey: key, keyId: name, ...extra }),
  };
}

beforeEach(async () => {
  clock = new ManualClock(new Date("2026-03-01T09:00:00Z"));
  sim = await startEverflowSimulator({ clock });
  ctx = simulatorContext({ vendor: "Everflow", credential: CREDENTIAL, url: sim.url, clock });
  created = sim.createKey({ portal: "partner", name: KEY_NAME, permissions: ["reporting"] });
  reporting = readAsTheEngineDoes({
    provider: "everflow",
    apiKey: created.key,
    keyId: KEY_NAME,
    issuedAt: "2026-02-01T00:00:00Z",
  });
});

/** A value parsed as the engine reads one: its secrets (secretsOf) remembered for redaction first. */
function readAsTheEngineDoes(value: Record<string, unknown>): EverflowCredential {
  return parseValue(providerFor("everflow"), value, CREDENTIAL) as EverflowCredential;
}

afterEach(async () => {
  await sim.close();
});

function parseFailure(value: Record<string, unknown>): Error {
  return thrownBy(() => everflow.parse(value, CREDENTIAL));
}

describe("the provider", () => {
  test("is manual and hard-only, and mints, revokes and lists nothing", () => {
    expect(everflow).toMatchObject({
      id: "everflow",
      vendor: "Everflow",
      mode: "manual",
      revocation: "hard-only",
    });
    expect(everflow.issue).toBeUndefined();
    expect(everflow.revoke).toBeUndefined();
    expect(everflow.listIssued).toBeUndefined();
  });

  test("reports no expiry: Everflow keys do not expire", () => {
    expect(everflow.expiresAt(reporting)).toBeUndefined();
  });

  test("names the key as its only secret", () => {
    expect(everflow.secretsOf(reporting)).toEqual([created.key]);
  });
});

describe("parse", () => {
  test("accepts a complete value with the EU base URL and no expiry", () => {
    const value = { ...reporting, baseUrl: EU_BASE_URL, expiresAt: null };

    const parsed = everflow.parse(value, CREDENTIAL);

    expect(parsed).toMatchObject({ keyId: KEY_NAME, baseUrl: EU_BASE_URL, expiresAt: null });
  });

  test("accepts the default base URL with a trailing slash", () => {
    expect(() =>
      everflow.parse({ ...reporting, baseUrl: "https://api.eflow.team/v1/" }, CREDENTIAL),
    ).not.toThrow();
  });

  test("names the missing fields, and the credential", () => {
    const error = parseFailure({ provider: "everflow" });

    expect(error).toBeInstanceOf(InvalidSecretError);
    expect(error.message).toContain(`"${CREDENTIAL}"`);
    expect(error.message).toContain('"apiKey" is missing');
    expect(error.message).toContain('"keyId" is missing');
  });

  test("refuses a key with a line break, naming the field without echoing the key", () => {
    const error = parseFailure({ ...reporting, apiKey: `${created.key}\n` });

    expect(error.message).toContain('"apiKey" must be an Everflow API key');
    expect(describeError(error)).not.toContain(created.key);
  });

  test("refuses a keyId that holds the key itself, without echoing it", () => {
    const error = parseFailure({ ...reporting, keyId: created.key });

    expect(error).toBeInstanceOf(InvalidSecretError);
    expect(error.message).toContain('"keyId" holds the API key itself');
    expect(describeError(error)).not.toContain(created.key);
  });

  test("refuses a base URL that is not https", () => {
    const error = parseFailure({ ...reporting, baseUrl: "http://api.eflow.team/v1" });

    expect(error).toBeInstanceOf(InvalidSecretError);
    expect(error.message).toContain('"baseUrl" must be one of Everflow\'s API base URLs');
    // Named, never quoted: whoever wrote the value would choose the text of keyturn's alert.
    expect(error.message).not.toContain("http://api.eflow.team/v1");
  });

  test("refuses a host that is not one of Everflow's two", () => {
    const error = parseFailure({ ...reporting, baseUrl: "https://api.eflow.example/v1" });

    expect(error.message).toContain('"baseUrl" must be');
    expect(error.message).toContain("https://api-eu.eflow.team/v1");
  });

  test("refuses an expiry date, which Everflow keys do not have", () => {
    const error = parseFailure({ ...reporting, expiresAt: "2027-01-01T00:00:00Z" });

    expect(error.message).toContain('"expiresAt" must be null or absent');
  });

  test("refuses a value of another provider", () => {
    const error = parseFailure({ ...reporting, provider: "softwareone" });

    expect(error.message).toContain('"provider"');
  });

  test("names the key in secretsOf, which the engine remembers, so redaction blanks it even percent-encoded", () => {
    expect(everflow.secretsOf(reporting)).toEqual([reporting.apiKey]);
    const text = `seen in a URL: ${encodeURIComponent(reporting.apiKey)}`;

    expect(redactText(text)).not.toContain(encodeURIComponent(reporting.apiKey));
  });
});

describe("verify", () => {
  test("reads GET /v1/partners once with the key in X-Eflow-API-Key", async () => {
    sim.resetRequests();

    await everflow.verify(reporting, ctx);

    expect(sim.requests).toMatchObject([
      { method: "GET", host: "api.eflow.team", path: CHECK_PATH, status: 200 },
    ]);
    expect(sim.keys().find((key) => key.id === created.id)?.lastUsedAt).toBe("2026-03-01T09:00:00.000Z");
  });

  test("sends an EU-hosted account's key to api-eu.eflow.team", async () => {
    const { credential } = credentialOf({ host: "api-eu.eflow.team" }, { baseUrl: EU_BASE_URL });
    sim.resetRequests();

    await everflow.verify(credential, ctx);

    expect(sim.requests).toMatchObject([{ host: "api-eu.eflow.team", path: CHECK_PATH, status: 200 }]);
  });

  test("a key revoked in the UI is rejected, naming the credential, the key's name and what to do", async () => {
    sim.revokeKey(created.id);

    const error = await rejection(everflow.verify(reporting, ctx));

    expect(error).toBeInstanceOf(CredentialRejectedError);
    expect(error.message).toContain(`"${CREDENTIAL}"`);
    expect(error.message).toContain(`"${KEY_NAME}"`);
    expect(error.message).toContain("revoked in the UI, or mistyped");
    expect(error.message).toContain("keyturn put");
  });

  test("a mistyped key is rejected the same way", async () => {
    // The last character changed (to another: a key may already end in "x").
    const typo = created.key.endsWith("x") ? "y" : "x";
    const mistyped = everflow.parse(
      { ...reporting, apiKey: `${created.key.slice(0, -1)}${typo}` },
      CREDENTIAL,
    );

    const error = await rejection(everflow.verify(mistyped, ctx));

    expect(error).toBeInstanceOf(CredentialRejectedError);
    expect(error.message).toContain("revoked in the UI, or mistyped");
  });

  test("a key of another portal is rejected as Out of realm, saying which key is needed", async () => {
    const { credential } = credentialOf({ portal: "network", name: "network key" });

    const error = await rejection(everflow.verify(credential, ctx));

    expect(error).toBeInstanceOf(CredentialRejectedError);
    expect(error.message).toContain('403 "Out of realm"');
    expect(error.message).toContain("not a Marketplace (partner) key");
    expect(error.message).toContain("Network key");
    expect(error.message).toContain("Account > API Keys");
  });

  test("a key of the EU-hosted account sent to the default host is told to set baseUrl", async () => {
    const { credential } = credentialOf({ host: "api-eu.eflow.team" });

    const error = await rejection(everflow.verify(credential, ctx));

    expect(error).toBeInstanceOf(CredentialRejectedError);
    expect(error.message).toContain(`Set the credential's baseUrl to ${EU_BASE_URL}`);
  });

  test("a vendor outage is a retryable VendorError naming the action", async () => {
    sim.faults.add({
      path: CHECK_PATH,
      times: Number.POSITIVE_INFINITY,
      fault: { kind: "status", status: 503 },
    });

    const error = await rejection(everflow.verify(reporting, ctx));

    expect(error).toBeInstanceOf(VendorError);
    expect(error).toMatchObject({ retryable: true });
    expect(error.message).toContain("API key check");
    expect(error.message).toContain(`"${CREDENTIAL}"`);
  });

  test("a body that is not a JSON object is a VendorError", async () => {
    sim.faults.add({ path: CHECK_PATH, phase: "after", fault: { kind: "status", status: 200, body: "[]" } });

    const error = await rejection(everflow.verify(reporting, ctx));

    expect(error).toBeInstanceOf(VendorError);
    expect(error.message).toContain("unexpected body");
  });
});

// Everflow's rate-limiting page (https://developers.everflow.io/user-guide/rate-limiting): 5 requests/s
// per customer over a 30-second window, 429 beyond, no Retry-After.
describe("rate limit", () => {
  const LIMIT = 150;
  const WINDOW_MS = 30_000;

  async function exhaustQuota(): Promise<void> {
    const spender = sim.createKey({ portal: "partner", name: "another integration" });
    for (let index = 0; index < LIMIT; index++) {
      const response = await fetch(`${sim.baseUrl()}/partners`, {
        headers: { "X-Eflow-API-Key": spender.key },
      });
      await response.arrayBuffer();
    }
    sim.resetRequests();
  }

  /** A context whose waits move the simulator's clock, with `remainingMs` left in the Lambda. */
  function waitingContext(remainingMs: number): { ctx: ProviderContext; waits: number[] } {
    const waits: number[] = [];
    return {
      waits,
      ctx: {
        credential: CREDENTIAL,
        now: () => new Date(clock.now()),
        http: new HttpClient({
          vendor: "Everflow",
          endpointOverride: sim.url,
          random: () => 0,
          remainingTimeMs: () => remainingMs,
          safetyMarginMs: 0,
          sleep: async (ms) => {
            waits.push(ms);
            clock.advance(ms);
          },
        }),
      },
    };
  }

  test("verify waits out a spent quota for one window and then succeeds", async () => {
    await exhaustQuota();
    const { ctx: waiting, waits } = waitingContext(60_000);

    await everflow.verify(reporting, waiting);

    expect(waits).toEqual([WINDOW_MS]);
    expect(sim.requests.map((request) => request.status)).toEqual([429, 200]);
  });

  test("a spent quota that outlasts the Lambda's time left is a retryable VendorError, sent once", async () => {
    await exhaustQuota();
    const { ctx: hurried, waits } = waitingContext(10_000);

    const error = await rejection(everflow.verify(reporting, hurried));

    expect(error).toBeInstanceOf(VendorError);
    expect(error).toMatchObject({ retryable: true });
    expect(error.message).toContain(`"${CREDENTIAL}"`);
    expect(error.message).toContain("rate limiting");
    expect(waits).toEqual([]);
    expect(sim.requests.map((request) => request.status)).toEqual([429]);
  });
});

describe("manualSteps", () => {
  test("create follows the Marketplace page: Account > API Keys, the API Key button, Name, permissions, copy once", () => {
    const { create } = everflow.manualSteps?.(reporting) ?? { create: [] };
    const text = create.join("\n");

    expect(create.length).toBeGreaterThanOrEqual(6);
    expect(text).toContain("Account > API Keys");
    expect(text).toContain("API Key button in the top left corner");
    expect(text).toContain("Name");
    expect(text).toContain("All permissions");
    expect(text).toContain("Reporting");
    expect(text).toContain("only time Everflow shows it");
    expect(text).toContain("Done");
    expect(text).toContain("keyturn put");
    expect(text).toContain("https://api.eflow.team/v1");
  });

  test("revoke names the key to retire and uses the row menu's Revoke, which is permanent", () => {
    const { revoke } = everflow.manualSteps?.(reporting) ?? { revoke: [] };
    const text = revoke.join("\n");

    expect(text).toContain(`"${KEY_NAME}"`);
    expect(text).toContain("menu on the right side of its row");
    expect(text).toContain("Revoke API Key");
    expect(text).toContain("permanent");
    expect(text).toContain("never be re-enabled");
  });

  test("once a successor is stored, revoke names the key it replaced", () => {
    const successor = everflow.parse(
      { ...reporting, keyId: "keyturn reporting 2026-03", previous: { keyId: KEY_NAME } },
      CREDENTIAL,
    );

    const steps = everflow.manualSteps?.(successor);

    expect(steps?.revoke.join("\n")).toContain(`"${KEY_NAME}"`);
    expect(steps?.revoke.join("\n")).not.toContain("keyturn reporting 2026-03");
  });

  test("steps for an EU-hosted account name its base URL and never the key", () => {
    const eu = everflow.parse({ ...reporting, baseUrl: EU_BASE_URL }, CREDENTIAL);

    const steps = everflow.manualSteps?.(eu);

    expect(steps?.create.join("\n")).toContain(EU_BASE_URL);
    expect(JSON.stringify(steps)).not.toContain(created.key);
  });
});

describe("errors", () => {
  test("no error message, stack or JSON form carries a key value", async () => {
    const revoked = credentialOf({ name: "revoked" });
    sim.revokeKey(revoked.id);
    const network = credentialOf({ portal: "network", name: "network key" }).credential;
    const eu = credentialOf({ host: "api-eu.eflow.team", name: "eu" }).credential;
    const errors = [
      await rejection(everflow.verify(revoked.credential, ctx)),
      await rejection(everflow.verify(network, ctx)),
      await rejection(everflow.verify(eu, ctx)),
      parseFailure({ ...reporting, apiKey: `${created.key} ` }),
      parseFailure({ ...reporting, keyId: created.key }),
      parseFailure({ ...reporting, baseUrl: "http://api.eflow.team/v1" }),
    ];
    sim.faults.add({
      path: CHECK_PATH,
      times: Number.POSITIVE_INFINITY,
      fault: { kind: "status", status: 500 },
    });
    errors.push(await rejection(everflow.verify(reporting, ctx)));

    // With nothing to look for, the leak scans below would pass whatever the errors say.
    expect(sim.issuedValues.length).toBeGreaterThan(0);
    expect(errors).toHaveLength(7);
    for (const error of errors) {
      expect(findLeaks([String(error), error.stack ?? "", JSON.stringify(error)], sim.issuedValues)).toEqual(
        [],
      );
    }
    expect(findLeaks(errors.map(describeError), sim.issuedValues)).toEqual([]);
  });
});
