// Where a credential stands, decided as the monitor decides: from its ListSecrets entry alone
// (tags, staging labels, the rotation schedule), so that `keyturn status` reads no secret value
// and calls no vendor. "Next action" is the earliest thing keyturn or a person must do: the
// previous key's revocation, a scheduled or early rotation, or a key a person must replace.

import type { KeyRecord } from "#aws/record-store.ts";
import { CURRENT, PENDING, type SecretDescription } from "#aws/secret-store.ts";
import { type ManagedCredential, managedCredential } from "#engine/credentials.ts";
import { DEFAULT_GRACE_PERIOD } from "#engine/defaults.ts";
import { parseDuration } from "#engine/duration.ts";
import { keyState, keyTimes, timeOf } from "#engine/key-state.ts";
import { ownedElsewhere } from "#engine/lifecycle.ts";
import {
  CredentialNotPinnedError,
  CredentialTamperedError,
  type PinnedCredential,
  type PinnedCredentials,
} from "#engine/pinned.ts";
import { Tag } from "#engine/settings.ts";
import { providerFor } from "#providers/registry.ts";
import { isAutomatic, type ProviderMode } from "#providers/types.ts";

/**
 * deleted: its secret is scheduled for deletion; departed: keyturn has records of it but the
 * config no longer has it; owned-elsewhere: a replica, or managed or rotated by something else.
 * A pinned, live credential whose keys keyturn retired (its secret deleted, then restored) is
 * shown as expired: its key is likely dead.
 */
export type CredentialState =
  | "ok"
  | "expiring"
  | "expired"
  | "replace-due"
  | "rotating"
  | "invalid"
  | "deleted"
  | "departed"
  | "owned-elsewhere";

export interface NextAction {
  action: string;
  /** When it is due, ISO 8601; null when nothing is scheduled. */
  at: string | null;
  overdue: boolean;
}

export interface CredentialStatus {
  credential: string;
  secret: string;
  provider: string | null;
  mode: ProviderMode | null;
  keyId: string | null;
  /** When the current key was obtained (minted or handed over); null when not yet recorded in tags. */
  issuedAt: string | null;
  ageDays: number | null;
  lastRotation: string | null;
  nextAction: NextAction;
  /** ISO 8601, "never" for keys without expiry, or null while unknown (mirrored by the monitor's first sweep). */
  expiresAt: string | null;
  state: CredentialState;
  /** Why the state is "invalid". */
  problem?: string;
  /**
   * The most recent sweep action that failed for it (the monitor's "Credential Action Failed"),
   * when it failed within the last week: what, since when, when last, and the error.
   */
  lastFailure?: { action: string; since: string; at: string; error: string };
}

const DAY = 86_400_000;

function iso(ms: number | undefined): string | null {
  return ms === undefined ? null : new Date(ms).toISOString();
}

/** The dated things due for a credential, earliest first being the next action. */
function dueActions(credential: ManagedCredential, expiry: number | undefined, issuedAt: number | undefined) {
  const { tags, settings, provider } = credential;
  const actions: { action: string; at: number | undefined }[] = [];
  const firstWarningMs = settings.expiryThresholds[0]?.ms ?? 0;
  const previousKeyId = tags[Tag.previousKeyId];
  const previousState = tags[Tag.previousState] ?? "active";
  const pending = Object.entries(credential.versions).find(
    ([, stages]) => stages.includes(PENDING) && !stages.includes(CURRENT),
  );
  if (pending) actions.push({ action: `rotation in progress (version ${pending[0].slice(0, 8)}…)`, at: 0 });

  if (isAutomatic(provider)) {
    if (previousKeyId && previousState === "disabled") {
      actions.push({
        action: `delete disabled previous key ${previousKeyId}`,
        at: timeOf(tags[Tag.deleteAfter]),
      });
    } else if (previousKeyId && previousState === "active") {
      actions.push({ action: `revoke previous key ${previousKeyId}`, at: timeOf(tags[Tag.revokeAfter]) });
    }
    const next = credential.nextRotationDate?.getTime();
    if (next !== undefined) actions.push({ action: "scheduled rotation", at: next });
    // The monitor rotates early once the first warning threshold is crossed, unless a scheduled
    // rotation comes before the expiry.
    if (expiry !== undefined && (next === undefined || next >= expiry)) {
      actions.push({ action: "early rotation (key expiring)", at: expiry - firstWarningMs });
    }
    return actions;
  }
  if (previousKeyId && previousState === "active") {
    actions.push({
      action:
        provider.mode === "refresh"
          ? `monitor confirms old key ${previousKeyId} is dead`
          : `revoke old key "${previousKeyId}" in ${provider.vendor}'s UI`,
      at: timeOf(tags[Tag.revokeAfter]),
    });
  }
  if (settings.maxAgeMs !== undefined && issuedAt !== undefined) {
    actions.push({ action: "replace the key by hand (keyturn put)", at: issuedAt + settings.maxAgeMs });
  }
  // A person has until the expiry; the warnings start at the first threshold.
  if (expiry !== undefined) {
    actions.push({ action: "replace the key before it expires (keyturn put)", at: expiry });
  }
  return actions;
}

