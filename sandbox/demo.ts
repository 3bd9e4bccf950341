// `npm run demo`: keyturn's main job on the local sandbox. Starts moto server (local AWS)
// and every vendor simulator behind one hub, stores one credential of each kind (Immuta and
// SoftwareOne, rotated by API; an Incorta v1 key whose tokens are refreshed; an Everflow key
// and Incorta v2 PATs that only a person can replace) and plays a month with an injected
// clock through the real rotate, monitor, refresh and revoke handlers: rotations, token
// refreshes, expiry warnings, manual rotations, a grace-period revocation, a revocation
// postponed because a consumer still uses the old key, disable-then-delete, and an emergency
// revoke of a leaked key. This script plays Secrets Manager's part in a rotation and the
// operator's in a manual one (moto cannot run rotation Lambdas; the UIs are simulated).
// It prints a timeline (key ids, never key values); `npm run demo -- --json` prints only
// the summary object.

import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { SQSClient } from "@aws-sdk/client-sqs";
import { SSMClient } from "@aws-sdk/client-ssm";
import { startLocalAws } from "./local-aws.ts";
import { ManualClock } from "./simulators/clock.ts";
import { EVERFLOW_HOSTS, startEverflowSimulator } from "./simulators/everflow.ts";
import { startVendorHub } from "./simulators/hub.ts";
import { IMMUTA_REGIONS, startImmutaSimulator } from "./simulators/immuta.ts";
import { startIncortaSimulator } from "./simulators/incorta.ts";
import {
  SOFTWAREONE_ADMIN_MODULE,
  SOFTWAREONE_HOST,
  startSoftwareOneSimulator,
} from "./simulators/softwareone.ts";

const BUS_NAME = "keyturn";
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const IMMUTA = "keyturn/immuta-request-app";
const S1_ADMIN = "keyturn/softwareone-admin";
const S1_CATALOG = "keyturn/softwareone-catalog";
const INCORTA_V1 = "keyturn/incorta-analytics";
const INCORTA_PAT = "keyturn/incorta-reporting-pat";
const INCORTA_LEGACY_PAT = "keyturn/incorta-legacy-pat";
const EVERFLOW = "keyturn/everflow-partner";
const CLUSTER = "acme.cloud.incorta.com";
const MINUTE = 60_000;

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
  /** "Credential Revoked" events received, by reason. */
  revocations: Record<string, number>;
  /** Keys handed over by a person and accepted, by credential. */
  manualRotations: Record<string, number>;
  failures: number;
}

