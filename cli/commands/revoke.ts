// keyturn revoke: the emergency revoke (functions/engine/emergency.ts), run in this process.
// For the current key: rotate now (RotateSecret and wait, or in-process in the sandbox), then
// revoke the leaked key hard; if the rotation fails the key is revoked anyway and the command
// exits 1, because consumers are then left without a working key.

import { readCurrent } from "#engine/credentials.ts";
import { emergencyRevoke } from "#engine/emergency.ts";
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

  let rotationError: unknown;
  const outcome = await out.progress(
    target === "previous"
      ? `revoking the previous key of ${secretId}`
      : `revoking the current key of ${secretId}: rotating ${connection.rotationVia} first`,
    () =>
      emergencyRevoke(
        {
          store: connection.store,
          pinned: connection.pinned,
          records: connection.records,
          publisher: connection.publisher,
          http: connection.http,
          now: connection.now,
          rotate: async (id) => {
            try {
              await connection.rotate(id, timeoutMs);
            } catch (error) {
              rotationError = error;
              throw error;
            }
          },
        },
        { credential: secretId, keyId, reason },
      ),
  );
  context.credential = outcome.credential;
  const newKeyId = outcome.rotated ? ((await connection.credential(secretId)).tags[Tag.keyId] ?? null) : null;
  const rotationFailure =
    target === "current" && !outcome.rotated
      ? describeFailure(rotationError ?? new Error("the rotation did not replace the key"), context).message
      : undefined;

  if (out.json) {
    out.result({
      ...outcome,
      reason,
      newKeyId,
      ...(rotationFailure ? { rotationError: rotationFailure } : {}),
    });
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
