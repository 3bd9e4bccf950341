// Provisioning the local sandbox from a keyturn config, as the stack would provision AWS, so that
// the demo and `npm run sandbox` cannot drift from what `cdk deploy` creates:
//
// - `synthesizeBlueprint` synthesizes the Keyturn stack from the config (without bundling the
//   functions or validating the template, so it takes about a second) and reads from the
//   template what moto needs: the bus's name, each severity's alert rule pattern, the lease
//   table's key schema and the monitor's and refresh's settings, parsed with the handlers' own
//   environment schemas.
// - `provisionAws` creates them in moto: each credential's secret with its description, its
//   keyturn:* tags and its first value (infra/config.ts `credentialTags` and
//   `initialSecretValue`, what the stack's secrets are made of), the bus, the alert rules with an
//   SQS queue standing in for each SNS topic (moto has no SNS targets), the subscriber queue the
//   demo counts events with, and the lease table.
// - `seedKeys` plays the operator after a deploy: it creates each credential's first key at its
//   vendor's simulator and hands it over as `keyturn put` does (acceptKey: stored, verified at
//   the vendor, then made current).
//
// Not provisioned: Secrets Manager rotation schedules (moto's RotateSecret would add an
// AWSPENDING version that no rotation function ever finishes; the demo plays the schedules
// itself), the relay's rule on the default bus, KMS keys, alarms and dead-letter queues.

