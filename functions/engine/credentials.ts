// Reading a managed credential: its identity and settings as the deployment pinned them
// (./pinned.ts; its tags only checked against them), its values parsed by its provider and
// checked against the pinned settings, and the authority that manages its keys at the vendor
// (its pinned issuer, or itself). Shared by the rotation protocol, the monitor, the refresh, the
// manual handover and the emergency revoke.

import type { EventPublisher } from "#aws/event-publisher.ts";
import type { KeyRecord, KeyRecords } from "#aws/record-store.ts";
import { CURRENT, type SecretDescription, type SecretStore } from "#aws/secret-store.ts";
import { rememberSecret } from "#http/redact.ts";
import { providerFor } from "#providers/registry.ts";
import { parseSecretJson } from "#providers/schema.ts";
import type { CredentialValue, Provider } from "#providers/types.ts";
import {
  AwaitingFirstKeyError,
  InvalidSecretError,
  InvalidSettingsError,
  RotationStateError,
} from "./errors.ts";
import { credentialTampered, type TamperedDuring } from "./events.ts";
import { logger } from "./logger.ts";
import {
  CredentialNotPinnedError,
  CredentialTamperedError,
  type PinnedCredential,
  type PinnedCredentials,
  policyTags,
  valueTampering,
} from "./pinned.ts";
import { type CredentialSettings, settingsFromTags, Tag } from "./settings.ts";

export interface ManagedCredential extends SecretDescription {
  settings: CredentialSettings;
  provider: Provider<CredentialValue>;
  pinned: PinnedCredential;
  /** The pinned identity of the issuer, when another credential mints this one's successors. */
  issuerPinned: PinnedCredential | undefined;
  /**
   * By secret name (the credential's and its issuer's): the settings keyturn's records say it
   * wrote values under (KeyRecord.written), once read (withWrittenSettings). A value carrying one
   * of them is keyturn's own write under an earlier config, not tampering.
   */
  written?: Readonly<Record<string, readonly Record<string, unknown>[]>>;
  /** Reads `written` for a secret when a value's settings differ from the pinned ones (see withWrittenSettings). */
  writtenOf?: (secretName: string) => Promise<readonly Record<string, unknown>[]>;
}

/**
 * The credential, able to tell a value keyturn wrote under an earlier config (case 10 of issue
 * 13): after a config change, such a value is still keyturn's own, and is acted on with the pinned
 * settings until the next rotation or handover writes them. The settings keyturn wrote under are in
 * its records (KeyRecord.written); they are read only when a value's settings differ from the
 * pinned ones, from `known` (records the caller has read: by secret name) or one GetItem.
 */
export function withWrittenSettings(
  records: KeyRecords,
  credential: ManagedCredential,
  known?: ReadonlyMap<string, KeyRecord | undefined>,
): ManagedCredential {
  return {
    ...credential,
    writtenOf: async (secretName) =>
      (known?.has(secretName) ? known.get(secretName) : await records.get(secretName))?.written ?? [],
  };
}

/**
 * parsePinned, and when the value's settings differ from the pinned ones, again knowing the
 * settings keyturn wrote the secret's values under (credential.writtenOf): a config change, not
 * tampering, when they are one of those.
 */
async function parseKnowingWritten(
  credential: ManagedCredential,
  pinned: PinnedCredential,
  secretString: string,
): Promise<CredentialValue> {
  try {
    return parsePinned(credential, pinned, secretString);
  } catch (error) {
    const { writtenOf } = credential;
    if (!(error instanceof CredentialTamperedError) || !writtenOf || credential.written?.[pinned.secretName])
      throw error;
    const written = { ...credential.written, [pinned.secretName]: await writtenOf(pinned.secretName) };
    return parsePinned({ ...credential, written }, pinned, secretString);
  }
}

/**
 * A secret as keyturn manages it: who it is and how it is handled come from the pinned
 * configuration; a secret that is not pinned (CredentialNotPinnedError) or whose tags differ
 * from it (CredentialTamperedError) is refused.
 */
export function managedCredential(
  description: SecretDescription,
  pinnedCredentials: PinnedCredentials,
): ManagedCredential {
  const pinned = pinnedCredentials.identify(description);
  const settings = settingsFromTags(pinned.secretName, policyTags(pinned));
  const issuerPinned =
    pinned.issuer === undefined ? undefined : pinnedCredentials.bySecretName(pinned.issuer);
  if (pinned.issuer !== undefined && !issuerPinned) {
    throw new CredentialNotPinnedError(
      `Credential "${pinned.secretName}" names issuer "${pinned.issuer}", which the deployment does not pin. ` +
        "Add the issuer to the config and deploy.",
      { credential: pinned.secretName },
    );
  }
  return { ...description, settings, provider: providerFor(settings.provider), pinned, issuerPinned };
}

