// What keyturn manages, and how, as the deployment pinned it (docs/architecture.md, "Pinned at
// deploy, mirrored in tags" and "Trusted and untrusted input").
// The stack builds this document from the validated config and bakes it into every function's
// code at synth (infra/keyturn-function.ts), so that only a deployment can change it; the
// sandbox and the tests hand it to the handlers directly. The functions read who a credential is
// (name, provider, issuer), where its vendor is and what its keys may do (settings: region,
// account, modules, cluster, tenant…) and its policy from here, never from a secret's tags or
// value: anyone allowed to tag or write one secret could change those. Tags stay a mirror for
// people and `keyturn status`; a tag or a value that disagrees with this document is tampering
// (CredentialTamperedError), and keyturn does not act on that credential.

import * as v from "valibot";
import type { SecretDescription } from "#aws/secret-store.ts";
import { PROVIDER_IDS } from "#providers/registry.ts";
import type { ProviderId } from "#providers/types.ts";
import { InvalidSettingsError, KeyturnError } from "./errors.ts";
import { Tag } from "./settings.ts";

/** A credential's policy, as durations in the config's grammar ("24h", "90d"). */
export interface PinnedPolicy {
  gracePeriod: string;
  expiryThresholds: string[];
  keyLifetime?: string;
  inUseWindow?: string;
  inUseLimit?: number;
  hardRevokeDelay?: string;
  maxAge?: string;
}

export interface PinnedCredential {
  /** The secret's name; Secrets Manager never renames a secret. Events name the credential by it. */
  secretName: string;
  /** The secret's complete ARN, where the config named an existing secret by it. */
  secretArn?: string;
  provider: ProviderId;
  /** The secret name of the credential whose key mints this one's successors. */
  issuer?: string;
  /** The vendor endpoint and scope the config gives (region, account, modules, cluster, tenant…). */
  settings: Record<string, unknown>;
  /**
   * Every settings field the provider's config knows. A secret value's field of these names must
   * equal the pinned setting, absent included: a value cannot add a base URL or a module.
   */
  settingsFields: string[];
  policy: PinnedPolicy;
}

const duration = v.pipe(v.string(), v.regex(/^\d+[smhd]$/));
const PinnedCredentialSchema = v.strictObject({
  secretName: v.pipe(v.string(), v.minLength(1)),
  secretArn: v.optional(v.pipe(v.string(), v.startsWith("arn:"))),
  provider: v.picklist(PROVIDER_IDS),
  issuer: v.optional(v.pipe(v.string(), v.minLength(1))),
  settings: v.record(v.string(), v.unknown()),
  settingsFields: v.array(v.string()),
  policy: v.strictObject({
    gracePeriod: duration,
    expiryThresholds: v.array(duration),
    keyLifetime: v.optional(v.union([duration, v.literal("none")])),
    inUseWindow: v.optional(duration),
    inUseLimit: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
    hardRevokeDelay: v.optional(duration),
    maxAge: v.optional(duration),
  }),
});
const PinnedDocumentSchema = v.strictObject({
  version: v.literal(1),
  credentials: v.array(PinnedCredentialSchema),
});
export type PinnedDocument = v.InferOutput<typeof PinnedDocumentSchema>;

/** The policy tags the stack writes on a credential's secret: the mirror of its pinned identity. */
export function policyTags(pinned: PinnedCredential): Record<string, string> {
  const { policy } = pinned;
  const optional: [string, string | number | undefined][] = [
    [Tag.issuer, pinned.issuer],
    [Tag.keyLifetime, policy.keyLifetime],
    [Tag.inUseWindow, policy.inUseWindow],
    [Tag.inUseLimit, policy.inUseLimit],
    [Tag.hardRevokeDelay, policy.hardRevokeDelay],
    [Tag.maxAge, policy.maxAge],
  ];
  return {
    [Tag.provider]: pinned.provider,
    [Tag.credential]: pinned.secretName,
    [Tag.gracePeriod]: policy.gracePeriod,
    [Tag.expiryThresholds]: policy.expiryThresholds.join(","),
    ...Object.fromEntries(
      optional
        .filter((entry): entry is [string, string | number] => entry[1] !== undefined)
        .map(([tag, value]) => [tag, String(value)]),
    ),
  };
}

/** Every tag that carries identity or policy: none may differ from what the deployment pinned. */
const POLICY_TAGS: readonly string[] = [
  Tag.credential,
  Tag.provider,
  Tag.issuer,
  Tag.gracePeriod,
  Tag.keyLifetime,
  Tag.inUseWindow,
  Tag.inUseLimit,
  Tag.hardRevokeDelay,
  Tag.expiryThresholds,
  Tag.maxAge,
];

