// `npm run sandbox`: keyturn on the laptop, kept running to be tried by hand with the keyturn
// CLI. Starts moto server (local AWS) and every vendor simulator behind one hub, provisions from
// the config what the stack would create (sandbox/provision.ts, as the demo does), hands each
// credential its first key as an operator would, then runs the real monitor every minute and the
// token refresh on the stack's interval, in real time, printing one line per thing they do and
// one per alert the alert rules deliver. It prints the `export` lines that point the CLI at it,
// and example commands. Ctrl-C (SIGINT) or SIGTERM stops everything.
//
//   npm run sandbox                      the example config (config/keyturn.example.json)
//   npm run sandbox -- --config my.json  another config
//
// Key values are never printed, with one exception on purpose: a fresh key this sandbox creates
// at a simulator for the `keyturn put` example, which no credential stores (yet).

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { SQSClient } from "@aws-sdk/client-sqs";
import { SSMClient } from "@aws-sdk/client-ssm";
import { parseDuration } from "#engine/duration.ts";
import { pinnedDocument } from "#engine/pinned.ts";
import { redactText } from "#http/redact.ts";
import { LEASE_TABLE } from "./local-aws.ts";
import { sweepLines } from "./report-lines.ts";
import { systemClock } from "./simulators/clock.ts";
import { type SandboxVendors, startVendors } from "./vendors.ts";

