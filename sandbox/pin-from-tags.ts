// For the tests and the bad-input corpus, which set up credentials as secrets with tags: the
// pinned identity a deployment would have built from a config saying what those tags and that
// value say (the tags the stack would write, the settings the value holds). Never used by the
// functions: in AWS the pinned configuration comes from the config at deploy
// (functions/handlers/pinned.ts), and tags are never read back as authority.

import { DEFAULT_EXPIRY_THRESHOLDS, DEFAULT_GRACE_PERIOD } from "#engine/defaults.ts";
import type { PinnedCredential, PinnedPolicy } from "#engine/pinned.ts";
import { Tag } from "#engine/settings.ts";
import { isProviderId } from "#providers/registry.ts";
import { providerSettingsFields } from "../infra/config.ts";

/** The credential a config would declare for a secret created with these tags and this value; undefined without a provider tag. */
export function pinnedFromTags(
  secretName: string,
  value: string | object,
  tags: Record<string, string>,
): PinnedCredential | undefined {
  const provider = tags[Tag.provider];
  if (!provider || !isProviderId(provider)) return undefined;
  const settingsFields = providerSettingsFields(provider);
  const json = typeof value === "string" ? parseObject(value) : (value as Record<string, unknown>);
  const settings = Object.fromEntries(
    settingsFields.filter((field) => json[field] !== undefined).map((field) => [field, json[field]]),
  );
  const optional = (tag: string) => (tags[tag] === undefined ? undefined : tags[tag]);
  const limit = optional(Tag.inUseLimit);
  const policy: PinnedPolicy = {
    gracePeriod: tags[Tag.gracePeriod] ?? DEFAULT_GRACE_PERIOD,
    expiryThresholds: (tags[Tag.expiryThresholds] ?? DEFAULT_EXPIRY_THRESHOLDS).split(","),
    ...definedEntries({
      keyLifetime: optional(Tag.keyLifetime),
      inUseWindow: optional(Tag.inUseWindow),
      // A malformed limit stays as written, so that the engine's message quotes it.
      inUseLimit:
        limit === undefined ? undefined : /^\d+$/.test(limit) ? Number(limit) : (limit as unknown as number),
      hardRevokeDelay: optional(Tag.hardRevokeDelay),
      maxAge: optional(Tag.maxAge),
    }),
  };
  return {
    secretName,
    provider,
    ...(tags[Tag.issuer] ? { issuer: tags[Tag.issuer] } : {}),
    settings,
    settingsFields,
    policy,
  };
}

function parseObject(text: string): Record<string, unknown> {
  try {
    const json: unknown = JSON.parse(text);
    return json !== null && typeof json === "object" && !Array.isArray(json)
      ? (json as Record<string, unknown>)
      : {};
  } catch {
    return {};
  }
}

function definedEntries<T extends Record<string, unknown>>(record: T): Partial<T> {
  return Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined)) as Partial<T>;
}
