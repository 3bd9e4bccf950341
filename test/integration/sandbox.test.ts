// `npm run sandbox` as a user runs it: a subprocess with its own moto server and simulators,
// used by the keyturn CLI through the `export` lines it prints, then stopped with Ctrl-C.
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { once } from "node:events";
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { expect, test } from "vitest";
import { EXAMPLE_CONFIG } from "#sandbox/provision.ts";
import { loadConfig } from "../../infra/config.ts";
import { runKeyturn } from "../cli/cli-sandbox.ts";

const EXPORTED = [
  "AWS_ENDPOINT_URL",
  "AWS_REGION",
  "AWS_ACCESS_KEY_ID",
  "AWS_SECRET_ACCESS_KEY",
  "KEYTURN_VENDOR_ENDPOINT",
  "KEYTURN_SANDBOX",
];

interface RunningSandbox {
  child: ChildProcessWithoutNullStreams;
  output(): string;
  /** The variables of the printed `export` lines. */
  env: Record<string, string>;
}

async function startSandbox(): Promise<RunningSandbox> {
  // The handlers' logs on, so that they are checked for key values too.
  const child = spawn(process.execPath, ["sandbox/sandbox.ts"], {
    env: { ...process.env, AWS_ENDPOINT_URL: "", POWERTOOLS_LOG_LEVEL: "INFO" },
  });
  let stdout = "";
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString("utf8");
  });
  const env = await new Promise<Record<string, string>>((resolve, reject) => {
    const exited = (code: number | null) =>
      reject(new Error(`the sandbox exited (${code}) before printing its export lines:\n${stderr}`));
    child.once("exit", exited);
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8");
      const exports = Object.fromEntries(
        [...stdout.matchAll(/^export ([A-Z_]+)=(\S+)\n/gm)].map((match) => [match[1], match[2]]),
      );
      if (EXPORTED.every((name) => name in exports)) {
        child.off("exit", exited);
        resolve(exports as Record<string, string>);
      }
    });
  });
  return { child, env, output: () => `${stdout}${stderr}` };
}

/** Ctrl-C, as a person stops it; answers the exit code. */
async function interrupt(child: ChildProcessWithoutNullStreams): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode;
  const exited = once(child, "exit");
  child.kill("SIGINT");
  const [code] = (await exited) as [number | null];
  return code;
}

test("npm run sandbox prints the exports that let the CLI list every credential of the config, and stops on Ctrl-C", async () => {
  const sandbox = await startSandbox();
  try {
    const status = await runKeyturn(["status", "--json"], { env: sandbox.env });

    expect(status.code, status.stderr).toBe(0);
    const listed = JSON.parse(status.stdout).credentials.map((c: { credential: string }) => c.credential);
    const configured = loadConfig(EXAMPLE_CONFIG).credentials.map((c) => c.secretName);
    expect([...listed].sort()).toEqual([...configured].sort());
    expect(sandbox.env).toMatchObject({
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "testing",
      AWS_SECRET_ACCESS_KEY: "testing",
      KEYTURN_SANDBOX: "1",
    });

    // No key a credential stores appears in anything the sandbox or the CLI printed.
    const secretsManager = new SecretsManagerClient({
      endpoint: sandbox.env.AWS_ENDPOINT_URL,
      region: "us-east-1",
      credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
    });
    const storedKeys: string[] = [];
    for (const name of configured) {
      const { SecretString } = await secretsManager.send(
        new GetSecretValueCommand({ SecretId: name, VersionStage: "AWSCURRENT" }),
      );
      const value = JSON.parse(SecretString ?? "{}") as Record<string, unknown>;
      for (const field of ["token", "apiKey"])
        if (typeof value[field] === "string") storedKeys.push(value[field]);
    }
    expect(storedKeys).toHaveLength(configured.length);
    const printed = `${sandbox.output()}${status.stdout}${status.stderr}`;
    expect(storedKeys.filter((key) => printed.includes(key))).toEqual([]);

    expect(await interrupt(sandbox.child)).toBe(0);
    expect(sandbox.output()).toMatch(/sandbox stopped/);
    // moto and the vendor hub are gone with it.
    await expect(fetch(`${sandbox.env.AWS_ENDPOINT_URL}/moto-api/data.json`)).rejects.toThrow();
    await expect(fetch(sandbox.env.KEYTURN_VENDOR_ENDPOINT ?? "")).rejects.toThrow();
  } finally {
    await interrupt(sandbox.child);
  }
});
