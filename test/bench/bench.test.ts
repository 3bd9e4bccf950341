// The benchmark's parts on small inputs, so that `npm test` notices when one of them breaks
// long before someone runs the 10,000-credential `npm run bench`.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, inject, test } from "vitest";
import type { AwsCall } from "../../bench/aws.ts";
import { floorSource, quantile, sdkImportsOf } from "../../bench/bundles.ts";
import { COST_ITEMS, costModel, REFRESH_RUNS_PER_MONTH, SWEEPS_PER_MONTH } from "../../bench/cost.ts";
import { bundleLambda } from "../../bench/lambda-build.ts";
import { PRICES } from "../../bench/prices.ts";
import type { CycleUsage } from "../../bench/scenarios.ts";
import { measureSweep } from "../../bench/sweep.ts";

const scratch = mkdtempSync(join(tmpdir(), "keyturn-bench-test-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("the floor bundle", () => {
  test("holds the AWS SDK clients and commands the handler's code imports, and none of keyturn's code", async () => {
    const relay = await bundleLambda("functions/handlers/relay.ts", join(scratch, "relay"));
    const imports = sdkImportsOf(relay.metafile);

    const floor = await bundleLambda(
      { contents: floorSource(imports), name: "floor-relay.ts" },
      join(scratch, "floor"),
    );

    expect(Object.keys(imports)).toEqual(["@aws-sdk/client-eventbridge", "@aws-sdk/client-secrets-manager"]);
    expect(imports["@aws-sdk/client-secrets-manager"]).toContain("SecretsManagerClient");
    const inputs = Object.keys(floor.metafile.inputs);
    expect(inputs.filter((input) => input.startsWith("functions/"))).toEqual([]);
    expect(inputs.some((input) => input.includes("node_modules/@aws-sdk/client-eventbridge/"))).toBe(true);
    expect(floor.bytes).toBeLessThan(relay.bytes);
  });
});

test("quartiles interpolate between the nearest samples", () => {
  expect(quantile([4, 1, 3, 2], 0.5)).toBe(2.5);
  expect(quantile([1, 2, 3, 4, 5], 0.25)).toBe(2);
});

describe("the cost model", () => {
  const call = (service: string, operation: string, events = 0): AwsCall => ({
    service,
    operation,
    events,
    ms: 1,
  });
  const usage: CycleUsage = {
    mode: "automatic",
    label: "one read and one event a cycle",
    days: 30,
    credentials: 1,
    repeat: 1,
    calls: [call("SecretsManager", "GetSecretValue"), call("EventBridge", "PutEvents", 1)],
    vendorCalls: 0,
    lambda: {},
  };
  const model = costModel({
    fleet: 100,
    sweep: { ms: 0, cpuMs: 0, listCalls: 1 },
    refreshRun: { ms: 0, cpuMs: 0, listCalls: 1 },
    coldImportMs: { rotate: 0, monitor: 0, refresh: 0, revoke: 0, relay: 0 },
    cycles: [usage],
  });
  const mode = model.modes[0];
  const perMonth = 730 / 720;

  test("prices a credential's own calls per month and adds its share of the fleet's", () => {
    expect(mode?.items["Secrets Manager storage"]).toBe(PRICES.secretsManager.perSecretMonth);
    const ownCalls = perMonth * PRICES.secretsManager.perApiCall;
    const fleetCalls = ((SWEEPS_PER_MONTH + REFRESH_RUNS_PER_MONTH) * PRICES.secretsManager.perApiCall) / 100;
    expect(mode?.items["Secrets Manager API calls"]).toBeCloseTo(ownCalls + fleetCalls, 12);
    // A decrypt for the read, a request to the alert topics' key for the event.
    expect(mode?.items["KMS requests"]).toBeCloseTo(2 * perMonth * PRICES.kms.perRequest, 12);
    expect(mode?.items["KMS keys (secrets, alerts), share"]).toBeCloseTo(
      (2 * PRICES.kms.perKeyMonth) / 100,
      12,
    );
  });

  test("totals its items", () => {
    const sum = COST_ITEMS.reduce((total, item) => total + (mode?.items[item] ?? 0), 0);
    expect(mode?.total).toBeCloseTo(sum, 12);
    expect(model.maxPerCredentialMonthUsd).toBe(mode?.total);
  });
});

test("the fleet sweep lists pages, reads no value, and the naive sweep reads every one", async () => {
  const lines: string[] = [];

  const sweep = await measureSweep(inject("awsEndpoint"), 120, (line) => lines.push(line));

  expect(sweep.listCalls).toBe(2);
  expect(sweep.getCalls).toBe(0);
  expect(sweep.byOperation).toEqual({ "SecretsManager.ListSecrets": 2 });
  expect(sweep.naive.byOperation["SecretsManager.GetSecretValue"]).toBe(120);
  // The refresh lists only refresh credentials (a tag-value filter): none here, so one page.
  expect(sweep.refreshListing.byOperation).toEqual({ "SecretsManager.ListSecrets": 1 });
  expect(sweep.speedup).toBeGreaterThan(1);
  expect(lines).toContain("fleet: created 120 of 120 secrets");
}, 60_000);
