// Token refresh (docs/architecture.md, "Token refresh (Incorta v1)"; docs/decisions/0002-parameter-store-for-tokens.md): for every credential whose
// provider mints short-lived tokens from a long-lived key, keep a valid pair in SSM
// Parameter Store for consumers.
//
// When: the refresh runs on a schedule every `interval`. Consumers must always find an
// access token with at least `minRemaining` left, so a pair is replaced once it has less
// than interval + minRemaining + a processing margin left: the next run then still comes
// before the promise breaks. Lifetimes are taken from the vendor's answers (absolute epoch
// milliseconds), never assumed.
//
// How: refresh with the refresh token while it lives; mint anew from the key when it has
// expired, belongs to an older key, or the vendor rejects it.
//
// Never two at once for one credential: a refresh invalidates the previous pair, so two
// concurrent refreshes would leave one writer with a dead pair. The refresh function runs
// with reserved concurrency 1 (a schedule that fires during a run waits), and each refresh
// also holds a DynamoDB lease (a conditional write) for anything that runs outside that
// function, such as a second deployment or an operator.
//
// When the pair cannot be kept valid until the next run, "Token Refresh Failed" (critical)
// goes out: consumers are about to be left without a token.
//
// A warm function keeps what it read in a RefreshMemory (./refresh-memory.ts): the key of a
// credential whose AWSCURRENT version has not changed, for a bounded time. A key the vendor
// refuses when minting is read again before the refusal counts: it may have been replaced after
// this run's listing.

import type { EventPublisher } from "#aws/event-publisher.ts";
import type { LeaseTable } from "#aws/lease.ts";
import type { KeyRecords } from "#aws/record-store.ts";
import { CURRENT, type SecretStore, versionWithStage } from "#aws/secret-store.ts";
import { type StoredTokens, type TokenStore, tokenParameterName } from "#aws/token-store.ts";
import type { HttpClient } from "#http/client.ts";
import { redactText } from "#http/redact.ts";
import { PROVIDER_IDS, providerFor } from "#providers/registry.ts";
import type { CredentialValue, ProviderContext, TokenMinter, TokenPair } from "#providers/types.ts";
import {
  type ManagedCredential,
  managedCredential,
  readCurrent,
  reportTampering,
  withWrittenSettings,
} from "./credentials.ts";
import { asKeyturnError, CredentialRejectedError } from "./errors.ts";
import { tokenRefreshFailed } from "./events.ts";
import { logger } from "./logger.ts";
import type { PinnedCredentials } from "./pinned.ts";
import type { RefreshMemory } from "./refresh-memory.ts";
import { refOf } from "./revocation.ts";
import { Tag } from "./settings.ts";

const PROCESSING_MARGIN_MS = 60_000;
/** A refresh token this close to its expiry is not worth trying: mint instead. */
const REFRESH_TOKEN_MARGIN_MS = 30_000;
const LEASE_MS = 60_000;

export interface RefreshDeps {
  store: SecretStore;
  /** What the deployment pinned: the only source of a credential's identity, settings and policy. */
  pinned: PinnedCredentials;
  tokens: TokenStore;
  leases: LeaseTable;
  publisher: EventPublisher;
  http: (vendor: string) => HttpClient;
  now: () => Date;
  /** Who holds leases taken by this run (the Lambda request id). */
  holder: string;
  parameterPrefix: string;
  intervalMs: number;
  minRemainingMs: number;
  /** What a warm function kept from its earlier runs; absent, every value is read. */
  memory?: RefreshMemory | undefined;
  /**
   * keyturn's records, read (GetItem) only when a value's settings differ from the pinned ones: a
   * value keyturn wrote under an earlier config is still its own (./credentials.ts). Absent, such a
   * value is tampering until a handover.
   */
  records?: KeyRecords | undefined;
}

export type RefreshOutcome = "fresh" | "refreshed" | "minted" | "busy" | "failed";

