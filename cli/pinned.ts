// What the CLI trusts about the credentials it acts on, as the deployed functions do
// (functions/engine/pinned.ts): the config the stack was deployed from, named by cdk.json's
// context "keyturn:config" in the working directory (the repository the operator deploys
// from). KEYTURN_PINNED_FILE names a pinned document instead; the sandbox and the CLI tests
// write one for the secrets they create. Never a secret's tags.

import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { PinnedCredentials } from "#engine/pinned.ts";
import { CONFIG_CONTEXT_KEY, loadConfig, pinnedCredential } from "../infra/config.ts";

export function loadPinned(env: Record<string, string | undefined>, cwd = process.cwd()): PinnedCredentials {
  const file = env.KEYTURN_PINNED_FILE;
  if (file) return PinnedCredentials.fromDocument(JSON.parse(readFileSync(file, "utf8")));
  const cdkJson = resolve(cwd, "cdk.json");
  if (!existsSync(cdkJson)) return new PinnedCredentials();
  const configPath = (JSON.parse(readFileSync(cdkJson, "utf8")) as { context?: Record<string, unknown> })
    .context?.[CONFIG_CONTEXT_KEY];
  if (typeof configPath !== "string") return new PinnedCredentials();
  return new PinnedCredentials(loadConfig(resolve(cwd, configPath)).credentials.map(pinnedCredential));
}
