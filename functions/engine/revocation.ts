// The revocation half of the lifecycle (docs/architecture.md, "Revocation of old keys"): the monitor's
// sweep revokes each previous key once its grace period has passed, and reconciles what the
// vendors hold against what the secrets reference, revoking orphans.
//
// - Decided from keyturn's records (each previous key's state and times, ./previous-keys.ts) and
//   the secret's staging labels: a credential with nothing due costs no value read and no vendor
//   call. The keyturn:previous-* tags are a mirror, never read back.
// - Never the key that is AWSCURRENT (as the value says) or AWSPENDING.
// - Where the vendor reports last use, a key used within the in-use window waits ("Previous
//   Credential Still In Use"), up to the postponement limit; then it is revoked anyway. So does
//   a key that a consumer reported holding within the in-use window (the usage reports the
//   consumer library writes, functions/aws/usage-store.ts), for every vendor: reports are
//   written by the credential's consumers, so they can delay only their own credential's
//   revocation, and no longer than the limit; an emergency revoke never reads them.
// - Vendors that can disable a key (soft, reversible) get it disabled first and deleted after
//   the hard-revoke delay; others are deleted at once.
// - Orphans: keys carrying keyturn's marker for a credential of this sweep that no current,
//   previous or pending version references, older than a safety margin so that a rotation
//   in flight (minted, not yet stored) is left alone.
//
// Each action is done at the vendor first, then published, then recorded (the records, with a
// conditional write on the state the decision was made from, then the tags' mirror): a crash in
// between repeats the action next sweep (revoking twice answers "already-gone") rather than
// forgetting it, and a decision made from a stale read loses to the newer one.

import type { EventPublisher } from "#aws/event-publisher.ts";
import type { KeyRecords, PreviousKeyChange } from "#aws/record-store.ts";
import { CURRENT, PENDING, type SecretStore } from "#aws/secret-store.ts";
import type { UsageReport, UsageReports } from "#aws/usage-store.ts";
import type { HttpClient } from "#http/client.ts";
import { redactText } from "#http/redact.ts";
import { parseMarker } from "#providers/marker.ts";
import {
  type AutomaticProvider,
  type CredentialValue,
  isAutomatic,
  type ProviderContext,
  type RevokeStrength,
} from "#providers/types.ts";
import { type ManagedCredential, readAuthority, readCurrent, readValue } from "./credentials.ts";
import { AwaitingFirstKeyError, asKeyturnError, type KeyturnError } from "./errors.ts";
import {
  type CredentialRef,
  credentialRevoked,
  previousStillInUse,
  type RevocationReason,
  type SweepAction,
} from "./events.ts";
import { logger } from "./logger.ts";
import type { PinnedCredentials } from "./pinned.ts";
import { isOpen, movePrevious, type PreviousKey } from "./previous-keys.ts";
import { type KeyReferences, refuseRevocation } from "./revocation-guard.ts";
import { Tag } from "./settings.ts";

export interface RevocationDeps {
  store: SecretStore;
  /** keyturn's own records: a key it revokes must be one it stored for the credential. */
  records: KeyRecords;
  /** What the deployment pinned: the credentials whose keys the revocation guard weighs. */
  pinned: PinnedCredentials;
  publisher: EventPublisher;
  http: (vendor: string) => HttpClient;
  now: () => Date;
  /** A marked key younger than this is never taken for an orphan: its rotation may still be storing it. */
  orphanSafetyMarginMs: number;
  /** How often each credential's vendor keys are reconciled (a listing at the vendor per issuer). */
  reconcileIntervalMs: number;
  /** The consumers' usage reports (functions/aws/usage-store.ts); none read without it. */
  usage?: UsageReports | undefined;
}

/** Most consumers a "Previous Credential Still In Use" names (the latest reports first). */
const MAX_CONSUMERS_NAMED = 20;

export interface RevocationRecord {
  credential: string;
  keyId: string;
  reason: RevocationReason;
  strength: RevokeStrength;
  outcome: "revoked" | "already-gone";
}

type AutomaticCredential = ManagedCredential & { provider: AutomaticProvider<CredentialValue> };

