// The command line: which commands exist, their options and help texts, and the parsing of
// argv into one command. A mistake here is a UsageError (exit 2) whose one-line message names
// the option, never the value given to it: a key pasted in the wrong place must not be echoed.

import { parseArgs } from "node:util";
import { DEFAULT_BUS_NAME } from "#engine/defaults.ts";

export class UsageError extends Error {
  override name = "UsageError";
  /** The command whose --help to point at, if known. */
  readonly command: string | undefined;

  constructor(message: string, command?: string) {
    super(message);
    this.command = command;
  }
}

interface OptionSpec {
  type: "string" | "boolean";
  /** Placeholder shown in help for a string option, e.g. "<region>". */
  value?: string;
  short?: string;
  description: string;
}

export interface CommandSpec {
  summary: string;
  usage: string;
  /** Names of the positionals, in order; "?" marks an optional one. */
  positionals: string[];
  options: Record<string, OptionSpec>;
  /** What it does and how, for --help. */
  details: string;
  examples: string[];
}

/** The bus (and so the tables and revoke function) a deployment with no busName has (functions/engine/defaults.ts). */
export const DEFAULT_BUS = DEFAULT_BUS_NAME;

export const GLOBAL_OPTIONS: Record<string, OptionSpec> = {
  region: {
    type: "string",
    value: "<region>",
    description: "AWS region (default: AWS_REGION, or the profile's)",
  },
  profile: {
    type: "string",
    value: "<name>",
    description: "AWS profile from ~/.aws/config (default: AWS_PROFILE)",
  },
  endpoint: {
    type: "string",
    value: "<url>",
    description: "AWS endpoint, e.g. the sandbox's moto server (default: AWS_ENDPOINT_URL)",
  },
  "vendor-endpoint": {
    type: "string",
    value: "<url>",
    description: "send every vendor call to this loopback hub (default: KEYTURN_VENDOR_ENDPOINT)",
  },
  bus: {
    type: "string",
    value: "<name>",
    description: 'EventBridge bus keyturn publishes to (default: KEYTURN_EVENT_BUS_NAME, or "keyturn")',
  },
  sandbox: {
    type: "boolean",
    description:
      "local sandbox: rotate in-process, as moto cannot run the rotate Lambda (also KEYTURN_SANDBOX=1)",
  },
  json: { type: "boolean", description: "print the result as JSON on stdout" },
  help: { type: "boolean", short: "h", description: "show help" },
};

const TIMEOUT: OptionSpec = {
  type: "string",
  value: "<duration>",
  description: "how long to wait for the rotation, e.g. 90s, 5m (default 5m)",
};

const SANDBOX_ROTATION =
  "Against AWS, the rotation is Secrets Manager's: keyturn calls RotateSecret and waits until keyturn's\n" +
  "rotate function has made the new key AWSCURRENT. Against the sandbox (KEYTURN_SANDBOX=1 or --sandbox),\n" +
  "moto cannot run a rotation Lambda, so the CLI plays Secrets Manager itself: it runs keyturn's real\n" +
  "rotate handler in-process, the four steps with one token, retried as Secrets Manager retries.";

