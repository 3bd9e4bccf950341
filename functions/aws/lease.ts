// A lease in DynamoDB: one holder at a time per name, taken with a conditional write (the
// only compare-and-set among the stores keyturn uses), released by its holder, and taken
// over once it has expired, so that a holder that died does not block for ever.
// Used so that two refreshes of one credential never run at once: a refresh invalidates the
// previous token pair, and two at once would leave one of them with a dead pair.

import { DeleteItemCommand, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { ConditionalTable } from "./conditional-table.ts";

export class LeaseTable extends ConditionalTable {
  /** Takes the lease `name` for `holder` until `until`; false when someone else holds a live lease. */
  async acquire(name: string, holder: string, now: Date, until: Date): Promise<boolean> {
    const outcome = await this.conditionally(
      this.client.send(
        new PutItemCommand({
          TableName: this.table,
          Item: {
            lease: { S: name },
            holder: { S: holder },
            // Seconds, so that DynamoDB's TTL also removes abandoned leases.
            expiresAt: { N: String(Math.ceil(until.getTime() / 1000)) },
          },
          ConditionExpression: "attribute_not_exists(lease) OR expiresAt < :now",
          ExpressionAttributeValues: { ":now": { N: String(Math.floor(now.getTime() / 1000)) } },
        }),
      ),
    );
    return outcome.written;
  }

  /** Gives the lease back, if `holder` still holds it (a lease taken over since is left alone). */
  async release(name: string, holder: string): Promise<void> {
    await this.conditionally(
      this.client.send(
        new DeleteItemCommand({
          TableName: this.table,
          Key: { lease: { S: name } },
          ConditionExpression: "holder = :holder",
          ExpressionAttributeValues: { ":holder": { S: holder } },
        }),
      ),
    );
  }
}
