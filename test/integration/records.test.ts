// keyturn's records (functions/aws/record-store.ts) against DynamoDB (moto): the key ids keyturn
// stored for each credential, added idempotently, never lost by a second writer.
import { CreateTableCommand } from "@aws-sdk/client-dynamodb";
import { beforeEach, expect, test } from "vitest";
import { KeyRecords } from "#aws/record-store.ts";
import { type IsolatedAws, isolatedAws } from "../support/aws.ts";

let aws: IsolatedAws;
let records: KeyRecords;

beforeEach(async () => {
  aws = isolatedAws();
  await aws.dynamodb.send(
    new CreateTableCommand({
      TableName: "records",
      AttributeDefinitions: [{ AttributeName: "credential", AttributeType: "S" }],
      KeySchema: [{ AttributeName: "credential", KeyType: "HASH" }],
      BillingMode: "PAY_PER_REQUEST",
    }),
  );
  records = new KeyRecords(aws.dynamodb, "records");
});

test("a credential keyturn never stored a key for has no record, which is not an empty one", async () => {
  expect(await records.keysOf("keyturn/never")).toBeUndefined();
});

test("keys are added, twice without harm, and two writers at once both land", async () => {
  await records.addKeys("keyturn/a", ["k1"]);
  await records.addKeys("keyturn/a", ["k1", "k2"]);
  await Promise.all([records.addKeys("keyturn/a", ["k3"]), records.addKeys("keyturn/a", ["k4"])]);

  expect([...((await records.keysOf("keyturn/a")) ?? [])].sort()).toEqual(["k1", "k2", "k3", "k4"]);
  expect(await records.keysOf("keyturn/b")).toBeUndefined();
});
