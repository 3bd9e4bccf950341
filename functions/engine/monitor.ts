// The monitor's sweeps (issue 16): the audit, `run`, on its own slower schedule (daily by
// default), and the due sweep, `runDue`, hourly.
//
// The audit is one pass over every credential the deployment pins. The ListSecrets
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
//
// The audit also writes each credential's next due time (./due.ts) to keyturn's records where it
// changed (in the audits that read the records: once per reconcile interval), and takes the
// records of credentials that left the config out of the due index. The due sweep reads only the
// credentials that index names as due by now (one Query per shard: nothing due costs a few
// calls, whatever the fleet's size), describes each, runs the same checks, writes its next due
// time, and reconciles those due for it; the revocation guard's listing is read only if one of
// them revokes a key. New, hidden, deleted-for-good and departed secrets are the audit's alone.
//
// Bounded (./budget.ts): each credential's checks, and each issuer's reconciliation, have a time
// budget (`credentialBudgetMs`); a vendor that hangs costs at most that, and is reported as the
// action's failure (BudgetExceededError). The reconciliation has its own time, kept back from the
// checks (`reconcileBudgetMs`). When the invocation's time runs short the sweep stops starting
// credentials (report.deferred); the audit's order rotates (a cursor in the records) so that the
// next one starts where it stopped, and the due sweep takes the longest-due first.
//
// Fan-out (issue 16): when the due index names more pinned credentials than the due sweep takes on
// itself (`fanOut.above`), it sends the rest to the sweep queue (functions/aws/sweep-queue.ts),
// which invokes this function again with a few names per message: `runBatch` checks those that
// are still due, as the due sweep would, and reconciles them. A message only names credentials;
// what is done with them comes from keyturn's records and the secrets, never from the message.

import type { EventPublisher } from "#aws/event-publisher.ts";
import type { FailureStreaks } from "#aws/failure-streaks.ts";
import type { DueEntry, KeyRecord, KeyRecords } from "#aws/record-store.ts";
import type { SecretDescription, SecretStore } from "#aws/secret-store.ts";
import type { HttpClient } from "#http/client.ts";
import { redactText } from "#http/redact.ts";
import { Budget, BudgetExceededError, withinBudget } from "./budget.ts";
import {
  type ManagedCredential,
  managedCredential,
  reportTampering,
  withWrittenSettings,
} from "./credentials.ts";
import { nextDueAt } from "./due.ts";
import { asKeyturnError } from "./errors.ts";
import { type CredentialRef, credentialActionFailed, type SweepAction } from "./events.ts";
import { type ExpiryReport, ExpiryWatch } from "./expiry.ts";
import { Lifecycle, type LifecycleReport } from "./lifecycle.ts";
import { logger } from "./logger.ts";
import { type ManualReport, ManualWatch } from "./manual.ts";
import { markingStore, withRecordedMarks } from "./marks.ts";
import { CredentialTamperedError, type PinnedCredential, type PinnedCredentials } from "./pinned.ts";
import { type PreviousKey, previousKeysOf } from "./previous-keys.ts";
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
  /**
   * The vendor HTTP client; `remainingMs`, when given, is the time left of the budget of the work
   * that asks for it: no call of the client may outlive it (./budget.ts).
   */
  http: (vendor: string, remainingMs?: () => number) => HttpClient;
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
  /** Each credential's work in a sweep, and each reconciliation group's, ends after this long. Default 10 s. */
  credentialBudgetMs?: number | undefined;
  /** The reconciliation's own time: kept back from the credentials' checks, and its limit. Default 60 s. */
  reconcileBudgetMs?: number | undefined;
  /** Time left in the invocation (Lambda's getRemainingTimeInMillis); none: unbounded. */
  remainingTimeMs?: (() => number) | undefined;
  /**
   * How far ahead the due index holds a credential's next due time (default 7 days): one due later
   * is parked out of it (a Query then never reads it) until an audit finds it within this horizon.
   * It must exceed the audit's interval: the config refuses an audit rarer than every 6 days.
   */
  dueHorizonMs?: number | undefined;
  /** The sweep queue (see the header); none: the due sweep takes every due credential on itself. */
  fanOut?: SweepFanOut | undefined;
}

