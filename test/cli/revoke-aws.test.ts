// keyturn revoke against AWS (issue 13): the CLI names the key, then invokes keyturn's deployed
// revoke function and reports its answer; it rotates, tags, writes records and calls vendors
// with none of its own rights. moto cannot run a Lambda function, so Lambda's Invoke API is
// played here by a small HTTP server (stubbed: only the Invoke call, on real HTTP through the
// real SDK client, AWS_ENDPOINT_URL_LAMBDA) that runs the real revoke handler against this
// test's moto account and the simulators, with the sandbox's in-process rotation standing in
// for Secrets Manager's rotation Lambda.

import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { EmergencyCooldowns } from "#aws/emergency-cooldown.ts";
import { EventPublisher } from "#aws/event-publisher.ts";
import { KeyRecords } from "#aws/record-store.ts";
import { SecretStore } from "#aws/secret-store.ts";
import { createRevokeHandler } from "#handlers/revoke.ts";
import { createRotateHandler } from "#handlers/rotate.ts";
import { rotateLikeSecretsManager } from "#sandbox/rotation-driver.ts";
import { loadPinned } from "../../cli/pinned.ts";
import { eventProblems } from "../support/event-schemas.ts";
import { BUS_NAME, useCliSandbox } from "./cli-sandbox.ts";

const sandbox = useCliSandbox();

interface Invocation {
  functionName: string;
  payload: unknown;
}

/** Lambda's Invoke API for keyturn's revoke function, running the real handler in this process. */
async function startLambda(): Promise<{
  url: string;
  invocations: Invocation[];
  fail: { next?: boolean; throws?: Error; impostor?: boolean };
  close(): Promise<void>;
}> {
  const s = sandbox();
  const store = new SecretStore(s.aws.secretsManager);
  const records = new KeyRecords(s.aws.dynamodb, `${BUS_NAME}-records`);
  const publisher = new EventPublisher(s.aws.eventBridge, BUS_NAME);
  const pinned = () => loadPinned(s.env);
  const http = { endpointOverride: s.hub.url };
  const invocations: Invocation[] = [];
  const fail: { next?: boolean; throws?: Error; impostor?: boolean } = {};
  const context = { getRemainingTimeInMillis: () => 600_000, awsRequestId: "revoke-aws-test" };
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      void (async () => {
        const name = decodeURIComponent(
          /\/functions\/([^/]+)\/invocations/.exec(request.url ?? "")?.[1] ?? "",
        );
        const payload = JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown;
        invocations.push({ functionName: name, payload });
        const handler = createRevokeHandler({
          store,
          records,
          pinned: pinned(),
          publisher,
          cooldowns: new EmergencyCooldowns(s.aws.dynamodb, `${BUS_NAME}-records`),
          http,
          rotate: async (secretId) => {
            if (fail.next) throw new Error("the rotation did not start (test)");
            const rotateHandler = createRotateHandler({ store, records, pinned: pinned(), publisher, http });
            const rotation = await rotateLikeSecretsManager(
              (event) => rotateHandler(event, context),
              secretId,
            );
            if (!rotation.succeeded)
              throw rotation.failures.at(-1)?.error ?? new Error("the rotation failed");
          },
        });
        try {
          if (fail.throws) throw fail.throws;
          if (fail.impostor) {
            // Not keyturn's function: it answers as keyturn's would, and does nothing.
            const { credential, keyId } = payload as { credential: string; keyId: string };
            const lie = {
              credential,
              keyId,
              target: "current",
              rotated: true,
              revocation: "revoked",
              note: "\u001b[2Jok",
            };
            response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(lie));
            return;
          }
          const outcome = await handler(payload, context);
          response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(outcome));
        } catch (error) {
          // As Lambda answers for a function that threw.
          const failure = error instanceof Error ? error : new Error(String(error));
          response
            .writeHead(200, { "content-type": "application/json", "x-amz-function-error": "Unhandled" })
            .end(JSON.stringify({ errorType: failure.name, errorMessage: failure.message }));
        }
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    invocations,
    fail,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe("keyturn revoke against AWS", () => {
  let lambda: Awaited<ReturnType<typeof startLambda>>;
  let awsEnv: Record<string, string>;

  beforeEach(async () => {
    lambda = await startLambda();
    awsEnv = {
      KEYTURN_SANDBOX: "",
      AWS_ENDPOINT_URL_LAMBDA: lambda.url,
      AWS_ACCESS_KEY_ID: "operator",
      AWS_SECRET_ACCESS_KEY: "operator",
    };
  });
  afterEach(async () => {
    await lambda.close();
  });

  test("invokes the deployed revoke function once with the key it named, and reports what the function did", async () => {
    const seeded = await sandbox().seedImmuta("keyturn/immuta");

    const result = await sandbox().run(
      ["revoke", "keyturn/immuta", "--reason", "pasted in a chat", "--json"],
      {
        env: awsEnv,
      },
    );

    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(lambda.invocations).toEqual([
      {
        functionName: "keyturn-revoke",
        payload: { credential: "keyturn/immuta", keyId: seeded.keyId, reason: "pasted in a chat" },
      },
    ]);
    const outcome = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(outcome).toMatchObject({
      credential: "keyturn/immuta",
      keyId: seeded.keyId,
      revocation: "revoked",
      rotated: true,
    });
    const current = await sandbox().current("keyturn/immuta");
    expect(outcome.newKeyId).toBe(current.keyId);
    expect(sandbox().immuta.isLive(seeded.token)).toBe(false);
    expect(sandbox().immuta.isLive(current.token as string)).toBe(true);
    const events = await sandbox().subscriber.drain();
    expect(events.flatMap(eventProblems)).toEqual([]);
    expect(events.map((event) => event["detail-type"])).toContain("Credential Revoked");
  });

  test("says it was held when the function's cooldown holds the credential, and exits 1 having done nothing", async () => {
    await sandbox().seedImmuta("keyturn/immuta");
    const first = await sandbox().run(["revoke", "keyturn/immuta", "--reason", "leak"], { env: awsEnv });
    expect(first.code).toBe(0);
    const successor = (await sandbox().current("keyturn/immuta")) as { keyId: string; token: string };

    const second = await sandbox().run(["revoke", "keyturn/immuta", "--reason", "again"], { env: awsEnv });

    expect(second.code).toBe(1);
    expect(second.stdout).toMatch(
      /^Held: another emergency revoke of keyturn\/immuta holds its cooldown until \S+Z; nothing was done\./,
    );
    expect(lambda.invocations.map((invocation) => (invocation.payload as { keyId: string }).keyId)[1]).toBe(
      successor.keyId,
    );
    expect(sandbox().immuta.isLive(successor.token)).toBe(true);
    expect((await sandbox().current("keyturn/immuta")).keyId).toBe(successor.keyId);
  });

  test("reports a rotation that failed inside the function: the leaked key revoked anyway, exit 1 and what to do", async () => {
    const seeded = await sandbox().seedImmuta("keyturn/immuta");
    lambda.fail.next = true;

    const result = await sandbox().run(["revoke", "keyturn/immuta", "--reason", "leak"], { env: awsEnv });

    // The engine revokes the leaked key even when the rotation fails (an outage beats a leak).
    expect(result.code).toBe(1);
    expect(sandbox().immuta.isLive(seeded.token)).toBe(false);
    expect(result.stderr).toMatch(/was revoked, but the rotation failed/);
    expect(result.stderr).toMatch(/keyturn put keyturn\/immuta/);
  });
});

test("reports a function that threw with the function's name, the credential and the typed error, and exits 1", async () => {
  const lambda = await startLambda();
  try {
    await sandbox().seedImmuta("keyturn/immuta");
    const thrown = new Error('Credential "keyturn/immuta": the issuer\'s key was refused by Immuta (401).');
    thrown.name = "VendorAuthError";
    lambda.fail.throws = thrown;

    const result = await sandbox().run(["revoke", "keyturn/immuta", "--reason", "leak"], {
      env: {
        KEYTURN_SANDBOX: "",
        AWS_ENDPOINT_URL_LAMBDA: lambda.url,
        AWS_ACCESS_KEY_ID: "operator",
        AWS_SECRET_ACCESS_KEY: "operator",
      },
    });

    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      "keyturn's revoke function (keyturn-revoke) failed for keyturn/immuta: VendorAuthError: " +
        'Credential "keyturn/immuta": the issuer\'s key was refused by Immuta (401).',
    );
  } finally {
    await lambda.close();
  }
});

