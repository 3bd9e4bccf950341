// The bad-input corpus: every kind of wrong thing keyturn can be handed (secret values,
// policy tags, vendor answers, manual handovers, events to its handlers), each checked the
// same way: a typed error (a name of its own, not a bare Error) whose message names the
// credential and the cause, AWSCURRENT unchanged, a "Credential Rotation Failed" event
// where one is due, no secret value in anything printed or published, and no unhandled
// promise rejection.

import { GetSecretValueCommand } from "@aws-sdk/client-secrets-manager";
import { EventPublisher } from "#aws/event-publisher.ts";
import { Tag } from "#engine/settings.ts";
import { createRelayHandler } from "#handlers/relay.ts";
import { motoAccount } from "#sandbox/moto-account.ts";
import { ManualClock } from "#sandbox/simulators/clock.ts";
import { EVERFLOW_HOSTS, startEverflowSimulator } from "#sandbox/simulators/everflow.ts";
import type { Fault } from "#sandbox/simulators/faults.ts";
import { IMMUTA_REGIONS, startImmutaSimulator } from "#sandbox/simulators/immuta.ts";
import { startIncortaSimulator } from "#sandbox/simulators/incorta.ts";
import {
  SOFTWAREONE_ADMIN_MODULE,
  SOFTWAREONE_HOST,
  startSoftwareOneSimulator,
} from "#sandbox/simulators/softwareone.ts";
import { BUS_NAME, startWorldOn, type World } from "../support/world-core.ts";

export interface BadInputCase {
  group: string;
  name: string;
  /** Does the error have to name a credential (false for malformed events, which have none)? */
  namesCredential: boolean;
}

export interface BadInputReport {
  badInputs: number;
  handled: number;
  /** Every secret value the simulators handed out, for the leak scan. */
  secrets: string[];
  failures: { group: string; name: string; problems: string[] }[];
  unhandledRejections: number;
}

const DAY = 86_400_000;
const CLUSTER = "acme.cloud.incorta.com";

/** Vendor answers of every bad kind, as the simulators' fault injector produces them. */
export const VENDOR_FAULTS: { name: string; fault: Fault }[] = [
  { name: "401", fault: { kind: "status", status: 401 } },
  { name: "403", fault: { kind: "status", status: 403 } },
  { name: "404", fault: { kind: "status", status: 404 } },
  { name: "409", fault: { kind: "status", status: 409 } },
  { name: "429 without Retry-After", fault: { kind: "status", status: 429 } },
  { name: "429 with Retry-After", fault: { kind: "status", status: 429, retryAfter: "2" } },
  { name: "500", fault: { kind: "status", status: 500 } },
  { name: "502", fault: { kind: "status", status: 502 } },
  { name: "503", fault: { kind: "status", status: 503 } },
  { name: "an HTML error page", fault: { kind: "html" } },
  { name: "truncated JSON", fault: { kind: "malformed" } },
  {
    name: "malformed JSON",
    fault: { kind: "status", status: 200, body: "{'token': nope}", contentType: "application/json" },
  },
  { name: "an empty body", fault: { kind: "empty" } },
  {
    name: "a redirect to another host",
    fault: { kind: "redirect", location: "https://evil.example.net/steal" },
  },
  { name: "a redirect to http", fault: { kind: "redirect", location: "http://na.api.immutacloud.com/x" } },
  { name: "a slow drip past the timeout", fault: { kind: "drip", ms: 1_500 } },
  { name: "a reset connection", fault: { kind: "drop" } },
  {
    name: "a 200 with a missing token",
    fault: { kind: "status", status: 200, body: '{"id":"x","tokenId":"x"}' },
  },
];

/** Secret values that are wrong for any provider. */
// (Not the empty string: Secrets Manager refuses to store one.)
const NOT_JSON = ["token=abc123abc123", " ", "{", "[1, 2", "null", "42", '"just a string"', "[]", "true"];

type Credential = { name: string; value: Record<string, unknown>; tags: Record<string, string> };

interface Context {
  world: World;
  unique: () => string;
  issued: () => string[];
  /** Live keys the vendors hold with keyturn's marker for this credential. */
  minted: (credential: string) => string[];
  /** Records AWSCURRENT of a credential just stored, to prove later that it did not change. */
  snapshot: (secretId: string) => Promise<void>;
  snapshots: Map<string, string | undefined>;
}

