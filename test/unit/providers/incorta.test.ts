// The Incorta providers against the simulator over real HTTP: incorta-v1 (an API key that
// mints and refreshes token pairs, renewed by a person in the UI) and incorta-v2 (personal
// access tokens, rotated by a person), with errors that name the credential and never carry
// a key, token or PAT value.
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { CredentialRejectedError, InvalidSecretError, VendorError } from "#engine/errors.ts";
import { ResponseError } from "#http/errors.ts";
import { type IncortaV1Credential, incortaKeyId, incortaV1 } from "#providers/incorta-v1/index.ts";
import {
  IncortaCheckRefusedError,
  IncortaTenantNotFoundError,
  IncortaTokenRejectedError,
  type IncortaV2Credential,
  incortaV2,
} from "#providers/incorta-v2/index.ts";
import type { ProviderContext, TokenPair } from "#providers/types.ts";
import { ManualClock } from "#sandbox/simulators/clock.ts";
import { type IncortaSimulator, startIncortaSimulator } from "#sandbox/simulators/incorta.ts";
import { describeError, findLeaks } from "../../support/leak-guard.ts";
import { rejection, simulatorContext, thrownBy } from "../../support/provider-context.ts";

const CREDENTIAL = "incorta/etl";
const CLUSTER = "acme.cloud.incorta.com";
const CLUSTER_URL = `https://${CLUSTER}/incorta`;
const TENANT = "demo";
const LOGIN = "etl.bot";
const MINUTE = 60_000;
const ON_PREM = "incorta.corp.example:8080";
const TOKENS_PATH = "/incorta/api/v1/tokens";
const REFRESH_PATH = "/incorta/api/v1/tokens/refresh";

let clock: ManualClock;
let sim: IncortaSimulator;
let ctx: ProviderContext;
let apiKey: string;
let etl: IncortaV1Credential;

function v1Of(key: string, extra: Record<string, unknown> = {}): IncortaV1Credential {
  return incortaV1.parse(
    {
      provider: "incorta-v1",
      clusterUrl: CLUSTER_URL,
      tenantName: TENANT,
      loginName: LOGIN,
      apiKey: key,
      ...extra,
    },
    CREDENTIAL,
  );
}

function v2Of(
  pat: { token: string },
  expiresAt: Date,
  extra: Record<string, unknown> = {},
): IncortaV2Credential {
  return incortaV2.parse(
    {
      provider: "incorta-v2",
      clusterUrl: CLUSTER_URL,
      tenantName: TENANT,
      token: pat.token,
      keyId: "keyturn-reporting",
      expiresAt: expiresAt.toISOString(),
      ...extra,
    },
    CREDENTIAL,
  );
}

beforeEach(async () => {
  clock = new ManualClock(new Date("2026-03-01T09:00:00Z"));
  sim = await startIncortaSimulator({ clock });
  ctx = simulatorContext({ vendor: "Incorta", credential: CREDENTIAL, url: sim.url, clock });
  apiKey = sim.issueApiKey(CLUSTER, TENANT, LOGIN);
  etl = v1Of(apiKey);
});

afterEach(async () => {
  await sim.close();
});

function statusOfCause(error: Error): number | undefined {
  return error.cause instanceof ResponseError ? error.cause.status : undefined;
}

