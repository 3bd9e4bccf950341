// A DynamoDB table of keyturn's that is written with conditional writes, where a condition that
// fails is an answer (someone else holds the lease, the cooldown is running), not an error. The
// lease table (./lease.ts) and the emergency cooldowns (./emergency-cooldown.ts) build on it.

import {
  type AttributeValue,
  ConditionalCheckFailedException,
  type DynamoDBClient,
} from "@aws-sdk/client-dynamodb";

/**
 * What a conditional write came to: done, or refused by its condition, with the item as it was
 * when the write asked for it (`ReturnValuesOnConditionCheckFailure: "ALL_OLD"`).
 */
export type WriteOutcome =
  | { written: true }
  | { written: false; item: Record<string, AttributeValue> | undefined };

export abstract class ConditionalTable {
  protected readonly client: DynamoDBClient;
  protected readonly table: string;

  constructor(client: DynamoDBClient, table: string) {
    this.client = client;
    this.table = table;
  }

  /** Awaits a conditional PutItem, UpdateItem or DeleteItem: a failed condition is answered, any other failure thrown. */
  protected async conditionally(sent: Promise<unknown>): Promise<WriteOutcome> {
    try {
      await sent;
      return { written: true };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      return { written: false, item: error.Item };
    }
  }
}
