// How long each sweep action of a credential has kept failing (issue 15), kept in keyturn's
// records table under items of their own ("#failing/<action>/<credential>", beside the
// credentials' records, which the departures scan skips): a failure is a warning at first and
// critical once its streak is older than the escalation time. A streak is a run of failures no
// further apart than that time: no write is needed when the action succeeds again, and a
// failure long after the last one starts a new streak.

import { type DynamoDBClient, GetItemCommand, PutItemCommand } from "@aws-sdk/client-dynamodb";

export class FailureStreaks {
  readonly #client: DynamoDBClient;
  readonly #table: string;

  constructor(client: DynamoDBClient, table: string) {
    this.#client = client;
    this.#table = table;
  }

  /** Records a failure at `now`; answers since when the action has kept failing. */
  async failed(credential: string, action: string, now: Date, windowMs: number): Promise<Date> {
    const key = { credential: { S: `#failing/${action}/${credential}` } };
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
        Item: { ...key, since: { N: String(start) }, last: { N: String(now.getTime()) } },
      }),
    );
    return new Date(start);
  }
}
