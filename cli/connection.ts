// What the CLI works with: Secrets Manager and EventBridge through keyturn's own store and
// publisher (functions/aws), vendor HTTP clients, "rotate now" and "revoke now". Against AWS,
// rotating is RotateSecret, then waiting until keyturn's rotate function has made the new key
// current, and an emergency revoke is a synchronous invocation of keyturn's deployed revoke
// function (the operator needs lambda:InvokeFunction on it, never the issuers' keys or the
// right to rotate, tag or write records). Against the sandbox (moto cannot run Lambdas) the CLI
// plays Secrets Manager's part in-process with the real rotate handler, exactly as
// sandbox/local-keyturn.ts does, and runs the emergency revoke in-process too; only that branch
// imports sandbox/.

import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import type { BuildMiddleware, InitializeMiddleware } from "@smithy/types";
import * as v from "valibot";
import { EventPublisher } from "#aws/event-publisher.ts";
import { FailureStreaks } from "#aws/failure-streaks.ts";
import { KeyRecords } from "#aws/record-store.ts";
import { SecretStore } from "#aws/secret-store.ts";
import { type ManagedCredential, managedCredential, readCurrent } from "#engine/credentials.ts";
import {
  type EmergencyOutcome,
  type EmergencyRequest,
  emergencyRevoke,
  rotateThroughSecretsManager,
} from "#engine/emergency.ts";
import type { PinnedCredentials } from "#engine/pinned.ts";
import { HttpClient } from "#http/client.ts";
import { DEFAULT_BUS } from "./args.ts";
import { AWS_ACTION, CommandFailure, isAwsError } from "./failure.ts";
import { loadPinned } from "./pinned.ts";

const SANDBOX_REGION = "us-east-1";
const POLL_MS = 2_000;

export interface ConnectionOptions {
  region?: string | undefined;
  profile?: string | undefined;
  endpoint?: string | undefined;
  vendorEndpoint?: string | undefined;
  bus?: string | undefined;
  sandbox?: boolean | undefined;
}

export interface Connection {
  store: SecretStore;
  publisher: EventPublisher;
  http(vendor: string): HttpClient;
  now(): Date;
  sandbox: boolean;
  /** Where AWS is, for messages: "region eu-west-1" or "the endpoint http://127.0.0.1:5000 (us-east-1)". */
  where: string;
  bus: string;
  /** How a rotation runs here, for messages. */
  rotationVia: string;
  /** Rotates now; resolves once the new key is AWSCURRENT, rejects if the rotation failed or timed out. */
  rotate(secretId: string, timeoutMs: number): Promise<void>;
  /** How an emergency revoke runs here, for messages. */
  revocationVia: string;
  /**
   * The emergency revoke of one named key (functions/engine/emergency.ts): keyturn's revoke
   * function against AWS, in this process in the sandbox. `rotationError` is set when the
   * rotation before a current key's revocation failed, with what is known of why.
   */
  revoke(
    request: EmergencyRequest,
    timeoutMs: number,
  ): Promise<EmergencyOutcome & { rotationError?: unknown }>;
  /** The credential's description, settings and provider (DescribeSecret: tags and labels, no value). */
  credential(secretId: string): Promise<ManagedCredential>;
  /** What the deployment pins (./pinned.ts): the CLI acts only on these credentials. */
  pinned: PinnedCredentials;
  /** keyturn's records table: the keys it stored for each credential. */
  records: KeyRecords;
  /** The sweep actions that kept failing, per credential (in the records table). */
  failures: FailureStreaks;
}

/** Records the IAM action of a failed call on the error, so that its message can name it. */
function recordAction<I extends object, O extends object>(service: string): InitializeMiddleware<I, O> {
  return (next, context) => async (args) => {
    try {
      return await next(args);
    } catch (error) {
      if (error instanceof Error && !Object.hasOwn(error, AWS_ACTION)) {
        const operation = String(context.commandName ?? "call").replace(/Command$/, "");
        Object.defineProperty(error, AWS_ACTION, { value: `${service}:${operation}` });
      }
      throw error;
    }
  };
}

/**
 * Test and sandbox aid, never for AWS: KEYTURN_MOTO_ACCOUNT puts every call into that moto
 * account (moto keys its state by the `x-moto-account-id` header), so that tests running the
 * CLI as a subprocess stay isolated from each other as in-process tests are (test/support/aws.ts).
 */
function motoAccount<I extends object, O extends object>(accountId: string): BuildMiddleware<I, O> {
  return (next) => async (args) => {
    const request = args.request as { headers?: Record<string, string> };
    if (request.headers) request.headers["x-moto-account-id"] = accountId;
    return next(args);
  };
}