describe("incorta-v1 parse", () => {
  test("accepts a complete value, computes the keyId from the key and reports no expiry", () => {
    const parsed = v1Of(apiKey, { expiresAt: null, issuedAt: "2026-02-01T00:00:00Z" });

    expect(parsed).toMatchObject({ clusterUrl: CLUSTER_URL, tenantName: TENANT, loginName: LOGIN });
    expect(parsed.keyId).toMatch(/^[0-9a-f]{8}$/);
    expect(parsed.keyId).toBe(incortaKeyId(apiKey));
    expect(incortaV1.expiresAt(parsed)).toBeUndefined();
    expect(incortaV1.secretsOf(parsed)).toEqual([apiKey]);
  });

  test("names every bad field without echoing the key", () => {
    const error = thrownBy(() =>
      incortaV1.parse({ provider: "incorta-v1", clusterUrl: CLUSTER_URL, apiKey: "short-key" }, CREDENTIAL),
    );

    expect(error).toBeInstanceOf(InvalidSecretError);
    expect(error.message).toContain(CREDENTIAL);
    expect(error.message).toContain('"tenantName" is missing');
    expect(error.message).toContain('"loginName" is missing');
    expect(error.message).toContain('"apiKey"');
    expect(describeError(error)).not.toContain("short-key");
  });

  test("refuses a cluster URL that is not the /incorta path", () => {
    const error = thrownBy(() => v1Of(apiKey, { clusterUrl: `${CLUSTER_URL}/api` }));

    expect(error).toBeInstanceOf(InvalidSecretError);
    expect(error.message).toContain('"clusterUrl" must be an https:// URL ending in /incorta');
  });

  test("refuses a plain-http cluster URL unless allowPlainHttp is true, naming both fields", () => {
    const plain = thrownBy(() => v1Of(apiKey, { clusterUrl: `http://${ON_PREM}/incorta` }));
    const notTrue = thrownBy(() =>
      v1Of(apiKey, { clusterUrl: `http://${ON_PREM}/incorta`, allowPlainHttp: false }),
    );

    for (const error of [plain, notTrue]) {
      expect(error).toBeInstanceOf(InvalidSecretError);
      expect(error.message).toContain(`"${CREDENTIAL}"`);
      expect(error.message).toContain('"clusterUrl"');
      expect(error.message).toContain("allowPlainHttp");
    }
  });

  test("accepts a plain-http cluster URL when the credential's settings say allowPlainHttp: true", () => {
    const parsed = v1Of(apiKey, { clusterUrl: `http://${ON_PREM}/incorta`, allowPlainHttp: true });

    expect(parsed).toMatchObject({ clusterUrl: `http://${ON_PREM}/incorta`, allowPlainHttp: true });
  });

  test("refuses a keyId that is not the key's fingerprint, as after a renewal stored with the old keyId", () => {
    const error = thrownBy(() => v1Of(apiKey, { keyId: "00000000" }));

    expect(error).toBeInstanceOf(InvalidSecretError);
    expect(error.message).toContain("00000000");
    expect(error.message).toContain(incortaKeyId(apiKey));
    expect(describeError(error)).not.toContain(apiKey);
  });

  test("refuses an expiry date: v1 keys never expire", () => {
    const error = thrownBy(() => v1Of(apiKey, { expiresAt: "2027-01-01T00:00:00Z" }));

    expect(error).toBeInstanceOf(InvalidSecretError);
    expect(error.message).toContain("never expire");
  });
});

describe("incorta-v1 verify", () => {
  test("a working key verifies with one mint request", async () => {
    await incortaV1.verify(etl, ctx);

    expect(sim.requests.map(({ method, path, status }) => ({ method, path, status }))).toEqual([
      { method: "POST", path: TOKENS_PATH, status: 201 },
    ]);
  });

  test("a key renewed in the UI is a CredentialRejectedError saying so", async () => {
    sim.renewApiKey(CLUSTER, TENANT, LOGIN);

    const error = await rejection(incortaV1.verify(etl, ctx));

    expect(error).toBeInstanceOf(CredentialRejectedError);
    expect(error.message).toContain(`"${CREDENTIAL}"`);
    expect(error.message).toContain(etl.keyId);
    expect(error.message).toContain("renewed");
    expect(statusOfCause(error)).toBe(401);
  });

  test("a request timestamped 20 minutes off Incorta's clock verifies: the window is 30 minutes", async () => {
    const skewed = simulatorContext({
      vendor: "Incorta",
      credential: CREDENTIAL,
      url: sim.url,
      clock: { now: () => clock.now() - 20 * MINUTE },
    });

    await incortaV1.verify(etl, skewed);

    expect(sim.requests.map((request) => request.status)).toEqual([201]);
  });

  test("an on-premises cluster's key verifies over plain http when allowPlainHttp is true", async () => {
    sim.installOnPremises(ON_PREM);
    const key = sim.issueApiKey(ON_PREM, TENANT, LOGIN);

    await incortaV1.verify(v1Of(key, { clusterUrl: `http://${ON_PREM}/incorta`, allowPlainHttp: true }), ctx);

    expect(sim.requests).toMatchObject([{ cluster: ON_PREM, path: TOKENS_PATH, status: 201 }]);
  });

  test("a wrong loginName is a CredentialRejectedError naming the login", async () => {
    const error = await rejection(incortaV1.verify({ ...etl, loginName: "ETL Bot" }, ctx));

    expect(error).toBeInstanceOf(CredentialRejectedError);
    expect(error.message).toContain("login ETL Bot");
    expect(error.message).toContain("not the display name");
  });
});

