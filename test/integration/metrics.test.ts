// Issue 15: the fleet an operator can see. The real handlers against moto and the vendor
// simulators write their CloudWatch metrics as Embedded Metric Format lines on stdout
// (functions/handlers/metrics.ts): captured here and parsed as CloudWatch Logs would parse
// them. Metrics are written in Lambda only, or where POWERTOOLS_METRICS_DISABLED=false says so.

import { afterEach, beforeEach, describe, expect, test, vi } from "vitest";
import { INCORTA_CREDENTIAL, type RefreshWorld, startRefreshWorld } from "../reliability/refresh-day.ts";
import { isolatedAws } from "../support/aws.ts";
import { type CapturedOutput, captureOutput, findLeaks } from "../support/leak-guard.ts";
import { DAY, type SoftwareOneFixture, softwareoneFixture } from "../support/softwareone-fixture.ts";

interface Datapoint {
  namespace: string;
  name: string;
  unit: string;
  value: number;
  /** Every dimension of the line, service included. */
  dimensions: Record<string, string>;
}

/** Every datapoint of the EMF lines in the text, one per metric and line. */
function emf(text: string): Datapoint[] {
  return text
    .split("\n")
    .filter((line) => line.includes('"_aws"'))
    .flatMap((line) => {
      const record = JSON.parse(line) as Record<string, unknown> & {
        _aws: {
          CloudWatchMetrics: {
            Namespace: string;
            Dimensions: string[][];
            Metrics: { Name: string; Unit: string }[];
          }[];
        };
      };
      return record._aws.CloudWatchMetrics.flatMap((directive) => {
        // A line names its dimension sets; keyturn writes one per line.
        expect(directive.Dimensions).toHaveLength(1);
        const dimensions = Object.fromEntries(
          (directive.Dimensions[0] ?? []).map((name) => [name, String(record[name])]),
        );
        return directive.Metrics.map((metric) => ({
          namespace: directive.Namespace,
          name: metric.Name,
          unit: metric.Unit,
          value: record[metric.Name] as number,
          dimensions,
        }));
      });
    });
}

const find = (points: Datapoint[], name: string, dimensions: Record<string, string> = {}) =>
  points.filter(
    (point) =>
      point.name === name &&
      JSON.stringify(Object.entries(point.dimensions).sort()) ===
        JSON.stringify(Object.entries({ service: "keyturn", ...dimensions }).sort()),
  );

