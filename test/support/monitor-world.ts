// What the tests that drive the monitor handler directly share (the due index, the fan-out, the
// slow vendor, the sweep queue's fence): the world's records table with the due index the stack
// gives it, and the world's monitor handler as the stack wires it, with the test's overrides.

import { CreateTableCommand, DeleteTableCommand, type DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { EventPublisher } from "#aws/event-publisher.ts";
import { FailureStreaks } from "#aws/failure-streaks.ts";
import { DUE_INDEX_DEFINITION, KeyRecords } from "#aws/record-store.ts";
import { Tag } from "#engine/settings.ts";
import { createMonitorHandler, type MonitorHandlerDeps } from "#handlers/monitor.ts";
import { RECORDS_TABLE } from "#sandbox/local-keyturn.ts";
import type { IncortaSimulator } from "#sandbox/simulators/incorta.ts";
import { BUS_NAME, HOUR, type World } from "./world.ts";

/** The world's records table again, with the due index the stack gives it (it is still empty). */
export async function withDueIndex(dynamodb: DynamoDBClient): Promise<void> {
  await dynamodb.send(new DeleteTableCommand({ TableName: RECORDS_TABLE }));
  await dynamodb.send(
    new CreateTableCommand({
      TableName: RECORDS_TABLE,
      AttributeDefinitions: [
        { AttributeName: "credential", AttributeType: "S" },
        ...DUE_INDEX_DEFINITION.attributes,
      ],
      KeySchema: [{ AttributeName: "credential", KeyType: "HASH" }],
      GlobalSecondaryIndexes: [
        { ...DUE_INDEX_DEFINITION.index, KeySchema: [...DUE_INDEX_DEFINITION.index.KeySchema] },
      ],
      BillingMode: "PAY_PER_REQUEST",
    }),
  );
}

/**
 * The world's monitor handler: its clients, clock and vendor hub, a 6-hour reconcile interval and
 * stuck-rotation time, an hour's orphan margin, an HTTP client that retries at once; no early
 * rotation unless `overrides.rotate` says what one does. `overrides` replace any of it.
 */
export function worldMonitor(world: World, overrides: Partial<MonitorHandlerDeps> = {}) {
  return createMonitorHandler({
    store: world.store,
    records: new KeyRecords(world.aws.dynamodb, RECORDS_TABLE),
    failureStreaks: new FailureStreaks(world.aws.dynamodb, RECORDS_TABLE),
    pinned: world.pinned,
    publisher: new EventPublisher(world.aws.eventBridge, BUS_NAME),
    now: () => new Date(world.clock.now()),
    rotate: async () => {
      throw new Error("no early rotation in this test");
    },
    orphanSafetyMarginMs: HOUR,
    reconcileIntervalMs: 6 * HOUR,
    stuckAfterMs: 6 * HOUR,
    ...overrides,
    http: {
      endpointOverride: world.hub.url,
      timeoutMs: 1_000,
      retryBaseMs: 1,
      retryMaxMs: 10,
      sleep: async () => {},
      ...overrides.http,
    },
  });
}

/**
 * An Incorta v2 PAT of the user etl.bot<i> in the analytics tenant of `cluster`, expiring at
 * `expiresAt`, stored as keyturn put stores one (its key recorded): a manual credential whose
 * checks call no vendor until a person acts, due only for its expiry notices.
 */
export async function storeIncortaPat(
  world: World,
  incorta: IncortaSimulator,
  pat: { cluster: string; name: string; i: number; expiresAt: Date },
): Promise<string> {
  const { cluster, name, i, expiresAt } = pat;
  const issued = incorta.createPat(cluster, "analytics", `etl.bot${i}`, { name: `etl-${i}`, expiresAt });
  await world.createSecret(
    name,
    {
      provider: "incorta-v2",
      clusterUrl: `https://${cluster}/incorta`,
      tenantName: "analytics",
      token: issued.token,
      keyId: `etl-${i}`,
      expiresAt: expiresAt.toISOString(),
    },
    { [Tag.provider]: "incorta-v2", [Tag.credential]: name },
  );
  return name;
}
