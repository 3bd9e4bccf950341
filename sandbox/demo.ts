// `npm run demo`: keyturn's main job on the local sandbox. Starts moto server (local AWS) and
// every vendor simulator behind one hub, provisions from config/keyturn.example.json what the
// stack would create (sandbox/provision.ts: secrets, tags, bus, alert rules, subscriber queue,
// lease table, read from the synthesized template), hands each credential its first key as an
// operator would, then plays five weeks with an injected clock through the real rotate,
// monitor, refresh and revoke handlers: the config's rotation schedules, token refreshes,
// expiry warnings and an expired PAT, manual rotations handed over by an "operator", a
// grace-period revocation, a revocation postponed because a consumer still uses the old key,
// disable-then-delete, an emergency revoke of a leaked key, and an hour-long SoftwareOne outage
// during a scheduled rotation that Secrets Manager's retries get through.
//
// This script plays Secrets Manager's part in a rotation (moto cannot run rotation Lambdas),
// its rotation schedules, and the operator's part in a manual one (the UIs are simulated). The
// monitor, hourly in AWS, sweeps here once a day and whenever the script needs it.
// It prints a timeline (key ids, never key values); `npm run demo -- --json` prints only the
// summary object.

import { relative } from "node:path";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { SQSClient } from "@aws-sdk/client-sqs";
import { SSMClient } from "@aws-sdk/client-ssm";
import { LEASE_TABLE } from "./local-aws.ts";
import { shortId as short, sweepLines } from "./report-lines.ts";
import { rotateLikeSecretsManager } from "./rotation-driver.ts";
import { ManualClock } from "./simulators/clock.ts";
import { SOFTWAREONE_HOST } from "./simulators/softwareone.ts";
import { incortaCluster, type SandboxVendors, startVendors } from "./vendors.ts";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const MINUTE = 60_000;
const START = "2026-11-22T09:00:00Z";
/** How long Secrets Manager waits before it retries a failed rotation, as this demo plays it. */
const ROTATION_RETRY_DELAY = 30 * MINUTE;

interface CredentialSummary {
  name: string;
  provider: string;
  rotations: number;
  revoked: number;
  refreshes: number;
  state: string;
}

interface Summary {
  credentials: CredentialSummary[];
  events: Record<string, number>;
  /** Events received, by severity. */
  severities: Record<"info" | "warning" | "critical", number>;
  /** The warnings and critical events, by detail type (and, for revocations, reason): what would page someone. */
  alerts: Record<string, number>;
  /** "Credential Revoked" events received, by reason. */
  revocations: Record<string, number>;
  /** Keys handed over by a person and accepted, by credential. */
  manualRotations: Record<string, number>;
  /** Rotations that never succeeded, sweep failures, and refresh failures no later run recovered. */
  failures: number;
}

/** The next run of a Secrets Manager schedule after `after`: rate(), or cron() on a day of the month. */
function nextScheduled(expression: string, lastRotation: number, after: number): number {
  const rate = /^rate\((\d+) (hours?|days?)\)$/.exec(expression);
  if (rate) return lastRotation + Number(rate[1]) * (rate[2]?.startsWith("hour") ? HOUR : DAY);
  const cron = /^cron\((\d+) (\d+) (\d+) \* \? \*\)$/.exec(expression);
  if (!cron) throw new Error(`The demo plays rate() schedules and monthly cron() ones, not ${expression}`);
  const [, minute, hour, day] = cron.map(Number) as [number, number, number, number];
  const from = new Date(after);
  for (let month = 0; ; month++) {
    const at = Date.UTC(from.getUTCFullYear(), from.getUTCMonth() + month, day, hour, minute);
    if (at > after) return at;
  }
}

