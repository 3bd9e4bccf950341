// The benchmark's parts on small inputs, so that `npm test` notices when one of them breaks
// long before someone runs the 10,000-credential `npm run bench`.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, inject, test } from "vitest";
import type { AwsCall } from "../../bench/aws.ts";
import { floorSource, quantile, sdkImportsOf } from "../../bench/bundles.ts";
import { COST_ITEMS, type CostInputs, type CostItem, type CostModel, costModel } from "../../bench/cost.ts";
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
  const work = { invocations: 4, coldStarts: 1, wallMs: 400, cpuMs: 100 };
  // One cycle of each mode, each using a different part of the price table.
  const automatic: CycleUsage = {
    mode: "automatic",
    label: "a rotation a cycle",
    days: 30,
    credentials: 1,
    repeat: 1,
    calls: [
      call("SecretsManager", "GetSecretValue"),
      call("SecretsManager", "PutSecretValue"),
      call("EventBridge", "PutEvents", 1),
    ],
    vendorCalls: 2,
    lambda: { rotate: work },
  };
  const manual: CycleUsage = {
    mode: "manual",
    label: "a reminder a cycle",
    days: 30,
    credentials: 1,
    repeat: 1,
    calls: [call("EventBridge", "PutEvents", 1)],
    vendorCalls: 0,
    lambda: {},
  };
  const refresh: CycleUsage = {
    mode: "refresh",
    label: "an hour of refresh runs",
    days: 1 / 24,
    credentials: 1,
    repeat: 30,
    calls: [
      call("SSM", "GetParameter"),
      call("SSM", "PutParameter"),
      call("DynamoDB", "PutItem"),
      call("DynamoDB", "DeleteItem"),
    ],
    vendorCalls: 1,
    lambda: { refresh: { ...work, coldStarts: 0 } },
  };
  const inputs = (cycles: CycleUsage[], fleet = 100): CostInputs => ({
    fleet,
    sweep: { ms: 200, cpuMs: 50, listCalls: 1 },
    refreshRun: { ms: 20, cpuMs: 5, listCalls: 1 },
    coldImportMs: { rotate: 100, monitor: 100, refresh: 100, revoke: 100, relay: 100 },
    cycles,
  });
  const cycles = [automatic, manual, refresh];
  const sumOfTotals = (model: CostModel) => model.modes.reduce((sum, mode) => sum + mode.total, 0);
  /** An item summed over the modes. */
  const itemTotal = (model: CostModel, item: CostItem) =>
    model.modes.reduce((sum, mode) => sum + mode.items[item], 0);

  test("prices every item of every mode at a finite amount of at least zero, and every mode above zero", () => {
    const model = costModel(inputs(cycles));

    const items = model.modes.flatMap((mode) => COST_ITEMS.map((item) => mode.items[item]));

    expect(items).toHaveLength(cycles.length * COST_ITEMS.length);
    expect(items.filter((amount) => !Number.isFinite(amount) || amount < 0)).toEqual([]);
    expect(model.modes.map((mode) => mode.total > 0 && Number.isFinite(mode.total))).toEqual([
      true,
      true,
      true,
    ]);
  });

  test("totals each mode's items", () => {
    const model = costModel(inputs(cycles));

    for (const mode of model.modes) {
      const sum = COST_ITEMS.reduce((total, item) => total + mode.items[item], 0);
      expect(mode.total).toBeCloseTo(sum, 12);
    }
  });

  test("gives as the most a credential costs the total of the costliest mode, whichever it is", () => {
    // The same modes in another order: the answer must not depend on which comes first or last.
    const models = [costModel(inputs(cycles)), costModel(inputs([refresh, manual, automatic]))];

    for (const model of models) {
      const totals = model.modes.map((mode) => mode.total);
      expect(totals.every((total) => total <= model.maxPerCredentialMonthUsd)).toBe(true);
      expect(totals).toContain(model.maxPerCredentialMonthUsd);
    }
    expect(models[0]?.maxPerCredentialMonthUsd).toBe(models[1]?.maxPerCredentialMonthUsd);
  });

  test.each([
    ["secretsManager", "perSecretMonth", "Secrets Manager storage"],
    ["secretsManager", "perApiCall", "Secrets Manager API calls"],
    ["kms", "perRequest", "KMS requests"],
    ["kms", "perKeyMonth", "KMS keys (secrets, alerts), share"],
    ["eventBridge", "perCustomEvent", "EventBridge events"],
    ["eventBridge", "perSchedulerInvocation", "EventBridge Scheduler, share"],
    ["lambda", "perRequest", "Lambda requests"],
    ["lambda", "armPerGbSecond", "Lambda duration (arm64)"],
    ["dynamoDb", "perWriteRequestUnit", "DynamoDB leases"],
    ["ssm", "perStandardApiInteraction", "SSM Parameter Store"],
  ] as const)(
    "raising the price %s.%s raises %s and what the modes cost, and no other item",
    (service, price, raised) => {
      const before = costModel(inputs(cycles));
      // The price table is the one the model reads: raise one price for this test only.
      const table = PRICES[service] as unknown as Record<string, number>;
      const original = table[price] as number;
      table[price] = original * 2 + 0.001;
      let after: CostModel;
      try {
        after = costModel(inputs(cycles));
      } finally {
        table[price] = original;
      }

      expect(itemTotal(after, raised)).toBeGreaterThan(itemTotal(before, raised));
      expect(sumOfTotals(after)).toBeGreaterThan(sumOfTotals(before));
      const others = COST_ITEMS.filter((item) => item !== raised);
      expect(others.map((item) => itemTotal(after, item))).toEqual(
        others.map((item) => itemTotal(before, item)),
      );
    },
  );

  test("a credential's share of the fleet's work shrinks as the fleet grows", () => {
    const small = costModel(inputs(cycles, 100));
    const large = costModel(inputs(cycles, 10_000));

    expect(COST_ITEMS.every((item) => large.fleetShare[item] <= small.fleetShare[item])).toBe(true);
    expect(large.maxPerCredentialMonthUsd).toBeLessThan(small.maxPerCredentialMonthUsd);
  });

  test("a Parameter Store read asks KMS only when it decrypts: the refresh's version checks cost no KMS request", () => {
    const reads = (withDecryption: boolean): CycleUsage => ({
      ...refresh,
      calls: [{ ...call("SSM", "GetParameter"), withDecryption }, ...refresh.calls.slice(1)],
    });

    const [decrypting, checking] = costModel(inputs([reads(true), reads(false)])).modes;

    expect(checking?.monthly.kmsRequests).toBeLessThan(decrypting?.monthly.kmsRequests ?? 0);
    expect(checking?.items["KMS requests"]).toBeLessThan(decrypting?.items["KMS requests"] ?? 0);
    expect(decrypting?.monthly.kmsRequests).toBe(costModel(inputs([refresh])).modes[0]?.monthly.kmsRequests);
  });

  test("a cycle that makes more calls costs more", () => {
    const busier = { ...automatic, calls: [...automatic.calls, ...automatic.calls] };

    const [usual, more] = costModel(inputs([automatic, busier])).modes;

    expect(more?.total).toBeGreaterThan(usual?.total ?? Number.POSITIVE_INFINITY);
  });
});

test("the fleet sweep lists pages, reads no value, and the naive sweep reads every one", async () => {
  const lines: string[] = [];

  const sweep = await measureSweep(inject("awsEndpoint"), 120, (line) => lines.push(line));

  expect(sweep.listCalls).toBe(2);
  expect(sweep.getCalls).toBe(0);
  // Besides the listing, only keyturn's records: the claim of the departures scan (a conditional
  // write every sweep) and, once per reconcile interval, the scan itself.
  const { "SecretsManager.ListSecrets": listings, ...records } = sweep.byOperation;
  expect(listings).toBe(2);
  expect(
    Object.keys(records).filter((operation) => !/^DynamoDB\.(UpdateItem|Scan)$/.test(operation)),
  ).toEqual([]);
  expect(Object.values(records).every((count) => count === 1)).toBe(true);
  expect(sweep.naive.byOperation["SecretsManager.GetSecretValue"]).toBe(120);
  // The refresh lists only refresh credentials (a tag-value filter): none here, so one page.
  expect(sweep.refreshListing.byOperation).toEqual({ "SecretsManager.ListSecrets": 1 });
  expect(lines).toContain("fleet: created 120 of 120 secrets");
});
