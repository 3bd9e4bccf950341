// The benchmark measures the bundles the stack deploys: its copy of the esbuild options
// (bench/lambda-build.ts) must build the very bytes that NodejsFunction builds for a
// KeyturnFunction (infra/keyturn-function.ts).

import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { App, Duration, Stack } from "aws-cdk-lib";
import { afterAll, expect, test } from "vitest";
import { BUNDLE_FILE, bundleLambda, TRANSPORT_FILE } from "../../bench/lambda-build.ts";
import { KeyturnFunction } from "../../infra/keyturn-function.ts";

const cdkContext: Record<string, unknown> = JSON.parse(
  readFileSync(new URL("../../cdk.json", import.meta.url), "utf8"),
).context;

const scratch = mkdtempSync(join(tmpdir(), "keyturn-bench-build-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function stackBundle(): {
  code: Buffer;
  map: { mappings: string; sourcesContent?: unknown };
  transport: Buffer;
  transportMap: { mappings: string };
} {
  const app = new App({ outdir: join(scratch, "cdk.out"), context: cdkContext });
  new KeyturnFunction(new Stack(app, "BenchBuild"), "Relay", {
    handler: "relay",
    description: "bench: the relay as the stack bundles it",
    timeout: Duration.seconds(30),
    environment: { KEYTURN_EVENT_BUS_NAME: "keyturn" },
  });
  const assembly = app.synth();
  const assets = readdirSync(assembly.directory).filter((name) => name.startsWith("asset."));
  expect(assets).toHaveLength(1);
  const directory = join(assembly.directory, assets[0] ?? "");
  return {
    code: readFileSync(join(directory, BUNDLE_FILE)),
    map: JSON.parse(readFileSync(join(directory, `${BUNDLE_FILE}.map`), "utf8")),
    transport: readFileSync(join(directory, TRANSPORT_FILE)),
    transportMap: JSON.parse(readFileSync(join(directory, `${TRANSPORT_FILE}.map`), "utf8")),
  };
}

test("the benchmark bundles a handler into the same bytes as the stack's NodejsFunction", async () => {
  const deployed = stackBundle();

  const benched = await bundleLambda("functions/handlers/relay.ts", join(scratch, "bench"));

  expect(readFileSync(benched.file).equals(deployed.code)).toBe(true);
  const benchedMap = JSON.parse(readFileSync(`${benched.file}.map`, "utf8"));
  expect(benchedMap.mappings).toBe(deployed.map.mappings);
  expect(benchedMap.sourcesContent).toEqual(deployed.map.sourcesContent);
  // The vendor client's undici part, built beside it (infra/keyturn-function.ts, afterBundling).
  expect(readFileSync(benched.transport.file).equals(deployed.transport)).toBe(true);
  expect(JSON.parse(readFileSync(`${benched.transport.file}.map`, "utf8")).mappings).toBe(
    deployed.transportMap.mappings,
  );
});
