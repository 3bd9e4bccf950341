// Building keyturn's events. Every event is checked against its schema in the catalog
// (./event-catalog.ts) when it is built, so nothing the catalog does not describe reaches
// the bus; a mismatch is a bug in keyturn and fails loudly.

import * as v from "valibot";
import type { OutgoingEvent } from "#aws/event-publisher.ts";
import type { ProviderId } from "#providers/types.ts";
import { type DetailOf, type DetailTypeName, EVENT_CATALOG } from "./event-catalog.ts";

export const DetailType = {
  credentialRotated: "Credential Rotated",
  credentialRotationFailed: "Credential Rotation Failed",
  credentialActionFailed: "Credential Action Failed",
  credentialExpiring: "Credential Expiring",
  credentialExpired: "Credential Expired",
  manualRotationRequired: "Manual Rotation Required",
  credentialRevoked: "Credential Revoked",
  previousStillInUse: "Previous Credential Still In Use",
  tokenRefreshFailed: "Token Refresh Failed",
  credentialTampered: "Credential Tampered",
  revocationRefused: "Revocation Refused",
  credentialDeparting: "Credential Departing",
  keysLeftBehind: "Keys Left Behind",
  credentialOwnedElsewhere: "Credential Owned Elsewhere",
  /** Not published by keyturn: the request another system (a leak scanner, a person) puts on the bus. */
  revokeRequested: "Revoke Requested",
} as const satisfies Record<string, DetailTypeName>;

export type Severity = "info" | "warning" | "critical";

export interface CredentialRef {
  credential: string;
  /** The provider id, or "unknown" when the secret's tags do not name a valid one. */
  provider: ProviderId | "unknown";
  secretArn: string;
}

export type RotationStepName = "createSecret" | "setSecret" | "testSecret" | "finishSecret";
export type FailureStep = DetailOf<"Credential Rotation Failed">["step"];
export type RevocationReason = DetailOf<"Credential Revoked">["reason"];

export class EventSchemaError extends Error {
  override readonly name = "EventSchemaError";
  readonly retryable = false;
}

/** Builds an event after checking its detail against the catalog. */
export function keyturnEvent<T extends DetailTypeName>(
  detailType: T,
  detail: DetailOf<T>,
  secretArn?: string,
): OutgoingEvent {
  const result = v.safeParse(EVENT_CATALOG[detailType], detail);
  if (!result.success) {
    throw new EventSchemaError(
      `keyturn built a "${detailType}" event that its schema rejects (${result.issues
        .map((issue) => `${v.getDotPath(issue) ?? "detail"}: ${issue.expected ?? issue.message}`)
        .join("; ")}). This is a bug in keyturn; please report it.`,
    );
  }
  return { detailType, detail: result.output, ...(secretArn ? { resources: [secretArn] } : {}) };
}

export function credentialRotated(
  ref: CredentialRef,
  facts: {
    versionId: string;
    keyId: string;
    previousKeyId: string | undefined;
    expiresAt: string | null;
    revokeAfter: string;
  },
): OutgoingEvent {
  return keyturnEvent(
    "Credential Rotated",
    {
      ...ref,
      severity: "info",
      versionId: facts.versionId,
      keyId: facts.keyId,
      ...(facts.previousKeyId ? { previousKeyId: facts.previousKeyId } : {}),
      expiresAt: facts.expiresAt,
      revokeAfter: facts.revokeAfter,
    },
    ref.secretArn,
  );
}

export type SweepAction = DetailOf<"Credential Action Failed">["action"];

export function credentialActionFailed(
  ref: CredentialRef,
  facts: {
    action: SweepAction;
    failingSince: Date;
    critical: boolean;
    error: { name: string; message: string; retryable: boolean };
  },
): OutgoingEvent {
  return keyturnEvent(
    "Credential Action Failed",
    {
      ...ref,
      severity: facts.critical ? "critical" : "warning",
      action: facts.action,
      failingSince: facts.failingSince.toISOString(),
      error: { ...facts.error, message: facts.error.message.slice(0, 2000) },
    },
    ref.secretArn,
  );
}

export function credentialRotationFailed(
  ref: CredentialRef,
  facts: {
    step: FailureStep;
    versionId: string;
    error: { name: string; message: string; retryable: boolean };
    severity?: "warning" | "critical";
  },
): OutgoingEvent {
  return keyturnEvent(
    "Credential Rotation Failed",
    {
      ...ref,
      // Secrets Manager retries a failed rotation by itself; a failure it cannot get past needs a person now.
      severity: facts.severity ?? (facts.error.retryable ? "warning" : "critical"),
      step: facts.step,
      versionId: facts.versionId,
      error: { ...facts.error, message: facts.error.message.slice(0, 2000) },
    },
    ref.secretArn,
  );
}

const REVOCATION_SEVERITY: Record<RevocationReason, "info" | "warning"> = {
  "grace-period-ended": "info",
  // Revoked although a consumer still used it, or minted and lost, or leaked: someone should look.
  "in-use-limit-reached": "warning",
  orphan: "warning",
  compromised: "warning",
  "revoked-by-operator": "info",
  superseded: "warning",
  // Keys of a credential that is gone: revoked as asked, and someone should know it happened.
  "secret-deleted": "warning",
  "left-config": "warning",
};

