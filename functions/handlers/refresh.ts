// Token refresh on a schedule (functions/engine/refresh.ts): keeps a valid access token for
// every refresh-mode credential (Incorta v1) in SSM Parameter Store.

import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { SSMClient } from "@aws-sdk/client-ssm";
import { EventPublisher } from "#aws/event-publisher.ts";
import { LeaseTable } from "#aws/lease.ts";
import { SecretStore } from "#aws/secret-store.ts";
import { TokenStore } from "#aws/token-store.ts";
import { logger } from "#engine/logger.ts";
import type { PinnedCredentials } from "#engine/pinned.ts";
import { type RefreshReport, TokenRefresher } from "#engine/refresh.ts";
import type { HttpClientOptions } from "#http/client.ts";
import { RefreshEnvironment, readEnvironment } from "./environment.ts";
import { bundledPinnedCredentials } from "./pinned.ts";
import { type InvocationContext, vendorHttp } from "./vendor-http.ts";

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
  now?: () => Date;
  http?: Partial<HttpClientOptions>;
}

export function createRefreshHandler(deps: RefreshHandlerDeps) {
  return async (_event: unknown, context: InvocationContext): Promise<RefreshReport> => {
    logger.appendKeys({ requestId: context.awsRequestId });
    try {
      return await new TokenRefresher({
        ...deps,
        now: deps.now ?? (() => new Date()),
        http: vendorHttp(context, deps.http),
        holder: context.awsRequestId,
      }).run();
    } finally {
      logger.resetKeys();
    }
  };
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
});
