// The sweep queue (issue 16, "fans out over an existing engine"): when the due sweep finds more due
// credentials than one invocation handles, it sends the rest here, a few names per message, and
// the queue invokes the same monitor function with them (an SQS event source mapping,
// infra/functions/monitor.ts). SendMessageBatch takes at most 10 messages a call and reports
// per-entry failures instead of throwing: those are sent once more, and the names of a message
// that still could not be sent are left out of the answer (they stay due; the sweep defers them).
//
// A message names credentials and nothing else: the monitor takes every decision from keyturn's
// records and the secrets (functions/engine/monitor.ts runBatch), so a message anyone forged can
// at most ask keyturn to look at a pinned credential that is due anyway.

import {
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import * as v from "valibot";
import { InvalidEventError } from "#engine/errors.ts";

/**
 * Credentials per message, and so per batch invocation (the event source mapping hands the function
 * one message at a time): in the worst case, every one of them spends its whole budget (10 s), and
 * 20 × 10 s, the reconciliation's 60 s and the 10 s closing reserve still fit the monitor's 5 minutes.
 */
export const SWEEP_BATCH_CREDENTIALS = 20;
const MAX_ENTRIES_PER_CALL = 10;
/** A message's body at most: 20 secret names of up to 512 characters, and the JSON around them. */
export const MAX_SWEEP_MESSAGE_CHARS = 12_000;

/**
 * What a batch does with its credentials: "batch", the due sweep's checks of those still due;
 * "audit", the audit's checks of each (an audit over more credentials than it takes on itself).
 */
export type SweepBatchMode = "batch" | "audit";

/** A message of the sweep queue, as the monitor sends it: {"mode":"batch"|"audit","credentials":[...]}. */
export const SweepBatchMessage = v.strictObject({
  mode: v.picklist(["batch", "audit"]),
  credentials: v.pipe(
    v.array(v.pipe(v.string(), v.minLength(1), v.maxLength(512))),
    v.minLength(1),
    v.maxLength(SWEEP_BATCH_CREDENTIALS),
  ),
});
export type SweepBatchMessage = v.InferOutput<typeof SweepBatchMessage>;

/** A message of the sweep queue that is not one the monitor sends: refused, never acted on. */
export class InvalidSweepBatchError extends InvalidEventError {
  override readonly name = "InvalidSweepBatchError";
}

/** The credentials a message's body names, and its mode; an InvalidSweepBatchError for any other body. */
export function parseSweepBatch(body: string): { mode: SweepBatchMode; credentials: string[] } {
  if (body.length > MAX_SWEEP_MESSAGE_CHARS) {
    throw new InvalidSweepBatchError(
      `A sweep queue message of ${body.length} characters was refused (at most ${MAX_SWEEP_MESSAGE_CHARS}): ` +
        "the monitor sends none that large. Check who may send to the sweep queue.",
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (error) {
    throw new InvalidSweepBatchError(
      "A sweep queue message that is not JSON was refused. Check who may send to the sweep queue.",
      { cause: error },
    );
  }
  const parsed = v.safeParse(SweepBatchMessage, json);
  if (parsed.success) return parsed.output;
  const fields = [...new Set(parsed.issues.map((issue) => v.getDotPath(issue) ?? "body"))].join(", ");
  throw new InvalidSweepBatchError(
    `A sweep queue message was refused: ${fields} not as the monitor sends it ` +
      `({"mode":"batch" or "audit","credentials":[up to ${SWEEP_BATCH_CREDENTIALS} names]}).`,
  );
}

export class SweepQueue {
  readonly #client: SQSClient;
  readonly #queueUrl: string;

  constructor(client: SQSClient, queueUrl: string) {
    this.#client = client;
    this.#queueUrl = queueUrl;
  }

  /**
   * Sends `credentials` in messages of up to SWEEP_BATCH_CREDENTIALS names; answers the names
   * that were sent. A call that throws (the queue unreachable) throws: nothing after it was sent.
   */
  async enqueue(credentials: readonly string[], mode: SweepBatchMode = "batch"): Promise<string[]> {
    const messages = new Map<string, string[]>();
    for (let start = 0; start < credentials.length; start += SWEEP_BATCH_CREDENTIALS)
      messages.set(String(messages.size), credentials.slice(start, start + SWEEP_BATCH_CREDENTIALS));
    const sent: string[] = [];
    let pending = [...messages.keys()];
    for (let attempt = 1; attempt <= 2 && pending.length > 0; attempt++) {
      const failed: string[] = [];
      for (let start = 0; start < pending.length; start += MAX_ENTRIES_PER_CALL) {
        const entries: SendMessageBatchRequestEntry[] = pending
          .slice(start, start + MAX_ENTRIES_PER_CALL)
          .map((id) => ({
            Id: id,
            MessageBody: JSON.stringify({ mode, credentials: messages.get(id) ?? [] }),
          }));
        const answer = await this.#client.send(
          new SendMessageBatchCommand({ QueueUrl: this.#queueUrl, Entries: entries }),
        );
        for (const entry of answer.Successful ?? [])
          if (entry.Id) sent.push(...(messages.get(entry.Id) ?? []));
        for (const entry of answer.Failed ?? []) if (entry.Id) failed.push(entry.Id);
      }
      pending = failed;
    }
    return sent;
  }
}
