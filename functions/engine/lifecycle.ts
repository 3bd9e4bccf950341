// The edges of a credential's life (issue 14; README "Security model"), three of the monitor's
// checks, decided from what keyturn trusts (the pinned config and its own records) and from what
// AWS itself reports about a secret, never from a tag or a value:
//
// - A pinned credential whose secret is scheduled for deletion (DeleteSecret; ListSecrets shows it
//   only with IncludePlannedDeletion): nothing else is done for it. Its keys, those in keyturn's
//   record for it that the vendor still lists, are revoked hard through the revocation guard
//   with its issuer's key ("Credential Revoked", reason secret-deleted). A self-issued credential
//   cannot read its own value once the secret is deleted, and keys of a manual vendor only a
//   person can revoke: then one critical "Keys Left Behind" names them, with the vendor's UI steps.
// - A credential that left the config (its record is in keyturn's records table, the config no
//   longer pins it): first a warning, "Credential Departing", once; once its grace period has
//   passed, its keys are revoked as above (reason left-config) with its issuer's key if the config
//   still pins the issuer, or with its own current value checked against the settings keyturn
//   last handled it by (kept in the record), or named in "Keys Left Behind". An application still
//   reading a removed credential's secret thus gets the grace period's notice, not an outage.
// - A secret that is a replica, is managed by another AWS service, or has another rotation
//   function than keyturn's is owned elsewhere: keyturn neither rotates nor relabels it, nor
//   revokes its keys; "Credential Owned Elsewhere" (critical) every sweep, until it is fixed.
//
// "Once" is kept in the records with conditional writes (departedAt, retiredAt), never in tags:
// a record marked retired is skipped by every later sweep. A key keyturn stores for the
// credential again (a restored secret rotated, a handover) clears both.

import type { EventPublisher } from "#aws/event-publisher.ts";
import type { KeyRecord, KeyRecords, Retirement } from "#aws/record-store.ts";
import type { SecretDescription, SecretStore } from "#aws/secret-store.ts";
import type { HttpClient } from "#http/client.ts";
import { providerFor } from "#providers/registry.ts";
import { type CredentialValue, isAutomatic, type ProviderContext } from "#providers/types.ts";
import { type ManagedCredential, managedCredential, readAuthority, readCurrent } from "./credentials.ts";
import { parseDuration } from "./duration.ts";
import { asKeyturnError, KeyturnError } from "./errors.ts";
import {
  type CredentialRef,
  credentialDeparting,
  credentialOwnedElsewhere,
  credentialRevoked,
  keysLeftBehind,
  type OwnedElsewhereReason,
} from "./events.ts";
import { logger } from "./logger.ts";
import { type PinnedCredential, PinnedCredentials } from "./pinned.ts";
import { type RevocationReport, refOf } from "./revocation.ts";
import { type KeyReferences, refuseRevocation } from "./revocation-guard.ts";
import { DEFAULT_GRACE_PERIOD } from "./settings.ts";

/** The most keys one "Keys Left Behind" lists (with their steps); the rest are counted. */
const MAX_LISTED_KEYS = 50;

export type RetiredBecause = "secret-deleted" | "left-config";

export interface LifecycleReport extends RevocationReport {
  /** Pinned credentials whose secret is scheduled for deletion: nothing but their retirement is done. */
  deleted: string[];
  /** Credentials keyturn has records of that the config no longer pins (not yet retired). */
  departed: { credential: string; revokeAfter: string | null }[];
  /** Credentials whose keys keyturn retired in this sweep: revoked, or named to a person. */
  retired: { credential: string; because: RetiredBecause; retirement: Retirement }[];
  /** Replicas and secrets managed or rotated by something else: not acted on. */
  ownedElsewhere: { credential: string; reasons: OwnedElsewhereReason[] }[];
}

export interface LifecycleDeps {
  store: SecretStore;
  records: KeyRecords;
  pinned: PinnedCredentials;
  publisher: EventPublisher;
  http: (vendor: string) => HttpClient;
  now: () => Date;
  /** keyturn's own rotate function (KEYTURN_ROTATE_FUNCTION_ARN); undefined where it is not known (local runs). */
  rotateFunctionArn?: string | undefined;
}

/** A Lambda function ARN without its version or alias qualifier. */
function unqualified(arn: string): string {
  return arn.split(":").slice(0, 7).join(":");
}

/**
 * True when the secret has a rotation function other than keyturn's own (`rotateFunctionArn`):
 * another rotation owns it. Unknown (undefined) for keyturn's own ARN counts no function as foreign.
 */
