// The monitor's sweep: one pass over every credential the deployment pins. The ListSecrets
// pages (up to 100 credentials, tags and staging labels included) are read first, then, for
// each credential, in order: expiry notices and early rotations, stuck rotations, the previous
// key's revocation, manual rotation reminders; then the reconciliation of vendor keys against
// the secrets. Every decision is made from the listing; a credential with nothing due costs no
// further call. Secrets tagged as keyturn's that the deployment does not pin are counted, never
// acted on; a pinned credential missing from the listing is looked up (a removed tag).
//
// The lifecycle edges (./lifecycle.ts): a pinned credential whose secret is scheduled for
// deletion gets none of the above, only its keys retired; a secret that is a replica, managed by
// another service or rotated by another function is reported and left alone; after the
// per-credential checks, keyturn's records table is scanned (one paged Scan of a few attributes,
// once per reconcile interval, whichever sweep claims it) for credentials that left the config.
//
// One credential's failure is reported and the sweep goes on with the next: one broken
// secret must not silence the alerts of all the others. Every failure is heard: one with an
// event of its own (tampering, a refused revocation, a secret owned elsewhere) has it; any other
// is published at the end of the sweep as "Credential Action Failed", a warning until the
// action has kept failing longer than the escalation time (`failureEscalationMs`), then
// critical (functions/aws/failure-streaks.ts).

import type { EventPublisher } from "#aws/event-publisher.ts";
import type { FailureStreaks } from "#aws/failure-streaks.ts";
import type { KeyRecord, KeyRecords } from "#aws/record-store.ts";
import type { SecretDescription, SecretStore } from "#aws/secret-store.ts";
import type { HttpClient } from "#http/client.ts";
import { redactText } from "#http/redact.ts";
import { type ManagedCredential, managedCredential, reportTampering } from "./credentials.ts";
import { asKeyturnError } from "./errors.ts";
import { type CredentialRef, credentialActionFailed, type SweepAction } from "./events.ts";
import { type ExpiryReport, ExpiryWatch } from "./expiry.ts";
import { Lifecycle, type LifecycleReport } from "./lifecycle.ts";
import { logger } from "./logger.ts";
import { type ManualReport, ManualWatch } from "./manual.ts";
import { CredentialTamperedError, type PinnedCredential, type PinnedCredentials } from "./pinned.ts";
import { Revocation, type RevocationReport } from "./revocation.ts";
import { KeyReferences } from "./revocation-guard.ts";
import { Tag } from "./settings.ts";

export interface MonitorDeps {
  store: SecretStore;
  /** keyturn's own records (functions/aws/record-store.ts). */
  records: KeyRecords;
  /** What the deployment pinned: the only source of a credential's identity, settings and policy. */
  pinned: PinnedCredentials;
  publisher: EventPublisher;
  http: (vendor: string) => HttpClient;
  now: () => Date;
  /** Starts a rotation now (RotateSecret in AWS). */
  rotate: (secretId: string) => Promise<void>;
  orphanSafetyMarginMs: number;
  reconcileIntervalMs: number;
  stuckAfterMs: number;
  /** keyturn's own rotate function: a secret rotated by any other is not keyturn's to rotate. */
  rotateFunctionArn?: string | undefined;
  /** How long each action of each credential has kept failing (in keyturn's records table). */
  failureStreaks: FailureStreaks;
  /** A failure that has lasted this long is critical, not a warning. */
  failureEscalationMs: number;
}

export interface MonitorReport extends RevocationReport, ExpiryReport, ManualReport, LifecycleReport {
  credentials: number;
  listCalls: number;
  /** Secrets tagged as keyturn's that the deployment does not pin: not acted on. */
  notPinned: string[];
  /** Pinned credentials whose tags or value disagree with the pinned config: not acted on. */
  tampered: string[];
}

export class Monitor {
  readonly #deps: MonitorDeps;
  readonly #revocation: Revocation;
  readonly #expiry: ExpiryWatch;
  readonly #manual: ManualWatch;
  readonly #lifecycle: Lifecycle;

  constructor(deps: MonitorDeps) {
    this.#deps = deps;
    this.#revocation = new Revocation(deps);
    this.#expiry = new ExpiryWatch(deps);
    this.#manual = new ManualWatch(deps);
    this.#lifecycle = new Lifecycle(deps);
  }