/** What a retirement left to do, or what keyturn does next, for a credential that is gone. */
function retirementAction(record: KeyRecord | undefined, automatic: boolean): string {
  if (!record || record.keys.size === 0) return "none (keyturn stored no key for it)";
  if (record.retirement === "revoked") return "none (keyturn revoked its keys)";
  if (record.retirement === "announced") return "revoke its keys in the vendor's UI (see Keys Left Behind)";
  return automatic ? "the monitor revokes its keys" : "the monitor names its keys to revoke by hand";
}

export function credentialStatus(
  description: SecretDescription,
  now: Date,
  pinned: PinnedCredentials,
  lifecycle: { records?: ReadonlyMap<string, KeyRecord>; rotateFunctionArn?: string | undefined } = {},
): CredentialStatus {
  const { tags } = description;
  const name = tags[Tag.credential] || description.name;
  const nowMs = now.getTime();
  let credential: ManagedCredential;
  try {
    credential = managedCredential(description, pinned);
  } catch (error) {
    return {
      credential: name,
      secret: description.name,
      provider: tags[Tag.provider] ?? null,
      mode: null,
      keyId: tags[Tag.keyId] ?? null,
      issuedAt: null,
      ageDays: null,
      lastRotation: null,
      nextAction: {
        action:
          error instanceof CredentialNotPinnedError
            ? "add it to the config and deploy"
            : error instanceof CredentialTamperedError
              ? "restore what the config says (see problem)"
              : "fix the credential's config",
        at: null,
        overdue: false,
      },
      expiresAt: null,
      state: "invalid",
      problem: error instanceof Error ? error.message : String(error),
    };
  }
  const { settings, provider } = credential;
  const record = lifecycle.records?.get(description.name);
  const gone = {
    credential: settings.credential,
    secret: description.name,
    provider: provider.id,
    mode: provider.mode,
    keyId: tags[Tag.keyId] ?? null,
    issuedAt: null,
    ageDays: null,
    lastRotation: iso(timeOf(tags[Tag.rotatedAt])),
    expiresAt: null,
  };
  if (description.deletedDate) {
    return {
      ...gone,
      nextAction: {
        action: retirementAction(record, isAutomatic(provider)),
        at: record?.retiredAt ?? null,
        overdue: false,
      },
      state: "deleted",
      problem:
        `Secret "${description.name}" is scheduled for deletion (DeleteSecret on ` +
        `${description.deletedDate.toISOString()}): keyturn retires the keys it stored for it. Restore it ` +
        "(RestoreSecret) only if its keys are still live, and remove it from the config otherwise.",
    };
  }
  const reasons = ownedElsewhere(description, lifecycle.rotateFunctionArn);
  if (reasons.length > 0) {
    return {
      ...gone,
      nextAction: {
        action: "manage it where it is owned, or remove it from the config",
        at: null,
        overdue: false,
      },
      state: "owned-elsewhere",
      problem:
        `Secret "${description.name}" is owned elsewhere (${reasons.join(", ")}): keyturn does not rotate, ` +
        "relabel or revoke it.",
    };
  }
  if (record?.retiredAt && record.keys.size > 0) {
    // Its secret was deleted, the next sweep retired its keys, and it was restored (or it left the
    // config and came back): the monitor announces it every scan until keyturn stores a new key.
    const name = settings.credential;
    return {
      ...gone,
      keyId: tags[Tag.keyId] ?? null,
      nextAction: {
        action: isAutomatic(provider)
          ? `rotate it (keyturn rotate ${name}) or hand over a new key (keyturn put ${name})`
          : `hand over a new key (keyturn put ${name})`,
        at: record.retiredAt,
        overdue: true,
      },
      state: "expired",
      problem:
        `keyturn ${record.retirement === "announced" ? "named its keys for a person to revoke" : "revoked its keys"} ` +
        `on ${record.retiredAt} (${record.retiredBecause ?? "secret deleted or left the config"}), and its secret ` +
        "is live again: its key is likely dead.",
    };
  }
  const { expiry, issuedAt } = keyTimes(tags);
  const expiresAt = expiry !== undefined ? iso(expiry) : tags[Tag.expiresAt] === "none" ? "never" : null;

  const actions = dueActions(credential, expiry, issuedAt)
    .filter((a): a is { action: string; at: number } => a.at !== undefined)
    .sort((a, b) => a.at - b.at);
  const first = actions[0];
  const nextAction: NextAction = first
    ? { action: first.action, at: iso(first.at === 0 ? nowMs : first.at), overdue: first.at <= nowMs }
    : {
        action: isAutomatic(provider) ? "none scheduled (rotation off: keyturn rotate)" : "none",
        at: null,
        overdue: false,
      };

  const state: CredentialState = keyState(credential, description.versions, nowMs);

  return {
    credential: settings.credential,
    secret: description.name,
    provider: provider.id,
    mode: provider.mode,
    keyId: tags[Tag.keyId] ?? null,
    issuedAt: iso(issuedAt),
    ageDays: issuedAt === undefined ? null : Math.floor((nowMs - issuedAt) / DAY),
    lastRotation: iso(timeOf(tags[Tag.rotatedAt])),
    nextAction,
    expiresAt,
    state,
  };
}

