// `npm run docs`: writes the generated parts of the pages in docs/ from the code they describe,
// so that a reference cannot drift from what keyturn does:
// - docs/configuration.md: the config reference, from the config schema (infra/config.ts,
//   rendered by infra/config-schema.ts, which also writes config/keyturn.config.schema.json);
// - docs/cli.md: the global options and each command's usage, options, details and examples,
//   from the CLI's own definitions (cli/args.ts, what `keyturn <command> --help` prints);
// - docs/events.md: every detail type, its severities and when, and its fields, from the event
//   catalog (functions/engine/event-catalog.ts, which also gives schemas/events/).
// Each generated part sits between `<!-- generated:begin NAME -->` and `<!-- generated:end
// NAME -->` in a page written by hand; everything outside the markers is left alone. The tests
// in test/docs/ render the pages in memory and fail when the committed ones differ.

import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { toJsonSchema } from "@valibot/to-json-schema";
import { EVENT_CATALOG, type PublishedDetailType, SEVERITIES } from "#engine/event-catalog.ts";
import { COMMANDS, GLOBAL_OPTIONS } from "../cli/args.ts";
import { configReference } from "../infra/config-schema.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** A page of docs/ and the generated parts it holds, by region name. */
export interface GeneratedPage {
  /** Path from the repository's root. */
  file: string;
  regions: Record<string, () => string>;
}

export const PAGES: GeneratedPage[] = [
  { file: "docs/configuration.md", regions: { "config-reference": configurationReference } },
  {
    file: "docs/cli.md",
    regions: {
      "cli-commands": cliCommandList,
      "cli-global-options": () => optionTable(GLOBAL_OPTIONS, { version: "print keyturn's version" }),
      ...Object.fromEntries(Object.keys(COMMANDS).map((name) => [`cli-${name}`, () => cliCommand(name)])),
    },
  },
  {
    file: "docs/events.md",
    regions: { "event-severities": eventSeverityTable, "event-catalog": eventCatalog },
  },
];

const begin = (name: string) =>
  `<!-- generated:begin ${name} (npm run docs writes this part; edit the code) -->`;
const end = (name: string) => `<!-- generated:end ${name} -->`;

/**
 * The page with every generated region rendered again from the code. Throws when a region's
 * markers are missing or repeated, so that a page cannot silently lose its generated part.
 */
export function renderPage(page: GeneratedPage, text: string): string {
  let out = text;
  for (const [name, render] of Object.entries(page.regions)) {
    const open = out.indexOf(begin(name));
    const close = out.indexOf(end(name));
    if (open < 0 || close < open || out.indexOf(begin(name), open + 1) >= 0) {
      throw new Error(
        `${page.file}: the generated region "${name}" needs exactly one pair of markers: ${begin(name)} … ${end(name)}`,
      );
    }
    out = `${out.slice(0, open)}${begin(name)}\n\n${render().trimEnd()}\n\n${out.slice(close)}`;
  }
  return out;
}

/** The committed text of a page. */
export function committedPage(page: GeneratedPage): string {
  return readFileSync(`${ROOT}${page.file}`, "utf8");
}

// --- configuration.md ----------------------------------------------------------------------