export const COMMANDS: Record<string, CommandSpec> = {
  status: {
    summary: "where every credential stands: age, last rotation, next action, expiry, state",
    usage: "keyturn status [--json]",
    positionals: [],
    options: {},
    details:
      "Lists every secret tagged keyturn:provider, from ListSecrets pages alone (tags and staging labels):\n" +
      "no secret value is read and no vendor is called, so it needs only secretsmanager:ListSecrets.\n" +
      "\n" +
      "Columns: the credential, its provider and mode (automatic: keyturn mints keys; manual: a person\n" +
      "replaces them; refresh: a person replaces the key, keyturn refreshes its tokens), the age of the\n" +
      "current key, the last rotation, the next thing keyturn or a person must do and when, the expiry,\n" +
      "and the state (ok, expiring, expired, replace-due, rotating, invalid).",
    examples: ["keyturn status", "keyturn status --json | jq '.credentials[] | select(.state != \"ok\")'"],
  },
  rotate: {
    summary: "rotate an automatic credential now and wait for the new key",
    usage: "keyturn rotate <credential> [--timeout <duration>]",
    positionals: ["credential"],
    options: { timeout: TIMEOUT },
    details:
      "Mints a successor at the vendor through keyturn's rotation protocol, makes it AWSCURRENT and\n" +
      "prints the new and old key ids. The old key stays valid for the grace period\n" +
      "(keyturn:grace-period), then the monitor revokes it. Only for automatic providers (Immuta,\n" +
      "SoftwareOne); a key only a person can mint is replaced with keyturn put.\n" +
      "\n" +
      `${SANDBOX_ROTATION}\n` +
      "\n" +
      "<credential> is the secret's name (or ARN).",
    examples: [
      "keyturn rotate keyturn/immuta-request-app",
      "keyturn rotate keyturn/softwareone-catalog --timeout 10m --json",
    ],
  },
  revoke: {
    summary: "emergency revoke: kill a leaked key now and issue a new one",
    usage: "keyturn revoke <credential> --reason <text> [--previous] [--timeout <duration>]",
    positionals: ["credential"],
    options: {
      reason: {
        type: "string",
        value: "<text>",
        description: "why (required; goes into the logs and the Credential Revoked event)",
      },
      previous: {
        type: "boolean",
        description: "the leaked key is the previous one (already rotated away): only revoke it",
      },
      timeout: TIMEOUT,
    },
    details:
      "For the current key: rotates at once, waits for the new key to be AWSCURRENT, then revokes the\n" +
      "leaked key hard (deleted, not disabled) with no grace period and no in-use wait, and publishes\n" +
      '"Credential Revoked" (reason compromised). If the rotation fails the leaked key is revoked anyway\n' +
      '(an outage beats a leak), a critical "Credential Rotation Failed" is published and keyturn exits 1:\n' +
      "consumers are without a working key until one is stored with keyturn put.\n" +
      "With --previous, the previous key is revoked and nothing is rotated.\n" +
      "Against AWS, keyturn's deployed revoke function does it (<bus>-revoke, or KEYTURN_REVOKE_FUNCTION):\n" +
      "you need lambda:InvokeFunction on it, and it holds the credential's cooldown (revokeCooldown) like\n" +
      "every request; --timeout then does not apply (the function's own 10 minutes do). Only for\n" +
      "automatic providers; for the others revoke the key in the vendor's UI and keyturn put a new one.\n" +
      "\n" +
      `${SANDBOX_ROTATION}`,
    examples: [
      'keyturn revoke keyturn/softwareone-catalog --reason "token pasted in a public issue"',
      'keyturn revoke keyturn/immuta-request-app --previous --reason "old token found in a log"',
    ],
  },
  put: {
    summary: "hand over a key minted by hand; verified before it becomes current",
    usage: "keyturn put <credential> [--key-id <id>] [--expires-at <date>]",
    positionals: ["credential"],
    options: {
      "key-id": {
        type: "string",
        value: "<id>",
        description: "the key's id or name at the vendor (Everflow, Incorta v2, Immuta: required)",
      },
      "expires-at": {
        type: "string",
        value: "<date>",
        description: "when the key expires, ISO 8601 (Incorta v2: required; Immuta: optional)",
      },
    },
    details:
      "Reads the new key from stdin, or from a hidden prompt when stdin is a terminal; never from the\n" +
      "command line, where shell history and the process list would keep it. The key is stored as\n" +
      "AWSPENDING, verified with the vendor, and only then made AWSCURRENT; a key the vendor refuses\n" +
      "changes nothing. What else the value needs (cluster, tenant, region, account…) is kept from the\n" +
      "current value. Works for every provider; for automatic ones it replaces a key by hand.\n" +
      "\n" +
      "What each provider takes besides the key:\n" +
      "  everflow        --key-id <the key's Name in Account > API Keys>\n" +
      "  incorta-v2      --key-id <the token's name> --expires-at <its expiration date>\n" +
      "  incorta-v1      nothing (the key id is the key's fingerprint)\n" +
      "  softwareone     nothing (the key id is inside the token, idt:TKN-…:…)\n" +
      "  immuta-request  --key-id <the token id> [--expires-at <date>]",
    examples: [
      'keyturn put keyturn/everflow-partner --key-id "reporting sync 2027"     (then paste the key)',
      "pbpaste | keyturn put keyturn/incorta-reporting-pat --key-id reporting-2027 --expires-at 2027-12-31",
      "keyturn put keyturn/incorta-analytics < new-key.txt",
    ],
  },
  verify: {
    summary: "dry run: check the current key, and that the issuer can manage keys",
    usage: "keyturn verify <credential>",
    positionals: ["credential"],
    options: {},
    details:
      "Checks, changing nothing at the vendor or in AWS:\n" +
      "  - the current key authenticates at the vendor (the provider's cheap check; for Incorta v1 that\n" +
      "    mints a short-lived token pair, which is left to expire);\n" +
      "  - for automatic providers, that the key which mints this one's successors (its issuer, or the\n" +
      "    key itself) can list keys at the vendor, the call rotation and revocation start with.\n" +
      "Nothing is minted or revoked, so whether the vendor would allow minting and revoking is not\n" +
      "proven; a rotation is the full test. Exits 1 if any check fails.",
    examples: [
      "keyturn verify keyturn/softwareone-catalog",
      "keyturn verify keyturn/everflow-partner --json",
    ],
  },
  init: {
    summary: "write an example config file to start from",
    usage: "keyturn init [path] [--force]",
    positionals: ["path?"],
    options: { force: { type: "boolean", description: "overwrite an existing file" } },
    details:
      "Writes keyturn's example config (config/keyturn.example.json: one credential of each provider,\n" +
      "valid against config/keyturn.config.schema.json) to path, default keyturn.config.json, with its\n" +
      '"$schema" pointing at the schema from there. Needs no AWS access. Refuses to overwrite a file\n' +
      "unless --force. Deploy it by naming it in the cdk.json context keyturn:config.",
    examples: ["keyturn init", "keyturn init config/keyturn.json --force"],
  },
};

