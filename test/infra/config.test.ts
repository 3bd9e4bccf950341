// The deployment config (infra/config.ts): what it accepts, the messages it refuses with (the
// credential and the field), the tags and first value it provisions, and the published JSON
// Schema and reference, which must be what the one definition generates.

import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Ajv2020 } from "ajv/dist/2020.js";
import { describe, expect, test } from "vitest";
import { settingsFromTags, Tag } from "#engine/settings.ts";
import { providerFor } from "#providers/registry.ts";
import type { ProviderId } from "#providers/types.ts";
import {
  type CredentialConfig,
  CredentialEntries,
  credentialTags,
  InvalidConfigError,
  loadConfig,
  parseConfig,
} from "../../infra/config.ts";
import { configReference, configSchemaFile, REFERENCE_FILE, SCHEMA_FILE } from "../../infra/config-schema.ts";
import { EXAMPLE_CONFIG, exampleConfig, exampleConfigJson } from "./synthesize.ts";

type ConfigJson = ReturnType<typeof exampleConfigJson>;

/** The example config with one change, parsed. */
function parseChanged(change: (config: ConfigJson) => void) {
  const json = exampleConfigJson();
  change(json);
  return () => parseConfig(json, "keyturn.json");
}

function credentialEntry(config: ConfigJson, name: string): Record<string, unknown> {
  const entry = config.credentials.find((credential) => credential.name === name);
  if (!entry) throw new Error(`No credential ${name} in the example config`);
  return entry;
}

function credential(name: string): CredentialConfig {
  const found = exampleConfig().credentials.find((c) => c.name === name);
  if (!found) throw new Error(`No credential ${name} in the example config`);
  return found;
}

describe("the example config", () => {
  test("covers every provider", () => {
    const providers = new Set(exampleConfig().credentials.map((c) => c.provider));

    expect([...providers].sort()).toEqual(Object.keys(CredentialEntries).sort());
  });

  test("has a SoftwareOne credential minted by an administrator credential of the same config", () => {
    expect(credential("softwareone-catalog").issuer).toEqual({
      name: "softwareone-admin",
      secretName: "keyturn/softwareone-admin",
    });
  });

  test("is valid against the published JSON Schema", () => {
    const validate = new Ajv2020({ allErrors: true }).compile(JSON.parse(readFileSync(SCHEMA_FILE, "utf8")));

    expect(validate(exampleConfigJson()), JSON.stringify(validate.errors)).toBe(true);
  });

  test("gives each credential settings its provider's schema accepts once a key is added", () => {
    const keys: Record<ProviderId, Record<string, unknown>> = {
      "immuta-request": { token: "immuta-token-0123456789", keyId: "7f0c" },
      softwareone: { token: "idt:TKN-1111-2222:secret0123456789", keyId: "TKN-1111-2222" },
      everflow: { apiKey: "everflow-key-0123456789", keyId: "keyturn reporting" },
      "incorta-v1": { apiKey: "incorta-key-0123456789" },
      "incorta-v2": {
        token: "incorta-pat-0123456789",
        keyId: "reporting-pat",
        expiresAt: "2027-01-01T00:00:00Z",
      },
    };

    for (const c of exampleConfig().credentials) {
      const value = { provider: c.provider, ...c.settings, ...keys[c.provider] };
      expect(() => providerFor(c.provider).parse(value, c.name), c.name).not.toThrow();
    }
  });
});

