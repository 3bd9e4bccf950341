// keyturn's own records (docs/architecture.md, "keyturn's own records"), in the stack's records table, which only
// keyturn's functions may write: for each credential, every key id keyturn itself stored as its
// key (a successor it minted, a key handed over and verified, or the key it first found current
// when it began to manage the credential). A key keyturn revokes must be in its credential's
// record: a secret's tags and value, which others can write, can name a key, never make it one
// keyturn may revoke.
//
// The record also keeps what keyturn needs once the credential is gone (functions/engine/
// departures.ts): the pinned entry it last handled the credential by (`pinned`: provider, issuer,
// settings and policy, never a secret), when the monitor first found it missing from the config
// (`departedAt`), and when and why it retired its keys (`retiredAt`, `retirement`,
// `retiredBecause`): each written once,
// with a conditional write, so that two sweeps never both announce or retire a credential.
//
// And when the monitor must next look at the credential (`nextDueAt`, epoch ms, issue 16): the
// earliest of its previous key's revocation or deletion, its next expiry notice, reminder,
// reconciliation and stuck-rotation check (functions/engine/due.ts). A sparse index (DUE_INDEX:
// partition `dueShard`, one of DUE_SHARDS fixed values, sort `nextDueAt`) lets the hourly due
// sweep read the credentials due by now with one Query per shard, whatever the fleet's size.
// Only keyturn's functions write it: storing a key makes the credential due at once (0: the next
// due sweep looks and writes the real time), the monitor writes it after looking.
//
// And every previous key the credential still has (issue 13, case 6), one attribute per key
// (`prev:<keyId>`: its state, revoke-after, delete-after and postponements): a rotation or handover
// starts one, the sweep, the emergency revoke and a person's confirmation move it on. Each move is
// a conditional write on the state (and the postponement count) the decision was made from: a sweep
// that decided from a record read before a rotation or another sweep changed it loses, and is told
// so (false), instead of writing over a newer decision. One attribute per key, never one shared
// map: a decision about one key cannot overwrite another's, and the first write needs no map to
// exist. `ledger` marks a record that keeps them; a record without it predates the ledger, and
// the monitor adopts the previous key its secret's tags named once (functions/engine/previous-keys.ts).

