// The edges of a credential's life (issue 14; docs/architecture.md, "Lifecycle edges: deleted, departed and foreign secrets"), three of the monitor's
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
//
// Review 14 added four brakes, because a departure is inferred from absence and its entry and keys
// come from the record alone:
// - A departed credential's record is checked as strictly as the pinned document and a secret
//   value (recordedEntry): schema, name, plain key ids, settings of its provider's fields, https
//   vendor URLs, and an issuer as the config pins it now of the same provider, endpoint and
//   account. A record that fails is announced (critical "Credential Action Failed", action
//   retirement, InvalidRecordError) every scan and never acted on: no key revoked or named.
// - Of a departed credential's recorded keys that the vendor still lists, only those something
//   besides the record ties to it are revoked: keyturn's marker naming it (a key keyturn minted),
//   or its secret naming them (its keyturn:key-id / previous-key-id tags, or its current value
//   when self-issued). The others are named for a person ("Keys Left Behind", why: unverified).
//   The record cannot tell a minted key from a handed-over or adopted one, and whoever could forge
//   a record could forge that too; the marker and the secret are evidence the table's writers
//   do not hold. Deleted pinned credentials keep issue 14's rule (every recorded key the vendor
//   lists): their entry is the config's, and their deletion is fenced to the deployment role.
// - More than half of the credentials keyturn holds keys for (and more than one) departing in one
//   scan is a deploy from the wrong config until proven otherwise: all are held (no grace period
//   starts, nothing is revoked), each announced critical every scan (DepartureHeldError).
// - A pinned, live credential whose record says its keys were retired (a secret deleted, its keys
//   revoked by the next sweep, then restored) is announced critical every scan (KeysRetiredError:
//   rotate it or hand over a new key) until keyturn stores a new key for it.