async function main(): Promise<void> {
  const json = process.argv.includes("--json");
  const say = (line: string) => {
    if (!json) console.log(line);
  };
  const progress = (line: string) => process.stderr.write(`${line}\n`);

  const aws = await startLocalAws({ log: progress });
  // Before the handler modules load: they read their environment once, as in Lambda.
  Object.assign(process.env, aws.env, {
    KEYTURN_EVENT_BUS_NAME: BUS_NAME,
    KEYTURN_LEASE_TABLE: "keyturn-leases",
    // The handlers' JSON logs would interleave with the timeline; POWERTOOLS_LOG_LEVEL=INFO
    // shows them. With --json, stdout carries the summary alone.
    POWERTOOLS_LOG_LEVEL: json ? "SILENT" : (process.env.POWERTOOLS_LOG_LEVEL ?? "SILENT"),
  });
  const clock = new ManualClock(new Date("2026-11-22T09:00:00Z"));
  const immuta = await startImmutaSimulator({ clock });
  const softwareone = await startSoftwareOneSimulator({ clock });
  const incorta = await startIncortaSimulator({ clock });
  const everflow = await startEverflowSimulator({ clock });
  const hub = await startVendorHub({
    ...Object.fromEntries(IMMUTA_REGIONS.map((region) => [`${region}.api.immutacloud.com`, immuta.url])),
    ...Object.fromEntries(EVERFLOW_HOSTS.map((host) => [host, everflow.url])),
    [SOFTWAREONE_HOST]: softwareone.url,
    [CLUSTER]: incorta.url,
  });
  try {
    const { startLocalKeyturn } = await import("./local-keyturn.ts");
    const { Tag } = await import("#engine/settings.ts");
    const keyturn = await startLocalKeyturn({
      clients: {
        secretsManager: new SecretsManagerClient({}),
        eventBridge: new EventBridgeClient({}),
        sqs: new SQSClient({}),
        ssm: new SSMClient({}),
        dynamodb: new DynamoDBClient({}),
      },
      busName: BUS_NAME,
      clock,
      vendorEndpoint: hub.url,
      orphanSafetyMarginMs: HOUR,
      reconcileIntervalMs: 6 * HOUR,
      stuckAfterMs: 6 * HOUR,
      refreshIntervalMs: 2 * 60_000,
      minTokenRemainingMs: 2 * 60_000,
    });

    const at = () => new Date(clock.now()).toISOString().replace(":00.000Z", "Z");
    // Long generated ids are shortened; names given by people are shown whole.
    const short = (id: unknown) => (String(id).length > 20 ? `${String(id).slice(0, 13)}…` : String(id));
    const line = (what: string, detail = "") => say(`${at()}  ${what.padEnd(10)}${detail}`);
    const rotations = new Map<string, number>();
    let failures = 0;

    say(`keyturn demo: moto at ${aws.endpoint}, vendor simulators at ${hub.url}\n`);

    // Keys created by hand at the vendors, then stored in Secrets Manager (as `keyturn put` will).
    const user = immuta.createUser("na", { name: "integration-bot" });
    const immutaKey = immuta.seedToken("na", user.userId, {
      description: "generated by hand in the Request app",
      expirationDate: new Date(clock.now() + 90 * DAY),
    });
    await keyturn.createSecret(
      IMMUTA,
      {
        provider: "immuta-request",
        region: "na",
        token: immutaKey.token,
        keyId: immutaKey.tokenId,
        expiresAt: new Date(clock.now() + 90 * DAY).toISOString(),
      },
      {
        [Tag.provider]: "immuta-request",
        [Tag.credential]: IMMUTA,
        [Tag.gracePeriod]: "24h",
        [Tag.keyLifetime]: "90d",
      },
    );
    line("stored", `${IMMUTA} (immuta-request, region na), key ${short(immutaKey.tokenId)}`);

    const { accountId } = softwareone.createAccount({ name: "Example Corp" });
    const adminKey = softwareone.seedToken(accountId, {
      name: "keyturn administrator",
      modules: [SOFTWAREONE_ADMIN_MODULE],
      admin: true,
    });
    await keyturn.createSecret(
      S1_ADMIN,
      {
        provider: "softwareone",
        token: adminKey.token,
        keyId: adminKey.id,
        accountId,
        name: "keyturn administrator",
        modules: [SOFTWAREONE_ADMIN_MODULE],
      },
      { [Tag.provider]: "softwareone", [Tag.credential]: S1_ADMIN },
    );
    line("stored", `${S1_ADMIN} (softwareone, account ${accountId}), key ${adminKey.id}: the issuer`);
    const catalogKey = softwareone.seedToken(accountId, { name: "catalog sync", modules: ["MOD-CATALOG"] });
    await keyturn.createSecret(
      S1_CATALOG,
      {
        provider: "softwareone",
        token: catalogKey.token,
        keyId: catalogKey.id,
        accountId,
        name: "catalog sync",
        modules: ["MOD-CATALOG"],
      },
      {
        [Tag.provider]: "softwareone",
        [Tag.credential]: S1_CATALOG,
        [Tag.issuer]: S1_ADMIN,
        [Tag.gracePeriod]: "24h",
        [Tag.inUseWindow]: "1h",
        [Tag.inUseLimit]: "3",
        [Tag.hardRevokeDelay]: "7d",
      },
    );
    line("stored", `${S1_CATALOG} (softwareone), key ${catalogKey.id}, issued by ${S1_ADMIN}`);

    const clusterUrl = `https://${CLUSTER}/incorta`;
    await keyturn.createSecret(
      INCORTA_V1,
      {
        provider: "incorta-v1",
        clusterUrl,
        tenantName: "analytics",
        loginName: "etl.bot",
        apiKey: incorta.issueApiKey(CLUSTER, "analytics", "etl.bot"),
      },
      { [Tag.provider]: "incorta-v1", [Tag.credential]: INCORTA_V1 },
    );
    line("stored", `${INCORTA_V1} (incorta-v1): an API key; consumers read tokens from SSM`);
    const storePat = async (name: string, patName: string, days: number) => {
      const expiresAt = new Date(clock.now() + days * DAY);
      const pat = incorta.createPat(CLUSTER, "reporting", "report.bot", { name: patName, expiresAt });
      await keyturn.createSecret(
        name,
        {
          provider: "incorta-v2",
          clusterUrl,
          tenantName: "reporting",
          token: pat.token,
          keyId: patName,
          expiresAt: expiresAt.toISOString(),
        },
        { [Tag.provider]: "incorta-v2", [Tag.credential]: name },
      );
      line("stored", `${name} (incorta-v2 PAT "${patName}", expires in ${days} days)`);
    };
    await storePat(INCORTA_PAT, "reporting-2026-11", 20);
    await storePat(INCORTA_LEGACY_PAT, "legacy-export", 3);
    const everflowKey = everflow.createKey({ portal: "partner", name: "partner reporting" });
    await keyturn.createSecret(
      EVERFLOW,
      {
        provider: "everflow",
        apiKey: everflowKey.key,
        keyId: "partner reporting",
        issuedAt: new Date(clock.now() - 88 * DAY).toISOString(),
      },
      {
        [Tag.provider]: "everflow",
        [Tag.credential]: EVERFLOW,
        [Tag.maxAge]: "90d",
        [Tag.gracePeriod]: "24h",
      },
    );
    line("stored", `${EVERFLOW} (everflow, created in the UI 88 days ago, maximum age 90 days)`);

    const rotate = async (name: string, why: string) => {
      const before = (await keyturn.read(name)).keyId;
      const rotation = await keyturn.rotate(name);
      if (!rotation.succeeded) {
        failures++;
        line("FAILED", `${name} ${why}: ${rotation.failures.map((f) => String(f.error)).join("; ")}`);
        return;
      }
      rotations.set(name, (rotations.get(name) ?? 0) + 1);
      const tags = await keyturn.tags(name);
      const retried = rotation.attempts > 1 ? ` (after ${rotation.attempts - 1} retried attempt(s))` : "";
      line(
        "rotated",
        `${name} ${why}: key ${short(before)} -> ${short(tags[Tag.keyId])}${retried}; old key valid until ${tags[Tag.revokeAfter]}`,
      );
    };
    const sweep = async (why: string) => {
      const report = await keyturn.sweep();
      failures += report.failures.length;
      for (const failure of report.failures) line("FAILED", `sweep: ${failure.credential}: ${failure.error}`);
      for (const r of report.revoked)
        line("revoked", `${r.credential} key ${short(r.keyId)}: ${r.strength} (${r.reason}, ${r.outcome})`);
      for (const p of report.postponed) {
        line(
          "postponed",
          `${p.credential} key ${short(p.keyId)} still in use (${p.postponements} of at most 3 postponements)`,
        );
      }
      for (const e of report.expiring)
        line("expiring", `${e.credential} key ${short(e.keyId)}: ${e.threshold} threshold (${e.action})`);
      for (const e of report.expired) line("EXPIRED", `${e.credential} key ${short(e.keyId)}`);
      for (const m of report.manualReminders)
        line("reminder", `${m.credential}: Manual Rotation Required (${m.reason})`);
      for (const c of report.confirmedRevoked)
        line("confirmed", `${c.credential} old key ${short(c.keyId)} is no longer accepted by the vendor`);
      const acted =
        report.revoked.length +
        report.postponed.length +
        report.expiring.length +
        report.expired.length +
        report.manualReminders.length +
        report.confirmedRevoked.length;
      if (acted === 0) line("sweep", `${why}: nothing due`);
    };
    let refreshes = 0;
    const refresh = async (runs: number) => {
      const outcomes: Record<string, number> = {};
      for (let run = 0; run < runs; run++) {
        const report = await keyturn.refresh(`refresh-${clock.now()}`);
        failures += report.failures.length;
        for (const o of report.outcomes) {
          outcomes[o.outcome] = (outcomes[o.outcome] ?? 0) + 1;
          if (o.outcome === "refreshed" || o.outcome === "minted") refreshes++;
        }
        if (run < runs - 1) clock.advance(2 * MINUTE);
      }
      const tokens = await keyturn.storedTokens(INCORTA_V1);
      const left = Math.round(((tokens?.accessTokenExpiresAt ?? 0) - clock.now()) / 1000);
      line(
        "tokens",
        `${INCORTA_V1}: ${runs} refresh run(s) ${JSON.stringify(outcomes)}; access token valid ${left} s more`,
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

    say("");
    await rotate(IMMUTA, "now (as `keyturn rotate` would)");
    await rotate(S1_CATALOG, "now");
    await refresh(30);
    await sweep("first sweep");

    clock.advance(23 * HOUR + 30 * 60_000);
    softwareone.touch(catalogKey.id);
    line("used", `a consumer still calls SoftwareOne with the old ${S1_CATALOG} key ${catalogKey.id}`);
    clock.advance(30 * 60_000);
    await sweep("grace periods end");
    clock.advance(2 * HOUR);
    await sweep("two hours later, the consumer has switched");
    await refresh(1);

    clock.advance(2 * DAY);
    const leaked = (await keyturn.read(IMMUTA)).keyId;
    line("LEAK", `${IMMUTA} key ${short(leaked)} found in a public repository: emergency revoke`);
    const outcome = await keyturn.revoke({ credential: IMMUTA, reason: "found in a public repository" });
    if (outcome.rotated) rotations.set(IMMUTA, (rotations.get(IMMUTA) ?? 0) + 1);
    else failures++;
    line(
      "revoked",
      `${IMMUTA} key ${short(outcome.keyId)}: hard (compromised, ${outcome.revocation}); new key ${short((await keyturn.read(IMMUTA)).keyId)} is current`,
    );

    await sweep("the same day");
    const everflowNew = everflow.createKey({ portal: "partner", name: "partner reporting 2" });
    await handOver(
      EVERFLOW,
      { apiKey: everflowNew.key, keyId: "partner reporting 2" },
      "an operator creates a key in the Everflow UI and hands it over",
    );
    clock.advance(DAY + HOUR);
    await sweep("the next day");
    everflow.revokeKey(everflowKey.id);
    line("ui", `${EVERFLOW}: the operator revokes the old key in the Everflow UI`);
    clock.advance(DAY);
    await sweep("a day later");

    clock.advance(4 * DAY);
    await sweep("disabled keys past their hard-revoke delay");
    const patExpiry = new Date(clock.now() + 90 * DAY);
    const newPat = incorta.createPat(CLUSTER, "reporting", "report.bot", {
      name: "reporting-2027-02",
      expiresAt: patExpiry,
    });
    await handOver(
      INCORTA_PAT,
      { token: newPat.token, keyId: "reporting-2027-02", expiresAt: patExpiry.toISOString() },
      "an operator creates a PAT in Incorta's Profile Manager and hands it over",
    );
    await refresh(1);

    clock.advance(22 * DAY);
    await rotate(S1_ADMIN, "on schedule (the issuer mints its own successor)");
    await rotate(S1_CATALOG, "on schedule");
    await rotate(IMMUTA, "on schedule");
    clock.advance(DAY);
    await sweep("grace periods end");

    await refresh(1);
    const tokensNow = await keyturn.storedTokens(INCORTA_V1);
    const events: Record<string, number> = {};
    const revocations: Record<string, number> = {};
    const revokedBy = new Map<string, number>();
    for (const event of await keyturn.subscriber.drain()) {
      events[event["detail-type"]] = (events[event["detail-type"]] ?? 0) + 1;
      if (event["detail-type"] === "Credential Revoked") {
        const name = String(event.detail.credential);
        revokedBy.set(name, (revokedBy.get(name) ?? 0) + 1);
        const reason = String(event.detail.reason);
        revocations[reason] = (revocations[reason] ?? 0) + 1;
      }
    }
    const credentialSummary = async (
      name: string,
      provider: string,
      live: (value: Record<string, unknown>) => boolean,
    ): Promise<CredentialSummary> => {
      const value = await keyturn.read(name);
      const expired = typeof value.expiresAt === "string" && Date.parse(value.expiresAt) <= clock.now();
      return {
        name,
        provider,
        rotations: (rotations.get(name) ?? 0) + (manualRotations[name] ?? 0),
        revoked: revokedBy.get(name) ?? 0,
        refreshes: name === INCORTA_V1 ? refreshes : 0,
        state: expired ? "expired" : live(value) ? "healthy" : "broken",
      };
    };
    const summary: Summary = {
      credentials: [
        await credentialSummary(IMMUTA, "immuta-request", (v) => immuta.isLive(String(v.token))),
        await credentialSummary(S1_ADMIN, "softwareone", (v) => softwareone.isLive(String(v.token))),
        await credentialSummary(S1_CATALOG, "softwareone", (v) => softwareone.isLive(String(v.token))),
        await credentialSummary(INCORTA_V1, "incorta-v1", () =>
          incorta.isAccessTokenValid(String(tokensNow?.accessToken)),
        ),
        await credentialSummary(INCORTA_PAT, "incorta-v2", (v) => incorta.isPatLive(String(v.token))),
        await credentialSummary(INCORTA_LEGACY_PAT, "incorta-v2", (v) => incorta.isPatLive(String(v.token))),
        await credentialSummary(EVERFLOW, "everflow", (v) => everflow.isLive(String(v.apiKey))),
      ],
      events,
      revocations,
      manualRotations,
      failures,
    };
    if (json) {
      console.log(JSON.stringify(summary));
    } else {
      say(`\nevents received by the subscriber queue: ${JSON.stringify(events)}`);
      say(
        `vendor calls: Immuta ${immuta.requests.length}, SoftwareOne ${softwareone.requests.length}, ` +
          `Incorta ${incorta.requests.length}, Everflow ${everflow.requests.length}`,
      );
      say(`\nsummary: ${JSON.stringify(summary, null, 2)}`);
    }
    // The legacy PAT is left to expire on purpose, to show the alert trail; nothing else may break.
    if (failures > 0 || summary.credentials.some((c) => c.state === "broken")) process.exitCode = 1;
  } finally {
    await hub.close();
    await immuta.close();
    await softwareone.close();
    await incorta.close();
    await everflow.close();
    await aws.stop();
  }
}

await main();
