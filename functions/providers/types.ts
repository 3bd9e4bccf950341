// The contract between the engine and a vendor. A provider builds vendor requests and
// parses answers; it never touches AWS, and the engine never knows a vendor's URL. A provider
// is one folder (functions/providers/<id>/) that owns everything about its vendor: the settings
// the deployment config takes (infra/config.ts composes them), the secret's schema, what the
// redactor must blank, how the vendor's error bodies read, and the UI steps a person follows.
// Adding a vendor is that folder, its simulator (sandbox/simulators/) and one line in ./registry.ts.

import type * as v from "valibot";
import type { HttpClient } from "#http/client.ts";
import type { RedactionRules } from "#http/redact.ts";

/** Every vendor keyturn knows. Adding one here without a registry entry does not compile. */
export type ProviderId = "immuta-request" | "softwareone" | "everflow" | "incorta-v1" | "incorta-v2";

export type ProviderMode = "automatic" | "manual" | "refresh";

/** What every credential's secret JSON has, whatever the vendor. */
export interface CredentialValue {
  provider: ProviderId;
  /** The vendor's id of the key (never the key itself). */
  keyId: string;
  /** When keyturn (or the operator) obtained the key, ISO 8601. */
  issuedAt?: string | undefined;
  /** When the vendor stops accepting the key, ISO 8601; absent or null for no expiry. */
  expiresAt?: string | null | undefined;
  /**
   * The key this one replaced, revoked by the sweep once its grace period has passed. The
   * `keyturn:revoke-after` tag, written when the rotation finishes, is authoritative;
   * this copy, written when the successor was minted, is the earliest it may happen.
   */
  previous?: { keyId: string; revokeAfter?: string | undefined } | undefined;
}

export interface ProviderContext {
  /** The credential's name, for messages and markers. */
  credential: string;
  http: HttpClient;
  now(): Date;
}

export interface IssueRequest {
  /** Tracking marker to store with the key at the vendor, so an orphan can be found by listing. */
  marker: string;
  /** When the new key should expire at the vendor, from the credential's policy; undefined for none. */
  expiresAt: Date | undefined;
}

export interface IssuedKey {
  keyId: string;
  marker?: string | undefined;
  /** Accepted by the vendor now (a disabled key is not active, but is not gone either). */
  active: boolean;
  createdAt?: Date | undefined;
  lastUsedAt?: Date | undefined;
  expiresAt?: Date | undefined;
}

export type RevokeStrength = "soft" | "hard";

/**
 * Short-lived tokens minted from a long-lived key (Incorta v1). Times are absolute, epoch
 * milliseconds, as the vendor answers them: never lifetimes assumed by keyturn.
 */
export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  /** The token type the vendor states (e.g. "Bearer"). */
  type: string;
  accessTokenExpiresAt: number;
  refreshTokenExpiresAt: number;
}

export interface TokenMinter<S> {
  /** A new pair from the credential's key. */
  mint(value: S, ctx: ProviderContext): Promise<TokenPair>;
  /** The next pair from the current one. The vendor invalidates `pair` when it answers. */
  refresh(value: S, pair: TokenPair, ctx: ProviderContext): Promise<TokenPair>;
  /** The secret strings inside a pair, for redaction. */
  secretsOf(pair: TokenPair): string[];
}

/**
 * What the deployment config (infra/config.ts) takes for a provider's credentials, besides the
 * fields every credential has and those its mode and capabilities bring (rotateEvery for an
 * automatic provider, maxAge for a manual one, inUseWindow for one with `lastUsed`,
 * hardRevokeDelay for "soft-then-hard" revocation). Descriptions become the config reference.
 */
export interface ProviderConfig {
  /** One sentence for the config reference: what the credential is, and who replaces it. */
  readonly description: string;
  /**
   * The settings a consumer needs besides the key (region, base URL, tenant…), pinned by the
   * deployment and copied into the secret's value: a strict object with a description on every
   * field, and no check the JSON Schema cannot express (those go in `settingsProblems`). When
   * every field is optional, the config may leave `settings` out.
   */
  readonly settings: v.StrictObjectSchema<v.ObjectEntries, undefined>;
  /** The keys keyturn mints can be given an expiry: the config takes keyLifetime. */
  readonly keyLifetime?: boolean;
  /**
   * What the settings schema cannot say (a rule across fields), each problem naming its field
   * ("settings.clusterUrl") and saying what to do. Called on settings the schema accepted.
   */
  settingsProblems?(settings: Readonly<Record<string, unknown>>): { field: string; problem: string }[];
}

