// The Secrets Manager rotation protocol for credentials a vendor lets us mint by API
// (docs/architecture.md, "Rotation"). Secrets Manager calls the four steps with one
// ClientRequestToken (the new version's id) and retries the whole rotation after any
// failure, so every step is idempotent and safe to re-run in any order:
//
// - createSecret: a version for this token already holds a value -> nothing to do. Else mint
//   the successor with a marker naming the credential and the token, and store it as
//   AWSPENDING under the token. A key already marked for this token at the vendor was minted
//   by an attempt that died before storing it: its value is lost, so it is revoked first.
// - setSecret: nothing; the vendors we mint at activate keys on creation.
// - testSecret: the pending key must authenticate at the vendor.
// - finishSecret: AWSCURRENT moves to the token's version, where AWSPENDING may stay (a
//   finished rotation as RotateSecret's reference describes it: only AWSPENDING on another
//   version than AWSCURRENT is a rotation in progress), the old key and its revokeAfter are
//   recorded in keyturn's records (./previous-keys.ts; the tags mirror them), any older previous
//   key still open is revoked as superseded, and "Credential Rotated" is published. The event goes
//   out before the final bookkeeping tag, so a crash between them repeats the event rather
//   than losing it.

import type { EventPublisher } from "#aws/event-publisher.ts";
import type { KeyRecords } from "#aws/record-store.ts";
import { CURRENT, PENDING, type SecretStore, versionWithStage } from "#aws/secret-store.ts";
import type { HttpClient } from "#http/client.ts";
import { redactText } from "#http/redact.ts";
import { rotationMarker } from "#providers/marker.ts";
import {
  type AutomaticProvider,
  type CredentialValue,
  isAutomatic,
  type ProviderContext,
} from "#providers/types.ts";
import {
  claimCurrentKey,
  isAwaitingFirstKey,
  type ManagedCredential,
  managedCredential,
  parseOwnValue,
  readAuthority,
  readCurrent,
  readValue,
  reportTampering,
  withPinnedSettings,
  withWrittenSettings,
} from "./credentials.ts";
import { asKeyturnError, InvalidSettingsError, RotationStateError } from "./errors.ts";
import {
  type CredentialRef,
  credentialRevoked,
  credentialRotated,
  credentialRotationFailed,
  type RotationStepName,
} from "./events.ts";
import { logger } from "./logger.ts";
import type { PinnedCredentials } from "./pinned.ts";
import { isOpen, type PreviousKey, previousKeysOf, revokeSuperseded } from "./previous-keys.ts";
import { type CredentialSettings, Tag } from "./settings.ts";

export interface RotationDeps {
  store: SecretStore;
  /** keyturn's own records: every key it stores for a credential, and the only keys it revokes. */
  records: KeyRecords;
  /** What the deployment pinned: the only source of a credential's identity, settings and policy. */
  pinned: PinnedCredentials;
  publisher: EventPublisher;
  /** An HTTP client for one vendor, for the current invocation (its deadline comes from the Lambda context). */
  http: (vendor: string) => HttpClient;
  now: () => Date;
}

interface RotationTarget {
  secretId: string;
  arn: string;
  versionId: string;
  versions: Record<string, string[]>;
  tags: Record<string, string>;
  credential: ManagedCredential;
  settings: CredentialSettings;
  provider: AutomaticProvider<CredentialValue>;
  ctx: ProviderContext;
}

export class RotationEngine {
  readonly #deps: RotationDeps;

  constructor(deps: RotationDeps) {
    this.#deps = deps;
  }

