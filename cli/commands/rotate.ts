// keyturn rotate: a rotation now, through Secrets Manager (or in-process against the sandbox),
// waiting until the new key is AWSCURRENT.

import { Tag } from "#engine/settings.ts";
import { isAutomatic } from "#providers/types.ts";
import type { CommandRun, ExitCode } from "../command.ts";
import { CommandFailure } from "../failure.ts";
import { rotationTimeoutMs } from "./timeout.ts";

export async function run({ positionals, options, out, context, connect }: CommandRun): Promise<ExitCode> {
  const [secretId = ""] = positionals;
  context.credential = secretId;
  const timeoutMs = rotationTimeoutMs(options, "rotate");
  const connection = await connect();
  const credential = await connection.credential(secretId);
  const { settings, provider } = credential;
  context.credential = settings.credential;
  if (!isAutomatic(provider)) {
    throw new CommandFailure(
      `Credential "${settings.credential}" uses ${provider.vendor} (${provider.mode}): keyturn cannot mint its keys by API. ` +
        `Create the new key in ${provider.vendor}'s UI and hand it over with keyturn put ${secretId}.`,
    );
  }
  const before = credential.tags[Tag.keyId];
  await out.progress(`rotating ${settings.credential} ${connection.rotationVia}`, () =>
    connection.rotate(credential.name, timeoutMs),
  );
  const { tags } = await connection.credential(credential.arn);
  const result = {
    credential: settings.credential,
    keyId: tags[Tag.keyId] ?? null,
    previousKeyId: tags[Tag.previousKeyId] ?? before ?? null,
    revokeAfter: tags[Tag.revokeAfter] ?? null,
    versionId: tags[Tag.rotatedVersion] ?? null,
    via: connection.sandbox ? "sandbox" : "secrets-manager",
  };
  if (out.json) {
    out.result(result);
    return 0;
  }
  out.line(`Rotated ${settings.credential}: key ${result.keyId} is AWSCURRENT (${provider.vendor}).`);
  if (result.previousKeyId) {
    out.line(
      `The previous key ${result.previousKeyId} stays valid until ${result.revokeAfter ?? "the grace period ends"}; ` +
        "then the monitor revokes it.",
    );
  }
  return 0;
}
