// Publishes keyturn's events to its EventBridge bus. PutEvents takes at most 10 entries a
// call and reports per-entry failures in FailedEntryCount instead of throwing: failed
// entries are sent again, and an event that still cannot be delivered is an error, never
// silently dropped.

import {
  type EventBridgeClient,
  PutEventsCommand,
  type PutEventsRequestEntry,
} from "@aws-sdk/client-eventbridge";

export const EVENT_SOURCE = "keyturn";
const MAX_ENTRIES_PER_CALL = 10;

export interface OutgoingEvent {
  detailType: string;
  detail: object;
  /** ARNs the event is about (the secret), for EventBridge's `resources` field. */
  resources?: string[];
}

export class EventPublishError extends Error {
  override readonly name = "EventPublishError";
  readonly retryable = true;
  readonly failures: { detailType: string; errorCode?: string }[];

  constructor(busName: string, failures: { detailType: string; errorCode?: string }[]) {
    super(
      `${failures.length} event(s) could not be published to EventBridge bus "${busName}" ` +
        `(${failures.map((f) => `${f.detailType}: ${f.errorCode ?? "unknown"}`).join(", ")}). ` +
        "Check the bus exists and the function may call events:PutEvents on it.",
    );
    this.failures = failures;
  }
}

export class EventPublisher {
  readonly #client: EventBridgeClient;
  readonly #busName: string;
  readonly #maxAttempts: number;

  constructor(client: EventBridgeClient, busName: string, options: { maxAttempts?: number } = {}) {
    this.#client = client;
    this.#busName = busName;
    this.#maxAttempts = options.maxAttempts ?? 3;
  }

  get busName(): string {
    return this.#busName;
  }

  async publish(events: readonly OutgoingEvent[]): Promise<void> {
    let pending = events.map((event) => this.#entry(event));
    let failures: { detailType: string; errorCode?: string }[] = [];
    for (let attempt = 1; attempt <= this.#maxAttempts && pending.length > 0; attempt++) {
      const retry: PutEventsRequestEntry[] = [];
      failures = [];
      for (let start = 0; start < pending.length; start += MAX_ENTRIES_PER_CALL) {
        const batch = pending.slice(start, start + MAX_ENTRIES_PER_CALL);
        const answer = await this.#client.send(new PutEventsCommand({ Entries: batch }));
        if (!answer.FailedEntryCount) continue;
        (answer.Entries ?? []).forEach((result, index) => {
          const entry = batch[index];
          if (result.ErrorCode && entry) {
            retry.push(entry);
            failures.push({ detailType: entry.DetailType ?? "?", errorCode: result.ErrorCode });
          }
        });
      }
      pending = retry;
    }
    if (pending.length > 0) throw new EventPublishError(this.#busName, failures);
  }

  #entry(event: OutgoingEvent): PutEventsRequestEntry {
    return {
      EventBusName: this.#busName,
      Source: EVENT_SOURCE,
      DetailType: event.detailType,
      Detail: JSON.stringify(event.detail),
      ...(event.resources ? { Resources: event.resources } : {}),
    };
  }
}