const MONITOR_EVERY_MS = 60_000;
const ALERTS_EVERY_MS = 3_000;
const DAY = 86_400_000;

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { config: { type: "string" } } });
  const progress = (line: string) => process.stderr.write(`${line}\n`);
  const line = (what: string, detail = "") =>
    console.log(`${new Date().toISOString().slice(11, 19)}  ${what.padEnd(10)}${detail}`);
  // Before keyturn's modules load: the logger reads its level once (POWERTOOLS_LOG_LEVEL=INFO
  // interleaves the handlers' structured logs).
  process.env.POWERTOOLS_LOG_LEVEL ??= "SILENT";

  const provision = await import("./provision.ts");
  const configPath = values.config ? resolve(values.config) : provision.EXAMPLE_CONFIG;
  const config = provision.sandboxConfig(configPath);
  const { aws, blueprint } = await provision.startLocalAwsWithBlueprint(config, progress);
  // Before the handler modules load: they read their environment once, as in Lambda.
  Object.assign(process.env, aws.env, {
    KEYTURN_EVENT_BUS_NAME: blueprint.busName,
    KEYTURN_LEASE_TABLE: LEASE_TABLE,
    KEYTURN_RECORDS_TABLE: blueprint.recordsTable.name,
  });
  let vendors: SandboxVendors | undefined;

  const timers = new Set<NodeJS.Timeout>();
  const running = new Set<Promise<void>>();
  let stopping = false;
  const stopped = new Promise<void>((resolveStopped) => {
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      progress(`\n${signal}: stopping the sandbox`);
      resolveStopped();
    };
    process.once("SIGINT", () => stop("SIGINT"));
    process.once("SIGTERM", () => stop("SIGTERM"));
  });

  const pinnedDir = mkdtempSync(join(tmpdir(), "keyturn-sandbox-pinned-"));
  try {
    vendors = await startVendors(config, systemClock);
    // Loaded once the environment is set: the handlers read theirs when their modules load.
    const { startLocalKeyturn } = await import("./local-keyturn.ts");
    const clients = {
      secretsManager: new SecretsManagerClient({}),
      eventBridge: new EventBridgeClient({}),
      sqs: new SQSClient({}),
      ssm: new SSMClient({}),
      dynamodb: new DynamoDBClient({}),
    };
    const provisioned = await provision.provisionAws(clients, config, blueprint);
    const keyturn = await startLocalKeyturn({
      clients,
      busName: provisioned.busName,
      clock: systemClock,
      vendorEndpoint: vendors.url,
      ...blueprint.monitor,
      refreshIntervalMs: blueprint.refresh.intervalMs,
      minTokenRemainingMs: blueprint.refresh.minTokenRemainingMs,
      tokenParameterPrefix: blueprint.refresh.tokenParameterPrefix,
      provisioned,
      pinned: provision.pinnedOf(config),
    });
    const byProvider = (provider: string) => config.credentials.filter((c) => c.provider === provider);
    // Something for the monitor to say early on: an Everflow key past its maximum age and a PAT
    // about to expire, when the config has them.
    const everflowKey = byProvider("everflow")[0];
    const expiringPat = byProvider("incorta-v2").at(-1);
    const seeded = await provision.seedKeys({
      clients,
      vendors,
      config,
      busName: provisioned.busName,
      recordsTable: provisioned.recordsTable,
      clock: systemClock,
      keys: {
        ...(everflowKey?.policy.maxAge
          ? { [everflowKey.name]: { handedOverAgoMs: (parseDuration(everflowKey.policy.maxAge) ?? 0) + DAY } }
          : {}),
        ...(expiringPat ? { [expiringPat.name]: { expiresInMs: 3 * DAY } } : {}),
      },
    });
    for (const key of seeded) {
      line(
        "put",
        `${key.credential.secretName} (${key.credential.provider}): first key ${key.keyId} handed over`,
      );
    }

    const minimum = config.alerts?.minimumSeverity ?? "warning";
    const endpoints = [...(config.alerts?.email ?? []), ...(config.alerts?.https ?? [])].join(", ");
    /** Runs `run` every `everyMs` from now on, one run at a time. */
    const job = (name: string, everyMs: number, run: () => Promise<void>) => {
      const later = () => {
        const timer = setTimeout(() => {
          timers.delete(timer);
          tick();
        }, everyMs);
        timers.add(timer);
      };
      const tick = () => {
        if (stopping) return;
        const done = run()
          .catch((error: unknown) => {
            // keyturn's errors name the credential and never carry a key; redacted all the same.
            line("FAILED", `${name}: ${redactText(error instanceof Error ? error.message : String(error))}`);
          })
          .finally(() => {
            running.delete(done);
            if (!stopping) later();
          });
        running.add(done);
      };
      later();
    };
    const refresh = async () => {
      const report = await keyturn.refresh(`sandbox-refresh-${Date.now()}`);
      for (const failure of report.failures)
        line("FAILED", `refresh: ${failure.credential}: ${failure.error}`);
      for (const outcome of report.outcomes) {
        const tokens =
          outcome.outcome === "failed" ? undefined : await keyturn.storedTokens(outcome.credential);
        const left = tokens
          ? `; access token valid ${Math.round((tokens.accessTokenExpiresAt - Date.now()) / 1000)} s more`
          : "";
        line("refresh", `${outcome.credential}: ${outcome.outcome}${left}`);
      }
    };
    const sweep = async () => {
      const report = await keyturn.sweep();
      const lines = sweepLines(report);
      for (const { what, detail } of lines) line(what, detail);
      if (lines.length === 0) line("monitor", `swept ${report.credentials} credentials: nothing due`);
    };
    const alerts = async () => {
      const delivered = await provisioned.alerts.drain();
      for (const [severity, events] of Object.entries(delivered)) {
        const to = endpoints && provision.severityReaches(severity, minimum) ? ` -> ${endpoints}` : "";
        for (const event of events) {
          const { credential, keyId, reason } = event.detail;
          const about = [keyId ? `key ${keyId}` : "", reason ? String(reason) : ""]
            .filter(Boolean)
            .join(", ");
          line(
            "alert",
            `${severity}: ${event["detail-type"]}: ${credential}${about ? ` (${about})` : ""}${to}`,
          );
        }
      }
    };
    await refresh();
    await sweep();
    await alerts();

    // The `put` example's key: created at the simulator now, stored by nobody until the reader
    // pipes it to `keyturn put`. Printed on purpose, here only.
    let putExample: string | undefined;
    if (everflowKey) {
      const label = `${everflowKey.name} 2`;
      const created = vendors.everflow.createKey({ portal: "partner", name: label });
      putExample = `echo '${created.key}' | npx keyturn put ${everflowKey.secretName} --key-id '${label}'`;
    }
    const automatic = config.credentials.filter((c) => c.mode === "automatic");
    const rotateExample = automatic[0];
    const revokeExample = automatic.find((c) => c.issuer) ?? automatic.at(-1);
    // What this deployment pins, for the CLI (cli/pinned.ts), as the functions get it baked in.
    const pinnedFile = join(pinnedDir, "pinned.json");
    writeFileSync(pinnedFile, JSON.stringify(pinnedDocument(provision.pinnedOf(config).all())));
    const ready = [
      "",
      `keyturn sandbox: moto at ${aws.endpoint}, vendor simulators at ${vendors.url}`,
      `provisioned from ${relative(process.cwd(), configPath)}: ${provisioned.secrets.length} credentials, ` +
        `bus "${provisioned.busName}", alert rules by severity (SQS stand-ins for the topics), the lease table`,
      "",
      "Point the keyturn CLI at it, in another terminal in this directory:",
      "",
      `export AWS_ENDPOINT_URL=${aws.endpoint}`,
      `export AWS_REGION=${aws.env.AWS_REGION}`,
      `export AWS_ACCESS_KEY_ID=${aws.env.AWS_ACCESS_KEY_ID}`,
      `export AWS_SECRET_ACCESS_KEY=${aws.env.AWS_SECRET_ACCESS_KEY}`,
      `export KEYTURN_VENDOR_ENDPOINT=${vendors.url}`,
      "export KEYTURN_SANDBOX=1",
      `export KEYTURN_PINNED_FILE=${pinnedFile}`,
      "",
      "Then try:",
      "  npx keyturn status",
      ...(rotateExample ? [`  npx keyturn rotate ${rotateExample.secretName}`] : []),
      ...(revokeExample
        ? [`  npx keyturn revoke ${revokeExample.secretName} --reason "found in a build log"`]
        : []),
      ...(putExample
        ? [
            `  ${putExample}`,
            "    (a new key this sandbox just created in the Everflow simulator; printed for this example only)",
          ]
        : []),
      "",
      `The monitor sweeps every ${MONITOR_EVERY_MS / 60_000} minute(s) (hourly in AWS) and the token refresh runs every ` +
        `${blueprint.refresh.intervalMs / 60_000} minutes; what they do, and every alert, is printed below. Ctrl-C stops the sandbox.`,
      "",
    ];
    console.log(ready.join("\n"));

    job("monitor", MONITOR_EVERY_MS, sweep);
    job("refresh", blueprint.refresh.intervalMs, refresh);
    job("alerts", ALERTS_EVERY_MS, alerts);
    await stopped;
  } finally {
    stopping = true;
    for (const timer of timers) clearTimeout(timer);
    await Promise.allSettled(running);
    await vendors?.close();
    await aws.stop();
    rmSync(pinnedDir, { recursive: true, force: true });
    progress("sandbox stopped");
  }
}

await main();
