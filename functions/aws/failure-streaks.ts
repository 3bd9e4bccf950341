// How long each sweep action of a credential has kept failing (issue 15), kept in keyturn's
// records table under items of their own ("#failing/<action>/<credential>", beside the
// credentials' records, which the departures scan skips): a failure is a warning at first and
// critical once its streak is older than the escalation time. A streak is a run of failures no
// further apart than that time: no write is needed when the action succeeds again, and a
// failure long after the last one starts a new streak.

import { type DynamoDBClient, GetItemCommand, PutItemCommand, paginateScan } from "@aws-sdk/client-dynamodb";

const PREFIX = "#failing/";

/** One credential's action that failed: since when, last when, and the last error's message. */
export interface FailureStreak {
  credential: string;
  action: string;
  since: Date;
  last: Date;
  /** The last failure's message, redacted by the monitor and bounded here. */
  error: string;
}

export class FailureStreaks {
  readonly #client: DynamoDBClient;
  readonly #table: string;

  constructor(client: DynamoDBClient, table: string) {
    this.#client = client;
    this.#table = table;
  }

  /** Records a failure at `now`; answers since when the action has kept failing. */
  async failed(credential: string, action: string, now: Date, windowMs: number, error = ""): Promise<Date> {
    const key = { credential: { S: `${PREFIX}${action}/${credential}` } };
    const answer = await this.#client.send(
      new GetItemCommand({ TableName: this.#table, Key: key, ConsistentRead: true }),
    );
    const since = Number(answer.Item?.since?.N);
    const last = Number(answer.Item?.last?.N);
    const ongoing = Number.isFinite(since) && Number.isFinite(last) && now.getTime() - last <= windowMs;
    const start = ongoing ? since : now.getTime();
    await this.#client.send(
      new PutItemCommand({
        TableName: this.#table,
        Item: {
          ...key,
          since: { N: String(start) },
          last: { N: String(now.getTime()) },
          error: { S: error.slice(0, 500) },
        },
      }),
    );
    return new Date(start);
  }

  /** Every credential's failure streaks (a Scan of their items alone), for `keyturn status`. */
  async *all(): AsyncIterable<FailureStreak[]> {
    const pages = paginateScan(
      { client: this.#client },
      {
        TableName: this.#table,
        FilterExpression: "begins_with(#credential, :prefix)",
        ExpressionAttributeNames: { "#credential": "credential" },
        ExpressionAttributeValues: { ":prefix": { S: PREFIX } },
      },
    );
    for await (const page of pages) {
      const streaks: FailureStreak[] = [];
      for (const item of page.Items ?? []) {
        const match = /^#failing\/([^/]+)\/(.+)$/.exec(item.credential?.S ?? "");
        const since = Number(item.since?.N);
        const last = Number(item.last?.N);
        if (!match?.[1] || !match[2] || !Number.isFinite(since) || !Number.isFinite(last)) continue;
        streaks.push({
          credential: match[2],
          action: match[1],
          since: new Date(since),
          last: new Date(last),
          error: item.error?.S ?? "",
        });
      }
      yield streaks;
    }
  }
}
