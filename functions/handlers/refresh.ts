// Token refresh on a schedule (functions/engine/refresh.ts): keeps a valid access token for
// every refresh-mode credential (Incorta v1) in SSM Parameter Store. Each run writes its
// outcomes and the access token lifetime consumers are left with as metrics (./metrics.ts):
// the handler watches which expiry each token parameter held last, read or written, so the
// figure costs no extra Parameter Store read (nor KMS decryption).
//
// The function stays warm between its runs (every 2 minutes): what it read is kept in a
// RefreshMemory (functions/engine/refresh-memory.ts) for at most KEYTURN_REFRESH_MEMORY (default
// 1 hour), so that a run reads a credential's key and decrypts its token parameter only when
// either changed, or the bound has passed. The log context and the errors' types are
// ./middleware.ts's.

import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { SSMClient } from "@aws-sdk/client-ssm";
import { EventPublisher } from "#aws/event-publisher.ts";
import { LeaseTable } from "#aws/lease.ts";
import { KeyRecords } from "#aws/record-store.ts";
import { SecretStore } from "#aws/secret-store.ts";
import { type StoredTokens, TokenStore } from "#aws/token-store.ts";
import type { PinnedCredentials } from "#engine/pinned.ts";
import { type RefreshReport, TokenRefresher } from "#engine/refresh.ts";
import { DEFAULT_REFRESH_MEMORY_MS, RefreshMemory } from "#engine/refresh-memory.ts";
import type { HttpClientOptions } from "#http/client.ts";
import { RefreshEnvironment, readEnvironment } from "./environment.ts";
import { publishMetrics, refreshMetrics } from "./metrics.ts";
import { type InvocationHandler, invocation } from "./middleware.ts";
import { bundledPinnedCredentials } from "./pinned.ts";
import { vendorHttp } from "./vendor-http.ts";

export interface RefreshHandlerDeps {
  store: SecretStore;
  /** What the deployment pinned (functions/handlers/pinned.ts in Lambda). */
  pinned: PinnedCredentials;
  tokens: TokenStore;
  leases: LeaseTable;
  publisher: EventPublisher;
  parameterPrefix: string;
  intervalMs: number;
  minRemainingMs: number;
  /** How long a key or token pair read by one run may serve later runs. Default 1 hour; 0 keeps nothing. */
  memoryMs?: number;
  /** keyturn's records (KEYTURN_RECORDS_TABLE): the settings keyturn wrote values under. */
  records?: KeyRecords | undefined;
  now?: () => Date;
  http?: Partial<HttpClientOptions>;
}

/**
 * The refresh reads nothing from its event: Scheduler's notification, {} and any other event are
 * the same run over every refresh-mode credential. Nothing in it is acted on, so nothing is
 * refused (a refresh that refused would let consumers' tokens run out).
 */
export function parseRefreshEvent(_event: unknown): Record<string, never> {
  return {};
}

export function createRefreshHandler(deps: RefreshHandlerDeps): InvocationHandler<RefreshReport> {
  // One per handler: what this process keeps between its runs.
  const memory = new RefreshMemory(deps.memoryMs ?? DEFAULT_REFRESH_MEMORY_MS);
  return invocation(
    { parse: parseRefreshEvent, doing: () => "The token refresh" },
    async (_event, context) => {
      const now = deps.now ?? (() => new Date());
      const expiries = new Map<string, number>();
      const report = await new TokenRefresher({
        ...deps,
        memory,
        tokens: watchTokens(
          memory.tokenStore(deps.tokens, () => now().getTime()),
          expiries,
        ),
        now,
        http: vendorHttp(context, deps.http),
        holder: context.awsRequestId,
      }).run();
      publishMetrics(refreshMetrics(report, expiries, now()));
      return report;
    },
  );
}

/** The token store, noting the access token expiry each parameter last held (read or written). */
function watchTokens(tokens: TokenStore, expiries: Map<string, number>): TokenStore {
  return new Proxy(tokens, {
    get(target, property) {
      if (property === "read") {
        return async (name: string) => {
          const stored = await target.read(name);
          if (stored) expiries.set(name, stored.accessTokenExpiresAt);
          return stored;
        };
      }
      if (property === "write") {
        return async (name: string, stored: StoredTokens, ...rest: unknown[]) => {
          const version = await target.write(name, stored, ...(rest as [string | undefined]));
          expiries.set(name, stored.accessTokenExpiresAt);
          return version;
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

const environment = readEnvironment(RefreshEnvironment, process.env, "refresh");

export const handler = createRefreshHandler({
  store: new SecretStore(new SecretsManagerClient({})),
  pinned: bundledPinnedCredentials(),
  tokens: new TokenStore(new SSMClient({}), { keyId: environment.KEYTURN_TOKEN_KEY_ID }),
  leases: new LeaseTable(new DynamoDBClient({}), environment.KEYTURN_LEASE_TABLE),
  publisher: new EventPublisher(new EventBridgeClient({}), environment.KEYTURN_EVENT_BUS_NAME),
  parameterPrefix: environment.KEYTURN_TOKEN_PARAMETER_PREFIX,
  intervalMs: environment.KEYTURN_REFRESH_INTERVAL,
  minRemainingMs: environment.KEYTURN_MIN_TOKEN_REMAINING,
  memoryMs: environment.KEYTURN_REFRESH_MEMORY,
  records:
    environment.KEYTURN_RECORDS_TABLE === undefined
      ? undefined
      : new KeyRecords(new DynamoDBClient({}), environment.KEYTURN_RECORDS_TABLE),
});
