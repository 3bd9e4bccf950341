// The keyturn CLI run as an operator runs it: a subprocess (`node cli/keyturn.ts …`) against
// the run's moto server and the vendor simulators behind one hub, as `npm run sandbox` offers
// them (KEYTURN_SANDBOX=1, AWS_ENDPOINT_URL, KEYTURN_VENDOR_ENDPOINT). A subprocess cannot get
// the test's SDK middleware, so the CLI is put into this test's moto account with its
// test/sandbox aid KEYTURN_MOTO_ACCOUNT. The simulators keep real time, as the CLI does.
//
// Every output of every run is kept, so that a test can scan all of it for every value the
// simulators ever handed out.

import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateTableCommand } from "@aws-sdk/client-dynamodb";
import { CreateSecretCommand, GetSecretValueCommand } from "@aws-sdk/client-secrets-manager";
import { afterEach, beforeEach, expect } from "vitest";
import { KeyRecords } from "#aws/record-store.ts";
import { SecretStore } from "#aws/secret-store.ts";
import { type PinnedCredential, pinnedDocument } from "#engine/pinned.ts";
import { Tag } from "#engine/settings.ts";
import { incortaKeyId } from "#providers/incorta-v1/index.ts";
import { type EventSubscriber, subscribeToBus } from "#sandbox/event-subscriber.ts";
import { pinnedFromTags } from "#sandbox/pin-from-tags.ts";
import {
  EVERFLOW_HOSTS,
  type EverflowSimulator,
  startEverflowSimulator,
} from "#sandbox/simulators/everflow.ts";
import { startVendorHub, type VendorHub } from "#sandbox/simulators/hub.ts";
import { IMMUTA_REGIONS, type ImmutaSimulator, startImmutaSimulator } from "#sandbox/simulators/immuta.ts";
import { type IncortaSimulator, startIncortaSimulator } from "#sandbox/simulators/incorta.ts";
import {
  SOFTWAREONE_ADMIN_MODULE,
  SOFTWAREONE_HOST,
  type SoftwareOneSimulator,
  startSoftwareOneSimulator,
} from "#sandbox/simulators/softwareone.ts";
import { transcript } from "#sandbox/transcript.ts";
import { type IsolatedAws, isolatedAws } from "../support/aws.ts";
import { findLeaks } from "../support/leak-guard.ts";

export const CLI = join(import.meta.dirname, "..", "..", "cli", "keyturn.ts");
export const BUS_NAME = "keyturn";
export const CLUSTER = "acme.cloud.incorta.com";
export const CLUSTER_URL = `https://${CLUSTER}/incorta`;
export const DAY = 86_400_000;

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Environment every run starts from: no AWS settings of this machine, no colour, no instance metadata. */
function baseEnv(): Record<string, string> {
  return {
    PATH: process.env.PATH ?? "",
    HOME: mkdtempSync(join(tmpdir(), "keyturn-cli-home-")),
    AWS_EC2_METADATA_DISABLED: "true",
  };
}

/** Runs the CLI once; `input` is what it finds on stdin (nothing: stdin closed at once). */
export function runKeyturn(
  args: string[],
  options: { env?: Record<string, string>; input?: string } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { ...baseEnv(), ...options.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8");
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8");
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.input ?? "");
  });
}

/** The non-empty lines of a text. */
export function lines(text: string): string[] {
  return text.split("\n").filter((line) => line.trim() !== "");
}

export interface CliSandbox {
  aws: IsolatedAws;
  hub: VendorHub;
  immuta: ImmutaSimulator;
  softwareone: SoftwareOneSimulator;
  everflow: EverflowSimulator;
  incorta: IncortaSimulator;
  subscriber: EventSubscriber;
  /** What the CLI needs to reach this sandbox, as `npm run sandbox` prints it. */
  env: Record<string, string>;
  /** Runs the CLI against this sandbox and keeps its output for the leak scan. */
  run(args: string[], options?: { env?: Record<string, string>; input?: string }): Promise<CliResult>;
  /** Everything every run printed, stdout and stderr. */
  outputs(): string[];
  /** Every key, token and PAT value the simulators handed out. */
  issuedValues(): string[];
  createSecret(name: string, value: object, tags: Record<string, string>): Promise<void>;
  /** AWSCURRENT's value, parsed. */
  current(secretId: string): Promise<Record<string, unknown>>;
  tags(secretId: string): Promise<Record<string, string>>;
  /** An Immuta Request-app credential minting its own successors; its token expires in 90 days. */
  seedImmuta(name: string): Promise<{ token: string; keyId: string }>;
  /** A SoftwareOne administrator credential and a consumer credential it issues. */
  seedSoftwareOne(admin: string, consumer: string): Promise<{ adminKeyId: string; consumerKeyId: string }>;
  seedEverflow(name: string, tags?: Record<string, string>): Promise<{ key: string; keyId: string }>;
  seedIncortaPat(name: string, expiresInMs: number): Promise<{ keyId: string }>;
  seedIncortaV1(name: string): Promise<{ keyId: string }>;
  close(): Promise<void>;
}