/** Where the due sweep sends the due credentials beyond its own share (functions/aws/sweep-queue.ts). */
export interface SweepFanOut {
  /** The due sweep handles this many pinned due credentials itself, and queues the rest. */
  above: number;
  /** The audit checks this many credentials itself, and queues the rest for the audit's checks. */
  auditAbove: number;
  /** Queues `credentials` for batch invocations (`audit`: the audit's checks); answers those that were queued. */
  enqueue: (credentials: string[], audit?: boolean) => Promise<string[]>;
}

/**
 * How many due credentials the due sweep takes on itself before it fans out. A due credential
 * costs about 7 AWS calls (a vendor call only for a revocation or a reconciliation): about 1,300 a
 * minute on moto (docs/operations.md, "The capacity model"), so 200 take well under a minute and
 * leave the 5-minute invocation room for slow vendors, the reconciliation (60 s) and the closing
 * reserve. Dividing the time left by the per-credential budget (10 s) would fan out at about 20:
 * that budget bounds the worst case, not the usual one. The rest goes out in messages of 20, at
 * most 2 batches at once (infra/functions/monitor.ts); a sweep that runs short of time anyway
 * defers the rest, as before (#outOfTime).
 */
export const DEFAULT_FAN_OUT_ABOVE = 200;
/**
 * How many credentials the audit checks itself before it fans out: an audit with nothing due costs
 * no call per credential (its decisions come from the listing), about 14 s per 10,000 on moto
 * (docs/benchmarks.md), so 10,000 leave the 5 minutes ample room; the rest go out 20 a message.
 */
export const DEFAULT_AUDIT_FAN_OUT_ABOVE = 10_000;

export const DEFAULT_CREDENTIAL_BUDGET_MS = 10_000;
/** MonitorDeps.dueHorizonMs's default: a week, seven audits at the default daily schedule. */
export const DEFAULT_DUE_HORIZON_MS = 7 * 86_400_000;
export const DEFAULT_RECONCILE_BUDGET_MS = 60_000;
/** Kept back at the end of an invocation to announce failures and write the cursor. */
const CLOSING_RESERVE_MS = 10_000;
/** nextDueAt of a credential with nothing that can come due (until a keyturn write makes it due). */
const NEVER = 8_640_000_000_000_000;

/** The full sweep over the listing ("audit"), or the sweep of the credentials the due index names ("due"). */
export type SweepMode = "audit" | "due";

export interface MonitorReport extends RevocationReport, ExpiryReport, ManualReport, LifecycleReport {
  /** "batch": credentials a sweep queue message named (runBatch). */
  mode: SweepMode | "batch";
  credentials: number;
  listCalls: number;
  /** Due sweep: how many credentials the due index named. */
  due: number;
  /** Credentials not reached: the invocation's time ran out; they come first in the next sweep. */
  deferred: string[];
  /** Due sweep: due credentials sent to the sweep queue, for batch invocations. */
  queued: string[];
  /** Batch: pinned credentials the message named that were not due (nothing done). */
  notDue: string[];
  /** Secrets tagged as keyturn's that the deployment does not pin: not acted on. */
  notPinned: string[];
  /** Pinned credentials whose tags or value disagree with the pinned config: not acted on. */
  tampered: string[];
}