import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type AttributeDefinition,
  type BillingMode,
  CreateTableCommand,
  type DynamoDBClient,
  type GlobalSecondaryIndex,
  type KeySchemaElement,
  UpdateTimeToLiveCommand,
} from "@aws-sdk/client-dynamodb";
import {
  CreateEventBusCommand,
  type EventBridgeClient,
  PutRuleCommand,
  PutTargetsCommand,
} from "@aws-sdk/client-eventbridge";
import { CreateSecretCommand, type SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import type { SQSClient } from "@aws-sdk/client-sqs";
import * as v from "valibot";
import { EventPublisher } from "#aws/event-publisher.ts";
import { KeyRecords } from "#aws/record-store.ts";
import { SecretStore } from "#aws/secret-store.ts";
import { parseDuration } from "#engine/duration.ts";
import type { Severity } from "#engine/events.ts";
import { acceptKey } from "#engine/manual.ts";
import { PinnedCredentials } from "#engine/pinned.ts";
import { MonitorEnvironment, RefreshEnvironment } from "#handlers/environment.ts";
import { vendorHttp } from "#handlers/vendor-http.ts";
import type { HttpClientOptions } from "#http/client.ts";
import {
  CONFIG_CONTEXT_KEY,
  type CredentialConfig,
  credentialTags,
  INITIAL_SECRET_VALUE,
  type KeyturnConfig,
  loadConfig,
  pinnedCredential,
  SEVERITIES,
} from "../infra/config.ts";
import {
  createTargetQueue,
  drainQueue,
  type EventSubscriber,
  type ReceivedEvent,
  subscribeToBus,
} from "./event-subscriber.ts";
import { LEASE_TABLE, type LocalAws, startLocalAws } from "./local-aws.ts";
import type { Clock } from "./simulators/clock.ts";
import type { ImmutaRegion } from "./simulators/immuta.ts";
import { incortaCluster, type SandboxVendors } from "./vendors.ts";

const projectRoot = join(import.meta.dirname, "..");
const DAY = 86_400_000;

/** The config `cdk synth` deploys (cdk.json's context "keyturn:config"): the example config. */
export const EXAMPLE_CONFIG = join(
  projectRoot,
  JSON.parse(readFileSync(join(projectRoot, "cdk.json"), "utf8")).context[CONFIG_CONTEXT_KEY] as string,
);

/** Reads the config a sandbox is provisioned from; the example config by default. */
export function sandboxConfig(path = EXAMPLE_CONFIG): KeyturnConfig {
  return loadConfig(path);
}

/** What the synthesized stack says the sandbox must create and run with. */
export interface StackBlueprint {
  busName: string;
  /** keyturn's records table, as the template names and keys it. */
  recordsTable: {
    name: string;
    attributeDefinitions: AttributeDefinition[];
    keySchema: KeySchemaElement[];
    globalSecondaryIndexes: GlobalSecondaryIndex[] | undefined;
  };
  /** The consumers' usage reports (infra/keyturn-usage.ts), as the template names and keys it. */
  usageTable: { name: string; attributeDefinitions: AttributeDefinition[]; keySchema: KeySchemaElement[] };
  /** Each severity's alert rule pattern, as the template has it. */
  alertPatterns: Record<Severity, string>;
  leaseTable: {
    attributeDefinitions: AttributeDefinition[];
    keySchema: KeySchemaElement[];
    billingMode: BillingMode;
    timeToLiveAttribute: string | undefined;
  };
  monitor: { orphanSafetyMarginMs: number; reconcileIntervalMs: number; stuckAfterMs: number };
  refresh: { intervalMs: number; minTokenRemainingMs: number; tokenParameterPrefix: string };
}

type TemplateResource = { Type: string; Properties: Record<string, unknown> };

/** Synthesizes the Keyturn stack of `config` as `cdk synth` would, without bundling, and reads the blueprint. */
export async function synthesizeBlueprint(config: KeyturnConfig): Promise<StackBlueprint> {
  // Loaded here, not at the top: only provisioning pays for the CDK.
  const { App } = await import("aws-cdk-lib");
  const { keyturnPropsFromConfig } = await import("../infra/keyturn.ts");
  const { KeyturnStack } = await import("../infra/keyturn-stack.ts");
  const cdkContext = JSON.parse(readFileSync(join(projectRoot, "cdk.json"), "utf8")).context;
  const outdir = mkdtempSync(join(tmpdir(), "keyturn-sandbox-synth-"));
  try {
    // CloudFormation's template validation is the infra tests' job (cfn-lint, cdk-nag); skipped
    // here, it would be most of the synthesis's time.
    const app = new App({
      outdir,
      context: { ...cdkContext, "aws:cdk:bundling-stacks": [] },
      builtinCloudFormationValidation: false,
    });
    const stack = new KeyturnStack(app, "Keyturn", keyturnPropsFromConfig(config));
    const template = app.synth().getStackByName(stack.stackName).template as {
      Resources: Record<string, TemplateResource>;
    };
    const { keyturn } = stack;
    const resourceOf = (construct: { node: { defaultChild?: unknown } }): TemplateResource => {
      const id = stack.getLogicalId(construct.node.defaultChild as Parameters<typeof stack.getLogicalId>[0]);
      const resource = template.Resources[id];
      if (!resource) throw new Error(`The synthesized template has no resource ${id}`);
      return resource;
    };
    const busId = stack.getLogicalId(
      keyturn.bus.node.defaultChild as Parameters<typeof stack.getLogicalId>[0],
    );
    const tableId = stack.getLogicalId(
      keyturn.leaseTable.node.defaultChild as Parameters<typeof stack.getLogicalId>[0],
    );
    // The names CloudFormation would resolve at deploy time, as the sandbox names them.
    const busName = resourceOf(keyturn.bus).Properties.Name as string;
    const recordsId = stack.getLogicalId(
      keyturn.recordsTable.node.defaultChild as Parameters<typeof stack.getLogicalId>[0],
    );
    const recordsName = (resourceOf(keyturn.recordsTable).Properties as { TableName: string }).TableName;
    const usageId = stack.getLogicalId(
      keyturn.usage.table.node.defaultChild as Parameters<typeof stack.getLogicalId>[0],
    );
    const usage = resourceOf(keyturn.usage.table).Properties as {
      TableName: string;
      AttributeDefinitions: AttributeDefinition[];
      KeySchema: KeySchemaElement[];
    };
    const names: Record<string, string> = {
      [busId]: busName,
      [tableId]: LEASE_TABLE,
      [recordsId]: recordsName,
      [usageId]: usage.TableName,
    };
    const environmentOf = (fn: { node: { defaultChild?: unknown } }) =>
      literal(
        ((resourceOf(fn).Properties.Environment ?? {}) as { Variables?: Record<string, unknown> })
          .Variables ?? {},
        names,
      );
    const monitor = v.parse(MonitorEnvironment, environmentOf(keyturn.monitorFunction));
    const refresh = v.parse(RefreshEnvironment, environmentOf(keyturn.refreshFunction));
    const records = resourceOf(keyturn.recordsTable).Properties as {
      TableName: string;
      AttributeDefinitions: AttributeDefinition[];
      KeySchema: KeySchemaElement[];
      GlobalSecondaryIndexes?: GlobalSecondaryIndex[];
    };
    const table = resourceOf(keyturn.leaseTable).Properties as {
      AttributeDefinitions: AttributeDefinition[];
      KeySchema: KeySchemaElement[];
      BillingMode: BillingMode;
      TimeToLiveSpecification?: { AttributeName: string; Enabled: boolean };
    };
    return {
      busName,
      alertPatterns: Object.fromEntries(
        SEVERITIES.map((severity) => {
          const pattern = JSON.stringify(resourceOf(keyturn.alertRules[severity]).Properties.EventPattern);
          if (/"(Ref|Fn::[A-Za-z]+)"/.test(pattern)) {
            throw new Error(
              `The ${severity} alert rule's pattern is not literal in the template: ${pattern}`,
            );
          }
          return [severity, pattern];
        }),
      ) as Record<Severity, string>,
      usageTable: {
        name: usage.TableName,
        attributeDefinitions: usage.AttributeDefinitions,
        keySchema: usage.KeySchema,
      },
      recordsTable: {
        name: records.TableName,
        attributeDefinitions: records.AttributeDefinitions,
        keySchema: records.KeySchema,
        globalSecondaryIndexes: records.GlobalSecondaryIndexes,
      },
      leaseTable: {
        attributeDefinitions: table.AttributeDefinitions,
        keySchema: table.KeySchema,
        billingMode: table.BillingMode,
        timeToLiveAttribute: table.TimeToLiveSpecification?.Enabled
          ? table.TimeToLiveSpecification.AttributeName
          : undefined,
      },
      monitor: {
        orphanSafetyMarginMs: monitor.KEYTURN_ORPHAN_SAFETY_MARGIN,
        reconcileIntervalMs: monitor.KEYTURN_RECONCILE_INTERVAL,
        stuckAfterMs: monitor.KEYTURN_STUCK_ROTATION_AFTER,
      },
      refresh: {
        intervalMs: refresh.KEYTURN_REFRESH_INTERVAL,
        minTokenRemainingMs: refresh.KEYTURN_MIN_TOKEN_REMAINING,
        tokenParameterPrefix: refresh.KEYTURN_TOKEN_PARAMETER_PREFIX,
      },
    };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

/**
 * Starts moto and synthesizes the blueprint meanwhile: moto boots in a process of its own, so
 * the synthesis costs little more than the boot. moto is stopped again if the synthesis fails.
 */
export async function startLocalAwsWithBlueprint(
  config: KeyturnConfig,
  log: (line: string) => void,
): Promise<{ aws: LocalAws; blueprint: StackBlueprint }> {
  const starting = startLocalAws({ log });
  let blueprint: StackBlueprint;
  try {
    blueprint = await synthesizeBlueprint(config);
  } catch (error) {
    await starting.then(
      (aws) => aws.stop(),
      () => undefined,
    );
    throw error;
  }
  return { aws: await starting, blueprint };
}

/**
 * What the sandbox does not stand up, so that a function's environment goes without it, as each
 * handler allows: the rotate function (moto runs no Lambda, and keeps no secret's rotation
 * function, so the monitor has no other function to tell it from), the token parameters' KMS
 * key (the parameters are written under the default key) and the monitor's sweep queue (no event
 * source mapping would drain it: the sandbox's due sweep takes every due credential itself;
 * test/integration/fan-out.test.ts plays the mapping against moto's SQS).
 */
const NOT_IN_THE_SANDBOX = ["KEYTURN_ROTATE_FUNCTION_ARN", "KEYTURN_TOKEN_KEY_ID", "KEYTURN_SWEEP_QUEUE_URL"];

/** A function's environment with each `{Ref}` replaced by the name given for it; anything else unresolved is refused. */
function literal(variables: Record<string, unknown>, names: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(variables)
      .filter(([key]) => !NOT_IN_THE_SANDBOX.includes(key))
      .map(([key, value]) => {
        if (typeof value === "string") return [key, value];
        const ref = (value as { Ref?: string }).Ref;
        const name = ref === undefined ? undefined : names[ref];
        if (name === undefined)
          throw new Error(`${key} is not literal in the template: ${JSON.stringify(value)}`);
        return [key, name];
      }),
  );
}

export interface AwsClients {
  secretsManager: SecretsManagerClient;
  eventBridge: EventBridgeClient;
  sqs: SQSClient;
  dynamodb: DynamoDBClient;
}

/** The SQS queues standing in for the alert topics. */
export interface AlertInbox {
  /** What each severity's topic received since the last call. */
  drain(): Promise<Record<Severity, ReceivedEvent[]>>;
}

export interface ProvisionedAws {
  busName: string;
  subscriber: EventSubscriber;
  alerts: AlertInbox;
  leaseTable: string;
  recordsTable: string;
  /** Each credential's secret name, in config order. */
  secrets: string[];
}

/** Creates in moto what the stack creates for `config` (see the top of this file). */
export async function provisionAws(
  clients: AwsClients,
  config: KeyturnConfig,
  blueprint: StackBlueprint,
): Promise<ProvisionedAws> {
  for (const credential of config.credentials) {
    await clients.secretsManager.send(
      new CreateSecretCommand({
        Name: credential.secretName,
        Description: credential.description,
        SecretString: INITIAL_SECRET_VALUE,
        Tags: Object.entries(credentialTags(credential)).map(([Key, Value]) => ({ Key, Value })),
      }),
    );
  }
  const { busName } = blueprint;
  await clients.eventBridge.send(new CreateEventBusCommand({ Name: busName }));
  const alertQueues = {} as Record<Severity, string>;
  for (const severity of SEVERITIES) {
    const name = `${busName}-alerts-${severity}`;
    const queue = await createTargetQueue(clients.sqs, name);
    await clients.eventBridge.send(
      new PutRuleCommand({
        Name: name,
        EventBusName: busName,
        EventPattern: blueprint.alertPatterns[severity],
      }),
    );
    await clients.eventBridge.send(
      new PutTargetsCommand({
        Rule: name,
        EventBusName: busName,
        Targets: [{ Id: `${severity}-topic-stand-in`, Arn: queue.arn }],
      }),
    );
    alertQueues[severity] = queue.url;
  }
  const subscriber = await subscribeToBus(clients, busName, { busExists: true });
  const { leaseTable } = blueprint;
  await clients.dynamodb.send(
    new CreateTableCommand({
      TableName: LEASE_TABLE,
      AttributeDefinitions: leaseTable.attributeDefinitions,
      KeySchema: leaseTable.keySchema,
      BillingMode: leaseTable.billingMode,
    }),
  );
  const { recordsTable, usageTable } = blueprint;
  await clients.dynamodb.send(
    new CreateTableCommand({
      TableName: usageTable.name,
      AttributeDefinitions: usageTable.attributeDefinitions,
      KeySchema: usageTable.keySchema,
      BillingMode: "PAY_PER_REQUEST",
    }),
  );
  await clients.dynamodb.send(
    new CreateTableCommand({
      TableName: recordsTable.name,
      AttributeDefinitions: recordsTable.attributeDefinitions,
      KeySchema: recordsTable.keySchema,
      // The due index (functions/aws/record-store.ts), as the template declares it.
      ...(recordsTable.globalSecondaryIndexes
        ? { GlobalSecondaryIndexes: recordsTable.globalSecondaryIndexes }
        : {}),
      BillingMode: "PAY_PER_REQUEST",
    }),
  );
  if (leaseTable.timeToLiveAttribute) {
    await clients.dynamodb.send(
      new UpdateTimeToLiveCommand({
        TableName: LEASE_TABLE,
        TimeToLiveSpecification: { AttributeName: leaseTable.timeToLiveAttribute, Enabled: true },
      }),
    );
  }
  return {
    busName,
    subscriber,
    leaseTable: LEASE_TABLE,
    recordsTable: recordsTable.name,
    secrets: config.credentials.map((credential) => credential.secretName),
    alerts: {
      async drain() {
        const received = await Promise.all(
          SEVERITIES.map((severity) => drainQueue(clients.sqs, alertQueues[severity])),
        );
        return Object.fromEntries(SEVERITIES.map((severity, i) => [severity, received[i] ?? []])) as Record<
          Severity,
          ReceivedEvent[]
        >;
      },
    },
  };
}

/** Whether an alert of `severity` reaches the endpoints subscribed from `minimum` up, as infra/keyturn-alerts.ts subscribes them. */
export function severityReaches(severity: string, minimum: Severity): boolean {
  return SEVERITIES.indexOf(severity as Severity) >= SEVERITIES.indexOf(minimum);
}

/** The Incorta user whose PATs the sandbox creates (Incorta v2 settings name no user). */
export const INCORTA_PAT_OWNER = "report.bot";

/** How a credential's first key looks, where the default does not suit a scenario. */
export interface KeySpec {
  /** How long ago the operator handed it over (default 0: now). */
  handedOverAgoMs?: number;
  /** When it expires at the vendor, from now: Immuta tokens (default the keyLifetime), Incorta PATs (default 90 days). */
  expiresInMs?: number;
  /** Its name at the vendor, which keyturn keeps as the key id: an Everflow key's Name, an Incorta PAT's name. */
  label?: string;
}

export interface SeededKey {
  credential: CredentialConfig;
  /** The key id keyturn stores for it. */
  keyId: string;
  /** The simulator's own id for the key, where it is not the key id (an Everflow key's number, an Incorta PAT's id). */
  vendorId?: number | string;
}

export interface SeedOptions {
  clients: Pick<AwsClients, "secretsManager" | "eventBridge" | "dynamodb">;
  /** keyturn's records table (provisionAws's recordsTable). */
  recordsTable: string;
  vendors: SandboxVendors;
  config: KeyturnConfig;
  busName: string;
  clock: Clock;
  /** By credential name (the config's, without the prefix). */
  keys?: Record<string, KeySpec>;
  http?: Partial<HttpClientOptions>;
}

/** What a deployment of `config` pins in its functions (infra/keyturn.ts does the same at synth). */
export function pinnedOf(config: KeyturnConfig): PinnedCredentials {
  return new PinnedCredentials(config.credentials.map(pinnedCredential));
}

/**
 * Creates each credential's first key at its simulator and hands it over as `keyturn put` does.
 * A key created by hand is never printed; the simulators keep every value they hand out.
 */
export async function seedKeys(options: SeedOptions): Promise<SeededKey[]> {
  const { vendors, config, clock } = options;
  const store = new SecretStore(options.clients.secretsManager);
  const records = new KeyRecords(options.clients.dynamodb, options.recordsTable);
  const publisher = new EventPublisher(options.clients.eventBridge, options.busName);
  const context = { getRemainingTimeInMillis: () => 120_000, awsRequestId: "sandbox-provision" };
  const http = vendorHttp(context, { endpointOverride: vendors.url, ...options.http });
  const immutaUsers = new Map<ImmutaRegion, string>();
  const softwareoneAccounts = new Set<string>();
  const seeded: SeededKey[] = [];

  for (const credential of config.credentials) {
    const spec = options.keys?.[credential.name] ?? {};
    const settings = credential.settings;
    const label = spec.label ?? credential.name;
    let input: Record<string, unknown>;
    let key: SeededKey;
    switch (credential.provider) {
      case "immuta-request": {
        const region = settings.region as ImmutaRegion;
        let userId = immutaUsers.get(region);
        if (userId === undefined) {
          userId = vendors.immuta.createUser(region, { name: "integration-bot" }).userId;
          immutaUsers.set(region, userId);
        }
        const lifetime = credential.policy.keyLifetime;
        const expiresInMs =
          spec.expiresInMs ??
          (lifetime === undefined || lifetime === "none" ? undefined : parseDuration(lifetime));
        const expiresAt = expiresInMs === undefined ? undefined : new Date(clock.now() + expiresInMs);
        const token = vendors.immuta.seedToken(region, userId, {
          description: `${credential.name}: generated by hand in the Request app`,
          expirationDate: expiresAt,
        });
        input = {
          token: token.token,
          keyId: token.tokenId,
          ...(expiresAt ? { expiresAt: expiresAt.toISOString() } : {}),
        };
        key = { credential, keyId: token.tokenId };
        break;
      }
      case "softwareone": {
        const accountId = settings.accountId as string;
        if (!softwareoneAccounts.has(accountId)) {
          vendors.softwareone.createAccount({ accountId, name: "Example Corp" });
          softwareoneAccounts.add(accountId);
        }
        const token = vendors.softwareone.seedToken(accountId, {
          name: (settings.name as string | undefined) ?? credential.name,
          modules: settings.modules as string[] | undefined,
        });
        input = { token: token.token, keyId: token.id };
        key = { credential, keyId: token.id };
        break;
      }
      case "everflow": {
        const host = settings.baseUrl ? new URL(String(settings.baseUrl)).host : undefined;
        const created = vendors.everflow.createKey({
          portal: "partner",
          name: label,
          ...(host ? { host: host as "api.eflow.team" | "api-eu.eflow.team" } : {}),
        });
        input = { apiKey: created.key, keyId: label };
        key = { credential, keyId: label, vendorId: created.id };
        break;
      }
      case "incorta-v1": {
        const apiKey = vendors.incorta.issueApiKey(
          incortaCluster(settings),
          String(settings.tenantName),
          String(settings.loginName),
        );
        input = { apiKey };
        key = { credential, keyId: "" };
        break;
      }
      case "incorta-v2": {
        const expiresAt = new Date(clock.now() + (spec.expiresInMs ?? 90 * DAY));
        const pat = vendors.incorta.createPat(
          incortaCluster(settings),
          String(settings.tenantName),
          INCORTA_PAT_OWNER,
          {
            name: label,
            expiresAt,
          },
        );
        input = { token: pat.token, keyId: label, expiresAt: expiresAt.toISOString() };
        key = { credential, keyId: label, vendorId: pat.id };
        break;
      }
    }
    const handedOverAt = clock.now() - (spec.handedOverAgoMs ?? 0);
    // The settings go with the key. A secret the stack created holds them alone, and acceptKey
    // keeps the fields of a current value only once it has a key: without them here, a first
    // key of a provider with settings (Immuta's region, Incorta's cluster) would be refused.
    const accepted = await acceptKey(
      { store, records, pinned: pinnedOf(config), publisher, http, now: () => new Date(handedOverAt) },
      credential.secretName,
      { ...settings, ...input },
    );
    seeded.push({ ...key, keyId: accepted.keyId });
  }
  return seeded;
}
