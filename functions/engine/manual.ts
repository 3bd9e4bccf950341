// Keys only a person can replace (docs/architecture.md, "Manual rotation"): Everflow, Incorta v2
// PATs, Incorta v1 API keys. keyturn cannot mint them, so it does the rest:
//
// - `acceptKey`: an operator hands over the new key (`keyturn put`). It is stored as
//   AWSPENDING, verified at the vendor, and only then made AWSCURRENT; a key the vendor
//   rejects is refused and AWSCURRENT stays as it was.
// - `ManualWatch` (one of the monitor's checks): "Manual Rotation Required" when a key is
//   older than its maximum age, with the vendor's UI steps; and after a replacement, once
//   the grace period has passed, a daily reminder until the old key is revoked in the UI,
//   which keyturn confirms by calling the vendor with the old key (the vendor rejecting it
//   is the proof). The old keys and their state are keyturn's records (./previous-keys.ts);
//   the secret's tags mirror them.

import { randomUUID } from "node:crypto";
import type { EventPublisher } from "#aws/event-publisher.ts";
import type { KeyRecords } from "#aws/record-store.ts";
import { CURRENT, PENDING, type SecretStore, versionWithStage } from "#aws/secret-store.ts";
import type { HttpClient } from "#http/client.ts";
import { type CredentialValue, isAutomatic, type ProviderContext } from "#providers/types.ts";
import {
  assertPlainKeyId,
  claimCurrentKey,
  isAwaitingFirstKey,
  type ManagedCredential,
  managedCredential,
  parseValue,
  readValue,
  reportTampering,
  withWrittenSettings,
} from "./credentials.ts";
import { CredentialRejectedError, InvalidSettingsError, KeyturnError } from "./errors.ts";
import { credentialRevoked, credentialRotated, manualRotationRequired } from "./events.ts";
import { logger } from "./logger.ts";
import { CredentialTamperedError, type PinnedCredentials, valueTampering } from "./pinned.ts";
import { isOpen, movePrevious, type PreviousKey, previousKeysOf, revokeSuperseded } from "./previous-keys.ts";
import { refOf } from "./revocation.ts";
import { Tag } from "./settings.ts";

const DAY = 86_400_000;

export interface ManualDeps {
  store: SecretStore;
  /** keyturn's own records: every key it stores for a credential, and the only keys it revokes. */
  records: KeyRecords;
  /** What the deployment pinned: the only source of a credential's identity, settings and policy. */
  pinned: PinnedCredentials;
  publisher: EventPublisher;
  http: (vendor: string) => HttpClient;
  now: () => Date;
}

/** The key a person handed over was refused; nothing changed. */
export class KeyRefusedError extends KeyturnError {
  override name = "KeyRefusedError";
}

export interface AcceptedKey {
  credential: string;
  keyId: string;
  previousKeyId: string | undefined;
  versionId: string;
}

function context(deps: ManualDeps, credential: ManagedCredential): ProviderContext {
  return {
    credential: credential.settings.credential,
    http: deps.http(credential.provider.vendor),
    now: deps.now,
  };
}

/**
 * Stores a key handed over by a person. `input` holds what the operator supplies (the key,
 * and for some vendors its label or expiry); the rest (cluster, tenant, region…) is kept from
 * the current value. Automatic credentials are accepted too: it is how a leaked or expired
 * key is replaced by hand.
 */
export async function acceptKey(
  deps: ManualDeps,
  secretId: string,
  input: Record<string, unknown>,
): Promise<AcceptedKey> {
  const description = await deps.store.describe(secretId);
  try {
    return await acceptPinnedKey(
      deps,
      withWrittenSettings(deps.records, managedCredential(description, deps.pinned)),
      input,
    );
  } catch (error) {
    await reportTampering(deps.publisher, error, description.arn, "handover");
    throw error;
  }
}

