// Reading a managed credential: its settings from tags, its values parsed by its provider,
// and the authority that manages its keys at the vendor (its issuer, or itself). Shared by
// the rotation protocol, the revocation sweep and the emergency revoke.

import { CURRENT, type SecretDescription, type SecretStore } from "#aws/secret-store.ts";
import { providerFor } from "#providers/registry.ts";
import { parseSecretJson } from "#providers/schema.ts";
import type { CredentialValue, Provider } from "#providers/types.ts";
import { AwaitingFirstKeyError, InvalidSettingsError, RotationStateError } from "./errors.ts";
import { type CredentialSettings, settingsFromTags } from "./settings.ts";

export interface ManagedCredential extends SecretDescription {
  settings: CredentialSettings;
  provider: Provider<CredentialValue>;
}

export function managedCredential(description: SecretDescription): ManagedCredential {
  const settings = settingsFromTags(description.name, description.tags);
  return { ...description, settings, provider: providerFor(settings.provider) };
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
  const name = secretId === credential.arn ? credential.settings.credential : secretId;
  return credential.provider.parse(parseSecretJson(version.secretString, name), name);
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
  const name = credential.settings.credential;
  return credential.provider.parse(parseSecretJson(raw.secretString, name), name);
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
        "Create the issuer credential first, or remove the keyturn:issuer tag to let the credential mint its own successor.",
      { credential: credential.settings.credential },
    );
  }
  return authority;
}
