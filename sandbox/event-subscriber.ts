// A subscriber to keyturn's bus, as a user would attach one: a rule matching every keyturn
// event, delivering to an SQS queue (moto runs SQS targets; it has no Lambda or SNS targets).
// Tests and the demo count and validate events as this subscriber receives them.

import {
  CreateEventBusCommand,
  type EventBridgeClient,
  PutRuleCommand,
  PutTargetsCommand,
} from "@aws-sdk/client-eventbridge";
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { EVENT_SOURCE } from "#aws/event-publisher.ts";
import { transcript } from "./transcript.ts";

export interface ReceivedEvent {
  "detail-type": string;
  source: string;
  resources?: string[];
  detail: Record<string, unknown>;
}

export interface EventSubscriber {
  busName: string;
  queueUrl: string;
  /** Every event delivered since the last call, oldest first as far as SQS keeps order. */
  drain(): Promise<ReceivedEvent[]>;
}

/** Every message in an SQS queue that EventBridge delivers to, parsed and deleted, oldest first as far as SQS keeps order. */
export async function drainQueue(sqs: SQSClient, queueUrl: string): Promise<ReceivedEvent[]> {
  const events: ReceivedEvent[] = [];
  for (;;) {
    const batch = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
    );
    const messages = batch.Messages ?? [];
    if (messages.length === 0) {
      transcript.text(JSON.stringify(events));
      return events;
    }
    for (const message of messages) events.push(JSON.parse(message.Body ?? "{}") as ReceivedEvent);
    await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
      }),
    );
  }
}

/** An SQS queue and its ARN, for a rule's target. */
export async function createTargetQueue(sqs: SQSClient, name: string): Promise<{ url: string; arn: string }> {
  const queue = await sqs.send(new CreateQueueCommand({ QueueName: name }));
  const url = queue.QueueUrl as string;
  const attributes = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["QueueArn"] }),
  );
  return { url, arn: attributes.Attributes?.QueueArn as string };
}

/**
 * Attaches the subscriber to `busName`, creating the bus first unless `busExists` (the sandbox's
 * provisioning creates it as the stack does).
 */
export async function subscribeToBus(
  clients: { eventBridge: EventBridgeClient; sqs: SQSClient },
  busName: string,
  options: { busExists?: boolean } = {},
): Promise<EventSubscriber> {
  if (!options.busExists) await clients.eventBridge.send(new CreateEventBusCommand({ Name: busName }));
  const queue = await createTargetQueue(clients.sqs, `${busName}-subscriber`);
  const ruleName = `${busName}-all-events`;
  await clients.eventBridge.send(
    new PutRuleCommand({
      Name: ruleName,
      EventBusName: busName,
      EventPattern: JSON.stringify({ source: [EVENT_SOURCE] }),
    }),
  );
  await clients.eventBridge.send(
    new PutTargetsCommand({
      Rule: ruleName,
      EventBusName: busName,
      Targets: [{ Id: "subscriber", Arn: queue.arn }],
    }),
  );
  return {
    busName,
    queueUrl: queue.url,
    drain: () => drainQueue(clients.sqs, queue.url),
  };
}
