// keyturn init: writes the project's example config (config/keyturn.example.json, one
// credential of each kind, valid against the config schema) to start from. Its "$schema" is
// pointed back at the schema from where the copy lands, so that editors keep validating it.

import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import type { CommandRun, ExitCode } from "../command.ts";
import { CommandFailure } from "../failure.ts";

const DEFAULT_PATH = "keyturn.config.json";
const EXAMPLE = join(import.meta.dirname, "..", "..", "config", "keyturn.example.json");
const SCHEMA_REFERENCE = /("\$schema"\s*:\s*")([^"]*)(")/;

/** The example's text with its relative "$schema" rewritten for a copy at `path`. */
function exampleFor(path: string): string {
  const example = readFileSync(EXAMPLE, "utf8");
  const reference = SCHEMA_REFERENCE.exec(example)?.[2];
  if (!reference || isAbsolute(reference) || /^[a-z]+:\/\//i.test(reference)) return example;
  const schema = resolve(dirname(EXAMPLE), reference);
  if (!existsSync(schema)) return example;
  let fromCopy = relative(dirname(resolve(path)), schema)
    .split("\\")
    .join("/");
  if (!fromCopy.startsWith(".")) fromCopy = `./${fromCopy}`;
  return example.replace(SCHEMA_REFERENCE, (_match, before: string, _old: string, after: string) => {
    return `${before}${fromCopy}${after}`;
  });
}

export async function run({ positionals, options, out }: CommandRun): Promise<ExitCode> {
  const path = positionals[0] ?? DEFAULT_PATH;
  if (!existsSync(EXAMPLE)) {
    throw new CommandFailure(`The example config is missing from this installation (${EXAMPLE}).`);
  }
  const content = exampleFor(path);
  try {
    writeFileSync(path, content, { flag: options.force === true ? "w" : "wx" });
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === "EEXIST") throw new CommandFailure(`${path} already exists; pass --force to overwrite it.`);
    throw new CommandFailure(
      `Could not write ${path} (${typeof code === "string" ? code : "write failed"}): check that its folder ` +
        "exists and is writable.",
    );
  }
  const credentials = (JSON.parse(content) as { credentials?: { name?: string }[] }).credentials ?? [];
  if (out.json) {
    out.result({ path, credentials: credentials.map((c) => c.name) });
    return 0;
  }
  out.line(`Wrote an example config with ${credentials.length} credentials to ${path}.`);
  out.line(
    "Replace the example credentials and alert addresses with yours, then deploy it: point the cdk.json " +
      'context "keyturn:config" at the file and run npx cdk deploy (docs/configuration.md).',
  );
  return 0;
}
