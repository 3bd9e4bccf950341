// Emergency revoke: "kill this key now and issue a new one". For the current key: rotate at
// once through Secrets Manager, then revoke the compromised key hard, with no grace period
// and no in-use wait. If the rotation fails the compromised key is revoked all the same (an
// outage beats a leak) and a critical "Credential Rotation Failed" says that consumers are
// left without a working key. For the previous key: revoke it, nothing else.
//
// A request to the revoke function (from the bus, or invoked directly) is held to the
// credential's cooldown: once an emergency revoke has acted for one key, a request for another
// key of the same credential is answered with "Revocation Refused" (cooldown) until the cooldown
// ends, so that whoever may put events or invoke the function cannot rotate a credential and
// delete its fresh key again and again. The operators' `keyturn revoke`, which runs this in their
// own process, is not held back.
//
// A secret owned elsewhere (a replica, managed by another AWS service, rotated by another
// function: ./lifecycle.ts) is refused before anything is done: keyturn would rotate it with its
// own function and revoke the key its owner put there.

import type { EmergencyCooldowns } from "#aws/emergency-cooldown.ts";
import type { EventPublisher } from "#aws/event-publisher.ts";
import type { KeyRecords } from "#aws/record-store.ts";
import type { SecretStore } from "#aws/secret-store.ts";
import type { HttpClient } from "#http/client.ts";
import { redactText } from "#http/redact.ts";
import { isAutomatic } from "#providers/types.ts";
import {
  claimCurrentKey,
  type ManagedCredential,
  managedCredential,
  readAuthority,
  readCurrent,
  reportTampering,
  withWrittenSettings,
} from "./credentials.ts";
import { asKeyturnError, InvalidSettingsError, RotationStateError } from "./errors.ts";
import {
  credentialOwnedElsewhere,
  credentialRevoked,
  credentialRotationFailed,
  revocationRefused,
} from "./events.ts";
import { ownedElsewhere } from "./lifecycle.ts";
import { logger } from "./logger.ts";
import type { PinnedCredentials } from "./pinned.ts";
import { movePrevious, openPrevious, type PreviousKey, previousKeysOf } from "./previous-keys.ts";
import { refOf } from "./revocation.ts";
import { refuseRevocation } from "./revocation-guard.ts";
import { Tag } from "./settings.ts";

export interface EmergencyDeps {
  store: SecretStore;
  /** keyturn's own records: every key it stores for a credential, and the only keys it revokes. */
  records: KeyRecords;
  /** What the deployment pinned: the only source of a credential's identity, settings and policy. */
  pinned: PinnedCredentials;
  publisher: EventPublisher;
  http: (vendor: string) => HttpClient;
  now: () => Date;
  /** Rotates the secret now and resolves once the new key is AWSCURRENT; rejects if the rotation failed. */
  rotate: (secretId: string) => Promise<void>;
  /**
   * The cooldown a request to the revoke function is held to; undefined for the operators'
   * `keyturn revoke`, which none holds back.
   */
  cooldown?: { claims: EmergencyCooldowns; periodMs: number } | undefined;
  /** keyturn's own rotate function, where known: a secret another function rotates is refused. */
  rotateFunctionArn?: string | undefined;
}

/**
 * Kill key `keyId` of `credential` now. The request names the key, not "the current one": a
 * request delivered twice (EventBridge and asynchronous invocations deliver at least once)
 * finds the key already revoked and changes nothing, instead of rotating again and revoking the
 * fresh successor.
 */
export interface EmergencyRequest {
  credential: string;
  keyId: string;
  reason: string;
}

export interface EmergencyOutcome {
  credential: string;
  keyId: string;
  /** What the key was when the request arrived; "neither" when it is no longer a live key of the credential. */
  target: "current" | "previous" | "neither";
  /** For the current key: whether a successor became AWSCURRENT before the revocation. */
  rotated: boolean;
  /** "cooldown": an emergency revoke for another key of the credential holds the cooldown; nothing was done. */
  revocation: "revoked" | "already-gone" | "nothing-to-revoke" | "cooldown";
  /** With "cooldown": when a request for another key is acted on again. */
  cooldownUntil?: string;
}

