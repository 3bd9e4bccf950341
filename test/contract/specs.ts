// The vendors' published OpenAPI specs, loaded once per test file, and the check of one recorded
// vendor call against them: the request (path, method, parameters, body) and the answer (status
// and body) must be what the spec declares for the operation. The validator is openapi-backend
// (ajv underneath); a problem names the operation id and the JSON pointer.
//
// The specs are the vendors' documents, read from unchanged copies in ../shared/vendor-specs
// beside the repository (never copied into it):
// - Immuta's Request app ("Immuta Data Marketplace" 1.0), downloadable from
//   https://documentation.immuta.com/saas/developer-guides/api-intro/marketplace-api; public copy
//   in github.com/api-evangelist/immuta, `openapi/immuta-marketplace-api-openapi.yml`;
// - SoftwareOne's Marketplace API, served at
//   https://api.platform.softwareone.com/public/v1/accounts/openapi.json; public copy in
//   github.com/softwareone-platform/docs (`.gitbook/assets/openAPI.yaml`).

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { load as loadYaml } from "js-yaml";
import { type Document, OpenAPIBackend, type Operation } from "openapi-backend";
import type { Exchange } from "#sandbox/simulators/hub.ts";

export const SPEC_DIR = join(import.meta.dirname, "..", "..", "..", "shared", "vendor-specs");

/** Why the contract tests are skipped here, or undefined when the specs are beside the repository. */
export const SPECS_MISSING = existsSync(SPEC_DIR)
  ? undefined
  : `contract tests skipped: the vendors' specs are not at ${SPEC_DIR} (CI and the developers have them; a fresh clone does not)`;

export interface VendorSpec {
  /** Checks one recorded call; an empty list when it keeps the contract. */
  problems(exchange: Exchange): string[];
  /** The operation a call is, as "<operation id>", or undefined when the spec has none for it. */
  operationOf(exchange: Pick<Exchange, "method" | "path" | "query" | "requestHeaders">): string | undefined;
}

export interface SpecOptions {
  /** The part of the vendor's URL path before the spec's paths (Immuta's "/marketplace", SoftwareOne's none). */
  basePath: string;
  /**
   * The vendor's list operations take an RQL query the spec does not declare (SoftwareOne,
   * softwareone-docs/rql.md): the query of an operation that declares no query parameter is
   * checked against RQL's grammar instead.
   */
  rql?: boolean;
}

/** Loads `file` from SPEC_DIR. */
export async function loadSpec(file: string, options: SpecOptions): Promise<VendorSpec> {
  const { basePath } = options;
  const text = readFileSync(join(SPEC_DIR, file), "utf8");
  const document = asAjvSchema(file.endsWith(".json") ? JSON.parse(text) : loadYaml(text)) as Record<
    string,
    unknown
  >;
  nameOperations(document);
  openInheritedSchemas(document);
  const api = new OpenAPIBackend({
    definition: document as unknown as Document,
    // The specs are large: no validation of the documents themselves, validators compiled per operation on first use.
    quick: true,
    validate: true,
    ignoreTrailingSlashes: true,
    ajvOpts: { logger: false, strict: false },
    customizeAjv: (ajv) => {
      for (const [name, pattern] of Object.entries(FORMATS)) ajv.addFormat(name, pattern);
      return ajv;
    },
  });
  await api.init();
  const requestOf = (exchange: Pick<Exchange, "method" | "path" | "query" | "requestHeaders">) => ({
    method: exchange.method.toLowerCase(),
    path: exchange.path.startsWith(basePath) ? exchange.path.slice(basePath.length) : exchange.path,
    query: exchange.query,
    headers: exchange.requestHeaders,
  });
  return {
    operationOf: (exchange) => api.matchOperation(requestOf(exchange))?.operationId,
    problems(exchange) {
      const request = requestOf(exchange);
      const operation = api.matchOperation(request);
      const call = `${exchange.method} ${exchange.path}`;
      if (!operation?.operationId) return [`${call}: no operation of the spec has this method and path`];
      const id = operation.operationId;
      const problems: string[] = [];
      const body = exchange.requestBody === "" ? undefined : parseJson(exchange.requestBody);
      const rqlQuery =
        options.rql === true && !operation.parameters?.some((p) => "in" in p && p.in === "query");
      const requestCheck = api.validateRequest(
        { ...request, ...(rqlQuery ? { query: {} } : {}), body },
        operation,
      );
      if (rqlQuery) problems.push(...rqlProblems(id, exchange.query));
      for (const error of requestCheck.errors ?? []) {
        problems.push(`${id} request ${error.instancePath || "/"}: ${error.message} (${error.schemaPath})`);
      }
      if (declaredStatus(operation, exchange.status) === undefined) {
        problems.push(`${id} answer: status ${exchange.status} is not declared by the spec`);
        return problems;
      }
      if (exchange.responseBody === "") return problems;
      const responseCheck = api.validateResponse(
        parseJson(exchange.responseBody),
        operation,
        exchange.status,
      );
      for (const error of responseCheck.errors ?? []) {
        problems.push(
          `${id} answer ${exchange.status} ${error.instancePath || "/"}: ${error.message} (${error.schemaPath})`,
        );
      }
      return problems;
    },
  };
}