describe("parseConfig", () => {
  test.each(["keyturn.prod", "k".repeat(58), "keyturn/prod"])(
    "refuses a bus name %s that cannot also name keyturn's revoke function (<busName>-revoke) and tables",
    (busName) => {
      expect(
        parseChanged((config) => {
          config.busName = busName;
        }),
      ).toThrow(/busName.*letters, digits, _ and -, at most 57 characters/s);
    },
  );

  test("names each secret <secretNamePrefix><name>", () => {
    const config = parseConfig({
      ...exampleConfigJson(),
      secretNamePrefix: "prod/vendors/",
    });

    expect(config.credentials.map((c) => c.secretName)).toContain("prod/vendors/immuta-request-app");
  });

  test("turns rotateEvery into a Secrets Manager rate, in days when it is whole days and in hours otherwise", () => {
    const rotation = (rotateEvery: string) =>
      parseChanged((config) => {
        credentialEntry(config, "immuta-request-app").rotateEvery = rotateEvery;
        credentialEntry(config, "immuta-request-app").keyLifetime = "none";
        delete credentialEntry(config, "immuta-request-app").rotationWindow;
      })().credentials[0]?.rotation?.scheduleExpression;

    expect(rotation("30d")).toBe("rate(30 days)");
    expect(rotation("1d")).toBe("rate(1 day)");
    expect(rotation("36h")).toBe("rate(36 hours)");
    expect(rotation("4h")).toBe("rate(4 hours)");
  });

  test("takes a cron schedule and a rotation window as written", () => {
    expect(credential("softwareone-admin").rotation).toEqual({
      scheduleExpression: "cron(0 3 1 * ? *)",
      window: undefined,
    });
    expect(credential("immuta-request-app").rotation).toEqual({
      scheduleExpression: "rate(30 days)",
      window: "4h",
    });
  });

  test("gives manual and token-refresh credentials no rotation schedule", () => {
    const scheduled = exampleConfig()
      .credentials.filter((c) => c.rotation !== undefined)
      .map((c) => c.provider);

    expect(new Set(scheduled)).toEqual(new Set(["immuta-request", "softwareone"]));
  });

  test("reads an existing secret's name from its complete ARN", () => {
    const config = parseChanged((json) => {
      credentialEntry(json, "everflow-partner").secret = {
        existing: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:keyturn/partners/everflow-AbC123",
      };
    })();

    expect(config.credentials.find((c) => c.name === "everflow-partner")).toMatchObject({
      secretName: "keyturn/partners/everflow",
      source: {
        kind: "existing",
        secretName: "keyturn/partners/everflow",
        secretArn: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:keyturn/partners/everflow-AbC123",
      },
    });
  });

  // Each case: a change to the example, then what the message must name.
  test.each<[string, (config: ConfigJson) => void, RegExp]>([
    [
      "a region Immuta does not have",
      (c) => {
        (credentialEntry(c, "immuta-request-app").settings as Record<string, unknown>).region = "us";
      },
      /credential "immuta-request-app": field "settings\.region" must be \("na" \| "eu" \| "ap"\), got "us"/,
    ],
    [
      "a SoftwareOne module id outside the vendor's pattern (MOD- and four digits)",
      (c) => {
        (credentialEntry(c, "softwareone-catalog").settings as Record<string, unknown>).modules = [
          "MOD-CATALOG",
        ];
      },
      /credential "softwareone-catalog": field "settings\.modules\[0\]" must be a module id: MOD- and four digits/,
    ],
    [
      "a missing required setting",
      (c) => {
        delete (credentialEntry(c, "incorta-analytics").settings as Record<string, unknown>).loginName;
      },
      /credential "incorta-analytics": field "settings\.loginName" is missing/,
    ],
    [
      "a setting another provider takes",
      (c) => {
        (credentialEntry(c, "incorta-reporting-pat").settings as Record<string, unknown>).loginName = "bot";
      },
      /credential "incorta-reporting-pat": field "settings\.loginName" is not a field keyturn knows here/,
    ],
    [
      "a rotation schedule on a manual credential",
      (c) => {
        credentialEntry(c, "everflow-partner").rotateEvery = "30d";
      },
      /credential "everflow-partner": field "rotateEvery" .*everflow keys cannot be minted by API.*maxAge/,
    ],
    [
      "a maximum age on an automatic credential",
      (c) => {
        credentialEntry(c, "immuta-request-app").maxAge = "90d";
      },
      /credential "immuta-request-app": field "maxAge" .*set rotateEvery or schedule instead/,
    ],
    [
      "an automatic credential without a schedule",
      (c) => {
        delete credentialEntry(c, "softwareone-admin").schedule;
      },
      /credential "softwareone-admin": field "rotateEvery" is missing/,
    ],
    [
      "both rotateEvery and schedule",
      (c) => {
        credentialEntry(c, "softwareone-admin").rotateEvery = "30d";
      },
      /credential "softwareone-admin": field "schedule" is set together with rotateEvery/,
    ],
    [
      "a rotation more often than Secrets Manager's four hours",
      (c) => {
        credentialEntry(c, "softwareone-catalog").rotateEvery = "2h";
      },
      /credential "softwareone-catalog": field "rotateEvery" is "2h": .*at most every 4 hours/,
    ],
    [
      "a rotation in minutes",
      (c) => {
        credentialEntry(c, "softwareone-catalog").rotateEvery = "270m";
      },
      /credential "softwareone-catalog": field "rotateEvery" is "270m": Secrets Manager rotates in whole hours/,
    ],
    [
      "a cron schedule that fires every hour",
      (c) => {
        credentialEntry(c, "softwareone-admin").schedule = "cron(0 * * * ? *)";
      },
      /credential "softwareone-admin": field "schedule" is "cron\(0 \* \* \* \? \*\)": .*every 4 hours/,
    ],
    [
      "a cron schedule with five fields",
      (c) => {
        credentialEntry(c, "softwareone-admin").schedule = "cron(0 3 1 * ?)";
      },
      /credential "softwareone-admin": field "schedule" .*six fields/,
    ],
    [
      "a rotation window as long as the interval",
      (c) => {
        credentialEntry(c, "softwareone-catalog").rotateEvery = "6h";
        credentialEntry(c, "softwareone-catalog").rotationWindow = "6h";
      },
      /credential "softwareone-catalog": field "rotationWindow" is "6h"/,
    ],
    [
      "a duration that does not parse",
      (c) => {
        credentialEntry(c, "immuta-request-app").gracePeriod = "1 day";
      },
      /credential "immuta-request-app": field "gracePeriod" must be a duration.*got "1 day"/,
    ],
    [
      "an expiry threshold that does not parse",
      (c) => {
        credentialEntry(c, "incorta-reporting-pat").expiryThresholds = ["14d", "a week"];
      },
      /credential "incorta-reporting-pat": field "expiryThresholds\[1\]" must be a duration/,
    ],
    [
      "keys that expire before their successor's grace period ends",
      (c) => {
        credentialEntry(c, "immuta-request-app").keyLifetime = "30d";
      },
      /credential "immuta-request-app": field "keyLifetime" is "30d", not longer than rotateEvery "30d" plus gracePeriod "24h"/,
    ],
    [
      "a key lifetime for a vendor whose keys do not expire",
      (c) => {
        credentialEntry(c, "softwareone-catalog").keyLifetime = "90d";
      },
      /credential "softwareone-catalog": field "keyLifetime" .*does not apply to softwareone keys/,
    ],
    [
      "an issuer that is not in the config",
      (c) => {
        credentialEntry(c, "softwareone-catalog").issuer = "softwareone-admn";
      },
      /credential "softwareone-catalog": field "issuer" is "softwareone-admn", which is not a credential in this config/,
    ],
    [
      "an issuer of another provider",
      (c) => {
        credentialEntry(c, "softwareone-catalog").issuer = "immuta-request-app";
      },
      /credential "softwareone-catalog": field "issuer" is "immuta-request-app", whose provider is immuta-request/,
    ],
    [
      "an issuer on a provider that mints nothing",
      (c) => {
        credentialEntry(c, "incorta-reporting-pat").issuer = "incorta-legacy-pat";
      },
      /credential "incorta-reporting-pat": field "issuer" .*cannot be minted by API/,
    ],
    [
      "issuers that lead back to themselves",
      (c) => {
        credentialEntry(c, "softwareone-admin").issuer = "softwareone-catalog";
      },
      /credential "softwareone-admin": field "issuer" leads back to itself/,
    ],
    [
      "a name used twice",
      (c) => {
        credentialEntry(c, "incorta-legacy-pat").name = "incorta-reporting-pat";
      },
      /credential "incorta-reporting-pat": field "name" is used by another credential too/,
    ],
    [
      "a name Secrets Manager's partial ARNs would confuse",
      (c) => {
        credentialEntry(c, "everflow-partner").name = "everflow-abc123";
      },
      /credential "everflow-abc123": field "name" ends with "-" and six characters/,
    ],
    [
      "a name with characters a secret name cannot hold",
      (c) => {
        credentialEntry(c, "everflow-partner").name = "everflow partner";
      },
      /credential "everflow partner": field "name" must be a name of letters, digits/,
    ],
    [
      "an existing secret outside the prefix",
      (c) => {
        credentialEntry(c, "everflow-partner").secret = { existing: "legacy/everflow" };
      },
      /credential "everflow-partner": field "secret\.existing" names secret "legacy\/everflow", which is outside secretNamePrefix "keyturn\/"/,
    ],
    [
      "an existing secret's ARN without its suffix",
      (c) => {
        credentialEntry(c, "everflow-partner").secret = {
          existing: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:keyturn/everflow",
        };
      },
      /credential "everflow-partner": field "secret\.existing" .*not a complete secret ARN/,
    ],
    [
      "an unknown provider",
      (c) => {
        credentialEntry(c, "incorta-analytics").provider = "incorta";
      },
      /credential "incorta-analytics": field "provider" must be \("immuta-request" \| "softwareone" \| "everflow" \| "incorta-v1" \| "incorta-v2"\), got "incorta"/,
    ],
    [
      "a credential without a name",
      (c) => {
        delete c.credentials[6]?.name;
      },
      /credential #7 \(credentials\[6\]\): field "name" is missing/,
    ],
    [
      "an alert address that is two addresses",
      (c) => {
        c.alerts = { email: ["oncall@example.com, dev@example.com"] };
      },
      /field "alerts\.email\[0\]" must be one email address/,
    ],
    [
      "a secret name prefix that is not a folder",
      (c) => {
        c.secretNamePrefix = "keyturn";
      },
      /field "secretNamePrefix" must be letters, digits and \/_\+=\.@- ending with "\/"/,
    ],
    [
      "a consumer that is a role name, not its ARN",
      (c) => {
        credentialEntry(c, "softwareone-catalog").consumers = ["catalog-sync"];
      },
      /credential "softwareone-catalog": field "consumers\[0\]" must be an IAM role ARN with its path/,
    ],
    [
      "a consumer given by wildcard",
      (c) => {
        credentialEntry(c, "incorta-analytics").consumers = ["arn:aws:iam::123456789012:role/etl-*"];
      },
      /credential "incorta-analytics": field "consumers\[0\]" must be an IAM role ARN .*\(no wildcard\)/,
    ],
    [
      "an operator that is a user",
      (c) => {
        c.operators = { put: ["arn:aws:iam::123456789012:user/jane"] };
      },
      /field "operators\.put\[0\]" must be an IAM role ARN/,
    ],
    [
      "an operator command keyturn does not have",
      (c) => {
        c.operators = { deploy: ["arn:aws:iam::123456789012:role/deployer"] };
      },
      /field "operators\.deploy" is not a field keyturn knows here/,
    ],
    [
      "revoke requesters without their sources",
      (c) => {
        c.revokeRequesters = { principals: ["arn:aws:iam::123456789012:role/leak-scanner"] };
      },
      /field "revokeRequesters\.sources" is missing/,
    ],
    [
      "revoke requesters publishing as keyturn",
      (c) => {
        c.revokeRequesters = {
          principals: ["arn:aws:iam::123456789012:role/leak-scanner"],
          sources: ["keyturn"],
        };
      },
      /field "revokeRequesters\.sources" lists "keyturn", keyturn's own event source/,
    ],
    [
      "a revoke cooldown that is not a duration",
      (c) => {
        c.revokeCooldown = "10 minutes";
      },
      /field "revokeCooldown" must be a duration/,
    ],
    [
      "a deployment role that is not a role ARN",
      (c) => {
        c.deploymentRoleArn = "arn:aws:iam::123456789012:root";
      },
      /field "deploymentRoleArn" must be an IAM role ARN/,
    ],
  ])("refuses %s, naming the credential and the field", (_case, change, message) => {
    expect(parseChanged(change)).toThrow(message);
    expect(parseChanged(change)).toThrow(InvalidConfigError);
  });

  test("takes the fences' principals: operators per command, revoke requesters, each credential's consumers", () => {
    const config = exampleConfig();

    expect(config.operators).toEqual({
      put: ["arn:aws:iam::123456789012:role/keyturn-operator"],
      rotate: ["arn:aws:iam::123456789012:role/keyturn-operator"],
      revoke: [
        "arn:aws:iam::123456789012:role/keyturn-operator",
        "arn:aws:iam::123456789012:role/security-oncall",
      ],
    });
    expect(config.revokeRequesters).toEqual({
      principals: ["arn:aws:iam::123456789012:role/leak-scanner"],
      sources: ["my.leak-scanner"],
    });
    expect(credential("incorta-analytics").consumers).toEqual([
      "arn:aws:iam::123456789012:role/analytics-etl",
    ]);
    expect(credential("everflow-partner").consumers).toEqual([]);
    // A role with a path, as IAM and aws:PrincipalArn spell it.
    expect(
      parseChanged((c) => {
        c.revokeCooldown = "30m";
        c.deploymentRoleArn = "arn:aws:iam::123456789012:role/pipeline/cdk-deployer";
      })(),
    ).toMatchObject({
      revokeCooldown: "30m",
      deploymentRoleArn: "arn:aws:iam::123456789012:role/pipeline/cdk-deployer",
    });
  });

  test("lists every problem at once, one line each", () => {
    const parse = parseChanged((c) => {
      credentialEntry(c, "softwareone-catalog").issuer = "nobody";
      credentialEntry(c, "immuta-request-app").keyLifetime = "2d";
    });

    expect(parse).toThrow(/keyturn\.json is not a valid keyturn config:\n {2}- .*\n {2}- /);
  });
});

