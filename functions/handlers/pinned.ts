// The pinned configuration as the stack bakes it into this function's code at synth
// (infra/keyturn-function.ts defines KEYTURN_PINNED: the document, base64-encoded). Only a
// deployment changes a function's code, so only a deployment changes what keyturn manages.

import { logger } from "#engine/logger.ts";
import { PinnedCredentials } from "#engine/pinned.ts";

/** Replaced by esbuild with the encoded document; absent outside a bundle built by the stack. */
declare const KEYTURN_PINNED: string | undefined;

/**
 * The pinned credentials, read once at cold start. A function not built by the stack has none:
 * it then acts on nothing, and says so.
 */
export function bundledPinnedCredentials(): PinnedCredentials {
  if (typeof KEYTURN_PINNED !== "string") {
    // Outside Lambda (the tests, the sandbox, the CLI) the handlers are given theirs instead.
    if (process.env.AWS_LAMBDA_FUNCTION_NAME) {
      logger.error(
        "this function carries no pinned configuration: it was not built by the keyturn stack, and acts on no credential",
      );
    }
    return new PinnedCredentials();
  }
  return PinnedCredentials.fromDocument(JSON.parse(Buffer.from(KEYTURN_PINNED, "base64").toString("utf8")));
}