export async function emergencyRevoke(
  deps: EmergencyDeps,
  request: EmergencyRequest,
): Promise<EmergencyOutcome> {
  const description = await deps.store.describe(request.credential).catch((error: unknown) => {
    throw asKeyturnError(error, request.credential, "Emergency revoke (reading the secret)");
  });
  try {
    return await revokePinned(
      deps,
      request,
      withWrittenSettings(deps.records, managedCredential(description, deps.pinned)),
    );
  } catch (error) {
    await reportTampering(deps.publisher, error, description.arn, "emergency-revoke");
    throw error;
  }
}

async function revokePinned(
  deps: EmergencyDeps,
  request: EmergencyRequest,
  credential: ManagedCredential,
): Promise<EmergencyOutcome> {
  const { settings, provider } = credential;
  const { keyId } = request;
  const name = settings.credential;
  logger.appendKeys({ credential: name, provider: provider.id });
  if (!isAutomatic(provider)) {
    throw new InvalidSettingsError(
      `Credential "${name}" (${provider.vendor}) cannot be revoked by API: revoke the key in the vendor's web UI now, ` +
        "then store its replacement with keyturn put.",
      { credential: name },
    );
  }
  const elsewhere = ownedElsewhere(credential, deps.rotateFunctionArn);
  if (elsewhere.length > 0) {
    await deps.publisher.publish([credentialOwnedElsewhere(refOf(credential), elsewhere)]);
    throw new InvalidSettingsError(
      `Credential "${name}" is owned elsewhere (${elsewhere.join(", ")}): keyturn neither rotates it nor revokes ` +
        "its keys. Revoke the key where the secret is owned, or remove the credential from keyturn's config.",
      { credential: name },
    );
  }
  const ctx = { credential: name, http: deps.http(provider.vendor), now: deps.now };

  const compromised = await readCurrent(deps.store, credential);
  // Logged once the current key is read (the redactor knows it then): a requester may quote the
  // leaked key in the reason. Known shapes (JWTs, SoftwareOne tokens, Bearer headers) are
  // redacted whatever key they are.
  logger.warn("emergency revoke requested", { keyId, reason: redactText(request.reason) });
  await claimCurrentKey(deps.records, credential, compromised.keyId);
  // Whether `keyId` is a previous key still to revoke: keyturn's records say (./previous-keys.ts),
  // never the secret's tags.
  const previous = await previousKeysOf(deps, credential, await deps.records.get(name));
  const livePrevious = openPrevious(previous, keyId);
  if (keyId !== compromised.keyId && !livePrevious) {
    // Already revoked (a second delivery of the same request, or a key revoked since), or not a
    // key of this credential: nothing to do, and nothing is rotated.
    logger.warn("emergency revoke: the key is neither current nor a previous key awaiting revocation", {
      keyId,
    });
    return { credential: name, keyId, target: "neither", rotated: false, revocation: "nothing-to-revoke" };
  }

  const target = keyId === compromised.keyId ? "current" : "previous";
  // The revocation guard (./revocation-guard.ts) before anything is done, and before the
  // cooldown: a key keyturn would refuse to revoke takes no cooldown.
  const authority = await readAuthority(deps.store, credential, compromised);
  const refused = await refuseRevocation(deps, credential, keyId, authority, { during: "emergency-revoke" });
  if (refused) throw refused;
  if (deps.cooldown) {
    const claim = await deps.cooldown.claims.claim(name, keyId, deps.now(), deps.cooldown.periodMs);
    if (claim.held) {
      const cooldownUntil = claim.until.toISOString();
      logger.warn("emergency revoke: held by the cooldown of an earlier request for another key", {
        keyId,
        heldBy: claim.keyId,
        cooldownUntil,
      });
      await deps.publisher.publish([
        revocationRefused(refOf(credential), {
          keyId,
          reason: "cooldown",
          referencedBy: [],
          during: "emergency-revoke",
          cooldownUntil,
        }),
      ]);
      return { credential: name, keyId, target, rotated: false, revocation: "cooldown", cooldownUntil };
    }
  }

  if (livePrevious) {
    const outcome = await provider.revoke(keyId, authority, "hard", ctx);
    await deps.publisher.publish([
      credentialRevoked(refOf(credential), { keyId, reason: "compromised", strength: "hard", outcome }),
    ]);
    await recordRevoked(deps, credential, livePrevious);
    return { credential: name, keyId, target: "previous", rotated: false, revocation: outcome };
  }

  let rotationError: unknown;
  try {
    await deps.rotate(credential.arn);
  } catch (error) {
    rotationError = error;
  }
  const after = withWrittenSettings(
    deps.records,
    managedCredential(await deps.store.describe(credential.arn), deps.pinned),
  );
  const rotated =
    rotationError === undefined &&
    after.tags[Tag.keyId] !== undefined &&
    after.tags[Tag.keyId] !== compromised.keyId;
  // After a rotation the successor (or the issuer) has the authority; without one, the
  // compromised key itself (or its issuer) must revoke it: vendors let a key delete itself.
  const revoker = rotated ? await readAuthority(deps.store, after) : authority;
  const outcome = await provider.revoke(compromised.keyId, revoker, "hard", ctx);
  await deps.publisher.publish([
    credentialRevoked(refOf(credential), {
      keyId: compromised.keyId,
      reason: "compromised",
      strength: "hard",
      outcome,
    }),
  ]);
  if (rotated) {
    // The rotation made the compromised key previous (keyturn's records): it is revoked already.
    const now = await previousKeysOf(deps, after, await deps.records.get(name));
    const entry = openPrevious(now, compromised.keyId);
    if (entry) await recordRevoked(deps, after, entry);
  } else {
    const failure = asKeyturnError(
      rotationError ??
        new RotationStateError(`Credential "${name}": the emergency rotation did not replace the key.`, {
          credential: name,
        }),
      name,
      "Emergency rotation",
    );
    await deps.publisher.publish([
      credentialRotationFailed(refOf(credential), {
        step: "emergency",
        versionId: "none",
        error: {
          name: failure.name,
          message: redactText(
            `Emergency revoke of "${name}": the rotation failed (${failure.message}), and the compromised key ` +
              `${compromised.keyId} was revoked anyway. Consumers are now without a working key: mint one at ` +
              "the vendor and store it with keyturn put.",
          ).slice(0, 2000),
          retryable: false,
        },
        severity: "critical",
      }),
    ]);
    logger.error("emergency revoke: rotation failed, compromised key revoked anyway", { error: failure });
  }
  return { credential: name, keyId: compromised.keyId, target, rotated, revocation: outcome };
}