/**
 * A credential keyturn has records of that the config no longer pins, from its record alone (the
 * pinned entry keyturn last handled it by); undefined once its keys are retired.
 */
export function departedStatus(record: KeyRecord, pinned: PinnedCredentials): CredentialStatus | undefined {
  if (pinned.bySecretName(record.credential) || record.retiredAt || record.keys.size === 0) return undefined;
  const entry = record.pinned as Partial<PinnedCredential> | undefined;
  const provider = typeof entry?.provider === "string" ? entry.provider : undefined;
  let mode: ProviderMode | null = null;
  let automatic = false;
  try {
    if (provider) {
      const known = providerFor(provider);
      mode = known.mode;
      automatic = isAutomatic(known);
    }
  } catch {
    mode = null;
  }
  const graceMs =
    parseDuration(
      typeof entry?.policy?.gracePeriod === "string" ? entry.policy.gracePeriod : DEFAULT_GRACE_PERIOD,
    ) ?? 0;
  const departedAt = timeOf(record.departedAt);
  const at = departedAt === undefined ? null : iso(departedAt + graceMs);
  return {
    credential: record.credential,
    secret: record.credential,
    provider: provider ?? null,
    mode,
    keyId: null,
    issuedAt: null,
    ageDays: null,
    lastRotation: null,
    nextAction: {
      action:
        departedAt === undefined
          ? "the monitor announces its departure"
          : automatic
            ? "the monitor revokes its keys"
            : "the monitor names its keys to revoke by hand",
      at,
      overdue: false,
    },
    expiresAt: null,
    state: "departed",
    problem:
      `Credential "${record.credential}" is no longer in the config, but keyturn stored ${record.keys.size} ` +
      `key(s) for it: they are retired ${at ? `after ${at}` : "after its grace period"}. Put it back in the ` +
      "config and deploy to keep them.",
  };
}
