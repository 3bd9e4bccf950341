// Expiry watch and stuck rotations, two of the monitor's checks (docs/architecture.md, "Expiry and stuck rotations"; the events: docs/events.md).
//
// Expiry is decided from tags: `keyturn:expires-at` and `keyturn:key-id` (mirrored by every
// rotation; read once from the value for a credential stored by hand) and
// `keyturn:expiry-notice`, the last notice sent for that key. So "Credential Expiring" goes
// out once per threshold crossed and "Credential Expired" once, however often the monitor
// sweeps; a new key starts with no notice. An automatic credential whose key expires before
// its next scheduled rotation is rotated now.
//
// A stuck rotation is an AWSPENDING version that is not AWSCURRENT and has outlived
// `stuckAfter` since the monitor first saw it (`keyturn:pending-seen`: the monitor's clock,
// not the version's creation date, so that the decision needs no extra call). It blocks
// every later rotation ("a previous rotation isn't complete"): it is reported and the label
// removed; its minted key is then referenced by nothing and the orphan reconciliation
// revokes it.

import type { EventPublisher } from "#aws/event-publisher.ts";
import { CURRENT, PENDING, type SecretStore } from "#aws/secret-store.ts";
import { isAutomatic } from "#providers/types.ts";
import { type ManagedCredential, readCurrent } from "./credentials.ts";
import { AwaitingFirstKeyError } from "./errors.ts";
import {
  credentialExpired,
  credentialExpiring,
  credentialRotationFailed,
  expirySeverity,
  manualRotationRequired,
} from "./events.ts";
import { logger } from "./logger.ts";
import { refOf } from "./revocation.ts";
import { Tag } from "./settings.ts";

const DAY = 86_400_000;

export interface ExpiryDeps {
  store: SecretStore;
  publisher: EventPublisher;
  now: () => Date;
  /** Starts a rotation now (RotateSecret in AWS); does not wait for it. */
  rotate: (secretId: string) => Promise<void>;
  stuckAfterMs: number;
}

export interface ExpiryReport {
  expiring: { credential: string; keyId: string; threshold: string; action: string }[];
  expired: { credential: string; keyId: string }[];
  rotatedEarly: string[];
  stuck: { credential: string; versionId: string }[];
}

export class ExpiryWatch {
  readonly #deps: ExpiryDeps;

  constructor(deps: ExpiryDeps) {
    this.#deps = deps;
  }

  async check(credential: ManagedCredential, report: ExpiryReport): Promise<void> {
    const { tags, settings } = credential;
    let keyId = tags[Tag.keyId];
    let expiresAt = tags[Tag.expiresAt];
    if (!keyId || expiresAt === undefined) {
      // Stored by hand and never rotated: read the value once and mirror what the sweep needs.
      const current = await readCurrent(this.#deps.store, credential).catch((error: unknown) => {
        if (error instanceof AwaitingFirstKeyError) return undefined;
        throw error;
      });
      if (!current) {
        logger.info("credential awaiting its first key (keyturn put)", { credential: settings.credential });
        return;
      }
      keyId = current.keyId;
      expiresAt = credential.provider.expiresAt(current)?.toISOString() ?? "none";
      await this.#deps.store.tag(credential.arn, { [Tag.keyId]: keyId, [Tag.expiresAt]: expiresAt });
    }
    const expiry = Date.parse(expiresAt);
    if (Number.isNaN(expiry)) return;
    const now = this.#deps.now().getTime();
    const msLeft = expiry - now;
    const notice = tags[Tag.expiryNotice] ?? "";
    const ref = refOf(credential);