export async function startCliSandbox(): Promise<CliSandbox> {
  const aws = isolatedAws();
  const immuta = await startImmutaSimulator();
  const softwareone = await startSoftwareOneSimulator();
  const everflow = await startEverflowSimulator();
  const incorta = await startIncortaSimulator();
  const hub = await startVendorHub({
    ...Object.fromEntries(IMMUTA_REGIONS.map((region) => [`${region}.api.immutacloud.com`, immuta.url])),
    ...Object.fromEntries(EVERFLOW_HOSTS.map((host) => [host, everflow.url])),
    [SOFTWAREONE_HOST]: softwareone.url,
    [CLUSTER]: incorta.url,
  });
  const subscriber = await subscribeToBus(aws, BUS_NAME);
  // keyturn's records table, as the stack names it after the bus (cli/connection.ts finds it so).
  await aws.dynamodb.send(
    new CreateTableCommand({
      TableName: `${BUS_NAME}-records`,
      AttributeDefinitions: [{ AttributeName: "credential", AttributeType: "S" }],
      KeySchema: [{ AttributeName: "credential", KeyType: "HASH" }],
      BillingMode: "PAY_PER_REQUEST",
    }),
  );
  const store = new SecretStore(aws.secretsManager);
  // What a deployment would pin for the secrets this sandbox creates: the CLI trusts this file,
  // as the deployed functions trust what the stack baked into them, never the tags.
  const pinnedDir = mkdtempSync(join(tmpdir(), "keyturn-cli-pinned-"));
  const pinnedFile = join(pinnedDir, "pinned.json");
  const pinned: PinnedCredential[] = [];
  const writePinned = () => writeFileSync(pinnedFile, JSON.stringify(pinnedDocument(pinned)));
  writePinned();
  const env = {
    KEYTURN_SANDBOX: "1",
    KEYTURN_PINNED_FILE: pinnedFile,
    AWS_ENDPOINT_URL: aws.endpoint,
    KEYTURN_VENDOR_ENDPOINT: hub.url,
    KEYTURN_MOTO_ACCOUNT: aws.accountId,
    AWS_REGION: "us-east-1",
  };
  const outputs: string[] = [];
  const records = new KeyRecords(aws.dynamodb, `${BUS_NAME}-records`);
  const createSecret = async (name: string, value: object, tags: Record<string, string>) => {
    const allTags = { [Tag.credential]: name, ...tags };
    await aws.secretsManager.send(
      new CreateSecretCommand({
        Name: name,
        SecretString: JSON.stringify(value),
        Tags: Object.entries(allTags).map(([Key, Value]) => ({ Key, Value })),
      }),
    );
    const credential = pinnedFromTags(name, value, allTags);
    if (credential) {
      pinned.push(credential);
      writePinned();
      // Its key was handed over as `keyturn put` hands one over: keyturn records it.
      const keyId = (value as { keyId?: unknown }).keyId;
      if (typeof keyId === "string") await records.addKeys(name, [keyId]);
    }
  };
  const immutaUser = immuta.createUser("na", { name: "cli" }).userId;

  return {
    aws,
    hub,
    immuta,
    softwareone,
    everflow,
    incorta,
    subscriber,
    env,
    async run(args, options = {}) {
      const result = await runKeyturn(args, { ...options, env: { ...env, ...options.env } });
      outputs.push(result.stdout, result.stderr);
      return result;
    },
    outputs: () => [...outputs],
    issuedValues: () => [
      ...immuta.issuedValues,
      ...softwareone.issuedValues,
      ...everflow.issuedValues,
      ...incorta.issuedValues,
    ],
    createSecret,
    async current(secretId) {
      // Always name the stage: moto answers from the first version without one.
      const answer = await aws.secretsManager.send(
        new GetSecretValueCommand({ SecretId: secretId, VersionStage: "AWSCURRENT" }),
      );
      return JSON.parse(answer.SecretString ?? "{}") as Record<string, unknown>;
    },
    tags: async (secretId) => (await store.describe(secretId)).tags,
    async seedImmuta(name) {
      const expiresAt = new Date(Date.now() + 90 * DAY);
      const seeded = immuta.seedToken("na", immutaUser, {
        description: `created by hand for ${name}`,
        expirationDate: expiresAt,
      });
      await createSecret(
        name,
        {
          provider: "immuta-request",
          region: "na",
          token: seeded.token,
          keyId: seeded.tokenId,
          expiresAt: expiresAt.toISOString(),
        },
        { [Tag.provider]: "immuta-request" },
      );
      return { token: seeded.token, keyId: seeded.tokenId };
    },
    async seedSoftwareOne(admin, consumer) {
      const { accountId } = softwareone.createAccount({ name: "CLI Co" });
      const adminModules = [SOFTWAREONE_ADMIN_MODULE];
      const adminKey = softwareone.seedToken(accountId, {
        name: "administrator",
        modules: adminModules,
        admin: true,
      });
      await createSecret(
        admin,
        {
          provider: "softwareone",
          token: adminKey.token,
          keyId: adminKey.id,
          accountId,
          name: "administrator",
          modules: adminModules,
        },
        { [Tag.provider]: "softwareone" },
      );
      const modules = ["MOD-1001"];
      const consumerKey = softwareone.seedToken(accountId, { name: "catalog sync", modules });
      await createSecret(
        consumer,
        {
          provider: "softwareone",
          token: consumerKey.token,
          keyId: consumerKey.id,
          accountId,
          name: "catalog sync",
          modules,
        },
        { [Tag.provider]: "softwareone", [Tag.issuer]: admin },
      );
      return { adminKeyId: adminKey.id, consumerKeyId: consumerKey.id };
    },
    async seedEverflow(name, tags = {}) {
      const created = everflow.createKey({ portal: "partner", name: "reporting sync" });
      await createSecret(
        name,
        {
          provider: "everflow",
          apiKey: created.key,
          keyId: "reporting sync",
          issuedAt: new Date().toISOString(),
        },
        { [Tag.provider]: "everflow", ...tags },
      );
      return { key: created.key, keyId: "reporting sync" };
    },
    async seedIncortaPat(name, expiresInMs) {
      const expiresAt = new Date(Date.now() + expiresInMs);
      const pat = incorta.createPat(CLUSTER, "reporting", "report.bot", { name: "reporting 1", expiresAt });
      await createSecret(
        name,
        {
          provider: "incorta-v2",
          clusterUrl: CLUSTER_URL,
          tenantName: "reporting",
          token: pat.token,
          keyId: "reporting 1",
          expiresAt: expiresAt.toISOString(),
        },
        {
          [Tag.provider]: "incorta-v2",
          [Tag.keyId]: "reporting 1",
          [Tag.expiresAt]: expiresAt.toISOString(),
        },
      );
      return { keyId: "reporting 1" };
    },
    async seedIncortaV1(name) {
      const apiKey = incorta.issueApiKey(CLUSTER, "analytics", "etl.bot");
      await createSecret(
        name,
        {
          provider: "incorta-v1",
          clusterUrl: CLUSTER_URL,
          tenantName: "analytics",
          loginName: "etl.bot",
          apiKey,
        },
        { [Tag.provider]: "incorta-v1" },
      );
      return { keyId: incortaKeyId(apiKey) };
    },
    async close() {
      await hub.close();
      await Promise.all([immuta.close(), softwareone.close(), everflow.close(), incorta.close()]);
      rmSync(pinnedDir, { recursive: true, force: true });
    },
  };
}

/**
 * A fresh sandbox for each test of the file, closed after it; whatever the CLI printed is
 * checked for secret values and handed to the suite-wide leak guard.
 */
export function useCliSandbox(): () => CliSandbox {
  let sandbox: CliSandbox | undefined;
  beforeEach(async () => {
    sandbox = await startCliSandbox();
  });
  afterEach(async () => {
    if (!sandbox) return;
    try {
      transcript.text(sandbox.outputs().join("\n"));
      expect(findLeaks(sandbox.outputs(), sandbox.issuedValues())).toEqual([]);
    } finally {
      await sandbox.close();
    }
  });
  return () => {
    if (!sandbox) throw new Error("the CLI sandbox is only there inside a test");
    return sandbox;
  };
}
