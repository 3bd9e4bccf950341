// Turns an HTTP-layer failure into the engine's terms, with the credential's name and the
// action that failed in the message.

import { CredentialRejectedError, KeyturnError, VendorError } from "#engine/errors.ts";
import { HttpError, ResponseError } from "#http/errors.ts";

export function vendorFailure(
  error: unknown,
  context: { credential: string; vendor: string },
  action: string,
): KeyturnError | unknown {
  if (error instanceof KeyturnError || !(error instanceof HttpError)) return error;
  const what = `${context.vendor} ${action} for credential "${context.credential}"`;
  if (error instanceof ResponseError && (error.status === 401 || error.status === 403)) {
    return new CredentialRejectedError(`${what} was refused: ${error.message}`, {
      credential: context.credential,
      cause: error,
    });
  }
  return new VendorError(`${what} failed: ${error.message}`, {
    credential: context.credential,
    retryable: error.retryable,
    cause: error,
  });
}
