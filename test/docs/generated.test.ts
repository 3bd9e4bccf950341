// The generated parts of docs/ (configuration.md, cli.md, events.md) against the code they
// describe: each page is rendered again in memory by scripts/docs.ts and must equal the committed
// page. A difference means the code changed and the page did not: run `npm run docs`.

import { describe, expect, test } from "vitest";
import { committedPage, PAGES, renderPage } from "../../scripts/docs.ts";

describe("the generated reference pages", () => {
  test.each(PAGES.map((page) => [page.file, page] as const))(
    "%s is what the code generates",
    (file, page) => {
      const committed = committedPage(page);

      expect(committed, `${file} differs from what the code generates: run \`npm run docs\``).toBe(
        renderPage(page, committed),
      );
    },
  );

  test("a page whose generated part was edited by hand is caught", () => {
    const page = PAGES.find((candidate) => candidate.file === "docs/events.md");
    if (!page) throw new Error("docs/events.md is not a generated page");
    const committed = committedPage(page);
    const edited = committed.replace("| `critical` | always |", "| `warning` | always |");

    expect(edited).not.toBe(committed);
    expect(renderPage(page, edited)).not.toBe(edited);
    expect(renderPage(page, edited)).toBe(renderPage(page, committed));
  });

  test("a page that lost a region's markers fails to render, naming the region", () => {
    const page = PAGES.find((candidate) => candidate.file === "docs/cli.md");
    if (!page) throw new Error("docs/cli.md is not a generated page");
    const committed = committedPage(page);
    const withoutMarker = committed.replace("<!-- generated:end cli-put -->", "");

    expect(() => renderPage(page, withoutMarker)).toThrow(/"cli-put"/);
  });

  test("the CLI page documents every command and option the CLI defines", async () => {
    const { COMMANDS, GLOBAL_OPTIONS } = await import("../../cli/args.ts");
    const page = PAGES.find((candidate) => candidate.file === "docs/cli.md");
    if (!page) throw new Error("docs/cli.md is not a generated page");
    const text = committedPage(page);

    for (const [name, spec] of Object.entries(COMMANDS)) {
      expect(text, name).toContain(`## keyturn ${name}`);
      expect(text, name).toContain(`Usage: ${spec.usage}`);
      for (const option of Object.keys(spec.options))
        expect(text, `${name} --${option}`).toContain(`--${option}`);
    }
    for (const option of Object.keys(GLOBAL_OPTIONS)) expect(text, `--${option}`).toContain(`\`--${option}`);
  });

  test("the events page names every detail type of the catalog, with its severities", async () => {
    const { EVENT_CATALOG, SEVERITIES } = await import("#engine/event-catalog.ts");
    const page = PAGES.find((candidate) => candidate.file === "docs/events.md");
    if (!page) throw new Error("docs/events.md is not a generated page");
    const text = committedPage(page);

    for (const detailType of Object.keys(EVENT_CATALOG)) expect(text).toContain(`### ${detailType}\n`);
    for (const [detailType, severities] of Object.entries(SEVERITIES)) {
      const section = text.slice(text.indexOf(`### ${detailType}\n`)).split("\n### ")[0] ?? "";
      for (const [severity, when] of Object.entries(severities)) {
        expect(section, detailType).toContain(`- \`${severity}\`: ${when}`);
      }
    }
  });
});
