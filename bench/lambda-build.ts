// The esbuild build of a keyturn Lambda as the stack makes it: the options below are what
// aws-cdk-lib's NodejsFunction passes to the local esbuild for the `bundling` props of
// infra/keyturn-function.ts (Bundling.buildEsbuildArgs: `--bundle <entry> --target=node24
// --platform=node --format=esm --outfile=<dir>/index.mjs --minify --sourcemap
// --sources-content=false --define:esbuildDetection=1 --banner:js=… --main-fields=module,main`, no externals because
// bundleAwsSDK is true), run from the project root. infra/ keeps them inside the construct, so
// they are copied here; test/bench/lambda-build.test.ts synthesizes a KeyturnFunction and checks
// that its bundle and this one are the same bytes.

import { fileURLToPath } from "node:url";
import { type BuildOptions, build, type Metafile, type Plugin } from "esbuild";

export const PROJECT_ROOT = fileURLToPath(new URL("..", import.meta.url));

/** NodejsFunction names the bundle index.mjs for ESM; its source map comment names index.mjs.map. */
export const BUNDLE_FILE = "index.mjs";

/**
 * The vendor HTTP client's undici part, built into a file of its own beside every bundle and
 * loaded on the first vendor call (functions/http/client.ts): infra/keyturn-function.ts builds it
 * with the same options in an afterBundling command.
 */
export const TRANSPORT_ENTRY = "functions/http/transport.ts";
export const TRANSPORT_FILE = "transport.mjs";

export const LAMBDA_ESBUILD_OPTIONS = {
  bundle: true,
  target: "node24",
  platform: "node",
  format: "esm",
  minify: true,
  sourcemap: true,
  sourcesContent: false,
  banner: {
    js:
      'import { createRequire as keyturnCreateRequire } from "node:module"; ' +
      "const require = keyturnCreateRequire(import.meta.url);",
  },
  mainFields: ["module", "main"],
  // infra/keyturn-function.ts: undici without its experimental Milo parser; where the client finds
  // its transport.
  define: { esbuildDetection: "1", KEYTURN_TRANSPORT_FILE: JSON.stringify(`./${TRANSPORT_FILE}`) },
  absWorkingDir: PROJECT_ROOT,
  logLevel: "silent",
} as const satisfies BuildOptions;

export interface BuiltFile {
  file: string;
  bytes: number;
  metafile: Metafile;
}

export interface BuiltBundle extends BuiltFile {
  /** The bundle, `<outdir>/index.mjs` (its source map beside it): what a cold start imports. */
  file: string;
  /** `<outdir>/transport.mjs`: undici, imported on the first vendor call. */
  transport: BuiltFile;
}

/**
 * Bundles `entry` (a path relative to the project root, or TypeScript source given as
 * `{contents}`) into `outdir` with the stack's options. `plugins` exist for what-if builds only.
 */
export async function bundleLambda(
  entry: string | { contents: string; name: string },
  outdir: string,
  plugins: Plugin[] = [],
): Promise<BuiltBundle> {
  const main = await buildOne(entry, `${outdir}/${BUNDLE_FILE}`, plugins);
  const transport = await buildOne(TRANSPORT_ENTRY, `${outdir}/${TRANSPORT_FILE}`, plugins);
  return { ...main, transport };
}

async function buildOne(
  entry: string | { contents: string; name: string },
  file: string,
  plugins: Plugin[],
): Promise<BuiltFile> {
  const result = await build({
    ...LAMBDA_ESBUILD_OPTIONS,
    ...(typeof entry === "string"
      ? { entryPoints: [entry] }
      : {
          stdin: { contents: entry.contents, sourcefile: entry.name, resolveDir: PROJECT_ROOT, loader: "ts" },
        }),
    outfile: file,
    metafile: true,
    plugins,
  });
  const output = Object.values(result.metafile.outputs).find((o) => o.entryPoint !== undefined);
  if (!output)
    throw new Error(`esbuild wrote no bundle for ${typeof entry === "string" ? entry : entry.name}`);
  return { file, bytes: output.bytes, metafile: result.metafile };
}
