// The suite-wide leak guard (test/support/leak-scan-reset.ts) must find a secret wherever a test
// file's transcript or the console put it, or every "0 found" it prints means nothing.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, expect, test } from "vitest";
import { scanForLeaks } from "../../support/leak-scan-reset.ts";

const SECRET = "imm_4f1c2d9e8b7a6f5e";
let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "keyturn-leak-guard-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const dump = (name: string, secrets: string[], texts: string[]) =>
  writeFileSync(join(dir, `${name}.json`), JSON.stringify({ secrets, texts }));

test("a secret one file handed out and another file printed is found, abbreviated", () => {
  dump("simulator", [SECRET], []);
  dump("printer", [], [`{"level":"INFO","message":"minted ${SECRET}"}`]);

  expect(scanForLeaks(dir)).toMatchObject({ secrets: 1, leaked: ["imm_…"] });
});

test("a secret that reached only the console is found", () => {
  dump("simulator", [SECRET], ["nothing here"]);
  writeFileSync(join(dir, "console.txt"), `token: ${SECRET}\n`);

  expect(scanForLeaks(dir).leaked).toEqual(["imm_…"]);
});

test("key ids and other text are no leak", () => {
  dump("simulator", [SECRET], ["rotated keyturn/immuta key 7f0c", SECRET.slice(0, 7)]);

  expect(scanForLeaks(dir)).toMatchObject({ secrets: 1, leaked: [] });
});