describe("incorta-v1 tokens", () => {
  test("mint hashes the key with ctx.now and answers the vendor's pair", async () => {
    const pair = await incortaV1.tokens.mint(etl, ctx);

    expect(pair.type).toBe("Bearer");
    expect(pair.accessTokenExpiresAt).toBe(clock.now() + 10 * MINUTE);
    expect(pair.refreshTokenExpiresAt).toBe(clock.now() + 30 * MINUTE);
    expect(sim.isAccessTokenValid(pair.accessToken)).toBe(true);
    expect(incortaV1.tokens.secretsOf(pair)).toEqual([pair.accessToken, pair.refreshToken]);
  });

  test("expiries come from the answer, not from assumed lifetimes", async () => {
    sim.setLifetimes({ accessMs: 3 * MINUTE, refreshMs: 7 * MINUTE });

    const pair = await incortaV1.tokens.mint(etl, ctx);

    expect(pair.accessTokenExpiresAt - clock.now()).toBe(3 * MINUTE);
    expect(pair.refreshTokenExpiresAt - clock.now()).toBe(7 * MINUTE);
  });

  test("refresh answers a new valid pair and the previous one stops working", async () => {
    const first = await incortaV1.tokens.mint(etl, ctx);
    clock.advance(9 * MINUTE);

    const second = await incortaV1.tokens.refresh(etl, first, ctx);

    expect(second.accessToken).not.toBe(first.accessToken);
    expect(second.accessTokenExpiresAt).toBe(clock.now() + 10 * MINUTE);
    expect(sim.isAccessTokenValid(second.accessToken)).toBe(true);
    expect(sim.isAccessTokenValid(first.accessToken)).toBe(false);
  });

  test("a refresh after the refresh token expired is a rejection with a 401 cause, and minting recovers", async () => {
    const first = await incortaV1.tokens.mint(etl, ctx);
    clock.set(first.refreshTokenExpiresAt + 1);

    const error = await rejection(incortaV1.tokens.refresh(etl, first, ctx));
    const fresh = await incortaV1.tokens.mint(etl, ctx);

    expect(error).toBeInstanceOf(CredentialRejectedError);
    expect(statusOfCause(error)).toBe(401);
    expect(error.message).toContain(`"${CREDENTIAL}"`);
    expect(error.message).toContain("Mint a new pair");
    expect(sim.isAccessTokenValid(fresh.accessToken)).toBe(true);
  });

  test("refreshing a pair that was already refreshed is a rejection with a 401 cause", async () => {
    const first = await incortaV1.tokens.mint(etl, ctx);
    await incortaV1.tokens.refresh(etl, first, ctx);

    const error = await rejection(incortaV1.tokens.refresh(etl, first, ctx));

    expect(error).toBeInstanceOf(CredentialRejectedError);
    expect(statusOfCause(error)).toBe(401);
    expect(error.message).toContain("already refreshed");
  });

  test("a 503 to a mint is not retried: the POST may have minted a pair", async () => {
    sim.faults.add({ path: TOKENS_PATH, fault: { kind: "status", status: 503 } });

    const error = await rejection(incortaV1.tokens.mint(etl, ctx));

    expect(error).toBeInstanceOf(VendorError);
    expect(statusOfCause(error)).toBe(503);
    expect(sim.requests).toHaveLength(1);
  });

  test("a 429 to a refresh is retried, since the vendor turned it away before acting", async () => {
    const first = await incortaV1.tokens.mint(etl, ctx);
    sim.faults.add({ path: REFRESH_PATH, fault: { kind: "status", status: 429, retryAfter: "0" } });

    const second = await incortaV1.tokens.refresh(etl, first, ctx);

    expect(sim.isAccessTokenValid(second.accessToken)).toBe(true);
    expect(sim.requests.filter((request) => request.path === REFRESH_PATH).map((r) => r.status)).toEqual([
      429, 201,
    ]);
  });

  test("a 500 message from Incorta is quoted in a VendorError", async () => {
    const first = await incortaV1.tokens.mint(etl, ctx);
    sim.faults.add({
      path: REFRESH_PATH,
      fault: { kind: "status", status: 500, body: JSON.stringify({ message: "Token store unavailable" }) },
    });

    const error = await rejection(incortaV1.tokens.refresh(etl, first, ctx));

    expect(error).toBeInstanceOf(VendorError);
    expect(error.message).toContain("Token store unavailable");
    expect(error.message).toContain(`"${CREDENTIAL}"`);
  });

  test("an answer without a refresh token is a VendorError naming the field", async () => {
    sim.faults.add({
      path: TOKENS_PATH,
      fault: {
        kind: "status",
        status: 201,
        body: JSON.stringify({
          accessToken: "a".repeat(43),
          type: "Bearer",
          accessTokenExpiresAt: clock.now() + 10 * MINUTE,
          refreshTokenExpiresAt: clock.now() + 30 * MINUTE,
        }),
      },
    });

    const error = await rejection(incortaV1.tokens.mint(etl, ctx));

    expect(error).toBeInstanceOf(VendorError);
    expect(error.message).toContain("refreshToken");
    expect(describeError(error)).not.toContain("a".repeat(43));
  });

  test("expiries in seconds instead of milliseconds are a VendorError", async () => {
    const seconds = Math.floor(clock.now() / 1000);
    sim.faults.add({
      path: TOKENS_PATH,
      fault: {
        kind: "status",
        status: 201,
        body: JSON.stringify({
          accessToken: "a".repeat(43),
          refreshToken: "r".repeat(43),
          type: "Bearer",
          accessTokenExpiresAt: seconds + 600,
          refreshTokenExpiresAt: seconds + 1800,
        }),
      },
    });

    const error = await rejection(incortaV1.tokens.mint(etl, ctx));

    expect(error).toBeInstanceOf(VendorError);
    expect(error.message).toContain("epoch milliseconds");
  });
});