/** RQL's query parameters (softwareone-docs/rql.md): paging, projection, ordering, and filter calls. */
const RQL_KEYS = new Set(["select", "limit", "offset", "order"]);
const RQL_CALL = /^(and|or|not|eq|ne|gt|ge|lt|le|like|ilike|in|out|any|all)\(.*\)$/;

function rqlProblems(id: string, query: Record<string, string>): string[] {
  const problems: string[] = [];
  for (const [key, value] of Object.entries(query)) {
    if (RQL_KEYS.has(key)) {
      if ((key === "limit" || key === "offset") && !/^\d+$/.test(value))
        problems.push(`${id} request /query/${key}: must be a whole number (RQL)`);
      continue;
    }
    if (!(value === "" && RQL_CALL.test(key)))
      problems.push(`${id} request /query/${key}: not an RQL expression`);
  }
  return problems;
}

/** The response key the spec declares for `status`: itself, its class ("4XX") or "default". */
function declaredStatus(operation: Operation, status: number): string | undefined {
  const responses = operation.responses ?? {};
  return [String(status), `${String(status)[0]}XX`, "default"].find((key) => key in responses);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * Formats the specs use that ajv does not know without ajv-formats (not worth a dependency for
 * this): as the JSON Schema validation vocabulary and the cuid library define them.
 */
const FORMATS: Record<string, RegExp> = {
  uuid: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i,
  "date-time": /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/,
  date: /^\d{4}-\d{2}-\d{2}$/,
  cuid: /^c[a-z0-9]{20,32}$/,
  email: /^[^@\s]+@[^@\s]+$/,
  uri: /^[a-z][a-z0-9+.-]*:\S*$/i,
};

/**
 * OpenAPI 3.0's `nullable` beside a `$ref` or `allOf` without a `type`, which the specs use and
 * ajv refuses: the same meaning in JSON Schema, "that, or null".
 */
function asAjvSchema(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(asAjvSchema);
  if (node === null || typeof node !== "object") return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) out[key] = asAjvSchema(value);
  if (typeof out.nullable === "boolean" && out.type === undefined) {
    const { nullable, ...rest } = out;
    return nullable ? { anyOf: [rest, { type: "null" }] } : rest;
  }
  return out;
}

/**
 * The specs model inheritance as `allOf: [{$ref: Base}]` plus the derived schema's own properties,
 * while Base says `additionalProperties: false` (as .NET's generator writes it): read as JSON
 * Schema, no derived object could ever be valid. A schema referenced from an allOf is therefore
 * left open, which is what the spec means by it.
 */
function openInheritedSchemas(document: Record<string, unknown>): void {
  const schemas = ((document.components as Record<string, unknown> | undefined)?.schemas ?? {}) as Record<
    string,
    Record<string, unknown>
  >;
  const inherited = new Set<string>();
  const visit = (node: unknown): void => {
    if (node === null || typeof node !== "object") return;
    if (Array.isArray(node)) {
      for (const item of node) visit(item);
      return;
    }
    const allOf = (node as { allOf?: unknown }).allOf;
    if (Array.isArray(allOf)) {
      for (const part of allOf) {
        const ref = (part as { $ref?: unknown }).$ref;
        if (typeof ref === "string") inherited.add(ref.replace("#/components/schemas/", ""));
      }
    }
    for (const value of Object.values(node)) visit(value);
  };
  visit(document);
  for (const name of inherited) {
    const schema = schemas[name];
    if (schema?.additionalProperties === false) delete schema.additionalProperties;
  }
}

/** SoftwareOne's spec has no operation ids: each is named "<METHOD> <path>" so that a problem can name it. */
function nameOperations(document: Record<string, unknown>): void {
  const paths = (document.paths ?? {}) as Record<string, Record<string, { operationId?: string }>>;
  for (const [path, item] of Object.entries(paths)) {
    for (const method of ["get", "put", "post", "delete", "patch", "head", "options"]) {
      const operation = item[method];
      if (operation && !operation.operationId) operation.operationId = `${method.toUpperCase()} ${path}`;
    }
  }
}
