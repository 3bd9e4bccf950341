// `node infra/config-schema.ts`: writes the config's published JSON Schema
// (config/keyturn.config.schema.json) and its reference tables (config/REFERENCE.md) from the
// one definition in infra/config.ts. A test fails when the committed files and the definition
// disagree (the schema is compared as JSON, since biome formats it).

import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { toJsonSchema } from "@valibot/to-json-schema";
import type { ProviderId } from "#providers/types.ts";
import { CredentialEntries, KeyturnConfigSchema, providerMode } from "./config.ts";

export const SCHEMA_FILE = fileURLToPath(new URL("../config/keyturn.config.schema.json", import.meta.url));
export const REFERENCE_FILE = fileURLToPath(new URL("../config/REFERENCE.md", import.meta.url));
const SCHEMA_ID = "https://keyturn.dev/schemas/keyturn.config.schema.json";

/** The JSON Schema of the config file, as committed. */
export function configSchemaFile(): string {
  const schema = toJsonSchema(KeyturnConfigSchema, { target: "draft-2020-12" });
  return `${JSON.stringify({ ...schema, $id: SCHEMA_ID }, null, 2)}\n`;
}

interface FieldSchema extends Record<string, unknown> {
  type?: string;
  description?: string;
  default?: unknown;
  enum?: unknown[];
  const?: unknown;
  pattern?: string;
  items?: FieldSchema;
  anyOf?: FieldSchema[];
  properties?: Record<string, FieldSchema>;
  required?: string[];
}

/** The configuration reference: one table for the file, one for every credential, one per provider. */
export function configReference(): string {
  const top = toJsonSchema(KeyturnConfigSchema, { target: "draft-2020-12" }) as FieldSchema;
  const topRows = Object.entries(top.properties ?? {}).filter(
    ([name]) => name !== "$schema" && name !== "credentials",
  );
  const nested = (field: string) => top.properties?.[field]?.properties ?? {};
  const nestedRequired = (field: string) => top.properties?.[field]?.required ?? [];
  const perProvider = Object.keys(CredentialEntries).map((provider) => {
    const schema = toJsonSchema(CredentialEntries[provider as ProviderId], {
      target: "draft-2020-12",
    }) as FieldSchema;
    return { provider: provider as ProviderId, schema };
  });
  const common = Object.keys(perProvider[0]?.schema.properties ?? {}).filter((field) =>
    perProvider.every(({ schema }) => field in (schema.properties ?? {})),
  );
  const lines = [
    "# keyturn config reference",
    "",
    "Generated from `infra/config.ts` by `node infra/config-schema.ts`; the JSON Schema is",
    "`config/keyturn.config.schema.json`. Durations are a whole number and a unit: `s`, `m`, `h` or `d`.",
    "",
    "## The file",
    "",
    ...table(topRows, top.required ?? []),
    "",
    ...["alerts", "operators", "revokeRequesters"].flatMap((field) => [
      `\`${field}\`:`,
      "",
      ...table(Object.entries(nested(field)), nestedRequired(field)),
      "",
    ]),
    "## Every credential",
    "",
    ...table(
      common
        .filter((field) => field !== "settings" && field !== "provider")
        .map((field) => [field, perProvider[0]?.schema.properties?.[field] as FieldSchema]),
      perProvider[0]?.schema.required ?? [],
    ),
    "",
    `\`provider\` (required): ${Object.keys(CredentialEntries)
      .map((provider) => `\`${provider}\``)
      .join(", ")}; each takes the fields of its section below.`,
    "",
    "`secret`, to manage an existing secret instead of creating one:",
    "",
    ...table(
      Object.entries(perProvider[0]?.schema.properties?.secret?.properties ?? {}),
      perProvider[0]?.schema.properties?.secret?.required ?? [],
    ),
    "",
    "## Per provider",
    "",
  ];
  for (const { provider, schema } of perProvider) {
    const properties = schema.properties ?? {};
    lines.push(
      `### \`${provider}\` (${providerMode(provider)})`,
      "",
      `${properties.provider?.description ?? ""}`,
      "",
      ...table(
        [
          ...Object.entries(properties.settings?.properties ?? {}).map(
            ([field, value]): [string, FieldSchema] => [`settings.${field}`, value],
          ),
          ...Object.entries(properties).filter(([field]) => !common.includes(field)),
        ],
        [
          ...(properties.settings?.required ?? []).map((field) => `settings.${field}`),
          ...(schema.required ?? []),
        ],
      ),
      "",
    );
  }
  return `${lines.join("\n").trimEnd()}\n`;
}

function table(rows: [string, FieldSchema][], required: string[]): string[] {
  return [
    "| field | value | default | meaning |",
    "|---|---|---|---|",
    ...rows.map(
      ([field, schema]) =>
        `| \`${field}\`${required.includes(field) ? " (required)" : ""} | ${valueKind(schema)} | ${
          schema.default === undefined ? "" : `\`${JSON.stringify(schema.default)}\``
        } | ${(schema.description ?? "").replaceAll("|", "\\|")} |`,
    ),
  ];
}

function valueKind(schema: FieldSchema): string {
  if (schema.enum) return schema.enum.map((value) => `\`${String(value)}\``).join(", ");
  if (schema.const !== undefined) return `\`${String(schema.const)}\``;
  if (schema.anyOf) return schema.anyOf.map(valueKind).join(" or ");
  if (schema.type === "array") return `list of ${schema.items ? valueKind(schema.items) : "values"}`;
  if (schema.pattern === "^[1-9][0-9]*[smhd]$") return "duration";
  if (schema.type === "object") return "object";
  return schema.type ?? "value";
}

if (process.argv[1] === import.meta.filename) {
  writeFileSync(SCHEMA_FILE, configSchemaFile());
  writeFileSync(REFERENCE_FILE, configReference());
  // In the project's JSON style, so that `npm run lint` accepts the file as written.
  const biome = fileURLToPath(new URL("../node_modules/.bin/biome", import.meta.url));
  spawnSync(biome, ["format", "--write", SCHEMA_FILE], { stdio: "inherit" });
  console.log("wrote config/keyturn.config.schema.json and config/REFERENCE.md");
}
