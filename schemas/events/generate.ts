// `npm run schemas`: writes one JSON Schema per event detail type from the catalog in
// functions/engine/event-catalog.ts, the one definition of keyturn's events. A test fails
// when the files here and the catalog disagree.

import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { toJsonSchema } from "@valibot/to-json-schema";
import { EVENT_CATALOG } from "#engine/event-catalog.ts";

export function eventSchemaFiles(): Map<string, string> {
  const files = new Map<string, string>();
  for (const [detailType, schema] of Object.entries(EVENT_CATALOG)) {
    const name = `${detailType.toLowerCase().replaceAll(" ", "-")}.schema.json`;
    const json = toJsonSchema(schema, { target: "draft-2020-12" });
    const document = { ...json, $id: `https://keyturn.dev/schemas/events/${name}` };
    files.set(name, `${JSON.stringify(document, null, 2)}\n`);
  }
  return files;
}

if (process.argv[1] === import.meta.filename) {
  for (const [name, content] of eventSchemaFiles()) {
    writeFileSync(join(import.meta.dirname, name), content);
    console.log(`wrote schemas/events/${name}`);
  }
}
