// Each handler's environment as a schema. The handler reads it once at module load, so a
// missing variable fails the cold start rather than a rotation halfway; the CDK construct
// that creates the function is typed by the same schema, so infra cannot forget one.

import * as v from "valibot";
import {
  DEFAULT_FAILURE_ESCALATION,
  DEFAULT_MIN_TOKEN_REMAINING,
  DEFAULT_ORPHAN_SAFETY_MARGIN,
  DEFAULT_RECONCILE_INTERVAL,
  DEFAULT_REFRESH_INTERVAL,
  DEFAULT_REFRESH_MEMORY,
  DEFAULT_REVOKE_COOLDOWN,
  DEFAULT_STUCK_ROTATION_AFTER,
  DEFAULT_TOKEN_PARAMETER_PREFIX,
} from "#engine/defaults.ts";
import { parseDuration } from "#engine/duration.ts";
import { KeyturnError } from "#engine/errors.ts";

const name = v.pipe(v.string(), v.minLength(1));

/** A duration such as "30m", "6h" or "0s", as milliseconds; unset, its default (functions/engine/defaults.ts). */
const duration = (fallback: string) =>
  v.pipe(
    v.optional(v.string(), fallback),
    v.check((text) => parseDuration(text) !== undefined, "a duration such as 30m, 6h or 7d"),
    v.transform((text) => parseDuration(text) ?? 0),
  );

/** keyturn's records table (functions/aws/record-store.ts): the keys it stored for each credential. */
const records = { KEYTURN_RECORDS_TABLE: name };

export const RotateEnvironment = v.object({
  /** The EventBridge bus keyturn publishes to. */
  KEYTURN_EVENT_BUS_NAME: name,
  ...records,
});
export type RotateEnvironment = v.InferOutput<typeof RotateEnvironment>;

export const MonitorEnvironment = v.object({
  KEYTURN_EVENT_BUS_NAME: name,
  ...records,
  /** A marked vendor key younger than this is never taken for an orphan (its rotation may be storing it). */
  KEYTURN_ORPHAN_SAFETY_MARGIN: duration(DEFAULT_ORPHAN_SAFETY_MARGIN),
  /** How often each credential's keys are reconciled against the vendor's listing. */
  KEYTURN_RECONCILE_INTERVAL: duration(DEFAULT_RECONCILE_INTERVAL),
  /** An AWSPENDING version older than this (since the monitor first saw it) is a stuck rotation. */
  KEYTURN_STUCK_ROTATION_AFTER: duration(DEFAULT_STUCK_ROTATION_AFTER),
  /** A sweep action that has kept failing this long is announced as critical, not warning. */
  KEYTURN_FAILURE_ESCALATION: duration(DEFAULT_FAILURE_ESCALATION),
  /** keyturn's rotate function: the rotation function every managed secret must name. */
  KEYTURN_ROTATE_FUNCTION_ARN: v.optional(name),
  /** The sweep queue the due sweep fans out to (functions/aws/sweep-queue.ts); unset, it fans out to none. */
  KEYTURN_SWEEP_QUEUE_URL: v.optional(name),
});
export type MonitorEnvironment = v.InferInput<typeof MonitorEnvironment>;

export const RefreshEnvironment = v.object({
  KEYTURN_EVENT_BUS_NAME: name,
  /** The DynamoDB table of leases that keeps two refreshes of one credential apart. */
  KEYTURN_LEASE_TABLE: name,
  /** Token pairs are stored at <prefix>/<credential name>. */
  KEYTURN_TOKEN_PARAMETER_PREFIX: v.optional(name, DEFAULT_TOKEN_PARAMETER_PREFIX),
  /** How often the refresh schedule fires. */
  KEYTURN_REFRESH_INTERVAL: duration(DEFAULT_REFRESH_INTERVAL),
  /** Consumers always find an access token with at least this long left. */
  KEYTURN_MIN_TOKEN_REMAINING: duration(DEFAULT_MIN_TOKEN_REMAINING),
  /** The KMS key token parameters are encrypted with; unset, Parameter Store's default aws/ssm. */
  KEYTURN_TOKEN_KEY_ID: v.optional(name),
  /** keyturn's records (read only: the settings keyturn wrote values under); unset, none are read. */
  KEYTURN_RECORDS_TABLE: v.optional(name),
  /**
   * How long a warm function keeps a key or token pair it read for its later runs (re-read sooner
   * on a new version or a refusal); "0s" keeps nothing. See functions/engine/refresh-memory.ts.
   */
  KEYTURN_REFRESH_MEMORY: duration(DEFAULT_REFRESH_MEMORY),
});
export type RefreshEnvironment = v.InferInput<typeof RefreshEnvironment>;

export const RelayEnvironment = v.object({
  KEYTURN_EVENT_BUS_NAME: name,
});
export type RelayEnvironment = v.InferOutput<typeof RelayEnvironment>;

export const RevokeEnvironment = v.object({
  KEYTURN_EVENT_BUS_NAME: name,
  ...records,
  /** keyturn's rotate function: the rotation function every managed secret must name. */
  KEYTURN_ROTATE_FUNCTION_ARN: v.optional(name),
  /** How long, after a request from the bus was acted on, requests from the bus for another key of the credential are refused. */
  KEYTURN_REVOKE_COOLDOWN: duration(DEFAULT_REVOKE_COOLDOWN),
});
export type RevokeEnvironment = v.InferInput<typeof RevokeEnvironment>;

/** The credential of an error that is about no single one (a cold start, a sweep, a refresh run). */
export const EVERY_CREDENTIAL = "(all)";

/** A function's environment is incomplete: it fails its cold start, whatever credential it was invoked for. */
export class EnvironmentError extends KeyturnError {
  override readonly name = "EnvironmentError";

  constructor(message: string) {
    super(message, { credential: EVERY_CREDENTIAL, retryable: false });
  }
}

export function readEnvironment<S extends v.GenericSchema>(
  schema: S,
  env: Record<string, string | undefined>,
  handler: string,
): v.InferOutput<S> {
  const result = v.safeParse(schema, env);
  if (result.success) return result.output;
  const names = result.issues.map((issue) => v.getDotPath(issue) ?? "?").join(", ");
  throw new EnvironmentError(
    `The ${handler} function's environment is incomplete: ${names} must be set (non-empty). ` +
      "It is set by the keyturn stack; redeploy it rather than editing the function by hand.",
  );
}