import {
  type AttributeValue,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  QueryCommand,
  ScanCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";

/** How keyturn retired a credential's keys: revoked at the vendor, or named to a person in an event. */
export type Retirement = "revoked" | "announced";

/**
 * A previous key's revocation state: "active" (in its grace period, or postponed), "disabled"
 * (soft-revoked, deleted at deleteAfter), "revoked", or "refused" (the revocation guard refused it:
 * a person decides).
 */
export type PreviousState = "active" | "disabled" | "revoked" | "refused";

/** A previous key as keyturn's records keep it. */
export interface PreviousKey {
  keyId: string;
  state: PreviousState;
  /** When its grace period ends (ISO). */
  revokeAfter: string;
  /** When a disabled key is deleted (ISO); undefined unless disabled. */
  deleteAfter: string | undefined;
  /** How many sweeps postponed its revocation because it was still in use. */
  postponements: number;
}

/** What a move of a previous key writes: its new state and, where they change, its times and count. */
export interface PreviousKeyChange {
  state: PreviousState;
  deleteAfter?: string | undefined;
  postponements?: number | undefined;
}

const PREVIOUS_PREFIX = "prev:";
const PREVIOUS_STATES: readonly string[] = ["active", "disabled", "revoked", "refused"];

function previousOf(name: string, value: AttributeValue): PreviousKey | undefined {
  const entry = value.M;
  const state = entry?.state?.S;
  const revokeAfter = entry?.revokeAfter?.S;
  if (!entry || !state || !PREVIOUS_STATES.includes(state) || !revokeAfter) return undefined;
  const postponements = Number(entry.postponements?.N ?? "0");
  return {
    keyId: name.slice(PREVIOUS_PREFIX.length),
    state: state as PreviousState,
    revokeAfter,
    deleteAfter: entry.deleteAfter?.S,
    postponements: Number.isFinite(postponements) ? postponements : 0,
  };
}

/** A credential's record as the monitor reads it. */
export interface KeyRecord {
  credential: string;
  keys: Set<string>;
  /** The pinned entry keyturn last handled the credential by (parsed JSON, unchecked), if recorded. */
  pinned: unknown;
  departedAt: string | undefined;
  retiredAt: string | undefined;
  retirement: Retirement | undefined;
  /** Why keyturn retired its keys (recorded since the restored-secret check; undefined before). */
  retiredBecause: "secret-deleted" | "left-config" | undefined;
  /** When the monitor must next look at it (epoch ms); undefined when never written. */
  nextDueAt?: number | undefined;
  /** Whether the due index holds it (false: parked, due beyond the horizon; see setDue). */
  indexed?: boolean | undefined;
  /** Every previous key the record keeps, earliest revoke-after first. */
  previous: PreviousKey[];
  /** Whether the record keeps previous keys (written since the ledger); false: adopt from the tags once. */
  ledger: boolean;
  /**
   * The pinned settings under which keyturn wrote the credential's values (each config's settings
   * once, parsed JSON, unchecked): a value that carries one of them is keyturn's own write under an
   * earlier config, not someone else's (functions/engine/credentials.ts).
   */
  written: Record<string, unknown>[];
  /**
   * The sweep's marks (functions/engine/marks.ts): the last expiry notice, the last manual
   * reminder, the AWSPENDING version first seen, the last reconciliation. Absent: never written.
   */
  marks: Partial<Record<MarkName, string>>;
}

/** The sweep's bookkeeping marks kept in the records (functions/engine/marks.ts). */
export const MARK_NAMES = ["expiryNotice", "manualReminder", "pendingSeen", "reconciledAt"] as const;
export type MarkName = (typeof MARK_NAMES)[number];

/** The records table's index of next-due times (sparse: only credentials' records carry its keys). */
export const DUE_INDEX = "due";
/** How many partitions the due index spreads over: one Query each per due sweep. */
export const DUE_SHARDS = 4;

/** The due index as CreateTable / UpdateTable take it (the stack, the sandbox and the tests). */
export const DUE_INDEX_DEFINITION = {
  attributes: [
    { AttributeName: "dueShard", AttributeType: "S" },
    { AttributeName: "nextDueAt", AttributeType: "N" },
  ],
  index: {
    IndexName: DUE_INDEX,
    KeySchema: [
      { AttributeName: "dueShard", KeyType: "HASH" },
      { AttributeName: "nextDueAt", KeyType: "RANGE" },
    ],
    Projection: { ProjectionType: "KEYS_ONLY" },
  },
} as const;

/** The due index's partition of a credential: a fixed hash of its name. */
export function dueShardOf(credential: string): string {
  let hash = 0;
  for (let i = 0; i < credential.length; i++) hash = (hash * 31 + credential.charCodeAt(i)) >>> 0;
  return `due#${hash % DUE_SHARDS}`;
}

/** A credential the due index says is due, with the time it was due from. */
export interface DueEntry {
  credential: string;
  nextDueAt: number;
}

/**
 * The monitor's own item, beside the credentials' (whose names never start with "#": secret
 * names under keyturn's prefix): when it last scanned the table for departed credentials.
 */
const SWEEP_ITEM = "#sweep";

function recordOf(item: Record<string, AttributeValue>): KeyRecord | undefined {
  const credential = item.credential?.S;
  if (!credential || credential.startsWith("#")) return undefined;
  let pinned: unknown;
  try {
    pinned = item.pinned?.S === undefined ? undefined : (JSON.parse(item.pinned.S) as unknown);
  } catch {
    pinned = undefined;
  }
  const retirement = item.retirement?.S;
  const because = item.retiredBecause?.S;
  const previous: PreviousKey[] = [];
  for (const [name, value] of Object.entries(item)) {
    if (!name.startsWith(PREVIOUS_PREFIX)) continue;
    const entry = previousOf(name, value);
    if (entry) previous.push(entry);
  }
  previous.sort((a, b) => a.revokeAfter.localeCompare(b.revokeAfter) || a.keyId.localeCompare(b.keyId));
  return {
    credential,
    keys: new Set(item.keys?.SS ?? []),
    pinned,
    departedAt: item.departedAt?.S,
    retiredAt: item.retiredAt?.S,
    retirement: retirement === "revoked" || retirement === "announced" ? retirement : undefined,
    retiredBecause: because === "secret-deleted" || because === "left-config" ? because : undefined,
    nextDueAt: item.nextDueAt?.N === undefined ? undefined : Number(item.nextDueAt.N),
    indexed: item.dueShard?.S !== undefined,
    previous,
    ledger: item.ledger?.BOOL === true,
    marks: Object.fromEntries(
      MARK_NAMES.flatMap((name) => {
        const value = item[`mark:${name}`]?.S;
        return value === undefined ? [] : [[name, value]];
      }),
    ),
    written: (item.written?.SS ?? []).flatMap((text) => {
      try {
        const settings = JSON.parse(text) as unknown;
        return typeof settings === "object" && settings !== null && !Array.isArray(settings)
          ? [settings as Record<string, unknown>]
          : [];
      } catch {
        return [];
      }
    }),
  };
}

export class KeyRecords {
  readonly #client: DynamoDBClient;
  readonly #table: string;

  constructor(client: DynamoDBClient, table: string) {
    this.#client = client;
    this.#table = table;
  }

  /** The key ids recorded for the credential (its secret name); undefined when it has no record yet. */
  async keysOf(credential: string): Promise<Set<string> | undefined> {
    return (await this.get(credential))?.keys;
  }

  /** The credential's whole record; undefined when it has none. */
  async get(credential: string): Promise<KeyRecord | undefined> {
    const answer = await this.#client.send(
      new GetItemCommand({
        TableName: this.#table,
        Key: { credential: { S: credential } },
        ConsistentRead: true,
      }),
    );
    return answer.Item ? recordOf(answer.Item) : undefined;
  }

  /**
   * Adds key ids to the credential's record, creating it when it has none (idempotent). With
   * `pinned` (the pinned entry the key was stored under, no secret in it), the record also keeps
   * it, and its settings among those keyturn wrote values under (`written`), and a credential
   * keyturn stores a key for is no longer departed or retired. A new key
   * changes what is due (a previous key to revoke, a new expiry): the credential is due at once,
   * and the next due sweep writes its real next-due time.
   */
  async addKeys(credential: string, keyIds: readonly string[], pinned?: object): Promise<void> {
    if (keyIds.length === 0) return;
    await this.#client.send(
      new UpdateItemCommand({
        TableName: this.#table,
        Key: { credential: { S: credential } },
        UpdateExpression:
          pinned === undefined
            ? "ADD #keys :keys SET #shard = :shard, #due = :due"
            : "ADD #keys :keys, #written :written SET #pinned = :pinned, #shard = :shard, #due = :due REMOVE #departed, #retired, #retirement, #because",
        ExpressionAttributeNames: {
          "#keys": "keys",
          "#shard": "dueShard",
          "#due": "nextDueAt",
          ...(pinned === undefined
            ? {}
            : {
                "#pinned": "pinned",
                "#written": "written",
                "#departed": "departedAt",
                "#retired": "retiredAt",
                "#retirement": "retirement",
                "#because": "retiredBecause",
              }),
        },
        ExpressionAttributeValues: {
          ":keys": { SS: [...new Set(keyIds)] },
          ":shard": { S: dueShardOf(credential) },
          ":due": { N: "0" },
          ...(pinned === undefined
            ? {}
            : {
                ":pinned": { S: JSON.stringify(pinned) },
                ":written": { SS: [JSON.stringify((pinned as { settings?: unknown }).settings ?? {})] },
              }),
        },
      }),
    );
  }

  /**
   * The monitor's write for a credential the config pins: keeps its pinned entry on an existing
   * record (one written before records kept it, or under older settings) and clears a departure
   * (the credential is back in the config). Never creates a record.
   */
  async remember(credential: string, pinned: object): Promise<void> {
    await this.#conditional({
      TableName: this.#table,
      Key: { credential: { S: credential } },
      UpdateExpression: "SET #pinned = :pinned REMOVE #departed",
      ConditionExpression: "attribute_exists(#credential)",
      ExpressionAttributeNames: {
        "#credential": "credential",
        "#pinned": "pinned",
        "#departed": "departedAt",
      },
      ExpressionAttributeValues: { ":pinned": { S: JSON.stringify(pinned) } },
    });
  }

  /** Records when the monitor first found the credential gone from the config; false when already recorded. */
  async markDeparted(credential: string, at: Date): Promise<boolean> {
    return this.#conditional({
      TableName: this.#table,
      Key: { credential: { S: credential } },
      UpdateExpression: "SET #departed = :at",
      ConditionExpression:
        "attribute_exists(#credential) AND attribute_not_exists(#departed) AND attribute_not_exists(#retired)",
      ExpressionAttributeNames: {
        "#credential": "credential",
        "#departed": "departedAt",
        "#retired": "retiredAt",
      },
      ExpressionAttributeValues: { ":at": { S: at.toISOString() } },
    });
  }

  /** Gives a departure back (its announcement could not be published): the next sweep announces it. */
  async unmarkDeparted(credential: string, at: Date): Promise<void> {
    await this.#conditional({
      TableName: this.#table,
      Key: { credential: { S: credential } },
      UpdateExpression: "REMOVE #departed",
      ConditionExpression: "#departed = :at",
      ExpressionAttributeNames: { "#departed": "departedAt" },
      ExpressionAttributeValues: { ":at": { S: at.toISOString() } },
    });
  }

  /**
   * Claims the credential's retirement (once), with why (`because`: its secret was deleted, or it
   * left the config): false when it is already retired.
   */
  async markRetired(
    credential: string,
    at: Date,
    how: Retirement,
    because?: "secret-deleted" | "left-config",
  ): Promise<boolean> {
    return this.#conditional({
      TableName: this.#table,
      Key: { credential: { S: credential } },
      UpdateExpression:
        because === undefined
          ? "SET #retired = :at, #retirement = :how"
          : "SET #retired = :at, #retirement = :how, #because = :because",
      ConditionExpression: "attribute_exists(#credential) AND attribute_not_exists(#retired)",
      ExpressionAttributeNames: {
        "#credential": "credential",
        "#retired": "retiredAt",
        "#retirement": "retirement",
        ...(because === undefined ? {} : { "#because": "retiredBecause" }),
      },
      ExpressionAttributeValues: {
        ":at": { S: at.toISOString() },
        ":how": { S: how },
        ...(because === undefined ? {} : { ":because": { S: because } }),
      },
    });
  }

  /** Gives a claimed retirement back (its announcement could not be published): the next sweep tries again. */
  async unmarkRetired(credential: string, at: Date): Promise<void> {
    await this.#conditional({
      TableName: this.#table,
      Key: { credential: { S: credential } },
      UpdateExpression: "REMOVE #retired, #retirement, #because",
      ConditionExpression: "#retired = :at",
      ExpressionAttributeNames: {
        "#retired": "retiredAt",
        "#retirement": "retirement",
        "#because": "retiredBecause",
      },
      ExpressionAttributeValues: { ":at": { S: at.toISOString() } },
    });
  }

  /**
   * Takes the departures scan for a sweep at `now`, unless another sweep took it less than
   * `intervalMs` ago (one conditional write): the table is scanned once per interval, not per
   * sweep. The same write answers where the last audit cut short asked the next one to start
   * (`cursor`, see setSweepCursor), at no extra call.
   */
  async claimScan(now: Date, intervalMs: number): Promise<{ claimed: boolean; cursor: string | undefined }> {
    try {
      const answer = await this.#client.send(
        new UpdateItemCommand({
          TableName: this.#table,
          Key: { credential: { S: SWEEP_ITEM } },
          UpdateExpression: "SET #at = :now",
          ConditionExpression: "attribute_not_exists(#at) OR #at <= :cutoff",
          ExpressionAttributeNames: { "#at": "scannedAt" },
          ExpressionAttributeValues: {
            ":now": { N: String(now.getTime()) },
            ":cutoff": { N: String(now.getTime() - intervalMs) },
          },
          ReturnValues: "ALL_OLD",
          ReturnValuesOnConditionCheckFailure: "ALL_OLD",
        }),
      );
      return { claimed: true, cursor: answer.Attributes?.cursor?.S };
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException)
        return { claimed: false, cursor: error.Item?.cursor?.S };
      throw error;
    }
  }

  /**
   * Where the next audit starts (a credential's name), written only by an audit cut short by its
   * invocation's time: the order rotates so that every credential gets its turn. Cleared (undefined)
   * by an audit that reached every credential.
   */
  async setSweepCursor(credential: string | undefined): Promise<void> {
    await this.#client.send(
      new UpdateItemCommand({
        TableName: this.#table,
        Key: { credential: { S: SWEEP_ITEM } },
        UpdateExpression: credential === undefined ? "REMOVE #cursor" : "SET #cursor = :cursor",
        ExpressionAttributeNames: { "#cursor": "cursor" },
        ...(credential === undefined ? {} : { ExpressionAttributeValues: { ":cursor": { S: credential } } }),
      }),
    );
  }

  /**
   * Every record, a page of the table at a time (a Scan of whole items: the previous keys are one
   * attribute each, which no projection can name in advance; a record is a few hundred bytes).
   */
  async *all(): AsyncIterable<KeyRecord[]> {
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.#client.send(
        new ScanCommand({
          TableName: this.#table,
          ConsistentRead: true,
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      yield (page.Items ?? []).map(recordOf).filter((record): record is KeyRecord => record !== undefined);
      start = page.LastEvaluatedKey;
    } while (start);
  }

  /**
   * Starts (or starts afresh) the revocation of `keyId`, a key the credential just stopped using
   * (a rotation or a handover made another current): active, revoked after `revokeAfter`. Written
   * only if the key is in the credential's record (keyturn stored it; `recordedOnly: false`, for a
   * manual vendor's reminders alone: any key of a credential that has a record) and is not already
   * being revoked (disabled, revoked or refused stay as they are: false). The credential is due at once.
   */
  async trackPrevious(
    credential: string,
    keyId: string,
    revokeAfter: string,
    options: { recordedOnly?: boolean } = {},
  ): Promise<boolean> {
    const recorded = options.recordedOnly ?? true;
    return this.#conditional({
      TableName: this.#table,
      Key: { credential: { S: credential } },
      UpdateExpression: "SET #p = :entry, #ledger = :true, #shard = :shard, #due = :due",
      ConditionExpression: `${recorded ? "contains(#keys, :keyId)" : "attribute_exists(#credential)"} AND (attribute_not_exists(#p) OR #p.#state = :active)`,
      ExpressionAttributeNames: {
        "#p": `${PREVIOUS_PREFIX}${keyId}`,
        "#state": "state",
        ...(recorded ? { "#keys": "keys" } : { "#credential": "credential" }),
        "#ledger": "ledger",
        "#shard": "dueShard",
        "#due": "nextDueAt",
      },
      ExpressionAttributeValues: {
        ":entry": {
          M: { state: { S: "active" }, revokeAfter: { S: revokeAfter }, postponements: { N: "0" } },
        },
        ...(recorded ? { ":keyId": { S: keyId } } : {}),
        ":active": { S: "active" },
        ":true": { BOOL: true },
        ":shard": { S: dueShardOf(credential) },
        ":due": { N: "0" },
      },
    });
  }

  /**
   * A record written before the ledger: takes the previous key its secret's tags named (once; only
   * a key in the record, and only while the record keeps no previous key). False when the record
   * already keeps previous keys or does not hold the key.
   */
  async adoptPrevious(credential: string, entry: PreviousKey): Promise<boolean> {
    return this.#conditional({
      TableName: this.#table,
      Key: { credential: { S: credential } },
      UpdateExpression: "SET #p = :entry, #ledger = :true",
      ConditionExpression: "contains(#keys, :keyId) AND attribute_not_exists(#ledger)",
      ExpressionAttributeNames: {
        "#p": `${PREVIOUS_PREFIX}${entry.keyId}`,
        "#keys": "keys",
        "#ledger": "ledger",
      },
      ExpressionAttributeValues: {
        ":entry": {
          M: {
            state: { S: entry.state },
            revokeAfter: { S: entry.revokeAfter },
            postponements: { N: String(entry.postponements) },
            ...(entry.deleteAfter === undefined ? {} : { deleteAfter: { S: entry.deleteAfter } }),
          },
        },
        ":keyId": { S: entry.keyId },
        ":true": { BOOL: true },
      },
    });
  }

  /**
   * Moves a previous key on (see the header): written only if the key is still in the state the
   * decision was made from (`from`, one of them) and, when given, still has `postponements` as the
   * decision read it. False when it is not: another writer got there first, and its decision stands.
   */
  async movePrevious(
    credential: string,
    keyId: string,
    from: { states: readonly PreviousState[]; postponements?: number | undefined },
    change: PreviousKeyChange,
  ): Promise<boolean> {
    const sets = ["#p.#state = :to"];
    const values: Record<string, AttributeValue> = { ":to": { S: change.state } };
    if (change.deleteAfter !== undefined) {
      sets.push("#p.#deleteAfter = :deleteAfter");
      values[":deleteAfter"] = { S: change.deleteAfter };
    }
    if (change.postponements !== undefined) {
      sets.push("#p.#postponements = :postponements");
      values[":postponements"] = { N: String(change.postponements) };
    }
    const states = from.states.map((state, i) => {
      values[`:from${i}`] = { S: state };
      return `:from${i}`;
    });
    let condition = `#p.#state IN (${states.join(", ")})`;
    if (from.postponements !== undefined) {
      condition += " AND #p.#postponements = :expected";
      values[":expected"] = { N: String(from.postponements) };
    }
    return this.#conditional({
      TableName: this.#table,
      Key: { credential: { S: credential } },
      UpdateExpression: `SET ${sets.join(", ")}`,
      ConditionExpression: condition,
      ExpressionAttributeNames: {
        "#p": `${PREVIOUS_PREFIX}${keyId}`,
        "#state": "state",
        ...(change.deleteAfter === undefined ? {} : { "#deleteAfter": "deleteAfter" }),
        ...(change.postponements === undefined && from.postponements === undefined
          ? {}
          : { "#postponements": "postponements" }),
      },
      ExpressionAttributeValues: values,
    });
  }

  /**
   * Writes the sweep's marks (functions/engine/marks.ts) on the credential's existing record only:
   * false when it has none (keyturn never stored a key for it; the tags then hold them alone).
   */
  async setMarks(credential: string, marks: Partial<Record<MarkName, string>>): Promise<boolean> {
    const entries = Object.entries(marks);
    if (entries.length === 0) return true;
    return this.#conditional({
      TableName: this.#table,
      Key: { credential: { S: credential } },
      UpdateExpression: `SET ${entries.map((_, i) => `#m${i} = :m${i}`).join(", ")}`,
      ConditionExpression: "attribute_exists(#credential)",
      ExpressionAttributeNames: {
        "#credential": "credential",
        ...Object.fromEntries(entries.map(([name], i) => [`#m${i}`, `mark:${name}`])),
      },
      ExpressionAttributeValues: Object.fromEntries(entries.map(([, value], i) => [`:m${i}`, { S: value }])),
    });
  }

  /**
   * Writes when the monitor must next look at the credential (`at`), on its existing record only:
   * a record means keyturn stored a key for it, and no other write may create one. False when it
   * has no record. A time after `parkAfter` (epoch ms) parks it: the record keeps the time, but
   * without its shard the due index does not hold it, so that a due Query reads only what comes
   * due soon (the audit, which looks at every credential, puts it back once within the horizon).
   */
  async setDue(
    credential: string,
    at: Date | number,
    parkAfter = Number.POSITIVE_INFINITY,
  ): Promise<boolean> {
    const due = typeof at === "number" ? at : at.getTime();
    const parked = due > parkAfter;
    return this.#conditional({
      TableName: this.#table,
      Key: { credential: { S: credential } },
      UpdateExpression: parked ? "SET #due = :due REMOVE #shard" : "SET #shard = :shard, #due = :due",
      ConditionExpression: "attribute_exists(#credential)",
      ExpressionAttributeNames: { "#credential": "credential", "#shard": "dueShard", "#due": "nextDueAt" },
      ExpressionAttributeValues: {
        ...(parked ? {} : { ":shard": { S: dueShardOf(credential) } }),
        ":due": { N: String(due) },
      },
    });
  }

  /** Takes a credential the config no longer pins out of the due index (the audit handles departures). */
  async clearDue(credential: string): Promise<void> {
    await this.#conditional({
      TableName: this.#table,
      Key: { credential: { S: credential } },
      UpdateExpression: "REMOVE #shard, #due",
      ConditionExpression: "attribute_exists(#credential)",
      ExpressionAttributeNames: { "#credential": "credential", "#shard": "dueShard", "#due": "nextDueAt" },
    });
  }

  /**
   * Every credential due by `now`, earliest first: one Query of the due index per shard (more only
   * when a shard's answer runs past 1 MB, some thousands of due credentials).
   */
  async due(now: Date): Promise<DueEntry[]> {
    const entries: DueEntry[] = [];
    for (let shard = 0; shard < DUE_SHARDS; shard++) {
      let start: Record<string, AttributeValue> | undefined;
      do {
        const page = await this.#client.send(
          new QueryCommand({
            TableName: this.#table,
            IndexName: DUE_INDEX,
            KeyConditionExpression: "#shard = :shard AND #due <= :now",
            ExpressionAttributeNames: { "#shard": "dueShard", "#due": "nextDueAt" },
            ExpressionAttributeValues: {
              ":shard": { S: `due#${shard}` },
              ":now": { N: String(now.getTime()) },
            },
            ...(start ? { ExclusiveStartKey: start } : {}),
          }),
        );
        for (const item of page.Items ?? []) {
          const credential = item.credential?.S;
          const nextDueAt = Number(item.nextDueAt?.N);
          if (credential && !credential.startsWith("#") && Number.isFinite(nextDueAt))
            entries.push({ credential, nextDueAt });
        }
        start = page.LastEvaluatedKey;
      } while (start);
    }
    return entries.sort((a, b) => a.nextDueAt - b.nextDueAt || a.credential.localeCompare(b.credential));
  }

  async #conditional(input: ConstructorParameters<typeof UpdateItemCommand>[0]): Promise<boolean> {
    try {
      await this.#client.send(new UpdateItemCommand(input));
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }
}