async function main(): Promise<void> {
  const json = process.argv.includes("--json");
  const say = (line: string) => {
    if (!json) console.log(line);
  };
  const progress = (line: string) => process.stderr.write(`${line}\n`);
  // Before keyturn's modules load: the logger reads its level once. The handlers' JSON logs would
  // interleave with the timeline; POWERTOOLS_LOG_LEVEL=INFO shows them. With --json, stdout
  // carries the summary alone.
  process.env.POWERTOOLS_LOG_LEVEL = json ? "SILENT" : (process.env.POWERTOOLS_LOG_LEVEL ?? "SILENT");

  const provision = await import("./provision.ts");
  const config = provision.sandboxConfig();
  const { aws, blueprint } = await provision.startLocalAwsWithBlueprint(config, progress);
  // Before the handler modules load: they read their environment once, as in Lambda.
  Object.assign(process.env, aws.env, {
    KEYTURN_EVENT_BUS_NAME: blueprint.busName,
    KEYTURN_LEASE_TABLE: LEASE_TABLE,
    KEYTURN_RECORDS_TABLE: blueprint.recordsTable.name,
  });
  const clock = new ManualClock(new Date(START));
  let vendors: SandboxVendors | undefined;
  try {
    vendors = await startVendors(config, clock);
    const { immuta, softwareone, incorta, everflow } = vendors;
    // Loaded once the environment is set: the handlers read theirs when their modules load.
    const { startLocalKeyturn } = await import("./local-keyturn.ts");
    const { Tag } = await import("#engine/settings.ts");
    const clients = {
      secretsManager: new SecretsManagerClient({}),
      eventBridge: new EventBridgeClient({}),
      sqs: new SQSClient({}),
      ssm: new SSMClient({}),
      dynamodb: new DynamoDBClient({}),
    };

    const at = () => new Date(clock.now()).toISOString().replace(":00.000Z", "Z");
    const line = (what: string, detail = "") => say(`${at()}  ${what.padEnd(10)}${detail}`);
    say(`keyturn demo: moto at ${aws.endpoint}, vendor simulators at ${vendors.url}\n`);

    const provisioned = await provision.provisionAws(clients, config, blueprint);
    line(
      "provision",
      `from ${relative(process.cwd(), provision.EXAMPLE_CONFIG)} and its synthesized template: ` +
        `${provisioned.secrets.length} secrets with their keyturn:* tags, bus "${provisioned.busName}", ` +
        "alert rules by severity (SQS queues stand in for the SNS topics), a subscriber queue, the lease table",
    );
    const keyturn = await startLocalKeyturn({
      clients,
      busName: provisioned.busName,
      clock,
      vendorEndpoint: vendors.url,
      ...blueprint.monitor,
      refreshIntervalMs: blueprint.refresh.intervalMs,
      minTokenRemainingMs: blueprint.refresh.minTokenRemainingMs,
      tokenParameterPrefix: blueprint.refresh.tokenParameterPrefix,
      provisioned,
      pinned: provision.pinnedOf(config),
      // The month is compressed, and so are the HTTP client's waits between retries.
      http: { retryBaseMs: 20, retryMaxMs: 200 },
    });

    // The script's parts, by the example config's names.
    const credential = (name: string) => {
      const found = config.credentials.find((c) => c.name === name);
      if (!found) throw new Error(`The demo's script needs the credential "${name}" of the example config`);
      return found;
    };
    const IMMUTA = credential("immuta-request-app").secretName;
    const S1_ADMIN = credential("softwareone-admin").secretName;
    const S1_CATALOG = credential("softwareone-catalog").secretName;
    const INCORTA_V1 = credential("incorta-analytics").secretName;
    const INCORTA_PAT = credential("incorta-reporting-pat").secretName;
    const EVERFLOW = credential("everflow-partner").secretName;
    const reporting = credential("incorta-reporting-pat");
    const everflowMaxAge = credential("everflow-partner").policy.maxAge ?? "90d";

    // Keys created by hand at the vendors and handed over as `keyturn put` does.
    const seeded = await provision.seedKeys({
      clients,
      vendors,
      config,
      busName: provisioned.busName,
      recordsTable: provisioned.recordsTable,
      clock,
      keys: {
        "incorta-reporting-pat": { label: "reporting-2026-11", expiresInMs: 20 * DAY },
        "incorta-legacy-pat": { label: "legacy-export", expiresInMs: 3 * DAY },
        "everflow-partner": { label: "partner reporting", handedOverAgoMs: 88 * DAY },
      },
    });
    for (const key of seeded) {
      const tags = await keyturn.tags(key.credential.secretName);
      const expires =
        tags[Tag.expiresAt] && tags[Tag.expiresAt] !== "none" ? `, expires ${tags[Tag.expiresAt]}` : "";
      const daysAgo = Math.round((clock.now() - Date.parse(tags[Tag.issuedAt] ?? "")) / DAY);
      const maxAge = key.credential.policy.maxAge;
      const age =
        (daysAgo > 0 ? `, handed over ${daysAgo} days ago` : "") + (maxAge ? ` (maximum age ${maxAge})` : "");
      const issuer = key.credential.issuer ? `, issued by ${key.credential.issuer.secretName}` : "";
      line(
        "put",
        `${key.credential.secretName} (${key.credential.provider}): key ${short(key.keyId)}${issuer}${expires}${age}`,
      );
    }
    // The handovers' own events are the setup's; the month's count starts now.
    await keyturn.subscriber.drain();
    await provisioned.alerts.drain();
    const seededKey = (name: string) => {
      const key = seeded.find((k) => k.credential.secretName === name);
      if (!key) throw new Error(`No key was seeded for ${name}`);
      return key;
    };

    // Events as the subscriber receives them, counted as they come; a revocation no sweep
    // reports (a rotation deleting a disabled key it supersedes) is shown when it arrives.
    const events: Record<string, number> = {};
    const severities: Summary["severities"] = { info: 0, warning: 0, critical: 0 };
    const alerting: Record<string, number> = {};
    const revocations: Record<string, number> = {};
    const revokedBy = new Map<string, number>();
    const collect = async () => {
      for (const event of await keyturn.subscriber.drain()) {
        events[event["detail-type"]] = (events[event["detail-type"]] ?? 0) + 1;
        const severity = event.detail.severity as keyof Summary["severities"];
        if (severity in severities) severities[severity]++;
        if (severity === "warning" || severity === "critical") {
          const what =
            event["detail-type"] === "Credential Revoked"
              ? `${event["detail-type"]}: ${event.detail.reason}`
              : event["detail-type"];
          const key = `${severity} ${what}`;
          alerting[key] = (alerting[key] ?? 0) + 1;
        }
        if (event["detail-type"] !== "Credential Revoked") continue;
        const { credential: name, reason, keyId, strength, outcome } = event.detail;
        revokedBy.set(String(name), (revokedBy.get(String(name)) ?? 0) + 1);
        revocations[String(reason)] = (revocations[String(reason)] ?? 0) + 1;
        if (reason === "superseded") {
          line(
            "revoked",
            `${name} key ${short(keyId)}: ${strength} (superseded by the rotation, ${outcome})`,
          );
        }
      }
    };
    const rotations = new Map<string, number>();
    const lastRotation = new Map<string, number>();
    let failures = 0;

    // A vendor outage on the simulator's side, switched on and off as the clock passes it.
    const outage = {
      start: Date.parse("2026-11-29T08:45:00Z"),
      end: Date.parse("2026-11-29T09:45:00Z"),
      on: false,
    };
    const outageRule = {
      fault: { kind: "status" as const, status: 503 },
      times: Number.POSITIVE_INFINITY,
    };
    const followOutage = () => {
      const due = clock.now() >= outage.start && clock.now() < outage.end;
      if (due && !outage.on) {
        softwareone.faults.add(outageRule);
        line(
          "OUTAGE",
          `SoftwareOne (${SOFTWAREONE_HOST}) answers every call with 503 until ${new Date(outage.end).toISOString()}`,
        );
      }
      if (!due && outage.on) {
        softwareone.faults.clear();
        line("recovered", "SoftwareOne answers again");
      }
      outage.on = due;
    };

    const rotate = async (name: string, why: string) => {
      const before = (await keyturn.read(name)).keyId;
      const rotation = await rotateLikeSecretsManager(
        async (event) => {
          try {
            await keyturn.invoke(event);
          } catch (error) {
            const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
            const first = reason.split("\n")[0] ?? "";
            line(
              "failed",
              `${name} ${event.Step}: ${first.length > 220 ? `${first.slice(0, 220)}…` : first}`,
            );
            throw error;
          }
        },
        name,
        {
          // Secrets Manager retries a failed rotation by itself, with the same token.
          beforeAttempt: (attempt) => {
            if (attempt === 1) return;
            clock.advance(ROTATION_RETRY_DELAY);
            followOutage();
            line("retry", `${name}: Secrets Manager retries the rotation (attempt ${attempt})`);
          },
        },
      );
      // The schedule moves on either way; a rotation that never succeeded is a failure.
      lastRotation.set(name, clock.now());
      if (!rotation.succeeded) {
        failures++;
        line("FAILED", `${name} ${why}: no attempt succeeded`);
        return;
      }
      rotations.set(name, (rotations.get(name) ?? 0) + 1);
      const tags = await keyturn.tags(name);
      const retried = rotation.attempts > 1 ? ` (after ${rotation.attempts - 1} failed attempts)` : "";
      line(
        "rotated",
        `${name} ${why}: key ${short(before)} -> ${short(tags[Tag.keyId])}${retried}; old key valid until ${tags[Tag.revokeAfter]}`,
      );
    };
    const inUseLimit = (name: string) =>
      String(config.credentials.find((c) => c.secretName === name)?.policy.inUseLimit ?? "");
    const sweep = async (why: string | undefined) => {
      const report = await keyturn.sweep();
      failures += report.failures.length;
      const lines = sweepLines(report, { inUseLimit });
      for (const { what, detail } of lines) line(what, detail);
      if (lines.length === 0 && why !== undefined) line("sweep", `${why}: nothing due`);
    };
    let refreshes = 0;
    /** Credentials whose last refresh run failed; a later successful run recovers them. */
    const refreshFailing = new Set<string>();
    const refresh = async (runs: number, show: boolean) => {
      const outcomes: Record<string, number> = {};
      for (let run = 0; run < runs; run++) {
        const report = await keyturn.refresh(`refresh-${clock.now()}`);
        for (const f of report.failures) {
          refreshFailing.add(f.credential);
          line("FAILED", `refresh: ${f.credential}: ${f.error}`);
        }
        for (const o of report.outcomes) {
          outcomes[o.outcome] = (outcomes[o.outcome] ?? 0) + 1;
          if (o.outcome === "refreshed" || o.outcome === "minted") refreshes++;
          if (o.outcome !== "failed" && o.outcome !== "busy") refreshFailing.delete(o.credential);
        }
        if (run < runs - 1) clock.advance(blueprint.refresh.intervalMs);
      }
      if (!show) return;
      const tokens = await keyturn.storedTokens(INCORTA_V1);
      const left = Math.round(((tokens?.accessTokenExpiresAt ?? 0) - clock.now()) / 1000);
      line(
        "tokens",
        `${INCORTA_V1}: ${runs} refresh run(s), one every ${blueprint.refresh.intervalMs / MINUTE} min ${JSON.stringify(outcomes)}; ` +
          `the access token consumers read is valid ${left} s more`,
      );
    };
    const manualRotations: Record<string, number> = {};
    const handOver = async (name: string, input: Record<string, unknown>, what: string) => {
      const accepted = await keyturn.put(name, input);
      manualRotations[name] = (manualRotations[name] ?? 0) + 1;
      line(
        "put",
        `${name}: ${what}; verified, key ${short(accepted.keyId)} is AWSCURRENT (was ${short(accepted.previousKeyId)})`,
      );
    };

    // The agenda: scripted moments, the config's rotation schedules and the daily sweep, in time order.
    const agenda: { at: number; order: number; run: () => Promise<void> }[] = [];
    let added = 0;
    const on = (when: string | number, run: () => Promise<void>) => {
      agenda.push({ at: typeof when === "number" ? when : Date.parse(when), order: added++, run });
    };
    const end = Date.parse("2026-12-27T10:00:00Z");

    say("");
    await rotate(IMMUTA, "now (as `keyturn rotate` would)");
    await rotate(S1_CATALOG, "now, then every week (rotateEvery 7d)");
    await collect();
    await refresh(30, true);
    await sweep("first sweep");
    await collect();

    // Secrets Manager's schedules: rate() counts from the last rotation (an emergency revoke's
    // included), cron() runs at fixed times.
    const schedule = (name: string) => {
      const rotation = config.credentials.find((c) => c.secretName === name)?.rotation;
      if (!rotation) return;
      const expression = rotation.scheduleExpression;
      const plan = () => {
        const due = nextScheduled(expression, lastRotation.get(name) ?? clock.now(), clock.now());
        on(due, async () => {
          if (nextScheduled(expression, lastRotation.get(name) ?? due, due - 1) > clock.now()) return plan();
          await rotate(name, `on schedule (${expression})`);
          plan();
        });
      };
      plan();
    };
    for (const name of [IMMUTA, S1_ADMIN, S1_CATALOG]) schedule(name);
    for (let day = Date.parse("2026-11-23T10:00:00Z"); day <= end; day += DAY) {
      on(day, async () => {
        await sweep(undefined);
        await refresh(1, false);
      });
    }

    const catalogKey = seededKey(S1_CATALOG);
    on("2026-11-23T09:30:00Z", async () => {
      const old = (await keyturn.tags(S1_CATALOG))[Tag.previousKeyId] ?? catalogKey.keyId;
      softwareone.touch(old);
      line("used", `a consumer still calls SoftwareOne with the old ${S1_CATALOG} key ${old}`);
    });
    on("2026-11-23T11:00:00Z", () => sweep("an hour later, the consumer has switched"));
    on("2026-11-25T14:00:00Z", async () => {
      const leaked = (await keyturn.read(IMMUTA)).keyId;
      line("LEAK", `${IMMUTA} key ${short(leaked)} found in a public repository: emergency revoke`);
      const outcome = await keyturn.revoke({
        credential: IMMUTA,
        keyId: leaked,
        reason: "found in a public repository",
      });
      if (outcome.rotated) {
        rotations.set(IMMUTA, (rotations.get(IMMUTA) ?? 0) + 1);
        lastRotation.set(IMMUTA, clock.now());
      } else failures++;
      line(
        "revoked",
        `${IMMUTA} key ${short(outcome.keyId)}: hard (compromised, ${outcome.revocation}); new key ${short((await keyturn.read(IMMUTA)).keyId)} is current`,
      );
      await sweep("the same hour");
    });
    const everflowKey = seededKey(EVERFLOW);
    on("2026-11-25T15:00:00Z", () =>
      handOver(
        EVERFLOW,
        {
          apiKey: everflow.createKey({ portal: "partner", name: "partner reporting 2" }).key,
          keyId: "partner reporting 2",
        },
        `past its maximum age (${everflowMaxAge}), an operator creates a key in the Everflow UI and hands it over`,
      ),
    );
    on("2026-11-27T12:00:00Z", async () => {
      everflow.revokeKey(Number(everflowKey.vendorId));
      line("ui", `${EVERFLOW}: the operator revokes the old key in the Everflow UI`);
    });
    on(outage.start, async () => followOutage());
    on(outage.end, async () => followOutage());
    const reportingKey = seededKey(INCORTA_PAT);
    on("2026-11-30T09:00:00Z", async () => {
      const expiresAt = new Date(clock.now() + 90 * DAY);
      const pat = incorta.createPat(
        incortaCluster(reporting.settings),
        String(reporting.settings.tenantName),
        provision.INCORTA_PAT_OWNER,
        {
          name: "reporting-2027-02",
          expiresAt,
        },
      );
      await handOver(
        INCORTA_PAT,
        { token: pat.token, keyId: "reporting-2027-02", expiresAt: expiresAt.toISOString() },
        "warned 14 days before expiry, an operator creates a PAT in Incorta's Profile Manager and hands it over",
      );
    });
    on("2026-12-01T12:00:00Z", async () => {
      incorta.revokePat(String(reportingKey.vendorId));
      line("ui", `${INCORTA_PAT}: the operator revokes the old PAT in Incorta's Profile Manager`);
    });

    while (agenda.length > 0) {
      agenda.sort((a, b) => a.at - b.at || a.order - b.order);
      const next = agenda.shift();
      if (!next || next.at > end) break;
      if (next.at > clock.now()) clock.set(next.at);
      await next.run();
      await collect();
    }

    await refresh(1, true);
    failures += refreshFailing.size;
    await collect();
    const alerts = await provisioned.alerts.drain();

    const live = async (name: string, provider: string): Promise<boolean> => {
      const value = await keyturn.read(name);
      switch (provider) {
        case "immuta-request":
          return immuta.isLive(String(value.token));
        case "softwareone":
          return softwareone.isLive(String(value.token));
        case "everflow":
          return everflow.isLive(String(value.apiKey));
        case "incorta-v1":
          return incorta.isAccessTokenValid(String((await keyturn.storedTokens(name))?.accessToken));
        default:
          return incorta.isPatLive(String(value.token));
      }
    };
    const credentials: CredentialSummary[] = [];
    for (const { secretName: name, provider } of config.credentials) {
      const value = await keyturn.read(name);
      const expired = typeof value.expiresAt === "string" && Date.parse(value.expiresAt) <= clock.now();
      credentials.push({
        name,
        provider,
        rotations: (rotations.get(name) ?? 0) + (manualRotations[name] ?? 0),
        revoked: revokedBy.get(name) ?? 0,
        refreshes: name === INCORTA_V1 ? refreshes : 0,
        state: expired ? "expired" : (await live(name, provider)) ? "healthy" : "broken",
      });
    }
    const summary: Summary = {
      credentials,
      events,
      severities,
      alerts: alerting,
      revocations,
      manualRotations,
      failures,
    };
    if (json) {
      console.log(JSON.stringify(summary));
    } else {
      say(`\nevents received by the subscriber queue: ${JSON.stringify(events)}`);
      const minimum = config.alerts?.minimumSeverity ?? "warning";
      const subscribers =
        [...(config.alerts?.email ?? []), ...(config.alerts?.https ?? [])].join(", ") || "nobody";
      for (const [severity, received] of Object.entries(alerts)) {
        const types: Record<string, number> = {};
        for (const event of received) types[event["detail-type"]] = (types[event["detail-type"]] ?? 0) + 1;
        const reaches = provision.severityReaches(severity, minimum) ? ` -> ${subscribers}` : "";
        say(
          `${severity} alert topic (an SQS stand-in): ${received.length} ${JSON.stringify(types)}${reaches}`,
        );
      }
      say(
        `vendor calls: Immuta ${immuta.requests.length}, SoftwareOne ${softwareone.requests.length} ` +
          `(${softwareone.requests.filter((r) => r.status === 503).length} answered 503 during the outage), ` +
          `Incorta ${incorta.requests.length}, Everflow ${everflow.requests.length}`,
      );
      say(`\nsummary: ${JSON.stringify(summary, null, 2)}`);
    }
    // The legacy PAT is left to expire on purpose, to show the alert trail; nothing else may break.
    if (failures > 0 || summary.credentials.some((c) => c.state === "broken")) process.exitCode = 1;
  } finally {
    await vendors?.close();
    await aws.stop();
  }
}

await main();