    if (msLeft <= 0) {
      if (notice === `${keyId}@expired`) return;
      await this.#deps.publisher.publish([
        credentialExpired(ref, { keyId, expiresAt: new Date(expiry).toISOString() }),
      ]);
      await this.#deps.store.tag(credential.arn, { [Tag.expiryNotice]: `${keyId}@expired` });
      report.expired.push({ credential: settings.credential, keyId });
      return;
    }
    const crossed = settings.expiryThresholds.filter((threshold) => msLeft <= threshold.ms).at(-1);
    if (!crossed) return;
    const alreadySent = notice.startsWith(`${keyId}@`)
      ? settings.expiryThresholds.find((threshold) => threshold.text === notice.slice(keyId.length + 1))
      : undefined;
    if (alreadySent && alreadySent.ms <= crossed.ms) return;

    let action: "rotating-early" | "rotation-scheduled" | "manual-rotation-required" =
      "manual-rotation-required";
    let rotationError: unknown;
    if (isAutomatic(credential.provider)) {
      const next = credential.nextRotationDate?.getTime();
      const rotationInFlight = Object.values(credential.versions).some(
        (stages) => stages.includes(PENDING) && !stages.includes(CURRENT),
      );
      if (next !== undefined && next < expiry) action = "rotation-scheduled";
      else {
        action = "rotating-early";
        if (!rotationInFlight) {
          try {
            await this.#deps.rotate(credential.arn);
            report.rotatedEarly.push(settings.credential);
          } catch (error) {
            // The notice matters more now, not less: send it, then report the failure.
            rotationError = error;
          }
        }
      }
    }
    await this.#deps.publisher.publish([
      credentialExpiring(
        ref,
        {
          keyId,
          expiresAt: new Date(expiry).toISOString(),
          threshold: crossed.text,
          daysLeft: Math.floor(msLeft / DAY),
          action,
        },
        msLeft,
      ),
    ]);
    if (action === "manual-rotation-required" && credential.provider.manualSteps) {
      const value = await readCurrent(this.#deps.store, credential);
      await this.#deps.publisher.publish([
        manualRotationRequired(ref, {
          severity: expirySeverity(msLeft),
          keyId,
          reason: "expiring",
          dueAt: new Date(expiry).toISOString(),
          steps: credential.provider.manualSteps(value),
        }),
      ]);
    }
    await this.#deps.store.tag(credential.arn, { [Tag.expiryNotice]: `${keyId}@${crossed.text}` });
    report.expiring.push({ credential: settings.credential, keyId, threshold: crossed.text, action });
    logger.warn("credential expiring", {
      credential: settings.credential,
      keyId,
      threshold: crossed.text,
      action,
    });
    if (rotationError !== undefined) throw rotationError;
  }

  async checkStuck(credential: ManagedCredential, report: ExpiryReport): Promise<void> {
    const pending = Object.entries(credential.versions).find(
      ([, stages]) => stages.includes(PENDING) && !stages.includes(CURRENT),
    )?.[0];
    const seen = credential.tags[Tag.pendingSeen] ?? "";
    const now = this.#deps.now();
    if (!pending) {
      if (seen) await this.#deps.store.tag(credential.arn, { [Tag.pendingSeen]: "" });
      return;
    }
    if (!seen.startsWith(`${pending}@`)) {
      await this.#deps.store.tag(credential.arn, { [Tag.pendingSeen]: `${pending}@${now.toISOString()}` });
      return;
    }
    const seenAt = Date.parse(seen.slice(pending.length + 1));
    if (now.getTime() - seenAt < this.#deps.stuckAfterMs) return;
    await this.#deps.store.removeStage(credential.arn, PENDING, pending);
    const hours = Math.round((now.getTime() - seenAt) / 3_600_000);
    await this.#deps.publisher.publish([
      credentialRotationFailed(refOf(credential), {
        step: "stuck",
        versionId: pending,
        severity: "critical",
        error: {
          name: "StuckRotation",
          message:
            `Version ${pending} of "${credential.settings.credential}" stayed AWSPENDING for ${hours} h without ` +
            "becoming AWSCURRENT, which blocks every later rotation. keyturn removed the label; the key it holds " +
            "will be revoked as an orphan. Check the rotate function's logs for the failure.",
          retryable: false,
        },
      }),
    ]);
    await this.#deps.store.tag(credential.arn, { [Tag.pendingSeen]: "" });
    report.stuck.push({ credential: credential.settings.credential, versionId: pending });
  }
}
