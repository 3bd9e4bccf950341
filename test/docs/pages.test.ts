// The documentation's shape (issue 17): a short README that sends a reader in trouble to the
// runbook first, the pages of docs/ it promises, and no relative link in README.md or docs/ that
// leads nowhere (a missing file, or a heading that was renamed or moved).

import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { describe, expect, test } from "vitest";

const ROOT = join(import.meta.dirname, "..", "..");
const PAGES = [
  "runbook.md",
  "architecture.md",
  "configuration.md",
  "cli.md",
  "events.md",
  "deploy.md",
  "operations.md",
  "testing.md",
  "benchmarks.md",
  "consumers.md",
  "layout.md",
  "decisions/README.md",
];

function markdownFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? markdownFiles(join(dir, entry.name))
      : entry.name.endsWith(".md")
        ? [join(dir, entry.name)]
        : [],
  );
}

/** The text outside fenced code blocks, where links and headings count. */
function prose(text: string): string {
  return text.replaceAll(/^```[\s\S]*?^```/gm, "");
}

/** The anchors GitHub gives a page's headings (lower case, punctuation dropped, "-1" for repeats). */
function anchors(file: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const [, heading] of prose(readFileSync(file, "utf8")).matchAll(/^#+ (.+)$/gm)) {
    const base = (heading ?? "")
      .trim()
      .toLowerCase()
      .replaceAll(/[^\p{L}\p{N}\- _]/gu, "")
      .replaceAll(" ", "-");
    const count = seen.get(base);
    seen.set(base, (count ?? -1) + 1);
    out.add(count === undefined ? base : `${base}-${count + 1}`);
  }
  return out;
}

/** Every relative link of a page that does not resolve, as "link (why)". */
function brokenLinks(file: string): string[] {
  const broken: string[] = [];
  for (const [, link] of prose(readFileSync(file, "utf8")).matchAll(/\]\(([^)\s]+)\)/g)) {
    if (!link || /^[a-z]+:/.test(link)) continue;
    const [path, anchor] = link.split("#");
    const target = path ? join(dirname(file), path) : file;
    if (!existsSync(target)) broken.push(`${link} (no such file)`);
    else if (anchor && target.endsWith(".md") && !anchors(target).has(anchor)) {
      broken.push(`${link} (no such heading)`);
    }
  }
  return broken;
}

describe("the documentation", () => {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");

  test("README.md is at most 300 lines", () => {
    expect(readme.split("\n").length).toBeLessThanOrEqual(300);
  });

  test("README.md links the runbook before any other page of docs/", () => {
    const first = prose(readme).match(/\]\((docs\/[^)#\s]+)/)?.[1];

    expect(first).toBe("docs/runbook.md");
  });

  test.each(PAGES)("docs/%s exists and README.md links it", (page) => {
    expect(existsSync(join(ROOT, "docs", page))).toBe(true);
    expect(readme).toContain(`](docs/${page})`);
  });

  test("every relative link in README.md and docs/ leads to a file and heading that exist", () => {
    const files = [join(ROOT, "README.md"), ...markdownFiles(join(ROOT, "docs"))];
    const broken = files.flatMap((file) =>
      brokenLinks(file).map((link) => `${relative(ROOT, file)}: ${link}`),
    );

    expect(files.length).toBeGreaterThan(PAGES.length);
    expect(broken).toEqual([]);
  });

  test("docs/layout.md names every folder of the repository and the folders inside them", () => {
    const layout = readFileSync(join(ROOT, "docs", "layout.md"), "utf8");
    // Not the repository's: what .gitignore leaves out, and git's own.
    const ignored = new Set([".git", "node_modules", ".venv", "cdk.out", "coverage", ".keyturn"]);
    const folders = (dir: string) =>
      readdirSync(join(ROOT, dir), { withFileTypes: true })
        .filter((entry) => entry.isDirectory() && !ignored.has(entry.name))
        .map((entry) => entry.name);
    const top = folders(".");
    const missing = [...top, ...top.flatMap(folders)].filter((folder) => !layout.includes(`${folder}/`));

    expect(top).toContain("functions");
    expect(missing).toEqual([]);
  });

  test("the link check catches a link to a heading that does not exist", () => {
    const runbook = join(ROOT, "docs", "runbook.md");

    expect(anchors(runbook).has("a-key-has-leaked")).toBe(true);
    expect(anchors(runbook).has("a-key-has-leakd")).toBe(false);
  });
});