export function foreignRotation(
  description: Pick<SecretDescription, "rotationLambdaArn">,
  rotateFunctionArn: string | undefined,
): boolean {
  const arn = description.rotationLambdaArn;
  if (!arn || rotateFunctionArn === undefined) return false;
  return unqualified(arn) !== unqualified(rotateFunctionArn);
}

/**
 * Why keyturn must not rotate, relabel or revoke for this secret (empty: it may): a replica
 * (only the primary region's secret is written), a secret another AWS service manages, or one
 * another rotation function rotates. All three are AWS's own facts, not tags.
 */
export function ownedElsewhere(
  description: Pick<SecretDescription, "primaryRegion" | "owningService" | "rotationLambdaArn">,
  rotateFunctionArn: string | undefined,
): OwnedElsewhereReason[] {
  const reasons: OwnedElsewhereReason[] = [];
  if (description.primaryRegion) reasons.push("replica");
  if (description.owningService) reasons.push("owning-service");
  if (foreignRotation(description, rotateFunctionArn)) reasons.push("foreign-rotation-function");
  return reasons;
}

/** An error that means "keyturn has no usable key here" (not an outage worth retrying). */
function noAuthority(error: unknown): boolean {
  if (error instanceof KeyturnError) return !error.retryable;
  const name = error instanceof Error ? error.name : "";
  // Reading a secret scheduled for deletion (InvalidRequestException) or gone for good.
  return name === "InvalidRequestException" || name === "ResourceNotFoundException";
}

/** The pinned entry a record keeps, checked as the stack's pinned document is; undefined if none or malformed. */
function recordedPinned(record: KeyRecord): PinnedCredential | undefined {
  if (record.pinned === undefined) return undefined;
  try {
    const entry = PinnedCredentials.fromDocument({ version: 1, credentials: [record.pinned] }).all()[0];
    return entry?.secretName === record.credential ? entry : undefined;
  } catch {
    return undefined;
  }
}

export class Lifecycle {
  readonly #deps: LifecycleDeps;

  constructor(deps: LifecycleDeps) {
    this.#deps = deps;
  }

