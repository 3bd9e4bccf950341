// Issue 18: every call keyturn makes at SoftwareOne, and every answer the simulator gives it,
// against SoftwareOne's published Marketplace API spec (served at
// https://api.platform.softwareone.com/public/v1/accounts/openapi.json; read here from a copy in
// ../shared/vendor-specs/softwareone-marketplace.openapi.json). Its operations have no ids: a
// problem names them "<METHOD> <path>". The calls are recorded at the vendor hub during real
// flows: an administrator token minting a consumer's successor and its own, verification, the
// sweep's disable (soft revoke), last-use check, delete (hard revoke) and reconciliation listing,
// and an emergency revoke. Then, with the simulator set to what the spec also allows (a 400 to a
// repeated disable, a null `$meta.pagination.total`), the provider's own calls through the same
// hub: an older token without the `idt:` prefix checked and rotated (its GET answers the value),
// a repeated disable, a last-use check, a listing, and a mint refused with a 400 whose `errors`
// is error-object.md's array.

import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { Tag } from "#engine/settings.ts";
import { softwareone } from "#providers/softwareone/index.ts";
import type { IssuedKey } from "#providers/types.ts";
import type { Exchange } from "#sandbox/simulators/hub.ts";
import { type CapturedOutput, captureOutput, findLeaks } from "../support/leak-guard.ts";
import { rejection, simulatorContext } from "../support/provider-context.ts";
import { ADMIN, DAY, type SoftwareOneFixture, softwareoneFixture } from "../support/softwareone-fixture.ts";
import { loadSpec, SPECS_MISSING, type VendorSpec } from "./specs.ts";

/** Every operation of the spec that keyturn's SoftwareOne provider calls (functions/providers/softwareone). */
const KEYTURN_CALLS = [
  "GET /public/v1/accounts/api-tokens",
  "POST /public/v1/accounts/api-tokens",
  "GET /public/v1/accounts/api-tokens/{id}",
  "DELETE /public/v1/accounts/api-tokens/{id}",
  "POST /public/v1/accounts/api-tokens/{id}/disable",
];

if (SPECS_MISSING) console.warn(SPECS_MISSING);

