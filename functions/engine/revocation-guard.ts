// The revocation guard (docs/architecture.md, "The revocation guard"): before keyturn revokes a
// key for a credential, no other credential it manages may reference that key, and the key may
// not be the one its authority (the issuer) signs with. What names the key to revoke (a previous-key tag, a value's
// key id) can be written by anyone allowed to tag or write that one secret; what refuses it
// comes from every other secret, so a neighbour with rights on one secret can only make keyturn
// refuse, never make it revoke someone else's key.
//
// The references are the mirror tags of every pinned credential's secret (current and previous
// key ids) from the sweep's listing, and the AWSCURRENT value's key id of a credential whose
// tags name no current key yet (one that has not rotated since its key was handed over).
//
// The guard fails closed: a pinned credential whose references cannot be known (its secret could
// not be described, or its value could not be read: throttling, a KMS key policy that does not
// name the monitor, a network error) might use any key, so every revocation for another credential
// is refused while it lasts (ReferencesUnavailableError, retryable: the sweep reports it as a
// failed action, "Credential Action Failed", and tries again next time). A secret that does not
// exist, or is scheduled for deletion, uses no key.

import type { EventPublisher } from "#aws/event-publisher.ts";
import type { KeyRecords } from "#aws/record-store.ts";
import type { SecretDescription, SecretStore } from "#aws/secret-store.ts";
import { CURRENT } from "#aws/secret-store.ts";
import type { CredentialValue } from "#providers/types.ts";
import type { ManagedCredential } from "./credentials.ts";
import { KeyturnError } from "./errors.ts";
import type { DetailOf } from "./event-catalog.ts";
import { revocationRefused } from "./events.ts";
import { logger } from "./logger.ts";
import type { PinnedCredentials } from "./pinned.ts";
import { Tag } from "./settings.ts";

export type RefusalReason = "used-by-another-credential" | "not-recorded";

/** keyturn refused to revoke a key that is not the credential's alone; nothing was revoked. */
export class RevocationRefusedError extends KeyturnError {
  override name = "RevocationRefusedError";
  readonly keyId: string;
  readonly reason: RefusalReason;
  readonly referencedBy: string[];

  constructor(credential: string, keyId: string, reason: RefusalReason, referencedBy: string[] = []) {
    const why =
      reason === "not-recorded"
        ? "which keyturn never stored as this credential's key (it is not in keyturn's records)"
        : `which ${referencedBy.map((other) => `"${other}"`).join(", ")} ${referencedBy.length === 1 ? "uses" : "use"}`;
    super(
      `Credential "${credential}": keyturn refused to revoke key ${keyId}, ${why}. Nothing was revoked. The ` +
        "credential's keyturn:* tags or its value name a key that is not its own: find who changed them in " +
        "CloudTrail (TagResource, PutSecretValue); revoke the key by hand only once you know whose it is.",
      { credential, retryable: false },
    );
    this.keyId = keyId;
    this.reason = reason;
    this.referencedBy = referencedBy;
  }
}

/**
 * keyturn refused to revoke a key because another pinned credential's references cannot be known
 * now (its secret could not be described or read): it might use the key. Nothing was revoked; the
 * sweep tries again.
 */
export class ReferencesUnavailableError extends KeyturnError {
  override name = "ReferencesUnavailableError";
  readonly keyId: string;
  readonly unknown: string[];

  constructor(credential: string, keyId: string, unknown: string[]) {
    super(
      `Credential "${credential}": keyturn did not revoke key ${keyId}: it cannot tell which keys ` +
        `${unknown.map((other) => `"${other}"`).join(", ")} ${unknown.length === 1 ? "uses" : "use"} (the secret ` +
        "could not be described or read: throttling, a KMS key policy that does not name keyturn's functions, a " +
        "network error), so the key may be theirs. Nothing was revoked; the next sweep tries again. If this " +
        "persists, check that keyturn's functions may read those secrets (their KMS key policy, their resource policy).",
      { credential, retryable: true },
    );
    this.keyId = keyId;
    this.unknown = unknown;
  }
}

/** The key ids each managed credential uses, as far as keyturn can see them. */
export class KeyReferences {
  readonly #byKey = new Map<string, Set<string>>();
  /** Credentials whose tags name no current key: their value is read once, when a revocation needs it. */
  readonly #unresolved: SecretDescription[] = [];
  /** Credentials whose references cannot be known (see the header): they may use any key. */
  readonly #unknown = new Set<string>();
  readonly #store: SecretStore;

  constructor(store: SecretStore, descriptions: readonly SecretDescription[], pinned: PinnedCredentials) {
    this.#store = store;
    for (const description of descriptions) {
      if (!pinned.bySecretName(description.name)) continue;
      const { tags } = description;
      const current = tags[Tag.keyId];
      const previous = tags[Tag.previousKeyId];
      if (current) this.#add(current, description.name);
      // A secret scheduled for deletion cannot be read, and its keys are being retired: it uses none.
      else if (!description.deletedDate) this.#unresolved.push(description);
      if (previous && tags[Tag.previousState] !== "revoked") this.#add(previous, description.name);
    }
  }