describe("loadConfig", () => {
  test("names the file and the JSON error when the file is not JSON", () => {
    const path = join(mkdtempSync(join(tmpdir(), "keyturn-config-")), "keyturn.json");
    writeFileSync(path, '{"credentials": [');

    expect(() => loadConfig(path)).toThrow(
      /keyturn\.json is not a valid keyturn config:\n {2}- the file is not JSON/,
    );
  });

  test("says how to name the config when the file is missing", () => {
    expect(() => loadConfig("/nonexistent/keyturn.json")).toThrow(/keyturn:config/);
  });
});

describe("credentialTags", () => {
  test("writes the policy tags the engine reads, with the engine's defaults made explicit", () => {
    expect(credentialTags(credential("softwareone-catalog"))).toEqual({
      [Tag.provider]: "softwareone",
      [Tag.credential]: "keyturn/softwareone-catalog",
      [Tag.issuer]: "keyturn/softwareone-admin",
      [Tag.gracePeriod]: "24h",
      [Tag.expiryThresholds]: "30d,7d,1d",
      [Tag.inUseWindow]: "1h",
      [Tag.inUseLimit]: "3",
      [Tag.hardRevokeDelay]: "7d",
    });
  });

  test("writes the maximum age of a key a person replaces, and nothing about rotation", () => {
    expect(credentialTags(credential("everflow-partner"))).toEqual({
      [Tag.provider]: "everflow",
      [Tag.credential]: "keyturn/everflow-partner",
      [Tag.gracePeriod]: "24h",
      [Tag.expiryThresholds]: "30d,7d,1d",
      [Tag.maxAge]: "90d",
    });
  });

  test.each(exampleConfig().credentials.map((c) => [c.name, c] as const))(
    "gives %s tags that the engine reads back as its config says",
    (_name, c) => {
      const settings = settingsFromTags(c.secretName, credentialTags(c));

      expect(settings).toMatchObject({
        credential: c.secretName,
        provider: c.provider,
        issuer: c.issuer?.secretName,
        expiryThresholds: c.policy.expiryThresholds.map((text) => expect.objectContaining({ text })),
      });
    },
  );
});

