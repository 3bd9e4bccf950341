// Validates events as a subscriber received them against schemas/events/*.schema.json.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import type { ReceivedEvent } from "#sandbox/event-subscriber.ts";

const schemaDir = join(import.meta.dirname, "..", "..", "schemas", "events");

const ajv = new Ajv2020({ allErrors: true });
addFormats.default(ajv);
ajv.addKeyword("x-detail-type");

export const eventSchemas = new Map(
  readdirSync(schemaDir)
    .filter((file) => file.endsWith(".schema.json"))
    .map((file) => {
      const schema = JSON.parse(readFileSync(join(schemaDir, file), "utf8")) as { "x-detail-type": string };
      return [schema["x-detail-type"], ajv.compile(schema)] as const;
    }),
);

/** Problems with one event: no schema for its detail type, or what the schema rejects. */
export function eventProblems(event: ReceivedEvent): string[] {
  if (event.source !== "keyturn") return [`source is ${event.source}, expected keyturn`];
  const validate = eventSchemas.get(event["detail-type"]);
  if (!validate) return [`no schema for detail type "${event["detail-type"]}"`];
  if (validate(event.detail)) return [];
  return (validate.errors ?? []).map(
    (e) => `${event["detail-type"]} ${e.instancePath || "(detail)"} ${e.message}`,
  );
}
