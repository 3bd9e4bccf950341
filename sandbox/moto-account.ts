// AWS clients on moto server, isolated in an account of their own: moto keys its state by
// the `x-moto-account-id` header, so tests (and crash or load runs) sharing one server never
// see each other's secrets, buses, queues, parameters or tables.
import { randomInt } from "node:crypto";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { SQSClient } from "@aws-sdk/client-sqs";
import { SSMClient } from "@aws-sdk/client-ssm";
import type { BuildMiddleware } from "@smithy/types";
import { LOCAL_REGION } from "./local-aws.ts";

export interface IsolatedAws {
  accountId: string;
  endpoint: string;
  secretsManager: SecretsManagerClient;
  eventBridge: EventBridgeClient;
  sqs: SQSClient;
  ssm: SSMClient;
  dynamodb: DynamoDBClient;
}

function accountHeader<I extends object, O extends object>(accountId: string): BuildMiddleware<I, O> {
  return (next) => async (args) => {
    const request = args.request as { headers?: Record<string, string> };
    if (request.headers) request.headers["x-moto-account-id"] = accountId;
    return next(args);
  };
}

const ISOLATION = { step: "build", name: "motoAccountIsolation" } as const;

export function motoAccount(
  endpoint: string,
  accountId = String(randomInt(100_000_000_000, 999_999_999_999)),
): IsolatedAws {
  const config = {
    endpoint,
    region: LOCAL_REGION,
    credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
  };
  const secretsManager = new SecretsManagerClient(config);
  secretsManager.middlewareStack.add(accountHeader(accountId), ISOLATION);
  const eventBridge = new EventBridgeClient(config);
  eventBridge.middlewareStack.add(accountHeader(accountId), ISOLATION);
  const sqs = new SQSClient(config);
  sqs.middlewareStack.add(accountHeader(accountId), ISOLATION);
  const ssm = new SSMClient(config);
  ssm.middlewareStack.add(accountHeader(accountId), ISOLATION);
  const dynamodb = new DynamoDBClient(config);
  dynamodb.middlewareStack.add(accountHeader(accountId), ISOLATION);
  return {
    accountId,
    endpoint,
    secretsManager,
    eventBridge,
    sqs,
    ssm,
    dynamodb,
  };
}