import type { EventPublisher } from "#aws/event-publisher.ts";
import type { KeyRecord, KeyRecords, Retirement } from "#aws/record-store.ts";
import type { SecretDescription, SecretStore } from "#aws/secret-store.ts";
import type { HttpClient } from "#http/client.ts";
import { parseMarker } from "#providers/marker.ts";
import { providerFor } from "#providers/registry.ts";
import { type CredentialValue, type IssuedKey, isAutomatic, type ProviderContext } from "#providers/types.ts";
import {
  assertPlainKeyId,
  type ManagedCredential,
  managedCredential,
  readAuthority,
  readCurrent,
} from "./credentials.ts";
import { DEFAULT_GRACE_PERIOD } from "./defaults.ts";
import { parseDuration } from "./duration.ts";
import { asKeyturnError, KeyturnError } from "./errors.ts";
import {
  type CredentialRef,
  credentialActionFailed,
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
import { Tag } from "./settings.ts";

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

/** The characters Secrets Manager allows in a secret's name: a record's name is one, or is not keyturn's. */
const SECRET_NAME = /^[A-Za-z0-9/_+=.@-]{1,512}$/;

/** A record's name as events and messages may carry it: never text of a forger's choosing. */
function shownName(record: KeyRecord): string {
  return SECRET_NAME.test(record.credential)
    ? record.credential
    : "(a record whose name is not a secret name)";
}

/** Settings that decide which vendor host and account a key goes to: an issued credential's are its issuer's. */
const ENDPOINT_FIELDS = ["baseUrl", "region", "accountId", "clusterUrl"] as const;

/**
 * The pinned entry a departed credential's record keeps, checked as strictly as the stack's pinned
 * document and a secret value are (review 14: the record is the only source of a departed
 * credential's provider, issuer and settings, so a forged or damaged one must not steer a
 * revocation): its schema; its name; plain key ids; settings only of the fields the entry names,
 * those the deployment knows for that provider (from any credential of it the config pins now),
 * vendor URLs over https; and, for an issued credential, its issuer as the config pins it now:
 * the same provider and the same vendor endpoint and account (ENDPOINT_FIELDS), so that an
 * issuer's key never goes to another vendor's host or another account's. `entry` is undefined
 * when the record keeps none (written before records kept it); `problem` says what is wrong,
 * without echoing what the record holds.
 */
export function recordedEntry(
  record: KeyRecord,
  pinnedNow: PinnedCredentials,
): { entry?: PinnedCredential; problem?: string } {
  if (!SECRET_NAME.test(record.credential)) return { problem: "its name is not a secret name" };
  for (const keyId of record.keys) {
    try {
      assertPlainKeyId(record.credential, keyId);
    } catch {
      return { problem: "a recorded key id holds characters a key id never has" };
    }
  }
  if (record.pinned === undefined) return {};
  let entry: PinnedCredential | undefined;
  try {
    entry = PinnedCredentials.fromDocument({ version: 1, credentials: [record.pinned] }).all()[0];
  } catch {
    return { problem: "its pinned entry does not match the pinned document's schema" };
  }
  if (!entry || entry.secretName !== record.credential)
    return { problem: "its pinned entry names another secret" };
  const fields = new Set(entry.settingsFields);
  if (Object.keys(entry.settings).some((field) => !fields.has(field)))
    return { problem: "its settings hold fields its provider's config does not have" };
  // An entry written by an older keyturn may know fewer fields, never others.
  const known = pinnedNow.all().find((other) => other.provider === entry.provider)?.settingsFields;
  if (known && [...fields].some((field) => !known.includes(field)))
    return { problem: `its settings fields are not those of a ${entry.provider} credential in the config` };
  for (const [field, value] of Object.entries(entry.settings)) {
    if (!/url$/i.test(field) || value === undefined) continue;
    const plainAllowed = entry.settings.allowPlainHttp === true && field === "clusterUrl";
    if (typeof value !== "string" || !vendorUrl(value, plainAllowed))
      return { problem: `its setting ${field} is not an https:// URL` };
  }
  if (entry.issuer !== undefined) {
    const issuer = pinnedNow.bySecretName(entry.issuer);
    if (issuer && issuer.provider !== entry.provider) {
      return {
        problem: `it names provider ${entry.provider}, but its issuer is a ${issuer.provider} credential in the config`,
      };
    }
    for (const field of issuer ? ENDPOINT_FIELDS : []) {
      if (!sameJson(entry.settings[field], issuer?.settings[field]))
        return { problem: `its setting ${field} differs from its issuer's in the config` };
    }
  }
  return { entry };
}

function vendorUrl(text: string, plainAllowed: boolean): boolean {
  try {
    const url = new URL(text);
    return (url.protocol === "https:" || (plainAllowed && url.protocol === "http:")) && url.username === "";
  } catch {
    return false;
  }
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** A record keyturn does not act on: its pinned entry or its keys fail recordedEntry's checks. */
export class InvalidRecordError extends KeyturnError {
  override name = "InvalidRecordError";
}

/** A departure held by the brake (see Lifecycle.departures). */
export class DepartureHeldError extends KeyturnError {
  override name = "DepartureHeldError";
}

/** A pinned, live credential whose keys keyturn retired (its secret was deleted, then restored). */
export class KeysRetiredError extends KeyturnError {
  override name = "KeysRetiredError";
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
   * and a departure of one that is back in the config is cleared. `within` runs each departed
   * credential's work within its time budget (the monitor's, ./budget.ts).
   */
  async departures(
    records: Map<string, KeyRecord>,
    live: readonly ManagedCredential[],
    report: LifecycleReport,
    references: KeyReferences,
    within: (credential: string, work: () => Promise<void>) => Promise<void> = (_, work) => work(),
  ): Promise<void> {
    for (const credential of live) {
      const record = records.get(credential.settings.credential);
      if (!record) continue;
      if (record.retiredAt !== undefined && record.keys.size > 0)
        await this.#retiredButLive(credential, record, report);
      const stored = record.pinned === undefined ? undefined : JSON.stringify(record.pinned);
      if (stored === JSON.stringify(credential.pinned) && record.departedAt === undefined) continue;
      try {
        await this.#deps.records.remember(record.credential, credential.pinned);
      } catch (error) {
        this.#failed(report, record.credential, error);
      }
    }
    const holding = [...records.values()].filter((record) => !record.retiredAt && record.keys.size > 0);
    const departing = holding.filter((record) => !this.#deps.pinned.bySecretName(record.credential));
    // The brake (review 14): a deploy from the wrong config makes every credential "depart" at
    // once. More than half of the credentials keyturn holds keys for (and more than one) leaving
    // in one scan is held: no grace period starts, nothing is revoked, and each is announced as
    // critical every scan until the config is fixed (or they are removed a few at a time).
    if (departing.length > 1 && departing.length * 2 > holding.length) {
      await this.#hold(departing, holding.length, report);
      return;
    }
    for (const record of departing) {
      try {
        await within(record.credential, () => this.#departed(record, report, references));
      } catch (error) {
        this.#failed(report, record.credential, error);
      }
    }
  }

  /**
   * A critical "Credential Action Failed" (action retirement) published by the lifecycle itself,
   * every scan, for what a person must fix: a held departure, a record keyturn does not act on, a
   * live credential whose keys were retired. Its failure is in the report without a cause, so that
   * the monitor does not announce it again.
   */
  async #critical(
    report: LifecycleReport,
    ref: CredentialRef,
    error: KeyturnError,
    failingSince: Date,
  ): Promise<void> {
    report.failures.push({ credential: ref.credential, error: error.message, action: "retirement" });
    logger.error("monitor: lifecycle check needs a person", { credential: ref.credential, error });
    try {
      await this.#deps.publisher.publish([
        credentialActionFailed(ref, {
          action: "retirement",
          failingSince,
          critical: true,
          error: { name: error.name, message: error.message, retryable: error.retryable },
        }),
      ]);
    } catch (publishError) {
      logger.error("monitor: a lifecycle failure could not be announced", {
        credential: ref.credential,
        error: publishError,
      });
    }
  }

  /** The ref of a record's credential for events: its validated entry's provider, else "unknown". */
  #recordRef(record: KeyRecord, entry: PinnedCredential | undefined): CredentialRef {
    const name = shownName(record);
    return { credential: name, provider: entry?.provider ?? "unknown", secretArn: entry?.secretArn ?? name };
  }

  async #hold(departing: KeyRecord[], holding: number, report: LifecycleReport): Promise<void> {
    const now = this.#deps.now();
    logger.error("monitor: most credentials left the config at once; every departure is held", {
      departing: departing.length,
      holding,
    });
    for (const record of departing) {
      report.departed.push({ credential: record.credential, revokeAfter: null });
      const error = new DepartureHeldError(
        `Credential "${shownName(record)}" is no longer in the config, and neither are ${departing.length - 1} ` +
          `other(s): ${departing.length} of the ${holding} credentials keyturn holds keys for left the config at ` +
          "once, which is what a deploy from the wrong config looks like. keyturn holds every one of these " +
          "departures: no grace period starts and no key is revoked. If the config is wrong, deploy the right " +
          "one. If they are leaving on purpose, remove them from the config a few at a time (fewer than half of " +
          "the credentials in one deploy).",
        { credential: record.credential, retryable: false },
      );
      const { entry } = recordedEntry(record, this.#deps.pinned);
      await this.#critical(report, this.#recordRef(record, entry), error, now);
    }
  }

  /**
   * A pinned credential whose secret is live (not scheduled for deletion) while its record says its
   * keys were retired: its secret was deleted, the next sweep revoked its keys (issue 14), and it
   * was restored (RestoreSecret), or it left the config and came back after its retirement. Its
   * secret holds a key the vendor no longer accepts (or one a person was told to revoke): a critical
   * failure every scan, until keyturn stores a new key for it (a rotation or a handover clears the
   * mark, KeyRecords.addKeys).
   */
  async #retiredButLive(
    credential: ManagedCredential,
    record: KeyRecord,
    report: LifecycleReport,
  ): Promise<void> {
    const name = credential.settings.credential;
    const at = record.retiredAt ?? this.#deps.now().toISOString();
    const why =
      record.retiredBecause === "left-config"
        ? "it had left the config"
        : record.retiredBecause === "secret-deleted"
          ? "its secret was scheduled for deletion"
          : "its secret was deleted or it left the config";
    const what =
      record.retirement === "announced"
        ? "named its keys in Keys Left Behind for a person to revoke"
        : "revoked its keys at the vendor";
    const fix = isAutomatic(credential.provider)
      ? `rotate it (keyturn rotate ${name}) or hand over a new key (keyturn put ${name})`
      : `hand over a new key (keyturn put ${name})`;
    const error = new KeysRetiredError(
      `Credential "${name}" is in the config and its secret is live, but keyturn ${what} on ${at}, because ${why} ` +
        `(restored since: RestoreSecret, or put back in the config). Its key is likely dead: ${fix}.`,
      { credential: name, retryable: false },
    );
    const parsed = Date.parse(at);
    await this.#critical(
      report,
      refOf(credential),
      error,
      Number.isNaN(parsed) ? this.#deps.now() : new Date(parsed),
    );
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
    const { entry: pinned, problem } = recordedEntry(record, this.#deps.pinned);
    const now = this.#deps.now();
    if (problem !== undefined) {
      // Announced every scan, never acted on: no departure, no key named (the keys may be forged too).
      const error = new InvalidRecordError(
        `keyturn's record of departed credential "${shownName(record)}" is not one keyturn wrote (${problem}), so keyturn does ` +
          "not act on it: no key is revoked or named. Find who wrote it (the records table's CloudTrail data " +
          "events, if enabled), then delete the item, or put the credential back in the config.",
        { credential: name, retryable: false },
      );
      await this.#critical(report, this.#recordRef(record, undefined), error, now);
      return;
    }
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
    // Only keys something besides the record ties to the credential are revoked (see #retire):
    // keyturn's marker naming it at the vendor, or its secret naming them (its key tags, or its
    // current value, when self-issued).
    const named = new Set<string>();
    for (const tag of [Tag.keyId, Tag.previousKeyId]) {
      const keyId = description?.tags[tag];
      if (keyId) named.add(keyId);
    }
    if (authority && !credential.settings.issuer) named.add(authority.keyId);
    const tied = (key: IssuedKey) =>
      named.has(key.keyId) || (key.marker !== undefined && parseMarker(key.marker)?.credential === name);
    await this.#retire(credential, record, "left-config", authority, report, references, tied);
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
    tied?: (key: IssuedKey) => boolean,
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
    // With `tied` (a departed credential, whose entry and keys come from the record alone), a key
    // nothing else ties to the credential is left to a person ("Keys Left Behind", unverified):
    // whoever could write one record item could otherwise name any key of the issuer's account.
    const live: string[] = [];
    const unverified: string[] = [];
    for await (const key of provider.listIssued(authority, ctx)) {
      if (!record.keys.has(key.keyId)) continue;
      if (tied === undefined || tied(key)) live.push(key.keyId);
      else unverified.push(key.keyId);
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
    if (unverified.length > 0) {
      await this.#announce(
        refOf(credential),
        credential.pinned,
        record,
        because,
        "unverified",
        report,
        unverified,
      );
      return;
    }
    // A refused key was published ("Revocation Refused") for a person; it is not tried again.
    await this.#deps.records.markRetired(name, this.#deps.now(), "revoked", because);
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
    why: "manual-provider" | "no-authority" | "unknown-provider" | "unverified",
    report: LifecycleReport,
    only?: readonly string[],
  ): Promise<void> {
    const name = record.credential;
    const at = this.#deps.now();
    if (!(await this.#deps.records.markRetired(name, at, "announced", because))) return;
    const keyIds = [...(only ?? record.keys)].sort();
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
