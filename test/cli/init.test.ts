// keyturn init: the project's example config, copied where the operator wants it.

import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { describe, expect, test } from "vitest";
import { lines, runKeyturn } from "./cli-sandbox.ts";

const EXAMPLE = join(import.meta.dirname, "..", "..", "config", "keyturn.example.json");

describe("keyturn init", () => {
  test("writes the example config, its $schema still pointing at the schema", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "keyturn-init-")), "keyturn.json");

    const result = await runKeyturn(["init", path]);

    expect(result.code).toBe(0);
    const written = JSON.parse(readFileSync(path, "utf8")) as { $schema?: string; credentials: unknown[] };
    const example = JSON.parse(readFileSync(EXAMPLE, "utf8")) as { $schema?: string; credentials: unknown[] };
    expect(written.credentials).toEqual(example.credentials);
    if (example.$schema) {
      expect(resolve(dirname(path), written.$schema ?? "")).toBe(resolve(dirname(EXAMPLE), example.$schema));
      expect(existsSync(resolve(dirname(path), written.$schema ?? ""))).toBe(true);
    }
    expect(lines(result.stdout)[0]).toBe(
      `Wrote an example config with ${example.credentials.length} credentials to ${path}.`,
    );
    // The page it sends the operator to is in the repository.
    expect(result.stdout).toContain("(docs/configuration.md)");
    expect(existsSync(join(import.meta.dirname, "..", "..", "docs", "configuration.md"))).toBe(true);
  });

  test("refuses to overwrite a file, unless --force", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "keyturn-init-")), "keyturn.json");
    writeFileSync(path, "mine");

    const refused = await runKeyturn(["init", path]);
    const forced = await runKeyturn(["init", path, "--force", "--json"]);

    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe(`keyturn: ${path} already exists; pass --force to overwrite it.\n`);
    expect(forced.code).toBe(0);
    expect(JSON.parse(forced.stdout)).toMatchObject({ path });
    expect(readFileSync(path, "utf8")).not.toBe("mine");
  });
});
