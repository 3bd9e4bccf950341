// The synthesized rules at work: each event pattern is read from the template `cdk synth`
// produces, installed in moto's EventBridge, and fed real events, so that a pattern that
// matches too much or too little fails here rather than in an inbox. moto has no SNS or Lambda
// targets, so an SQS queue stands in for each rule's target: what reaches the queue is what
// EventBridge would hand the topic or the relay.

import {
  CreateEventBusCommand,
  PutEventsCommand,
  PutRuleCommand,
  PutTargetsCommand,
} from "@aws-sdk/client-eventbridge";
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
} from "@aws-sdk/client-sqs";
import { beforeAll, describe, expect, test } from "vitest";
import { EventPublisher } from "#aws/event-publisher.ts";
import {
  type CredentialRef,
  credentialExpired,
  credentialRevoked,
  credentialRotated,
  type Severity,
} from "#engine/events.ts";
import type { ReceivedEvent } from "#sandbox/event-subscriber.ts";
import { SEVERITIES } from "../../infra/keyturn-alerts.ts";
import { type IsolatedAws, isolatedAws } from "../support/aws.ts";
import { eventProblems } from "../support/event-schemas.ts";
import { resourceProperties, type Synthesized, synthesize } from "./synthesize.ts";

let synthesized: Synthesized;

beforeAll(() => {
  synthesized = synthesize({}, { bundle: false });
});

/** A rule's event pattern as the template has it, refused if CloudFormation would still resolve part of it. */
function eventPatternOf(ruleId: string): string {
  const pattern = JSON.stringify(resourceProperties(synthesized.template, ruleId).EventPattern);
  if (/"(Ref|Fn::[A-Za-z]+)"/.test(pattern))
    throw new Error(`The pattern of ${ruleId} is not literal: ${pattern}`);
  return pattern;
}

interface StandInTarget {
  arn: string;
  /** Every event delivered so far, removing them from the queue. */
  drain(): Promise<ReceivedEvent[]>;
}

async function standInTarget(aws: IsolatedAws, name: string): Promise<StandInTarget> {
  const { QueueUrl } = await aws.sqs.send(new CreateQueueCommand({ QueueName: name }));
  const queueUrl = QueueUrl as string;
  const { Attributes } = await aws.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ["QueueArn"] }),
  );
  return {
    arn: Attributes?.QueueArn as string,
    async drain() {
      const events: ReceivedEvent[] = [];
      for (;;) {
        const { Messages = [] } = await aws.sqs.send(
          new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
        );
        if (Messages.length === 0) return events;
        events.push(...Messages.map((message) => JSON.parse(message.Body ?? "{}") as ReceivedEvent));
        await aws.sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: queueUrl,
            Entries: Messages.map((message, index) => ({
              Id: String(index),
              ReceiptHandle: message.ReceiptHandle,
            })),
          }),
        );
      }
    },
  };
}

/** Installs a synthesized rule on a moto bus (the default bus when busName is undefined), its target a stand-in queue. */
async function installRule(
  aws: IsolatedAws,
  ruleId: string,
  { name, busName }: { name: string; busName?: string },
): Promise<StandInTarget> {
  const target = await standInTarget(aws, name);
  await aws.eventBridge.send(
    new PutRuleCommand({ Name: name, EventBusName: busName, EventPattern: eventPatternOf(ruleId) }),
  );
  await aws.eventBridge.send(
    new PutTargetsCommand({
      Rule: name,
      EventBusName: busName,
      Targets: [{ Id: "stand-in", Arn: target.arn }],
    }),
  );
  return target;
}

describe("the alert rules", () => {
  let aws: IsolatedAws;
  let publisher: EventPublisher;
  let topics: Record<Severity, StandInTarget>;

  beforeAll(async () => {
    aws = isolatedAws();
    const busName = resourceProperties(synthesized.template, synthesized.busId).Name as string;
    await aws.eventBridge.send(new CreateEventBusCommand({ Name: busName }));
    const installed = await Promise.all(
      SEVERITIES.map((severity) =>
        installRule(aws, synthesized.alertRuleIds[severity], { name: `alerts-${severity}`, busName }),
      ),
    );
    topics = Object.fromEntries(SEVERITIES.map((severity, index) => [severity, installed[index]])) as Record<
      Severity,
      StandInTarget
    >;
    publisher = new EventPublisher(aws.eventBridge, busName);
  });

  const ref: CredentialRef = {
    credential: "keyturn/immuta/reporting",
    provider: "immuta-request",
    secretArn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:keyturn/immuta/reporting-AbCdEf",
  };

  /** Publishes one event and answers the detail types each severity's topic received. */
  async function deliver(event: Parameters<EventPublisher["publish"]>[0][number]) {
    await publisher.publish([event]);
    const received = await Promise.all(SEVERITIES.map((severity) => topics[severity].drain()));
    return {
      bySeverity: Object.fromEntries(
        SEVERITIES.map((severity, index) => [severity, (received[index] ?? []).map((e) => e["detail-type"])]),
      ),
      problems: received.flat().flatMap(eventProblems),
    };
  }

  test("send a Credential Rotated (info) to the info topic only, valid against its schema", async () => {
    const delivered = await deliver(
      credentialRotated(ref, {
        versionId: "v2",
        keyId: "key-2",
        previousKeyId: "key-1",
        expiresAt: null,
        revokeAfter: "2030-01-02T00:00:00.000Z",
      }),
    );

    expect(delivered.bySeverity).toEqual({ info: ["Credential Rotated"], warning: [], critical: [] });
    expect(delivered.problems).toEqual([]);
  });

  test("send a Credential Revoked of an orphan (warning) to the warning topic only, valid against its schema", async () => {
    const delivered = await deliver(
      credentialRevoked(ref, { keyId: "key-lost", reason: "orphan", strength: "hard", outcome: "revoked" }),
    );

    expect(delivered.bySeverity).toEqual({ info: [], warning: ["Credential Revoked"], critical: [] });
    expect(delivered.problems).toEqual([]);
  });

  test("send a Credential Expired (critical) to the critical topic only, valid against its schema", async () => {
    const delivered = await deliver(
      credentialExpired(ref, { keyId: "key-2", expiresAt: "2030-01-01T00:00:00.000Z" }),
    );

    expect(delivered.bySeverity).toEqual({ info: [], warning: [], critical: ["Credential Expired"] });
    expect(delivered.problems).toEqual([]);
  });

  test("send nothing from another source, even with a severity", async () => {
    await aws.eventBridge.send(
      new PutEventsCommand({
        Entries: [
          {
            EventBusName: publisher.busName,
            Source: "leak-scanner",
            DetailType: "Revoke Requested",
            Detail: JSON.stringify({
              credential: "keyturn/immuta/reporting",
              reason: "leaked",
              severity: "critical",
            }),
          },
        ],
      }),
    );

    const received = await Promise.all(SEVERITIES.map((severity) => topics[severity].drain()));

    expect(received.flat()).toEqual([]);
  });
});

