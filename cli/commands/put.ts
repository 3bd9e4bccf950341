// keyturn put: an operator hands over a key minted by hand (functions/engine/manual.ts
// acceptKey): stored AWSPENDING, verified at the vendor, only then made AWSCURRENT.

import { readCurrent } from "#engine/credentials.ts";
import { acceptKey } from "#engine/manual.ts";
import { Tag } from "#engine/settings.ts";
import { rememberSecret } from "#http/redact.ts";
import type { ProviderId } from "#providers/types.ts";
import { UsageError } from "../args.ts";
import type { CommandRun, ExitCode } from "../command.ts";
import { readKey } from "../key-input.ts";

interface Handover {
  /** The field of the secret's JSON that holds the key. */
  keyField: string;
  /** Where the key id comes from: a flag, the key itself (provider or CLI derives it). */
  keyId: "required" | "derived";
  /** Whether --expires-at is required, optional, or meaningless (the vendor's keys never expire). */
  expiresAt: "required" | "optional" | "none";
  /** What --key-id is, for messages. */
  keyIdMeans?: string;
}

// What each provider needs from the operator besides the rest of the value, which acceptKey
// keeps from the current version. `satisfies` makes a provider without an entry a compile error.
const HANDOVER = {
  "immuta-request": {
    keyField: "token",
    keyId: "required",
    expiresAt: "optional",
    keyIdMeans: "the token's id",
  },
  softwareone: { keyField: "token", keyId: "derived", expiresAt: "none" },
  everflow: {
    keyField: "apiKey",
    keyId: "required",
    expiresAt: "none",
    keyIdMeans: "the key's Name in Everflow's Account > API Keys",
  },
  "incorta-v1": { keyField: "apiKey", keyId: "derived", expiresAt: "none" },
  "incorta-v2": {
    keyField: "token",
    keyId: "required",
    expiresAt: "required",
    keyIdMeans: "the token's name in the Profile Manager",
  },
} as const satisfies Record<ProviderId, Handover>;

const SOFTWAREONE_TOKEN_ID = /^idt:(TKN-[0-9A-Za-z]+(?:-[0-9A-Za-z]+)*):/;

export async function run({ positionals, options, out, context, connect }: CommandRun): Promise<ExitCode> {
  const [secretId = ""] = positionals;
  context.credential = secretId;
  const connection = await connect();
  const credential = await connection.credential(secretId);
  const { settings, provider } = credential;
  context.credential = settings.credential;
  const handover: Handover = HANDOVER[settings.provider];
  const keyIdFlag = typeof options["key-id"] === "string" ? options["key-id"] : undefined;
  const expiresFlag = typeof options["expires-at"] === "string" ? options["expires-at"] : undefined;

  // Flags first: a mistake should not cost the operator a pasted key.
  if (handover.keyId === "required" && keyIdFlag === undefined) {
    throw new UsageError(
      `${settings.credential} (${settings.provider}) needs --key-id <${handover.keyIdMeans ?? "id"}>`,
      "put",
    );
  }
  if (handover.expiresAt === "required" && expiresFlag === undefined) {
    throw new UsageError(
      `${settings.credential} (${settings.provider}) needs --expires-at <the key's expiry, ISO 8601>`,
      "put",
    );
  }
  if (handover.expiresAt === "none" && expiresFlag !== undefined) {
    throw new UsageError(
      `${provider.vendor} keys of ${settings.provider} do not expire: drop --expires-at`,
      "put",
    );
  }
  let expiresAt: string | undefined;
  if (expiresFlag !== undefined) {
    const ms = Date.parse(expiresFlag);
    if (Number.isNaN(ms))
      throw new UsageError("--expires-at must be a date, e.g. 2027-06-30 or 2027-06-30T12:00:00Z", "put");
    expiresAt = new Date(ms).toISOString();
  }

  const key = await readKey(`New ${provider.vendor} key for ${settings.credential} (input hidden): `);
  rememberSecret(key);
  const derivedKeyId = settings.provider === "softwareone" ? SOFTWAREONE_TOKEN_ID.exec(key)?.[1] : undefined;
  const input: Record<string, unknown> = {
    [handover.keyField]: key,
    ...(keyIdFlag !== undefined ? { keyId: keyIdFlag } : derivedKeyId ? { keyId: derivedKeyId } : {}),
    ...(expiresAt ? { expiresAt } : {}),
  };
  const accepted = await out.progress(`verifying the new key with ${provider.vendor}, then storing it`, () =>
    acceptKey(
      {
        store: connection.store,
        pinned: connection.pinned,
        records: connection.records,
        publisher: connection.publisher,
        http: connection.http,
        now: connection.now,
      },
      credential.arn,
      input,
    ),
  );
  const { tags } = await connection.credential(credential.arn);
  const revokeAfter = accepted.previousKeyId ? (tags[Tag.revokeAfter] ?? null) : null;
  const steps =
    accepted.previousKeyId && provider.manualSteps
      ? provider.manualSteps(await readCurrent(connection.store, credential)).revoke
      : [];

  if (out.json) {
    out.result({ ...accepted, revokeAfter, revokeSteps: steps });
    return 0;
  }
  out.line(
    `Accepted: key ${accepted.keyId} of ${accepted.credential} was verified by ${provider.vendor} and is AWSCURRENT.`,
  );
  if (!accepted.previousKeyId) return 0;
  if (steps.length > 0) {
    out.line(`To retire the old key "${accepted.previousKeyId}" once every consumer uses the new one:`);
    for (const [i, step] of steps.entries()) out.line(`  ${i + 1}. ${step}`);
    out.line(
      `keyturn reminds you daily after ${revokeAfter ?? "the grace period"} until ${provider.vendor} rejects it.`,
    );
  } else {
    out.line(
      `The old key ${accepted.previousKeyId} stays valid until ${revokeAfter ?? "the grace period ends"}; then the ` +
        `monitor revokes it. To kill it now: keyturn revoke ${secretId} --previous --reason <text>.`,
    );
  }
  return 0;
}
