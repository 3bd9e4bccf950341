// Publishing to EventBridge: batches of at most 10, failed entries sent again, none dropped.

import type { PutEventsCommand } from "@aws-sdk/client-eventbridge";
import { describe, expect, test } from "vitest";
import { EventPublishError, EventPublisher } from "#aws/event-publisher.ts";
import { credentialRevoked } from "#engine/events.ts";
import { subscribeToBus } from "#sandbox/event-subscriber.ts";
import { isolatedAws } from "../support/aws.ts";

const ref = {
  credential: "keyturn/example",
  provider: "immuta-request" as const,
  secretArn: "arn:aws:secretsmanager:us-east-1:1:secret:x",
};
const events = (n: number) =>
  Array.from({ length: n }, (_, i) =>
    credentialRevoked(ref, { keyId: `key-${i}`, reason: "orphan", strength: "hard", outcome: "revoked" }),
  );

describe("the event publisher", () => {
  test("25 events reach a subscriber of the bus, in calls of at most 10 entries", async () => {
    const aws = isolatedAws();
    const subscriber = await subscribeToBus(aws, "keyturn");
    const batchSizes: number[] = [];
    aws.eventBridge.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === "PutEventsCommand") {
          batchSizes.push((args.input as { Entries: unknown[] }).Entries.length);
        }
        return next(args);
      },
      { step: "initialize" },
    );

    await new EventPublisher(aws.eventBridge, "keyturn").publish(events(25));

    const received = await subscriber.drain();
    expect(batchSizes).toEqual([10, 10, 5]);
    expect(received.map((e) => e.detail.keyId).sort()).toEqual(
      events(25)
        .map((e) => (e.detail as { keyId: string }).keyId)
        .sort(),
    );
  });

  // moto never reports a partial PutEvents failure, so this client answers the way
  // EventBridge does when it throttles some entries of a call: FailedEntryCount and an
  // ErrorCode on those entries, without throwing.
  function flakyEventBridge(failFirstAttemptOf: Set<string>, alwaysFail = new Set<string>()) {
    const calls: string[][] = [];
    const delivered: string[] = [];
    const seen = new Set<string>();
    const client = {
      async send(command: PutEventsCommand) {
        const entries = command.input.Entries ?? [];
        const ids = entries.map((entry) => JSON.parse(entry.Detail ?? "{}").keyId as string);
        calls.push(ids);
        const results = ids.map((id) => {
          const fail = alwaysFail.has(id) || (failFirstAttemptOf.has(id) && !seen.has(id));
          seen.add(id);
          if (fail) return { ErrorCode: "ThrottlingException", ErrorMessage: "Rate exceeded" };
          delivered.push(id);
          return { EventId: `event-${id}` };
        });
        return { FailedEntryCount: results.filter((r) => "ErrorCode" in r).length, Entries: results };
      },
    };
    return { client: client as never, calls, delivered };
  }

  test("entries EventBridge reports as failed are sent again until delivered", async () => {
    const flaky = flakyEventBridge(new Set(["key-2", "key-11", "key-24"]));

    await new EventPublisher(flaky.client, "keyturn").publish(events(25));

    expect(flaky.delivered.sort()).toEqual(
      events(25)
        .map((e) => (e.detail as { keyId: string }).keyId)
        .sort(),
    );
    expect(flaky.calls.map((c) => c.length)).toEqual([10, 10, 5, 3]);
    expect(flaky.calls[3]).toEqual(["key-2", "key-11", "key-24"]);
  });

  test("an entry that keeps failing is an error naming its detail type, never dropped silently", async () => {
    const flaky = flakyEventBridge(new Set(), new Set(["key-4"]));

    const failure = await new EventPublisher(flaky.client, "keyturn", { maxAttempts: 3 })
      .publish(events(12))
      .catch((e: unknown) => e);

    expect(failure).toBeInstanceOf(EventPublishError);
    expect(String(failure)).toMatch(
      /1 event\(s\) could not be published.*Credential Revoked: ThrottlingException/,
    );
    expect(flaky.delivered).toHaveLength(11);
    expect(flaky.calls.filter((c) => c.includes("key-4"))).toHaveLength(3);
  });
});