  /** From a fresh listing of keyturn's secrets (for revocations outside the sweep). */
  static async list(store: SecretStore, pinned: PinnedCredentials): Promise<KeyReferences> {
    const descriptions: SecretDescription[] = [];
    const unknown: string[] = [];
    for await (const page of store.listTagged(Tag.provider)) descriptions.push(...page);
    const listed = new Set(descriptions.map((description) => description.name));
    // A pinned credential hidden from the listing (its provider tag removed) still counts.
    for (const credential of pinned.all()) {
      if (listed.has(credential.secretName)) continue;
      try {
        descriptions.push(await store.describe(credential.secretName));
      } catch (error) {
        if (!gone(error)) unknown.push(credential.secretName);
      }
    }
    const references = new KeyReferences(store, descriptions, pinned);
    for (const name of unknown) references.unknown(name);
    return references;
  }

  /** A pinned credential whose secret could not be described: it may use any key (see the header). */
  unknown(credential: string): void {
    this.#unknown.add(credential);
  }

  /** A key `credential` uses as keyturn's records know it (an open previous key). */
  reference(keyId: string, credential: string): void {
    this.#add(keyId, credential);
  }

  #add(keyId: string, credential: string): void {
    const users = this.#byKey.get(keyId) ?? new Set<string>();
    users.add(credential);
    this.#byKey.set(keyId, users);
  }

  /** Reads the values not read yet; one that fails stays unresolved, and is tried again next time. */
  async #resolve(): Promise<string[]> {
    const failed: string[] = [];
    for (const description of this.#unresolved.splice(0)) {
      let current: Awaited<ReturnType<SecretStore["read"]>>;
      try {
        current = await this.#store.read(description.arn, { stage: CURRENT });
      } catch (error) {
        if (gone(error)) continue;
        logger.warn("revocation guard: a pinned credential's value cannot be read; revocations wait", {
          credential: description.name,
          error,
        });
        failed.push(description.name);
        this.#unresolved.push(description);
        continue;
      }
      const keyId = current ? keyIdOf(current.secretString) : undefined;
      if (keyId) this.#add(keyId, description.name);
    }
    return failed;
  }

  /**
   * The other credentials that use `keyId` ("its issuer" when it is `issuerKeyId`, the issuer's own
   * key). Throws ReferencesUnavailableError when another credential's references cannot be known.
   */
  async othersUsing(credential: string, keyId: string, issuerKeyId: string | undefined): Promise<string[]> {
    const unreadable = await this.#resolve();
    const unknown = [...new Set([...unreadable, ...this.#unknown])].filter((other) => other !== credential);
    if (unknown.length > 0) throw new ReferencesUnavailableError(credential, keyId, unknown.sort());
    const others = [...(this.#byKey.get(keyId) ?? [])].filter((other) => other !== credential).sort();
    if (issuerKeyId === keyId && others.length === 0) others.push("its issuer");
    return others;
  }
}

/** A secret that does not exist, or is scheduled for deletion (its value cannot be read): it uses no key. */
function gone(error: unknown): boolean {
  const name = error instanceof Error ? error.name : "";
  if (name === "ResourceNotFoundException") return true;
  return (
    name === "InvalidRequestException" &&
    /marked for deletion|scheduled for deletion/i.test((error as Error).message)
  );
}

function keyIdOf(secretString: string): string | undefined {
  try {
    const value = JSON.parse(secretString) as { keyId?: unknown };
    return typeof value.keyId === "string" && value.keyId.length > 0 ? value.keyId : undefined;
  } catch {
    return undefined;
  }
}

export interface GuardDeps {
  store: SecretStore;
  pinned: PinnedCredentials;
  publisher: EventPublisher;
  records: KeyRecords;
}

/**
 * The whole guard before revoking `keyId` for `credential` with `authority` (the key that would
 * revoke it): the key is in the credential's record (or `markerTied`: an orphan whose vendor
 * marker names the credential), no other managed credential uses it, and it is not the issuer's
 * own key. `references` are the sweep's; outside the sweep they are listed here. A refusal is
 * published once as a critical "Revocation Refused" and returned; the caller then revokes nothing.
 * When another pinned credential's references cannot be known, it throws ReferencesUnavailableError
 * (retryable): the caller revokes nothing and reports the failure.
 */
export async function refuseRevocation(
  deps: GuardDeps,
  credential: ManagedCredential,
  keyId: string,
  authority: CredentialValue,
  options: {
    during: DetailOf<"Revocation Refused">["during"];
    references?: KeyReferences;
    markerTied?: boolean;
  },
): Promise<RevocationRefusedError | undefined> {
  const name = credential.settings.credential;
  const references = options.references ?? (await KeyReferences.list(deps.store, deps.pinned));
  const issuerKeyId = credential.issuerPinned ? authority.keyId : undefined;
  const others = await references.othersUsing(name, keyId, issuerKeyId);
  const recorded = options.markerTied || (await deps.records.keysOf(name))?.has(keyId) === true;
  if (others.length === 0 && recorded) return undefined;
  const error =
    others.length > 0
      ? new RevocationRefusedError(name, keyId, "used-by-another-credential", others)
      : new RevocationRefusedError(name, keyId, "not-recorded");
  logger.error("revocation refused: the key is not this credential's alone", {
    credential: name,
    keyId,
    reason: error.reason,
    referencedBy: error.referencedBy,
    during: options.during,
  });
  await deps.publisher.publish([
    revocationRefused(
      { credential: name, provider: credential.settings.provider, secretArn: credential.arn },
      { keyId, reason: error.reason, referencedBy: error.referencedBy, during: options.during },
    ),
  ]);
  return error;
}