interface Case extends BadInputCase {
  /** Runs the bad input; returns the error keyturn raised (or undefined if it raised none). */
  run(ctx: Context): Promise<{ error: unknown; credential?: string; expectFailureEvent: boolean }>;
}

async function currentVersion(world: World, secretId: string): Promise<string | undefined> {
  const answer = await world.aws.secretsManager.send(
    new GetSecretValueCommand({ SecretId: secretId, VersionStage: "AWSCURRENT" }),
  );
  return `${answer.VersionId}:${answer.SecretString}`;
}

/** Stores a credential, runs one rotation attempt, returns its failure. */
function rotationCase(
  group: string,
  name: string,
  make: (ctx: Context) => Promise<Credential>,
  prepare?: (ctx: Context) => void,
): Case {
  return {
    group,
    name,
    namesCredential: true,
    async run(ctx) {
      const credential = await make(ctx);
      await ctx.world.createSecret(credential.name, credential.value, credential.tags);
      await ctx.snapshot(credential.name);
      prepare?.(ctx);
      const rotation = await ctx.world.rotate(credential.name, { maxAttempts: 1 });
      return { error: rotation.failures[0]?.error, credential: credential.name, expectFailureEvent: true };
    },
  };
}

export async function badInputCorpus(
  endpoint: string,
  options: {
    select?: (c: BadInputCase, index: number) => boolean;
    progress?: (line: string) => void;
    /** Stops the corpus between cases (a test that timed out). */
    signal?: AbortSignal;
  } = {},
): Promise<BadInputReport> {
  const clock = new ManualClock(new Date("2026-11-22T10:00:00Z"));
  const immuta = await startImmutaSimulator({ clock });
  const softwareone = await startSoftwareOneSimulator({ clock });
  const everflow = await startEverflowSimulator({ clock });
  const incorta = await startIncortaSimulator({ clock });
  const world = await startWorldOn(motoAccount(endpoint), {
    clock,
    vendors: {
      ...Object.fromEntries(IMMUTA_REGIONS.map((region) => [`${region}.api.immutacloud.com`, immuta.url])),
      ...Object.fromEntries(EVERFLOW_HOSTS.map((host) => [host, everflow.url])),
      [SOFTWAREONE_HOST]: softwareone.url,
      [CLUSTER]: incorta.url,
    },
  });
  let counter = 0;
  const snapshots = new Map<string, string | undefined>();
  const ctx: Context = {
    world,
    snapshots,
    snapshot: async (secretId) => {
      snapshots.set(secretId, await currentVersion(world, secretId));
    },
    unique: () => String(counter++).padStart(4, "0"),
    issued: () => [
      ...immuta.issuedValues,
      ...softwareone.issuedValues,
      ...everflow.issuedValues,
      ...incorta.issuedValues,
    ],
    minted: (credential) => [
      ...immuta
        .liveTokens()
        .filter((t) => t.description.startsWith(`keyturn:${credential}:`))
        .map((t) => t.tokenId),
      ...softwareone
        .liveTokens()
        .filter((t) => t.description?.startsWith(`keyturn:${credential}:`))
        .map((t) => t.id),
    ],
  };
  const user = immuta.createUser("na", { name: "bad-inputs" });
  const { accountId } = softwareone.createAccount({ name: "Bad Inputs Co" });
  const adminName = "keyturn/bad-inputs/softwareone-admin";
  const admin = softwareone.seedToken(accountId, {
    name: "admin",
    modules: [SOFTWAREONE_ADMIN_MODULE],
    admin: true,
  });
  await world.createSecret(
    adminName,
    {
      provider: "softwareone",
      token: admin.token,
      keyId: admin.id,
      accountId,
      name: "admin",
      modules: [SOFTWAREONE_ADMIN_MODULE],
    },
    { [Tag.provider]: "softwareone", [Tag.credential]: adminName },
  );

  const immutaCredential = async (
    value: (valid: Record<string, unknown>) => Record<string, unknown> | string,
    tags = {},
  ) => {
    const name = `keyturn/bad-inputs/immuta-${ctx.unique()}`;
    const seeded = immuta.seedToken("na", user.userId, {
      description: name,
      expirationDate: new Date(clock.now() + 90 * DAY),
    });
    const valid = { provider: "immuta-request", region: "na", token: seeded.token, keyId: seeded.tokenId };
    const built = value(valid);
    return {
      name,
      value: (typeof built === "string" ? built : built) as Record<string, unknown>,
      tags: { [Tag.provider]: "immuta-request", [Tag.credential]: name, ...tags },
    };
  };
  const softwareoneCredential = async (
    value: (valid: Record<string, unknown>) => Record<string, unknown>,
  ) => {
    const name = `keyturn/bad-inputs/softwareone-${ctx.unique()}`;
    const seeded = softwareone.seedToken(accountId, { name, modules: ["MOD-1001"] });
    const valid = {
      provider: "softwareone",
      token: seeded.token,
      keyId: seeded.id,
      accountId,
      name,
      modules: ["MOD-1001"],
    };
    return {
      name,
      value: value(valid),
      tags: { [Tag.provider]: "softwareone", [Tag.credential]: name, [Tag.issuer]: adminName },
    };
  };

  const cases: Case[] = [];
  // Secret values that are not JSON at all (stored as the raw string).
  for (const text of NOT_JSON) {
    cases.push(
      rotationCase("secret value", `not JSON: ${JSON.stringify(text)}`, async () => {
        const c = await immutaCredential(() => ({}));
        return { ...c, value: text as unknown as Record<string, unknown> };
      }),
    );
  }
  // Each field of an Immuta value with a wrong type, and each required one missing.
  const wrongTypes: [string, unknown][] = [
    ["number", 1234567890123456],
    ["array", ["a", "b"]],
    ["object", { nested: true }],
    ["boolean", true],
    ["null", null],
  ];
  for (const field of [
    "provider",
    "region",
    "token",
    "keyId",
    "expiresAt",
    "issuedAt",
    "baseUrl",
    "previous",
  ]) {
    for (const [kind, wrong] of wrongTypes) {
      if (field === "expiresAt" && kind === "null") continue; // null means "no expiry": valid
      cases.push(
        rotationCase("secret value", `immuta ${field} as ${kind}`, () =>
          immutaCredential((v) => ({ ...v, [field]: wrong })),
        ),
      );
    }
  }
  for (const field of ["provider", "region", "token", "keyId"]) {
    cases.push(
      rotationCase("secret value", `immuta without ${field}`, () =>
        immutaCredential((v) => Object.fromEntries(Object.entries(v).filter(([k]) => k !== field))),
      ),
    );
  }
  cases.push(
    rotationCase("secret value", "an unknown provider in the value", () =>
      immutaCredential((v) => ({ ...v, provider: "acme" })),
    ),
    rotationCase("secret value", "a huge token (60 KB)", () =>
      immutaCredential((v) => ({ ...v, token: "x".repeat(60_000) })),
    ),
    rotationCase("secret value", "a region that does not exist", () =>
      immutaCredential((v) => ({ ...v, region: "us" })),
    ),
    rotationCase("secret value", "a baseUrl of another region", () =>
      immutaCredential((v) => ({ ...v, baseUrl: "https://eu.api.immutacloud.com/marketplace" })),
    ),
    rotationCase("secret value", "an expiry that is not a date", () =>
      immutaCredential((v) => ({ ...v, expiresAt: "soon" })),
    ),
  );
  for (const [label, change] of [
    ["a token of the wrong format", { token: "not-a-softwareone-token-value" }],
    ["a keyId that is not the token's", { keyId: "TKN-0000-0000" }],
    ["an account id of the wrong format", { accountId: "account-1" }],
    ["modules that are not a list", { modules: "MOD-1001" }],
    ["a module id of the wrong format", { modules: ["catalog"] }],
    ["an http baseUrl", { baseUrl: "http://api.platform.softwareone.com/public/v1" }],
  ] as const) {
    cases.push(
      rotationCase("secret value", `softwareone ${label}`, () =>
        softwareoneCredential((v) => ({ ...v, ...change })),
      ),
    );
  }
  // Policy tags the stack wrote wrong.
  for (const [label, tags] of [
    ["an unknown provider tag", { [Tag.provider]: "acme" }],
    ["a grace period in words", { [Tag.gracePeriod]: "24 hours" }],
    ["a key lifetime of zero", { [Tag.keyLifetime]: "0d" }],
    ["an in-use limit that is not a number", { [Tag.inUseLimit]: "many" }],
    ["expiry thresholds that are not durations", { [Tag.expiryThresholds]: "soon,later" }],
    ["an issuer that does not exist", { [Tag.issuer]: "keyturn/bad-inputs/nobody" }],
  ] as const) {
    cases.push(rotationCase("policy tags", label, () => immutaCredential((v) => v, tags)));
  }
  // Every bad vendor answer on every vendor call of a rotation.
  const vendorCalls = [
    { vendor: "immuta", method: "GET", path: "/marketplace/api/auth/tokens", what: "listing" },
    { vendor: "immuta", method: "POST", path: "/marketplace/api/auth/tokens", what: "minting" },
    { vendor: "immuta", method: "GET", path: "/marketplace/api/auth/user", what: "verifying" },
    { vendor: "softwareone", method: "GET", path: /^\/public\/v1\/accounts\/api-tokens$/, what: "listing" },
    { vendor: "softwareone", method: "POST", path: /^\/public\/v1\/accounts\/api-tokens$/, what: "minting" },
    {
      vendor: "softwareone",
      method: "GET",
      path: /^\/public\/v1\/accounts\/api-tokens\/TKN-/,
      what: "verifying",
    },
  ] as const;
  for (const call of vendorCalls) {
    for (const { name, fault } of VENDOR_FAULTS) {
      if (name === "a 200 with a missing token" && call.what !== "minting") continue;
      const sim = call.vendor === "immuta" ? immuta : softwareone;
      cases.push(
        rotationCase(
          "vendor answer",
          `${call.vendor} ${call.what}: ${name}`,
          () => (call.vendor === "immuta" ? immutaCredential((v) => v) : softwareoneCredential((v) => v)),
          () => {
            sim.faults.clear();
            sim.faults.add({ method: call.method, path: call.path, times: Number.POSITIVE_INFINITY, fault });
          },
        ),
      );
    }
  }
  // A key handed over by a person, when the vendor's check answers badly.
  const handovers = [
    {
      vendor: "everflow",
      path: "/v1/partners",
      sim: everflow,
      make: () => {
        const first = everflow.createKey({ portal: "partner", name: "first" });
        const next = everflow.createKey({ portal: "partner", name: "next" });
        return {
          value: { provider: "everflow", apiKey: first.key, keyId: "first" },
          input: { apiKey: next.key, keyId: "next" },
        };
      },
    },
    {
      vendor: "incorta-v2",
      // Both checks: a 403 from /schema/list alone is taken for a missing schema permission.
      path: /\/(schema\/list|configs\/sqlConnection)$/,
      sim: incorta,
      make: () => {
        const expiresAt = new Date(clock.now() + 30 * DAY);
        const first = incorta.createPat(CLUSTER, "t1", `u${ctx.unique()}`, { name: "first", expiresAt });
        const next = incorta.createPat(CLUSTER, "t1", `u${ctx.unique()}`, { name: "next", expiresAt });
        const base = { provider: "incorta-v2", clusterUrl: `https://${CLUSTER}/incorta`, tenantName: "t1" };
        return {
          value: { ...base, token: first.token, keyId: "first", expiresAt: expiresAt.toISOString() },
          input: { token: next.token, keyId: "next", expiresAt: expiresAt.toISOString() },
        };
      },
    },
    {
      vendor: "incorta-v1",
      path: "/incorta/api/v1/tokens",
      sim: incorta,
      make: () => {
        const login = `v1-${ctx.unique()}`;
        const first = incorta.issueApiKey(CLUSTER, "t1", login);
        const next = incorta.renewApiKey(CLUSTER, "t1", login);
        const base = {
          provider: "incorta-v1",
          clusterUrl: `https://${CLUSTER}/incorta`,
          tenantName: "t1",
          loginName: login,
        };
        return { value: { ...base, apiKey: first }, input: { apiKey: next } };
      },
    },
  ] as const;
  for (const handover of handovers) {
    for (const { name, fault } of VENDOR_FAULTS.filter((f) =>
      [
        "401",
        "403",
        "500",
        "503",
        "an HTML error page",
        "truncated JSON",
        "a reset connection",
        "a slow drip past the timeout",
        "a redirect to another host",
      ].includes(f.name),
    )) {
      cases.push({
        group: "manual handover",
        name: `${handover.vendor} check: ${name}`,
        namesCredential: true,
        async run(c) {
          const credentialName = `keyturn/bad-inputs/${handover.vendor}-${c.unique()}`;
          const { value, input } = handover.make();
          await c.world.createSecret(credentialName, value, {
            [Tag.provider]: handover.vendor,
            [Tag.credential]: credentialName,
          });
          await c.snapshot(credentialName);
          handover.sim.faults.clear();
          handover.sim.faults.add({
            method: "POST",
            path: handover.path,
            times: Number.POSITIVE_INFINITY,
            fault,
          });
          handover.sim.faults.add({
            method: "GET",
            path: handover.path,
            times: Number.POSITIVE_INFINITY,
            fault,
          });
          const error = await c.world.put(credentialName, input).then(
            () => undefined,
            (e: unknown) => e,
          );
          return { error, credential: credentialName, expectFailureEvent: false };
        },
      });
    }
  }
  // Events handed to the handlers that are not what they expect.
  const rotateEvents: [string, unknown][] = [
    ["an empty object", {}],
    ["null", null],
    ["a string", "createSecret"],
    ["an unknown step", { Step: "deleteSecret", SecretId: "keyturn/x", ClientRequestToken: "t" }],
    ["no SecretId", { Step: "createSecret", ClientRequestToken: "t" }],
    ["no ClientRequestToken", { Step: "createSecret", SecretId: "keyturn/x" }],
    ["a numeric token", { Step: "createSecret", SecretId: "keyturn/x", ClientRequestToken: 42 }],
  ];
  for (const [label, event] of rotateEvents) {
    cases.push({
      group: "handler event",
      name: `rotate handler given ${label}`,
      namesCredential: false,
      async run(c) {
        const error = await c.world.invoke(event as never).then(
          () => undefined,
          (e: unknown) => e,
        );
        return { error, expectFailureEvent: false };
      },
    });
  }
  cases.push({
    group: "handler event",
    name: "rotate handler given a secret that does not exist",
    namesCredential: true,
    async run(c) {
      const error = await c.world
        .invoke({
          Step: "createSecret",
          SecretId: "keyturn/bad-inputs/missing",
          ClientRequestToken: "00000000-0000-4000-8000-000000000000",
        })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      return { error, credential: "keyturn/bad-inputs/missing", expectFailureEvent: true };
    },
  });
  const revokeRequests: [string, unknown][] = [
    ["an empty object", {}],
    ["no reason", { credential: "keyturn/x" }],
    ["no key id", { credential: "keyturn/x", reason: "leak" }],
    ["a reason of 600 characters", { credential: "keyturn/x", keyId: "k", reason: "r".repeat(600) }],
    ["a key id of 200 characters", { credential: "keyturn/x", keyId: "k".repeat(200), reason: "leak" }],
    ["an unknown field", { credential: "keyturn/x", keyId: "k", reason: "leak", target: "both" }],
    ["a Revoke Requested envelope with no detail", { "detail-type": "Revoke Requested", source: "scanner" }],
    ["a number", 7],
  ];
  for (const [label, request] of revokeRequests) {
    cases.push({
      group: "handler event",
      name: `revoke handler given ${label}`,
      namesCredential: false,
      async run(c) {
        const error = await c.world.revoke(request).then(
          () => undefined,
          (e: unknown) => e,
        );
        return { error, expectFailureEvent: false };
      },
    });
  }
  cases.push({
    group: "handler event",
    name: "revoke handler given a credential that does not exist",
    namesCredential: true,
    async run(c) {
      const error = await c.world
        .revoke({ credential: "keyturn/bad-inputs/ghost", keyId: "k", reason: "test" })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      return { error, credential: "keyturn/bad-inputs/ghost", expectFailureEvent: false };
    },
  });
  for (const [label, event] of [
    ["null", null],
    ["an event of another service", { source: "aws.s3", detail: { eventName: "PutObject" } }],
    [
      "a rotation failure of an unknown secret",
      {
        source: "aws.secretsmanager",
        detail: { eventName: "RotationFailed", additionalEventData: { SecretId: "keyturn/none" } },
      },
    ],
  ] as const) {
    cases.push({
      group: "handler event",
      name: `relay handler given ${label}`,
      namesCredential: false,
      async run(c) {
        const relay = createRelayHandler({
          store: c.world.store,
          publisher: new EventPublisher(c.world.aws.eventBridge, BUS_NAME),
        });
        const outcome = await relay(event).catch((e: unknown) => e);
        // Ignoring is the right handling here: it is not keyturn's to report.
        return {
          error:
            outcome === "ignored"
              ? new IgnoredInput("the relay ignored an event that is not keyturn's to report")
              : outcome,
          expectFailureEvent: false,
        };
      },
    });
  }

  const report: BadInputReport = {
    badInputs: 0,
    handled: 0,
    secrets: [],
    failures: [],
    unhandledRejections: 0,
  };
  const onRejection = () => {
    report.unhandledRejections++;
  };
  process.on("unhandledRejection", onRejection);
  try {
    for (const [index, badInput] of cases.entries()) {
      if (options.select && !options.select(badInput, index)) continue;
      options.signal?.throwIfAborted();
      report.badInputs++;
      const problems = await checkCase(ctx, badInput);
      if (problems.length === 0) report.handled++;
      else report.failures.push({ group: badInput.group, name: badInput.name, problems });
      immuta.faults.clear();
      softwareone.faults.clear();
      everflow.faults.clear();
      incorta.faults.clear();
    }
    options.progress?.(`bad inputs: ${report.handled} of ${report.badInputs} handled`);
    report.secrets = ctx.issued();
  } finally {
    process.off("unhandledRejection", onRejection);
    await world.close();
    await Promise.all([immuta.close(), softwareone.close(), everflow.close(), incorta.close()]);
  }
  return report;
}