describe("the published schema and reference", () => {
  test("config/keyturn.config.schema.json is what infra/config.ts generates (run node infra/config-schema.ts)", () => {
    expect(JSON.parse(readFileSync(SCHEMA_FILE, "utf8"))).toEqual(JSON.parse(configSchemaFile()));
  });

  test("config/REFERENCE.md is what infra/config.ts generates (run node infra/config-schema.ts)", () => {
    expect(readFileSync(REFERENCE_FILE, "utf8")).toBe(configReference());
  });

  test("the JSON Schema refuses what parseConfig refuses for its shape: an unknown field", () => {
    const validate = new Ajv2020({ allErrors: true }).compile(JSON.parse(readFileSync(SCHEMA_FILE, "utf8")));
    const json = exampleConfigJson();
    credentialEntry(json, "everflow-partner").rotateEvery = "30d";

    expect(validate(json)).toBe(false);
  });
});

describe("cdk synth with a wrong config", () => {
  test("fails with the problems, naming the credential and the field, and no stack trace", async () => {
    const directory = mkdtempSync(join(tmpdir(), "keyturn-config-"));
    const path = join(directory, "keyturn.json");
    const json = exampleConfigJson();
    (credentialEntry(json, "immuta-request-app").settings as Record<string, unknown>).region = "us";
    writeFileSync(path, JSON.stringify(json));

    const run = promisify(execFile)(process.execPath, [join(import.meta.dirname, "../../infra/app.ts")], {
      env: {
        PATH: process.env.PATH,
        CDK_CONTEXT_JSON: JSON.stringify({ "keyturn:config": path }),
        CDK_OUTDIR: join(directory, "cdk.out"),
      },
    });

    await expect(run).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/credential "immuta-request-app": field "settings\.region"/),
    });
    await expect(run).rejects.toMatchObject({ stderr: expect.not.stringMatching(/\n\s+at /) });
  });

  test("the example config loads as cdk.json names it", () => {
    expect(() => loadConfig(EXAMPLE_CONFIG)).not.toThrow();
  });
});