describe("with metrics on", () => {
  let output: CapturedOutput;

  beforeEach(() => {
    vi.stubEnv("POWERTOOLS_METRICS_DISABLED", "false");
    output = captureOutput();
  });

  afterEach(() => {
    output.restore();
    vi.unstubAllEnvs();
  });

  describe("a SoftwareOne fleet", () => {
    let fx: SoftwareOneFixture;

    beforeEach(async () => {
      fx = await softwareoneFixture();
    });

    afterEach(async () => {
      await fx.close();
    });

    test("a sweep whose revocation fails writes a failure datapoint, by kind and in total, and counts the credential as failing", async () => {
      await fx.createAdmin();
      const { secretId } = await fx.createConsumer("softwareone/catalog-sync");
      await fx.rotate(secretId);
      fx.sim.faults.add({
        method: "POST",
        path: /\/disable$/,
        fault: { kind: "status", status: 500 },
        times: 1_000,
      });
      fx.clock.advance(DAY);
      const before = emf(output.text()).length;

      const report = await fx.sweep();
      const points = emf(output.text()).slice(before);

      expect(report.failures).toEqual([expect.objectContaining({ action: "revocation" })]);
      expect(new Set(points.map((point) => point.namespace))).toEqual(new Set(["keyturn"]));
      expect(find(points, "Failures", { action: "revocation" })).toEqual([
        expect.objectContaining({ unit: "Count", value: 1 }),
      ]);
      expect(find(points, "Failures")).toEqual([expect.objectContaining({ unit: "Count", value: 1 })]);
      expect(find(points, "Credentials", { state: "failing" })).toEqual([
        expect.objectContaining({ value: 1 }),
      ]);
      expect(find(points, "Credentials", { state: "ok" })).toEqual([expect.objectContaining({ value: 1 })]);
      expect(find(points, "SweepDuration")).toEqual([
        expect.objectContaining({ unit: "Milliseconds", value: expect.any(Number) }),
      ]);
      // No credential name or key id is a dimension (nor, with them, any secret).
      const dimensionValues = points.flatMap((point) => Object.values(point.dimensions));
      expect(dimensionValues.filter((value) => value.includes("/") || value.includes("TKN"))).toEqual([]);
      expect(findLeaks([output.text()], fx.sim.issuedValues)).toEqual([]);
    });

    test("a sweep with nothing failing counts every credential in a state, zeros included, and writes no failure by kind", async () => {
      await fx.createAdmin();
      await fx.createConsumer("softwareone/catalog-sync");

      await fx.sweep();
      const points = emf(output.text());

      const states = points
        .filter((point) => point.name === "Credentials")
        .map((point) => [point.dimensions.state, point.value]);
      expect(Object.fromEntries(states)).toEqual({
        ok: 2,
        expiring: 0,
        expired: 0,
        "replace-due": 0,
        rotating: 0,
        invalid: 0,
        failing: 0,
      });
      expect(find(points, "Failures")).toEqual([expect.objectContaining({ value: 0 })]);
      expect(points.filter((point) => point.name === "Failures" && point.dimensions.action)).toEqual([]);
    });

    test("each rotation step writes its duration and its outcome, by provider and step", async () => {
      await fx.createAdmin();
      const { secretId } = await fx.createConsumer("softwareone/catalog-sync");

      await fx.rotate(secretId);
      const points = emf(output.text());

      for (const step of ["createSecret", "setSecret", "testSecret", "finishSecret"]) {
        const dimensions = { provider: "softwareone", step };
        expect(find(points, "RotationStepDuration", dimensions), step).toEqual([
          expect.objectContaining({ unit: "Milliseconds", value: expect.any(Number) }),
        ]);
        expect(find(points, "RotationStepFailures", dimensions), step).toEqual([
          expect.objectContaining({ unit: "Count", value: 0 }),
        ]);
      }
      expect(findLeaks([output.text()], fx.sim.issuedValues)).toEqual([]);
    });
  });

  describe("the token refresh", () => {
    let refreshWorld: RefreshWorld;

    beforeEach(async () => {
      refreshWorld = await startRefreshWorld(isolatedAws());
    });

    afterEach(async () => {
      await refreshWorld.close();
    });

    test("writes each run's outcomes and the lifetime left on the access token consumers read", async () => {
      const { world, sim } = refreshWorld;

      const first = await world.refresh();
      const minted = emf(output.text());
      world.clock.advance(60_000);
      const second = await world.refresh();
      const fresh = emf(output.text()).slice(minted.length);

      expect(first.outcomes.map((o) => o.outcome)).toEqual(["minted"]);
      expect(second.outcomes.map((o) => o.outcome)).toEqual(["fresh"]);
      expect(find(minted, "TokenRefreshes", { outcome: "minted" })).toEqual([
        expect.objectContaining({ value: 1 }),
      ]);
      expect(find(fresh, "TokenRefreshes", { outcome: "fresh" })).toEqual([
        expect.objectContaining({ value: 1 }),
      ]);
      // The simulator's access tokens live 10 minutes; the fresh run read the stored one, a minute older.
      const lifetime = (points: Datapoint[]) =>
        find(points, "AccessTokenLifetime").map((point) => point.value);
      expect(lifetime(minted)).toEqual([600]);
      expect(lifetime(fresh)).toEqual([540]);
      expect(find(fresh, "AccessTokenLifetime")[0]?.unit).toBe("Seconds");
      expect(find(fresh, "Failures")).toEqual([expect.objectContaining({ value: 0 })]);
      expect(JSON.stringify(fresh.map((point) => point.dimensions))).not.toContain(INCORTA_CREDENTIAL);
      expect(findLeaks([output.text()], sim.issuedValues)).toEqual([]);
    });
  });
});

test("outside Lambda, unless asked, no metric is written: the demo's and the CLI's stdout stay theirs", async () => {
  vi.stubEnv("POWERTOOLS_METRICS_DISABLED", undefined);
  vi.stubEnv("AWS_LAMBDA_FUNCTION_NAME", undefined);
  const fx = await softwareoneFixture();
  const output = captureOutput();
  try {
    await fx.createAdmin();
    await fx.sweep();
  } finally {
    output.restore();
    await fx.close();
    vi.unstubAllEnvs();
  }

  expect(emf(output.text())).toEqual([]);
});
