// Bundle size and cold import time of every handler, next to its floor: a bundle built with the
// same options that holds only the AWS SDK clients and commands the handler's own code imports,
// constructed as the handler constructs them. The ratio handler / floor is what keyturn's own
// code and its other dependencies add to a cold start.
//
// A cold import is a fresh `node` (the pinned Node 24) importing the bundle with the
// environment Lambda gives the function (NODE_OPTIONS=--enable-source-maps, the handler's
// variables), timed inside the process around `import()`. Handler and floor runs alternate, so
// that a busy neighbour on the machine slows both alike.

import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { Metafile, Plugin } from "esbuild";
import { type BuiltBundle, bundleLambda, PROJECT_ROOT } from "./lambda-build.ts";

export const HANDLERS = ["rotate", "monitor", "refresh", "revoke", "relay"] as const;
export type HandlerName = (typeof HANDLERS)[number];

/** What each function finds in its environment in AWS (infra/keyturn.ts), as far as the handlers read it at load. */
const LAMBDA_ENVIRONMENT: Record<string, string> = {
  AWS_REGION: "us-east-1",
  AWS_DEFAULT_REGION: "us-east-1",
  AWS_EXECUTION_ENV: "AWS_Lambda_nodejs24.x",
  AWS_LAMBDA_FUNCTION_MEMORY_SIZE: "256",
  KEYTURN_EVENT_BUS_NAME: "keyturn",
  KEYTURN_LEASE_TABLE: "keyturn-leases",
  KEYTURN_RECORDS_TABLE: "keyturn-records",
  NODE_OPTIONS: "--enable-source-maps",
};

const PROBE = [
  "const started = performance.now();",
  "await import(process.env.KEYTURN_BENCH_MODULE);",
  "process.stdout.write(String(performance.now() - started));",
].join("\n");

export interface BundleGroup {
  /** An npm package, or a folder of this project such as functions/providers. */
  name: string;
  bytes: number;
}

export interface HandlerBundles {
  name: HandlerName;
  bundle: BuiltBundle;
  floor: BuiltBundle;
  /** The same handler with `undici` replaced by Node's own dispatcher (a what-if, see withoutUndici). */
  withoutUndici: BuiltBundle | undefined;
  /** The SDK names the floor holds, by package. */
  sdkImports: Record<string, string[]>;
  /** What the handler's bundle holds beyond its floor, largest first. */
  beyondFloor: BundleGroup[];
}

export interface HandlerTiming {
  name: HandlerName;
  /** index.mjs, what a cold start imports. */
  bundleBytes: number;
  /** transport.mjs beside it: undici, imported on the first vendor call. */
  transportBytes: number;
  floorBytes: number;
  importMs: number;
  /** First and third quartile of the cold imports. */
  importQuartiles: [number, number];
  floorMs: number;
  ratio: number;
  withoutUndiciMs: number | undefined;
  withoutUndiciBytes: number | undefined;
  beyondFloor: BundleGroup[];
  sdkImports: Record<string, string[]>;
}

const SDK_IMPORT = /import\s+(type\s+)?\{([^}]*)\}\s*from\s*["'](@aws-sdk\/client-[^"']+)["']/g;

/**
 * The value names (not types) that the project's own files in a bundle import from AWS SDK
 * client packages, by package.
 */
export function sdkImportsOf(metafile: Metafile): Record<string, string[]> {
  const imports = new Map<string, Set<string>>();
  for (const input of Object.keys(metafile.inputs)) {
    if (input.includes("node_modules/") || !input.endsWith(".ts")) continue;
    const source = readFileSync(join(PROJECT_ROOT, input), "utf8");
    for (const match of source.matchAll(SDK_IMPORT)) {
      if (match[1]) continue;
      const names = (match[2] ?? "")
        .split(",")
        .map((specifier) => specifier.trim())
        .filter((specifier) => specifier !== "" && !specifier.startsWith("type "))
        .map((specifier) => specifier.split(/\s+as\s+/)[0] ?? specifier);
      const pkg = match[3] ?? "";
      const known = imports.get(pkg) ?? new Set<string>();
      for (const name of names) known.add(name);
      imports.set(pkg, known);
    }
  }
  return Object.fromEntries(
    [...imports.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([pkg, names]) => [pkg, [...names].sort()]),
  );
}