describe.skipIf(SPECS_MISSING !== undefined)("SoftwareOne's contract", () => {
  const exchanges: Exchange[] = [];
  let spec: VendorSpec;
  let fx: SoftwareOneFixture;
  let output: CapturedOutput;

  beforeAll(async () => {
    output = captureOutput();
    spec = await loadSpec("softwareone-marketplace.openapi.json", { basePath: "", rql: true });
    fx = await softwareoneFixture({
      reconcileIntervalMs: 0,
      orphanSafetyMarginMs: 0,
      hub: { record: (exchange) => exchanges.push(exchange) },
    });
    await fx.createAdmin();
    const { secretId } = await fx.createConsumer("softwareone/contract");
    expect((await fx.rotate(secretId)).succeeded).toBe(true);
    expect((await fx.rotate(ADMIN)).succeeded).toBe(true);
    // The grace period over: disabled (after a last-use check); the hard-revoke delay over: deleted.
    for (let day = 0; day < 10; day++) {
      fx.clock.advance(DAY);
      await fx.sweep();
    }
    expect(exchanges.some((e) => e.method === "DELETE")).toBe(true);
    const current = (await fx.tags(secretId))[Tag.keyId] ?? "";
    expect(await fx.revoke({ credential: secretId, keyId: current, reason: "contract test" })).toMatchObject({
      rotated: true,
      revocation: "revoked",
    });
    await providerFlows();
  });

  /** Issue 18: the answers the spec allows besides the simulator's defaults, through the same hub. */
  async function providerFlows(): Promise<void> {
    fx.sim.configure({ repeatedStateChange: "400", paginationTotal: "null" });
    const credential = "softwareone/contract-direct";
    const ctx = simulatorContext({ vendor: "SoftwareOne", credential, url: fx.hub.url, clock: fx.clock });
    const credentialOf = (seeded: { id: string; token: string }, name: string) =>
      softwareone.parse(
        { provider: "softwareone", token: seeded.token, keyId: seeded.id, accountId: fx.accountId },
        name,
      );
    const admin = credentialOf(
      fx.sim.seedToken(fx.accountId, { name: "contract administrator", admin: true }),
      "softwareone/contract-admin",
    );
    const legacy = credentialOf(
      fx.sim.seedToken(fx.accountId, { name: "contract older token", legacy: true, modules: ["MOD-1001"] }),
      credential,
    );
    const marker = `keyturn:${credential}:v2`;

    await softwareone.verify(legacy, ctx);
    const successor = await softwareone.issue(admin, legacy, { marker, expiresAt: undefined }, ctx);
    await softwareone.verify(successor, ctx);
    expect(await softwareone.revoke(legacy.keyId, admin, "soft", ctx)).toBe("revoked");
    expect(await softwareone.revoke(legacy.keyId, admin, "soft", ctx)).toBe("revoked"); // 400, then a GET
    expect(await softwareone.lastUsed?.(legacy.keyId, admin, ctx)).toBeInstanceOf(Date);
    const listed: IssuedKey[] = [];
    for await (const key of softwareone.listIssued(admin, ctx)) listed.push(key);
    expect(listed.map((key) => key.keyId)).toContain(successor.keyId);
    const refused = await rejection(
      softwareone.issue(
        admin,
        { ...successor, modules: ["MOD-9999"] },
        { marker, expiresAt: undefined },
        ctx,
      ),
    );
    expect(refused.message).toContain("modules[0].id: Module MOD-9999 was not found");
    expect(await softwareone.revoke(legacy.keyId, admin, "hard", ctx)).toBe("revoked");
  }

  afterAll(async () => {
    output?.restore();
    await fx?.close();
  });

  test("every call keyturn made, and every answer it got, keeps the spec", () => {
    expect(exchanges.length).toBeGreaterThan(0);
    expect(exchanges.flatMap((exchange) => spec.problems(exchange))).toEqual([]);
  });

  test("nothing keyturn printed holds a token", () => {
    expect(fx.sim.issuedValues.length).toBeGreaterThan(0);
    expect(findLeaks([output.text()], fx.sim.issuedValues)).toEqual([]);
  });

  test("the spec check covered the answers issue 18 is about", () => {
    const answers = exchanges.map((e) => ({
      e,
      body: e.responseBody === "" ? undefined : JSON.parse(e.responseBody),
    }));
    const repeatedDisable = answers.find(({ e }) => e.path.endsWith("/disable") && e.status === 400);
    const nullTotal = answers.find(
      ({ body }) => body?.$meta?.pagination !== undefined && body.$meta.pagination.total === null,
    );
    const arrayErrors = answers.find(
      ({ e, body }) =>
        e.method === "POST" &&
        e.path.endsWith("/api-tokens") &&
        e.status === 400 &&
        Array.isArray(body?.errors),
    );
    const valueRead = answers.find(({ e, body }) => e.method === "GET" && typeof body?.token === "string");
    // The hub reads the query as a form would, so the literal "+" of `select=+lastAccessAt` is a space there.
    const lastUse = exchanges.find((e) => /^[+ ]lastAccessAt,-token$/.test(e.query.select ?? ""));

    expect(repeatedDisable?.body).toMatchObject({ status: 400, errors: [{ properties: ["status"] }] });
    expect(nullTotal).toBeDefined();
    expect(arrayErrors?.body.errors[0]).toMatchObject({ properties: ["modules[0].id"] });
    expect(valueRead).toBeDefined(); // the older token's check of itself
    expect(lastUse?.responseBody).toContain('"lastAccessAt"');
  });

  test("the flows call every operation keyturn uses, and no other", () => {
    const seen = new Set(exchanges.map((exchange) => spec.operationOf(exchange) ?? "none"));
    expect([...seen].sort()).toEqual([...KEYTURN_CALLS].sort());
  });
});