/**
 * Records a previous key revoked (keyturn's records, a conditional write on the state it was read
 * in), then mirrors it in the tags while they name it.
 */
async function recordRevoked(deps: EmergencyDeps, credential: ManagedCredential, entry: PreviousKey) {
  if (!(await movePrevious(deps.records, credential.name, entry, { state: "revoked" }))) return;
  const tags = (await deps.store.describe(credential.arn)).tags;
  if (tags[Tag.previousKeyId] === entry.keyId)
    await deps.store.tag(credential.arn, { [Tag.previousState]: "revoked" });
}

/**
 * The production `rotate`: RotateSecret, then wait until the rotation function has made the
 * new version current (keyturn's finishSecret tags it) or the time runs out.
 */
export function rotateThroughSecretsManager(
  store: SecretStore,
  options: { timeoutMs: number; pollMs?: number; sleep?: (ms: number) => Promise<void> },
): (secretId: string) => Promise<void> {
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  return async (secretId) => {
    const versionId = await store.rotateNow(secretId);
    const deadline = Date.now() + options.timeoutMs;
    while (Date.now() < deadline) {
      await sleep(options.pollMs ?? 2_000);
      const description = await store.describe(secretId);
      if (description.tags[Tag.rotatedVersion] === versionId) return;
      if (
        !description.versions[versionId]?.includes("AWSPENDING") &&
        !description.versions[versionId]?.includes("AWSCURRENT")
      ) {
        throw new RotationStateError(
          `Credential "${secretId}": rotation ${versionId} was abandoned by Secrets Manager (neither AWSPENDING nor ` +
            "AWSCURRENT any more); the rotate function's logs and the RotationFailed event say why.",
          { credential: secretId, retryable: true },
        );
      }
    }
    throw new RotationStateError(
      `Credential "${secretId}": rotation ${versionId} did not finish within ${Math.round(options.timeoutMs / 1000)} s; ` +
        "it may still finish: keyturn status shows whether it is pending.",
      { credential: secretId, retryable: true },
    );
  };
}
