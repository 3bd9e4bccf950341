// The handlers' metrics (functions/handlers/metrics.ts): where they are written, the EMF they are
// written as, and the states and providers they are counted by.

import { afterEach, describe, expect, test, vi } from "vitest";
import type { SecretDescription } from "#aws/secret-store.ts";
import { type PinnedCredential, PinnedCredentials } from "#engine/pinned.ts";
import { Tag } from "#engine/settings.ts";
import { metricsEnabled, providerOf, publishMetrics, stateOf } from "#handlers/metrics.ts";

const admin: PinnedCredential = {
  secretName: "keyturn/softwareone-admin",
  provider: "softwareone",
  settings: { accountId: "ACC-1111-2222", name: "keyturn administrator" },
  settingsFields: ["accountId", "name", "modules", "baseUrl"],
  policy: { gracePeriod: "24h", expiryThresholds: ["7d"] },
};
const pinned = new PinnedCredentials([admin]);
const NOW = new Date("2026-11-30T12:00:00Z");
const DAY = 86_400_000;

function described(
  tags: Record<string, string> = {},
  versions: Record<string, string[]> = {},
): SecretDescription {
  return {
    arn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:keyturn/softwareone-admin-AbC123",
    name: admin.secretName,
    versions: { v1: ["AWSCURRENT"], ...versions },
    tags: { [Tag.provider]: "softwareone", [Tag.credential]: admin.secretName, ...tags },
  };
}

describe("a credential's state", () => {
  const expiresIn = (ms: number) => ({ [Tag.expiresAt]: new Date(NOW.getTime() + ms).toISOString() });

  test.each([
    ["ok", described(expiresIn(30 * DAY))],
    ["expiring", described(expiresIn(6 * DAY))],
    ["expired", described(expiresIn(-1))],
    ["rotating", described(expiresIn(30 * DAY), { v2: ["AWSPENDING"] })],
    ["invalid", { ...described(), name: "keyturn/not-pinned" }],
    ["invalid", described({ [Tag.gracePeriod]: "1s" })],
  ])("is %s", (state, description) => {
    expect(stateOf(description, NOW, pinned)).toBe(state);
  });

  test("is not counted while its secret is scheduled for deletion", () => {
    expect(stateOf({ ...described(), deletedDate: NOW }, NOW, pinned)).toBeUndefined();
  });
});

test("a rotation's provider comes from the pinned credential its secret id names, by name or ARN, and is unknown otherwise", () => {
  expect(providerOf(admin.secretName, pinned)).toBe("softwareone");
  expect(providerOf(described().arn, pinned)).toBe("softwareone");
  expect(
    providerOf("arn:aws:secretsmanager:us-east-1:123456789012:secret:keyturn/other-AbC123", pinned),
  ).toBe("unknown");
});

describe("writing metrics", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  test.each([
    [{}, false],
    [{ AWS_LAMBDA_FUNCTION_NAME: "keyturn-monitor" }, true],
    [{ AWS_LAMBDA_FUNCTION_NAME: "keyturn-monitor", POWERTOOLS_METRICS_DISABLED: "true" }, false],
    [{ POWERTOOLS_METRICS_DISABLED: "false" }, true],
  ])("in %o: %s", (env, enabled) => {
    expect(metricsEnabled(env)).toBe(enabled);
  });

  test("one EMF line per set of dimensions, in the keyturn namespace, with service=keyturn", () => {
    const lines: string[] = [];
    vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
      lines.push(String(chunk));
      return true;
    });
    publishMetrics(
      [
        { name: "Failures", unit: "Count", value: 2 },
        { name: "SweepDuration", unit: "Milliseconds", value: 1234 },
        { name: "Failures", unit: "Count", value: 2, dimensions: { action: "revocation" } },
      ],
      { POWERTOOLS_METRICS_DISABLED: "false" },
    );
    const records = lines
      .join("")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));

    expect(records).toHaveLength(2);
    expect(records[0]).toMatchObject({
      _aws: {
        CloudWatchMetrics: [
          {
            Namespace: "keyturn",
            Dimensions: [["service"]],
            Metrics: [
              { Name: "Failures", Unit: "Count" },
              { Name: "SweepDuration", Unit: "Milliseconds" },
            ],
          },
        ],
      },
      service: "keyturn",
      Failures: 2,
      SweepDuration: 1234,
    });
    expect(records[1]).toMatchObject({
      _aws: { CloudWatchMetrics: [{ Namespace: "keyturn", Dimensions: [["service", "action"]] }] },
      action: "revocation",
      Failures: 2,
    });
  });

  test("nothing where metrics are off", () => {
    const write = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    publishMetrics([{ name: "Failures", unit: "Count", value: 1 }], {});

    expect(write).not.toHaveBeenCalled();
  });
});