export function refOf(credential: ManagedCredential): CredentialRef {
  return {
    credential: credential.settings.credential,
    provider: credential.settings.provider,
    secretArn: credential.arn,
  };
}

/**
 * A sweep's failure for one credential. With `action`, the monitor announces it ("Credential
 * Action Failed"); without, an event of its own already did (tampering, a refused revocation).
 */
export interface SweepFailure {
  credential: string;
  error: string;
  action?: SweepAction;
  cause?: KeyturnError;
}

/** What a sweep did, for the monitor's report and log. */
export interface RevocationReport {
  revoked: RevocationRecord[];
  postponed: { credential: string; keyId: string; postponements: number }[];
  failures: SweepFailure[];
}

/** "awaiting" for a credential that has no key yet (see isAwaitingFirstKey); any other error is thrown again. */
function awaitingFirstKey(error: unknown): "awaiting" {
  if (error instanceof AwaitingFirstKeyError) return "awaiting";
  throw error;
}

export class Revocation {
  readonly #deps: RevocationDeps;

  constructor(deps: RevocationDeps) {
    this.#deps = deps;
  }

  /**
   * Revokes each of the credential's previous keys (keyturn's records: ./previous-keys.ts) whose
   * time has come (see the header).
   */
  async previousKeys(
    credential: ManagedCredential,
    previous: readonly PreviousKey[],
    report: RevocationReport,
    references: KeyReferences,
  ): Promise<void> {
    if (!isAutomatic(credential.provider)) return;
    for (const entry of previous)
      if (isOpen(entry))
        await this.#previousKey(credential as AutomaticCredential, entry, report, references);
  }

