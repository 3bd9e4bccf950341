// Issue 18: every call keyturn makes at Immuta, and every answer the simulator gives it, against
// Immuta's published Request-app OpenAPI spec ("Immuta Data Marketplace" 1.0, downloadable from
// https://documentation.immuta.com/saas/developer-guides/api-intro/marketplace-api; public copy in
// github.com/api-evangelist/immuta, `openapi/immuta-marketplace-api-openapi.yml`; read here from
// ../shared/vendor-specs/immuta-marketplace.openapi.yml). The calls are recorded at the vendor hub
// during real flows: rotations (a token minting its successor, and an issuer minting for another
// credential), the sweep's revocation and reconciliation, and an emergency revoke.

import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { Tag } from "#engine/settings.ts";
import type { Exchange } from "#sandbox/simulators/hub.ts";
import { DAY, type ImmutaFixture, immutaFixture } from "../support/immuta-fixture.ts";
import { type CapturedOutput, captureOutput, findLeaks } from "../support/leak-guard.ts";
import { loadSpec, SPECS_MISSING, type VendorSpec } from "./specs.ts";

/** Every operation of the spec that keyturn's Immuta provider calls (functions/providers/immuta-request). */
const KEYTURN_CALLS = ["user", "createToken", "listTokens", "deleteToken"];

if (SPECS_MISSING) console.warn(SPECS_MISSING);

describe.skipIf(SPECS_MISSING !== undefined)("Immuta's contract", () => {
  const exchanges: Exchange[] = [];
  let spec: VendorSpec;
  let fx: ImmutaFixture;
  let output: CapturedOutput;

  beforeAll(async () => {
    output = captureOutput();
    spec = await loadSpec("immuta-marketplace.openapi.yml", { basePath: "/marketplace" });
    fx = await immutaFixture({
      reconcileIntervalMs: 0,
      orphanSafetyMarginMs: 0,
      hub: { record: (exchange) => exchanges.push(exchange) },
    });
    // Self-issued: the credential's own token mints its successor.
    const own = await fx.createCredential({ name: "immuta/contract-own" });
    expect((await fx.rotate(own.secretId)).succeeded).toBe(true);
    // Issuer-issued: another credential's token mints it.
    const issued = await fx.createCredential({
      name: "immuta/contract-issued",
      issuer: own.secretId,
    });
    expect((await fx.rotate(issued.secretId)).succeeded).toBe(true);
    // The grace period over: the sweep revokes both previous tokens and reconciles.
    fx.clock.advance(2 * DAY);
    const sweep = await fx.sweep();
    expect(sweep.revoked.map((r) => r.credential).sort()).toEqual([issued.secretId, own.secretId].sort());
    // An emergency revoke of the current token.
    const current = (await fx.tags(own.secretId))[Tag.keyId] ?? "";
    expect(
      await fx.revoke({ credential: own.secretId, keyId: current, reason: "contract test" }),
    ).toMatchObject({
      rotated: true,
      revocation: "revoked",
    });
  });

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

  test("the flows call every operation keyturn uses, and no other", () => {
    const seen = new Set(exchanges.map((exchange) => spec.operationOf(exchange) ?? "none"));
    expect([...seen].sort()).toEqual([...KEYTURN_CALLS].sort());
  });

  test("a call outside the spec is named, with its operation, not passed", () => {
    const minted = exchanges.find((exchange) => spec.operationOf(exchange) === "createToken");
    expect(minted).toBeDefined();
    const broken = {
      ...(minted as Exchange),
      requestBody: JSON.stringify({ expirationDate: "tomorrow" }),
      responseBody: JSON.stringify({ token: 42 }),
    };
    const problems = spec.problems(broken);
    expect(problems.some((p) => p.startsWith("createToken request"))).toBe(true);
    expect(problems.some((p) => p.startsWith("createToken answer"))).toBe(true);
  });
});
