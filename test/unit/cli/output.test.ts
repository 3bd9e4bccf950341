// The CLI's output rules, in-process with stand-in streams: colour only on a terminal and
// without NO_COLOR, progress only for work that takes more than a second.

import { afterEach, describe, expect, test, vi } from "vitest";
import { Output, relative, shortDuration } from "../../../cli/output.ts";

function stream(isTTY: boolean) {
  const written: string[] = [];
  const fake = {
    isTTY,
    write(chunk: string) {
      written.push(chunk);
      return true;
    },
  } as unknown as NodeJS.WriteStream;
  return { fake, text: () => written.join("") };
}

afterEach(() => {
  vi.useRealTimers();
});

describe("colour", () => {
  test("is used on a terminal", () => {
    const out = stream(true);
    new Output({ json: false, stdout: out.fake, stderr: stream(true).fake, env: {} }).line(
      new Output({ json: false, stdout: out.fake, env: {} }).paint("ok", "green"),
    );

    expect(out.text()).toBe("\u001b[32mok\u001b[0m\n");
  });

  test("is not used when stdout is not a terminal", () => {
    expect(new Output({ json: false, stdout: stream(false).fake, env: {} }).paint("ok", "green")).toBe("ok");
  });

  test("is not used when NO_COLOR is set, even on a terminal", () => {
    expect(
      new Output({ json: false, stdout: stream(true).fake, env: { NO_COLOR: "1" } }).paint("ok", "green"),
    ).toBe("ok");
  });
});

describe("control characters from a vendor's or AWS's answer", () => {
  // Acting as a vendor (or anyone whose text reaches an error): an answer that moves the cursor,
  // clears the screen or rings the bell to fake what the operator sees.
  const hostile = "refused\u001b[2J\u001b[1;1Hkeyturn: all keys revoked, nothing to do\u0007\r\u009b31m";

  test("are dropped from errors, notes and lines, keeping line breaks, tabs and the CLI's own colours", () => {
    const out = stream(true);
    const err = stream(true);
    const output = new Output({ json: false, stdout: out.fake, stderr: err.fake, env: {} });

    output.error(`the vendor said: ${hostile}`);
    output.note(hostile);
    output.line(`${output.paint("ok", "green")}\t${hostile}\nnext`);

    for (const control of ["\u001b[2J", "\u001b[1;1H", "\u0007", "\r", "\u009b"]) {
      expect(err.text()).not.toContain(control);
    }
    expect(err.text()).toContain("refused[2J[1;1Hkeyturn: all keys revoked");
    expect(out.text()).toBe(
      `\u001b[32mok\u001b[0m\trefused[2J[1;1Hkeyturn: all keys revoked, nothing to do31m\nnext\n`,
    );
  });
});

describe("progress", () => {
  test("says nothing for work done within a second", async () => {
    vi.useFakeTimers();
    const err = stream(false);
    const output = new Output({ json: false, stdout: stream(false).fake, stderr: err.fake, env: {} });

    const work = output.progress("rotating", async () => {
      await vi.advanceTimersByTimeAsync(900);
      return 7;
    });

    expect(await work).toBe(7);
    expect(err.text()).toBe("");
  });

  test("says what it is doing on stderr once work takes more than a second", async () => {
    vi.useFakeTimers();
    const err = stream(false);
    const output = new Output({ json: false, stdout: stream(false).fake, stderr: err.fake, env: {} });

    await output.progress("rotating keyturn/x", () => vi.advanceTimersByTimeAsync(1_500));

    expect(err.text()).toBe("rotating keyturn/x…\n");
  });

  test("on a terminal, spins with the elapsed seconds and clears its line at the end", async () => {
    vi.useFakeTimers();
    const err = stream(true);
    const output = new Output({ json: false, stdout: stream(true).fake, stderr: err.fake, env: {} });

    await output.progress("rotating", () => vi.advanceTimersByTimeAsync(2_050));

    expect(err.text()).toContain("rotating 2 s");
    expect(err.text().endsWith("\r\u001b[2K")).toBe(true);
  });
});

describe("durations", () => {
  test("are short and relative to now", () => {
    const now = new Date("2026-11-22T10:00:00Z");

    expect(shortDuration(90_000)).toBe("1m");
    expect(shortDuration(26 * 3_600_000)).toBe("1d 2h");
    expect(shortDuration(40 * 86_400_000)).toBe("40d");
    expect(relative(new Date("2026-11-25T10:00:00Z"), now)).toBe("in 3d");
    expect(relative(new Date("2026-11-22T07:00:00Z"), now)).toBe("3h ago");
    expect(relative(new Date("2026-11-22T10:00:20Z"), now)).toBe("now");
  });
});