  /**
   * Reconciles the vendors' keys against the keys of every automatic credential that is due: its
   * secret's versions and the previous keys keyturn's records keep open (`previousOf`).
   */
  async reconcile(
    credentials: readonly ManagedCredential[],
    report: RevocationReport,
    references: KeyReferences,
    previousOf: (credential: string) => readonly PreviousKey[],
  ): Promise<void> {
    await this.#reconcile(
      credentials.filter((c): c is AutomaticCredential => isAutomatic(c.provider)),
      report,
      references,
      previousOf,
    );
  }

  /**
   * The revocation guard (./revocation-guard.ts) before revoking `keyId` for `credential`. A
   * refusal is published once, critical, and recorded so that the sweep does not try again.
   */
  async #guard(
    credential: ManagedCredential,
    keyId: string,
    authority: CredentialValue,
    references: KeyReferences,
    during: "sweep" | "reconciliation",
    entry?: PreviousKey,
  ): Promise<boolean> {
    const refused = await refuseRevocation(this.#deps, credential, keyId, authority, {
      references,
      during,
      // An orphan is tied to the credential by keyturn's marker at the vendor instead.
      markerTied: during === "reconciliation",
    });
    if (refused && entry) {
      if (await movePrevious(this.#deps.records, credential.name, entry, { state: "refused" }))
        await this.#mirror(credential, keyId, { [Tag.previousState]: "refused" });
    }
    return refused === undefined;
  }

  #failed(report: RevocationReport, credential: string, error: unknown): void {
    const failure = asKeyturnError(error, credential, "Reconciliation");
    logger.error("reconciliation: credential skipped", { credential, error: failure });
    report.failures.push({ credential, error: failure.message, action: "reconciliation", cause: failure });
  }

  #context(credential: ManagedCredential): ProviderContext {
    return {
      credential: credential.settings.credential,
      http: this.#deps.http(credential.provider.vendor),
      now: this.#deps.now,
    };
  }

  /** The key id of an AWSPENDING version that is not AWSCURRENT (a rotation in progress), if any. */
  async #pendingKeyId(credential: ManagedCredential): Promise<string | undefined> {
    const pending = Object.entries(credential.versions).find(
      ([, stages]) => stages.includes(PENDING) && !stages.includes(CURRENT),
    );
    if (!pending) return undefined;
    return (await readValue(this.#deps.store, credential, { versionId: pending[0] }))?.keyId;
  }

  async #previousKey(
    credential: AutomaticCredential,
    entry: PreviousKey,
    report: RevocationReport,
    references: KeyReferences,
  ): Promise<void> {
    const { tags, settings, provider } = credential;
    const { keyId } = entry;
    const now = this.#deps.now();
    const dueAt = Date.parse(
      entry.state === "disabled" ? (entry.deleteAfter ?? entry.revokeAfter) : entry.revokeAfter,
    );
    if (Number.isNaN(dueAt) || now.getTime() < dueAt) return;
    // Never the key in use: the value's own key id decides (the key-id tag is only a mirror).
    const current = await readCurrent(this.#deps.store, credential);
    if (
      keyId === current.keyId ||
      keyId === tags[Tag.keyId] ||
      keyId === (await this.#pendingKeyId(credential))
    ) {
      logger.warn("revocation sweep: previous key is AWSCURRENT or AWSPENDING, not revoking it", {
        credential: settings.credential,
        keyId,
      });
      return;
    }
    const ctx = this.#context(credential);
    const authority = await readAuthority(this.#deps.store, credential, current);
    if (!(await this.#guard(credential, keyId, authority, references, "sweep", entry))) {
      report.failures.push({ credential: settings.credential, error: `revocation of key ${keyId} refused` });
      return;
    }

    if (entry.state === "disabled") {
      const outcome = await provider.revoke(keyId, authority, "hard", ctx);
      await this.#record(
        credential,
        report,
        { keyId, reason: "grace-period-ended", strength: "hard", outcome },
        entry,
        { state: "revoked" },
      );
      return;
    }

    let reason: RevocationReason = "grace-period-ended";
    let lastUsedAt: string | null | undefined;
    let vendorInUse: Date | undefined;
    if (provider.lastUsed) {
      const lastUsed = await provider.lastUsed(keyId, authority, ctx);
      if (lastUsed === "gone") {
        await this.#record(
          credential,
          report,
          { keyId, reason, strength: "hard", outcome: "already-gone" },
          entry,
          { state: "revoked" },
        );
        return;
      }
      lastUsedAt = lastUsed?.toISOString() ?? null;
      if (lastUsed && now.getTime() - lastUsed.getTime() < settings.inUseWindowMs) vendorInUse = lastUsed;
    }
    const { holders, truncated } = await this.#holders(credential, keyId, now, report);
    if (vendorInUse || holders.length > 0 || truncated) {
      if (entry.postponements < settings.inUseLimit) {
        await this.#postpone(credential, report, entry, vendorInUse, holders);
        return;
      }
      reason = "in-use-limit-reached";
    }
    const strength: RevokeStrength = provider.revocation === "soft-then-hard" ? "soft" : "hard";
    const outcome = await provider.revoke(keyId, authority, strength, ctx);
    const disabled = strength === "soft" && outcome === "revoked";
    await this.#record(
      credential,
      report,
      { keyId, reason, strength, outcome },
      entry,
      disabled
        ? {
            state: "disabled",
            deleteAfter: new Date(now.getTime() + settings.hardRevokeDelayMs).toISOString(),
          }
        : { state: "revoked" },
      lastUsedAt,
    );
  }

  /**
   * The consumers that reported holding `keyId`, the credential's previous key, within the in-use
   * window, latest first (one Query of the usage reports; none without them), and whether the
   * Query's page was cut short (a flooded partition: taken as held, bounded by the in-use limit).
   * A report of any other key id changes nothing; one dated more than a few minutes ahead is not
   * believed (functions/aws/usage-store.ts), a later one counts as made now. Reports that cannot
   * be read hold nothing back: the key is revoked as without reports (a consumer still holding it
   * meets one refusal and reads again), and the failure is announced as the "usage-reports"
   * action's ("Credential Action Failed"), so that an outage or a deleted table is heard, not
   * silently turned into revocations that ignore consumers, nor into revocations held forever.
   */
  async #holders(
    credential: ManagedCredential,
    keyId: string,
    now: Date,
    report: RevocationReport,
  ): Promise<{ holders: UsageReport[]; truncated: boolean }> {
    if (!this.#deps.usage) return { holders: [], truncated: false };
    let read: Awaited<ReturnType<UsageReports["holding"]>>;
    try {
      read = await this.#deps.usage.holding(credential.name, keyId, now);
    } catch (error) {
      const failure = asKeyturnError(error, credential.name, "Reading the consumers' usage reports");
      logger.error("revocation sweep: usage reports unreadable, revoking without them", {
        credential: credential.name,
        error: failure,
      });
      report.failures.push({
        credential: credential.name,
        error: failure.message,
        action: "usage-reports",
        cause: failure,
      });
      return { holders: [], truncated: false };
    }
    const holders = read.reports
      .map((r) => ({ ...r, reportedAt: r.reportedAt > now ? now : r.reportedAt }))
      .filter((r) => now.getTime() - r.reportedAt.getTime() < credential.settings.inUseWindowMs)
      .sort((a, b) => b.reportedAt.getTime() - a.reportedAt.getTime());
    return { holders, truncated: read.truncated };
  }

  /** "Previous Credential Still In Use", naming the use the vendor saw and the consumers that reported it. */
  async #postpone(
    credential: AutomaticCredential,
    report: RevocationReport,
    entry: PreviousKey,
    vendorInUse: Date | undefined,
    holders: UsageReport[],
  ): Promise<void> {
    const { settings } = credential;
    const { keyId } = entry;
    const postponements = entry.postponements + 1;
    // Counted first, on the count this sweep read: a sweep racing another counts once, not twice,
    // and one that lost (another writer moved the key on) announces nothing.
    if (
      !(await movePrevious(
        this.#deps.records,
        credential.name,
        entry,
        { state: "active", postponements },
        true,
      ))
    )
      return;
    const latest = [vendorInUse, holders[0]?.reportedAt]
      .filter((at): at is Date => at !== undefined)
      .reduce((a, b) => (a > b ? a : b));
    await this.#deps.publisher.publish([
      previousStillInUse(refOf(credential), {
        keyId,
        lastUsedAt: latest.toISOString(),
        postponements,
        limit: settings.inUseLimit,
        revokeAfter: entry.revokeAfter,
        ...(holders.length > 0
          ? {
              consumers: holders.slice(0, MAX_CONSUMERS_NAMED).map((holder) => ({
                // Already held to a name's shape (functions/aws/usage-store.ts); the redactor
                // takes out any token shape a vendor's keys have.
                consumer: redactText(holder.consumer),
                reportedAt: holder.reportedAt.toISOString(),
              })),
            }
          : {}),
      }),
    ]);
    await this.#mirror(credential, keyId, { [Tag.postponements]: String(postponements) });
    report.postponed.push({ credential: settings.credential, keyId, postponements });
    logger.warn("revocation postponed: the previous key is still in use", {
      credential: settings.credential,
      keyId,
      consumers: holders.length,
    });
  }

  /**
   * Publishes "Credential Revoked", then records it: the previous key's new state in keyturn's
   * records (`entry`: a conditional write on the state this sweep read; an orphan has none), then
   * the tags that mirror it (see the header on order).
   */
  async #record(
    credential: ManagedCredential,
    report: RevocationReport,
    revocation: Omit<RevocationRecord, "credential">,
    entry: PreviousKey | undefined,
    change: PreviousKeyChange | undefined,
    lastUsedAt?: string | null,
  ): Promise<void> {
    await this.#deps.publisher.publish([credentialRevoked(refOf(credential), { ...revocation, lastUsedAt })]);
    if (entry && change && (await movePrevious(this.#deps.records, credential.name, entry, change)))
      await this.#mirror(credential, revocation.keyId, {
        [Tag.previousState]: change.state,
        ...(change.deleteAfter ? { [Tag.deleteAfter]: change.deleteAfter } : {}),
      });
    report.revoked.push({ credential: credential.settings.credential, ...revocation });
    logger.info("key revoked", { credential: credential.settings.credential, ...revocation });
  }

  /**
   * Mirrors a previous key's new state in the secret's tags (for `keyturn status` and people; the
   * records are the authority), only while the tags still name that key as the previous one: a
   * rotation that finished meanwhile mirrors its own.
   */
  async #mirror(credential: ManagedCredential, keyId: string, tags: Record<string, string>) {
    const now = await this.#deps.store.describe(credential.arn);
    if (now.tags[Tag.previousKeyId] !== keyId) return;
    await this.#deps.store.tag(credential.arn, tags);
  }

  async #reconcile(
    credentials: AutomaticCredential[],
    report: RevocationReport,
    references: KeyReferences,
    previousOf: (credential: string) => readonly PreviousKey[],
  ): Promise<void> {
    const now = this.#deps.now().getTime();
    const due = credentials.filter(
      (c) => !(now - Date.parse(c.tags[Tag.reconciledAt] ?? "") < this.#deps.reconcileIntervalMs),
    );
    // One listing per authority: every credential an issuer mints for is seen in its listing.
    const groups = new Map<string, AutomaticCredential[]>();
    for (const credential of due) {
      const key = `${credential.provider.id}\u0000${credential.settings.issuer ?? credential.name}`;
      groups.set(key, [...(groups.get(key) ?? []), credential]);
    }
    for (const group of groups.values()) {
      const first = group[0];
      if (!first) continue;
      try {
        await this.#reconcileGroup(group, first, report, references, previousOf);
      } catch (error) {
        for (const credential of group) this.#failed(report, credential.settings.credential, error);
      }
    }
  }

  async #reconcileGroup(
    group: AutomaticCredential[],
    first: AutomaticCredential,
    report: RevocationReport,
    references: KeyReferences,
    previousOf: (credential: string) => readonly PreviousKey[],
  ): Promise<void> {
    const byName = new Map<string, { credential: AutomaticCredential; referenced: Set<string> }>();
    for (const credential of group) {
      const { tags } = credential;
      const referenced = new Set<string>();
      const currentKeyId = tags[Tag.keyId];
      const previousKeyId = tags[Tag.previousKeyId];
      if (currentKeyId) referenced.add(currentKeyId);
      // The records' open previous keys are the credential's (a tag can add a reference, which only
      // spares a key, never take one away); a refused one is left to a person, never an orphan.
      for (const entry of previousOf(credential.name))
        if (entry.state !== "revoked") referenced.add(entry.keyId);
      if (previousKeyId && tags[Tag.previousState] !== "revoked") referenced.add(previousKeyId);
      const pending = await this.#pendingKeyId(credential);
      if (pending) referenced.add(pending);
      // Before the first rotation finishes there are no key tags: the current value is the reference.
      if (!currentKeyId) {
        const current = await readCurrent(this.#deps.store, credential).catch(awaitingFirstKey);
        if (current === "awaiting") continue; // nothing minted for it yet, nothing to reconcile
        referenced.add(current.keyId);
      }
      byName.set(credential.settings.credential, { credential, referenced });
    }
    if (byName.size === 0) return;
    const authority = await readAuthority(this.#deps.store, first).catch(awaitingFirstKey);
    if (authority === "awaiting") return; // an issuer without a key mints nothing
    const ctx = this.#context(first);
    const now = this.#deps.now().getTime();
    const orphans: { credential: AutomaticCredential; keyId: string }[] = [];
    for await (const key of first.provider.listIssued(authority, ctx)) {
      const marker = key.marker ? parseMarker(key.marker) : undefined;
      const owner = marker ? byName.get(marker.credential) : undefined;
      if (!owner || owner.referenced.has(key.keyId)) continue;
      if (!key.createdAt || now - key.createdAt.getTime() < this.#deps.orphanSafetyMarginMs) continue;
      orphans.push({ credential: owner.credential, keyId: key.keyId });
    }
    for (const orphan of orphans) {
      if (!(await this.#guard(orphan.credential, orphan.keyId, authority, references, "reconciliation"))) {
        report.failures.push({
          credential: orphan.credential.settings.credential,
          error: `revocation of key ${orphan.keyId} refused`,
        });
        continue;
      }
      const outcome = await first.provider.revoke(
        orphan.keyId,
        authority,
        "hard",
        this.#context(orphan.credential),
      );
      await this.#record(
        orphan.credential,
        report,
        { keyId: orphan.keyId, reason: "orphan", strength: "hard", outcome },
        undefined,
        undefined,
      );
    }
    const reconciledAt = new Date(now).toISOString();
    for (const credential of group)
      await this.#deps.store.tag(credential.arn, { [Tag.reconciledAt]: reconciledAt });
  }
}
