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

// The previous keys (issue 13, case 6): keyturn's own bookkeeping, moved on by conditional writes.
const LATER = "2026-12-01T10:00:00.000Z";

test("a previous key is tracked only if keyturn stored it, each with its own state, every one kept", async () => {
  await records.addKeys("keyturn/a", ["k1", "k2", "k3"]);

  expect(await records.trackPrevious("keyturn/a", "k-foreign", LATER)).toBe(false);
  expect(await records.trackPrevious("keyturn/a", "k1", LATER)).toBe(true);
  expect(await records.trackPrevious("keyturn/a", "k2", "2026-12-02T10:00:00.000Z")).toBe(true);
  expect(await records.trackPrevious("keyturn/nobody", "k1", LATER)).toBe(false);

  const record = await records.get("keyturn/a");
  expect(record?.ledger).toBe(true);
  expect(record?.previous).toEqual([
    { keyId: "k1", state: "active", revokeAfter: LATER, deleteAfter: undefined, postponements: 0 },
    {
      keyId: "k2",
      state: "active",
      revokeAfter: "2026-12-02T10:00:00.000Z",
      deleteAfter: undefined,
      postponements: 0,
    },
  ]);
  expect(await records.get("keyturn/nobody")).toBeUndefined();
});

test("a decision made from a state another writer has since changed loses, and the newer decision stands", async () => {
  await records.addKeys("keyturn/a", ["k1"]);
  await records.trackPrevious("keyturn/a", "k1", LATER);
  // Two sweeps read the key active; the first disables it.
  const disabled = await records.movePrevious(
    "keyturn/a",
    "k1",
    { states: ["active"] },
    { state: "disabled", deleteAfter: "2026-12-08T10:00:00.000Z" },
  );
  // The second, stale, would record it revoked (or postponed) from "active".
  const stale = await records.movePrevious("keyturn/a", "k1", { states: ["active"] }, { state: "revoked" });
  const stalePostponement = await records.movePrevious(
    "keyturn/a",
    "k1",
    { states: ["active"], postponements: 0 },
    { state: "active", postponements: 1 },
  );

  expect([disabled, stale, stalePostponement]).toEqual([true, false, false]);
  expect((await records.get("keyturn/a"))?.previous).toEqual([
    {
      keyId: "k1",
      state: "disabled",
      revokeAfter: LATER,
      deleteAfter: "2026-12-08T10:00:00.000Z",
      postponements: 0,
    },
  ]);
  // A rotation cannot restart the revocation of a key already being revoked.
  expect(await records.trackPrevious("keyturn/a", "k1", "2026-12-31T00:00:00.000Z")).toBe(false);
  // A key keyturn never tracked cannot be moved at all.
  expect(await records.movePrevious("keyturn/a", "k9", { states: ["active"] }, { state: "revoked" })).toBe(
    false,
  );
});

test("two sweeps postponing from the same count at once: one postponement is counted, not two", async () => {
  await records.addKeys("keyturn/a", ["k1"]);
  await records.trackPrevious("keyturn/a", "k1", LATER);
  const both = await Promise.all(
    [1, 2].map(() =>
      records.movePrevious(
        "keyturn/a",
        "k1",
        { states: ["active"], postponements: 0 },
        { state: "active", postponements: 1 },
      ),
    ),
  );

  expect(both.filter(Boolean)).toHaveLength(1);
  expect((await records.get("keyturn/a"))?.previous[0]?.postponements).toBe(1);
});

test("a record from before the ledger adopts one previous key once, and only a key it holds", async () => {
  await records.addKeys("keyturn/a", ["k1", "k2"]);
  const entry = {
    keyId: "k1",
    state: "active" as const,
    revokeAfter: LATER,
    deleteAfter: undefined,
    postponements: 0,
  };

  expect(await records.adoptPrevious("keyturn/a", { ...entry, keyId: "k-foreign" })).toBe(false);
  expect(await records.adoptPrevious("keyturn/a", entry)).toBe(true);
  expect(await records.adoptPrevious("keyturn/a", { ...entry, keyId: "k2" })).toBe(false);

  expect((await records.get("keyturn/a"))?.previous.map((previous) => previous.keyId)).toEqual(["k1"]);
});
