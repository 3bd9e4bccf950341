// The commands keyturn's CLI can run, found from its command modules (the files under
// cli/commands that export `run`) rather than from cli/args.ts, which the help is generated
// from: a list taken from the help's own table could not notice a command the help leaves out.

import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const COMMANDS_DIRECTORY = join(import.meta.dirname, "..", "..", "cli", "commands");

export const CLI_COMMANDS: readonly string[] = readdirSync(COMMANDS_DIRECTORY)
  .filter((file) => file.endsWith(".ts"))
  .filter((file) =>
    /^export (async )?function run\b/m.test(readFileSync(join(COMMANDS_DIRECTORY, file), "utf8")),
  )
  .map((file) => file.replace(/\.ts$/, ""))
  .sort();
