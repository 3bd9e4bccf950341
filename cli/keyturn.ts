#!/usr/bin/env node
// keyturn: the operator CLI (docs/cli.md). See where every credential stands, rotate
// one now, kill a leaked key, hand over a key minted by hand, check a credential without
// changing anything, start a config. Exit codes: 0 ok, 1 failure, 2 usage. Errors are one line
// on stderr; KEYTURN_DEBUG=1 adds the stack. No secret value is ever printed.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { redactText } from "#http/redact.ts";
import { commandHelp, DEFAULT_BUS, generalHelp, parseCommandLine } from "./args.ts";
import type { CommandRun, ExitCode } from "./command.ts";
import { describeFailure, type FailureContext } from "./failure.ts";
import { Output } from "./output.ts";

// Loaded on demand, so that --help does not pay for the AWS SDK.
const COMMAND_MODULES: Record<string, () => Promise<{ run(run: CommandRun): Promise<ExitCode> }>> = {
  status: () => import("./commands/status.ts"),
  rotate: () => import("./commands/rotate.ts"),
  revoke: () => import("./commands/revoke.ts"),
  put: () => import("./commands/put.ts"),
  verify: () => import("./commands/verify.ts"),
  init: () => import("./commands/init.ts"),
};

function version(): string {
  const manifest = JSON.parse(readFileSync(join(import.meta.dirname, "..", "package.json"), "utf8")) as {
    version?: string;
  };
  return manifest.version ?? "unknown";
}

/** The error, its causes and their stacks, redacted: what KEYTURN_DEBUG=1 adds. */
function debugTrace(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 5; depth++) {
    parts.push(current instanceof Error ? (current.stack ?? String(current)) : String(current));
    current = current instanceof Error ? current.cause : undefined;
  }
  return redactText(parts.join("\ncaused by: "));
}

function text(value: string | boolean | undefined): string | undefined {
  return typeof value === "string" ? value : undefined;
}

async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<ExitCode> {
  const out = new Output({ json: argv.includes("--json") });
  const context: FailureContext = {
    command: "keyturn",
    where: "AWS",
    bus: env.KEYTURN_EVENT_BUS_NAME || DEFAULT_BUS,
  };
  try {
    const parsed = parseCommandLine(argv);
    context.command = parsed.command;
    if (parsed.command === "version") {
      out.line(version());
      return 0;
    }
    if (parsed.command === "usage") {
      process.stderr.write(generalHelp());
      return 2;
    }
    if (parsed.command === "help") {
      const [about] = parsed.positionals;
      process.stdout.write(about ? commandHelp(about) : generalHelp());
      return 0;
    }
    const load = COMMAND_MODULES[parsed.command];
    if (!load) throw new Error(`no module for command ${parsed.command}`);
    const { options } = parsed;
    if (typeof options.bus === "string") context.bus = options.bus;
    // The handlers' structured logs are for CloudWatch; here they would bury the result.
    // POWERTOOLS_LOG_LEVEL set by the operator brings them back (on stdout). Set before the logger
    // is built, as its initial level: Powertools' injectLambdaContext (functions/handlers/
    // middleware.ts) puts a warm invocation's logger back to the initial level.
    if (!env.POWERTOOLS_LOG_LEVEL) process.env.POWERTOOLS_LOG_LEVEL = "SILENT";
    const { logger } = await import("#engine/logger.ts");
    if (!env.POWERTOOLS_LOG_LEVEL) logger.setLogLevel("SILENT");
    const command = await load();
    return await command.run({
      positionals: parsed.positionals,
      options,
      out,
      env,
      context,
      connect: async () => {
        const { connect } = await import("./connection.ts");
        const connection = await connect(
          {
            region: text(options.region),
            profile: text(options.profile),
            endpoint: text(options.endpoint),
            vendorEndpoint: text(options["vendor-endpoint"]),
            bus: text(options.bus),
            sandbox: options.sandbox === true,
          },
          env,
        );
        context.where = connection.where;
        return connection;
      },
    });
  } catch (error) {
    const failure = describeFailure(error, context);
    out.error(failure.message);
    if (env.KEYTURN_DEBUG === "1") out.note(debugTrace(error));
    return failure.exitCode;
  }
}

process.exitCode = await main(process.argv.slice(2), process.env);