export function credentialRevoked(
  ref: CredentialRef,
  facts: {
    keyId: string;
    reason: RevocationReason;
    strength: "soft" | "hard";
    outcome: "revoked" | "already-gone";
    lastUsedAt?: string | null | undefined;
    /**
     * Superseded: the key was already disabled, its grace period over, only waiting for its
     * deletion; deleting it a little early is routine (info), not worth a look.
     */
    alreadyDisabled?: boolean;
  },
): OutgoingEvent {
  return keyturnEvent(
    "Credential Revoked",
    {
      ...ref,
      severity: facts.alreadyDisabled ? "info" : REVOCATION_SEVERITY[facts.reason],
      keyId: facts.keyId,
      reason: facts.reason,
      strength: facts.strength,
      outcome: facts.outcome,
      ...(facts.lastUsedAt === undefined ? {} : { lastUsedAt: facts.lastUsedAt }),
    },
    ref.secretArn,
  );
}

export function previousStillInUse(
  ref: CredentialRef,
  facts: Omit<DetailOf<"Previous Credential Still In Use">, keyof CredentialRef | "severity">,
): OutgoingEvent {
  return keyturnEvent(
    "Previous Credential Still In Use",
    { ...ref, severity: "warning", ...facts },
    ref.secretArn,
  );
}

/** The nearer the expiry, the louder: a day or less is critical, a week or less a warning. */
export function expirySeverity(msLeft: number): Severity {
  if (msLeft <= 86_400_000) return "critical";
  if (msLeft <= 7 * 86_400_000) return "warning";
  return "info";
}

export function credentialExpiring(
  ref: CredentialRef,
  facts: Omit<DetailOf<"Credential Expiring">, keyof CredentialRef | "severity">,
  msLeft: number,
): OutgoingEvent {
  return keyturnEvent(
    "Credential Expiring",
    { ...ref, severity: expirySeverity(msLeft), ...facts },
    ref.secretArn,
  );
}

export function credentialExpired(
  ref: CredentialRef,
  facts: { keyId: string; expiresAt: string },
): OutgoingEvent {
  return keyturnEvent("Credential Expired", { ...ref, severity: "critical", ...facts }, ref.secretArn);
}

export function manualRotationRequired(
  ref: CredentialRef,
  facts: Omit<DetailOf<"Manual Rotation Required">, keyof CredentialRef>,
): OutgoingEvent {
  return keyturnEvent("Manual Rotation Required", { ...ref, ...facts }, ref.secretArn);
}

export function tokenRefreshFailed(
  ref: CredentialRef,
  facts: {
    accessTokenExpiresAt: string | null;
    error: { name: string; message: string; retryable: boolean };
  },
): OutgoingEvent {
  return keyturnEvent(
    "Token Refresh Failed",
    {
      ...ref,
      severity: "critical",
      accessTokenExpiresAt: facts.accessTokenExpiresAt,
      error: { ...facts.error, message: facts.error.message.slice(0, 2000) },
    },
    ref.secretArn,
  );
}

export type TamperedDuring = DetailOf<"Credential Tampered">["during"];

export function credentialTampered(
  ref: CredentialRef,
  facts: { tags: string[]; valueFields: string[]; during: TamperedDuring },
): OutgoingEvent {
  return keyturnEvent("Credential Tampered", { ...ref, severity: "critical", ...facts }, ref.secretArn);
}

export function revocationRefused(
  ref: CredentialRef,
  facts: {
    keyId: string;
    reason: DetailOf<"Revocation Refused">["reason"];
    referencedBy: string[];
    during: DetailOf<"Revocation Refused">["during"];
    cooldownUntil?: string;
  },
): OutgoingEvent {
  return keyturnEvent("Revocation Refused", { ...ref, severity: "critical", ...facts }, ref.secretArn);
}

export function credentialDeparting(
  ref: CredentialRef,
  facts: Omit<DetailOf<"Credential Departing">, keyof CredentialRef | "severity">,
): OutgoingEvent {
  return keyturnEvent("Credential Departing", { ...ref, severity: "warning", ...facts }, ref.secretArn);
}

export function keysLeftBehind(
  ref: CredentialRef,
  facts: Omit<DetailOf<"Keys Left Behind">, keyof CredentialRef | "severity">,
): OutgoingEvent {
  return keyturnEvent("Keys Left Behind", { ...ref, severity: "critical", ...facts }, ref.secretArn);
}

export type OwnedElsewhereReason = DetailOf<"Credential Owned Elsewhere">["reasons"][number];

export function credentialOwnedElsewhere(ref: CredentialRef, reasons: OwnedElsewhereReason[]): OutgoingEvent {
  return keyturnEvent("Credential Owned Elsewhere", { ...ref, severity: "critical", reasons }, ref.secretArn);
}
