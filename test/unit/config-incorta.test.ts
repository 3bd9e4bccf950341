// The Incorta credentials' settings in the deployment config (infra/config.ts): an on-premises
// cluster may be plain http (Incorta's Public API v1 page: "according to your installation"), but
// only when the credential's settings say so explicitly, and a refusal names the credential and
// the field.
import { describe, expect, test } from "vitest";
import { InvalidConfigError, parseConfig } from "../../infra/config.ts";

const PLAIN_CLUSTER = "http://incorta.corp.example:8080/incorta";

function configWith(settings: Record<string, unknown>, provider = "incorta-v2") {
  return {
    secretNamePrefix: "keyturn/",
    credentials: [
      {
        name: "onprem-pat",
        provider,
        settings: {
          tenantName: "reporting",
          ...(provider === "incorta-v1" ? { loginName: "etl.bot" } : {}),
          ...settings,
        },
      },
    ],
  };
}

function problemsOf(json: unknown): string[] {
  try {
    parseConfig(json, "keyturn.json");
  } catch (error) {
    if (error instanceof InvalidConfigError) return error.problems;
    throw error;
  }
  throw new Error("expected the config to be refused");
}

describe("Incorta settings: plain http", () => {
  test.each(["incorta-v1", "incorta-v2"])(
    "%s refuses an http:// clusterUrl without allowPlainHttp, naming the credential and both fields",
    (provider) => {
      const problems = problemsOf(configWith({ clusterUrl: PLAIN_CLUSTER }, provider));

      expect(problems).toHaveLength(1);
      expect(problems[0]).toContain('credential "onprem-pat"');
      expect(problems[0]).toContain('field "settings.clusterUrl"');
      expect(problems[0]).toContain("settings.allowPlainHttp");
    },
  );

  test.each(["incorta-v1", "incorta-v2"])(
    "%s accepts an http:// clusterUrl with allowPlainHttp: true and pins the setting",
    (provider) => {
      const config = parseConfig(configWith({ clusterUrl: PLAIN_CLUSTER, allowPlainHttp: true }, provider));

      expect(config.credentials[0]?.settings).toMatchObject({
        clusterUrl: PLAIN_CLUSTER,
        allowPlainHttp: true,
      });
    },
  );

  test("allowPlainHttp must be a boolean", () => {
    const problems = problemsOf(configWith({ clusterUrl: PLAIN_CLUSTER, allowPlainHttp: "yes" }));

    expect(problems.join("\n")).toContain('field "settings.allowPlainHttp"');
  });

  test("an https:// clusterUrl needs no setting", () => {
    const config = parseConfig(configWith({ clusterUrl: "https://acme.cloud.incorta.com/incorta" }));

    expect(config.credentials[0]?.settings).not.toHaveProperty("allowPlainHttp");
  });
});