/** infra/config-schema.ts's reference, its own title dropped and its headings one level down. */
function configurationReference(): string {
  const reference = configReference();
  const body = reference.slice(reference.indexOf("\n## ") + 1);
  return body.replace(/^(#{2,}) /gm, "#$1 ");
}

// --- cli.md ----------------------------------------------------------------------------------

function cliCommandList(): string {
  return [
    "| command | what it does |",
    "|---|---|",
    ...Object.entries(COMMANDS).map(
      ([name, spec]) => `| [\`${spec.usage}\`](#keyturn-${name}) | ${cell(spec.summary)} |`,
    ),
  ].join("\n");
}

function optionTable(
  options: Record<string, { type: string; value?: string; short?: string; description: string }>,
  extra: Record<string, string> = {},
): string {
  const rows = [
    ...Object.entries(options).map(([name, option]) => {
      const flag = `${option.short ? `-${option.short}, ` : ""}--${name}${option.value ? ` ${option.value}` : ""}`;
      return `| \`${flag}\` | ${cell(option.description)} |`;
    }),
    ...Object.entries(extra).map(([name, description]) => `| \`--${name}\` | ${cell(description)} |`),
  ];
  return ["| option | meaning |", "|---|---|", ...rows].join("\n");
}

/** One command as `keyturn <command> --help` describes it, the global options left to their table. */
function cliCommand(name: string): string {
  const spec = COMMANDS[name];
  if (!spec) throw new Error(`no command ${name} in cli/args.ts`);
  const own = Object.keys(spec.options).length > 0;
  return [
    `${capitalised(spec.summary)}.`,
    "",
    "```text",
    `Usage: ${spec.usage}`,
    "",
    spec.details,
    "```",
    "",
    ...(own ? [optionTable(spec.options), ""] : []),
    "```sh",
    ...spec.examples,
    "```",
  ].join("\n");
}

// --- events.md -----------------------------------------------------------------------------------

interface JsonField {
  type?: string;
  description?: string;
  enum?: unknown[];
  const?: unknown;
  format?: string;
  items?: JsonField;
  anyOf?: JsonField[];
  properties?: Record<string, JsonField>;
  required?: string[];
}

/** Carried by every event keyturn publishes: said once above the catalog, not per type. */
const COMMON_FIELDS = new Set(["credential", "provider", "secretArn", "severity"]);

function published(): PublishedDetailType[] {
  return Object.keys(SEVERITIES) as PublishedDetailType[];
}

function severityRules(detailType: PublishedDetailType): [string, string][] {
  return Object.entries(SEVERITIES[detailType] as Record<string, string>);
}

function eventSeverityTable(): string {
  return [
    "| detail type | severity | when |",
    "|---|---|---|",
    ...published().flatMap((detailType) =>
      severityRules(detailType).map(
        ([severity, when], index) =>
          `| ${index === 0 ? `[${detailType}](#${anchor(detailType)})` : ""} | \`${severity}\` | ${cell(when)} |`,
      ),
    ),
    "| [Revoke Requested](#revoke-requested) | – | published by you (a leak scanner, a person), not by keyturn |",
  ].join("\n");
}

function eventCatalog(): string {
  return Object.entries(EVENT_CATALOG)
    .map(([detailType, schema]) => {
      const json = toJsonSchema(schema, { target: "draft-2020-12" }) as JsonField;
      const required = json.required ?? [];
      const fields = Object.entries(json.properties ?? {}).filter(
        ([field]) => detailType === "Revoke Requested" || !COMMON_FIELDS.has(field),
      );
      const file = `${detailType.toLowerCase().replaceAll(" ", "-")}.schema.json`;
      const severities =
        detailType in SEVERITIES
          ? severityRules(detailType as PublishedDetailType).map(
              ([severity, when]) => `- \`${severity}\`: ${when}`,
            )
          : ["- none: keyturn does not publish it, it acts on it"];
      return [
        `### ${detailType}`,
        "",
        json.description ?? "",
        "",
        "Severity:",
        "",
        ...severities,
        "",
        "| field | value | meaning |",
        "|---|---|---|",
        ...fields.map(
          ([field, value]) =>
            `| \`${field}\`${required.includes(field) ? "" : " (optional)"} | ${kind(value)} | ${cell(value.description ?? "")} |`,
        ),
        "",
        `JSON Schema: [schemas/events/${file}](../schemas/events/${file}).`,
      ].join("\n");
    })
    .join("\n\n");
}

function kind(field: JsonField): string {
  if (field.enum) return field.enum.map((value) => `\`${String(value)}\``).join(", ");
  if (field.const !== undefined) return `\`${String(field.const)}\``;
  if (field.anyOf) return field.anyOf.map(kind).join(" or ");
  if (field.type === "array") return `list of ${field.items ? kind(field.items) : "values"}`;
  if (field.type === "object" && field.properties) {
    return `object: ${Object.entries(field.properties)
      .map(([name, value]) => `\`${name}\` (${kind(value)})`)
      .join(", ")}`;
  }
  if (field.format === "date-time") return "ISO 8601 time";
  return field.type ?? "value";
}

// --- helpers -------------------------------------------------------------------------------------

/** A table cell: one line, pipes escaped. */
function cell(text: string): string {
  return text.replaceAll("\n", " ").replaceAll("|", "\\|");
}

/** GitHub's anchor for a heading. */
function anchor(heading: string): string {
  return heading
    .toLowerCase()
    .replaceAll(/[^a-z0-9 -]/g, "")
    .replaceAll(" ", "-");
}

function capitalised(text: string): string {
  return `${text.charAt(0).toUpperCase()}${text.slice(1)}`;
}

if (process.argv[1] === import.meta.filename) {
  for (const page of PAGES) {
    const before = committedPage(page);
    const after = renderPage(page, before);
    if (after !== before) writeFileSync(`${ROOT}${page.file}`, after);
    console.log(`${after === before ? "unchanged" : "wrote    "} ${page.file}`);
  }
}