async function acceptPinnedKey(
  deps: ManualDeps,
  credential: ManagedCredential,
  input: Record<string, unknown>,
): Promise<AcceptedKey> {
  const { settings, provider } = credential;
  const name = settings.credential;
  // A secret the stack created holds no key yet (and no setting: they come from the pinned config).
  const raw = await deps.store.read(credential.arn, { stage: CURRENT });
  const awaitingFirstKey = raw !== undefined && isAwaitingFirstKey(raw.secretString);
  // A current value that cannot be read (malformed) is replaced; one that was tampered with is
  // replaced too (the handover is how it is restored), and "Credential Tampered" says so. Its key
  // id is kept as the key to retire only where keyturn merely reminds a person to revoke it (a
  // manual vendor): no key of a tampered value's naming is ever revoked by API.
  let tamperedKeyId: string | undefined;
  const current = awaitingFirstKey
    ? undefined
    : await readValue(deps.store, credential, { stage: CURRENT }).catch(async (error: unknown) => {
        await reportTampering(deps.publisher, error, credential.arn, "handover");
        if (error instanceof CredentialTamperedError && !isAutomatic(provider) && raw) {
          tamperedKeyId = keyIdIn(raw.secretString);
        }
        return undefined;
      });
  let replacedKeyId = current?.keyId ?? tamperedKeyId;
  if (current) {
    try {
      await claimCurrentKey(deps.records, credential, current.keyId);
    } catch (error) {
      // A current key keyturn never stored: the value was written by someone else. The handover
      // replaces it all the same, but keyturn revokes no key of its naming.
      if (!(error instanceof CredentialTamperedError)) throw error;
      await reportTampering(deps.publisher, error, credential.arn, "handover");
      if (isAutomatic(provider)) replacedKeyId = undefined;
    }
  }
  // The previous keys keyturn's records keep for it, as they were before this handover.
  const previous = await previousKeysOf(deps, credential, await deps.records.get(name));
  const now = deps.now();
  const {
    keyId: _oldKeyId,
    previous: _oldPrevious,
    issuedAt: _oldIssuedAt,
    expiresAt: _oldExpiry,
    ...kept
  } = (current ?? {}) as CredentialValue & Record<string, unknown>;
  const revokeAfter = new Date(now.getTime() + settings.gracePeriodMs).toISOString();
  // The vendor endpoint and scope come from the pinned config, whatever the old value said.
  const { pinned } = credential;
  const json = {
    ...Object.fromEntries(Object.entries(kept).filter(([field]) => !pinned.settingsFields.includes(field))),
    ...pinned.settings,
    provider: settings.provider,
    ...input,
    issuedAt: now.toISOString(),
    ...(replacedKeyId ? { previous: { keyId: replacedKeyId, revokeAfter } } : {}),
  };
  const overridden = valueTampering(pinned, json, provider.settingDefaults?.(pinned.settings));
  if (overridden.length > 0) {
    throw new KeyRefusedError(
      `Credential "${name}": a handover cannot set ${overridden.join(", ")}; they come from the credential's ` +
        "config. Hand over the key alone, and change settings in the config.",
      { credential: name },
    );
  }
  let candidate = parseValue(provider, json, name);
  assertPlainKeyId(name, candidate.keyId);
  if (current === undefined && tamperedKeyId !== undefined && candidate.keyId === tamperedKeyId) {
    // The very key of a value whose settings disagree with the config (someone else's write, or
    // a config change): handing it over again restores the value; it replaces no key.
    replacedKeyId = undefined;
    candidate = { ...candidate, previous: undefined };
  }
  if (replacedKeyId && candidate.keyId === replacedKeyId) {
    throw new KeyRefusedError(
      `Credential "${name}": the key handed over has the same id (${candidate.keyId}) as the current one. ` +
        "Create a new key in the vendor's UI first.",
      { credential: name },
    );
  }
  const versionId = randomUUID();
  await deps.store.putPending(credential.arn, versionId, JSON.stringify(candidate));
  try {
    await provider.verify(candidate, context(deps, credential));
  } catch (error) {
    await deps.store.removeStage(credential.arn, PENDING, versionId);
    const reason = error instanceof Error ? error.message : String(error);
    throw new KeyRefusedError(
      `Credential "${name}": the new key was refused, ${provider.vendor} did not accept it (${reason}). ` +
        "AWSCURRENT is unchanged; check the key and try again.",
      { credential: name, cause: error },
    );
  }
  await deps.records.addKeys(name, [candidate.keyId], credential.pinned);
  const description = await deps.store.describe(credential.arn);
  const currentVersion = versionWithStage(description.versions, CURRENT);
  await deps.store.moveStage(credential.arn, CURRENT, versionId, currentVersion);
  await deps.store.removeStage(credential.arn, PENDING, versionId);
  const expiresAt = provider.expiresAt(candidate)?.toISOString() ?? null;
  await retireSuperseded(deps, credential, previous, [replacedKeyId, candidate.keyId]);
  if (replacedKeyId) {
    // Tracked in keyturn's records (the tags below only mirror it). A key keyturn never stored (a
    // tampered value's, for a manual vendor) is tracked for reminders, never revoked by API.
    const tracked = await deps.records.trackPrevious(name, replacedKeyId, revokeAfter, {
      recordedOnly: isAutomatic(provider),
    });
    if (!tracked)
      logger.warn("manual handover: the replaced key is already being revoked; its state is kept", {
        credential: name,
        keyId: replacedKeyId,
      });
  }
  await deps.publisher.publish([
    credentialRotated(refOf(credential), {
      versionId,
      keyId: candidate.keyId,
      previousKeyId: replacedKeyId,
      expiresAt,
      revokeAfter,
    }),
  ]);
  // The last reminder was about the key this handover replaced (keyturn's records, then the mirror).
  await deps.records.setMarks(name, { manualReminder: "" });
  await deps.store.tag(credential.arn, {
    [Tag.keyId]: candidate.keyId,
    [Tag.expiresAt]: expiresAt ?? "none",
    [Tag.issuedAt]: now.toISOString(),
    [Tag.rotatedAt]: now.toISOString(),
    [Tag.rotatedVersion]: versionId,
    [Tag.manualReminder]: "",
    ...(replacedKeyId
      ? {
          [Tag.previousKeyId]: replacedKeyId,
          [Tag.revokeAfter]: revokeAfter,
          [Tag.previousState]: "active",
          [Tag.postponements]: "0",
          [Tag.deleteAfter]: "",
        }
      : {}),
  });
  logger.info("manual key accepted", {
    credential: name,
    keyId: candidate.keyId,
    previousKeyId: replacedKeyId,
  });
  return { credential: name, keyId: candidate.keyId, previousKeyId: replacedKeyId, versionId };
}