  /** Every record in keyturn's records table, by credential; empty when the table does not exist. */
  async records(): Promise<Map<string, KeyRecord>> {
    const byName = new Map<string, KeyRecord>();
    try {
      for await (const page of this.#deps.records.all())
        for (const record of page) byName.set(record.credential, record);
    } catch (error) {
      if (!(error instanceof Error && error.name === "ResourceNotFoundException")) throw error;
      logger.warn("monitor: keyturn's records table does not exist; no departed credential can be found");
    }
    return byName;
  }

  /** Reports a secret owned elsewhere (see the header); true when it is, and the sweep must leave it alone. */
  async ownedElsewhere(credential: ManagedCredential, report: LifecycleReport): Promise<boolean> {
    const reasons = ownedElsewhere(credential, this.#deps.rotateFunctionArn);
    if (reasons.length === 0) return false;
    const name = credential.settings.credential;
    report.ownedElsewhere.push({ credential: name, reasons });
    report.failures.push({
      credential: name,
      error:
        `Credential "${name}" is owned elsewhere (${reasons.join(", ")}): keyturn does not rotate, relabel or ` +
        "revoke it. Manage it where it is owned, or remove it from keyturn's config.",
    });
    logger.error("monitor: credential owned elsewhere, not acted on", { credential: name, reasons });
    await this.#deps.publisher.publish([credentialOwnedElsewhere(refOf(credential), reasons)]);
    return true;
  }

  /** A pinned credential whose secret is scheduled for deletion (see the header). */
  async deleted(
    credential: ManagedCredential,
    record: KeyRecord | undefined,
    report: LifecycleReport,
    references: KeyReferences,
  ): Promise<void> {
    const name = credential.settings.credential;
    report.deleted.push(name);
    if (!record || record.keys.size === 0) {
      // keyturn never stored a key for it: there is nothing of keyturn's to revoke or name.
      logger.warn("monitor: secret scheduled for deletion; keyturn stored no key for it", {
        credential: name,
      });
      return;
    }
    if (record.retiredAt) return;
    logger.warn("monitor: secret scheduled for deletion; retiring the keys keyturn stored for it", {
      credential: name,
    });
    const authority = await this.#authority(credential, false);
    await this.#retire(credential, record, "secret-deleted", authority, report, references);
  }

  /**
   * Records of credentials the config no longer pins (see the header). First, the records of the
   * `live` credentials (pinned, secret not deleted) are brought up to date with their pinned entry,
   * and a departure of one that is back in the config is cleared.
   */
  async departures(
    records: Map<string, KeyRecord>,
    live: readonly ManagedCredential[],
    report: LifecycleReport,
    references: KeyReferences,
  ): Promise<void> {
    for (const credential of live) {
      const record = records.get(credential.settings.credential);
      if (!record) continue;
      const stored = record.pinned === undefined ? undefined : JSON.stringify(record.pinned);
      if (stored === JSON.stringify(credential.pinned) && record.departedAt === undefined) continue;
      try {
        await this.#deps.records.remember(record.credential, credential.pinned);
      } catch (error) {
        this.#failed(report, record.credential, error);
      }
    }
    for (const record of records.values()) {
      if (this.#deps.pinned.bySecretName(record.credential)) continue;
      if (record.retiredAt || record.keys.size === 0) continue;
      try {
        await this.#departed(record, report, references);
      } catch (error) {
        this.#failed(report, record.credential, error);
      }
    }
  }

  #failed(report: LifecycleReport, credential: string, error: unknown): void {
    const failure = asKeyturnError(
      error,
      credential,
      "Retirement of a deleted or departed credential's keys",
    );
    logger.error("monitor: lifecycle check failed", { credential, error: failure });
    report.failures.push({ credential, error: failure.message, action: "retirement", cause: failure });
  }

  async #departed(record: KeyRecord, report: LifecycleReport, references: KeyReferences): Promise<void> {
    const name = record.credential;
    const pinned = recordedPinned(record);
    const now = this.#deps.now();
    const graceMs = parseDuration(pinned?.policy.gracePeriod ?? DEFAULT_GRACE_PERIOD) ?? 0;
    const automatic = pinned !== undefined && isAutomatic(providerFor(pinned.provider));
    const departedAt = record.departedAt === undefined ? undefined : Date.parse(record.departedAt);
    const revokeAfter = new Date((departedAt ?? now.getTime()) + graceMs);
    if (departedAt !== undefined && !Number.isNaN(departedAt) && now < revokeAfter) {
      report.departed.push({ credential: name, revokeAfter: revokeAfter.toISOString() });
      return; // announced, not due yet: no call at all
    }
    // The secret, where it still exists and keyturn may still read it (its permissions follow the
    // config's secrets): its ARN for the events, its value for a self-issued key.
    const description = await this.#deps.store.describe(name).catch((error: unknown) => {
      const gone = ["ResourceNotFoundException", "AccessDeniedException"];
      if (error instanceof Error && gone.includes(error.name)) return undefined;
      throw error;
    });
    const ref: CredentialRef = {
      credential: name,
      provider: pinned?.provider ?? "unknown",
      secretArn: description?.arn ?? pinned?.secretArn ?? name,
    };
    report.departed.push({ credential: name, revokeAfter: revokeAfter.toISOString() });
    if (departedAt === undefined || Number.isNaN(departedAt)) {
      if (!(await this.#deps.records.markDeparted(name, now))) return; // another sweep got there first
      logger.warn("monitor: credential left the config; its keys are retired after its grace period", {
        credential: name,
        revokeAfter: revokeAfter.toISOString(),
      });
      try {
        await this.#deps.publisher.publish([
          credentialDeparting(ref, {
            keyIds: [...record.keys].sort(),
            departedAt: now.toISOString(),
            revokeAfter: revokeAfter.toISOString(),
            action: automatic ? "revoke" : "announce",
          }),
        ]);
      } catch (error) {
        // Not announced: no grace period starts until it is.
        await this.#deps.records.unmarkDeparted(name, now);
        throw error;
      }
      return;
    }
    if (!pinned) {
      await this.#announce(ref, undefined, record, "left-config", "unknown-provider", report);
      return;
    }
    // The credential as keyturn last handled it: its recorded entry, with its issuer as the config
    // pins it now (an issuer that left the config too is no authority). Its tags, where the secret
    // still has them, are checked against that entry as for any credential.
    const issuer = pinned.issuer === undefined ? undefined : this.#deps.pinned.bySecretName(pinned.issuer);
    const scoped = new PinnedCredentials(issuer ? [pinned, issuer] : [pinned]);
    const ownReadable = description !== undefined && description.deletedDate === undefined;
    let credential: ManagedCredential;
    try {
      credential = managedCredential(
        ownReadable ? description : { arn: ref.secretArn, name, versions: {}, tags: {} },
        scoped,
      );
    } catch (error) {
      if (!noAuthority(error)) throw error;
      logger.warn("monitor: departed credential cannot be handled as keyturn last did", {
        credential: name,
        error,
      });
      const why = automatic ? "no-authority" : "manual-provider";
      await this.#announce(ref, pinned, record, "left-config", why, report);
      return;
    }
    const authority = await this.#authority(credential, ownReadable);
    await this.#retire(credential, record, "left-config", authority, report, references);
  }

  /** The key that revokes the credential's keys: its issuer's current, or its own when readable; undefined when none. */
  async #authority(
    credential: ManagedCredential,
    ownReadable: boolean,
  ): Promise<CredentialValue | undefined> {
    if (!isAutomatic(credential.provider)) return undefined;
    if (!credential.settings.issuer && !ownReadable) return undefined;
    try {
      return credential.settings.issuer
        ? await readAuthority(this.#deps.store, credential)
        : await readCurrent(this.#deps.store, credential);
    } catch (error) {
      if (!noAuthority(error)) throw error;
      logger.warn("monitor: no key to revoke a retiring credential's keys with", {
        credential: credential.settings.credential,
        error,
      });
      return undefined;
    }
  }

  async #retire(
    credential: ManagedCredential,
    record: KeyRecord,
    because: RetiredBecause,
    authority: CredentialValue | undefined,
    report: LifecycleReport,
    references: KeyReferences,
  ): Promise<void> {
    const { provider } = credential;
    const name = credential.settings.credential;
    if (!authority || !isAutomatic(provider)) {
      const why = isAutomatic(provider) ? "no-authority" : "manual-provider";
      await this.#announce(refOf(credential), credential.pinned, record, because, why, report);
      return;
    }
    const ctx: ProviderContext = {
      credential: name,
      http: this.#deps.http(provider.vendor),
      now: this.#deps.now,
    };
    // The keys of its record the vendor still holds: the listing spares a call per long-revoked key.
    const live: string[] = [];
    for await (const key of provider.listIssued(authority, ctx)) {
      if (record.keys.has(key.keyId)) live.push(key.keyId);
    }
    // A self-issued credential revokes with its own current key: that one goes last.
    live.sort((a, b) => Number(a === authority.keyId) - Number(b === authority.keyId) || a.localeCompare(b));
    let refused = 0;
    for (const keyId of live) {
      const refusal = await refuseRevocation(this.#deps, credential, keyId, authority, {
        references,
        during: "sweep",
      });
      if (refusal) {
        refused++;
        report.failures.push({ credential: name, error: `revocation of key ${keyId} refused` });
        continue;
      }
      const outcome = await provider.revoke(keyId, authority, "hard", ctx);
      await this.#deps.publisher.publish([
        credentialRevoked(refOf(credential), { keyId, reason: because, strength: "hard", outcome }),
      ]);
      report.revoked.push({ credential: name, keyId, reason: because, strength: "hard", outcome });
      logger.info("key of a retiring credential revoked", { credential: name, keyId, because, outcome });
    }
    // A refused key was published ("Revocation Refused") for a person; it is not tried again.
    await this.#deps.records.markRetired(name, this.#deps.now(), "revoked");
    report.retired.push({ credential: name, because, retirement: "revoked" });
    logger.warn("credential retired: its live keys were revoked", {
      credential: name,
      because,
      revoked: live.length - refused,
      refused,
    });
  }

  /** One critical "Keys Left Behind" naming the recorded keys, claimed in the record first so that it goes out once. */
  async #announce(
    ref: CredentialRef,
    pinned: PinnedCredential | undefined,
    record: KeyRecord,
    because: RetiredBecause,
    why: "manual-provider" | "no-authority" | "unknown-provider",
    report: LifecycleReport,
  ): Promise<void> {
    const name = record.credential;
    const at = this.#deps.now();
    if (!(await this.#deps.records.markRetired(name, at, "announced"))) return;
    const keyIds = [...record.keys].sort();
    const listed = keyIds.slice(0, MAX_LISTED_KEYS);
    try {
      await this.#deps.publisher.publish([
        keysLeftBehind(ref, {
          reason: because,
          why,
          keys: listed.map((keyId) => ({ keyId, revoke: revokeSteps(pinned, keyId) })),
          moreKeys: keyIds.length - listed.length,
        }),
      ]);
    } catch (error) {
      // Not published: give the claim back, so that the next sweep announces it.
      await this.#deps.records.unmarkRetired(name, at);
      throw error;
    }
    report.retired.push({ credential: name, because, retirement: "announced" });
    logger.error("keys left behind: a person must revoke them", {
      credential: name,
      because,
      why,
      keys: keyIds.length,
    });
  }
}

/**
 * The vendor's UI steps to revoke `keyId`, from the settings the config pinned (no value is read:
 * the secret may be gone); none when the vendor has no such steps.
 */
function revokeSteps(pinned: PinnedCredential | undefined, keyId: string): string[] {
  if (!pinned) return [];
  const provider = providerFor(pinned.provider);
  if (!provider.manualSteps) return [];
  const value = {
    ...provider.settingDefaults?.(pinned.settings),
    ...pinned.settings,
    provider: pinned.provider,
    keyId,
  } as CredentialValue;
  try {
    return provider.manualSteps(value).revoke;
  } catch {
    return [];
  }
}
