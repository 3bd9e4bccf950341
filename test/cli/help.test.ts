// keyturn's help, as behaviour: every command the CLI can run is listed and has a help of its
// own; what a help advertises the command takes; every pointer to a help leads to one; the bin
// runs as npx runs it. No help text is copied here: the wording may change, these may not.

import { spawn } from "node:child_process";
import { accessSync, constants, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { COMMANDS, GLOBAL_OPTIONS, parseCommandLine } from "../../cli/args.ts";
import { CLI_COMMANDS } from "../support/cli-commands.ts";
import { CLI, runKeyturn } from "./cli-sandbox.ts";

/** The options a help text shows, by name: `--timeout <duration>` is "timeout". */
function optionsShown(help: string): string[] {
  return [...new Set([...help.matchAll(/(?<![\w-])--([a-z][a-z-]*)/g)].map((match) => match[1] as string))];
}

/**
 * Whether `keyturn <command>` takes the option: some command line with it parses. Tried with
 * and without a credential, bare and with a value, since commands differ in what they need
 * and a string option refuses the bare form, a flag the other.
 */
function takesOption(command: string, option: string): boolean {
  return [[], ["keyturn/x"]].some((positionals) =>
    [`--${option}`, `--${option}=x`].some((arg) => {
      try {
        parseCommandLine([command, ...positionals, arg]);
        return true;
      } catch {
        return false;
      }
    }),
  );
}

/** The commands whose help a text points at: `keyturn rotate --help` is "rotate", `keyturn --help` "". */
function helpPointers(text: string): string[] {
  return [...text.matchAll(/keyturn(?: ([a-z][a-z-]*))? --help/g)].map((match) => match[1] ?? "");
}

describe("keyturn --help", () => {
  test("lists every command the CLI can run, on stdout, and exits 0", async () => {
    const result = await runKeyturn(["--help"]);

    expect(CLI_COMMANDS.length).toBeGreaterThan(0);
    expect(result.code).toBe(0);
    expect(CLI_COMMANDS.filter((name) => !new RegExp(`^\\s+${name}\\s`, "m").test(result.stdout))).toEqual(
      [],
    );
    expect(result.stderr).toBe("");
  });

  test.each(CLI_COMMANDS)("%s --help exits 0 with a help of its own, on stdout", async (name) => {
    const general = await runKeyturn(["--help"]);

    const result = await runKeyturn([name, "--help"]);

    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`keyturn ${name}`);
    expect(result.stdout).not.toBe(general.stdout);
    expect(result.stderr).toBe("");
  });

  test.each(CLI_COMMANDS)(
    "%s --help shows only options the command takes, and every one it takes",
    async (name) => {
      const { stdout } = await runKeyturn([name, "--help"]);
      const shown = optionsShown(stdout);
      const taken = Object.keys({ ...GLOBAL_OPTIONS, ...COMMANDS[name]?.options });

      expect(shown.filter((option) => option !== "help" && !takesOption(name, option))).toEqual([]);
      expect(taken.length).toBeGreaterThan(0);
      expect(taken.filter((option) => !shown.includes(option))).toEqual([]);
    },
  );

  test("help <command> is the command's --help", async () => {
    const viaHelp = await runKeyturn(["help", "revoke"]);
    const viaFlag = await runKeyturn(["revoke", "-h"]);

    expect(viaHelp.code).toBe(0);
    expect(viaHelp.stdout).toBe(viaFlag.stdout);
  });

  test.each(["rotate", "revoke"])(
    "%s --help, whose rotation runs in-process against the sandbox, says more of the sandbox than the global option does",
    async (name) => {
      // status behaves the same against the sandbox: its help names it only in --sandbox, a global option.
      const mentions = (text: string) => text.match(/sandbox/gi)?.length ?? 0;
      const status = await runKeyturn(["status", "--help"]);

      const result = await runKeyturn([name, "--help"]);

      expect(mentions(result.stdout)).toBeGreaterThan(mentions(status.stdout));
    },
  );

  test("every help a help points to exists", async () => {
    const helps = [
      await runKeyturn(["--help"]),
      ...(await Promise.all(CLI_COMMANDS.map((name) => runKeyturn([name, "--help"])))),
    ];
    const pointers = [...new Set(helps.flatMap((help) => helpPointers(help.stdout)))];

    const answers = await Promise.all(
      pointers.map(async (name) => [name, (await runKeyturn(name ? [name, "--help"] : ["--help"])).code]),
    );

    expect(pointers.length).toBeGreaterThan(0);
    expect(answers.filter(([, code]) => code !== 0)).toEqual([]);
  });

  test("without a command the general help goes to stderr and the exit code is 2", async () => {
    const general = await runKeyturn(["--help"]);

    const result = await runKeyturn([]);

    expect(result.code).toBe(2);
    expect(result.stdout).toBe("");
    expect(result.stderr).toBe(general.stdout);
  });

  test("an unknown command exits 2 with a pointer to a help that exists", async () => {
    const result = await runKeyturn(["rotat", "keyturn/x"]);
    const pointers = helpPointers(result.stderr);

    const followed = await Promise.all(
      pointers.map(async (name) => (await runKeyturn(name ? [name, "--help"] : ["--help"])).code),
    );

    expect(result.code).toBe(2);
    expect(pointers).toHaveLength(1);
    expect(followed).toEqual([0]);
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

  test("npx keyturn --help works in the repository, and prints the general help", async () => {
    const general = await runKeyturn(["--help"]);

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
    expect(result.stdout).toBe(general.stdout);
  });
});
