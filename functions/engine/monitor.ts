// The monitor's sweep: one pass over every managed credential, a ListSecrets page (up to
// 100 credentials, tags and staging labels included) at a time. For each credential, in
// order: expiry notices and early rotations, stuck rotations, the previous key's
// revocation, manual rotation reminders; then the reconciliation of vendor keys against the secrets. Every decision is
// made from the page; a credential with nothing due costs no further call.
//
// One credential's failure is reported and the sweep goes on with the next: one broken
// secret must not silence the alerts of all the others.

import type { EventPublisher } from "#aws/event-publisher.ts";
import type { SecretStore } from "#aws/secret-store.ts";
import type { HttpClient } from "#http/client.ts";
import { type ManagedCredential, managedCredential } from "./credentials.ts";
import { asKeyturnError } from "./errors.ts";
import { type ExpiryReport, ExpiryWatch } from "./expiry.ts";
import { logger } from "./logger.ts";
import { type ManualReport, ManualWatch } from "./manual.ts";
import { Revocation, type RevocationReport } from "./revocation.ts";
import { Tag } from "./settings.ts";

export interface MonitorDeps {
  store: SecretStore;
  publisher: EventPublisher;
  http: (vendor: string) => HttpClient;
  now: () => Date;
  /** Starts a rotation now (RotateSecret in AWS). */
  rotate: (secretId: string) => Promise<void>;
  orphanSafetyMarginMs: number;
  reconcileIntervalMs: number;
  stuckAfterMs: number;
}

export interface MonitorReport extends RevocationReport, ExpiryReport, ManualReport {
  credentials: number;
  listCalls: number;
}

export class Monitor {
  readonly #deps: MonitorDeps;
  readonly #revocation: Revocation;
  readonly #expiry: ExpiryWatch;
  readonly #manual: ManualWatch;

  constructor(deps: MonitorDeps) {
    this.#deps = deps;
    this.#revocation = new Revocation(deps);
    this.#expiry = new ExpiryWatch(deps);
    this.#manual = new ManualWatch(deps);
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
    };
    const swept: ManagedCredential[] = [];
    for await (const page of this.#deps.store.listTagged(Tag.provider)) {
      report.listCalls++;
      for (const description of page) {
        report.credentials++;
        const name = description.tags[Tag.credential] || description.name;
        try {
          const credential = managedCredential(description);
          swept.push(credential);
          await this.#expiry.check(credential, report);
          await this.#expiry.checkStuck(credential, report);
          await this.#revocation.previousKey(credential, report);
          await this.#manual.check(credential, report);
        } catch (error) {
          const failure = asKeyturnError(error, name, "Monitor sweep");
          logger.error("monitor: credential skipped", { credential: name, error: failure });
          report.failures.push({ credential: name, error: failure.message });
        }
      }
    }
    await this.#revocation.reconcile(swept, report);
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
    });
    return report;
  }
}
