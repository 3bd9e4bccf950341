// keyturn's deployment config: one JSON file, named by the cdk.json context "keyturn:config",
// that lists the credentials keyturn manages and who hears about them. Its schema is defined
// once, here: `parseConfig` validates a config with it at synth (then checks what a schema
// cannot say: issuers, rotation schedules, name rules), `infra/config-schema.ts` writes the
// JSON Schema that editors and reviewers use (config/keyturn.config.schema.json), and
// `credentialTags` / `initialSecretValue` turn a credential into the keyturn:* policy tags and
// the first secret value, so that the stack, the sandbox and the CLI provision the same thing.
//
// No AWS CDK here: the CLI and the sandbox import this module too.

import { readFileSync } from "node:fs";
import * as v from "valibot";
import { EVENT_SOURCE } from "#aws/event-publisher.ts";
import {
  DEFAULT_AUDIT_SCHEDULE,
  DEFAULT_BUS_NAME,
  DEFAULT_EXPIRY_THRESHOLDS,
  DEFAULT_GRACE_PERIOD,
  DEFAULT_HARD_REVOKE_DELAY,
  DEFAULT_IN_USE_LIMIT,
  DEFAULT_IN_USE_WINDOW,
  DEFAULT_KEY_LIFETIME,
  DEFAULT_MIN_TOKEN_REMAINING,
  DEFAULT_MONITOR_SCHEDULE,
  DEFAULT_ORPHAN_SAFETY_MARGIN,
  DEFAULT_RECONCILE_INTERVAL,
  DEFAULT_REFRESH_INTERVAL,
  DEFAULT_REVOKE_COOLDOWN,
  DEFAULT_SECRET_NAME_PREFIX,
  DEFAULT_STUCK_ROTATION_AFTER,
  DEFAULT_TOKEN_PARAMETER_PREFIX,
} from "#engine/defaults.ts";
import { DURATION_PATTERN, parseDuration } from "#engine/duration.ts";
import type { Severity } from "#engine/events.ts";
import { type PinnedCredential, type PinnedPolicy, policyTags } from "#engine/pinned.ts";
import { PROVIDER_IDS, providerFor } from "#providers/registry.ts";
import type { ProviderId, ProviderMode } from "#providers/types.ts";

/** The longest monitor interval its heartbeat alarm can watch (infra/keyturn-alarms.ts maxMonitorInterval). */
const MAX_MONITOR_INTERVAL_MINUTES = 6 * 24 * 60;

/** How many minutes a rate() expression leaves between runs; undefined for anything else. */
function rateMinutes(expression: string): number | undefined {
  const rate = /^rate\((\d+) (minute|hour|day)s?\)$/.exec(expression);
  if (!rate) return undefined;
  return Number(rate[1]) * (rate[2] === "minute" ? 1 : rate[2] === "hour" ? 60 : 24 * 60);
}

/** The cdk.json context key that names the config file. */
export const CONFIG_CONTEXT_KEY = "keyturn:config";
/** Least to most severe. */
export const SEVERITIES = ["info", "warning", "critical"] as const satisfies readonly Severity[];

/** Secrets Manager name characters, ending in "/" so that the prefix names a folder, not a stem. */
export const SECRET_NAME_PREFIX = /^[A-Za-z0-9/_+=.@-]*\/$/;
/**
 * A credential's name: segments of letters, digits and _.- separated by single slashes. Narrower
 * than what Secrets Manager takes (no +=@) so that every name is also a Parameter Store name,
 * where a refresh-mode credential's tokens are stored under it.
 */
const CREDENTIAL_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*(\/[A-Za-z0-9][A-Za-z0-9_.-]*)*$/;
/** A policy duration: the engine's one grammar (functions/engine/duration.ts). */
const DURATION = DURATION_PATTERN;
/** An existing secret's complete ARN: the name, then "-" and the six characters Secrets Manager adds. */
const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:(.+)-[A-Za-z0-9]{6}$/;
/**
 * An IAM role's ARN, with its path: what aws:PrincipalArn holds for every session of the role
 * (IAM User Guide, "AWS global condition context keys", aws:PrincipalArn), so that the fences
 * (secret, bus and key policies) can name it. No wildcard: each entry is one role.
 */
export const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/([A-Za-z0-9+=,.@_-]+\/)*[A-Za-z0-9+=,.@_-]{1,64}$/;
/** An EventBridge event source a requester publishes with (PutEvents' Source: 1 to 256 characters). */
const EVENT_SOURCE_NAME = /^[A-Za-z0-9][A-Za-z0-9._\-/:]{0,255}$/;
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** Secrets Manager rotates at most every four hours and at least every 1000 days. */
const MIN_ROTATION_MS = 4 * HOUR_MS;
const MAX_ROTATION_MS = 1000 * DAY_MS;
/** A tag value holds at most 256 characters, and keyturn:credential and keyturn:issuer hold secret names. */
const MAX_SECRET_NAME = 256;

const duration = (description: string) =>
  v.pipe(
    v.string(),
    v.regex(DURATION, "a duration: a whole number above zero and s, m, h or d, such as 30m, 24h or 90d"),
    v.description(description),
  );
