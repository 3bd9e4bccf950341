// keyturn/consumer: how an application reads a credential keyturn keeps (issue 19). The secret's
// AWSCURRENT value, through a small cache (read AWSCURRENT on every use, or cache it briefly:
// keyturn replaces it on every rotation), and `withCredential`, which calls the vendor with it and,
// when the vendor refuses it (the key was rotated or revoked since the cache read it), reads the
// secret again once and retries; while a fresh key is not yet accepted, it may fall back to
// AWSPREVIOUS, never after that key's revokeAfter.
//
// The AWS SDK's Secrets Manager client directly, not Powertools Parameters' SecretsProvider: the
// cache is a few lines, the SDK client is already what an application on AWS has, and the
// provider would add a package and its transforms for nothing used here. No HTTP client: the
// application calls its vendor with its own (a fetch-compatible Response, or anything that
// throws an error with a status).

import {
  GetSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
} from "@aws-sdk/client-secrets-manager";

/** What every keyturn credential's value holds; each provider adds its key field (token, apiKey). */
export interface CredentialValue {
  provider: string;
  /** The vendor's id of the key (never the key). */
  keyId: string;
  expiresAt?: string | null;
  /** The key this one replaced, and until when it may still be used. */
  previous?: { keyId: string; revokeAfter?: string };
  [field: string]: unknown;
}

export interface ConsumerOptions {
  /** The Secrets Manager client (default: a new one, from the environment's region and credentials). */
  client?: SecretsManagerClient;
  /** How long a value read is used before it is read again. Default 30 s. */
  maxAgeMs?: number;
  /** The clock (tests). */
  now?: () => number;
  /**
   * Whether a call's outcome means the vendor refused the key. Default: a thrown error or a
   * returned response whose status (`status`, `statusCode`, `response.status` or
   * `$metadata.httpStatusCode`) is 401 or 403.
   */
  isAuthFailure?: (outcome: { error?: unknown; result?: unknown }) => boolean;
}

export class CredentialNotFoundError extends Error {
  override readonly name = "CredentialNotFoundError";
}

export class CredentialRefusedError extends Error {
  override readonly name = "CredentialRefusedError";
  readonly credential: string;
  readonly keyId: string;
  constructor(credential: string, keyId: string, cause: unknown) {
    super(
      `The vendor refused credential "${credential}" (key ${keyId}) even after it was read again: the key was ` +
        "revoked with no successor yet, or the application lacks access at the vendor. Check the credential " +
        "with keyturn status.",
      { cause },
    );
    this.credential = credential;
    this.keyId = keyId;
  }
}

const DEFAULT_MAX_AGE_MS = 30_000;

function statusOf(value: unknown): number | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const candidate = value as {
    status?: unknown;
    statusCode?: unknown;
    response?: { status?: unknown };
    $metadata?: { httpStatusCode?: unknown };
  };
  for (const status of [
    candidate.status,
    candidate.statusCode,
    candidate.response?.status,
    candidate.$metadata?.httpStatusCode,
  ]) {
    if (typeof status === "number") return status;
  }
  return undefined;
}

/** A 401 or 403, thrown or returned. */
export function isAuthFailure(outcome: { error?: unknown; result?: unknown }): boolean {
  const status = statusOf("error" in outcome ? outcome.error : outcome.result);
  return status === 401 || status === 403;
}

type Outcome<T> = { ok: true; result: T } | { ok: false; error?: unknown; result?: T };

export interface Consumer {
  /** The credential's AWSCURRENT value, from the cache while it is younger than maxAgeMs. */
  credential<V extends CredentialValue = CredentialValue>(name: string): Promise<V>;
  /**
   * Calls `call` with the credential's value. If the vendor refuses it (see isAuthFailure), reads
   * the secret again and retries once with the current key; if the current key is refused too
   * and its predecessor is still within its grace period (before `previous.revokeAfter`), retries
   * once with AWSPREVIOUS. Answers the call's result, or throws its error; a refusal that
   * survives all of that throws CredentialRefusedError.
   */
  withCredential<T, V extends CredentialValue = CredentialValue>(
    name: string,
    call: (value: V) => Promise<T>,
  ): Promise<T>;
  /** Forgets every cached value. */
  clear(): void;
}

