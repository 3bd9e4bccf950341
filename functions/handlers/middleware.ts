// What every handler's invocation goes through, as Middy middleware (@middy/core), around the
// handler's own work:
//
// 1. Powertools' injectLambdaContext: every log line of the invocation carries the Lambda
//    context (function_request_id, function_name, cold_start), and the invocation's own log keys
//    are cleared when it ends, returned or thrown (resetKeys). logEvent is off, whatever
//    POWERTOOLS_LOGGER_LOG_EVENT says: an event is untrusted input, and never logged whole.
// 2. The event, parsed by the handler's schema before anything else runs: an event that is not
//    what the function is invoked with is refused with an InvalidEventError
//    (functions/engine/errors.ts) before any AWS or vendor call.
// 3. The invocation's log keys (the secret id, the credential), from the parsed event.
// 4. Whatever the handler throws reaches Lambda as a KeyturnError naming the credential, where
//    the event names one (asKeyturnError wraps anything else, keeping the SDK's retry verdict).
//
// Middy's early timeout is off: each handler keeps its own deadline from the context's remaining
// time (./vendor-http.ts, the revoke's minute to publish), and a test's fake context stays a
// fake context.

import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import middy from "@middy/core";
import type { Context } from "aws-lambda";
import { asKeyturnError, isRetryable, KeyturnError } from "#engine/errors.ts";
import { logger } from "#engine/logger.ts";
import { EVERY_CREDENTIAL } from "./environment.ts";
import type { InvocationContext } from "./vendor-http.ts";

export { EVERY_CREDENTIAL };

export interface Invocation<E> {
  /** The event, parsed; throws an InvalidEventError for anything else. */
  parse: (event: unknown) => E;
  /** The invocation's log keys. Never a secret value: ids and names only. */
  keys?: (event: E) => Record<string, string | undefined>;
  /** The credential (or secret id) the invocation is about, when it is about one. */
  credential?: (event: E) => string | undefined;
  /** What the invocation does, for the message of an error it wraps: "Rotation step createSecret". */
  doing: (event: E) => string;
}

/** The handler as Lambda, the tests and the sandbox call it. */
export type InvocationHandler<R> = (event: unknown, context: InvocationContext) => Promise<R>;

/** The parsed event, kept for onError beside Middy's request. */
const PARSED = "keyturnEvent";

/**
 * The handler wrapped in the middleware above. The context a test or the sandbox passes may be
 * partial (a request id and a remaining time): Powertools reads only the fields it finds.
 */
export function invocation<E, R>(
  spec: Invocation<E>,
  handler: (event: E, context: InvocationContext) => Promise<R>,
): (event: unknown, context?: InvocationContext) => Promise<R> {
  const wrapped = middy<unknown, R>(
    async (event: unknown, context: Context) => await handler(event as E, context),
    { timeoutEarlyInMillis: 0 },
  )
    .use(injectLambdaContext(logger, { resetKeys: true, logEvent: false }))
    .use({
      before(request) {
        const event = spec.parse(request.event);
        request.internal[PARSED] = { event };
        request.event = event;
        const keys = Object.entries(spec.keys?.(event) ?? {}).filter(([, value]) => value !== undefined);
        if (keys.length > 0) logger.appendKeys(Object.fromEntries(keys));
      },
      onError(request) {
        if (request.error instanceof KeyturnError) return;
        const parsed = request.internal[PARSED] as { event: E } | undefined;
        request.error = parsed
          ? typedError(request.error, spec.credential?.(parsed.event), spec.doing(parsed.event))
          : typedError(request.error, undefined, "Reading the event");
      },
    });
  return async (event, context) => await wrapped(event, (context ?? {}) as Context);
}

/** Any failure as a KeyturnError: naming the credential where there is one. */
export function typedError(error: unknown, credential: string | undefined, doing: string): KeyturnError {
  if (credential !== undefined) return asKeyturnError(error, credential, doing);
  if (error instanceof KeyturnError) return error;
  // asKeyturnError's verdict on retrying, with a message that names no credential.
  const verdict = asKeyturnError(error, EVERY_CREDENTIAL, doing);
  const name = error instanceof Error ? error.name : "Error";
  const message = error instanceof Error ? error.message : String(error);
  return new KeyturnError(`${doing} failed: ${name}: ${message}`, {
    credential: EVERY_CREDENTIAL,
    retryable: isRetryable(verdict),
    cause: error,
  });
}
