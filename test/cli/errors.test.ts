// Failures as an operator meets them: one line on stderr that names the credential and what to
// check, exit code 1, no stack trace (unless KEYTURN_DEBUG=1) and no secret value.
//
// moto cannot be made to deny access or throttle on demand, so for those the CLI is pointed at
// a tiny local HTTP server that answers every call the way Secrets Manager answers an error
// (awsJson1_1: status 400, x-amzn-ErrorType header, {"__type", "message"} body).

import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, test } from "vitest";
import { findLeaks } from "../support/leak-guard.ts";

import { type CliSandbox, lines, runKeyturn, startCliSandbox } from "./cli-sandbox.ts";

const DEBUG = { env: { KEYTURN_DEBUG: "1" } };
const NOT_A_TOKEN = "idt:TKN-0000-0000:not-a-real-token-value";

interface FakeAws {
  endpoint: string;
  /** Calls answered so far (the SDK retries throttling). */
  calls(): string[];
  close(): Promise<void>;
}

async function fakeAws(type: string, message: string): Promise<FakeAws> {
  const calls: string[] = [];
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      calls.push(String(req.headers["x-amz-target"] ?? ""));
      res.writeHead(400, {
        "content-type": "application/x-amz-json-1.1",
        "x-amzn-errortype": type,
        "x-amzn-requestid": "00000000-0000-0000-0000-000000000000",
      });
      res.end(JSON.stringify({ __type: type, message }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    calls: () => [...calls],
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const AWS_ENV = {
  AWS_REGION: "eu-west-1",
  AWS_ACCESS_KEY_ID: "AKIDEXAMPLE",
  AWS_SECRET_ACCESS_KEY: "example-secret",
};

/** The one error line; stderr may also hold progress lines ("…") for work that took over a second. */
function expectOneLineFailure(result: { code: number | null; stdout: string; stderr: string }): string {
  expect(result.code).toBe(1);
  expect(result.stdout).toBe("");
  const errors = lines(result.stderr).filter((line) => !line.endsWith("…"));
  expect(errors).toHaveLength(1);
  expect(result.stderr).not.toMatch(/\n\s+at /);
  return `${errors[0]}\n`;
}

let cleanup: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const close of cleanup) await close();
  cleanup = [];
});

describe("AWS errors", () => {
  test("access denied names the IAM action, the credential and where to look", async () => {
    const aws = await fakeAws(
      "AccessDeniedException",
      "User: arn:aws:sts::123456789012:assumed-role/ops/jane is not authorized to perform: " +
        "secretsmanager:DescribeSecret on resource: keyturn/softwareone-catalog because no identity-based policy allows it",
    );
    cleanup.push(aws.close);

    const result = await runKeyturn(["verify", "keyturn/softwareone-catalog"], {
      env: { ...AWS_ENV, AWS_ENDPOINT_URL: aws.endpoint },
    });

    const stderr = expectOneLineFailure(result);
    expect(stderr).toContain(
      `keyturn: AWS denied secretsmanager:DescribeSecret for credential "keyturn/softwareone-catalog" in the ` +
        `endpoint ${aws.endpoint} (eu-west-1): the identity you run keyturn as lacks that permission`,
    );
    expect(stderr).toContain('(docs/cli.md, "Operator permissions")');
    expect(stderr).toContain("(AWS: User: arn:aws:sts::123456789012:assumed-role/ops/jane is not authorized");
  });

  test("throttling is retried, then reported as such with what to do", async () => {
    const aws = await fakeAws("ThrottlingException", "Rate exceeded");
    cleanup.push(aws.close);

    const result = await runKeyturn(["status"], { env: { ...AWS_ENV, AWS_ENDPOINT_URL: aws.endpoint } });

    const stderr = expectOneLineFailure(result);
    expect(stderr).toContain(
      `keyturn: AWS throttled secretsmanager:ListSecrets in the endpoint ${aws.endpoint} (eu-west-1), and the ` +
        "retries ran out. Nothing more was done; wait a minute and run the command again.",
    );
    expect(aws.calls().length).toBeGreaterThan(1);
  });

  test("expired credentials say to sign in again", async () => {
    const aws = await fakeAws(
      "ExpiredTokenException",
      "The security token included in the request is expired",
    );
    cleanup.push(aws.close);

    const result = await runKeyturn(["rotate", "keyturn/x"], {
      env: { ...AWS_ENV, AWS_ENDPOINT_URL: aws.endpoint },
    });

    expect(expectOneLineFailure(result)).toContain(
      'AWS rejected your credentials for secretsmanager:DescribeSecret for credential "keyturn/x" (ExpiredTokenException)',
    );
  });

  test("an endpoint nobody listens on is named, with the sandbox as the likely cause", async () => {
    const aws = await fakeAws("AccessDeniedException", "unused");
    await aws.close();

    const result = await runKeyturn(["status"], { env: { ...AWS_ENV, AWS_ENDPOINT_URL: aws.endpoint } });

    expect(expectOneLineFailure(result)).toContain(
      `keyturn: Cannot reach AWS at the endpoint ${aws.endpoint} (eu-west-1) (ECONNREFUSED) while calling ` +
        "secretsmanager:ListSecrets. Check --endpoint / AWS_ENDPOINT_URL (is the sandbox running?)",
    );
  });

  test("no region at all is a one-line failure before any call", async () => {
    const result = await runKeyturn(["status"], {
      env: { AWS_ACCESS_KEY_ID: "AKIDEXAMPLE", AWS_SECRET_ACCESS_KEY: "x" },
    });

    expect(expectOneLineFailure(result)).toBe(
      "keyturn: No AWS region: pass --region, set AWS_REGION, or give your profile a region.\n",
    );
  });

  test("KEYTURN_DEBUG=1 adds the stack trace after the line", async () => {
    const aws = await fakeAws("AccessDeniedException", "denied");
    cleanup.push(aws.close);

    const result = await runKeyturn(["status"], {
      env: { ...AWS_ENV, AWS_ENDPOINT_URL: aws.endpoint, KEYTURN_DEBUG: "1" },
    });

    expect(result.code).toBe(1);
    expect(lines(result.stderr)[0]).toContain("keyturn: AWS denied secretsmanager:ListSecrets");
    expect(result.stderr).toMatch(/\n\s+at /);
  });
});

