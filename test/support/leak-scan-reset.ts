// The suite-wide leak guard (issue 8), as the main test project's global setup: it starts the
// run with an empty leak-scan folder and, when every test file has finished and dumped its
// transcript (test/support/leak-recorder.ts), scans everything the suite printed or
// published (logs, captured output, events received, errors of failed rotations, CLI and
// demo output) for every secret value any vendor simulator handed out. One hit fails the run.
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { claimLeakScanDir } from "./leak-scan-dir.ts";

export function scanForLeaks(dir: string): { secrets: number; scannedBytes: number; leaked: string[] } {
  const dumps = readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.name.endsWith(".json"))
    .map(
      (entry) =>
        JSON.parse(readFileSync(join(dir, entry.name), "utf8")) as {
          secrets: string[];
          texts: string[];
        },
    );
  const consoleLog = join(dir, "console.txt");
  const printed = existsSync(consoleLog) ? readFileSync(consoleLog, "utf8") : "";
  const secrets = [...new Set(dumps.flatMap((dump) => dump.secrets))].filter((secret) => secret.length >= 8);
  const haystack = [printed, ...dumps.flatMap((dump) => dump.texts)].join("\n");
  const leaked = secrets
    .filter((secret) => haystack.includes(secret))
    .map((secret) => `${secret.slice(0, 4)}…`);
  return { secrets: secrets.length, scannedBytes: haystack.length, leaked };
}

export default function setup() {
  const dir = claimLeakScanDir();
  return () => {
    let result: ReturnType<typeof scanForLeaks>;
    try {
      result = scanForLeaks(dir);
    } catch {
      return; // a partial run (a filter) that recorded nothing
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    console.log(
      `leak guard: scanned ${Math.round(result.scannedBytes / 1024)} KiB that the suite printed or published ` +
        `for ${result.secrets} secret values: ${result.leaked.length} found`,
    );
    if (result.leaked.length > 0) {
      throw new Error(
        `leak guard: ${result.leaked.length} secret value(s) appeared in test output: ${result.leaked.join(", ")}`,
      );
    }
  };
}
