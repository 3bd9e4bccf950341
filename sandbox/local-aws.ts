// Local AWS for tests and the sandbox: moto server (real AWS wire protocol, SigV4, staging
// labels, pagination) in a project-local Python venv, started on a free loopback port.
//
// One server serves a whole test run. Isolation between tests comes from moto's
// `x-moto-account-id` request header: every test gets its own random 12-digit account, so
// no test sees another's secrets, buses or queues (see test/support/aws.ts).

import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const projectRoot = join(dirname(fileURLToPath(import.meta.url)), "..");
const requirementsFile = join(projectRoot, "requirements-dev.txt");
const venvDir = join(projectRoot, ".venv");
const motoServerBin = join(venvDir, "bin", "moto_server");
const installStamp = join(venvDir, ".keyturn-requirements.sha256");

export const LOCAL_REGION = "us-east-1";
/** The refresh's lease table in moto (in AWS, CloudFormation names it). */
export const LEASE_TABLE = "keyturn-leases";

export interface LocalAws {
  /** `http://127.0.0.1:PORT`, what `AWS_ENDPOINT_URL` is set to. */
  endpoint: string;
  /** Environment that points the AWS SDK at this server with dummy credentials. */
  env: Record<string, string>;
  stop(): Promise<void>;
}

function requirementsDigest(): string {
  return createHash("sha256").update(readFileSync(requirementsFile)).digest("hex");
}

/**
 * Creates `.venv` and installs the pinned `moto[server]` the first time it is needed, and
 * again whenever requirements-dev.txt changes.
 */
export function ensureMotoInstalled(log: (line: string) => void = () => {}): string {
  const digest = requirementsDigest();
  if (
    existsSync(motoServerBin) &&
    existsSync(installStamp) &&
    readFileSync(installStamp, "utf8") === digest
  ) {
    return motoServerBin;
  }
  const python = process.env.PYTHON ?? "python3";
  log(`installing ${readFileSync(requirementsFile, "utf8").trim()} into .venv (first run only)`);
  const steps: [string, string[]][] = [
    [python, ["-m", "venv", venvDir]],
    [
      join(venvDir, "bin", "pip"),
      ["install", "--quiet", "--disable-pip-version-check", "-r", requirementsFile],
    ],
  ];
  for (const [command, args] of steps) {
    const result = spawnSync(command, args, { stdio: ["ignore", "inherit", "inherit"] });
    if (result.status !== 0) {
      throw new Error(
        `Could not install moto for local AWS: "${command} ${args.join(" ")}" exited with ${result.status ?? result.signal}. ` +
          "Check that python3 (with the venv module) is installed and that PyPI is reachable.",
      );
    }
  }
  writeFileSync(installStamp, digest);
  return motoServerBin;
}

async function freeLoopbackPort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === "object") resolve(address.port);
        else reject(new Error("no port assigned"));
      });
    });
  });
}

async function waitUntilAnswering(endpoint: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`moto server exited early with code ${child.exitCode}`);
    try {
      const response = await fetch(`${endpoint}/moto-api/data.json`);
      await response.body?.cancel();
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline)
      throw new Error(`moto server at ${endpoint} did not answer within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Starts moto server on a free loopback port and waits until it answers. A port taken
 * between choosing and binding it (another process won the race) is retried on a new port.
 */
export async function startLocalAws(options: { log?: (line: string) => void } = {}): Promise<LocalAws> {
  const bin = ensureMotoInstalled(options.log);
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freeLoopbackPort();
    const endpoint = `http://127.0.0.1:${port}`;
    const child = spawn(bin, ["-H", "127.0.0.1", "-p", String(port)], {
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env, MOTO_PORT: String(port) },
    });
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    try {
      await waitUntilAnswering(endpoint, child, 30_000);
    } catch (error) {
      child.kill("SIGKILL");
      lastError = new Error(`${(error as Error).message}\n${stderr}`);
      continue;
    }
    const env = {
      AWS_ENDPOINT_URL: endpoint,
      AWS_REGION: LOCAL_REGION,
      AWS_DEFAULT_REGION: LOCAL_REGION,
      AWS_ACCESS_KEY_ID: "testing",
      AWS_SECRET_ACCESS_KEY: "testing",
      AWS_SESSION_TOKEN: "testing",
    };
    return {
      endpoint,
      env,
      stop: async () => {
        if (child.exitCode !== null) return;
        const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 3_000);
        await exited;
        clearTimeout(timer);
      },
    };
  }
  throw lastError;
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv.includes("--install")) {
  ensureMotoInstalled(console.log);
  console.log(`moto ready: ${motoServerBin}`);
}
