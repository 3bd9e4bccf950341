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

export async function subscribeToBus(
  clients: { eventBridge: EventBridgeClient; sqs: SQSClient },
  busName: string,
): Promise<EventSubscriber> {
  await clients.eventBridge.send(new CreateEventBusCommand({ Name: busName }));
  const queue = await clients.sqs.send(new CreateQueueCommand({ QueueName: `${busName}-subscriber` }));
  const queueUrl = queue.QueueUrl as string;
  const attributes = await clients.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ["QueueArn"] }),
  );
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
      Targets: [{ Id: "subscriber", Arn: attributes.Attributes?.QueueArn }],
    }),
  );
  return {
    busName,
    queueUrl,
    async drain() {
      const events: ReceivedEvent[] = [];
      for (;;) {
        const batch = await clients.sqs.send(
          new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
        );
        const messages = batch.Messages ?? [];
        if (messages.length === 0) {
          transcript.text(JSON.stringify(events));
          return events;
        }
        for (const message of messages) events.push(JSON.parse(message.Body ?? "{}") as ReceivedEvent);
        await clients.sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: queueUrl,
            Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
          }),
        );
      }
    },
  };
}