export function createConsumer(options: ConsumerOptions = {}): Consumer {
  const client = options.client ?? new SecretsManagerClient({});
  const maxAgeMs = options.maxAgeMs ?? DEFAULT_MAX_AGE_MS;
  const now = options.now ?? Date.now;
  const refused = options.isAuthFailure ?? isAuthFailure;
  const cache = new Map<string, { value: CredentialValue; readAt: number }>();

  const read = async (name: string, stage: "AWSCURRENT" | "AWSPREVIOUS"): Promise<CredentialValue> => {
    let text: string | undefined;
    try {
      const answer = await client.send(new GetSecretValueCommand({ SecretId: name, VersionStage: stage }));
      text = answer.SecretString;
    } catch (error) {
      if (error instanceof ResourceNotFoundException) {
        throw new CredentialNotFoundError(`Credential "${name}" has no ${stage} value.`, { cause: error });
      }
      throw error;
    }
    const value = (() => {
      try {
        return JSON.parse(text ?? "") as CredentialValue;
      } catch {
        return undefined;
      }
    })();
    // Never the text itself in an error: it is the key.
    if (!value || typeof value.keyId !== "string") {
      throw new CredentialNotFoundError(
        `Credential "${name}" holds no key yet (its ${stage} value is not a keyturn credential): hand one over ` +
          "with keyturn put.",
      );
    }
    return value;
  };

  const current = async (name: string, fresh: boolean): Promise<CredentialValue> => {
    const cached = cache.get(name);
    if (!fresh && cached && now() - cached.readAt < maxAgeMs) return cached.value;
    const value = await read(name, "AWSCURRENT");
    cache.set(name, { value, readAt: now() });
    return value;
  };

  const attempt = async <T>(
    call: (value: never) => Promise<T>,
    value: CredentialValue,
  ): Promise<Outcome<T>> => {
    try {
      const result = await call(value as never);
      return refused({ result }) ? { ok: false, result } : { ok: true, result };
    } catch (error) {
      if (refused({ error })) return { ok: false, error };
      throw error;
    }
  };

  return {
    credential: async <V extends CredentialValue>(name: string) => (await current(name, false)) as V,
    async withCredential<T, V extends CredentialValue>(name: string, call: (value: V) => Promise<T>) {
      const used = await current(name, false);
      let outcome = await attempt(call as (value: never) => Promise<T>, used);
      if (outcome.ok) return outcome.result;
      const latest = await current(name, true);
      if (latest.keyId !== used.keyId) {
        outcome = await attempt(call as (value: never) => Promise<T>, latest);
        if (outcome.ok) return outcome.result;
      }
      // The current key refused: a fresh key the vendor does not accept yet. Its predecessor may
      // serve until its revokeAfter, never after (keyturn revokes it then).
      const revokeAfter = Date.parse(latest.previous?.revokeAfter ?? "");
      if (!Number.isNaN(revokeAfter) && now() < revokeAfter) {
        const previous = await read(name, "AWSPREVIOUS").catch(() => undefined);
        if (previous && previous.keyId === latest.previous?.keyId && previous.keyId !== used.keyId) {
          outcome = await attempt(call as (value: never) => Promise<T>, previous);
          if (outcome.ok) return outcome.result;
        }
      }
      throw new CredentialRefusedError(name, latest.keyId, outcome.error ?? outcome.result);
    },
    clear: () => cache.clear(),
  };
}

let shared: Consumer | undefined;

/** The current value of credential `name` (its secret's name), through a process-wide cache. */
export function credential<V extends CredentialValue = CredentialValue>(name: string): Promise<V> {
  shared ??= createConsumer();
  return shared.credential<V>(name);
}

/** `call` with the credential's value, read again once when the vendor refuses it (see Consumer.withCredential). */
export function withCredential<T, V extends CredentialValue = CredentialValue>(
  name: string,
  call: (value: V) => Promise<T>,
): Promise<T> {
  shared ??= createConsumer();
  return shared.withCredential<T, V>(name, call);
}
