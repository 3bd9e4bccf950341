// Bad arguments: exit code 2, one line on stderr naming the mistake and the help to read, and
// never the value that was given (it may be a key pasted in the wrong place). No AWS involved:
// every one of these is refused before a connection is made.

import { describe, expect, test } from "vitest";
import { CLI_COMMANDS } from "../support/cli-commands.ts";
import { lines, runKeyturn } from "./cli-sandbox.ts";

const PASTED_KEY = "pasted-key-4f9c2e7a1b";

async function usageError(args: string[]) {
  // An endpoint that answers nothing: a usage error must come before any AWS call.
  const result = await runKeyturn(args, {
    env: { AWS_ENDPOINT_URL: "http://127.0.0.1:9", AWS_REGION: "us-east-1" },
  });
  expect(result.code).toBe(2);
  expect(result.stdout).toBe("");
  expect(lines(result.stderr)).toHaveLength(1);
  expect(result.stderr).toMatch(/^keyturn: .*See keyturn( [a-z]+)? --help\.\n$/);
  return result.stderr;
}

describe("bad arguments", () => {
  test("an unknown command names it and lists every command the CLI can run", async () => {
    const stderr = await usageError(["rotat", "keyturn/x"]);

    expect(stderr).toContain('"rotat"');
    expect(CLI_COMMANDS.filter((name) => !new RegExp(`\\b${name}\\b`).test(stderr))).toEqual([]);
  });

  test("an unknown option names the option", async () => {
    expect(await usageError(["status", "--regoin", "eu-west-1"])).toContain("status has no option --regoin");
  });

  test("a missing credential shows the usage", async () => {
    expect(await usageError(["rotate"])).toContain("rotate needs <credential>: keyturn rotate <credential>");
  });

  test("revoke without a reason says how to give one", async () => {
    expect(await usageError(["revoke", "keyturn/x"])).toContain("revoke needs --reason <text>");
  });

  test("an option that needs a value, given none", async () => {
    expect(await usageError(["revoke", "keyturn/x", "--reason"])).toContain("--reason needs a value <text>");
  });

  test("a value given to a flag", async () => {
    expect(await usageError(["status", "--json=yes"])).toContain("--json takes no value");
  });

  test("a timeout that is not a duration", async () => {
    expect(await usageError(["rotate", "keyturn/x", "--timeout", "soon"])).toContain(
      "--timeout must be a duration such as 90s, 5m or 1h",
    );
  });

  test("too many arguments", async () => {
    expect(await usageError(["verify", "keyturn/a", "keyturn/b"])).toContain("verify takes 1 argument(s)");
  });

  test("put refuses a key given as an argument, without echoing it", async () => {
    const stderr = await usageError(["put", "keyturn/x", PASTED_KEY]);

    expect(stderr).toContain("the key is read from stdin or a hidden prompt, never from the command line");
    expect(stderr).not.toContain(PASTED_KEY);
  });

  test("put refuses a key given as an option, without echoing it", async () => {
    const stderr = await usageError(["put", "keyturn/x", `--token=${PASTED_KEY}`]);

    expect(stderr).toContain("never from an option such as --token");
    expect(stderr).not.toContain(PASTED_KEY);
  });
});