/** TypeScript for the floor: the SDK names imported, every client constructed once, every other name kept. */
export function floorSource(sdkImports: Record<string, string[]>): string {
  const lines = ["// The AWS SDK surface of one keyturn handler and nothing else (bench/bundles.ts)."];
  const clients: string[] = [];
  const others: string[] = [];
  for (const [pkg, names] of Object.entries(sdkImports)) {
    lines.push(`import { ${names.join(", ")} } from "${pkg}";`);
    for (const name of names) (name.endsWith("Client") ? clients : others).push(name);
  }
  lines.push(`const clients = [${clients.map((client) => `new ${client}({})`).join(", ")}];`);
  lines.push(`const used = [${others.join(", ")}];`);
  lines.push("export const handler = async () => ({ clients: clients.length, used: used.length });");
  return `${lines.join("\n")}\n`;
}

/** Groups a bundle's inputs by npm package or by project folder, with the bytes each puts in the output. */
export function bundleGroups(metafile: Metafile): Map<string, number> {
  const groups = new Map<string, number>();
  for (const output of Object.values(metafile.outputs)) {
    if (output.entryPoint === undefined) continue;
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input)?.[1];
      const name = pkg ?? input.split("/").slice(0, 2).join("/");
      groups.set(name, (groups.get(name) ?? 0) + bytesInOutput);
    }
  }
  return groups;
}

function beyond(handler: Metafile, floor: Metafile): BundleGroup[] {
  const floorGroups = bundleGroups(floor);
  return [...bundleGroups(handler).entries()]
    .map(([name, bytes]) => ({ name, bytes: bytes - (floorGroups.get(name) ?? 0) }))
    .filter((group) => group.bytes > 512)
    .sort((a, b) => b.bytes - a.bytes);
}

/**
 * A what-if: `undici` (the files of it that functions/http/transport.ts loads) replaced by the
 * dispatcher Node already carries (the one behind global fetch). It measures what the handlers
 * would load if the vendor HTTP client used a transport built into Node; it is never deployed.
 */
const WITHOUT_UNDICI: Record<string, string> = {
  "undici/lib/dispatcher/agent.js":
    'export default function Agent() { return globalThis[Symbol.for("undici.globalDispatcher.1")]; }',
  "undici/lib/api/api-request.js":
    "export default function request(options) { return this.request(options); }",
};

const withoutUndici: Plugin = {
  name: "keyturn-bench-without-undici",
  setup(build) {
    build.onResolve({ filter: /^undici(\/.*)?$/ }, (args) => {
      if (WITHOUT_UNDICI[args.path] === undefined) {
        throw new Error(`bench/bundles.ts has no stand-in for "${args.path}": add one to WITHOUT_UNDICI`);
      }
      return { path: args.path, namespace: "keyturn-bench" };
    });
    build.onLoad({ filter: /.*/, namespace: "keyturn-bench" }, (args) => ({
      contents: WITHOUT_UNDICI[args.path],
      loader: "js",
    }));
  },
};

export async function buildHandlerBundles(name: HandlerName, outdir: string): Promise<HandlerBundles> {
  const bundle = await bundleLambda(`functions/handlers/${name}.ts`, join(outdir, name));
  const sdkImports = sdkImportsOf(bundle.metafile);
  const floor = await bundleLambda(
    { contents: floorSource(sdkImports), name: `floor-${name}.ts` },
    join(outdir, `${name}-floor`),
  );
  const usesUndici = Object.keys(bundle.metafile.inputs).some((input) =>
    input.includes("node_modules/undici/"),
  );
  const lean = usesUndici
    ? await bundleLambda(`functions/handlers/${name}.ts`, join(outdir, `${name}-without-undici`), [
        withoutUndici,
      ])
    : undefined;
  return {
    name,
    bundle,
    floor,
    withoutUndici: lean,
    sdkImports,
    beyondFloor: beyond(bundle.metafile, floor.metafile),
  };
}

const FIRST_FETCH_PROBE = [
  "const started = performance.now();",
  'await fetch("http://127.0.0.1:9/").catch(() => undefined);',
  "process.stdout.write(String(performance.now() - started));",
].join("\n");