function emptyReport(mode: MonitorReport["mode"]): MonitorReport {
  return {
    mode,
    credentials: 0,
    listCalls: 0,
    due: 0,
    deferred: [],
    queued: [],
    notDue: [],
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
}

/** `items` (sorted by name) starting at the first whose name is at or after `cursor`. */
function rotated<T extends { name: string }>(items: T[], cursor: string | undefined): T[] {
  const sorted = [...items].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  if (cursor === undefined) return sorted;
  const start = sorted.findIndex((item) => item.name >= cursor);
  return start <= 0 ? sorted : [...sorted.slice(start), ...sorted.slice(0, start)];
}

/**
 * The revocation guard's references, listed only when a revocation needs them (the due sweep):
 * one listing of keyturn's secrets per sweep, shared by every revocation in it. The time it takes
 * is the sweep's, not the credential's that asked first (`shared` holds its budget meanwhile).
 */
class ReferencesOnDemand extends KeyReferences {
  readonly #store: SecretStore;
  readonly #pinned: PinnedCredentials;
  readonly #shared: <T>(work: () => Promise<T>) => Promise<T>;
  #listed: KeyReferences | undefined;

  constructor(
    store: SecretStore,
    pinned: PinnedCredentials,
    shared: <T>(work: () => Promise<T>) => Promise<T>,
  ) {
    super(store, [], pinned);
    this.#store = store;
    this.#pinned = pinned;
    this.#shared = shared;
  }

  override async othersUsing(
    credential: string,
    keyId: string,
    issuerKeyId: string | undefined,
  ): Promise<string[]> {
    this.#listed ??= await this.#shared(() => KeyReferences.list(this.#store, this.#pinned));
    return this.#listed.othersUsing(credential, keyId, issuerKeyId);
  }
}

/** What one sweep shares between its credentials' checks. */
interface SweepState {
  report: MonitorReport;
  references: KeyReferences;
  /** keyturn's records by credential, when this sweep read them all (else undefined: read one at a time). */
  records: Map<string, KeyRecord> | undefined;
  /** Each checked credential's previous keys, from its record (./previous-keys.ts). */
  previous: Map<string, PreviousKey[]>;
  /** Credentials whose checks ran (reconciled at the end). */
  swept: ManagedCredential[];
  /** Pinned credentials whose secret is live. */
  live: ManagedCredential[];
}

export class Monitor {
  readonly #deps: MonitorDeps;
  readonly #revocation: Revocation;
  readonly #expiry: ExpiryWatch;
  readonly #manual: ManualWatch;
  readonly #lifecycle: Lifecycle;
  readonly #credentialBudgetMs: number;
  readonly #reconcileBudgetMs: number;
  /** The budget of the work running now: the vendor clients it asks for end with it. */
  #budget: Budget | undefined;
  /** The records of the credentials this sweep checked, by secret id (ARN and name): where marks go (./marks.ts). */
  readonly #known = new Map<string, { name: string; record: KeyRecord | undefined }>();

  constructor(deps: MonitorDeps) {
    this.#deps = deps;
    this.#credentialBudgetMs = deps.credentialBudgetMs ?? DEFAULT_CREDENTIAL_BUDGET_MS;
    this.#reconcileBudgetMs = deps.reconcileBudgetMs ?? DEFAULT_RECONCILE_BUDGET_MS;
    const budgeted = {
      ...deps,
      // The checks' marks (notices, reminders, pending and reconciliation) go to the records first.
      store: markingStore(deps.store, deps.records, (secretId) => this.#known.get(secretId)),
      http: (vendor: string) => {
        const budget = this.#budget;
        return budget ? deps.http(vendor, () => budget.remainingMs()) : deps.http(vendor);
      },
    };
    this.#revocation = new Revocation(budgeted);
    this.#expiry = new ExpiryWatch(budgeted);
    this.#manual = new ManualWatch(budgeted);
    this.#lifecycle = new Lifecycle(budgeted);
  }

  /** The sweep of `mode`: the audit (run) or the due sweep (runDue). */
  sweep(mode: SweepMode): Promise<MonitorReport> {
    return mode === "due" ? this.runDue() : this.run();
  }

  /** The audit: the full sweep over ListSecrets (see the header). */
  async run(): Promise<MonitorReport> {
    const report = emptyReport("audit");
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
    const claim = await this.#deps.records
      .claimScan(this.#deps.now(), this.#deps.reconcileIntervalMs)
      .catch((error: unknown) => ({
        claimed: error instanceof Error && error.name === "ResourceNotFoundException",
        cursor: undefined,
      }));
    // Every audit reads the records (the previous keys are there, ./previous-keys.ts); the departures
    // are looked for only by the audit that claimed the scan.
    const scanned = claim.claimed;
    const read = await this.#lifecycle.records().catch((error: unknown) => {
      const failure = asKeyturnError(error, "(records)", "Monitor sweep (keyturn's records table)");
      logger.error("monitor: keyturn's records could not be read", { error: failure });
      report.failures.push({ credential: "(records)", error: failure.message });
      return undefined;
    });
    const records = scanned && read ? read : new Map<string, KeyRecord>();
    // The previous keys the records keep open are referenced too (a key in two credentials' records).
    for (const record of read?.values() ?? [])
      if (this.#deps.pinned.bySecretName(record.credential))
        for (const entry of record.previous)
          if (entry.state !== "revoked") references.reference(entry.keyId, record.credential);
    const state: SweepState = {
      report,
      references,
      records: read,
      previous: new Map(),
      swept: [],
      live: [],
    };
    const arns = new Map([...listed, ...hidden].map((description) => [description.name, description.arn]));
    // The order rotates (a cursor in keyturn's records, read with the claim above): an audit cut
    // short by the invocation's time has the next one start where it stopped.
    const { cursor } = claim;
    // Beyond its share (fanOut.auditAbove), the audit's checks go to the sweep queue's batches.
    const order = await this.#fanOutAudit(rotated(listed, cursor), report);
    let reached = 0;
    for (const description of order) {
      if (this.#outOfTime()) break;
      reached++;
      const credential = await this.#check(description, state);
      // The due index, from what this audit saw (see ./due.ts), written where it changed.
      if (credential && state.records)
        await this.#writeDue(
          credential,
          state.records.get(credential.name),
          state.previous.get(credential.name),
        );
    }
    report.deferred.push(...order.slice(reached).map((description) => description.name));
    const next = order[reached]?.name;
    if (next !== cursor) await this.#deps.records.setSweepCursor(next).catch(() => {});
    if (state.records) {
      // Records of credentials the config no longer pins leave the due index: departures are the audit's.
      for (const record of state.records.values())
        if (record.nextDueAt !== undefined && !this.#deps.pinned.bySecretName(record.credential))
          await this.#deps.records.clearDue(record.credential).catch(() => {});
    }
    // A pinned credential whose secret is gone for good (deleted without a recovery window, or
    // after it) is a deleted one whose value nobody can read.
    for (const pinned of vanished) {
      const record = read ? read.get(pinned.secretName) : await this.#deps.records.get(pinned.secretName);
      if (!record || record.keys.size === 0) continue;
      const description = {
        arn: pinned.secretArn ?? pinned.secretName,
        name: pinned.secretName,
        versions: {},
        tags: {},
        deletedDate: this.#deps.now(),
      };
      try {
        await this.#within(pinned.secretName, "Retirement of a deleted secret's keys", () =>
          this.#lifecycle.deleted(
            managedCredential(description, this.#deps.pinned),
            record,
            report,
            references,
          ),
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
    await this.#reconcile(state);
    await this.#lifecycle.departures(records, state.live, report, references, (name, work) =>
      this.#within(name, "Retirement of a departed credential's keys", work),
    );
    return this.#finish(report, arns);
  }

  /**
   * The due sweep: the credentials keyturn's due index names as due by now (one Query per shard),
   * each described and checked as the audit checks it, then its next due time written. Nothing
   * else: new, hidden, departed and deleted-for-good secrets are the audit's.
   */
  async runDue(): Promise<MonitorReport> {
    const report = emptyReport("due");
    const now = this.#deps.now();
    const entries = await this.#deps.records.due(now);
    report.due = entries.length;
    return this.#sweepDue(await this.#fanOut(entries, report), report, now);
  }

  /**
   * A batch of the sweep queue (see the header): of the credentials a message named, those the
   * deployment pins and keyturn's records say are due by now, checked as the due sweep checks
   * them, then reconciled. Others are counted (notPinned, notDue), never acted on: a message
   * redelivered after its batch ran finds its credentials no longer due.
   */
  async runBatch(credentials: readonly string[], audited: readonly string[] = []): Promise<MonitorReport> {
    const report = emptyReport("batch");
    const now = this.#deps.now();
    const entries: DueEntry[] = [];
    const auditing = new Set(audited);
    for (const name of new Set([...credentials, ...audited])) {
      if (!this.#deps.pinned.bySecretName(name)) {
        report.notPinned.push(name);
        continue;
      }
      // An audit's share: checked whether due or not, as the audit checks every credential (the
      // checks act only on what keyturn's records and the secret say is due).
      if (auditing.has(name)) {
        entries.push({ credential: name, nextDueAt: now.getTime() });
        continue;
      }
      const nextDueAt = (await this.#deps.records.get(name))?.nextDueAt;
      if (nextDueAt === undefined || nextDueAt > now.getTime()) report.notDue.push(name);
      else entries.push({ credential: name, nextDueAt });
    }
    report.due = entries.length;
    return this.#sweepDue(entries, report, now);
  }

  /**
   * The due sweep's share of `entries`: the pinned ones beyond `fanOut.above` are sent to the sweep
   * queue. Those that could not be sent stay the sweep's own (deferred if its time runs out).
   */
  async #fanOut(entries: DueEntry[], report: MonitorReport): Promise<DueEntry[]> {
    const fanOut = this.#deps.fanOut;
    const pinned = entries.filter((entry) => this.#deps.pinned.bySecretName(entry.credential));
    if (!fanOut || pinned.length <= fanOut.above) return entries;
    const rest = pinned.slice(fanOut.above).map((entry) => entry.credential);
    let failure: unknown;
    try {
      report.queued.push(...(await fanOut.enqueue(rest)));
    } catch (error) {
      failure = error;
    }
    const kept = rest.length - report.queued.length;
    if (kept > 0)
      logger.error("monitor: due credentials could not be queued; the due sweep keeps them", {
        credentials: kept,
        error: failure,
      });
    const queued = new Set(report.queued);
    return entries.filter((entry) => !queued.has(entry.credential));
  }

  /**
   * The audit's share of `order`: the credentials beyond `fanOut.auditAbove` are sent to the sweep
   * queue for the audit's checks (runBatch); those that could not be sent stay the audit's own
   * (deferred to the next audit, by its cursor, if its time runs out).
   */
  async #fanOutAudit(order: SecretDescription[], report: MonitorReport): Promise<SecretDescription[]> {
    const fanOut = this.#deps.fanOut;
    if (!fanOut || order.length <= fanOut.auditAbove) return order;
    const rest = order.slice(fanOut.auditAbove).map((description) => description.name);
    try {
      report.queued.push(...(await fanOut.enqueue(rest, true)));
    } catch (error) {
      logger.error("monitor: the audit's share could not be queued; the audit keeps it", { error });
    }
    const queued = new Set(report.queued);
    return order.filter((description) => !queued.has(description.name));
  }

  /** The due sweep's loop over `entries` (runDue, runBatch), then their reconciliation. */
  async #sweepDue(entries: DueEntry[], report: MonitorReport, now: Date): Promise<MonitorReport> {
    const state: SweepState = {
      report,
      references: new ReferencesOnDemand(this.#deps.store, this.#deps.pinned, (work) =>
        this.#budget ? this.#budget.excluding(work) : work(),
      ),
      records: undefined,
      previous: new Map(),
      swept: [],
      live: [],
    };
    const arns = new Map<string, string>();
    let reached = 0;
    for (const entry of entries) {
      if (this.#outOfTime()) break;
      reached++;
      const name = entry.credential;
      if (!this.#deps.pinned.bySecretName(name)) {
        // Left the config: its departure is the audit's, not the due index's.
        await this.#deps.records.clearDue(name).catch(() => {});
        continue;
      }
      let description: SecretDescription;
      try {
        description = await this.#within(name, "Monitor due sweep (DescribeSecret)", () =>
          this.#deps.store.describe(name),
        );
      } catch (error) {
        const failure = asKeyturnError(error, name, "Monitor due sweep (DescribeSecret)");
        logger.error("monitor: due credential not found", { credential: name, error: failure });
        report.failures.push({ credential: name, error: failure.message, action: "lookup", cause: failure });
        // Looked at again next sweep, as the audit looks again at a pinned secret it cannot find (a
        // secret gone for good: the audit retires its keys).
        await this.#deps.records.setDue(name, now).catch(() => {});
        continue;
      }
      arns.set(name, description.arn);
      const failuresBefore = report.failures.length;
      const credential = await this.#check(description, state);
      if (!credential) {
        // Tampered, owned elsewhere, or failed: looked at again by the next due sweep, after the
        // credentials due before it.
        const failed = report.failures.length > failuresBefore;
        await this.#deps.records.setDue(name, failed ? now : NEVER, this.#parkAfter(now)).catch(() => {});
        continue;
      }
      // From the due index (or a batch of it): indexed.
      await this.#writeDue(
        credential,
        { nextDueAt: entry.nextDueAt, indexed: true },
        state.previous.get(name),
        true,
      );
    }
    report.deferred.push(...entries.slice(reached).map((entry) => entry.credential));
    await this.#reconcile(state);
    return this.#finish(report, arns);
  }

  /** `work` for `credential` within a credential's budget (see the header). */
  async #within<T>(credential: string, doing: string, work: () => Promise<T>): Promise<T> {
    const budget = new Budget(this.#credentialBudgetMs);
    this.#budget = budget;
    try {
      return await withinBudget(budget, credential, doing, work);
    } finally {
      this.#budget = undefined;
    }
  }

  /** True when the invocation has no time left for another credential's budget (and what must follow). */
  #outOfTime(): boolean {
    const remaining = this.#deps.remainingTimeMs?.();
    if (remaining === undefined) return false;
    return remaining < this.#credentialBudgetMs + this.#reconcileBudgetMs + CLOSING_RESERVE_MS;
  }

  /**
   * One credential's checks within its budget (see the header): the credential when they all
   * ran, undefined when it was skipped (owned elsewhere, deleted) or failed (reported).
   */
  async #check(description: SecretDescription, state: SweepState): Promise<ManagedCredential | undefined> {
    const { report } = state;
    const name = description.name;
    report.credentials++;
    const step: { action: SweepAction | undefined } = { action: undefined };
    try {
      return await this.#within(name, "Monitor sweep", () => this.#checks(description, state, step));
    } catch (error) {
      const failure = asKeyturnError(error, name, "Monitor sweep");
      logger.error("monitor: credential skipped", { credential: name, error: failure, action: step.action });
      if (failure instanceof CredentialTamperedError) {
        report.failures.push({ credential: name, error: failure.message });
        report.tampered.push(name);
        await reportTampering(this.#deps.publisher, failure, description.arn, "sweep");
      } else {
        // A budget spent before any check began is announced as the first check's.
        const action = step.action ?? (failure instanceof BudgetExceededError ? "expiry" : undefined);
        report.failures.push({ credential: name, error: failure.message, action, cause: failure });
      }
      return undefined;
    }
  }

  async #checks(
    description: SecretDescription,
    state: SweepState,
    step: { action: SweepAction | undefined },
  ): Promise<ManagedCredential | undefined> {
    const { report, references } = state;
    const name = description.name;
    // A value keyturn wrote under an earlier config is its own (./credentials.ts, withWrittenSettings).
    let credential = withWrittenSettings(
      this.#deps.records,
      managedCredential(description, this.#deps.pinned),
      state.records,
    );
    // Owned elsewhere first: keyturn revokes nothing for such a secret, deleted or not.
    if (await this.#lifecycle.ownedElsewhere(credential, report)) {
      if (!description.deletedDate) state.live.push(credential);
      return undefined;
    }
    const record = state.records ? state.records.get(name) : await this.#deps.records.get(name);
    this.#known.set(description.arn, { name, record });
    this.#known.set(name, { name, record });
    // The marks are the record's, not the tags' (./marks.ts).
    credential = withRecordedMarks(credential, record);
    if (description.deletedDate) {
      step.action = "retirement";
      await this.#lifecycle.deleted(credential, record, report, references);
      return undefined;
    }
    state.live.push(credential);
    step.action = "revocation";
    const previous = await previousKeysOf(this.#deps, credential, record);
    state.previous.set(name, previous);
    state.swept.push(credential);
    step.action = "expiry";
    await this.#expiry.check(credential, report);
    step.action = "stuck-rotation";
    await this.#expiry.checkStuck(credential, report);
    step.action = "revocation";
    await this.#revocation.previousKeys(credential, previous, report, references);
    step.action = "reminder";
    await this.#manual.check(credential, previous, report);
    return credential;
  }

  /**
   * Writes the credential's next due time (./due.ts) where it changed. The time is computed from
   * what the sweep read before acting: one that was due (and may have been acted on) is due again
   * now, unless `fresh` asks for it to be described again and computed from what it is now.
   */
  async #writeDue(
    credential: ManagedCredential,
    record: Pick<KeyRecord, "nextDueAt" | "indexed"> | undefined,
    previous: readonly PreviousKey[] | undefined,
    fresh = false,
  ): Promise<void> {
    const now = this.#deps.now();
    const options = {
      now,
      reconcileIntervalMs: this.#deps.reconcileIntervalMs,
      stuckAfterMs: this.#deps.stuckAfterMs,
    };
    let due = nextDueAt(credential, previous ?? [], options);
    if (due <= now.getTime() && fresh) {
      try {
        const again = await this.#deps.store.describe(credential.arn);
        // The tags as they are now, with the marks as the records hold them (./marks.ts).
        const described = { ...credential, tags: again.tags, versions: again.versions };
        due = nextDueAt(
          withRecordedMarks(described, this.#known.get(credential.name)?.record),
          previous ?? [],
          options,
        );
      } catch (error) {
        logger.warn("monitor: a due credential could not be described again; it stays due", {
          credential: credential.name,
          error,
        });
      }
    }
    const at = Math.min(NEVER, Math.max(due, now.getTime()));
    // Beyond the horizon it is parked out of the due index until an audit finds it within (see the header).
    const parked = at > this.#parkAfter(now);
    const stored = record?.nextDueAt;
    if (record === undefined || (stored === at && (record.indexed ?? true) === !parked)) return;
    // The audit leaves a credential already due as it is: the due sweep looks at it, earliest first.
    if (!fresh && stored !== undefined && stored <= now.getTime() && due <= now.getTime()) return;
    try {
      await this.#deps.records.setDue(credential.name, at, this.#parkAfter(now));
    } catch (error) {
      // Not written: the credential keeps its old due time (at worst due now), and the audit writes it.
      logger.warn("monitor: a credential's next due time could not be written", {
        credential: credential.name,
        error,
      });
    }
  }

  /** Due times after this are parked out of the due index (`dueHorizonMs` from `now`). */
  #parkAfter(now: Date): number {
    return now.getTime() + (this.#deps.dueHorizonMs ?? DEFAULT_DUE_HORIZON_MS);
  }

  /**
   * The reconciliation, within its own time (`reconcileBudgetMs`, kept back from the credentials'
   * checks): one issuer's group at a time, each within a credential's budget, so that one vendor
   * that hangs costs at most that. Groups not reached are deferred to the next sweep.
   */
  async #reconcile(state: SweepState): Promise<void> {
    const { report, references } = state;
    const groups = new Map<string, ManagedCredential[]>();
    for (const credential of state.swept) {
      const key = `${credential.provider.id}\u0000${credential.settings.issuer ?? credential.name}`;
      groups.set(key, [...(groups.get(key) ?? []), credential]);
    }
    const phase = new Budget(this.#reconcileBudgetMs);
    for (const group of groups.values()) {
      const first = group[0];
      if (!first) continue;
      if (phase.spent) {
        report.deferred.push(...group.map((credential) => credential.name));
        continue;
      }
      const budget = new Budget(Math.min(this.#credentialBudgetMs, phase.remainingMs()));
      this.#budget = budget;
      try {
        await withinBudget(budget, first.name, "Reconciliation", () =>
          this.#revocation.reconcile(group, report, references, (name) => state.previous.get(name) ?? []),
        );
      } catch (error) {
        for (const credential of group) {
          const failure = asKeyturnError(error, credential.name, "Reconciliation");
          logger.error("reconciliation: credential skipped", { credential: credential.name, error: failure });
          report.failures.push({
            credential: credential.name,
            error: failure.message,
            action: "reconciliation",
            cause: failure,
          });
        }
      } finally {
        this.#budget = undefined;
      }
    }
  }

  /** Announces the failures, logs the sweep and returns its report. */
  async #finish(report: MonitorReport, arns: Map<string, string>): Promise<MonitorReport> {
    await this.#announceFailures(report, arns);
    // The report keeps each failure's message and action, not the error object behind it.
    report.failures = report.failures.map(({ cause: _cause, ...failure }) => failure);
    if (report.deferred.length > 0)
      logger.warn("monitor: the invocation's time ran out; these credentials come first next sweep", {
        deferred: report.deferred.length,
      });
    logger.info("monitor sweep finished", {
      mode: report.mode,
      credentials: report.credentials,
      due: report.due,
      deferred: report.deferred.length,
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