describe("the relay rule", () => {
  let aws: IsolatedAws;
  let relay: StandInTarget;

  beforeAll(async () => {
    aws = isolatedAws();
    relay = await installRule(aws, synthesized.relayRuleId, { name: "relay" });
  });

  /**
   * A Secrets Manager CloudTrail service event on the default bus. Real EventBridge refuses
   * PutEvents with an aws.* source; moto accepts it, which is what lets the pattern be tried here.
   */
  async function putServiceEvent(eventName: string, detailType = "AWS Service Event via CloudTrail") {
    await aws.eventBridge.send(
      new PutEventsCommand({
        Entries: [
          {
            Source: "aws.secretsmanager",
            DetailType: detailType,
            Detail: JSON.stringify({
              eventVersion: "1.08",
              eventSource: "secretsmanager.amazonaws.com",
              eventName,
              eventType: "AwsServiceEvent",
              additionalEventData: {
                SecretId: `arn:aws:secretsmanager:us-east-1:${aws.accountId}:secret:keyturn/immuta/reporting-AbCdEf`,
              },
            }),
          },
        ],
      }),
    );
  }

  test.each(["RotationFailed", "RotationAbandoned"])("matches Secrets Manager's %s", async (eventName) => {
    await putServiceEvent(eventName);

    const received = await relay.drain();

    expect(received.map((event) => event.detail.eventName)).toEqual([eventName]);
  });

  test.each(["RotationSucceeded", "RotationStarted"])(
    "does not match Secrets Manager's %s",
    async (eventName) => {
      await putServiceEvent(eventName);

      expect(await relay.drain()).toEqual([]);
    },
  );

  test("does not match an API call via CloudTrail that happens to carry the name", async () => {
    await putServiceEvent("RotationFailed", "AWS API Call via CloudTrail");

    expect(await relay.drain()).toEqual([]);
  });
});

describe("the revoke rule", () => {
  let aws: IsolatedAws;
  let revoke: StandInTarget;

  beforeAll(async () => {
    const withRequesters = synthesize(
      {
        revokeRequesters: {
          principals: ["arn:aws:iam::123456789012:role/leak-scanner"],
          sources: ["my.leak-scanner"],
        },
      },
      { bundle: false },
    );
    aws = isolatedAws();
    const pattern = JSON.stringify(
      resourceProperties(withRequesters.template, withRequesters.revokeRuleId as string).EventPattern,
    );
    const target = await standInTarget(aws, "revoke");
    await aws.eventBridge.send(new PutRuleCommand({ Name: "revoke", EventPattern: pattern }));
    await aws.eventBridge.send(
      new PutTargetsCommand({ Rule: "revoke", Targets: [{ Id: "stand-in", Arn: target.arn }] }),
    );
    revoke = target;
  });

  async function putRequest(source: string, detailType = "Revoke Requested") {
    await aws.eventBridge.send(
      new PutEventsCommand({
        Entries: [
          {
            Source: source,
            DetailType: detailType,
            Detail: JSON.stringify({
              credential: "keyturn/immuta/reporting",
              keyId: "k-1",
              reason: "leaked",
            }),
          },
        ],
      }),
    );
  }

  test("runs the revoke for a Revoke Requested of a configured requester's source", async () => {
    await putRequest("my.leak-scanner");

    expect((await revoke.drain()).map((event) => event.source)).toEqual(["my.leak-scanner"]);
  });

  test.each(["leak-scanner", "keyturn", "my.leak-scanner.fake"])(
    "does not run it for a Revoke Requested from another source: %s",
    async (source) => {
      await putRequest(source);

      expect(await revoke.drain()).toEqual([]);
    },
  );

  test("does not run it for another detail type from the configured source", async () => {
    await putRequest("my.leak-scanner", "Credential Rotated");

    expect(await revoke.drain()).toEqual([]);
  });
});
