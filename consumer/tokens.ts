// keyturn/consumer/tokens: how an application reads the Incorta v1 access token keyturn keeps
// fresh in Parameter Store (issue 19): `tokens(name)` answers the pair through a cache that is
// read again before the access token expires, and `withTokens` re-reads once when the vendor
// refuses the access token (a refresh replaced it since). A module of its own, so that an
// application reading secrets only does not bundle the SSM client.

import { GetParameterCommand, ParameterNotFound, SSMClient } from "@aws-sdk/client-ssm";
import { isAuthFailure } from "./index.ts";

/** What the refresh function stores (functions/aws/token-store.ts). */
export interface StoredTokens {
  accessToken: string;
  refreshToken: string;
  type: string;
  /** Epoch milliseconds. */
  accessTokenExpiresAt: number;
  refreshTokenExpiresAt: number;
  /** The id of the API key the pair was minted from. */
  keyId: string;
  refreshedAt: string;
}

export interface TokenConsumerOptions {
  client?: SSMClient;
  /** The stack's tokenParameterPrefix. Default "/keyturn/tokens". */
  prefix?: string;
  /** How long a pair read is used, at most, before it is read again. Default 30 s. */
  maxAgeMs?: number;
  /** A pair is read again when its access token has less than this left. Default 60 s. */
  minRemainingMs?: number;
  now?: () => number;
  isAuthFailure?: (outcome: { error?: unknown; result?: unknown }) => boolean;
}

export class TokensNotFoundError extends Error {
  override readonly name = "TokensNotFoundError";
}

export interface TokenConsumer {
  tokens(name: string): Promise<StoredTokens>;
  /** `call` with the pair; a refusal (401/403) reads the parameter again and retries once. */
  withTokens<T>(name: string, call: (tokens: StoredTokens) => Promise<T>): Promise<T>;
}

export function createTokenConsumer(options: TokenConsumerOptions = {}): TokenConsumer {
  const client = options.client ?? new SSMClient({});
  const prefix = (options.prefix ?? "/keyturn/tokens").replace(/\/+$/, "");
  const maxAgeMs = options.maxAgeMs ?? 30_000;
  const minRemainingMs = options.minRemainingMs ?? 60_000;
  const now = options.now ?? Date.now;
  const refused = options.isAuthFailure ?? isAuthFailure;
  const cache = new Map<string, { tokens: StoredTokens; readAt: number }>();

  const read = async (name: string, fresh: boolean): Promise<StoredTokens> => {
    const cached = cache.get(name);
    if (
      !fresh &&
      cached &&
      now() - cached.readAt < maxAgeMs &&
      cached.tokens.accessTokenExpiresAt - now() > minRemainingMs
    ) {
      return cached.tokens;
    }
    const parameter = `${prefix}/${name.replace(/^\/+/, "")}`;
    let text: string | undefined;
    try {
      const answer = await client.send(new GetParameterCommand({ Name: parameter, WithDecryption: true }));
      text = answer.Parameter?.Value;
    } catch (error) {
      if (error instanceof ParameterNotFound) {
        throw new TokensNotFoundError(
          `No tokens for credential "${name}" at ${parameter}: keyturn's refresh has not stored a pair yet.`,
          { cause: error },
        );
      }
      throw error;
    }
    // Never the parser's message in an error: it quotes the text, which holds the tokens.
    let tokens: StoredTokens;
    try {
      tokens = JSON.parse(text ?? "{}") as StoredTokens;
    } catch {
      throw new TokensNotFoundError(`The parameter ${parameter} holds no token pair (not JSON).`);
    }
    if (typeof tokens?.accessToken !== "string") {
      throw new TokensNotFoundError(`The parameter ${parameter} holds no token pair.`);
    }
    cache.set(name, { tokens, readAt: now() });
    return tokens;
  };

  return {
    tokens: (name) => read(name, false),
    async withTokens(name, call) {
      const first = await read(name, false);
      try {
        const result = await call(first);
        if (!refused({ result })) return result;
      } catch (error) {
        if (!refused({ error })) throw error;
      }
      return call(await read(name, true));
    },
  };
}