describe("incorta-v1 manual steps", () => {
  test("name the Security tab, Renew Key, the immediate invalidation and the 2023.4.0 limit", () => {
    const steps = incortaV1.manualSteps(etl);
    const text = [...steps.create, ...steps.revoke].join("\n");

    expect(incortaV1.mode).toBe("refresh");
    expect(text).toContain("Security tab");
    expect(text).toContain("Renew Key");
    expect(text).toContain("at once");
    expect(text).toContain("2023.4.0");
    expect(text).toContain("6.0");
    expect(text).toContain(CLUSTER_URL);
    expect(text).toContain(LOGIN);
    expect(text).not.toContain(apiKey);
  });
});

describe("incorta-v2", () => {
  const inThirtyDays = () => new Date(clock.now() + 30 * 24 * 60 * MINUTE);

  function createPat(expiresAt: Date) {
    return sim.createPat(CLUSTER, TENANT, LOGIN, { name: "keyturn-reporting", expiresAt });
  }

  test("parse requires the operator's expiry and names missing fields without echoing the token", () => {
    const token = "p".repeat(40);

    const error = thrownBy(() =>
      incortaV2.parse(
        { provider: "incorta-v2", clusterUrl: CLUSTER_URL, tenantName: TENANT, token },
        CREDENTIAL,
      ),
    );

    expect(error).toBeInstanceOf(InvalidSecretError);
    expect(error.message).toContain('"keyId" is missing');
    expect(error.message).toContain('"expiresAt" is missing');
    expect(describeError(error)).not.toContain(token);
  });

  test("expiresAt and secretsOf come from the value", () => {
    const expiresAt = inThirtyDays();
    const pat = createPat(expiresAt);

    const value = v2Of(pat, expiresAt);

    expect(incortaV2.mode).toBe("manual");
    expect(incortaV2.expiresAt(value)).toEqual(expiresAt);
    expect(incortaV2.secretsOf(value)).toEqual([pat.token]);
  });

  test("a live PAT verifies with one schema list call for its tenant", async () => {
    const expiresAt = inThirtyDays();

    await incortaV2.verify(v2Of(createPat(expiresAt), expiresAt), ctx);

    expect(sim.requests.map(({ method, path, status }) => ({ method, path, status }))).toEqual([
      { method: "POST", path: `/incorta/api/v2/${TENANT}/schema/list`, status: 200 },
    ]);
  });

  test("an expired PAT is a CredentialRejectedError saying when it expired", async () => {
    const expiresAt = new Date(clock.now() + 60 * MINUTE);
    const value = v2Of(createPat(expiresAt), expiresAt);
    clock.set(expiresAt);

    const error = await rejection(incortaV2.verify(value, ctx));

    expect(error).toBeInstanceOf(CredentialRejectedError);
    expect(error.message).toContain(`"${CREDENTIAL}"`);
    expect(error.message).toContain('"keyturn-reporting"');
    expect(error.message).toContain(`expired at ${expiresAt.toISOString()}`);
  });

  test("a revoked PAT is a CredentialRejectedError naming revocation", async () => {
    const expiresAt = inThirtyDays();
    const pat = createPat(expiresAt);
    sim.revokePat(pat.id);

    const error = await rejection(incortaV2.verify(v2Of(pat, expiresAt), ctx));

    expect(error).toBeInstanceOf(CredentialRejectedError);
    expect(error.message).toContain("revoked");
    expect(statusOfCause(error)).toBe(401);
  });

  test("a PAT used with another existing tenant is a CredentialRejectedError naming the tenant", async () => {
    const expiresAt = inThirtyDays();
    sim.createPat(CLUSTER, "finance", "someone", { name: "theirs", expiresAt });

    const error = await rejection(
      incortaV2.verify(v2Of(createPat(expiresAt), expiresAt, { tenantName: "finance" }), ctx),
    );

    expect(error).toBeInstanceOf(CredentialRejectedError);
    expect(error.message).toContain("tenant finance");
    expect(error.message).toContain("tenantName");
  });

  test("an unknown tenant is an IncortaTenantNotFoundError naming the credential and what to fix", async () => {
    const expiresAt = inThirtyDays();

    const error = await rejection(
      incortaV2.verify(v2Of(createPat(expiresAt), expiresAt, { tenantName: "Demo" }), ctx),
    );

    expect(error).toBeInstanceOf(IncortaTenantNotFoundError);
    expect(error).toBeInstanceOf(CredentialRejectedError);
    expect(error).toMatchObject({ name: "IncortaTenantNotFoundError", tenantName: "Demo", retryable: false });
    expect(error.message).toContain(`"${CREDENTIAL}"`);
    expect(error.message).toContain("tenant Demo");
    expect(error.message).toContain("case-sensitive");
    expect(error.message).toContain("settings.tenantName");
    expect(statusOfCause(error)).toBe(404);
  });

  test("a bad PAT is an IncortaTokenRejectedError carrying Incorta's INC_ code", async () => {
    const expiresAt = inThirtyDays();
    const pat = createPat(expiresAt);
    sim.revokePat(pat.id);

    const error = await rejection(incortaV2.verify(v2Of(pat, expiresAt), ctx));

    expect(error).toBeInstanceOf(IncortaTokenRejectedError);
    expect(error).toMatchObject({ name: "IncortaTokenRejectedError", incortaCode: "INC_09030101" });
    expect(error.message).toContain(`"${CREDENTIAL}"`);
    expect(error.message).toContain("INC_09030101");
    expect(error.message).toContain("keyturn put");
  });

  test("a good PAT of a user without schema permission verifies through the check any tenant user may call", async () => {
    const expiresAt = inThirtyDays();
    const value = v2Of(createPat(expiresAt), expiresAt);
    sim.setSchemaAccess(CLUSTER, TENANT, LOGIN, false);

    await incortaV2.verify(value, ctx);

    expect(sim.requests.map(({ method, path, status }) => ({ method, path, status }))).toEqual([
      { method: "POST", path: `/incorta/api/v2/${TENANT}/schema/list`, status: 403 },
      { method: "GET", path: `/incorta/api/v2/${TENANT}/configs/sqlConnection`, status: 200 },
    ]);
  });

  test("a 500 from sqlConnection carrying INC_09030101 is the PAT's rejection, not a vendor failure", async () => {
    const expiresAt = inThirtyDays();
    const value = v2Of(createPat(expiresAt), expiresAt);
    sim.setSchemaAccess(CLUSTER, TENANT, LOGIN, false);
    sim.faults.add({
      path: /sqlConnection$/,
      fault: {
        kind: "status",
        status: 500,
        body: JSON.stringify({ message: "INC_09030101: Invalid access token or access token is expired." }),
      },
    });

    const error = await rejection(incortaV2.verify(value, ctx));

    expect(error).toBeInstanceOf(IncortaTokenRejectedError);
    expect(error).toMatchObject({ incortaCode: "INC_09030101", retryable: false });
  });

  test("where no check is open to every user (on-premises), a schema refusal says it is not the PAT", async () => {
    sim.installOnPremises(ON_PREM);
    const expiresAt = inThirtyDays();
    const pat = sim.createPat(ON_PREM, TENANT, LOGIN, { name: "keyturn-reporting", expiresAt });
    sim.setSchemaAccess(ON_PREM, TENANT, LOGIN, false);
    const value = v2Of(pat, expiresAt, { clusterUrl: `http://${ON_PREM}/incorta`, allowPlainHttp: true });

    const error = await rejection(incortaV2.verify(value, ctx));

    expect(error).toBeInstanceOf(IncortaCheckRefusedError);
    expect(error.message).toContain(`"${CREDENTIAL}"`);
    expect(error.message).toContain("permission on physical or business schemas");
    expect(error.message).toContain("configs/sqlConnection");
    expect(error.message).not.toContain("revoked");
  });

  test("manual steps go through the Profile Manager, mention the limit of 10 and name the token to revoke", () => {
    const expiresAt = inThirtyDays();
    const value = v2Of(createPat(expiresAt), expiresAt, {
      previous: { keyId: "keyturn-reporting-2025" },
    });

    const steps = incortaV2.manualSteps(value);

    expect(steps.create.join("\n")).toContain("Profile Manager");
    expect(steps.create.join("\n")).toContain("expiration date");
    expect(steps.create.join("\n")).toContain("at most 10");
    expect(steps.revoke.join("\n")).toContain('"keyturn-reporting-2025"');
  });
});

