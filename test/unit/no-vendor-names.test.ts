// A provider is one folder that owns its vendor (functions/providers/<id>/): the deployment code
// (infra/) and the HTTP layer (functions/http/) name no vendor and no vendor host, comments
// included, so that adding or removing a vendor never touches them. This test reads their source
// and fails on any of the names below; it also fails when a registered provider's vendor is
// missing from the list, so that a vendor added later is looked for too.

import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, test } from "vitest";
import { PROVIDER_IDS, providerFor } from "#providers/registry.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const SCANNED = ["infra", "functions/http"];

/** The names looked for, case-insensitively: vendors, their products and their API hosts. */
const VENDOR_NAMES = [
  // vendors and products
  "immuta",
  "softwareone",
  "software one",
  "everflow",
  "incorta",
  // API hosts and the words they are made of (api.eflow.team, <region>.api.immutacloud.com,
  // api.platform.softwareone.com, <cluster>.cloud.incorta.com), and Everflow's key header x-eflow-api-key
  "eflow",
  "immutacloud",
  "platform.softwareone",
  "cloud.incorta",
];

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith(".ts"))
    .map((entry) => relative(ROOT, join(entry.parentPath, entry.name)));
}

/** Every vendor name in `text`, one line per find: where, which name, and the line. */
function hits(file: string, text: string): string[] {
  return text
    .split("\n")
    .flatMap((line, index) =>
      VENDOR_NAMES.filter((name) => line.toLowerCase().includes(name)).map(
        (name) => `${file}:${index + 1}: "${name}" in: ${line.trim()}`,
      ),
    );
}

describe("no vendor names outside the providers", () => {
  test.each(SCANNED)("%s/ names no vendor and no vendor host", (dir) => {
    const files = sourceFiles(dir);

    expect(files.length).toBeGreaterThan(0);
    expect(files.flatMap((file) => hits(file, readFileSync(join(ROOT, file), "utf8")))).toEqual([]);
  });

  test("the list covers every registered provider's vendor and id", () => {
    for (const id of PROVIDER_IDS) {
      const provider = providerFor(id);
      const named = (text: string) => VENDOR_NAMES.some((name) => text.toLowerCase().includes(name));

      expect(named(provider.vendor), `vendor "${provider.vendor}" of ${id}`).toBe(true);
      expect(named(id), `provider id ${id}`).toBe(true);
    }
  });

  test("finds a name in any letter case, comments included", () => {
    const sample =
      "// retries as Incorta's docs say\nconst host = 'API.EFLOW.TEAM';\nconst vendor = 'a vendor';";

    expect(hits("sample.ts", sample)).toEqual([
      `sample.ts:1: "incorta" in: // retries as Incorta's docs say`,
      `sample.ts:2: "eflow" in: const host = 'API.EFLOW.TEAM';`,
    ]);
  });
});
