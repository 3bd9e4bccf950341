// keyturn's event catalog (shared/DESIGN.md "Events"): the detail types, their shapes and
// severities. Each detail type has a JSON Schema in schemas/events/; tests validate every
// published event against it. No detail ever carries a secret value.

import type { OutgoingEvent } from "#aws/event-publisher.ts";
import type { ProviderId } from "#providers/types.ts";

export const DetailType = {
  credentialRotated: "Credential Rotated",
  credentialRotationFailed: "Credential Rotation Failed",
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
    step: RotationStepName;
    versionId: string;
    error: { name: string; message: string; retryable: boolean };
  },
): OutgoingEvent {
  return {
    detailType: DetailType.credentialRotationFailed,
    resources: [ref.secretArn],
    detail: {
      ...ref,
      // Secrets Manager retries a failed rotation by itself; a failure it cannot get past needs a person now.
      severity: (facts.error.retryable ? "warning" : "critical") satisfies Severity,
      step: facts.step,
      versionId: facts.versionId,
      error: facts.error,
    },
  };
}
