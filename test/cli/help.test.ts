// keyturn's help: the general one, one per command, and the bin as npx runs it.

import { spawn } from "node:child_process";
import { accessSync, constants, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { COMMANDS } from "../../cli/args.ts";
import { CLI, lines, runKeyturn } from "./cli-sandbox.ts";

describe("keyturn --help", () => {
  test("lists every command on stdout and exits 0", async () => {
    const result = await runKeyturn(["--help"]);

    expect(result.code).toBe(0);
    for (const name of Object.keys(COMMANDS)) expect(result.stdout).toMatch(new RegExp(`^  ${name} `, "m"));
    expect(result.stdout).toContain("Exit codes: 0 ok, 1 failure, 2 usage error.");
    expect(result.stderr).toBe("");
  });

  test.each(Object.keys(COMMANDS))("%s --help shows its usage, options and examples", async (name) => {
    const result = await runKeyturn([name, "--help"]);

    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`Usage: ${COMMANDS[name]?.usage}`);
    expect(result.stdout).toContain("Global options:");
    expect(result.stdout).toContain("Examples:\n  keyturn ");
    for (const option of Object.keys(COMMANDS[name]?.options ?? {}))
      expect(result.stdout).toContain(`--${option}`);
    expect(result.stderr).toBe("");
  });

  test("help <command> is the command's --help", async () => {
    const viaHelp = await runKeyturn(["help", "revoke"]);
    const viaFlag = await runKeyturn(["revoke", "-h"]);

    expect(viaHelp.code).toBe(0);
    expect(viaHelp.stdout).toBe(viaFlag.stdout);
  });

  test("rotate and revoke --help say how the sandbox plays Secrets Manager", async () => {
    for (const name of ["rotate", "revoke"]) {
      const { stdout } = await runKeyturn([name, "--help"]);
      expect(stdout.replace(/\s+/g, " ")).toContain(
        "moto cannot run a rotation Lambda, so the CLI plays Secrets Manager itself",
      );
    }
  });

  test("without a command the usage goes to stderr and the exit code is 2", async () => {
    const result = await runKeyturn([]);

    expect(result.code).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr).toContain("Usage: keyturn <command>");
  });

  test("--version prints the package's version", async () => {
    const manifest = JSON.parse(readFileSync(join(import.meta.dirname, "..", "..", "package.json"), "utf8"));

    const result = await runKeyturn(["--version"]);

    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toBe(manifest.version);
  });
});

describe("the keyturn bin", () => {
  test("is an executable Node script", () => {
    expect(readFileSync(CLI, "utf8").startsWith("#!/usr/bin/env node\n")).toBe(true);
    expect(() => accessSync(CLI, constants.X_OK)).not.toThrow();
  });

  test("npx keyturn --help works in the repository", async () => {
    const result = await new Promise<{ code: number | null; stdout: string }>((resolve, reject) => {
      const child = spawn("npx", ["--no-install", "keyturn", "--help"], {
        cwd: join(import.meta.dirname, "..", ".."),
        stdio: ["ignore", "pipe", "ignore"],
      });
      let stdout = "";
      child.stdout.on("data", (chunk: Buffer) => {
        stdout += chunk.toString("utf8");
      });
      child.on("error", reject);
      child.on("close", (code) => resolve({ code, stdout }));
    });

    expect(result.code).toBe(0);
    expect(lines(result.stdout)[0]).toBe(
      "keyturn: operate the credentials keyturn keeps in AWS Secrets Manager",
    );
  });
});
