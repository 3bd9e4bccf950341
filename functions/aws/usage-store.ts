// The usage reports (issue 19): which key id each consumer of a credential last said it holds,
// and when. The consumer library (consumer/index.ts) writes one item per credential and consumer
// when its cache reads the credential again; the monitor reads a credential's items (one Query)
// before it revokes the previous key after its grace period, and waits while a consumer reported
// holding that key within the in-use window (functions/engine/revocation.ts).
//
// A table of its own, not keyturn's records table, which only keyturn's functions may write: a
// consumer may write here, but only in its own credentials' partitions (grantConsumer's IAM
// dynamodb:LeadingKeys condition, infra/keyturn-usage.ts). So what the monitor reads here is
// untrusted: a key id, a consumer name and a time that a consumer of the credential wrote. The
// worst one can do with them is delay its own credential's previous-key revocation, up to the
// in-use limit. Items hold key ids, never a key; they expire through the table's TTL attribute.
//
// Only the DynamoDB client: the consumer library imports this module, and an application's
// bundle must not pull in the engine or an HTTP client.

import {
  type AttributeValue,
  CreateTableCommand,
  type DynamoDBClient,
  PutItemCommand,
  QueryCommand,
} from "@aws-sdk/client-dynamodb";

/**
 * The table's attributes: partition key (the credential's secret name), sort key (`<keyId>#<consumer>`:
 * one item per key a consumer held, so that an instance that moved to the new key does not erase
 * the report of another instance of the same consumer still holding the old one), and the TTL
 * attribute (epoch seconds). Key ids never contain "#" (functions/engine/credentials.ts).
 */
export const USAGE_KEYS = { partition: "credential", sort: "holding", ttl: "expiresAt" } as const;

/** Every attribute a report item has: what grantConsumer lets a consumer write, and nothing else. */
export const USAGE_ATTRIBUTES = [
  USAGE_KEYS.partition,
  USAGE_KEYS.sort,
  "consumer",
  "keyId",
  "reportedAt",
  USAGE_KEYS.ttl,
] as const;

/** A report dated further ahead than this is not believed (clocks differ by seconds, not minutes). */
const FUTURE_SKEW_MS = 5 * 60_000;

/** How long a report is kept before DynamoDB's TTL removes it. Longer than any in-use window worth setting. */
export const DEFAULT_USAGE_TTL_MS = 7 * 24 * 3_600_000;

/**
 * The consumer names the monitor repeats in its events: a Lambda function's name, a service's,
 * a role session's. The name is written by the consumer, and keyturn's alerts reach more people
 * than the credential's consumers: anything else (a link, a sentence, a run of 24 letters and
 * digits that may be a key) is shown as UNNAMED_CONSUMER, and still postpones as any report does.
 */
export const CONSUMER_NAME = /^(?!.*[A-Za-z0-9]{24})(?!.*:\/\/)[A-Za-z0-9][A-Za-z0-9._:@/+-]{0,63}$/;
export const UNNAMED_CONSUMER = "(a consumer whose name keyturn does not repeat)";

/** One consumer's latest report for one credential. */
export interface UsageReport {
  credential: string;
  consumer: string;
  /** The vendor's id of the key the consumer holds (never the key). */
  keyId: string;
  reportedAt: Date;
}

export class UsageReports {
  readonly #client: DynamoDBClient;
  readonly #table: string;

  constructor(client: DynamoDBClient, table: string) {
    this.#client = client;
    this.#table = table;
  }

  /** Records that `consumer` holds key `keyId` of `credential` as of `at` (overwrites its last report). */
  async report(
    report: { credential: string; consumer: string; keyId: string; at: Date },
    ttlMs: number = DEFAULT_USAGE_TTL_MS,
  ): Promise<void> {
    await this.#client.send(
      new PutItemCommand({
        TableName: this.#table,
        Item: {
          [USAGE_KEYS.partition]: { S: report.credential },
          [USAGE_KEYS.sort]: { S: `${report.keyId}#${report.consumer}` },
          consumer: { S: report.consumer },
          keyId: { S: report.keyId },
          reportedAt: { S: report.at.toISOString() },
          [USAGE_KEYS.ttl]: { N: String(Math.ceil((report.at.getTime() + ttlMs) / 1000)) },
        },
      }),
    );
  }

  /**
   * The reports of `credential` that name key `keyId` (the consumers that said they held it): one
   * Query of the items whose sort key starts with the key id, one page. A page reads at most 1 MB:
   * a partition flooded with items for that key answers `truncated`, which the monitor takes as
   * "held" (bounded, as any report, by the in-use limit); items for other keys are not read at all.
   * A report dated more than a few minutes ahead (FUTURE_SKEW_MS) is not believed.
   */
  async holding(
    credential: string,
    keyId: string,
    now: Date,
  ): Promise<{ reports: UsageReport[]; truncated: boolean }> {
    const page = await this.#client.send(
      new QueryCommand({
        TableName: this.#table,
        KeyConditionExpression: "#credential = :credential AND begins_with(#holding, :key)",
        ExpressionAttributeNames: { "#credential": USAGE_KEYS.partition, "#holding": USAGE_KEYS.sort },
        ExpressionAttributeValues: { ":credential": { S: credential }, ":key": { S: `${keyId}#` } },
      }),
    );
    const reports = (page.Items ?? [])
      .map((item) => reportOf(credential, item))
      .filter(
        (report): report is UsageReport =>
          report?.keyId === keyId && report.reportedAt.getTime() <= now.getTime() + FUTURE_SKEW_MS,
      );
    return { reports, truncated: page.LastEvaluatedKey !== undefined };
  }
}

function reportOf(credential: string, item: Record<string, AttributeValue>): UsageReport | undefined {
  const consumer = item.consumer?.S;
  const keyId = item.keyId?.S;
  const reportedAt = new Date(item.reportedAt?.S ?? "");
  if (!consumer || !keyId || Number.isNaN(reportedAt.getTime())) return undefined;
  // The key id as written: it is compared, never shown. A consumer name is shown in events only
  // when it looks like a name (CONSUMER_NAME).
  return {
    credential,
    consumer: CONSUMER_NAME.test(consumer) ? consumer : UNNAMED_CONSUMER,
    keyId,
    reportedAt,
  };
}

/** Creates a usage table as the stack declares it (infra/keyturn-usage.ts): for moto, the sandbox and the bench. */
export async function createUsageTable(client: DynamoDBClient, table: string): Promise<void> {
  await client.send(
    new CreateTableCommand({
      TableName: table,
      AttributeDefinitions: [
        { AttributeName: USAGE_KEYS.partition, AttributeType: "S" },
        { AttributeName: USAGE_KEYS.sort, AttributeType: "S" },
      ],
      KeySchema: [
        { AttributeName: USAGE_KEYS.partition, KeyType: "HASH" },
        { AttributeName: USAGE_KEYS.sort, KeyType: "RANGE" },
      ],
      BillingMode: "PAY_PER_REQUEST",
    }),
  );
}
