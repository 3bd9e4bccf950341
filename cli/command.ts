// What every command gets: its arguments, the output, the environment, and a lazy connection
// to AWS (init needs none). It answers the exit code.

import type { Connection } from "./connection.ts";
import type { FailureContext } from "./failure.ts";
import type { Output } from "./output.ts";

export interface CommandRun {
  positionals: string[];
  options: Record<string, string | boolean>;
  out: Output;
  env: NodeJS.ProcessEnv;
  /** Facts for the error line, filled in as the command learns them. */
  context: FailureContext;
  connect(): Promise<Connection>;
}

export type ExitCode = 0 | 1 | 2;