export interface RefreshReport {
  credentials: number;
  outcomes: { credential: string; outcome: RefreshOutcome; parameter: string }[];
  failures: { credential: string; error: string }[];
}

type RefreshCredential = ManagedCredential & { provider: { tokens: TokenMinter<CredentialValue> } };

/** A credential's current value, and whether it came from the memory rather than a read. */
interface CurrentValue {
  value: CredentialValue;
  kept: boolean;
}

export class TokenRefresher {
  readonly #deps: RefreshDeps;

  constructor(deps: RefreshDeps) {
    this.#deps = deps;
  }

  /** Replace a pair with less than this left. */
  get refreshAheadMs(): number {
    return this.#deps.intervalMs + this.#deps.minRemainingMs + PROCESSING_MARGIN_MS;
  }

  async run(): Promise<RefreshReport> {
    const report: RefreshReport = { credentials: 0, outcomes: [], failures: [] };
    // Only the credentials of refresh providers: one page where the monitor needs a hundred.
    const refreshProviders = PROVIDER_IDS.filter((id) => providerFor(id).mode === "refresh");
    for await (const page of this.#deps.store.listTagged(Tag.provider, refreshProviders)) {
      for (const description of page) {
        let credential: ManagedCredential;
        try {
          credential = managedCredential(description, this.#deps.pinned);
          if (this.#deps.records) credential = withWrittenSettings(this.#deps.records, credential);
        } catch {
          continue; // the monitor reports credentials with broken settings
        }
        if (credential.provider.mode !== "refresh" || !credential.provider.tokens) continue;
        report.credentials++;
        const outcome = await this.refresh(credential as RefreshCredential, report);
        report.outcomes.push({
          credential: credential.settings.credential,
          outcome,
          parameter: this.parameterOf(credential),
        });
      }
    }
    logger.info("token refresh finished", {
      credentials: report.credentials,
      failures: report.failures.length,
    });
    return report;
  }

  parameterOf(credential: ManagedCredential): string {
    return tokenParameterName(credential.settings.credential, this.#deps.parameterPrefix);
  }

  async refresh(credential: RefreshCredential, report: RefreshReport): Promise<RefreshOutcome> {
    const name = credential.settings.credential;
    const parameter = this.parameterOf(credential);
    const stored = await this.#deps.tokens.read(parameter);
    if (this.#fresh(stored)) return "fresh";
    const lease = `refresh#${credential.arn}`;
    const now = this.#deps.now();
    if (
      !(await this.#deps.leases.acquire(lease, this.#deps.holder, now, new Date(now.getTime() + LEASE_MS)))
    ) {
      logger.info("token refresh: another refresh holds the lease", { credential: name });
      return "busy";
    }
    let latest = stored;
    try {
      // Whoever held the lease before may have just refreshed.
      latest = await this.#deps.tokens.read(parameter);
      if (this.#fresh(latest)) return "fresh";
      const current = await this.#currentValue(credential);
      const ctx: ProviderContext = {
        credential: name,
        http: this.#deps.http(credential.provider.vendor),
        now: this.#deps.now,
      };
      const { pair, outcome, value } = await this.#nextPair(credential, current, latest, ctx);
      await this.#deps.tokens.write(parameter, {
        ...pair,
        keyId: value.keyId,
        refreshedAt: this.#deps.now().toISOString(),
      });
      const lifetime = pair.accessTokenExpiresAt - this.#deps.now().getTime();
      if (lifetime <= this.refreshAheadMs) {
        logger.warn(
          "token refresh: the vendor's access tokens live too briefly for the schedule; refreshing every run",
          {
            credential: name,
            lifetimeMs: lifetime,
            refreshAheadMs: this.refreshAheadMs,
          },
        );
      }
      logger.info(`token refresh: ${outcome}`, {
        credential: name,
        accessTokenExpiresAt: new Date(pair.accessTokenExpiresAt).toISOString(),
      });
      return outcome;
    } catch (error) {
      await this.#failed(credential, latest, error, report);
      return "failed";
    } finally {
      await this.#deps.leases.release(lease, this.#deps.holder);
    }
  }

  #fresh(tokens: StoredTokens | undefined): boolean {
    return (
      tokens !== undefined && tokens.accessTokenExpiresAt - this.#deps.now().getTime() > this.refreshAheadMs
    );
  }

  /** The current value: kept by the memory for the version the listing names, or read (and kept). */
  async #currentValue(credential: RefreshCredential): Promise<CurrentValue> {
    const memory = this.#deps.memory;
    const now = this.#deps.now().getTime();
    const versionId = versionWithStage(credential.versions, CURRENT);
    const kept = memory?.value(credential.arn, versionId, now);
    if (kept !== undefined) return { value: kept, kept: true };
    const value = await readCurrent(this.#deps.store, credential);
    memory?.keepValue(credential.arn, versionId, value, credential.provider.secretsOf(value), now);
    return { value, kept: false };
  }

  async #nextPair(
    credential: RefreshCredential,
    current: CurrentValue,
    stored: StoredTokens | undefined,
    ctx: ProviderContext,
  ): Promise<{ pair: TokenPair; outcome: "refreshed" | "minted"; value: CredentialValue }> {
    const minter = credential.provider.tokens;
    const { value } = current;
    const now = this.#deps.now().getTime();
    const refreshable =
      stored !== undefined &&
      stored.keyId === value.keyId &&
      stored.refreshTokenExpiresAt - now > REFRESH_TOKEN_MARGIN_MS;
    if (refreshable) {
      try {
        return { pair: await minter.refresh(value, stored, ctx), outcome: "refreshed", value };
      } catch (error) {
        // A rejected refresh token (used elsewhere, revoked, expired early): the key can still mint.
        if (!(error instanceof CredentialRejectedError)) throw error;
        logger.warn("token refresh: refresh token rejected, minting a new pair with the key", {
          credential: ctx.credential,
        });
      }
    }
    try {
      return { pair: await minter.mint(value, ctx), outcome: "minted", value };
    } catch (error) {
      if (!(error instanceof CredentialRejectedError) || !current.kept) throw error;
      // The kept key was refused: a new one may have been stored after this run's listing. The
      // refusal stands only if the secret still holds the same key.
      this.#deps.memory?.forgetValue(credential.arn);
      const read = await this.#currentValue(credential);
      if (read.value.keyId === value.keyId) throw error;
      logger.info("token refresh: the kept key was refused; minting with the key stored since", {
        credential: ctx.credential,
        keyId: read.value.keyId,
      });
      return { pair: await minter.mint(read.value, ctx), outcome: "minted", value: read.value };
    }
  }

  async #failed(
    credential: ManagedCredential,
    stored: StoredTokens | undefined,
    error: unknown,
    report: RefreshReport,
  ): Promise<void> {
    const name = credential.settings.credential;
    const failure = asKeyturnError(error, name, "Token refresh");
    logger.error("token refresh failed", { credential: name, error: failure });
    report.failures.push({ credential: name, error: failure.message });
    await reportTampering(this.#deps.publisher, failure, credential.arn, "refresh");
    const now = this.#deps.now().getTime();
    // Still fine if the stored token outlives the next run by the promised minimum: the next run retries.
    const holdsUntilNextRun =
      stored !== undefined &&
      stored.accessTokenExpiresAt - now >= this.#deps.intervalMs + this.#deps.minRemainingMs;
    if (holdsUntilNextRun) return;
    await this.#deps.publisher.publish([
      tokenRefreshFailed(refOf(credential), {
        accessTokenExpiresAt: stored ? new Date(stored.accessTokenExpiresAt).toISOString() : null,
        error: { name: failure.name, message: redactText(failure.message), retryable: failure.retryable },
      }),
    ]);
  }
}
