// Code cites docs/ or a vendor's public page, never a file outside the repository (issue 17): the
// brief's DESIGN.md and VENDORS.md, the vendors' seed documents, the README sections that moved
// to docs/. And a docs/ page a comment or a message names exists.

import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { expect, test } from "vitest";

const ROOT = join(import.meta.dirname, "..", "..");
/** The code a newcomer reads; the contract tests read the vendors' specs from ../shared on purpose. */
const CODE = ["cli", "consumer", "functions", "infra", "sandbox", "bench", "scripts"];
const OUTSIDE = /DESIGN\.md|VENDORS\.md|seeds\/\d|shared\/vendor-specs|\(README[ ,]|README "|README's/;

function trackedFiles(): string[] {
  const listed = execFileSync("git", ["ls-files", "-co", "--exclude-standard", "--", ...CODE], {
    cwd: ROOT,
    encoding: "utf8",
  });
  return listed.split("\n").filter((file) => file.endsWith(".ts") && existsSync(join(ROOT, file)));
}

test("no code cites a file outside the repository or a README section that moved to docs/", () => {
  const files = trackedFiles();
  const citations = files.flatMap((file) =>
    readFileSync(join(ROOT, file), "utf8")
      .split("\n")
      .flatMap((line, index) => (OUTSIDE.test(line) ? [`${file}:${index + 1}: ${line.trim()}`] : [])),
  );

  expect(files.length).toBeGreaterThan(100);
  expect(citations).toEqual([]);
});

test("every docs/ page the code names exists", () => {
  const named = new Set(
    trackedFiles().flatMap((file) =>
      [...readFileSync(join(ROOT, file), "utf8").matchAll(/\bdocs\/[\w/.-]+\.md\b/g)].map(
        (match) => match[0],
      ),
    ),
  );

  expect(named.size).toBeGreaterThan(5);
  expect([...named].filter((page) => !existsSync(join(ROOT, page)))).toEqual([]);
});
