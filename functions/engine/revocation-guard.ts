// The revocation guard (README "Security model"): before keyturn revokes a key for a credential,
// no other credential it manages may reference that key, and the key may not be the one its
// authority (the issuer) signs with. What names the key to revoke (a previous-key tag, a value's
// key id) can be written by anyone allowed to tag or write that one secret; what refuses it
// comes from every other secret, so a neighbour with rights on one secret can only make keyturn
// refuse, never make it revoke someone else's key.
//
// The references are the mirror tags of every pinned credential's secret (current and previous
// key ids) from the sweep's listing, and the AWSCURRENT value's key id of a credential whose
// tags name no current key yet (one that has not rotated since its key was handed over).

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

/** The key ids each managed credential uses, as far as keyturn can see them. */
export class KeyReferences {
  readonly #byKey = new Map<string, Set<string>>();
  /** Credentials whose tags name no current key: their value is read once, when a revocation needs it. */
  readonly #unresolved: SecretDescription[] = [];
  readonly #store: SecretStore;

  constructor(store: SecretStore, descriptions: readonly SecretDescription[], pinned: PinnedCredentials) {
    this.#store = store;
    for (const description of descriptions) {
      if (!pinned.bySecretName(description.name)) continue;
      const { tags } = description;
      const current = tags[Tag.keyId];
      const previous = tags[Tag.previousKeyId];
      if (current) this.#add(current, description.name);
      else this.#unresolved.push(description);
      if (previous && tags[Tag.previousState] !== "revoked") this.#add(previous, description.name);
    }
  }

  /** From a fresh listing of keyturn's secrets (for revocations outside the sweep). */
  static async list(store: SecretStore, pinned: PinnedCredentials): Promise<KeyReferences> {
    const descriptions: SecretDescription[] = [];
    for await (const page of store.listTagged(Tag.provider)) descriptions.push(...page);
    const listed = new Set(descriptions.map((description) => description.name));
    // A pinned credential hidden from the listing (its provider tag removed) still counts.
    for (const credential of pinned.all()) {
      if (listed.has(credential.secretName)) continue;
      const description = await store.describe(credential.secretName).catch(() => undefined);
      if (description) descriptions.push(description);
    }
    return new KeyReferences(store, descriptions, pinned);
  }

  #add(keyId: string, credential: string): void {
    const users = this.#byKey.get(keyId) ?? new Set<string>();
    users.add(credential);
    this.#byKey.set(keyId, users);
  }

  async #resolve(): Promise<void> {
    for (const description of this.#unresolved.splice(0)) {
      const current = await this.#store.read(description.arn, { stage: CURRENT }).catch(() => undefined);
      const keyId = current ? keyIdOf(current.secretString) : undefined;
      if (keyId) this.#add(keyId, description.name);
    }
  }

  /** The other credentials that use `keyId` ("its issuer" when it is `issuerKeyId`, the issuer's own key). */
  async othersUsing(credential: string, keyId: string, issuerKeyId: string | undefined): Promise<string[]> {
    await this.#resolve();
    const others = [...(this.#byKey.get(keyId) ?? [])].filter((other) => other !== credential).sort();
    if (issuerKeyId === keyId && others.length === 0) others.push("its issuer");
    return others;
  }
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
