// keyturn revoke: the emergency revoke (functions/engine/emergency.ts), run by keyturn's
// deployed revoke function against AWS (in this process in the sandbox). The CLI names the key
// once, before anything is done, so that the request is about that key only. For the current
// key: rotate now, then revoke the leaked key hard; if the rotation fails the key is revoked
// anyway and the command exits 1, because consumers are then left without a working key. A
// request held by the credential's cooldown (another emergency revoke a moment ago) did nothing
// and exits 1.

import { readCurrent } from "#engine/credentials.ts";
import { Tag } from "#engine/settings.ts";
import { UsageError } from "../args.ts";
import type { CommandRun, ExitCode } from "../command.ts";
import { describeFailure } from "../failure.ts";
import { rotationTimeoutMs } from "./timeout.ts";

export async function run({ positionals, options, out, context, connect }: CommandRun): Promise<ExitCode> {
  const [secretId = ""] = positionals;
  context.credential = secretId;
  const reason = typeof options.reason === "string" ? options.reason.trim() : "";
  if (!reason) {
    throw new UsageError(
      'revoke needs --reason <text>, e.g. --reason "token pasted in a public issue"',
      "revoke",
    );
  }
  const target = options.previous === true ? "previous" : "current";
  const timeoutMs = rotationTimeoutMs(options, "revoke");
  const connection = await connect();
  // The key is named once, before anything is done: the request then says which key it is about,
  // and repeating it changes nothing once that key is revoked.
  const credential = await connection.credential(secretId);
  const previousState = credential.tags[Tag.previousState];
  const keyId =
    target === "previous"
      ? previousState === "revoked" || previousState === "refused"
        ? undefined
        : credential.tags[Tag.previousKeyId]
      : (await readCurrent(connection.store, credential)).keyId;
  if (keyId === undefined) {
    if (out.json)
      out.result({
        credential: secretId,
        keyId: null,
        target,
        rotated: false,
        revocation: "nothing-to-revoke",
        reason,
      });
    else out.line(`Nothing to revoke: ${secretId} has no previous key that is not already revoked.`);
    return 0;
  }

  const outcome = await out.progress(
    target === "previous"
      ? `revoking the previous key of ${secretId} ${connection.revocationVia}`
      : `revoking the current key of ${secretId} ${connection.revocationVia}: rotating first`,
    () => connection.revoke({ credential: secretId, keyId, reason }, timeoutMs),
  );
  const { rotationError, ...result } = outcome;
  context.credential = outcome.credential;
  const newKeyId = outcome.rotated ? ((await connection.credential(secretId)).tags[Tag.keyId] ?? null) : null;
  const rotationFailure =
    target === "current" && !outcome.rotated && outcome.revocation !== "cooldown"
      ? describeFailure(rotationError ?? new Error("the rotation did not replace the key"), context).message
      : undefined;

  if (out.json) {
    out.result({
      ...result,
      reason,
      newKeyId,
      ...(rotationFailure ? { rotationError: rotationFailure } : {}),
    });
  } else if (outcome.revocation === "cooldown") {
    out.line(
      `Held: another emergency revoke of ${outcome.credential} holds its cooldown until ${outcome.cooldownUntil}; ` +
        `nothing was done. Ask again after that, or ask for the key already being revoked.`,
    );
  } else if (outcome.revocation === "nothing-to-revoke") {
    out.line(
      `Nothing to revoke: key ${keyId} of ${outcome.credential} is neither its current key nor a previous key ` +
        "awaiting revocation (already revoked?).",
    );
  } else {
    const gone = outcome.revocation === "already-gone" ? " (the vendor no longer knew it)" : "";
    out.line(
      `Revoked ${target} key ${outcome.keyId} of ${outcome.credential}${gone}; "Credential Revoked" published.`,
    );
    if (newKeyId) out.line(`New key ${newKeyId} is AWSCURRENT; consumers pick it up from Secrets Manager.`);
  }
  if (outcome.revocation === "cooldown") return 1;
  if (rotationFailure) {
    out.error(
      `The leaked key ${outcome.keyId} of ${outcome.credential} was revoked, but the rotation failed, so consumers are ` +
        `without a working key: mint a key at the vendor and store it with keyturn put ${secretId}. ` +
        `The rotation's failure: ${rotationFailure}`,
    );
    return 1;
  }
  return 0;
}