const httpsUrl = (description: string) =>
  v.pipe(
    v.string(),
    v.regex(/^https:\/\/[^\s/?#@]+(\/[^\s?#]*)?$/, "an https:// URL without query or credentials"),
    v.description(description),
  );
const roleArns = (description: string) =>
  v.pipe(
    v.array(
      v.pipe(
        v.string(),
        v.regex(
          ROLE_ARN,
          "an IAM role ARN with its path, such as arn:aws:iam::123456789012:role/payments-app (no wildcard)",
        ),
      ),
    ),
    v.description(description),
  );
// A provider's settings (what a consumer needs besides the key: region, base URL, tenant…) are
// its own: each provider folder declares them with their descriptions (`config` in
// functions/providers/types.ts), and `credentialSchema` below composes them through the registry.

const credentialName = v.pipe(
  v.string(),
  v.regex(
    CREDENTIAL_NAME,
    "a name of letters, digits and _.- in segments separated by single slashes, such as payments/billing-api",
  ),
  v.maxLength(200),
);

const SecretSource = v.pipe(
  v.strictObject({
    existing: v.pipe(
      v.string(),
      v.minLength(1),
      v.description(
        "The name or complete ARN of an existing secret to manage, under secretNamePrefix. The stack tags it " +
          "and schedules its rotation but leaves its value and its encryption key as they are.",
      ),
    ),
    kmsKey: v.optional(
      v.pipe(
        v.string(),
        v.regex(/^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/, "a KMS key ARN"),
        v.description(
          "The ARN of the customer managed KMS key the existing secret is encrypted with, if it is not aws/secretsmanager: " +
            "keyturn's functions are allowed to use it through Secrets Manager.",
        ),
      ),
    ),
  }),
  v.description("Where the secret comes from. Default: the stack creates <secretNamePrefix><name>."),
);

/** Fields every credential has. */
const commonFields = {
  name: v.pipe(
    credentialName,
    v.description(
      "The credential's name; its secret is <secretNamePrefix><name> and other credentials refer to it by it.",
    ),
  ),
  description: v.optional(v.pipe(v.string(), v.maxLength(2048), v.description("The secret's description."))),
  secret: v.optional(SecretSource),
  consumers: v.optional(
    roleArns(
      "IAM roles of the applications that use this credential. Only they, keyturn's functions and the operators may " +
        "read its value (GetSecretValue; the secret's resource policy denies everyone else), and only they may " +
        "decrypt the token parameter of a refresh-mode credential besides keyturn's refresh. Each role still needs an " +
        "IAM policy allowing the read.",
    ),
    [],
  ),
  gracePeriod: v.optional(
    duration("How long the previous key stays valid after a rotation or a handover, before it is revoked."),
    DEFAULT_GRACE_PERIOD,
  ),
  expiryThresholds: v.optional(
    v.pipe(
      v.array(duration("How long before expiry to warn.")),
      v.minLength(1),
      v.description('When to publish "Credential Expiring" before the key expires, once each.'),
    ),
    DEFAULT_EXPIRY_THRESHOLDS.split(","),
  ),
};

/** Fields of credentials whose successors keyturn mints at the vendor (Secrets Manager rotation). */
const automaticFields = {
  rotateEvery: v.optional(
    duration(
      "Rotate this often: whole hours, at least 4h (Secrets Manager's minimum), such as 30d. Or use schedule.",
    ),
  ),
  schedule: v.optional(
    v.pipe(
      v.string(),
      v.regex(/^(rate|cron)\(.+\)$/, "a Secrets Manager rate() or cron() expression"),
      v.description(
        "A Secrets Manager schedule expression instead of rotateEvery: rate(10 days), rate(12 hours) or " +
          "cron(0 4 1 * ? *) (UTC). At most every four hours.",
      ),
    ),
  ),
  rotationWindow: v.optional(
    v.pipe(
      v.string(),
      v.regex(/^([1-9]|1[0-9]|2[0-4])h$/, "a whole number of hours from 1h to 24h"),
      v.description("How long after the scheduled time Secrets Manager may start the rotation, such as 2h."),
    ),
  ),
  issuer: v.optional(
    v.pipe(
      credentialName,
      v.description(
        "Another credential of the same provider whose key mints this one's successors (such as an account " +
          "administrator's token). Default: the credential mints its own.",
      ),
    ),
  ),
};

const keyLifetime = v.optional(
  v.pipe(
    v.union([duration("How long a minted key lives."), v.literal("none")]),
    v.description('How long a key keyturn mints stays valid at the vendor; "none" for no expiry.'),
  ),
  DEFAULT_KEY_LIFETIME,
);
/** For vendors that report when a key was last used (functions/engine/revocation.ts). */
const inUseFields = {
  inUseWindow: v.optional(
    duration("An old key the vendor saw used this recently is not revoked yet."),
    DEFAULT_IN_USE_WINDOW,
  ),
  inUseLimit: v.optional(
    v.pipe(
      v.number(),
      v.integer(),
      v.minValue(0),
      v.maxValue(10_000),
      v.description(
        "How many sweeps may postpone a revocation because the old key is in use, before it happens anyway.",
      ),
    ),
    DEFAULT_IN_USE_LIMIT,
  ),
};
/** For vendors that can disable a key before deleting it. */
const hardRevokeDelay = v.optional(
  duration("How long an old key stays disabled before it is deleted."),
  DEFAULT_HARD_REVOKE_DELAY,
);

/** Fields of credentials a person replaces (manual and refresh providers). */
const handoverFields = {
  maxAge: v.optional(
    duration('Publish "Manual Rotation Required" once the key is older than this, such as 90d.'),
  ),
};

/** Whether a settings schema has no required field: then the config may leave `settings` out. */
function allOptional(settings: v.StrictObjectSchema<v.ObjectEntries, undefined>): boolean {
  return Object.values(settings.entries).every((entry) => entry.type === "optional");
}

/**
 * A provider's credential entry: the fields every credential has, the provider's description and
 * settings (its folder's `config`), and the policy fields its mode and capabilities bring.
 */
function credentialSchema(id: ProviderId) {
  const provider = providerFor(id);
  const { config } = provider;
  const entries: v.ObjectEntries & { provider: v.GenericSchema } = {
    ...commonFields,
    provider: v.pipe(v.literal(id), v.description(config.description)),
    settings: allOptional(config.settings) ? v.optional(config.settings, {}) : config.settings,
    ...(provider.mode === "automatic" ? automaticFields : {}),
    ...(config.keyLifetime === true ? { keyLifetime } : {}),
    ...(provider.lastUsed === undefined ? {} : inUseFields),
    ...(provider.revocation === "soft-then-hard" ? { hardRevokeDelay } : {}),
    ...(provider.mode === "automatic" ? {} : handoverFields),
  };
  return v.pipe(v.strictObject(entries), v.title(id));
}

/** A credential's entry in the config, per provider: the fields that mean something for its vendor. */
export const CredentialEntries = Object.fromEntries(
  PROVIDER_IDS.map((id) => [id, credentialSchema(id)]),
) as Record<ProviderId, ReturnType<typeof credentialSchema>>;

/**
 * A credential's entry as the schema outputs it, whichever its provider: the fields its
 * provider's mode and capabilities do not bring are absent (the schema refuses them).
 */
interface CredentialEntry {
  name: string;
  provider: ProviderId;
  description?: string | undefined;
  secret?: { existing: string; kmsKey?: string | undefined } | undefined;
  consumers: string[];
  gracePeriod: string;
  expiryThresholds: string[];
  settings: Record<string, unknown>;
  rotateEvery?: string | undefined;
  schedule?: string | undefined;
  rotationWindow?: string | undefined;
  issuer?: string | undefined;
  keyLifetime?: string | undefined;
  inUseWindow?: string | undefined;
  inUseLimit?: number | undefined;
  hardRevokeDelay?: string | undefined;
  maxAge?: string | undefined;
}

// Typed by hand: composed at run time from the registry, the schema's own type knows no provider.
const CredentialEntry = v.variant(
  "provider",
  PROVIDER_IDS.map((id) => CredentialEntries[id]),
) as unknown as v.GenericSchema<unknown, CredentialEntry>;

const email = v.pipe(
  v.string(),
  v.regex(/^[^@\s,]+@[^@\s,]+\.[^@\s,]+$/, "one email address, such as oncall@example.com"),
);

/** The whole config file. */
export const KeyturnConfigSchema = v.pipe(
  v.strictObject({
    $schema: v.optional(v.pipe(v.string(), v.description("The JSON Schema this file follows, for editors."))),
    secretNamePrefix: v.optional(
      v.pipe(
        v.string(),
        v.regex(SECRET_NAME_PREFIX, 'letters, digits and /_+=.@- ending with "/", such as keyturn/'),
        v.description(
          "Every managed secret's name starts with it, and keyturn's functions may touch no secret outside it.",
        ),
      ),
      DEFAULT_SECRET_NAME_PREFIX,
    ),
    busName: v.optional(
      v.pipe(
        v.string(),
        // Also names keyturn's tables and its revoke function (<busName>-revoke), whose names take
        // letters, digits, - and _ only, up to 64 characters.
        v.regex(
          /^[A-Za-z0-9_-]{1,57}$/,
          "an event bus name: letters, digits, _ and -, at most 57 characters",
        ),
        v.description("The EventBridge bus keyturn publishes its events to."),
      ),
      DEFAULT_BUS_NAME,
    ),
    monitorSchedule: v.optional(
      v.pipe(
        v.string(),
        v.regex(/^(rate|cron)\(.+\)$/, "an EventBridge Scheduler rate() or cron() expression"),
        v.description(
          `When the monitor sweeps the credentials that are due (keyturn's due index). Default ${DEFAULT_MONITOR_SCHEDULE}; at ` +
            "most every 6 days.",
        ),
      ),
    ),
    auditSchedule: v.optional(
      v.pipe(
        v.string(),
        v.regex(/^(rate|cron)\(.+\)$/, "an EventBridge Scheduler rate() or cron() expression"),
        v.description(
          "When the monitor audits every credential (ListSecrets: new, deleted and hidden secrets, stuck " +
            `rotations, tampering, departures), and writes each one's next due time. Default ${DEFAULT_AUDIT_SCHEDULE}; at ` +
            "most every 6 days (the due index holds a week ahead, and the audit puts later ones back in it).",
        ),
      ),
    ),
    orphanSafetyMargin: v.optional(
      duration(
        `A marked vendor key younger than this is never revoked as an orphan. Default ${DEFAULT_ORPHAN_SAFETY_MARGIN}.`,
      ),
    ),
    reconcileInterval: v.optional(
      duration(
        `How often each issuer's keys are reconciled with the vendor's list. Default ${DEFAULT_RECONCILE_INTERVAL}.`,
      ),
    ),
    stuckRotationAfter: v.optional(
      duration(
        `An AWSPENDING version this old is a stuck rotation. Default ${DEFAULT_STUCK_ROTATION_AFTER}.`,
      ),
    ),
    refreshInterval: v.optional(
      duration(
        `How often the token pairs of refresh-mode credentials are refreshed: whole minutes, at least 1m. Default ${DEFAULT_REFRESH_INTERVAL}.`,
      ),
    ),
    minTokenRemaining: v.optional(
      duration(
        `Consumers always find an access token with at least this long left. Default ${DEFAULT_MIN_TOKEN_REMAINING}.`,
      ),
    ),
    tokenParameterPrefix: v.optional(
      v.pipe(
        v.string(),
        v.regex(/^(\/[A-Za-z0-9_.-]+)+$/, 'a Parameter Store path such as "/keyturn/tokens"'),
        v.description(
          `Token pairs are stored at <tokenParameterPrefix>/<secret name>. Default ${DEFAULT_TOKEN_PARAMETER_PREFIX}.`,
        ),
      ),
    ),
    revokeCooldown: v.optional(
      duration(
        'Once a "Revoke Requested" from the bus has been acted on, requests from the bus for another key of the same ' +
          `credential are refused this long, whoever asks (keyturn revoke invokes the same function). Default ${DEFAULT_REVOKE_COOLDOWN}.`,
      ),
    ),
    operators: v.optional(
      v.pipe(
        v.strictObject({
          put: v.optional(
            roleArns(
              "Roles that hand keys over (keyturn put): they may write values, move staging labels, write keyturn:* tags " +
                "and publish source keyturn events, which the secret and bus policies deny everyone else.",
            ),
          ),
          rotate: v.optional(roleArns("Roles that start rotations (keyturn rotate): RotateSecret.")),
          revoke: v.optional(
            roleArns(
              "Roles that revoke keys (keyturn revoke): they may invoke keyturn's revoke function (<busName>-revoke), " +
                'which does the rest with its own rights, and put "Revoke Requested" events.',
            ),
          ),
        }),
        v.description(
          "IAM roles of the people who operate keyturn, per command. Every operator may also read the values. Everyone " +
            "else is denied these actions on keyturn's secrets and bus, whatever their IAM policies allow.",
        ),
      ),
    ),
    revokeRequesters: v.optional(
      v.pipe(
        v.strictObject({
          principals: v.pipe(
            roleArns(
              'Roles allowed to put "Revoke Requested" on the bus (the scanner\'s), besides operators.revoke.',
            ),
            v.minLength(1),
          ),
          sources: v.pipe(
            v.array(
              v.pipe(v.string(), v.regex(EVENT_SOURCE_NAME, "an event source such as my.leak-scanner")),
            ),
            v.minLength(1),
            v.description('The event sources whose "Revoke Requested" events run the revoke function.'),
          ),
        }),
        v.description(
          'Who may ask for an emergency revoke by event (a leak scanner). Without it, "Revoke Requested" on the bus ' +
            "runs nothing, and only operators.revoke may put one; keyturn revoke and invoking the revoke function still work.",
        ),
      ),
    ),
    deploymentRoleArn: v.optional(
      v.pipe(
        v.string(),
        v.regex(ROLE_ARN, "an IAM role ARN such as arn:aws:iam::123456789012:role/deployer"),
        v.description(
          "The role CloudFormation deploys the stack with, the one principal the fences let change secrets' policies, " +
            "delete them or cancel rotation. Default: the CDK bootstrap's CloudFormation execution role " +
            "(cdk-<qualifier>-cfn-exec-role-<account>-<region>), which cdk deploy hands to CloudFormation.",
        ),
      ),
    ),
    alerts: v.optional(
      v.pipe(
        v.strictObject({
          email: v.optional(
            v.pipe(v.array(email), v.description("Addresses subscribed to the alert topics.")),
          ),
          https: v.optional(
            v.pipe(
              v.array(httpsUrl("An HTTPS endpoint.")),
              v.description("HTTPS endpoints subscribed to the alert topics."),
            ),
          ),
          minimumSeverity: v.optional(
            v.pipe(
              v.picklist(SEVERITIES),
              v.description("The least severe alerts the endpoints receive. Default warning."),
            ),
          ),
        }),
        v.description("Who hears about keyturn's events and alarms (alarms go to the critical topic)."),
      ),
    ),
    credentials: v.pipe(v.array(CredentialEntry), v.description("The credentials keyturn manages.")),
  }),
  v.title("keyturn config"),
  v.description("keyturn's deployment config: the credentials it manages and who hears about them."),
);
type KeyturnConfigEntry = v.InferOutput<typeof KeyturnConfigSchema>;

/** A credential's policy, as the functions get it pinned (functions/engine/pinned.ts). */
export type CredentialPolicy = PinnedPolicy;

export type SecretSourceConfig =
  | { kind: "create" }
  | { kind: "existing"; secretName: string; secretArn: string | undefined; kmsKeyArn: string | undefined };

export interface RotationConfig {
  /** A Secrets Manager ScheduleExpression. */
  scheduleExpression: string;
  /** The rotation window, such as "2h"; undefined for Secrets Manager's default. */
  window: string | undefined;
}

/** A credential as the stack, the sandbox and the CLI provision it. */
export interface CredentialConfig {
  name: string;
  provider: ProviderId;
  mode: ProviderMode;
  /** The secret's name: <secretNamePrefix><name>, or the existing secret's name. */
  secretName: string;
  description: string | undefined;
  /** The non-secret settings a consumer needs besides the key (region, base URL, tenant…). */
  settings: Record<string, unknown>;
  source: SecretSourceConfig;
  /** Secrets Manager's rotation schedule, for credentials keyturn mints. */
  rotation: RotationConfig | undefined;
  /** The credential that mints this one's successors. */
  issuer: { name: string; secretName: string } | undefined;
  policy: CredentialPolicy;
  /** IAM role ARNs of the applications that read it (and decrypt its tokens, for a refresh-mode credential). Default none. */
  consumers?: readonly string[];
}

/** Operators' IAM role ARNs, per command. */
export interface OperatorsConfig {
  put?: readonly string[];
  rotate?: readonly string[];
  revoke?: readonly string[];
}

/** Who may ask for an emergency revoke by event. */
export interface RevokeRequestersConfig {
  /** IAM role ARNs allowed to put "Revoke Requested" on the bus. */
  principals: readonly string[];
  /** The event sources whose "Revoke Requested" events run the revoke function. */
  sources: readonly string[];
}

/**
 * A config as `parseConfig` answers it: the schema's fields as written (their defaults applied),
 * the credentials normalized. The Keyturn construct's props have the same fields
 * (infra/keyturn.ts keyturnPropsFromConfig, which `tsc` holds to it).
 */
export type KeyturnConfig = Omit<KeyturnConfigEntry, "$schema" | "credentials"> & {
  credentials: CredentialConfig[];
};

export class InvalidConfigError extends Error {
  override readonly name = "InvalidConfigError";
  readonly retryable = false;
  /** One line per problem, each naming the credential (when there is one) and the field. */
  readonly problems: string[];

  constructor(source: string, problems: string[]) {
    super(
      `${source} is not a valid keyturn config:\n${problems.map((problem) => `  - ${problem}`).join("\n")}`,
    );
    this.problems = problems;
  }
}

/** Reads and validates a config file; a relative path is taken from the working directory (the project's, under cdk). */
export function loadConfig(path: string): KeyturnConfig {
  let textContent: string;
  try {
    textContent = readFileSync(path, "utf8");
  } catch (error) {
    throw new InvalidConfigError(path, [
      `the file cannot be read (${(error as Error).message}). Name the config file in cdk.json's context ` +
        `"${CONFIG_CONTEXT_KEY}", or pass -c ${CONFIG_CONTEXT_KEY}=path/to/keyturn.json.`,
    ]);
  }
  let json: unknown;
  try {
    json = JSON.parse(textContent);
  } catch (error) {
    throw new InvalidConfigError(path, [`the file is not JSON: ${(error as Error).message}.`]);
  }
  return parseConfig(json, path);
}

/** Validates a config already read as JSON. `source` names it in messages. */
export function parseConfig(json: unknown, source = "the keyturn config"): KeyturnConfig {
  const result = v.safeParse(KeyturnConfigSchema, json);
  if (!result.success)
    throw new InvalidConfigError(
      source,
      result.issues.map((issue) => describeIssue(issue, json)),
    );
  const config = result.output;
  const problems: string[] = [];
  const credentials = normalizeCredentials(config, problems);
  if (config.revokeRequesters?.sources.includes(EVENT_SOURCE)) {
    problems.push(
      `field "revokeRequesters.sources" lists "${EVENT_SOURCE}", keyturn's own event source, which only keyturn's ` +
        'functions and its operators may publish: give the requester a source of its own, such as "my.leak-scanner".',
    );
  }
  if ((rateMinutes(config.monitorSchedule ?? "") ?? 0) > MAX_MONITOR_INTERVAL_MINUTES) {
    problems.push(
      `field "monitorSchedule" is "${config.monitorSchedule}": sweep at least every 6 days, the longest interval ` +
        "the monitor's heartbeat alarm can watch (CloudWatch evaluates at most 7 days).",
    );
  }
  if ((rateMinutes(config.auditSchedule ?? "") ?? 0) > MAX_MONITOR_INTERVAL_MINUTES) {
    problems.push(
      `field "auditSchedule" is "${config.auditSchedule}": audit at least every 6 days. The due index holds each ` +
        "credential's next due time a week ahead; a later one is parked until an audit finds it within the week.",
    );
  }
  if (problems.length > 0) throw new InvalidConfigError(source, problems);
  const { $schema: _schema, credentials: _entries, ...fields } = config;
  return { ...fields, credentials };
}

/**
 * A credential as the deployment pins it for the functions (functions/engine/pinned.ts): its
 * identity, vendor endpoint and scope, and policy. The functions trust this, never the tags.
 */
export function pinnedCredential(credential: CredentialConfig): PinnedCredential {
  return {
    secretName: credential.secretName,
    ...(credential.source.kind === "existing" && credential.source.secretArn
      ? { secretArn: credential.source.secretArn }
      : {}),
    provider: credential.provider,
    ...(credential.issuer ? { issuer: credential.issuer.secretName } : {}),
    settings: { ...credential.settings },
    settingsFields: providerSettingsFields(credential.provider),
    policy: { ...credential.policy, expiryThresholds: [...credential.policy.expiryThresholds] },
  };
}

/** Every settings field a provider's config knows: a secret value may not carry them otherwise than pinned. */
export function providerSettingsFields(provider: ProviderId): string[] {
  return Object.keys(providerFor(provider).config.settings.entries);
}

/** The keyturn:* policy tags of a credential's secret: the mirror of what is pinned, for people and `keyturn status`. */
export function credentialTags(credential: CredentialConfig): Record<string, string> {
  return policyTags(pinnedCredential(credential));
}

/**
 * The value every created secret starts with: no key, and nothing from the config. CloudFormation
 * updates a secret's value whenever this property changes, which would replace a live key, so it
 * is a constant that no config change alters. The first `keyturn put` stores the key with the
 * settings a consumer needs, from the pinned config; until then the credential has no key to use
 * or rotate.
 */
export const INITIAL_SECRET_VALUE = JSON.stringify({
  keyturn: "awaiting its first key: keyturn put <credential>",
});

/** The mode of each provider, as its registry entry declares it. */
export function providerMode(provider: ProviderId): ProviderMode {
  return providerFor(provider).mode;
}

function normalizeCredentials(config: KeyturnConfigEntry, problems: string[]): CredentialConfig[] {
  const prefix = config.secretNamePrefix;
  const byName = new Map<string, CredentialEntry>();
  for (const entry of config.credentials) {
    if (byName.has(entry.name))
      problems.push(`credential "${entry.name}": field "name" is used by another credential too.`);
    byName.set(entry.name, entry);
  }
  const secretNames = new Map<string, string>();
  const normalized = config.credentials.map((entry) => {
    const say = (field: string, problem: string) =>
      problems.push(`credential "${entry.name}": field "${field}" ${problem}`);
    const source = secretSource(entry, prefix, say);
    const secretName = source.kind === "existing" ? source.secretName : `${prefix}${entry.name}`;
    const other = secretNames.get(secretName);
    if (other !== undefined && other !== entry.name) {
      say(
        source.kind === "existing" ? "secret.existing" : "name",
        `names secret "${secretName}", as credential "${other}" does.`,
      );
    }
    secretNames.set(secretName, entry.name);
    if (secretName.length > MAX_SECRET_NAME) {
      say(
        "name",
        `makes the secret name "${secretName}" ${secretName.length} characters long; keyturn's tags hold at most ${MAX_SECRET_NAME}.`,
      );
    }
    if (source.kind === "create" && /-[A-Za-z0-9]{6}$/.test(entry.name)) {
      say(
        "name",
        `ends with "-" and six characters, as Secrets Manager's own ARN suffix does, which makes partial ARNs ` +
          "ambiguous (AWS advises against it). Rename it, for example by dropping the hyphen.",
      );
    }
    const mode = providerMode(entry.provider);
    const rotation = mode === "automatic" ? rotationOf(entry, say) : undefined;
    const issuer =
      "issuer" in entry && entry.issuer !== undefined
        ? issuerOf(entry, entry.issuer, byName, prefix, say)
        : undefined;
    const policy: CredentialPolicy = {
      gracePeriod: entry.gracePeriod,
      expiryThresholds: entry.expiryThresholds,
      ...("keyLifetime" in entry ? { keyLifetime: entry.keyLifetime } : {}),
      ...("inUseWindow" in entry ? { inUseWindow: entry.inUseWindow, inUseLimit: entry.inUseLimit } : {}),
      ...("hardRevokeDelay" in entry ? { hardRevokeDelay: entry.hardRevokeDelay } : {}),
      ...("maxAge" in entry && entry.maxAge !== undefined ? { maxAge: entry.maxAge } : {}),
    };
    if (new Set(policy.expiryThresholds).size !== policy.expiryThresholds.length) {
      say("expiryThresholds", `lists a threshold twice (${policy.expiryThresholds.join(", ")}).`);
    }
    checkKeyLifetime(entry, policy, say);
    checkProviderSettings(entry, say);
    return {
      name: entry.name,
      provider: entry.provider,
      mode,
      secretName,
      description: entry.description,
      settings: { ...entry.settings },
      source,
      rotation,
      issuer,
      policy,
      consumers: entry.consumers,
    } satisfies CredentialConfig;
  });
  checkIssuerCycles(normalized, problems);
  return normalized;
}

type Say = (field: string, problem: string) => void;

function secretSource(entry: CredentialEntry, prefix: string, say: Say): SecretSourceConfig {
  if (entry.secret === undefined) return { kind: "create" };
  const { existing, kmsKey } = entry.secret;
  const arn = existing.startsWith("arn:") ? SECRET_ARN.exec(existing) : null;
  if (existing.startsWith("arn:") && !arn) {
    say(
      "secret.existing",
      `is "${existing}", not a complete secret ARN (arn:aws:secretsmanager:<region>:<account>:secret:<name>-<6 characters>); ` +
        "give the complete ARN or the secret's name.",
    );
  }
  const secretName = arn?.[1] ?? existing;
  if (!secretName.startsWith(prefix)) {
    say(
      "secret.existing",
      `names secret "${secretName}", which is outside secretNamePrefix "${prefix}": keyturn's functions may touch ` +
        "secrets in that folder only. Move the secret (create it anew under the prefix) or change the prefix.",
    );
  }
  return { kind: "existing", secretName, secretArn: arn ? existing : undefined, kmsKeyArn: kmsKey };
}

function rotationOf(
  entry: CredentialEntry & { rotateEvery?: string; schedule?: string; rotationWindow?: string },
  say: Say,
): RotationConfig | undefined {
  const { rotateEvery, schedule, rotationWindow } = entry;
  if (rotateEvery !== undefined && schedule !== undefined) {
    say("schedule", "is set together with rotateEvery: keep one of them.");
    return undefined;
  }
  if (rotateEvery === undefined && schedule === undefined) {
    say(
      "rotateEvery",
      `is missing: keyturn rotates ${entry.provider} credentials through Secrets Manager, so give rotateEvery ` +
        '(such as "30d") or schedule (such as "cron(0 4 1 * ? *)").',
    );
    return undefined;
  }
  let intervalMs: number | undefined;
  let expression: string;
  if (rotateEvery !== undefined) {
    intervalMs = parseDuration(rotateEvery) ?? 0;
    if (intervalMs % HOUR_MS !== 0 || intervalMs < MIN_ROTATION_MS || intervalMs > MAX_ROTATION_MS) {
      say(
        "rotateEvery",
        `is "${rotateEvery}": Secrets Manager rotates in whole hours, at most every 4 hours and at least every 1000 days ` +
          '(such as "12h" or "30d").',
      );
      return undefined;
    }
    expression =
      intervalMs % DAY_MS === 0
        ? `rate(${intervalMs / DAY_MS} ${intervalMs === DAY_MS ? "day" : "days"})`
        : `rate(${intervalMs / HOUR_MS} hours)`;
  } else {
    expression = schedule as string;
    const problem = scheduleProblem(expression);
    if (problem) {
      say("schedule", `is "${expression}": ${problem}`);
      return undefined;
    }
    intervalMs = rateMs(expression);
  }
  if (rotationWindow !== undefined && intervalMs !== undefined) {
    const windowMs = parseDuration(rotationWindow) ?? 0;
    if (windowMs >= intervalMs) {
      say(
        "rotationWindow",
        `is "${rotationWindow}", as long as the rotation interval or longer: a window must end before the next one starts.`,
      );
    }
  }
  return { scheduleExpression: expression, window: rotationWindow };
}

/** The interval of a rate() expression, in milliseconds; undefined for cron(). */
function rateMs(expression: string): number | undefined {
  const match = /^rate\((\d+) (hours?|days?)\)$/.exec(expression);
  if (!match) return undefined;
  return Number(match[1]) * (match[2]?.startsWith("hour") ? HOUR_MS : DAY_MS);
}

/** What Secrets Manager would refuse about a schedule expression, or undefined when it is fine. */
function scheduleProblem(expression: string): string | undefined {
  if (expression.startsWith("rate(")) {
    const ms = rateMs(expression);
    if (ms === undefined)
      return 'a rate must be a whole number of hours or days, such as "rate(12 hours)" or "rate(10 days)".';
    if (ms < MIN_ROTATION_MS || ms > MAX_ROTATION_MS) {
      return "Secrets Manager rotates at most every 4 hours and at least every 1000 days.";
    }
    return undefined;
  }
  const fields = expression.slice("cron(".length, -1).trim().split(/\s+/);
  if (fields.length !== 6) {
    return 'a cron expression has six fields: minutes hours day-of-month month day-of-week year, such as "cron(0 4 1 * ? *)".';
  }
  const [minutes, hours, dayOfMonth, , dayOfWeek] = fields as [
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  if (dayOfMonth !== "?" && dayOfWeek !== "?") return 'one of day-of-month and day-of-week must be "?".';
  if (!/^\d{1,2}$/.test(minutes) || Number(minutes) > 59) {
    return "the minutes field must be one minute (0 to 59): more would rotate more often than every 4 hours.";
  }
  if (hoursStep(hours) < 4) {
    return "the hours field would rotate more often than every 4 hours, Secrets Manager's minimum (use a single hour, a list 4 or more hours apart, or */4 and up).";
  }
  return undefined;
}

/** The smallest gap in hours between two runs a cron hours field allows (24 for a single hour). */
function hoursStep(field: string): number {
  if (field === "*" || field.includes("-")) return 1;
  const step = /^(\*|\d{1,2})\/(\d{1,2})$/.exec(field);
  if (step) return Number(step[2]);
  if (!/^\d{1,2}(,\d{1,2})*$/.test(field)) return 0;
  const hours = [...new Set(field.split(",").map(Number))].sort((a, b) => a - b);
  if (hours.some((hour) => hour > 23)) return 0;
  const gaps = hours.map((hour, index) => (hours[index + 1] ?? (hours[0] as number) + 24) - hour);
  return Math.min(...gaps);
}

function issuerOf(
  entry: CredentialEntry,
  issuerName: string,
  byName: Map<string, CredentialEntry>,
  prefix: string,
  say: Say,
): { name: string; secretName: string } | undefined {
  const issuer = byName.get(issuerName);
  if (issuerName === entry.name) {
    say(
      "issuer",
      "names the credential itself; leave issuer out for a credential that mints its own successors.",
    );
    return undefined;
  }
  if (!issuer) {
    say(
      "issuer",
      `is "${issuerName}", which is not a credential in this config (${[...byName.keys()].join(", ")}).`,
    );
    return undefined;
  }
  if (issuer.provider !== entry.provider) {
    say(
      "issuer",
      `is "${issuerName}", whose provider is ${issuer.provider}: an issuer mints keys of its own vendor, so it must be ` +
        `${entry.provider} too.`,
    );
    return undefined;
  }
  const secretName = issuer.secret
    ? (SECRET_ARN.exec(issuer.secret.existing)?.[1] ?? issuer.secret.existing)
    : `${prefix}${issuer.name}`;
  return { name: issuer.name, secretName };
}

function checkIssuerCycles(credentials: CredentialConfig[], problems: string[]): void {
  const issuers = new Map(credentials.map((credential) => [credential.name, credential.issuer?.name]));
  for (const credential of credentials) {
    const seen = new Set<string>([credential.name]);
    let next = credential.issuer?.name;
    while (next !== undefined) {
      if (seen.has(next)) {
        problems.push(
          `credential "${credential.name}": field "issuer" leads back to itself (${[...seen, next].join(" → ")}): ` +
            "some credential of the chain must mint its own successors.",
        );
        break;
      }
      seen.add(next);
      next = issuers.get(next);
    }
  }
}

/** What a provider's settings schema cannot say (`settingsProblems` in its folder's `config`). */
function checkProviderSettings(entry: CredentialEntry, say: Say): void {
  const { config } = providerFor(entry.provider);
  for (const { field, problem } of config.settingsProblems?.(entry.settings) ?? []) say(field, problem);
}

function checkKeyLifetime(entry: CredentialEntry, policy: CredentialPolicy, say: Say): void {
  if (policy.keyLifetime === undefined || policy.keyLifetime === "none") return;
  const rotateEvery = "rotateEvery" in entry ? entry.rotateEvery : undefined;
  const intervalMs = rotateEvery !== undefined ? parseDuration(rotateEvery) : undefined;
  const lifetimeMs = parseDuration(policy.keyLifetime);
  const graceMs = parseDuration(policy.gracePeriod);
  if (intervalMs === undefined || lifetimeMs === undefined || graceMs === undefined) return;
  if (lifetimeMs <= intervalMs + graceMs) {
    say(
      "keyLifetime",
      `is "${policy.keyLifetime}", not longer than rotateEvery "${rotateEvery}" plus gracePeriod "${policy.gracePeriod}": ` +
        "every key would expire before its successor's grace period ends. Make keyLifetime longer or rotate more often.",
    );
  }
}

/** One schema problem as a line naming the credential and the field. */
function describeIssue(issue: v.BaseIssue<unknown>, input: unknown): string {
  const keys = (issue.path ?? []).map((item) => item.key as string | number);
  let where = "";
  let fieldKeys = keys;
  let entry: { name?: unknown; provider?: unknown } | undefined;
  if (keys[0] === "credentials" && typeof keys[1] === "number") {
    entry = (input as { credentials?: { name?: unknown; provider?: unknown }[] }).credentials?.[keys[1]];
    where =
      typeof entry?.name === "string"
        ? `credential "${entry.name}"`
        : `credential #${keys[1] + 1} (credentials[${keys[1]}])`;
    fieldKeys = keys.slice(2);
  }
  const field = fieldKeys.reduce<string>(
    (path, key) => (typeof key === "number" ? `${path}[${key}]` : path ? `${path}.${key}` : key),
    "",
  );
  const subject = `${where ? `${where}: ` : ""}field "${field || "(the config)"}"`;
  if (issue.type === "strict_object" && issue.expected === "never") {
    const why = fieldKeys.length === 1 ? hint(String(fieldKeys[0]), entry?.provider) : "";
    return `${subject} is not a field keyturn knows here${why}.`;
  }
  if (issue.input === undefined) return `${subject} is missing.`;
  return `${subject} must be ${expectation(issue)}, got ${issue.received}.`;
}

/** Why a field is refused for this provider, when it is one that other providers take. */
function hint(field: string, provider: unknown): string {
  if (typeof provider !== "string" || !(provider in CredentialEntries)) return "";
  const mode = providerMode(provider as ProviderId);
  if (
    (field === "rotateEvery" || field === "schedule" || field === "rotationWindow" || field === "issuer") &&
    mode !== "automatic"
  ) {
    return `: ${provider} keys cannot be minted by API, so keyturn cannot rotate them on a schedule; use maxAge to be reminded when a person should replace one`;
  }
  if (field === "maxAge" && mode === "automatic") {
    return `: keyturn rotates ${provider} credentials itself; set rotateEvery or schedule instead`;
  }
  if (["keyLifetime", "inUseWindow", "inUseLimit", "hardRevokeDelay"].includes(field)) {
    return `: it does not apply to ${provider} keys`;
  }
  return "";
}

function expectation(issue: v.BaseIssue<unknown>): string {
  return issue.message.startsWith("Invalid ") ? (issue.expected ?? "something else") : issue.message;
}