export interface Provider<S extends CredentialValue = CredentialValue> {
  /** The `provider` field of its secrets, so that the registry can check each entry is keyed by its own id. */
  readonly id: S["provider"];
  /** The vendor's name as people know it, for messages. */
  readonly vendor: string;
  readonly mode: ProviderMode;
  /**
   * "soft-then-hard": the vendor can disable a key reversibly before deleting it, and the
   * sweep does so in two periods. "hard-only": a soft revoke deletes too.
   */
  readonly revocation: "soft-then-hard" | "hard-only";
  /** Validates a secret's JSON value; throws InvalidSecretError naming the field and the fix. */
  parse(value: unknown, credential: string): S;
  /**
   * The settings this provider writes into values that the config left out, derived from the
   * config's own (Immuta's base URL from the region): a value may carry them, and nothing else.
   */
  settingDefaults?(settings: Readonly<Record<string, unknown>>): Record<string, unknown>;
  /** What the deployment config takes for this provider's credentials. */
  readonly config: ProviderConfig;
  /**
   * The vendor's sensitive header and field names and the shapes of its secrets, added to the
   * redactor's rules (functions/http/redact.ts) by the registry.
   */
  readonly redaction?: RedactionRules;
  /**
   * The vendor's error body in one short line, for the message of a refused call (the provider
   * passes it with each request). Default: the HTTP client's, for RFC 7807 and OAuth-style bodies.
   */
  summarizeProblem?(problem: unknown): string;
  /**
   * Every secret string inside a value, so that redaction can blank it wherever it shows up. The
   * engine calls it once for every value it reads, before `parse` (functions/engine/credentials.ts),
   * so that a value parse refuses is covered too: it takes any object and returns the strings it
   * finds where the vendor's secrets belong (`secretFields` in ./schema.ts).
   */
  secretsOf(value: object): string[];
  /** Checks that a key works with one cheap authenticated call that changes nothing. */
  verify(candidate: S, ctx: ProviderContext): Promise<void>;
  expiresAt(value: S): Date | undefined;
  /**
   * Mints a successor of `template` at the vendor, authenticated as `authority` (the
   * credential itself when it issues its own successor, or its issuer credential). The
   * engine, not the provider, records what the successor replaces (`previous`).
   */
  issue?(authority: S, template: S, request: IssueRequest, ctx: ProviderContext): Promise<S>;
  /** Revokes a key; a key the vendor no longer knows is "already-gone", not an error. */
  revoke?(
    keyId: string,
    authority: S,
    how: RevokeStrength,
    ctx: ProviderContext,
  ): Promise<"revoked" | "already-gone">;
  /** The keys `authority` can see at the vendor, with the markers keyturn stored on them. */
  listIssued?(authority: S, ctx: ProviderContext): AsyncIterable<IssuedKey>;
  /**
   * When the vendor last saw the key used (null: never), or "gone" when it no longer knows
   * the key. Only for vendors that report last use; the sweep then postpones revoking a
   * key still in use.
   */
  lastUsed?(keyId: string, authority: S, ctx: ProviderContext): Promise<Date | null | "gone">;
  /**
   * For keys only a person can replace ("manual" and "refresh" modes): the vendor's web UI
   * steps to create the new key and to revoke the old one, written out for the
   * "Manual Rotation Required" event and the CLI.
   */
  manualSteps?(value: S): { create: string[]; revoke: string[] };
  /** For "refresh" providers: minting and refreshing the short-lived tokens. */
  tokens?: TokenMinter<S>;
}

/** A provider that can mint and revoke by API: what the rotation protocol needs. */
export type AutomaticProvider<S extends CredentialValue = CredentialValue> = Provider<S> &
  Required<Pick<Provider<S>, "issue" | "revoke" | "listIssued">>;

export function isAutomatic<S extends CredentialValue>(
  provider: Provider<S>,
): provider is AutomaticProvider<S> {
  return (
    provider.mode === "automatic" &&
    provider.issue !== undefined &&
    provider.revoke !== undefined &&
    provider.listIssued !== undefined
  );
}