export async function connect(options: ConnectionOptions, env: NodeJS.ProcessEnv): Promise<Connection> {
  const sandbox = options.sandbox === true || env.KEYTURN_SANDBOX === "1" || env.KEYTURN_SANDBOX === "true";
  const endpoint = options.endpoint ?? (env.AWS_ENDPOINT_URL || undefined);
  const region =
    options.region ?? (env.AWS_REGION || env.AWS_DEFAULT_REGION || (sandbox ? SANDBOX_REGION : undefined));
  const vendorEndpoint = options.vendorEndpoint ?? env.KEYTURN_VENDOR_ENDPOINT ?? "";
  const bus = options.bus ?? (env.KEYTURN_EVENT_BUS_NAME || DEFAULT_BUS);
  // moto accepts any credentials; the sandbox should not need real ones.
  const dummyCredentials =
    sandbox && !env.AWS_ACCESS_KEY_ID && !options.profile && !env.AWS_PROFILE
      ? { credentials: { accessKeyId: "sandbox", secretAccessKey: "sandbox" } }
      : {};
  const config = {
    ...(region ? { region } : {}),
    ...(options.profile ? { profile: options.profile } : {}),
    ...(endpoint ? { endpoint } : {}),
    ...dummyCredentials,
  };
  const secretsManager = new SecretsManagerClient(config);
  const eventBridge = new EventBridgeClient(config);
  const dynamodb = new DynamoDBClient(config);
  // AWS_ENDPOINT_URL_LAMBDA, the SDKs' service-specific endpoint variable, wins for Lambda alone.
  const lambda = new LambdaClient(
    env.AWS_ENDPOINT_URL_LAMBDA ? { ...config, endpoint: env.AWS_ENDPOINT_URL_LAMBDA } : config,
  );
  secretsManager.middlewareStack.add(recordAction("secretsmanager"), {
    step: "initialize",
    name: "keyturnAwsAction",
  });
  eventBridge.middlewareStack.add(recordAction("events"), { step: "initialize", name: "keyturnAwsAction" });
  dynamodb.middlewareStack.add(recordAction("dynamodb"), { step: "initialize", name: "keyturnAwsAction" });
  lambda.middlewareStack.add(recordAction("lambda"), { step: "initialize", name: "keyturnAwsAction" });
  const account = env.KEYTURN_MOTO_ACCOUNT;
  if (account) {
    secretsManager.middlewareStack.add(motoAccount(account), { step: "build", name: "keyturnMotoAccount" });
    eventBridge.middlewareStack.add(motoAccount(account), { step: "build", name: "keyturnMotoAccount" });
    dynamodb.middlewareStack.add(motoAccount(account), { step: "build", name: "keyturnMotoAccount" });
    lambda.middlewareStack.add(motoAccount(account), { step: "build", name: "keyturnMotoAccount" });
  }
  // Resolved now, so that a missing region fails before anything is done, and messages can name it.
  const resolvedRegion = await secretsManager.config.region();
  const where = endpoint ? `the endpoint ${endpoint} (${resolvedRegion})` : `region ${resolvedRegion}`;

  const store = new SecretStore(secretsManager);
  const pinned = loadPinned(env);
  // The stack names its records table after the bus (infra/keyturn.ts).
  const recordsTable = env.KEYTURN_RECORDS_TABLE || `${bus}-records`;
  const records = new KeyRecords(dynamodb, recordsTable);
  const failures = new FailureStreaks(dynamodb, recordsTable);
  const publisher = new EventPublisher(eventBridge, bus);
  const http = (vendor: string) => new HttpClient({ vendor, endpointOverride: vendorEndpoint });
  const now = () => new Date();

  let rotate: Connection["rotate"];
  if (sandbox) {
    rotate = async (secretId, timeoutMs) => {
      // The rotate handler's module reads its environment when it loads, as in Lambda.
      process.env.KEYTURN_EVENT_BUS_NAME ??= bus;
      process.env.KEYTURN_RECORDS_TABLE ??= recordsTable;
      const { createRotateHandler } = await import("#handlers/rotate.ts");
      const { rotateLikeSecretsManager } = await import("#sandbox/rotation-driver.ts");
      const handler = createRotateHandler({
        store,
        records,
        pinned,
        publisher,
        now,
        http: { endpointOverride: vendorEndpoint },
      });
      const deadline = Date.now() + timeoutMs;
      const context = { getRemainingTimeInMillis: () => deadline - Date.now(), awsRequestId: "keyturn-cli" };
      const rotation = await rotateLikeSecretsManager((event) => handler(event, context), secretId);
      if (!rotation.succeeded) throw rotation.failures.at(-1)?.error ?? new Error("the rotation failed");
    };
  } else {
    rotate = async (secretId, timeoutMs) => {
      try {
        await rotateThroughSecretsManager(store, { timeoutMs, pollMs: POLL_MS })(secretId);
      } catch (error) {
        if (isAwsError(error)) throw error;
        throw new CommandFailure(
          `The rotation of ${secretId} did not complete: ${(error instanceof Error ? error.message : String(error)).replace(/\.$/, "")}. ` +
            'Check the rotate function\'s logs and the "Credential Rotation Failed" events; keyturn status shows ' +
            "whether it is still pending.",
          { cause: error },
        );
      }
    };
  }

  let revoke: Connection["revoke"];
  if (sandbox) {
    revoke = async (request, timeoutMs) => {
      let rotationError: unknown;
      const outcome = await emergencyRevoke(
        {
          store,
          pinned,
          records,
          publisher,
          http,
          now,
          rotate: async (id) => {
            try {
              await rotate(id, timeoutMs);
            } catch (error) {
              rotationError = error;
              throw error;
            }
          },
        },
        request,
      );
      return { ...outcome, ...(rotationError === undefined ? {} : { rotationError }) };
    };
  } else {
    // The stack names the revoke function after the bus (infra/keyturn.ts), as the records table.
    const functionName = env.KEYTURN_REVOKE_FUNCTION || `${bus}-revoke`;
    // The credential's current key id, read from its value as the CLI read it before asking.
    const currentKeyId = async (secretId: string) =>
      (await readCurrent(store, managedCredential(await store.describe(secretId), pinned))).keyId;
    revoke = (request) => invokeRevoke(lambda, functionName, request, currentKeyId);
  }

  return {
    store,
    records,
    failures,
    publisher,
    http,
    now,
    sandbox,
    where,
    bus,
    rotationVia: sandbox
      ? "in-process with keyturn's rotate handler (sandbox: moto cannot run the rotation Lambda)"
      : "through Secrets Manager (RotateSecret, keyturn's rotate function)",
    rotate,
    revocationVia: sandbox
      ? "in-process (sandbox: moto cannot run keyturn's revoke function)"
      : "by keyturn's revoke function",
    revoke,
    credential: async (secretId) => managedCredential(await store.describe(secretId), pinned),
    pinned,
  };
}

