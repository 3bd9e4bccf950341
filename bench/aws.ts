// AWS clients for the benchmark: pointed at moto server, each set in an AWS account of its own
// (moto's `x-moto-account-id` header), and every request that reaches moto recorded: service,
// operation, the credential it concerns, how long it took, and for PutEvents how many events
// (what EventBridge bills).

import { randomInt } from "node:crypto";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { SQSClient } from "@aws-sdk/client-sqs";
import { SSMClient } from "@aws-sdk/client-ssm";
import type { BuildMiddleware, DeserializeMiddleware, MiddlewareStack } from "@smithy/types";
import { LOCAL_REGION } from "../sandbox/local-aws.ts";

export interface AwsCall {
  /** "SecretsManager", "EventBridge", "SSM", "DynamoDB", "SQS". */
  service: string;
  /** "ListSecrets", "GetSecretValue", … */
  operation: string;
  /** Events in a PutEvents request; 0 for other operations. */
  events: number;
  ms: number;
  /** A Parameter Store read's WithDecryption (only a decrypting read asks KMS); absent for other calls. */
  withDecryption?: boolean;
}

/** Every AWS request a set of clients sent, in order. */
export class CallLog {
  readonly calls: AwsCall[] = [];

  /** Calls since `mark` (a length of `calls` taken earlier). */
  since(mark: number): AwsCall[] {
    return this.calls.slice(mark);
  }
}

/** Counts by "Service.Operation". */
export function countByOperation(calls: readonly AwsCall[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const call of calls) {
    const key = `${call.service}.${call.operation}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return Object.fromEntries(Object.entries(counts).sort(([a], [b]) => a.localeCompare(b)));
}

export function countOf(calls: readonly AwsCall[], service: string, operation?: string): number {
  return calls.filter((c) => c.service === service && (operation === undefined || c.operation === operation))
    .length;
}

export interface BenchAws {
  accountId: string;
  log: CallLog;
  secretsManager: SecretsManagerClient;
  eventBridge: EventBridgeClient;
  sqs: SQSClient;
  ssm: SSMClient;
  dynamodb: DynamoDBClient;
}

/**
 * Clients in a fresh moto account. The recorder sits in the deserialize step, inside the SDK's
 * retry loop, so that every HTTP request moto answered is counted, retries included.
 */
export function benchAws(endpoint: string): BenchAws {
  const accountId = String(randomInt(100_000_000_000, 999_999_999_999));
  const log = new CallLog();
  const config = {
    endpoint,
    region: LOCAL_REGION,
    credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
  };
  const accountHeader =
    <I extends object, O extends object>(): BuildMiddleware<I, O> =>
    (next) =>
    async (args) => {
      const request = args.request as { headers?: Record<string, string> };
      if (request.headers) request.headers["x-moto-account-id"] = accountId;
      return next(args);
    };
  const recorder =
    <I extends object, O extends object>(): DeserializeMiddleware<I, O> =>
    (next, context) =>
    async (args) => {
      const started = performance.now();
      try {
        return await next(args);
      } finally {
        const operation = (context.commandName ?? "?").replace(/Command$/, "");
        const { Entries: entries, WithDecryption: withDecryption } = args.input as {
          Entries?: unknown[];
          WithDecryption?: boolean;
        };
        log.calls.push({
          service: (context.clientName ?? "?").replace(/Client$/, ""),
          operation,
          events: operation === "PutEvents" ? (entries?.length ?? 0) : 0,
          ms: performance.now() - started,
          ...(withDecryption === undefined ? {} : { withDecryption }),
        });
      }
    };
  const instrument = <I extends object, O extends object>(stack: MiddlewareStack<I, O>) => {
    stack.add(accountHeader<I, O>(), { step: "build", name: "benchMotoAccount" });
    stack.add(recorder<I, O>(), { step: "deserialize", name: "benchCallRecorder" });
  };
  const secretsManager = new SecretsManagerClient(config);
  const eventBridge = new EventBridgeClient(config);
  const sqs = new SQSClient(config);
  const ssm = new SSMClient(config);
  const dynamodb = new DynamoDBClient(config);
  instrument(secretsManager.middlewareStack);
  instrument(eventBridge.middlewareStack);
  instrument(sqs.middlewareStack);
  instrument(ssm.middlewareStack);
  instrument(dynamodb.middlewareStack);
  return { accountId, log, secretsManager, eventBridge, sqs, ssm, dynamodb };
}