  async run(): Promise<MonitorReport> {
    const report: MonitorReport = {
      credentials: 0,
      listCalls: 0,
      revoked: [],
      postponed: [],
      failures: [],
      expiring: [],
      expired: [],
      rotatedEarly: [],
      stuck: [],
      manualReminders: [],
      confirmedRevoked: [],
      notPinned: [],
      tampered: [],
      deleted: [],
      departed: [],
      retired: [],
      ownedElsewhere: [],
    };
    // The whole listing first: the revocation guard needs every credential's keys before the
    // first revocation (./revocation-guard.ts).
    const listed: SecretDescription[] = [];
    for await (const page of this.#deps.store.listTagged(Tag.provider, undefined, { includeDeleted: true })) {
      report.listCalls++;
      for (const description of page) {
        if (this.#deps.pinned.bySecretName(description.name)) listed.push(description);
        // Anyone may tag a secret as keyturn's; only the deployment decides what keyturn manages.
        else report.notPinned.push(description.name);
      }
    }
    const vanished: PinnedCredential[] = [];
    const hidden = await this.#unseen(
      new Set(listed.map((description) => description.name)),
      report,
      vanished,
    );
    const references = new KeyReferences(this.#deps.store, [...listed, ...hidden], this.#deps.pinned);
    // A pinned credential that could not be looked up (but is not gone) may use any key: the guard
    // refuses revocations for the others until it can be seen (./revocation-guard.ts).
    const gone = new Set(vanished.map((pinned) => pinned.secretName));
    for (const failure of report.failures)
      if (failure.action === "lookup" && !gone.has(failure.credential))
        references.unknown(failure.credential);
    // The departures scan, once per reconcile interval; a sweep without it reads the record of a
    // deleted credential alone, and finds no departure.
    const scanned = await this.#deps.records
      .claimScan(this.#deps.now(), this.#deps.reconcileIntervalMs)
      .catch((error: unknown) => error instanceof Error && error.name === "ResourceNotFoundException");
    const scan = scanned ? this.#lifecycle.records() : Promise.resolve(new Map<string, KeyRecord>());
    const records = await scan.catch((error: unknown) => {
      const failure = asKeyturnError(error, "(records)", "Monitor sweep (keyturn's records table)");
      logger.error("monitor: keyturn's records could not be read", { error: failure });
      report.failures.push({ credential: "(records)", error: failure.message });
      return new Map<string, KeyRecord>();
    });
    const swept: ManagedCredential[] = [];
    const live: ManagedCredential[] = [];
    const arns = new Map([...listed, ...hidden].map((description) => [description.name, description.arn]));
    for (const description of listed) {
      const name = description.name;
      report.credentials++;
      let action: SweepAction | undefined;
      try {
        const credential = managedCredential(description, this.#deps.pinned);
        // Owned elsewhere first: keyturn revokes nothing for such a secret, deleted or not.
        if (await this.#lifecycle.ownedElsewhere(credential, report)) {
          if (!description.deletedDate) live.push(credential);
          continue;
        }
        if (description.deletedDate) {
          action = "retirement";
          const record = scanned ? records.get(name) : await this.#deps.records.get(name);
          await this.#lifecycle.deleted(credential, record, report, references);
          continue;
        }
        live.push(credential);
        swept.push(credential);
        action = "expiry";
        await this.#expiry.check(credential, report);
        action = "stuck-rotation";
        await this.#expiry.checkStuck(credential, report);
        action = "revocation";
        await this.#revocation.previousKey(credential, report, references);
        action = "reminder";
        await this.#manual.check(credential, report);
      } catch (error) {
        const failure = asKeyturnError(error, name, "Monitor sweep");
        logger.error("monitor: credential skipped", { credential: name, error: failure, action });
        if (failure instanceof CredentialTamperedError) {
          report.failures.push({ credential: name, error: failure.message });
          report.tampered.push(name);
          await reportTampering(this.#deps.publisher, failure, description.arn, "sweep");
        } else {
          report.failures.push({ credential: name, error: failure.message, action, cause: failure });
        }
      }
    }
    // A pinned credential whose secret is gone for good (deleted without a recovery window, or
    // after it) is a deleted one whose value nobody can read.
    for (const pinned of vanished) {
      const record = scanned
        ? records.get(pinned.secretName)
        : await this.#deps.records.get(pinned.secretName);
      if (!record || record.keys.size === 0) continue;
      const description = {
        arn: pinned.secretArn ?? pinned.secretName,
        name: pinned.secretName,
        versions: {},
        tags: {},
        deletedDate: this.#deps.now(),
      };
      try {
        await this.#lifecycle.deleted(
          managedCredential(description, this.#deps.pinned),
          record,
          report,
          references,
        );
      } catch (error) {
        const failure = asKeyturnError(error, pinned.secretName, "Monitor sweep (a deleted secret's keys)");
        logger.error("monitor: credential skipped", { credential: pinned.secretName, error: failure });
        report.failures.push({
          credential: pinned.secretName,
          error: failure.message,
          action: "retirement",
          cause: failure,
        });
      }
    }
    await this.#revocation.reconcile(swept, report, references);
    await this.#lifecycle.departures(records, live, report, references);
    await this.#announceFailures(report, arns);
    // The report keeps each failure's message and action, not the error object behind it.
    report.failures = report.failures.map(({ cause: _cause, ...failure }) => failure);
    logger.info("monitor sweep finished", {
      credentials: report.credentials,
      listCalls: report.listCalls,
      expiring: report.expiring.length,
      expired: report.expired.length,
      rotatedEarly: report.rotatedEarly.length,
      stuck: report.stuck.length,
      manualReminders: report.manualReminders.length,
      revoked: report.revoked.length,
      postponed: report.postponed.length,
      failures: report.failures.length,
      notPinned: report.notPinned.length,
      tampered: report.tampered.length,
      deleted: report.deleted.length,
      departed: report.departed.length,
      retired: report.retired.length,
      ownedElsewhere: report.ownedElsewhere.length,
    });
    return report;
  }

  /**
   * "Credential Action Failed" for every failure no event of its own announced: a warning, or
   * critical once the action has kept failing longer than the escalation time. A failure to
   * announce one is logged and does not stop the others.
   */
  async #announceFailures(report: MonitorReport, arns: Map<string, string>): Promise<void> {
    const now = this.#deps.now();
    for (const failure of report.failures) {
      if (!failure.action || !failure.cause) continue;
      const pinned = this.#deps.pinned.bySecretName(failure.credential);
      const ref: CredentialRef = {
        credential: failure.credential,
        provider: pinned?.provider ?? "unknown",
        secretArn: arns.get(failure.credential) ?? pinned?.secretArn ?? failure.credential,
      };
      try {
        const message = redactText(failure.cause.message);
        const since = await this.#deps.failureStreaks.failed(
          failure.credential,
          failure.action,
          now,
          this.#deps.failureEscalationMs,
          message,
        );
        const critical = now.getTime() - since.getTime() >= this.#deps.failureEscalationMs;
        await this.#deps.publisher.publish([
          credentialActionFailed(ref, {
            action: failure.action,
            failingSince: since,
            critical,
            error: {
              name: failure.cause.name,
              message,
              retryable: failure.cause.retryable,
            },
          }),
        ]);
      } catch (error) {
        logger.error("monitor: a failure could not be announced", {
          credential: failure.credential,
          action: failure.action,
          error,
        });
      }
    }
  }