/** What Lambda answers for a function that threw: its error's name and message. */
interface FunctionError {
  errorType?: string;
  errorMessage?: string;
}

/**
 * Invokes keyturn's revoke function and waits for its answer (RequestResponse: the function
 * rotates, waits and revokes within its own timeout). Its error, if it threw, is the engine's
 * typed error, which names the credential and never a secret value.
 */
/** The answer of keyturn's revoke function, as the CLI takes it: these fields, no others. */
const RevokeAnswer = v.object({
  credential: v.string(),
  keyId: v.string(),
  target: v.picklist(["current", "previous", "neither"]),
  rotated: v.boolean(),
  revocation: v.picklist(["revoked", "already-gone", "nothing-to-revoke", "cooldown"]),
  cooldownUntil: v.optional(v.string()),
});

async function invokeRevoke(
  lambda: LambdaClient,
  functionName: string,
  request: EmergencyRequest,
  currentKeyId: (secretId: string) => Promise<string>,
): Promise<EmergencyOutcome & { rotationError?: unknown }> {
  const answer = await lambda.send(
    new InvokeCommand({
      FunctionName: functionName,
      InvocationType: "RequestResponse",
      Payload: new TextEncoder().encode(JSON.stringify(request)),
    }),
  );
  const text = answer.Payload ? new TextDecoder().decode(answer.Payload) : "";
  let body: unknown;
  try {
    body = text ? (JSON.parse(text) as unknown) : undefined;
  } catch {
    body = undefined;
  }
  if (answer.FunctionError) {
    const error = (body ?? {}) as FunctionError;
    throw new CommandFailure(
      `keyturn's revoke function (${functionName}) failed for ${request.credential}: ` +
        `${error.errorType ?? answer.FunctionError}: ${error.errorMessage ?? "no message"}. ` +
        "Its logs and the critical event it published on the keyturn bus say more; keyturn status shows " +
        "where the credential stands.",
    );
  }
  const parsed = v.safeParse(RevokeAnswer, body);
  const notKeyturns = (why: string) =>
    new CommandFailure(
      `The function ${functionName} ${why} for ${request.credential}: is it keyturn's revoke function? Check --bus ` +
        "and KEYTURN_REVOKE_FUNCTION (default <bus>-revoke), and revoke the key in the vendor's console meanwhile.",
    );
  if (!parsed.success) throw notKeyturns("gave no answer keyturn's revoke function gives");
  const outcome: EmergencyOutcome = parsed.output;
  // An answer is only believed as far as the secret agrees: a function of that name that is not
  // keyturn's (a bus name mistaken, a function put in its place) must not make the CLI say
  // "revoked" while the leaked key stays current.
  if (outcome.revocation === "revoked" && outcome.rotated) {
    if ((await currentKeyId(request.credential)) === request.keyId) {
      throw notKeyturns(`answered "revoked", but key ${request.keyId} is still the current key`);
    }
  }
  return outcome.target === "current" && !outcome.rotated && outcome.revocation !== "cooldown"
    ? {
        ...outcome,
        rotationError: new Error(
          "the rotation before the revocation did not complete: see the revoke and rotate functions' logs and " +
            'the "Credential Rotation Failed" events',
        ),
      }
    : outcome;
}
