// `npm run demo` as a user runs it: a subprocess with its own moto server. One run (about 10 s)
// serves every test: the timeline with the handlers' INFO logs, and the summary it ends with,
// which is the object `npm run demo -- --json` prints alone.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { beforeAll, expect, test } from "vitest";
import { EXAMPLE_CONFIG } from "#sandbox/provision.ts";
import { loadConfig } from "../../infra/config.ts";

const run = promisify(execFile);
// A SoftwareOne token value: its id, then the secret. Immuta's random values have no shape to
// look for from outside the process; the in-process leak guards cover them.
const SOFTWAREONE_TOKEN = /idt:TKN-\d{4}-\d{4}:[A-Za-z0-9_-]{8,}/;

const SUMMARY = "\nsummary: ";

let stdout: string;
let stderr: string;
/** The summary the timeline ends with. */
// biome-ignore lint/suspicious/noExplicitAny: the demo's summary, read as JSON
let summary: any;

beforeAll(async () => {
  ({ stdout, stderr } = await run(process.execPath, ["sandbox/demo.ts"], {
    env: { ...process.env, AWS_ENDPOINT_URL: "", POWERTOOLS_LOG_LEVEL: "INFO" },
    timeout: 50_000,
  }));
  summary = JSON.parse(stdout.slice(stdout.lastIndexOf(SUMMARY) + SUMMARY.length));
});

test("the demo rotates, refreshes, warns and revokes for every vendor, with an emergency revoke and no failures", () => {
  const byName = Object.fromEntries(summary.credentials.map((c: { name: string }) => [c.name, c]));
  expect(summary.credentials.map((c: { name: string }) => c.name)).toEqual(
    loadConfig(EXAMPLE_CONFIG).credentials.map((c) => c.secretName),
  );
  expect(new Set(summary.credentials.map((c: { provider: string }) => c.provider))).toEqual(
    new Set(["immuta-request", "softwareone", "incorta-v1", "incorta-v2", "everflow"]),
  );
  expect(summary.failures).toBe(0);
  expect(byName["keyturn/immuta-request-app"]).toMatchObject({
    provider: "immuta-request",
    state: "healthy",
  });
  expect(byName["keyturn/immuta-request-app"].rotations).toBeGreaterThanOrEqual(2);
  expect(byName["keyturn/immuta-request-app"].revoked).toBeGreaterThanOrEqual(1);
  expect(byName["keyturn/softwareone-catalog"]).toMatchObject({ provider: "softwareone", state: "healthy" });
  expect(byName["keyturn/softwareone-catalog"].rotations).toBeGreaterThanOrEqual(1);
  expect(byName["keyturn/softwareone-catalog"].revoked).toBeGreaterThanOrEqual(1);
  expect(summary.revocations.compromised).toBeGreaterThanOrEqual(1);
  expect(byName["keyturn/incorta-analytics"]).toMatchObject({ provider: "incorta-v1", state: "healthy" });
  expect(byName["keyturn/incorta-analytics"].refreshes).toBeGreaterThanOrEqual(5);
  expect(summary.manualRotations["keyturn/everflow-partner"]).toBe(1);
  expect(summary.manualRotations["keyturn/incorta-reporting-pat"]).toBe(1);
  for (const type of ["Manual Rotation Required", "Credential Expiring", "Credential Expired"]) {
    expect(summary.events[type], type).toBeGreaterThanOrEqual(1);
  }
  expect(summary.events["Previous Credential Still In Use"]).toBeGreaterThanOrEqual(1);
});

test("the demo's SoftwareOne outage fails a scheduled rotation's attempts, which Secrets Manager's retries get through", () => {
  // Each failed attempt alerts; the rotation that then succeeds is no failure.
  expect(summary.events["Credential Rotation Failed"]).toBeGreaterThanOrEqual(1);
  expect(summary.failures).toBe(0);
  expect(
    summary.credentials.find((c: { name: string }) => c.name === "keyturn/softwareone-catalog"),
  ).toMatchObject({ state: "healthy" });
});

test("the demo counts its events by severity, and its routine weekly rotations page nobody (issue 15)", () => {
  const { info, warning, critical } = summary.severities;
  const received = Object.values(summary.events as Record<string, number>).reduce((a, b) => a + b, 0);
  expect(info + warning + critical).toBe(received);
  expect(info).toBeGreaterThan(0);
  // The catalog token's weekly rotations delete a key that was only waiting for its deletion.
  expect(summary.revocations.superseded).toBeGreaterThanOrEqual(1);
  expect(Object.keys(summary.alerts).filter((alert) => alert.includes("superseded"))).toEqual([]);
  // What warns is what should: the outage's failed attempts, keys still in use, expiry, leaks.
  expect(summary.alerts["warning Credential Rotation Failed"]).toBeGreaterThanOrEqual(1);
});

test("the demo's timeline and the handlers' logs show key ids, never a SoftwareOne token value", () => {
  expect(stdout).toMatch(/"level":"INFO"/);
  expect(stdout).toMatch(/revoked +keyturn\/softwareone-catalog key TKN-\d{4}-\d{4}/);
  expect(stdout).toMatch(/OUTAGE +SoftwareOne .* 503/);
  expect(stdout).toMatch(/rotated +keyturn\/softwareone-catalog on schedule .*\(after \d+ failed attempts\)/);
  expect(`${stdout}${stderr}`).not.toMatch(SOFTWAREONE_TOKEN);
});