  /**
   * Pinned credentials the listing did not show: the listing finds keyturn's secrets by their
   * keyturn:provider tag, which anyone allowed to tag a secret can remove to hide it from the
   * sweep. A secret that still exists without it is tampering.
   */
  async #unseen(
    seen: Set<string>,
    report: MonitorReport,
    vanished: PinnedCredential[],
  ): Promise<SecretDescription[]> {
    const hidden: SecretDescription[] = [];
    for (const pinned of this.#deps.pinned.all()) {
      if (seen.has(pinned.secretName)) continue;
      let description: Awaited<ReturnType<SecretStore["describe"]>>;
      try {
        description = await this.#deps.store.describe(pinned.secretName);
      } catch (error) {
        const failure = asKeyturnError(
          error,
          pinned.secretName,
          "Monitor sweep (a pinned credential missing from the listing)",
        );
        logger.error("monitor: pinned credential not found", {
          credential: pinned.secretName,
          error: failure,
        });
        report.failures.push({
          credential: pinned.secretName,
          error: failure.message,
          action: "lookup",
          cause: failure,
        });
        if (error instanceof Error && error.name === "ResourceNotFoundException") vanished.push(pinned);
        continue;
      }
      hidden.push(description);
      if (description.tags[Tag.provider] !== undefined) continue; // created or tagged since the listing
      const failure = new CredentialTamperedError(pinned, { tags: [Tag.provider], valueFields: [] });
      report.failures.push({ credential: pinned.secretName, error: failure.message });
      report.tampered.push(pinned.secretName);
      await reportTampering(this.#deps.publisher, failure, description.arn, "sweep");
    }
    return hidden;
  }
}
