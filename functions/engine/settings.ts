// A credential's policy and bookkeeping as `keyturn:*` tags on its secret. The stack writes
// the policy tags from the config; the engine mirrors non-secret facts (key id, expiry,
// revocation time) so that the monitor can decide from ListSecrets pages alone.

import { isProviderId } from "#providers/registry.ts";
import type { ProviderId } from "#providers/types.ts";
import {
  DEFAULT_EXPIRY_THRESHOLDS,
  DEFAULT_GRACE_PERIOD,
  DEFAULT_HARD_REVOKE_DELAY,
  DEFAULT_IN_USE_LIMIT,
  DEFAULT_IN_USE_WINDOW,
  DEFAULT_KEY_LIFETIME,
} from "./defaults.ts";
import { parseDuration } from "./duration.ts";
import { InvalidSettingsError } from "./errors.ts";

export const Tag = {
  credential: "keyturn:credential",
  provider: "keyturn:provider",
  issuer: "keyturn:issuer",
  gracePeriod: "keyturn:grace-period",
  keyLifetime: "keyturn:key-lifetime",
  keyId: "keyturn:key-id",
  expiresAt: "keyturn:expires-at",
  rotatedAt: "keyturn:rotated-at",
  rotatedVersion: "keyturn:rotated-version",
  previousKeyId: "keyturn:previous-key-id",
  revokeAfter: "keyturn:revoke-after",
  /** "active" (or absent), "disabled" (soft-revoked, to be deleted at delete-after) or "revoked". */
  previousState: "keyturn:previous-state",
  deleteAfter: "keyturn:delete-after",
  postponements: "keyturn:postponements",
  inUseWindow: "keyturn:in-use-window",
  inUseLimit: "keyturn:in-use-limit",
  hardRevokeDelay: "keyturn:hard-revoke-delay",
  reconciledAt: "keyturn:reconciled-at",
  /** Policy: when to warn before expiry, e.g. "30d,7d,1d". */
  expiryThresholds: "keyturn:expiry-thresholds",
  /** The last expiry notice sent: "<keyId>@<threshold>" or "<keyId>@expired". */
  expiryNotice: "keyturn:expiry-notice",
  /** An AWSPENDING version first seen by the monitor: "<versionId>@<ISO time>". */
  pendingSeen: "keyturn:pending-seen",
  /** When the current key was obtained (mirrored from the value). */
  issuedAt: "keyturn:issued-at",
  /** Policy for keys a person replaces: the longest a key may live, e.g. "90d". */
  maxAge: "keyturn:max-age",
  /** The last "Manual Rotation Required" reminder: "<reason>@<ISO time>" (at most one a day per reason). */
  manualReminder: "keyturn:manual-reminder",
} as const;

export interface CredentialSettings {
  credential: string;
  provider: ProviderId;
  /** Secret id of the credential that mints this one's successors; undefined when it mints its own. */
  issuer: string | undefined;
  gracePeriodMs: number;
  /** How long a minted key lives at the vendor; undefined for no expiry. */
  keyLifetimeMs: number | undefined;
  /** A previous key the vendor saw used this recently is not revoked yet. */
  inUseWindowMs: number;
  /** How many sweeps may postpone a revocation because the key is in use, before it is revoked anyway. */
  inUseLimit: number;
  /** For vendors that can disable a key: how long it stays disabled before it is deleted. */
  hardRevokeDelayMs: number;
  /** Expiry warning thresholds, largest first, each with its text ("7d") and milliseconds. */
  expiryThresholds: { text: string; ms: number }[];
  /** Keys a person replaces: due once older than this; undefined for no age limit. */
  maxAgeMs: number | undefined;
}

function duration(tags: Record<string, string>, tag: string, fallback: string, credential: string): number {
  const text = tags[tag] ?? fallback;
  const ms = parseDuration(text);
  if (ms === undefined || ms <= 0) {
    throw new InvalidSettingsError(
      `Credential "${credential}": tag ${tag} is "${text}", expected a duration such as 30m, 24h or 90d.`,
      { credential },
    );
  }
  return ms;
}

export function settingsFromTags(secretName: string, tags: Record<string, string>): CredentialSettings {
  const credential = tags[Tag.credential] || secretName;
  const provider = tags[Tag.provider];
  if (!provider || !isProviderId(provider)) {
    throw new InvalidSettingsError(
      `Credential "${credential}": tag ${Tag.provider} is ${provider ? `"${provider}", not a known provider` : "missing"}. ` +
        "Secrets managed by keyturn carry the provider id the stack wrote from the config.",
      { credential },
    );
  }
  const lifetime = tags[Tag.keyLifetime];
  const limitText = tags[Tag.inUseLimit] ?? String(DEFAULT_IN_USE_LIMIT);
  if (!/^\d+$/.test(limitText)) {
    throw new InvalidSettingsError(
      `Credential "${credential}": tag ${Tag.inUseLimit} is "${limitText}", expected a whole number of sweeps such as 24.`,
      { credential },
    );
  }
  return {
    credential,
    provider,
    issuer: tags[Tag.issuer] || undefined,
    gracePeriodMs: duration(tags, Tag.gracePeriod, DEFAULT_GRACE_PERIOD, credential),
    keyLifetimeMs:
      lifetime === "none" ? undefined : duration(tags, Tag.keyLifetime, DEFAULT_KEY_LIFETIME, credential),
    inUseWindowMs: duration(tags, Tag.inUseWindow, DEFAULT_IN_USE_WINDOW, credential),
    inUseLimit: Number(limitText),
    hardRevokeDelayMs: duration(tags, Tag.hardRevokeDelay, DEFAULT_HARD_REVOKE_DELAY, credential),
    expiryThresholds: thresholds(tags[Tag.expiryThresholds] ?? DEFAULT_EXPIRY_THRESHOLDS, credential),
    maxAgeMs: tags[Tag.maxAge] ? duration(tags, Tag.maxAge, "", credential) : undefined,
  };
}

function thresholds(text: string, credential: string): { text: string; ms: number }[] {
  const parsed = text
    .split(",")
    .map((part) => part.trim())
    .filter((part) => part.length > 0)
    .map((part) => ({ text: part, ms: parseDuration(part) }));
  const invalid = parsed.find((threshold) => threshold.ms === undefined || threshold.ms <= 0);
  if (invalid || parsed.length === 0) {
    throw new InvalidSettingsError(
      `Credential "${credential}": tag ${Tag.expiryThresholds} is "${text}", expected durations separated by ` +
        'commas such as "30d,7d,1d".',
      { credential },
    );
  }
  return parsed.map((t) => ({ text: t.text, ms: t.ms as number })).sort((a, b) => b.ms - a.ms);
}