describe("against the sandbox", () => {
  let sandbox: CliSandbox;

  afterEach(async () => {
    try {
      expect(findLeaks(sandbox.outputs(), sandbox.issuedValues())).toEqual([]);
    } finally {
      await sandbox.close();
    }
  });

  test.each([
    ["verify", []],
    ["rotate", []],
    ["revoke", ["--reason", "leaked"]],
    ["put", ["--key-id", "new"]],
  ])("%s of an unknown credential fails in one line naming it", async (command, extra) => {
    sandbox = await startCliSandbox();

    const result = await sandbox.run([command, "keyturn/no-such-credential", ...extra], {
      input: "unused-key-0123",
    });

    expect(expectOneLineFailure(result)).toBe(
      'keyturn: Credential "keyturn/no-such-credential" not found: no secret with that name or ARN in the endpoint ' +
        `${sandbox.aws.endpoint} (us-east-1). Check the name (keyturn status lists the managed credentials), ` +
        "the region (--region) and the account (--profile).\n",
    );
  });

  /** Every command, with KEYTURN_DEBUG (stack traces) on, in three groups so that no test runs long. */
  const commandGroups: [string, (sandbox: CliSandbox, everflowKey: string) => Promise<void>][] = [
    [
      "verify",
      async (sandbox) => {
        for (const name of [
          "keyturn/immuta",
          "keyturn/s1-catalog",
          "keyturn/everflow",
          "keyturn/incorta-pat",
        ]) {
          await sandbox.run(["verify", name], DEBUG);
        }
      },
    ],
    [
      "rotate, revoke and status",
      async (sandbox) => {
        await sandbox.run(["rotate", "keyturn/immuta"], DEBUG);
        await sandbox.run(["revoke", "keyturn/s1-catalog", "--reason", "leak drill"], DEBUG);
        await sandbox.run(["status"], DEBUG);
        await sandbox.run(["status", "--json"], DEBUG);
      },
    ],
    [
      "put of a key the vendor refuses, and of one that is no key at all",
      async (sandbox, everflowKey) => {
        // The refusals must not echo them.
        await sandbox.run(["put", "keyturn/everflow", "--key-id", "same"], { ...DEBUG, input: everflowKey });
        await sandbox.run(["put", "keyturn/s1-catalog"], { ...DEBUG, input: NOT_A_TOKEN });
        await sandbox.run(["put", "keyturn/incorta-pat", "--key-id", "x", "--expires-at", "2030-01-01"], {
          ...DEBUG,
          input: "short",
        });
      },
    ],
  ];

  test.for(commandGroups)(
    "%s prints no secret value, on stdout or stderr, whatever happens",
    async ([, commands]) => {
      sandbox = await startCliSandbox();
      await sandbox.seedImmuta("keyturn/immuta");
      await sandbox.seedSoftwareOne("keyturn/s1-admin", "keyturn/s1-catalog");
      const everflow = await sandbox.seedEverflow("keyturn/everflow");
      await sandbox.seedIncortaPat("keyturn/incorta-pat", 10 * 86_400_000);
      await sandbox.seedIncortaV1("keyturn/incorta-v1");

      await commands(sandbox, everflow.key);

      const secrets = [...sandbox.issuedValues(), NOT_A_TOKEN, "not-a-real-token-value"];
      expect(sandbox.issuedValues().length).toBeGreaterThan(5);
      expect(sandbox.outputs().length).toBeGreaterThan(0);
      expect(findLeaks(sandbox.outputs(), secrets)).toEqual([]);
    },
  );
});