test("does not believe a function of that name that answers revoked while the key is still current", async () => {
  // Acting as whoever put a function of keyturn's name in place (or a bus name mistaken for another).
  const lambda = await startLambda();
  try {
    const seeded = await sandbox().seedImmuta("keyturn/immuta");
    lambda.fail.impostor = true;

    const result = await sandbox().run(["revoke", "keyturn/immuta", "--reason", "leak", "--json"], {
      env: {
        KEYTURN_SANDBOX: "",
        AWS_ENDPOINT_URL_LAMBDA: lambda.url,
        AWS_ACCESS_KEY_ID: "operator",
        AWS_SECRET_ACCESS_KEY: "operator",
      },
    });

    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain(
      `The function keyturn-revoke answered "revoked", but key ${seeded.keyId} is still the current key for ` +
        "keyturn/immuta: is it keyturn's revoke function?",
    );
    expect(sandbox().immuta.isLive(seeded.token)).toBe(true);
  } finally {
    await lambda.close();
  }
});

test("says keyturn's revoke function was not found, not the credential, when no function answers to the name", async () => {
  const lambda = await startLambda();
  try {
    await sandbox().seedImmuta("keyturn/immuta");
    const result = await sandbox().run(
      ["revoke", "keyturn/immuta", "--reason", "leak", "--bus", "keyturn-prod"],
      {
        env: {
          KEYTURN_SANDBOX: "",
          // Lambda's answer for a function that does not exist, from a real endpoint: moto's.
          AWS_ENDPOINT_URL_LAMBDA: sandbox().aws.endpoint,
          AWS_ACCESS_KEY_ID: "operator",
          AWS_SECRET_ACCESS_KEY: "operator",
          KEYTURN_RECORDS_TABLE: "keyturn-records",
        },
      },
    );

    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /^keyturn: keyturn's revoke function was not found in .* for credential "keyturn\/immuta": nothing was revoked\./,
    );
    expect(lambda.invocations).toEqual([]);
  } finally {
    await lambda.close();
  }
});
