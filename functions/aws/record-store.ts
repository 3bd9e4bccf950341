// keyturn's own records (README "Security model"), in the stack's records table, which only
// keyturn's functions may write: for each credential, every key id keyturn itself stored as its
// key (a successor it minted, a key handed over and verified, or the key it first found current
// when it began to manage the credential). A key keyturn revokes must be in its credential's
// record: a secret's tags and value, which others can write, can name a key, never make it one
// keyturn may revoke.

import { type DynamoDBClient, GetItemCommand, UpdateItemCommand } from "@aws-sdk/client-dynamodb";

export class KeyRecords {
  readonly #client: DynamoDBClient;
  readonly #table: string;

  constructor(client: DynamoDBClient, table: string) {
    this.#client = client;
    this.#table = table;
  }

  /** The key ids recorded for the credential (its secret name); undefined when it has no record yet. */
  async keysOf(credential: string): Promise<Set<string> | undefined> {
    const answer = await this.#client.send(
      new GetItemCommand({
        TableName: this.#table,
        Key: { credential: { S: credential } },
        ConsistentRead: true,
      }),
    );
    if (!answer.Item) return undefined;
    return new Set(answer.Item.keys?.SS ?? []);
  }

  /** Adds key ids to the credential's record, creating it when it has none (idempotent). */
  async addKeys(credential: string, keyIds: readonly string[]): Promise<void> {
    if (keyIds.length === 0) return;
    await this.#client.send(
      new UpdateItemCommand({
        TableName: this.#table,
        Key: { credential: { S: credential } },
        UpdateExpression: "ADD #keys :keys",
        ExpressionAttributeNames: { "#keys": "keys" },
        ExpressionAttributeValues: { ":keys": { SS: [...new Set(keyIds)] } },
      }),
    );
  }
}
