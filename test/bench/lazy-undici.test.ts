// undici is loaded on a function's first vendor call, not at its cold start
// (functions/http/client.ts, functions/http/transport.ts): it is built into transport.mjs beside
// each bundle (infra/keyturn-function.ts), so the monitor with nothing due and the relay never
// parse nor run it. Checked on the bundles as the stack builds them (bench/lambda-build.ts): the
// handler's bundle holds none of undici, a fresh Node that imports it runs none of undici's code,
// and a bundled client still reaches a server through transport.mjs.

import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { Metafile } from "esbuild";
import { afterAll, describe, expect, test } from "vitest";
import { bundleLambda, PROJECT_ROOT } from "../../bench/lambda-build.ts";

const scratch = mkdtempSync(join(tmpdir(), "keyturn-lazy-undici-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const UNDICI = "node_modules/undici/";

const undiciIn = (metafile: Metafile) =>
  Object.keys(metafile.inputs).filter((input) => input.startsWith(UNDICI));

// Every require() of undici's CommonJS files (Node's built-ins included) goes through Module._load;
// with source maps on, the stack of one made while undici's code runs names undici's files.
const PROBE = [
  'import Module from "node:module";',
  "Error.stackTraceLimit = Infinity;",
  "let undiciRan = false;",
  "const load = Module._load;",
  "Module._load = function (...args) {",
  `  if (new Error().stack.includes(${JSON.stringify(UNDICI)})) undiciRan = true;`,
  "  return load.apply(this, args);",
  "};",
  "await import(process.env.KEYTURN_TEST_BUNDLE);",
  "process.stdout.write(JSON.stringify({ undiciRan }));",
].join("\n");

function importRunsUndici(file: string): boolean {
  const result = spawnSync(process.execPath, ["--enable-source-maps", "--input-type=module", "-e", PROBE], {
    cwd: PROJECT_ROOT,
    env: {
      PATH: process.env.PATH ?? "",
      AWS_REGION: "us-east-1",
      KEYTURN_EVENT_BUS_NAME: "keyturn",
      KEYTURN_RECORDS_TABLE: "keyturn-records",
      KEYTURN_TEST_BUNDLE: pathToFileURL(file).href,
    },
    encoding: "utf8",
  });
  expect(result.status, result.stderr).toBe(0);
  return (JSON.parse(result.stdout) as { undiciRan: boolean }).undiciRan;
}

describe("undici at a cold start", () => {
  test("the probe sees undici run when a module imports it statically (transport.mjs itself)", async () => {
    const built = await bundleLambda("functions/handlers/relay.ts", join(scratch, "probe"));

    expect(importRunsUndici(built.transport.file)).toBe(true);
  });

  for (const handler of ["monitor", "relay", "rotate"]) {
    test(`the ${handler}'s bundle holds no undici, and importing it runs none`, async () => {
      const built = await bundleLambda(`functions/handlers/${handler}.ts`, join(scratch, handler));

      expect(undiciIn(built.metafile)).toEqual([]);
      expect(importRunsUndici(built.file)).toBe(false);
    });
  }

  test("transport.mjs holds undici's Agent and request API, and not its fetch, WebSocket, cache, mocks or Milo parser", async () => {
    const built = await bundleLambda("functions/handlers/rotate.ts", join(scratch, "rotate-transport"));
    const undici = undiciIn(built.transport.metafile);

    expect(undici).toContain(`${UNDICI}lib/dispatcher/agent.js`);
    expect(undici).toContain(`${UNDICI}lib/api/api-request.js`);
    for (const part of [
      "index.js",
      "lib/web/fetch/index.js",
      "lib/web/websocket/",
      "lib/cache/",
      "lib/mock/",
      "lib/milo/",
    ]) {
      expect(undici.filter((input) => input.startsWith(`${UNDICI}${part}`))).toEqual([]);
    }
  });

  test("a bundled client loads transport.mjs on its first request and reaches the server", async () => {
    const bundled = await bundleLambda(
      {
        name: "client-probe.ts",
        contents: [
          'import { HttpClient } from "#http/client.ts";',
          "export const handler = async (url: string) =>",
          '  (await new HttpClient({ vendor: "Probe", endpointOverride: "" }).request({ method: "GET", url, expectJson: false })).body;',
        ].join("\n"),
      },
      join(scratch, "client-probe"),
    );
    const script = [
      'import { createServer } from "node:http";',
      "const server = createServer((req, res) => res.end('answered ' + req.url));",
      'await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));',
      "const { handler } = await import(process.env.KEYTURN_TEST_BUNDLE);",
      "const body = await handler('http://127.0.0.1:' + server.address().port + '/ping');",
      "server.close();",
      "process.stdout.write(JSON.stringify({ body }));",
    ].join("\n");
    const result = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
      env: { PATH: process.env.PATH ?? "", KEYTURN_TEST_BUNDLE: pathToFileURL(bundled.file).href },
      encoding: "utf8",
      timeout: 10_000,
    });

    expect(result.status, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ body: "answered /ping" });
  });
});
