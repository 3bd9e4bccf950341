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
//
// Usage reports (opt-in): with `report` (or KEYTURN_USAGE_TABLE in the environment), each time the
// cache reads a credential again it records which key id it now holds, in keyturn's usage table
// (functions/aws/usage-store.ts); the monitor then keeps a previous key that a consumer reported
// holding within the in-use window, up to the in-use limit. A report that fails never fails the
// application's call. The DynamoDB client is loaded only by an application that reports.

import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import {
  GetSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
} from "@aws-sdk/client-secrets-manager";
import type { UsageReports } from "../functions/aws/usage-store.ts";

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
  /**
   * Usage reports: which key id this application holds, written at most once per cache read into
   * keyturn's usage table (`keyturn.grantConsumer` grants it). Default: on when KEYTURN_USAGE_TABLE
   * is set, as consumer KEYTURN_CONSUMER or else the Lambda function's name; `false` turns it off.
   */
  report?: false | UsageReportOptions;
}

export interface UsageReportOptions {
  /** The usage table's name (the stack's `usageTable.tableName`). Default KEYTURN_USAGE_TABLE. */
  table?: string;
  /** Who this application is, as events name it. Default KEYTURN_CONSUMER, else AWS_LAMBDA_FUNCTION_NAME. */
  consumer?: string;
  /** The DynamoDB client (default: a new one, from the environment's region and credentials). */
  client?: DynamoDBClient;
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

/** The secret's name as Secrets Manager answered it, kept beside a value read (not one of its fields). */
const SECRET_NAME = Symbol("keyturn.secretName");

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

/** Writes this application's usage reports, or undefined when it does not report. */
type Reporter = (credential: string, keyId: string, at: number) => Promise<void>;

/** The longest a read waits for its usage report (the report itself goes on). */
const REPORT_WAIT_MS = 1_000;

function usageReporter(option: ConsumerOptions["report"]): Reporter | undefined {
  if (option === false) return undefined;
  const table = option?.table ?? process.env.KEYTURN_USAGE_TABLE;
  const consumer = option?.consumer ?? process.env.KEYTURN_CONSUMER ?? process.env.AWS_LAMBDA_FUNCTION_NAME;
  if (!table || !consumer) return undefined;
  let reports: Promise<UsageReports> | undefined;
  let warned = false;
  return async (credential, keyId, at) => {
    try {
      reports ??= (async () => {
        const { UsageReports } = await import("../functions/aws/usage-store.ts");
        // Short timeouts and one retry: a report must never hold the application's call for long
        // (a VPC without a route to DynamoDB would otherwise hang each attempt for minutes).
        const client =
          option?.client ??
          new (await import("@aws-sdk/client-dynamodb")).DynamoDBClient({
            maxAttempts: 2,
            requestHandler: { connectionTimeout: 1_000, requestTimeout: 2_000 },
          });
        return new UsageReports(client, table);
      })();
      await (await reports).report({ credential, consumer, keyId, at: new Date(at) });
    } catch (error) {
      // Once, with no value in it: the report is a courtesy to keyturn, never the application's failure.
      if (!warned) {
        warned = true;
        console.warn(
          `keyturn/consumer: could not report usage of credential "${credential}" to ${table} ` +
            `(${error instanceof Error ? error.name : "error"}); the application is unaffected.`,
        );
      }
    }
  };
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
  const reporter = usageReporter(options.report);
  const cache = new Map<string, { value: CredentialValue; readAt: number }>();

  const read = async (
    name: string,
    stage: "AWSCURRENT" | "AWSPREVIOUS",
  ): Promise<CredentialValue & { [SECRET_NAME]?: string }> => {
    let text: string | undefined;
    let secretName: string | undefined;
    try {
      const answer = await client.send(new GetSecretValueCommand({ SecretId: name, VersionStage: stage }));
      text = answer.SecretString;
      secretName = answer.Name;
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
    return Object.defineProperty(value, SECRET_NAME, { value: secretName ?? name, enumerable: false });
  };

  const current = async (name: string, fresh: boolean): Promise<CredentialValue> => {
    const cached = cache.get(name);
    if (!fresh && cached && now() - cached.readAt < maxAgeMs) return cached.value;
    const value = await read(name, "AWSCURRENT");
    const readAt = now();
    cache.set(name, { value, readAt });
    // Under the secret's name (the caller may have named it by ARN): the monitor queries by name.
    // Waited for at most REPORT_WAIT_MS: a slow report goes on in the background rather than
    // delaying the application's call (in Lambda it may then finish at the next invocation).
    if (reporter) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        reporter(value[SECRET_NAME] ?? name, value.keyId, readAt),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, REPORT_WAIT_MS);
          timer.unref?.();
        }),
      ]);
      clearTimeout(timer);
    }
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
