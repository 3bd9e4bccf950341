// keyturn's event catalog (shared/DESIGN.md "Events"): the detail types, their shapes and
// severities. Each detail type has a JSON Schema in schemas/events/; tests validate every
// published event against it. No detail ever carries a secret value.

import type { OutgoingEvent } from "#aws/event-publisher.ts";
import type { ProviderId } from "#providers/types.ts";

export const DetailType = {
  credentialRotated: "Credential Rotated",
  credentialRotationFailed: "Credential Rotation Failed",
  credentialRevoked: "Credential Revoked",
  previousStillInUse: "Previous Credential Still In Use",
  /** Not published by keyturn: the request another system (a leak scanner, a person) puts on the bus. */
  revokeRequested: "Revoke Requested",
} as const;

export type Severity = "info" | "warning" | "critical";

export interface CredentialRef {
  credential: string;
  /** The provider id, or "unknown" when the secret's tags do not name a valid one. */
  provider: ProviderId | "unknown";
  secretArn: string;
}

export type RotationStepName = "createSecret" | "setSecret" | "testSecret" | "finishSecret";

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
  return {
    detailType: DetailType.credentialRotated,
    resources: [ref.secretArn],
    detail: {
      ...ref,
      severity: "info" satisfies Severity,
      versionId: facts.versionId,
      keyId: facts.keyId,
      ...(facts.previousKeyId ? { previousKeyId: facts.previousKeyId } : {}),
      expiresAt: facts.expiresAt,
      revokeAfter: facts.revokeAfter,
    },
  };
}

export function credentialRotationFailed(
  ref: CredentialRef,
  facts: {
    /** A step of the protocol, or "emergency" when the rotation of an emergency revoke failed. */
    step: RotationStepName | "emergency";
    versionId: string;
    error: { name: string; message: string; retryable: boolean };
    severity?: Severity;
  },
): OutgoingEvent {
  return {
    detailType: DetailType.credentialRotationFailed,
    resources: [ref.secretArn],
    detail: {
      ...ref,
      // Secrets Manager retries a failed rotation by itself; a failure it cannot get past needs a person now.
      severity: facts.severity ?? ((facts.error.retryable ? "warning" : "critical") satisfies Severity),
      step: facts.step,
      versionId: facts.versionId,
      error: facts.error,
    },
  };
}

export type RevocationReason = "grace-period-ended" | "in-use-limit-reached" | "orphan" | "compromised";

const REVOCATION_SEVERITY: Record<RevocationReason, Severity> = {
  "grace-period-ended": "info",
  // Revoked although a consumer still used it, or minted and lost: someone should look.
  "in-use-limit-reached": "warning",
  orphan: "warning",
  compromised: "warning",
};

export function credentialRevoked(
  ref: CredentialRef,
  facts: {
    keyId: string;
    reason: RevocationReason;
    strength: "soft" | "hard";
    outcome: "revoked" | "already-gone";
    lastUsedAt?: string | null | undefined;
  },
): OutgoingEvent {
  return {
    detailType: DetailType.credentialRevoked,
    resources: [ref.secretArn],
    detail: {
      ...ref,
      severity: REVOCATION_SEVERITY[facts.reason],
      keyId: facts.keyId,
      reason: facts.reason,
      strength: facts.strength,
      outcome: facts.outcome,
      ...(facts.lastUsedAt === undefined ? {} : { lastUsedAt: facts.lastUsedAt }),
    },
  };
}

export function previousStillInUse(
  ref: CredentialRef,
  facts: { keyId: string; lastUsedAt: string; postponements: number; limit: number; revokeAfter: string },
): OutgoingEvent {
  return {
    detailType: DetailType.previousStillInUse,
    resources: [ref.secretArn],
    detail: { ...ref, severity: "warning" satisfies Severity, ...facts },
  };
}