export type CommandName = keyof typeof COMMANDS;

export interface ParsedCommand {
  command: string;
  positionals: string[];
  /** Options by name: string values, or true for booleans given. */
  options: Record<string, string | boolean>;
}

/** Every option of every command, so that the command can be found wherever options stand. */
function allOptions(): Record<string, { type: "string" | "boolean"; short?: string }> {
  const all: Record<string, { type: "string" | "boolean"; short?: string }> = {};
  for (const spec of [GLOBAL_OPTIONS, ...Object.values(COMMANDS).map((c) => c.options)]) {
    for (const [name, option] of Object.entries(spec)) {
      all[name] = option.short ? { type: option.type, short: option.short } : { type: option.type };
    }
  }
  return all;
}

/**
 * Parses argv (without node and the script). `--help`/`-h` anywhere and `help [command]` come
 * back as the pseudo-command "help" (positional: the command asked about), `--version` alone
 * as "version", and no arguments at all as "usage".
 */
export function parseCommandLine(args: string[]): ParsedCommand {
  const { tokens } = parseArgs({
    args,
    options: allOptions(),
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const positionals = tokens.filter((t) => t.kind === "positional").map((t) => t.value);
  const first = positionals[0];
  const wantsHelp = tokens.some((t) => t.kind === "option" && t.name === "help");
  const wantsVersion = tokens.some((t) => t.kind === "option" && t.name === "version");

  if (first === undefined) {
    if (wantsVersion) return { command: "version", positionals: [], options: {} };
    return { command: wantsHelp ? "help" : "usage", positionals: [], options: {} };
  }
  if (first === "help") return { command: "help", positionals: positionals.slice(1, 2), options: {} };
  const spec = COMMANDS[first];
  if (!spec) {
    // Echoed only when it looks like a mistyped command, not like something pasted.
    const shown = /^[a-z][a-z-]{0,19}$/.test(first) ? ` "${first}"` : "";
    throw new UsageError(`unknown command${shown}; commands: ${Object.keys(COMMANDS).join(", ")}`);
  }
  if (wantsHelp) return { command: "help", positionals: [first], options: {} };

  const allowed: Record<string, OptionSpec> = { ...GLOBAL_OPTIONS, ...spec.options };
  const options: Record<string, string | boolean> = {};
  for (const token of tokens) {
    if (token.kind !== "option") continue;
    const option = allowed[token.name];
    if (!option) {
      if (first === "put" && /^(key|token|api-?key|value|secret|password)$/i.test(token.name)) {
        throw new UsageError(
          `put takes the key from stdin or a hidden prompt, never from an option such as ${token.rawName} ` +
            "(shell history and the process list would keep it)",
          first,
        );
      }
      throw new UsageError(`${first} has no option ${token.rawName}`, first);
    }
    if (option.type === "string") {
      if (token.value === undefined || token.value === "") {
        throw new UsageError(`${token.rawName} needs a value ${option.value ?? ""}`.trim(), first);
      }
      options[token.name] = token.value;
    } else {
      if (token.inlineValue) throw new UsageError(`${token.rawName} takes no value`, first);
      options[token.name] = true;
    }
  }
  const given = positionals.slice(1);
  const required = spec.positionals.filter((p) => !p.endsWith("?"));
  if (given.length < required.length) {
    throw new UsageError(`${first} needs <${required[given.length]}>: ${spec.usage}`, first);
  }
  if (given.length > spec.positionals.length) {
    const what =
      first === "put"
        ? "put takes one credential; the key is read from stdin or a hidden prompt, never from the command line"
        : `${first} takes ${spec.positionals.length === 0 ? "no arguments" : `${spec.positionals.length} argument(s)`}: ${spec.usage}`;
    throw new UsageError(what, first);
  }
  return { command: first, positionals: given, options };
}

function optionLines(options: Record<string, OptionSpec>): string[] {
  const rows = Object.entries(options).map(([name, option]) => {
    const flag = `${option.short ? `-${option.short}, ` : ""}--${name}${option.value ? ` ${option.value}` : ""}`;
    return [flag, option.description] as const;
  });
  const width = Math.max(...rows.map(([flag]) => flag.length));
  return rows.map(([flag, description]) => `  ${flag.padEnd(width)}  ${description}`);
}

export function commandHelp(name: string): string {
  const spec = COMMANDS[name];
  if (!spec) return generalHelp();
  const own = Object.keys(spec.options).length > 0 ? ["Options:", ...optionLines(spec.options), ""] : [];
  return [
    `keyturn ${name}: ${spec.summary}`,
    "",
    `Usage: ${spec.usage}`,
    "",
    spec.details,
    "",
    ...own,
    "Global options:",
    ...optionLines(GLOBAL_OPTIONS),
    "",
    "Examples:",
    ...spec.examples.map((example) => `  ${example}`),
    "",
    "Exit codes: 0 ok, 1 failure, 2 usage error.",
    "",
  ].join("\n");
}

export function generalHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length));
  return [
    "keyturn: operate the credentials keyturn keeps in AWS Secrets Manager",
    "",
    "Usage: keyturn <command> [arguments] [options]",
    "",
    "Commands:",
    ...Object.entries(COMMANDS).map(([name, spec]) => `  ${name.padEnd(width)}  ${spec.summary}`),
    "",
    "Global options:",
    ...optionLines(GLOBAL_OPTIONS),
    "  --version                print keyturn's version",
    "",
    "AWS access uses the default credential chain (environment, profile, SSO, instance role) and",
    "region. Against the local sandbox (npm run sandbox) set AWS_ENDPOINT_URL, KEYTURN_VENDOR_ENDPOINT\n" +
      "and KEYTURN_SANDBOX=1 as it prints them; rotations then run in-process (see keyturn rotate --help).",
    "Errors are one line on stderr (KEYTURN_DEBUG=1 adds the stack); no secret value is ever printed.",
    "Exit codes: 0 ok, 1 failure, 2 usage error.",
    "",
    "Run keyturn <command> --help for a command's options and examples.",
    "",
  ].join("\n");
}
