// The key a person hands over: from stdin when something is piped in, otherwise from a prompt
// on the terminal that does not echo. Never from argv (shell history, the process list).

import { createInterface } from "node:readline";
import { Writable } from "node:stream";
import { UsageError } from "./args.ts";
import { CommandFailure } from "./failure.ts";

const MAX_BYTES = 64 * 1024;

async function readAll(input: NodeJS.ReadStream): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of input) {
    const buffer = typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer);
    size += buffer.length;
    if (size > MAX_BYTES)
      throw new UsageError(`stdin holds more than ${MAX_BYTES / 1024} KiB: give the key alone`, "put");
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function promptHidden(prompt: string, input: NodeJS.ReadStream, echo: NodeJS.WriteStream): Promise<string> {
  return new Promise((resolve, reject) => {
    // readline echoes what is typed to its output: a sink, so the key never shows.
    const sink = new Writable({
      write(_chunk, _encoding, done) {
        done();
      },
    });
    const reader = createInterface({ input, output: sink, terminal: true });
    let settled = false;
    const finish = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      reader.close();
      echo.write("\n");
      outcome();
    };
    echo.write(prompt);
    reader.on("line", (line) => finish(() => resolve(line)));
    reader.on("SIGINT", () => finish(() => reject(new CommandFailure("cancelled; nothing was stored"))));
    reader.on("close", () => finish(() => reject(new UsageError("no key entered", "put"))));
  });
}

export async function readKey(
  prompt: string,
  input: NodeJS.ReadStream = process.stdin,
  echo: NodeJS.WriteStream = process.stderr,
): Promise<string> {
  const fromTerminal = input.isTTY === true;
  const key = (fromTerminal ? await promptHidden(prompt, input, echo) : await readAll(input)).trim();
  if (!key) {
    throw new UsageError(
      fromTerminal
        ? "no key entered"
        : "no key on stdin: pipe it in (pbpaste | keyturn put …, keyturn put … < file) or run put in a terminal to be prompted",
      "put",
    );
  }
  if (/[\r\n]/.test(key)) throw new UsageError("stdin holds more than one line: give the key alone", "put");
  return key;
}
