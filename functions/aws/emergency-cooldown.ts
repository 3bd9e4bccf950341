// The emergency-revoke cooldown (docs/architecture.md, "Trusted and untrusted input"), kept on
// each credential's item in keyturn's records table, which only keyturn's functions may write:
// when the revoke function last acted on a request from the bus, and for which key. Anyone
// allowed to put a "Revoke Requested" event could otherwise rotate a credential and hard-delete
// its fresh key again and again; inside the cooldown only the key already being revoked may be
// asked for again (a redelivery, or a retry of a run that crashed), which the engine answers
// without rotating twice.

import { UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import { ConditionalTable } from "./conditional-table.ts";

export type CooldownClaim = { held: false } | { held: true; until: Date; keyId: string };

export class EmergencyCooldowns extends ConditionalTable {
  /**
   * Takes the credential's cooldown for `keyId` at `now`, in one conditional write: granted when
   * the last emergency acted on is `periodMs` old or more, or was for the same key. Otherwise
   * answers until when the earlier one holds it, and for which key.
   */
  async claim(credential: string, keyId: string, now: Date, periodMs: number): Promise<CooldownClaim> {
    const outcome = await this.conditionally(
      this.client.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: { credential: { S: credential } },
          UpdateExpression: "SET #at = :now, #key = :key",
          ConditionExpression: "attribute_not_exists(#at) OR #at <= :cutoff OR #key = :key",
          ExpressionAttributeNames: { "#at": "emergencyAt", "#key": "emergencyKeyId" },
          ExpressionAttributeValues: {
            ":now": { N: String(now.getTime()) },
            ":cutoff": { N: String(now.getTime() - periodMs) },
            ":key": { S: keyId },
          },
          ReturnValuesOnConditionCheckFailure: "ALL_OLD",
        }),
      ),
    );
    if (outcome.written) return { held: false };
    const at = Number(outcome.item?.emergencyAt?.N ?? now.getTime());
    return { held: true, until: new Date(at + periodMs), keyId: outcome.item?.emergencyKeyId?.S ?? "" };
  }
}