/**
 * What Node's own fetch costs on its first use in a fresh process (Node loads its built-in
 * undici lazily): what moving the vendor client to global fetch would defer to the first vendor
 * call rather than save. Port 9 on loopback refuses at once, so the time is Node's, not a
 * server's.
 */
export function firstFetchMs(runs: number): number {
  const samples: number[] = [];
  for (let run = 0; run < runs; run++) {
    const result = spawnSync(process.execPath, ["--input-type=module", "-e", FIRST_FETCH_PROBE], {
      env: { PATH: process.env.PATH ?? "" },
      encoding: "utf8",
    });
    samples.push(Number(result.stdout));
  }
  return median(samples);
}

/** One cold import of `file` in a fresh Node process, in milliseconds. */
export function coldImportMs(file: string): number {
  const result = spawnSync(process.execPath, ["--input-type=module", "-e", PROBE], {
    cwd: PROJECT_ROOT,
    env: {
      PATH: process.env.PATH ?? "",
      ...LAMBDA_ENVIRONMENT,
      KEYTURN_BENCH_MODULE: pathToFileURL(file).href,
    },
    encoding: "utf8",
  });
  const ms = Number(result.stdout);
  if (result.status !== 0 || !Number.isFinite(ms)) {
    throw new Error(
      `Importing ${file} in a fresh node failed (exit ${result.status}): ${result.stderr.slice(-2000)}`,
    );
  }
  return ms;
}

/** The q-quantile (0..1) of `values`, interpolated between the nearest ranks. */
export function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const rank = (sorted.length - 1) * q;
  const below = sorted[Math.floor(rank)] ?? Number.NaN;
  const above = sorted[Math.ceil(rank)] ?? Number.NaN;
  return below + (above - below) * (rank - Math.floor(rank));
}

export const median = (values: readonly number[]) => quantile(values, 0.5);

/**
 * Builds every handler and its floor into `outdir` and times `runs` cold imports of each
 * (after one discarded round that fills the file cache).
 */
export async function measureHandlers(
  outdir: string,
  runs: number,
  progress: (line: string) => void,
): Promise<HandlerTiming[]> {
  mkdirSync(outdir, { recursive: true });
  const built: HandlerBundles[] = [];
  for (const name of HANDLERS) built.push(await buildHandlerBundles(name, outdir));
  progress(`built ${built.length} handler bundles and their floors; timing ${runs} cold imports of each`);

  const samples = new Map<string, number[]>();
  const sample = (key: string, file: string) => {
    const ms = coldImportMs(file);
    samples.set(key, [...(samples.get(key) ?? []), ms]);
  };
  for (let round = 0; round <= runs; round++) {
    for (const entry of built) {
      const variants: [string, string][] = [
        [`${entry.name}:handler`, entry.bundle.file],
        [`${entry.name}:floor`, entry.floor.file],
        ...(entry.withoutUndici
          ? [[`${entry.name}:lean`, entry.withoutUndici.file] as [string, string]]
          : []),
      ];
      if (round % 2 === 1) variants.reverse();
      for (const [key, file] of variants) {
        if (round === 0) coldImportMs(file);
        else sample(key, file);
      }
    }
    if (round > 0 && round % 5 === 0) progress(`cold imports: round ${round} of ${runs}`);
  }

  return built.map((entry) => {
    const handlerSamples = samples.get(`${entry.name}:handler`) ?? [];
    const importMs = median(handlerSamples);
    const floorMs = median(samples.get(`${entry.name}:floor`) ?? []);
    return {
      name: entry.name,
      bundleBytes: entry.bundle.bytes,
      transportBytes: entry.bundle.transport.bytes,
      floorBytes: entry.floor.bytes,
      importMs,
      importQuartiles: [quantile(handlerSamples, 0.25), quantile(handlerSamples, 0.75)],
      floorMs,
      ratio: importMs / floorMs,
      withoutUndiciMs: entry.withoutUndici ? median(samples.get(`${entry.name}:lean`) ?? []) : undefined,
      withoutUndiciBytes: entry.withoutUndici?.bytes,
      beyondFloor: entry.beyondFloor,
      sdkImports: entry.sdkImports,
    };
  });
}
