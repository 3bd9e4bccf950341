// The monitor's sweep decides from ListSecrets pages alone: a page of 100 credentials costs one
// call and no secret value is read. 500 credentials here; `npm run bench` sweeps 10,000 and
// times it.

import { CreateSecretCommand } from "@aws-sdk/client-secrets-manager";
import { beforeAll, expect, test } from "vitest";
import { EventPublisher } from "#aws/event-publisher.ts";
import { FailureStreaks } from "#aws/failure-streaks.ts";
import { KeyRecords } from "#aws/record-store.ts";
import { SecretStore } from "#aws/secret-store.ts";
import { PinnedCredentials } from "#engine/pinned.ts";
import { Tag } from "#engine/settings.ts";
import { createMonitorHandler } from "#handlers/monitor.ts";
import { pinnedFromTags } from "#sandbox/pin-from-tags.ts";
import { type IsolatedAws, isolatedAws } from "../support/aws.ts";
import { captureOutput } from "../support/leak-guard.ts";

const CREDENTIALS = 500;
const NOW = new Date("2026-11-22T10:00:00Z");

let aws: IsolatedAws;
/** What a deployment of a config listing these credentials pins. */
const pinned = new PinnedCredentials();
const calls = new Map<string, number>();

beforeAll(async () => {
  aws = isolatedAws();
  const tags = (i: number) => ({
    [Tag.provider]: "immuta-request",
    [Tag.credential]: `keyturn/scale-${i}`,
    [Tag.keyId]: `key-${i}`,
    [Tag.expiresAt]: "2027-06-01T00:00:00.000Z",
    [Tag.reconciledAt]: NOW.toISOString(),
  });
  let next = 0;
  const worker = async () => {
    while (next < CREDENTIALS) {
      const i = next++;
      const credential = pinnedFromTags(`keyturn/scale-${i}`, "{}", tags(i));
      if (credential) pinned.pin(credential);
      await aws.secretsManager.send(
        new CreateSecretCommand({
          Name: `keyturn/scale-${i}`,
          SecretString: "{}",
          Tags: Object.entries(tags(i)).map(([Key, Value]) => ({ Key, Value })),
        }),
      );
    }
  };
  // One at a time: moto's secret store is not thread-safe (concurrent CreateSecret calls fail with
  // "dictionary changed size during iteration" once it holds a few thousand secrets).
  await worker();
  aws.secretsManager.middlewareStack.add(
    (nextHandler, context) => async (args) => {
      const name = context.commandName ?? "?";
      calls.set(name, (calls.get(name) ?? 0) + 1);
      return nextHandler(args);
    },
    { step: "initialize" },
  );
});

test("a sweep over 500 credentials with nothing due makes at most 6 ListSecrets calls and reads no value", async () => {
  const output = captureOutput();
  const monitor = createMonitorHandler({
    // Nothing is due: the records are never read.
    records: new KeyRecords(aws.dynamodb, "keyturn-records"),
    failureStreaks: new FailureStreaks(aws.dynamodb, "keyturn-records"),
    store: new SecretStore(aws.secretsManager),
    pinned,
    publisher: new EventPublisher(aws.eventBridge, "keyturn"),
    now: () => NOW,
    rotate: async () => {
      throw new Error("no rotation is due in this sweep");
    },
    orphanSafetyMarginMs: 3_600_000,
    reconcileIntervalMs: 6 * 3_600_000,
    stuckAfterMs: 6 * 3_600_000,
    http: { endpointOverride: "http://127.0.0.1:9" },
  });

  const report = await monitor(
    {},
    { getRemainingTimeInMillis: () => 900_000, awsRequestId: "scale" },
  ).finally(() => output.restore());

  expect(report.credentials).toBe(CREDENTIALS);
  expect(report.failures).toEqual([]);
  expect(calls.get("ListSecretsCommand")).toBeLessThanOrEqual(CREDENTIALS / 100 + 1);
  expect(report.listCalls).toBe(calls.get("ListSecretsCommand"));
  expect(calls.get("GetSecretValueCommand") ?? 0).toBe(0);
  expect([...calls.keys()]).toEqual(["ListSecretsCommand"]);
});