/**
 * `value` with the settings the deployment pinned (and those the provider derives from them)
 * in place of its own, and without settings the config leaves out: what a successor is minted
 * from, and what is stored. A value never carries a scope of its own into a mint.
 */
export function withPinnedSettings<V extends object>(credential: ManagedCredential, value: V): V {
  return pinnedSettingsOf(credential.pinned, credential.provider, value);
}

/**
 * Key ids reach events, alerts and the vendors' UI steps: letters, digits, spaces and
 * ._:@+=- only, at most 128 characters, so that whoever writes a value cannot put a link or a
 * paragraph of their own into keyturn's alerts.
 */
const PLAIN_KEY_ID = /^[A-Za-z0-9 ._:@+=-]{1,128}$/;

export function assertPlainKeyId(credential: string, keyId: string): void {
  if (!PLAIN_KEY_ID.test(keyId)) {
    throw new InvalidSecretError(
      `Secret value of credential "${credential}": keyId (${keyId.length} characters) holds characters a key id ` +
        "never has (a key id is letters, digits, spaces and ._:@+=-, at most 128 characters). Fix the value " +
        "(keyturn put) and try again.",
      { credential },
    );
  }
}

/**
 * A value parsed by its provider, every secret in it (the provider's `secretsOf`) registered with
 * the redactor first: before anything could log it, and even when the provider refuses the value.
 * Every value keyturn reads or is handed goes through here.
 */
export function parseValue(
  provider: Provider<CredentialValue>,
  json: unknown,
  credential: string,
): CredentialValue {
  if (typeof json === "object" && json !== null) {
    for (const secret of provider.secretsOf(json)) rememberSecret(secret);
  }
  return provider.parse(json, credential);
}

/** One of the credential's own values, checked against its pinned settings and parsed. */
export function parseOwnValue(credential: ManagedCredential, secretString: string): CredentialValue {
  return parsePinned(credential, credential.pinned, secretString);
}

/** Parses a value of the credential (or of its issuer) after checking it against the pinned settings. */
function parsePinned(
  credential: ManagedCredential,
  pinned: PinnedCredential,
  secretString: string,
): CredentialValue {
  const name = pinned.secretName;
  const json = parseSecretJson(secretString, name);
  const provider = pinned === credential.pinned ? credential.provider : providerFor(pinned.provider);
  const fields =
    json !== null && typeof json === "object" && !Array.isArray(json)
      ? valueTampering(pinned, json as Record<string, unknown>, provider.settingDefaults?.(pinned.settings))
      : [];
  const earlier = fields.length > 0 ? writtenUnder(credential, pinned, provider, json) : undefined;
  if (fields.length > 0 && !earlier)
    throw new CredentialTamperedError(pinned, { tags: [], valueFields: fields });
  const value = parseValue(provider, json, name);
  assertPlainKeyId(name, value.keyId);
  if (!earlier) return value;
  // keyturn's own write under an earlier config: acted on with the pinned settings only.
  logger.info("the value holds settings of an earlier config; keyturn acts with the pinned ones", {
    credential: name,
    fields,
  });
  return pinnedSettingsOf(pinned, provider, value);
}

/**
 * Whether `json`'s settings are ones keyturn's records say it wrote the value under (an earlier
 * config's), so that its differences from the pinned settings are a config change, not someone
 * else's write. A value of another provider is never one.
 */
function writtenUnder(
  credential: ManagedCredential,
  pinned: PinnedCredential,
  provider: Provider<CredentialValue>,
  json: unknown,
): boolean {
  const written = credential.written?.[pinned.secretName] ?? [];
  const value = json as Record<string, unknown>;
  return written.some(
    (settings) =>
      valueTampering({ ...pinned, settings }, value, provider.settingDefaults?.(settings)).length === 0,
  );
}

/** `value` with `pinned`'s settings (and those its provider derives) in place of its own. */
function pinnedSettingsOf<V extends object>(
  pinned: PinnedCredential,
  provider: Provider<CredentialValue>,
  value: V,
): V {
  const expected: Record<string, unknown> = {
    ...provider.settingDefaults?.(pinned.settings),
    ...pinned.settings,
  };
  const result = { ...value } as Record<string, unknown>;
  for (const field of pinned.settingsFields) {
    if (expected[field] === undefined) delete result[field];
    else result[field] = expected[field];
  }
  return result as unknown as V;
}

