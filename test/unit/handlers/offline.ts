// What the handler tests of test/unit/handlers/ run on: the unit project starts no moto, so the
// AWS clients here are real SDK clients whose every call is stopped by an SDK middleware before
// it leaves the process (a stub, said so here): the call is recorded, written to the log as a
// keyturn engine line would be, and refused with the error named (AccessDeniedException unless
// a test says otherwise). The handlers themselves run unchanged; the integration suites
// (test/integration/relay.test.ts, revocation.test.ts, due-sweep.test.ts) run them on moto.

import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { SSMClient } from "@aws-sdk/client-ssm";
import type { InitializeHandlerOptions, InitializeMiddleware } from "@smithy/types";
import { afterEach, beforeEach, vi } from "vitest";
import { EmergencyCooldowns } from "#aws/emergency-cooldown.ts";
import { EventPublisher } from "#aws/event-publisher.ts";
import { FailureStreaks } from "#aws/failure-streaks.ts";
import { LeaseTable } from "#aws/lease.ts";
import { KeyRecords } from "#aws/record-store.ts";
import { SecretStore } from "#aws/secret-store.ts";
import { TokenStore } from "#aws/token-store.ts";
import { logger } from "#engine/logger.ts";
import { PinnedCredentials } from "#engine/pinned.ts";
import { type CapturedOutput, captureOutput } from "../../support/leak-guard.ts";

export interface OfflineAws {
  /** The commands the handler sent, in order ("DescribeSecretCommand", ...). */
  calls: string[];
  /** The name of the error every call fails with from now on. */
  failWith(name: string): void;
  secretsManager: SecretsManagerClient;
  dynamodb: DynamoDBClient;
  eventBridge: EventBridgeClient;
  ssm: SSMClient;
}

/** What of a client the stop needs: its middleware stack. */
interface StoppableClient {
  middlewareStack: {
    // biome-ignore lint/suspicious/noExplicitAny: every client's own input and output types
    add(middleware: InitializeMiddleware<any, any>, options: InitializeHandlerOptions): void;
  };
}

const CONFIG = { region: "us-east-1", credentials: { accessKeyId: "unit", secretAccessKey: "unit" } };

export function offlineAws(): OfflineAws {
  const calls: string[] = [];
  let errorName = "AccessDeniedException";
  const stopped = <C extends StoppableClient>(client: C): C => {
    client.middlewareStack.add(
      (_next, context) => async () => {
        const command = String(context.commandName);
        calls.push(command);
        logger.info("unit test: AWS call stopped", { command });
        throw Object.assign(new Error(`${command} reaches no AWS in the unit tests`), {
          name: errorName,
          $fault: "client",
        });
      },
      { step: "initialize", name: "unitTestsReachNoAws" },
    );
    return client;
  };
  return {
    calls,
    failWith: (name) => {
      errorName = name;
    },
    secretsManager: stopped(new SecretsManagerClient(CONFIG)),
    dynamodb: stopped(new DynamoDBClient(CONFIG)),
    eventBridge: stopped(new EventBridgeClient(CONFIG)),
    ssm: stopped(new SSMClient(CONFIG)),
  };
}

/** Every dependency any handler takes, on the offline clients. */
export function offlineDeps(aws: OfflineAws) {
  return {
    store: new SecretStore(aws.secretsManager),
    records: new KeyRecords(aws.dynamodb, "keyturn-records"),
    pinned: new PinnedCredentials(),
    publisher: new EventPublisher(aws.eventBridge, "keyturn", { maxAttempts: 1 }),
    cooldowns: new EmergencyCooldowns(aws.dynamodb, "keyturn-records"),
    failureStreaks: new FailureStreaks(aws.dynamodb, "keyturn-records"),
    tokens: new TokenStore(aws.ssm),
    leases: new LeaseTable(aws.dynamodb, "keyturn-leases"),
  };
}

/** A Lambda context as far as the handlers read it. */
export function lambdaContext(awsRequestId: string) {
  return { awsRequestId, getRemainingTimeInMillis: () => 60_000 };
}

/** The JSON log lines (Powertools writes one object per line) written to the captured output. */
export function logLines(output: CapturedOutput): Record<string, unknown>[] {
  return output
    .text()
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((line) => typeof line.level === "string");
}

/**
 * The log lines written during one call of `run`, and the line a log call right after it wrote:
 * what the invocation's keys left behind.
 */
export async function linesAround(
  output: CapturedOutput,
  run: () => Promise<unknown>,
): Promise<{ during: Record<string, unknown>[]; after: Record<string, unknown> }> {
  const before = logLines(output).length;
  await run().catch(() => undefined);
  logger.info("unit test: after the invocation");
  const lines = logLines(output).slice(before);
  const after = lines.at(-1) ?? {};
  return { during: lines.slice(0, -1), after };
}

export interface OfflineTest {
  output: CapturedOutput;
  aws: OfflineAws;
}

/** Each test's captured output and offline AWS, fresh for every test of the file. */
export function offlineTests(): OfflineTest {
  const current = {} as OfflineTest;
  beforeEach(() => {
    current.output = captureOutput();
    current.aws = offlineAws();
  });
  afterEach(() => {
    current.output.restore();
    vi.unstubAllEnvs();
  });
  return current;
}