describe("secrets in errors", () => {
  test("no error message, stack or JSON form carries a key, token or PAT value", async () => {
    const first: TokenPair = await incortaV1.tokens.mint(etl, ctx);
    const second = await incortaV1.tokens.refresh(etl, first, ctx);
    const expiresAt = new Date(clock.now() + 60 * MINUTE);
    const pat = sim.createPat(CLUSTER, TENANT, LOGIN, { name: "keyturn-reporting", expiresAt });
    const patValue = v2Of(pat, expiresAt);
    sim.renewApiKey(CLUSTER, TENANT, LOGIN);
    const errors = [
      await rejection(incortaV1.verify(etl, ctx)),
      await rejection(incortaV1.tokens.refresh(etl, first, ctx)),
      await rejection(incortaV2.verify({ ...patValue, tenantName: "finance" }, ctx)),
      thrownBy(() => v1Of(apiKey, { keyId: "00000000" })),
      thrownBy(() => v1Of(apiKey, { clusterUrl: "ftp://nowhere" })),
      thrownBy(() => v1Of(apiKey, { clusterUrl: `http://${ON_PREM}/incorta` })),
      await rejection(incortaV2.verify({ ...patValue, tenantName: "nowhere" }, ctx)),
      thrownBy(() => incortaV2.parse({ ...patValue, expiresAt: "soon" }, CREDENTIAL)),
    ];
    sim.faults.add({ path: REFRESH_PATH, phase: "after", fault: { kind: "status", status: 500 } });
    errors.push(await rejection(incortaV1.tokens.refresh(etl, second, ctx)));
    sim.setSchemaAccess(CLUSTER, TENANT, LOGIN, false);
    sim.faults.add({ path: /sqlConnection$/, fault: { kind: "status", status: 404 } });
    errors.push(await rejection(incortaV2.verify(patValue, ctx)));
    clock.set(expiresAt);
    errors.push(await rejection(incortaV2.verify(patValue, ctx)));

    // With nothing to look for, the leak scans below would pass whatever the errors say.
    expect(sim.issuedValues.length).toBeGreaterThan(0);
    expect(findLeaks(errors.map(describeError), sim.issuedValues)).toEqual([]);
  });
});
