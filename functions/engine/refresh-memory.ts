// What a warm refresh function keeps in memory between its runs (functions/handlers/refresh.ts
// makes one RefreshMemory per process), so that a run every two minutes reads neither Secrets
// Manager nor a KMS-decrypted parameter when nothing has changed. Each run otherwise read a
// credential's value (GetSecretValue and a KMS decryption) before each refresh, and its token
// parameter (a KMS decryption) two or three times: $0.18 a credential a month (bench/cost.ts).
//
// - A credential's current value (its API key), kept for at most `maxAgeMs` since it was read,
//   and only while the listing the run starts from names the same AWSCURRENT version: a key
//   stored since (keyturn put, a rotation) is a new version, read at the next run. A key that
//   the vendor refuses is read again at once (functions/engine/refresh.ts): the listing may lag
//   behind a put.
// - A token parameter's pair as last read or written, with its Parameter Store version, for at
//   most `maxAgeMs`: a run checks the version (GetParameter without decryption: no KMS request)
//   and decrypts only when someone else wrote the parameter since.
//
// Who can change what this acts on: whoever may write the secret makes a new version, which is
// read and checked against the pinned settings like any other; whoever may write the parameter
// makes a new parameter version, which is read. Nothing else can change a version's content.
// Nothing kept here is ever logged: the values are handed to the engine as a read would hand
// them, and their secrets stay in the redaction registry (re-remembered on every use).

import type { StoredTokens, TokenStore } from "#aws/token-store.ts";
import { rememberSecret } from "#http/redact.ts";
import type { CredentialValue } from "#providers/types.ts";
import { DEFAULT_REFRESH_MEMORY } from "./defaults.ts";
import { parseDuration } from "./duration.ts";

/**
 * The default bound: a key or pair is read again at least this often. A key stored since is a new
 * version, read at the next run whatever the bound, so the bound only limits how long one read
 * serves (DEFAULT_REFRESH_MEMORY in functions/engine/defaults.ts says why an hour).
 */
export const DEFAULT_REFRESH_MEMORY_MS = parseDuration(DEFAULT_REFRESH_MEMORY) ?? 0;

interface KeptValue {
  versionId: string;
  value: CredentialValue;
  secrets: readonly string[];
  keptAt: number;
}

interface KeptTokens {
  version: number;
  tokens: StoredTokens;
  keptAt: number;
}

export class RefreshMemory {
  readonly #maxAgeMs: number;
  readonly #values = new Map<string, KeptValue>();
  readonly #tokens = new Map<string, KeptTokens>();

  /** `maxAgeMs` 0 keeps nothing: every run reads as if cold. */
  constructor(maxAgeMs = DEFAULT_REFRESH_MEMORY_MS) {
    this.#maxAgeMs = maxAgeMs;
  }

  get maxAgeMs(): number {
    return this.#maxAgeMs;
  }

  #young(keptAt: number, now: number): boolean {
    return now >= keptAt && now - keptAt < this.#maxAgeMs;
  }

  /** The value kept for the secret `arn` if it was read from `versionId` less than maxAgeMs ago. */
  value(arn: string, versionId: string | undefined, now: number): CredentialValue | undefined {
    const kept = this.#values.get(arn);
    if (kept === undefined) return undefined;
    if (versionId === undefined || kept.versionId !== versionId || !this.#young(kept.keptAt, now)) {
      this.#values.delete(arn);
      return undefined;
    }
    // The registry forgets its oldest entries when full; a kept key must stay redacted.
    for (const secret of kept.secrets) rememberSecret(secret);
    return kept.value;
  }

  /** Keeps a value just read from `versionId`; `secrets` are what the provider says it holds. */
  keepValue(
    arn: string,
    versionId: string | undefined,
    value: CredentialValue,
    secrets: readonly string[],
    now: number,
  ): void {
    if (this.#maxAgeMs <= 0 || versionId === undefined) return;
    this.#values.set(arn, { versionId, value, secrets, keptAt: now });
  }

  /** Drops the value kept for `arn`: the vendor refused it. */
  forgetValue(arn: string): void {
    this.#values.delete(arn);
  }

  /**
   * `store` whose reads check the parameter's version first and decrypt only when it differs
   * from the version this memory last read or wrote, or when that is older than maxAgeMs.
   */
  tokenStore(store: TokenStore, now: () => number): TokenStore {
    const tokens = this.#tokens;
    const young = (keptAt: number) => this.#young(keptAt, now());
    const keeping = this.#maxAgeMs > 0;
    return new Proxy(store, {
      get(target, property) {
        if (property === "read") {
          return async (name: string): Promise<StoredTokens | undefined> => {
            if (!keeping) return target.read(name);
            const version = await target.version(name);
            const kept = tokens.get(name);
            if (version === undefined) {
              tokens.delete(name);
              return undefined;
            }
            if (kept !== undefined && kept.version === version && young(kept.keptAt)) {
              rememberPair(kept.tokens);
              return kept.tokens;
            }
            // Written between the version and this read: kept under the older version, it is
            // decrypted again next time, never taken for the newer one.
            const read = await target.read(name);
            if (read === undefined) tokens.delete(name);
            else tokens.set(name, { version, tokens: read, keptAt: now() });
            return read;
          };
        }
        if (property === "write") {
          return async (name: string, stored: StoredTokens, ...rest: [keyId?: string]) => {
            tokens.delete(name);
            const version = await target.write(name, stored, ...rest);
            if (keeping && version !== undefined)
              tokens.set(name, { version, tokens: stored, keptAt: now() });
            return version;
          };
        }
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
  }
}

function rememberPair(tokens: StoredTokens): void {
  rememberSecret(tokens.accessToken);
  rememberSecret(tokens.refreshToken);
}
