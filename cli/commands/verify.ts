// keyturn verify: a dry run. The current key must authenticate at the vendor; for automatic
// providers, the key that mints this one's successors must be able to list keys there (what a
// rotation and the revocation sweep start with). Nothing is minted, revoked or stored.

import { readAuthority, readCurrent } from "#engine/credentials.ts";
import { parseMarker } from "#providers/marker.ts";
import type { CredentialValue } from "#providers/types.ts";
import { isAutomatic } from "#providers/types.ts";
import type { CommandRun, ExitCode } from "../command.ts";
import { CommandFailure, describeFailure } from "../failure.ts";

interface Check {
  check: string;
  ok: boolean;
  detail: string;
}

export async function run({ positionals, out, context, connect }: CommandRun): Promise<ExitCode> {
  const [secretId = ""] = positionals;
  context.credential = secretId;
  const connection = await connect();
  const credential = await connection.credential(secretId);
  const { settings, provider } = credential;
  const name = settings.credential;
  context.credential = name;
  const ctx = { credential: name, http: connection.http(provider.vendor), now: connection.now };
  const checks: Check[] = [];
  const failed = (check: string, error: unknown) =>
    checks.push({ check, ok: false, detail: describeFailure(error, context).message });

  let current: CredentialValue | undefined;
  try {
    current = await readCurrent(connection.store, credential);
    const value = current;
    await out.progress(`checking key ${value.keyId} with ${provider.vendor}`, () =>
      provider.verify(value, ctx),
    );
    checks.push({
      check: "current key",
      ok: true,
      detail: `key ${value.keyId} authenticates at ${provider.vendor}`,
    });
  } catch (error) {
    failed("current key", error);
  }

  if (isAutomatic(provider)) {
    const who = settings.issuer
      ? `issuer ${settings.issuer}`
      : "the key itself (it mints its own successors)";
    try {
      const authority = await readAuthority(connection.store, credential, current);
      let total = 0;
      let active = 0;
      let ours = 0;
      await out.progress(`listing keys at ${provider.vendor} as ${who}`, async () => {
        for await (const key of provider.listIssued(authority, ctx)) {
          total++;
          if (key.active) active++;
          if (key.marker && parseMarker(key.marker)?.credential === name) ours++;
        }
      });
      checks.push({
        check: "key management",
        ok: true,
        detail:
          `${who} can list keys at ${provider.vendor}: ${total} key(s), ${active} active, ` +
          `${ours} minted by keyturn for this credential`,
      });
    } catch (error) {
      failed("key management", error);
    }
  }

  const failures = checks.filter((c) => !c.ok);
  if (out.json) {
    out.result({
      credential: name,
      provider: provider.id,
      mode: provider.mode,
      ok: failures.length === 0,
      checks,
    });
  } else {
    out.line(`verify ${name} (${provider.vendor}, ${provider.mode}): a dry run, nothing minted or changed`);
    for (const c of checks) {
      out.line(`  ${c.ok ? out.paint("ok  ", "green") : out.paint("FAIL", "red")}  ${c.check}: ${c.detail}`);
    }
  }
  if (failures.length > 0) {
    throw new CommandFailure(
      `verify: ${failures.length} of ${checks.length} check(s) failed for credential "${name}" (${failures.map((f) => f.check).join(", ")})`,
    );
  }
  return 0;
}