  /**
   * Runs one step. A failure is published as "Credential Rotation Failed" and thrown again
   * as a KeyturnError, so that Secrets Manager records it and retries the rotation.
   */
  async run(step: RotationStepName, secretId: string, versionId: string): Promise<void> {
    const ref: CredentialRef = { credential: secretId, provider: "unknown", secretArn: secretId };
    try {
      if (step === "setSecret") {
        // Nothing to do (the vendors activate keys on creation), so nothing to read either.
        logger.info("setSecret: nothing to do, the vendor activates keys on creation", { secretId, step });
        return;
      }
      const target = await this.#target(secretId, versionId, ref);
      logger.appendKeys({ credential: target.settings.credential, provider: target.provider.id, step });
      switch (step) {
        case "createSecret":
          return await this.#create(target);
        case "testSecret":
          return await this.#test(target);
        case "finishSecret":
          return await this.#finish(target);
      }
    } catch (error) {
      const failure = asKeyturnError(error, ref.credential, `Rotation step ${step}`);
      logger.error(`${step} failed`, { error: failure });
      const details = {
        name: failure.name,
        message: redactText(failure.message).slice(0, 2000),
        retryable: failure.retryable,
      };
      try {
        await this.#deps.publisher.publish([
          credentialRotationFailed(ref, { step, versionId, error: details }),
        ]);
      } catch (publishError) {
        logger.error("could not publish Credential Rotation Failed", { error: publishError });
      }
      await reportTampering(this.#deps.publisher, failure, ref.secretArn, "rotation");
      throw failure;
    }
  }

  /** Reads what the step needs, filling in `ref` as facts become known (for the failure event). */
  async #target(secretId: string, versionId: string, ref: CredentialRef): Promise<RotationTarget> {
    const description = await this.#deps.store.describe(secretId);
    ref.secretArn = description.arn;
    ref.credential = description.name;
    ref.provider = this.#deps.pinned.bySecretName(description.name)?.provider ?? "unknown";
    const credential = withWrittenSettings(
      this.#deps.records,
      managedCredential(description, this.#deps.pinned),
    );
    const { settings, provider } = credential;
    ref.provider = settings.provider;
    if (!isAutomatic(provider)) {
      throw new InvalidSettingsError(
        `Credential "${settings.credential}" uses ${provider.vendor} (${provider.mode}), which keyturn cannot rotate by API. ` +
          "Turn off Secrets Manager rotation for it; keyturn reminds operators when a manual rotation is due.",
        { credential: settings.credential },
      );
    }
    const stages = description.versions[versionId];
    if (stages && !stages.includes(PENDING) && !stages.includes(CURRENT)) {
      throw new RotationStateError(
        `Credential "${settings.credential}": version ${versionId} is neither AWSPENDING nor AWSCURRENT ` +
          `(it is ${stages.join(", ") || "unlabelled"}), so it is not part of a rotation in progress.`,
        { credential: settings.credential },
      );
    }
    return {
      secretId,
      arn: description.arn,
      versionId,
      versions: description.versions,
      tags: description.tags,
      credential,
      settings,
      provider,
      ctx: { credential: settings.credential, http: this.#deps.http(provider.vendor), now: this.#deps.now },
    };
  }

  async #create(target: RotationTarget): Promise<void> {
    const { settings, provider, ctx, versionId } = target;
    if (target.versions[versionId]?.includes(CURRENT)) {
      logger.info("createSecret: version is already AWSCURRENT");
      return;
    }
    if (target.versions[versionId] && (await this.#deps.store.read(target.secretId, { versionId }))) {
      logger.info("createSecret: a value is already stored for this version");
      return;
    }
    const current = await readCurrent(this.#deps.store, target.credential);
    // The key this successor replaces becomes the previous key, which keyturn revokes later:
    // it must be one keyturn stored itself, not whatever key id a written value names.
    await claimCurrentKey(this.#deps.records, target.credential, current.keyId);
    const authority = await readAuthority(this.#deps.store, target.credential, current);
    const marker = rotationMarker(settings.credential, versionId);
    await this.#revokeMarked(target, authority, marker, "an attempt that did not store it");
    const now = this.#deps.now().getTime();
    const expiresAt =
      settings.keyLifetimeMs === undefined ? undefined : new Date(now + settings.keyLifetimeMs);
    let stored = false;
    try {
      const minted = await provider.issue(
        authority,
        withPinnedSettings(target.credential, current),
        { marker, expiresAt },
        ctx,
      );
      const successor: CredentialValue = {
        ...withPinnedSettings(target.credential, minted),
        // versionId: the AWSCURRENT version this successor replaces, which finishSecret checks.
        previous: {
          keyId: current.keyId,
          revokeAfter: new Date(now + settings.gracePeriodMs).toISOString(),
          versionId: versionWithStage(target.versions, CURRENT),
        } as CredentialValue["previous"],
      };
      await this.#deps.store.putPending(target.secretId, versionId, JSON.stringify(successor));
      stored = true;
      logger.info("createSecret: successor minted and stored as AWSPENDING", { keyId: successor.keyId });
    } finally {
      // The vendor may have minted although the answer never arrived (a timeout, a cut
      // connection, a garbled body), or the key may not have been stored: clean up now,
      // best effort, rather than leave a live key to the retry or the orphan sweep.
      if (!stored) {
        await this.#cleanUpFailedMint(target, authority, marker).catch((cleanupError: unknown) =>
          logger.warn("createSecret: could not clean up after a failed mint", { error: cleanupError }),
        );
      }
    }
  }

  /**
   * After this attempt failed to mint or store: revokes the keys carrying its marker, except
   * one that another attempt with the same token managed to store meanwhile.
   */
  async #cleanUpFailedMint(
    target: RotationTarget,
    authority: CredentialValue,
    marker: string,
  ): Promise<void> {
    const stored = await readValue(this.#deps.store, target.credential, { versionId: target.versionId });
    await this.#revokeMarked(
      target,
      authority,
      marker,
      "this attempt, which could not store it",
      stored?.keyId,
    );
  }

  /** Revokes every live key carrying this rotation's marker (one minted, but not stored), but `keep`. */
  async #revokeMarked(
    target: RotationTarget,
    authority: CredentialValue,
    marker: string,
    mintedBy: string,
    keep?: string,
  ): Promise<void> {
    for await (const key of target.provider.listIssued(authority, target.ctx)) {
      if (key.marker !== marker || !key.active || key.keyId === keep) continue;
      const outcome = await target.provider.revoke(key.keyId, authority, "hard", target.ctx);
      logger.warn(`createSecret: revoked a key minted for this version by ${mintedBy}`, {
        keyId: key.keyId,
        outcome,
      });
    }
  }
  /**
   * At most two live keys: the previous keys keyturn's records keep open, other than the one this
   * rotation makes previous and the new key (`keep`), are two generations old when it finishes.
   * Each is revoked now, before its grace period ends, and recorded revoked (a conditional write:
   * a sweep that revoked it meanwhile keeps its decision). A failure fails the step, and Secrets
   * Manager's retry tries again.
   */
  async #retireSuperseded(
    target: RotationTarget,
    previous: readonly PreviousKey[],
    keep: readonly (string | undefined)[],
  ): Promise<void> {
    for (const entry of previous) {
      if (!isOpen(entry) || keep.includes(entry.keyId)) continue;
      await this.#retireOne(target, entry);
    }
  }

  async #retireOne(target: RotationTarget, entry: PreviousKey): Promise<void> {
    const credential = { ...target.credential, provider: target.provider };
    const outcome = await revokeSuperseded(this.#deps, credential, entry, "rotation", target.ctx);
    if (outcome === "refused") return;
    logger.warn(
      "finishSecret: revoked the previous key of an earlier rotation, superseded before its grace period ended",
      { keyId: entry.keyId, outcome },
    );
  }

  /** The pending value (parsed from `secretString` when the caller has just read it). */
  async #pending(target: RotationTarget, secretString?: string): Promise<CredentialValue> {
    const name = target.settings.credential;
    const pending =
      secretString === undefined
        ? await readValue(this.#deps.store, target.credential, { versionId: target.versionId })
        : parseOwnValue(target.credential, secretString);
    if (!pending) {
      throw new RotationStateError(
        `Credential "${name}": version ${target.versionId} has no value; createSecret has not stored one yet.`,
        { credential: name, retryable: true },
      );
    }
    return pending;
  }

  async #test(target: RotationTarget): Promise<void> {
    // Secrets Manager tests a new rotation configuration (a schedule set up without rotating
    // at once) by calling testSecret on a copy of the current value. A credential the stack
    // just created holds no key yet: nothing to check, and failing would fail the deploy.
    const raw = await this.#deps.store.read(target.secretId, { versionId: target.versionId });
    if (raw && isAwaitingFirstKey(raw.secretString)) {
      logger.info("testSecret: configuration test of a credential awaiting its first key; nothing to verify");
      return;
    }
    const pending = await this.#pending(target, raw?.secretString);
    await target.provider.verify(pending, target.ctx);
    logger.info("testSecret: the pending key authenticates at the vendor", { keyId: pending.keyId });
  }

  /**
   * Someone moved AWSCURRENT while this rotation was in flight (a PutSecretValue by hand between
   * createSecret and finishSecret). keyturn keeps what they made current: it does not replace a
   * value it did not write without a word. It revokes the successor it minted (never current, so
   * no consumer holds it), takes the key it meant to replace as the previous key (in its records,
   * so the sweep revokes it after the grace period), removes AWSPENDING, and fails the step with
   * a critical event. The hand-written key is not in keyturn's records: the next rotation refuses
   * it as tampering until it is handed over with `keyturn put`.
   */
  async #overtaken(target: RotationTarget, pending: CredentialValue, currentVersion: string): Promise<never> {
    const { settings, provider, ctx } = target;
    const authority = await readAuthority(this.#deps.store, target.credential);
    const outcome = await provider.revoke(pending.keyId, authority, "hard", ctx);
    const ref = { credential: settings.credential, provider: settings.provider, secretArn: target.arn };
    await this.#deps.publisher.publish([
      credentialRevoked(ref, { keyId: pending.keyId, reason: "orphan", strength: "hard", outcome }),
    ]);
    await this.#deps.store.removeStage(target.secretId, PENDING, target.versionId);
    const replaced = pending.previous?.keyId;
    const revokeAfter = new Date(this.#deps.now().getTime() + settings.gracePeriodMs).toISOString();
    // Tracked in keyturn's records beside any other previous key (only a key keyturn stored).
    const tracked = replaced
      ? await this.#deps.records.trackPrevious(settings.credential, replaced, revokeAfter)
      : false;
    const previousState = target.tags[Tag.previousState] ?? "active";
    const tracksAnother =
      Boolean(target.tags[Tag.previousKeyId]) && previousState !== "revoked" && previousState !== "refused";
    if (replaced && tracked && !tracksAnother) {
      await this.#deps.store.tag(target.secretId, {
        [Tag.previousKeyId]: replaced,
        [Tag.revokeAfter]: revokeAfter,
        [Tag.previousState]: "active",
        [Tag.postponements]: "0",
        [Tag.deleteAfter]: "",
      });
    }
    throw new RotationStateError(
      `Credential "${settings.credential}": AWSCURRENT was moved to version ${currentVersion} by someone other than ` +
        `keyturn while rotation ${target.versionId} was in flight. keyturn left it current, revoked the key it had ` +
        `minted (${pending.keyId}) and ${replaced && tracked ? `will revoke the replaced key ${replaced} after the grace period` : "left the replaced key as it was"}. ` +
        "The key now current was not stored by keyturn: hand it over with keyturn put (or restore the previous " +
        "version) before the next rotation, which refuses it until then.",
      { credential: settings.credential, retryable: false },
    );
  }

  async #finish(target: RotationTarget): Promise<void> {
    const { secretId, versionId, versions, settings } = target;
    const stages = versions[versionId] ?? [];
    if (stages.includes(CURRENT) && target.tags[Tag.rotatedVersion] === versionId) {
      logger.info("finishSecret: already finished");
      return;
    }
    const raw = await this.#deps.store.read(secretId, { versionId });
    const pending = await this.#pending(target, raw?.secretString);
    const previousVersion = versionWithStage(versions, CURRENT);
    const replaces = raw ? replacedVersionIn(raw.secretString) : undefined;
    if (replaces && previousVersion && previousVersion !== versionId && previousVersion !== replaces) {
      await this.#overtaken(target, pending, previousVersion);
    }
    // Recorded before it becomes current: a crash in between leaves a recorded key pending,
    // never a current key keyturn has no record of.
    await this.#deps.records.addKeys(settings.credential, [pending.keyId], target.credential.pinned);
    if (previousVersion !== versionId) {
      await this.#deps.store.moveStage(secretId, CURRENT, versionId, previousVersion);
    }
    // AWSPENDING stays on the version now AWSCURRENT: a finished rotation as Secrets Manager
    // defines it (RotateSecret: "AWSPENDING might be attached to the same version as
    // AWSCURRENT"), which the next rotation moves on. Removing it would be one more call per
    // rotation for nothing; only a pending version that is not current is a rotation in progress.

    const now = this.#deps.now();
    const revokeAfter = new Date(now.getTime() + settings.gracePeriodMs).toISOString();
    const expiresAt = target.provider.expiresAt(pending)?.toISOString() ?? null;
    const previousKeyId = pending.previous?.keyId;
    // keyturn's records keep the previous keys (./previous-keys.ts): the one this rotation replaced
    // starts its grace period, and any older one still open is superseded.
    const previous = await previousKeysOf(
      this.#deps,
      target.credential,
      await this.#deps.records.get(settings.credential),
    );
    if (previousKeyId)
      await this.#deps.records.trackPrevious(settings.credential, previousKeyId, revokeAfter);
    await this.#retireSuperseded(target, previous, [previousKeyId, pending.keyId]);
    await this.#deps.publisher.publish([
      credentialRotated(
        { credential: settings.credential, provider: settings.provider, secretArn: target.arn },
        { versionId, keyId: pending.keyId, previousKeyId, expiresAt, revokeAfter },
      ),
    ]);
    await this.#deps.store.tag(secretId, {
      [Tag.keyId]: pending.keyId,
      [Tag.expiresAt]: expiresAt ?? "none",
      [Tag.rotatedAt]: now.toISOString(),
      [Tag.rotatedVersion]: versionId,
      // A new previous key starts its revocation afresh: whatever the sweep recorded about
      // the key before it (revoked, disabled, postponed) is history.
      ...(previousKeyId
        ? {
            [Tag.previousKeyId]: previousKeyId,
            [Tag.revokeAfter]: revokeAfter,
            [Tag.previousState]: "active",
            [Tag.postponements]: "0",
            [Tag.deleteAfter]: "",
          }
        : {}),
    });
    logger.info("finishSecret: new key is AWSCURRENT", { keyId: pending.keyId, previousKeyId, revokeAfter });
  }
}

/** The AWSCURRENT version a successor was minted to replace, as createSecret wrote it. */
function replacedVersionIn(secretString: string): string | undefined {
  try {
    const previous = (JSON.parse(secretString) as { previous?: { versionId?: unknown } }).previous;
    return typeof previous?.versionId === "string" ? previous.versionId : undefined;
  } catch {
    return undefined;
  }
}
