// Plays Secrets Manager's part in a rotation, because moto does not run rotation Lambdas:
// one ClientRequestToken per rotation, the four steps in order, and after a failure the
// whole rotation again with the same token, up to a few times, as Secrets Manager does; once it
// gives up, it reports RotationFailed as Secrets Manager does (to CloudTrail, whence the relay
// takes it: `whenFailed`).
// (Real Secrets Manager also pre-creates an empty AWSPENDING version for the token; the
// public API cannot, so here the token's version first appears at createSecret. The rotate
// function handles both.)

import { randomUUID } from "node:crypto";
import { describeError, transcript } from "./transcript.ts";

export const ROTATION_STEPS = ["createSecret", "setSecret", "testSecret", "finishSecret"] as const;
export type RotationStep = (typeof ROTATION_STEPS)[number];

export type RotationInvoker = (event: {
  Step: RotationStep;
  SecretId: string;
  ClientRequestToken: string;
}) => Promise<void>;

export interface DrivenRotation {
  token: string;
  succeeded: boolean;
  attempts: number;
  /** Each failed attempt: the step and the error it threw. */
  failures: { step: RotationStep; error: unknown }[];
}

export async function rotateLikeSecretsManager(
  invoke: RotationInvoker,
  secretId: string,
  options: {
    token?: string;
    maxAttempts?: number;
    beforeAttempt?: (attempt: number) => void | Promise<void>;
    /** Secrets Manager's RotationFailed, once the rotation has failed for good. */
    whenFailed?: (secretId: string, token: string) => Promise<void>;
  } = {},
): Promise<DrivenRotation> {
  const token = options.token ?? randomUUID();
  const maxAttempts = options.maxAttempts ?? 3;
  const failures: DrivenRotation["failures"] = [];
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    await options.beforeAttempt?.(attempt);
    let failed = false;
    for (const step of ROTATION_STEPS) {
      try {
        await invoke({ Step: step, SecretId: secretId, ClientRequestToken: token });
      } catch (error) {
        failures.push({ step, error });
        transcript.text(describeError(error));
        failed = true;
        break;
      }
    }
    if (!failed) return { token, succeeded: true, attempts: attempt, failures };
  }
  await options.whenFailed?.(secretId, token);
  return { token, succeeded: false, attempts: maxAttempts, failures };
}
