// Set up in every test file (vitest setupFiles): records what the file's tests print, and at
// the end dumps the transcript (sandbox/transcript.ts) for the suite-wide leak guard, which
// runs after every other test (test/leak-guard/).
import { randomUUID } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll } from "vitest";
import { transcript } from "#sandbox/transcript.ts";
import { leakScanDir } from "./leak-scan-dir.ts";

for (const stream of [process.stdout, process.stderr]) {
  const write = stream.write.bind(stream);
  stream.write = ((chunk: unknown, ...rest: unknown[]) => {
    transcript.text(typeof chunk === "string" ? chunk : Buffer.from(chunk as Uint8Array).toString("utf8"));
    return (write as (...args: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof stream.write;
}

afterAll(() => {
  const dir = leakScanDir();
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${randomUUID()}.json`), JSON.stringify(transcript.drain()));
});
