// Errors the engine and the providers raise. Each names the credential and says what to
// fix; none ever carries a secret value. `retryable` tells Secrets Manager's retry (and
// operators) whether trying again can help.

export interface KeyturnErrorOptions {
  credential: string;
  retryable?: boolean;
  cause?: unknown;
}

export class KeyturnError extends Error {
  override name = "KeyturnError";
  readonly credential: string;
  readonly retryable: boolean;

  constructor(message: string, options: KeyturnErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.credential = options.credential;
    this.retryable = options.retryable ?? false;
  }
}

/** The secret's JSON value does not match its provider's schema. Nothing was changed. */
export class InvalidSecretError extends KeyturnError {
  override name = "InvalidSecretError";
}

/** A credential the stack created with its settings only: its first key has not been stored yet. */
export class AwaitingFirstKeyError extends InvalidSecretError {
  override name = "AwaitingFirstKeyError";
}

/** A `keyturn:*` tag (the credential's policy, written by the stack) is missing or malformed. */
export class InvalidSettingsError extends KeyturnError {
  override name = "InvalidSettingsError";
}

/** The secret's versions are not in a state this rotation step can work from. */
export class RotationStateError extends KeyturnError {
  override name = "RotationStateError";
}

/** The vendor rejected a credential (expired, revoked, wrong region, missing permission). */
export class CredentialRejectedError extends KeyturnError {
  override name = "CredentialRejectedError";
}

/** The vendor could not be reached or answered in a way the provider cannot use. */
export class VendorError extends KeyturnError {
  override name = "VendorError";
}

export function isRetryable(error: unknown): boolean {
  return typeof error === "object" && error !== null && (error as { retryable?: unknown }).retryable === true;
}

/**
 * Any failure as a KeyturnError naming the credential: AWS SDK and other errors are wrapped
 * (message prefixed with what was being done, `retryable` taken from the SDK's own verdict).
 */
export function asKeyturnError(error: unknown, credential: string, doing: string): KeyturnError {
  if (error instanceof KeyturnError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const name = error instanceof Error ? error.name : "Error";
  const sdkRetryable =
    typeof error === "object" &&
    error !== null &&
    "$retryable" in error &&
    Boolean((error as { $retryable?: unknown }).$retryable);
  return new KeyturnError(`${doing} for credential "${credential}" failed: ${name}: ${message}`, {
    credential,
    retryable: isRetryable(error) || sdkRetryable || /Throttl|TooManyRequests|ServiceUnavailable/.test(name),
    cause: error,
  });
}

/**
 * What reached a keyturn function is not the event it is invoked with (functions/handlers/): it
 * is refused before any AWS or vendor call. Never retryable: the same event fails the same way.
 * Names the credential (or secret id) the event names, when it names one; "(unknown)" otherwise.
 */
export class InvalidEventError extends KeyturnError {
  override name = "InvalidEventError";

  constructor(message: string, options: { credential?: string | undefined; cause?: unknown } = {}) {
    super(message, { credential: options.credential || "(unknown)", retryable: false, cause: options.cause });
  }
}