/** A version of `secretId` (the credential's own secret unless another is named), parsed by its provider. */
export async function readValue(
  store: SecretStore,
  credential: ManagedCredential,
  which: { versionId: string } | { stage: string },
  secretId: string = credential.arn,
): Promise<CredentialValue | undefined> {
  const version = await store.read(secretId, which);
  if (!version) return undefined;
  const own = secretId === credential.arn || secretId === credential.pinned.secretName;
  const pinned = own ? credential.pinned : credential.issuerPinned;
  if (!pinned || pinned.secretName !== (own ? credential.pinned.secretName : secretId)) {
    throw new CredentialNotPinnedError(
      `Credential "${credential.settings.credential}": secret "${secretId}" is neither the credential nor its pinned issuer.`,
      { credential: credential.settings.credential },
    );
  }
  return await parseKnowingWritten(credential, pinned, version.secretString);
}

/** The stack creates a secret with the credential's settings only; its first key comes with `keyturn put`. */
export function isAwaitingFirstKey(secretString: string): boolean {
  try {
    const value = JSON.parse(secretString) as Record<string, unknown>;
    return (
      typeof value === "object" &&
      value !== null &&
      !Array.isArray(value) &&
      !("keyId" in value) &&
      !["token", "apiKey"].some((field) => field in value)
    );
  } catch {
    return false;
  }
}

export async function readCurrent(
  store: SecretStore,
  credential: ManagedCredential,
): Promise<CredentialValue> {
  const raw = await store.read(credential.arn, { stage: CURRENT });
  if (raw && isAwaitingFirstKey(raw.secretString)) {
    const name = credential.settings.credential;
    // A value without a key is what the stack creates, with the pinned settings. With other
    // settings, or once keyturn has stored a key (the tags mirror it), it is someone else's:
    // silencing the sweep for a credential by writing it a keyless value is tampering.
    const fields = valueTampering(
      credential.pinned,
      JSON.parse(raw.secretString) as Record<string, unknown>,
      credential.provider.settingDefaults?.(credential.pinned.settings),
    );
    if (credential.tags[Tag.keyId] || credential.tags[Tag.rotatedVersion]) fields.push("keyId");
    if (fields.length > 0)
      throw new CredentialTamperedError(credential.pinned, { tags: [], valueFields: fields });
    throw new AwaitingFirstKeyError(
      `Credential "${name}" has no key yet: the stack created it with its settings only. ` +
        `Store its first key with "keyturn put ${name}".`,
      { credential: name },
    );
  }
  if (!raw) {
    throw new RotationStateError(
      `Credential "${credential.settings.credential}" has no AWSCURRENT value. Store the first key with keyturn put.`,
      { credential: credential.settings.credential },
    );
  }
  return await parseKnowingWritten(credential, credential.pinned, raw.secretString);
}

/**
 * The credential that manages this one's keys at the vendor: the issuer named in its tags,
 * or its own current key. `current` is used when it has already been read.
 */
export async function readAuthority(
  store: SecretStore,
  credential: ManagedCredential,
  current?: CredentialValue,
): Promise<CredentialValue> {
  const issuer = credential.settings.issuer;
  if (!issuer) return current ?? (await readCurrent(store, credential));
  const authority = await readValue(store, credential, { stage: CURRENT }, issuer);
  if (!authority) {
    throw new InvalidSettingsError(
      `Credential "${credential.settings.credential}" names issuer "${issuer}", which has no AWSCURRENT value. ` +
        "Store the issuer's key first (keyturn put), or remove the issuer from the credential's config to let it mint its own successor.",
      { credential: credential.settings.credential },
    );
  }
  return authority;
}

/**
 * Publishes "Credential Tampered" (critical) when `error` is tampering, for whoever caught it;
 * any other error is left to its own report. Never throws: the caller is already failing.
 */
export async function reportTampering(
  publisher: EventPublisher,
  error: unknown,
  secretArn: string,
  during: TamperedDuring,
): Promise<void> {
  if (!(error instanceof CredentialTamperedError)) return;
  const ref = { credential: error.credential, provider: error.provider, secretArn };
  logger.error("credential tampered: keyturn did not act on it", { ...ref, ...error.tampering, during });
  await publisher
    .publish([credentialTampered(ref, { ...error.tampering, during })])
    .catch((publishError: unknown) =>
      logger.error("could not publish Credential Tampered", { error: publishError }),
    );
}

/**
 * The current value's key id, as one keyturn may act on: a key in the credential's record, or,
 * the first time keyturn handles a credential that has no record yet, the key it finds current
 * (recorded now). A current key keyturn never stored means someone else wrote the value: that
 * is tampering, and the key id is not believed (it could name anyone's key).
 */
export async function claimCurrentKey(
  records: KeyRecords,
  credential: ManagedCredential,
  keyId: string,
): Promise<void> {
  const name = credential.settings.credential;
  const keys = await records.keysOf(name);
  if (keys === undefined) {
    await records.addKeys(name, [keyId], credential.pinned);
    return;
  }
  if (!keys.has(keyId))
    throw new CredentialTamperedError(credential.pinned, { tags: [], valueFields: ["keyId"] });
}
