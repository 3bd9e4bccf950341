// Issue 18: every call keyturn makes at SoftwareOne, and every answer the simulator gives it,
// against SoftwareOne's published Marketplace API spec
// (../shared/vendor-specs/softwareone-marketplace.openapi.json). Its operations have no ids: a
// problem names them "<METHOD> <path>". The calls are recorded at the vendor hub during real
// flows: an administrator token minting a consumer's successor and its own, verification, the
// sweep's disable (soft revoke), last-use check, delete (hard revoke) and reconciliation listing,
// and an emergency revoke.

import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { Tag } from "#engine/settings.ts";
import type { Exchange } from "#sandbox/simulators/hub.ts";
import { type CapturedOutput, captureOutput, findLeaks } from "../support/leak-guard.ts";
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
});
