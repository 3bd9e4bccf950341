import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { EVENT_CATALOG } from "#engine/event-catalog.ts";
import { credentialRevoked, EventSchemaError, keyturnEvent } from "#engine/events.ts";
import { eventSchemaFiles } from "../../../schemas/events/generate.ts";
import { eventSchemas } from "../../support/event-schemas.ts";

const schemaDir = join(import.meta.dirname, "..", "..", "..", "schemas", "events");
const ref = {
  credential: "keyturn/example",
  provider: "immuta-request" as const,
  secretArn: "arn:aws:secretsmanager:x",
};

describe("the event catalog", () => {
  test("the JSON Schema files in schemas/events are what the catalog generates (run npm run schemas)", () => {
    const generated = eventSchemaFiles();
    const committed = readdirSync(schemaDir).filter((file) => file.endsWith(".schema.json"));

    expect(committed.sort()).toEqual([...generated.keys()].sort());
    for (const [name, content] of generated) {
      expect(JSON.parse(readFileSync(join(schemaDir, name), "utf8")), name).toEqual(JSON.parse(content));
    }
  });

  test("every detail type of the catalog has a schema file the subscribers' validator compiles", () => {
    expect([...eventSchemas.keys()].sort()).toEqual(Object.keys(EVENT_CATALOG).sort());
  });

  test("an event that does not match its schema is refused when it is built, naming the field", () => {
    const build = () =>
      keyturnEvent("Credential Revoked", {
        ...ref,
        severity: "info",
        keyId: "",
        reason: "grace-period-ended",
        strength: "hard",
        outcome: "revoked",
      });

    expect(build).toThrow(EventSchemaError);
    expect(build).toThrow(/keyId/);
  });

  test("an event built by the engine passes the published JSON Schema", () => {
    const event = credentialRevoked(ref, {
      keyId: "k-1",
      reason: "orphan",
      strength: "hard",
      outcome: "revoked",
    });

    const validate = eventSchemas.get(event.detailType);
    expect(validate?.(event.detail), JSON.stringify(validate?.errors)).toBe(true);
  });
});
