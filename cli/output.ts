// What the CLI writes: results on stdout (text or JSON), progress and errors on stderr.
// Colour only on a terminal and only without NO_COLOR; progress only for work that takes more
// than a second. Every line passes through the redactor, the last guard against a secret
// value reaching the terminal.

import { redactText } from "#http/redact.ts";

const ESC = "\u001b[";
const COLOURS = { red: "31", green: "32", yellow: "33", cyan: "36", dim: "2", bold: "1" } as const;
export type Colour = keyof typeof COLOURS;

/** The CLI's own colour sequences, which printable() keeps. */
const OWN_SEQUENCES = [...Object.values(COLOURS), "0"].map((code) => `${ESC}${code}m`);

/**
 * `text` without the control characters a vendor's or an AWS answer may carry into a message (a
 * cursor move, a screen clear, a bell, a fake prompt after a carriage return): every C0 and C1
 * control but line breaks and tabs is dropped, and an escape only survives as one of the CLI's own
 * colours.
 */
export function printable(text: string): string {
  let kept = "";
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === 0x1b) {
      const own = OWN_SEQUENCES.find((sequence) => text.startsWith(sequence, i));
      if (own) {
        kept += own;
        i += own.length - 1;
      }
      continue;
    }
    const control = (code < 0x20 && code !== 0x0a && code !== 0x09) || (code >= 0x7f && code <= 0x9f);
    if (!control) kept += text[i];
  }
  return kept;
}

const PROGRESS_AFTER_MS = 1_000;
const SPINNER = ["|", "/", "-", "\\"];

function colourWanted(stream: NodeJS.WriteStream, env: NodeJS.ProcessEnv): boolean {
  // https://no-color.org: present and not empty disables colour.
  return stream.isTTY === true && !env.NO_COLOR && env.TERM !== "dumb";
}

export class Output {
  readonly json: boolean;
  readonly #stdout: NodeJS.WriteStream;
  readonly #stderr: NodeJS.WriteStream;
  readonly #colourOut: boolean;
  readonly #colourErr: boolean;

  constructor(options: {
    json: boolean;
    stdout?: NodeJS.WriteStream;
    stderr?: NodeJS.WriteStream;
    env?: NodeJS.ProcessEnv;
  }) {
    this.json = options.json;
    this.#stdout = options.stdout ?? process.stdout;
    this.#stderr = options.stderr ?? process.stderr;
    const env = options.env ?? process.env;
    this.#colourOut = colourWanted(this.#stdout, env);
    this.#colourErr = colourWanted(this.#stderr, env);
  }

  /** `text` in a colour, if stdout shows colour. */
  paint(text: string, colour: Colour): string {
    return this.#colourOut ? `${ESC}${COLOURS[colour]}m${text}${ESC}0m` : text;
  }

  /** A result line on stdout. */
  line(text = ""): void {
    this.#stdout.write(`${printable(redactText(text))}\n`);
  }

  /** A result object as JSON on stdout. */
  result(value: unknown): void {
    this.#stdout.write(`${redactText(JSON.stringify(value, null, 2))}\n`);
  }

  /** A note on stderr (never mixed with results). */
  note(text: string): void {
    this.#stderr.write(`${printable(redactText(text))}\n`);
  }

  /** The one-line error on stderr. */
  error(text: string): void {
    const prefix = this.#colourErr ? `${ESC}${COLOURS.red}mkeyturn:${ESC}0m` : "keyturn:";
    this.#stderr.write(`${prefix} ${printable(redactText(text))}\n`);
  }

  /**
   * Runs `work`; if it takes more than a second, says so on stderr: a spinner with the elapsed
   * time on a terminal, one line otherwise.
   */
  async progress<T>(label: string, work: () => Promise<T>): Promise<T> {
    const started = Date.now();
    const tty = this.#stderr.isTTY === true;
    let ticker: NodeJS.Timeout | undefined;
    let frame = 0;
    let shown = false;
    const draw = () => {
      const seconds = Math.floor((Date.now() - started) / 1000);
      this.#stderr.write(`\r${ESC}2K${SPINNER[frame++ % SPINNER.length]} ${redactText(label)} ${seconds} s`);
    };
    const timer = setTimeout(() => {
      shown = true;
      if (tty) {
        draw();
        ticker = setInterval(draw, 100);
      } else {
        this.#stderr.write(`${redactText(label)}…\n`);
      }
    }, PROGRESS_AFTER_MS);
    try {
      return await work();
    } finally {
      clearTimeout(timer);
      if (ticker) clearInterval(ticker);
      if (shown && tty) this.#stderr.write(`\r${ESC}2K`);
    }
  }

  /** A table on stdout: columns padded to their widest cell, cells coloured after padding. */
  table(headers: string[], rows: { cells: string[]; colours?: (Colour | undefined)[] }[]): void {
    const widths = headers.map((header, i) =>
      Math.max(header.length, ...rows.map((row) => (row.cells[i] ?? "").length)),
    );
    const render = (cells: string[], colours: (Colour | undefined)[] = []) =>
      cells
        .map((cell, i) => {
          const padded = i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0);
          const colour = colours[i];
          return colour ? this.paint(padded, colour) : padded;
        })
        .join("  ")
        .trimEnd();
    this.line(
      render(
        headers,
        headers.map(() => "bold"),
      ),
    );
    for (const row of rows) this.line(render(row.cells, row.colours));
  }
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** A duration as people read it in a table: 45s, 12m, 5h, 3d 4h, 90d. */
export function shortDuration(ms: number): string {
  const abs = Math.abs(ms);
  if (abs < MINUTE) return `${Math.round(abs / 1000)}s`;
  if (abs < HOUR) return `${Math.floor(abs / MINUTE)}m`;
  if (abs < DAY) return `${Math.floor(abs / HOUR)}h`;
  const days = Math.floor(abs / DAY);
  const hours = Math.floor((abs % DAY) / HOUR);
  return days < 3 && hours > 0 ? `${days}d ${hours}h` : `${days}d`;
}

/** A moment relative to now: "in 3d", "2h ago". */
export function relative(at: Date, now: Date): string {
  const ms = at.getTime() - now.getTime();
  if (Math.abs(ms) < MINUTE) return "now";
  return ms > 0 ? `in ${shortDuration(ms)}` : `${shortDuration(ms)} ago`;
}