/** Not a failure: the relay's "ignored", which is the right handling of someone else's event. */
class IgnoredInput extends Error {
  override readonly name = "IgnoredInput";
}

async function checkCase(ctx: Context, badInput: Case): Promise<string[]> {
  const problems: string[] = [];
  let outcome: Awaited<ReturnType<Case["run"]>>;
  try {
    outcome = await badInput.run(ctx);
  } catch (error) {
    return [`the case itself threw: ${(error as Error).message}`];
  }
  const { error, credential } = outcome;
  if (error === undefined) return ["no error was raised"];
  if (!(error instanceof Error)) return [`a non-Error was thrown: ${String(error)}`];
  if (error.name === "Error" || error.name === "TypeError" || error.name === "SyntaxError") {
    problems.push(`an untyped ${error.name}: ${error.message}`);
  }
  if (badInput.namesCredential && credential && !error.message.includes(credential)) {
    problems.push(`the message does not name the credential: ${error.message}`);
  }
  if (error.message.length < 20) problems.push(`the message says too little: "${error.message}"`);
  if (credential) {
    // A failed rotation may leave AWSPENDING for Secrets Manager's retry (the monitor clears it
    // once stuck), but the key it holds must be tracked: every key minted for the credential
    // is referenced by one of its versions.
    const referenced = new Set<string>();
    for (const versionId of Object.keys(await ctx.world.stages(credential).catch(() => ({})))) {
      const value = await ctx.world.read(credential, versionId).catch(() => undefined);
      if (value?.keyId) referenced.add(value.keyId);
    }
    const untracked = ctx.minted(credential).filter((keyId) => !referenced.has(keyId));
    if (untracked.length > 0) problems.push(`${untracked.length} minted key(s) left untracked`);
  }
  const events = await ctx.world.subscriber.drain();
  if (outcome.expectFailureEvent && !events.some((e) => e["detail-type"] === "Credential Rotation Failed")) {
    problems.push("no Credential Rotation Failed event");
  }
  const texts = [error.message, String(error), error.stack ?? "", JSON.stringify(events)];
  const leaked = ctx.issued().filter((secret) => secret.length >= 8 && texts.some((t) => t.includes(secret)));
  if (leaked.length > 0) problems.push(`${leaked.length} secret value(s) in the error or events`);
  // AWSCURRENT unchanged: still the version (and value) stored before the bad input.
  if (credential && ctx.snapshots.has(credential)) {
    const after = await currentVersion(ctx.world, credential);
    if (after !== ctx.snapshots.get(credential)) problems.push("AWSCURRENT changed");
  }
  return problems;
}