/** What differs between a secret and its pinned identity: names of tags and value fields, never their values. */
export interface Tampering {
  tags: string[];
  valueFields: string[];
}

/** A secret's tags or value disagree with what the deployment pinned; keyturn did not act on it. */
export class CredentialTamperedError extends KeyturnError {
  override name = "CredentialTamperedError";
  readonly tampering: Tampering;
  readonly provider: ProviderId;

  constructor(pinned: PinnedCredential, tampering: Tampering) {
    const credential = pinned.secretName;
    const parts = [
      tampering.tags.length > 0 ? `tags ${tampering.tags.join(", ")}` : "",
      tampering.valueFields.length > 0 ? `value fields ${tampering.valueFields.join(", ")}` : "",
    ].filter(Boolean);
    super(
      `Credential "${credential}": ${parts.join(" and ")} differ from what the deployment pinned, so keyturn did not ` +
        "act on it. Someone other than keyturn changed the secret: find who in CloudTrail (TagResource, " +
        "PutSecretValue), restore what the config says (redeploy, or `keyturn put` for a value), and change " +
        "settings in the config, never on the secret.",
      { credential, retryable: false },
    );
    this.tampering = tampering;
    this.provider = pinned.provider;
  }
}

/** The secret is not one the deployment pinned: keyturn does not act on it. */
export class CredentialNotPinnedError extends InvalidSettingsError {
  override name = "CredentialNotPinnedError";
}

/** The pinned credentials, by secret name; read once per cold start. */
export class PinnedCredentials {
  readonly #bySecretName = new Map<string, PinnedCredential>();

  constructor(credentials: readonly PinnedCredential[] = []) {
    for (const credential of credentials) this.pin(credential);
  }

  /** Reads the document the stack built, checked against its schema. */
  static fromDocument(document: unknown): PinnedCredentials {
    const result = v.safeParse(PinnedDocumentSchema, document);
    if (!result.success) {
      throw new Error(
        `keyturn's pinned configuration is malformed (${result.issues
          .map((issue) => `${v.getDotPath(issue) ?? "document"}: ${issue.message}`)
          .slice(0, 5)
          .join("; ")}). Redeploy the stack.`,
      );
    }
    return new PinnedCredentials(result.output.credentials);
  }

  /** Adds a credential (the stack's document, the sandbox's provisioning, a test's world). */
  pin(credential: PinnedCredential): void {
    this.#bySecretName.set(credential.secretName, credential);
  }

  get size(): number {
    return this.#bySecretName.size;
  }

  all(): PinnedCredential[] {
    return [...this.#bySecretName.values()];
  }

  bySecretName(secretName: string): PinnedCredential | undefined {
    return this.#bySecretName.get(secretName);
  }

  /**
   * The pinned identity of a secret, checked against its tags: a secret that is not pinned, or
   * whose ARN is not the pinned one, is not keyturn's to act on; a policy tag that differs is
   * tampering. Tags the stack has not written yet (absent) are not tampering: the mirror lags a
   * deployment, never leads it.
   */
  identify(description: SecretDescription): PinnedCredential {
    const pinned = this.#bySecretName.get(description.name);
    if (!pinned || (pinned.secretArn !== undefined && pinned.secretArn !== description.arn)) {
      const named = description.tags[Tag.credential] || description.name;
      throw new CredentialNotPinnedError(
        `Secret "${description.name}" (tagged as credential "${named}") is not a credential this keyturn deployment ` +
          "manages, so keyturn does not act on it whatever its tags say. Add it to the config and deploy.",
        { credential: named },
      );
    }
    const expected = policyTags(pinned);
    const tags = POLICY_TAGS.filter((tag) => {
      const found = description.tags[tag];
      return found !== undefined && found !== (expected[tag] ?? "");
    });
    if (tags.length > 0) throw new CredentialTamperedError(pinned, { tags, valueFields: [] });
    return pinned;
  }
}

/**
 * The value fields that differ from the pinned settings (names only), and the provider field. A
 * field the value leaves out is no difference: the provider then uses its own default, at the
 * vendor's own host. `defaults` are the settings the provider derives from the pinned ones.
 */
export function valueTampering(
  pinned: PinnedCredential,
  value: Record<string, unknown>,
  defaults: Record<string, unknown> = {},
): string[] {
  const expected = { ...defaults, ...pinned.settings };
  const differing = pinned.settingsFields.filter(
    (field) => value[field] !== undefined && !sameJson(value[field], expected[field]),
  );
  if (value.provider !== undefined && value.provider !== pinned.provider) differing.unshift("provider");
  return differing;
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** The pinned document from the config's JSON (for the stack, which encodes it into the functions). */
export function pinnedDocument(credentials: readonly PinnedCredential[]): PinnedDocument {
  return { version: 1, credentials: credentials.map((credential) => ({ ...credential })) };
}