/**
 * The previous keys keyturn's records keep open when a handover makes another key previous (`keep`:
 * the new previous key and the new key): at most two keys live, so each is revoked now where the
 * vendor has an API; for a manual vendor the operator is told now that it must be revoked in the
 * UI, and the key is left to them (state "refused": keyturn cannot check a key it no longer holds).
 */
async function retireSuperseded(
  deps: ManualDeps,
  credential: ManagedCredential,
  previous: readonly PreviousKey[],
  keep: readonly (string | undefined)[],
) {
  for (const entry of previous) {
    if (!isOpen(entry) || keep.includes(entry.keyId)) continue;
    await retireOne(deps, credential, entry);
  }
}

async function retireOne(deps: ManualDeps, credential: ManagedCredential, entry: PreviousKey) {
  const superseded = entry.keyId;
  const name = credential.settings.credential;
  const { provider } = credential;
  if (isAutomatic(provider)) {
    await revokeSuperseded(deps, { ...credential, provider }, entry, "handover", context(deps, credential));
    return;
  }
  const current = await readValue(deps.store, credential, { stage: CURRENT });
  const steps =
    current && provider.manualSteps
      ? provider.manualSteps({ ...current, keyId: superseded, previous: undefined })
      : undefined;
  await deps.publisher.publish([
    manualRotationRequired(refOf(credential), {
      severity: "warning",
      keyId: superseded,
      reason: "old-key-not-revoked",
      dueAt: deps.now().toISOString(),
      steps: { create: [], revoke: steps?.revoke ?? [] },
    }),
  ]);
  await movePrevious(deps.records, name, entry, { state: "refused" });
  logger.warn("manual handover: an older key was never confirmed revoked; it is left to the operator", {
    credential: name,
    keyId: superseded,
  });
}

export interface ManualReport {
  manualReminders: { credential: string; reason: string }[];
  confirmedRevoked: { credential: string; keyId: string }[];
}

export class ManualWatch {
  readonly #deps: ManualDeps;

  constructor(deps: ManualDeps) {
    this.#deps = deps;
  }

  /** The reminders of a credential only a person can replace; `previous`: its records' previous keys. */
  async check(
    credential: ManagedCredential,
    previous: readonly PreviousKey[],
    report: ManualReport,
  ): Promise<void> {
    if (credential.provider.mode === "automatic" || !credential.provider.manualSteps) return;
    for (const entry of previous)
      if (entry.state === "active" && (await this.#oldKey(credential, entry, report))) break;
    await this.#maxAge(credential, report);
  }

  /** A reminder at most once a day per reason. */
  #remindedRecently(credential: ManagedCredential, reason: string): boolean {
    const last = credential.tags[Tag.manualReminder] ?? "";
    if (!last.startsWith(`${reason}@`)) return false;
    return this.#deps.now().getTime() - Date.parse(last.slice(reason.length + 1)) < DAY;
  }

  async #remind(
    credential: ManagedCredential,
    report: ManualReport,
    reason: "max-age" | "old-key-not-revoked",
    facts: { keyId: string; dueAt: string | null; value: CredentialValue },
  ): Promise<void> {
    const steps = credential.provider.manualSteps?.(facts.value) ?? { create: [], revoke: [] };
    await this.#deps.publisher.publish([
      manualRotationRequired(refOf(credential), {
        severity: "warning",
        keyId: facts.keyId,
        reason,
        dueAt: facts.dueAt,
        steps: reason === "old-key-not-revoked" ? { create: [], revoke: steps.revoke } : steps,
      }),
    ]);
    await this.#deps.store.tag(credential.arn, {
      [Tag.manualReminder]: `${reason}@${this.#deps.now().toISOString()}`,
    });
    report.manualReminders.push({ credential: credential.settings.credential, reason });
  }

  async #maxAge(credential: ManagedCredential, report: ManualReport): Promise<void> {
    const { maxAgeMs } = credential.settings;
    if (maxAgeMs === undefined) return;
    let issuedAt = credential.tags[Tag.issuedAt];
    let value: CredentialValue | undefined;
    if (!issuedAt) {
      value = await readValue(this.#deps.store, credential, { stage: CURRENT });
      issuedAt = value?.issuedAt;
      if (!issuedAt) {
        throw new InvalidSettingsError(
          `Credential "${credential.settings.credential}" has a maximum age but its value has no issuedAt: ` +
            "store the key with keyturn put, which records when it was handed over.",
          { credential: credential.settings.credential },
        );
      }
      await this.#deps.store.tag(credential.arn, { [Tag.issuedAt]: issuedAt });
    }
    const dueAt = Date.parse(issuedAt) + maxAgeMs;
    if (this.#deps.now().getTime() < dueAt) return;
    if (this.#remindedRecently(credential, "max-age")) return;
    value ??= await readValue(this.#deps.store, credential, { stage: CURRENT });
    if (!value) return;
    await this.#remind(credential, report, "max-age", {
      keyId: value.keyId,
      dueAt: new Date(dueAt).toISOString(),
      value,
    });
  }

  /**
   * After its grace period, an old key the person has not revoked yet: confirmed revoked when the
   * vendor rejects it, else reminded (at most once a day). True when it published either.
   */
  async #oldKey(credential: ManagedCredential, entry: PreviousKey, report: ManualReport): Promise<boolean> {
    const { keyId } = entry;
    const revokeAfter = Date.parse(entry.revokeAfter);
    if (Number.isNaN(revokeAfter) || this.#deps.now().getTime() < revokeAfter) return false;
    if (this.#remindedRecently(credential, "old-key-not-revoked")) return false;
    // Only the key AWSPREVIOUS holds can be tried at the vendor.
    const old = await readValue(this.#deps.store, credential, { stage: "AWSPREVIOUS" });
    if (!old || old.keyId !== keyId) return false;
    try {
      await credential.provider.verify(old, context(this.#deps, credential));
    } catch (error) {
      if (!(error instanceof CredentialRejectedError)) throw error;
      await this.#deps.publisher.publish([
        credentialRevoked(refOf(credential), {
          keyId,
          reason: "revoked-by-operator",
          strength: "hard",
          outcome: "revoked",
        }),
      ]);
      if (await movePrevious(this.#deps.records, credential.name, entry, { state: "revoked" }))
        await this.#deps.store.tag(credential.arn, {
          ...((await this.#deps.store.describe(credential.arn)).tags[Tag.previousKeyId] === keyId
            ? { [Tag.previousState]: "revoked" }
            : {}),
          [Tag.manualReminder]: "",
        });
      report.confirmedRevoked.push({ credential: credential.settings.credential, keyId });
      return true;
    }
    await this.#remind(credential, report, "old-key-not-revoked", {
      keyId,
      dueAt: new Date(revokeAfter).toISOString(),
      value: old,
    });
    return true;
  }
}

/** The `keyId` field of a value that could not be parsed, if it is a plain short string. */
function keyIdIn(secretString: string): string | undefined {
  try {
    const keyId = (JSON.parse(secretString) as { keyId?: unknown }).keyId;
    return typeof keyId === "string" && keyId.length > 0 && keyId.length <= 200 ? keyId : undefined;
  } catch {
    return undefined;
  }
}
