// The Immuta rotation end to end: the real rotate handler against moto server (Secrets
// Manager, EventBridge, SQS) and the Immuta simulator over HTTP. A test driver plays
// Secrets Manager (moto does not run rotation Lambdas).

import { PutSecretValueCommand } from "@aws-sdk/client-secrets-manager";
import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { Tag } from "#engine/settings.ts";
import type { ReceivedEvent } from "#sandbox/event-subscriber.ts";
import type { Fault } from "#sandbox/simulators/faults.ts";
import { eventProblems } from "../support/event-schemas.ts";
import { type ImmutaFixture, immutaFixture } from "../support/immuta-fixture.ts";
import { type CapturedOutput, captureOutput, describeError, findLeaks } from "../support/leak-guard.ts";

const DAY = 86_400_000;

let fx: ImmutaFixture;
let output: CapturedOutput;

beforeEach(async () => {
  fx = await immutaFixture();
  output = captureOutput();
});

afterEach(async () => {
  output.restore();
  await fx.close();
});

/** Drains the subscriber and checks every event against its schema. */
async function receivedEvents(): Promise<ReceivedEvent[]> {
  const events = await fx.subscriber.drain();
  expect(events.flatMap(eventProblems)).toEqual([]);
  return events;
}

function countByType(events: ReceivedEvent[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const event of events) counts[event["detail-type"]] = (counts[event["detail-type"]] ?? 0) + 1;
  return counts;
}

/** No secret value the simulator ever handed out shows up in logs, events or errors. */
function expectNoLeaks(events: ReceivedEvent[], errors: unknown[] = []) {
  const texts = [output.text(), JSON.stringify(events), ...errors.map(describeError)];
  expect(findLeaks(texts, fx.sim.issuedValues)).toEqual([]);
}

/**
 * Makes the next call of one Secrets Manager command fail, before it is sent or after it took
 * effect (the answer lost). Stands in for the Lambda dying or AWS throttling mid-step: moto
 * cannot kill our process or throttle on demand, so the SDK call is cut in a middleware.
 */
function failAwsCall(command: string, phase: "before" | "after") {
  let armed = true;
  fx.aws.secretsManager.middlewareStack.add(
    (next, context) => async (args) => {
      if (!armed || context.commandName !== command) return next(args);
      armed = false;
      if (phase === "after") await next(args);
      throw Object.assign(new Error(`injected failure ${phase} ${command}`), { name: "ThrottlingException" });
    },
    { step: "initialize" },
  );
}

describe("a self-issued rotation", () => {
  test("makes a newly minted token current and records the old one for revocation", async () => {
    const { secretId, keyId: firstKeyId } = await fx.createCredential();

    const rotation = await fx.rotate(secretId);

    expect(rotation).toMatchObject({ succeeded: true, attempts: 1 });
    const current = await fx.current(secretId);
    expect(current.keyId).not.toBe(firstKeyId);
    expect(current.previous).toEqual({
      keyId: firstKeyId,
      revokeAfter: new Date(fx.clock.now() + DAY).toISOString(),
      // The version it replaced: finishSecret moves AWSCURRENT only while that is still current.
      versionId: expect.any(String),
    });
    expect(current.expiresAt).toBe(new Date(fx.clock.now() + 90 * DAY).toISOString());
    expect(fx.sim.tokens().find((t) => t.tokenId === current.keyId)?.description).toBe(
      `keyturn:${secretId}:${rotation.token}`,
    );
    expect(await fx.invariantViolations([secretId], { rotationFinished: true })).toEqual([]);
    const events = await receivedEvents();
    expect(countByType(events)).toEqual({ "Credential Rotated": 1 });
    expect(output.text()).toContain('"step":"finishSecret"');
    expect(events[0]?.detail).toMatchObject({
      credential: secretId,
      provider: "immuta-request",
      keyId: current.keyId,
      previousKeyId: firstKeyId,
      revokeAfter: new Date(fx.clock.now() + DAY).toISOString(),
    });
    expectNoLeaks(events);
  });

  test("keeps the old token valid through its grace period", async () => {
    const { secretId, token: firstToken } = await fx.createCredential();

    await fx.rotate(secretId);

    expect(fx.sim.isLive(firstToken)).toBe(true);
  });

  test("mirrors the key id, expiry and revocation time into tags", async () => {
    const { secretId, keyId: firstKeyId } = await fx.createCredential({ tags: { [Tag.gracePeriod]: "2h" } });

    await fx.rotate(secretId);

    const { tags } = await new (await import("#aws/secret-store.ts")).SecretStore(
      fx.aws.secretsManager,
    ).describe(secretId);
    const current = await fx.current(secretId);
    expect(tags).toMatchObject({
      [Tag.keyId]: current.keyId,
      [Tag.previousKeyId]: firstKeyId,
      [Tag.revokeAfter]: new Date(fx.clock.now() + 2 * 3_600_000).toISOString(),
      [Tag.expiresAt]: current.expiresAt,
    });
  });

  test("rotates again from the key the previous rotation made current", async () => {
    const { secretId } = await fx.createCredential();

    await fx.rotate(secretId);
    const afterFirst = await fx.current(secretId);
    await fx.rotate(secretId);
    const afterSecond = await fx.current(secretId);

    expect(afterSecond.previous).toMatchObject({ keyId: afterFirst.keyId });
    // The first rotation's previous key was still in its grace period: superseded, so revoked.
    expect(countByType(await receivedEvents())).toEqual({ "Credential Rotated": 2, "Credential Revoked": 1 });
  });

  test("honours a key lifetime of none by minting a token without expiry", async () => {
    const { secretId } = await fx.createCredential({ tags: { [Tag.keyLifetime]: "none" } });

    await fx.rotate(secretId);

    const current = await fx.current(secretId);
    expect(current.expiresAt).toBeNull();
    expect(fx.sim.tokens().find((t) => t.tokenId === current.keyId)?.expirationDate).toBeUndefined();
  });
});

describe("a rotation issued by a separate issuer credential", () => {
  test("mints with the issuer's token and leaves the issuer unchanged", async () => {
    const issuer = await fx.createCredential({ name: "immuta/na-issuer" });
    const { secretId, keyId: firstKeyId } = await fx.createCredential({ issuer: issuer.secretId });
    fx.sim.resetRequests();

    const rotation = await fx.rotate(secretId);

    expect(rotation.succeeded).toBe(true);
    expect((await fx.current(secretId)).previous).toMatchObject({ keyId: firstKeyId });
    expect((await fx.current(issuer.secretId)).keyId).toBe(issuer.keyId);
    expect(await fx.invariantViolations([secretId, issuer.secretId], { rotationFinished: true })).toEqual([]);
  });

  test("fails with a message naming the issuer when it does not exist", async () => {
    const { secretId } = await fx.createCredential({ issuer: "immuta/missing-issuer" });

    const rotation = await fx.rotate(secretId, { maxAttempts: 1 });

    expect(rotation.succeeded).toBe(false);
    expect(String(rotation.failures[0]?.error)).toMatch(/immuta\/missing-issuer/);
  });
});

describe("each rotation step run twice", () => {
  test("mints one token, stores one version and publishes one event", async () => {
    const { secretId } = await fx.createCredential();
    const token = "5f2b1c3e-0000-4000-8000-000000000001";

    for (const Step of [
      "createSecret",
      "createSecret",
      "setSecret",
      "setSecret",
      "testSecret",
      "testSecret",
    ] as const) {
      await fx.invoke({ Step, SecretId: secretId, ClientRequestToken: token });
    }
    await fx.invoke({ Step: "finishSecret", SecretId: secretId, ClientRequestToken: token });
    await fx.invoke({ Step: "finishSecret", SecretId: secretId, ClientRequestToken: token });
    await fx.invoke({ Step: "createSecret", SecretId: secretId, ClientRequestToken: token });

    expect(fx.sim.tokens().filter((t) => t.description.startsWith("keyturn:"))).toHaveLength(1);
    expect(Object.keys(await fx.stages(secretId))).toHaveLength(2);
    expect(countByType(await receivedEvents())).toEqual({ "Credential Rotated": 1 });
    expect(await fx.invariantViolations([secretId], { rotationFinished: true })).toEqual([]);
  });
});

describe("a crash between minting and storing", () => {
  test("revokes the lost token and mints again when the vendor's answer was lost", async () => {
    const { secretId } = await fx.createCredential();
    fx.sim.faults.add({
      method: "POST",
      path: "/marketplace/api/auth/tokens",
      phase: "after",
      fault: { kind: "drop" },
    });

    const rotation = await fx.rotate(secretId);

    expect(rotation).toMatchObject({ succeeded: true, attempts: 2 });
    expect(rotation.failures[0]?.step).toBe("createSecret");
    const minted = fx.sim.tokens().filter((t) => t.description === `keyturn:${secretId}:${rotation.token}`);
    expect(minted.map((t) => t.deleted)).toEqual([true, false]);
    expect(await fx.invariantViolations([secretId], { rotationFinished: true })).toEqual([]);
    const events = await receivedEvents();
    expect(countByType(events)).toEqual({ "Credential Rotation Failed": 1, "Credential Rotated": 1 });
    expectNoLeaks(
      events,
      rotation.failures.map((f) => f.error),
    );
  });

  test("revokes the lost token when storing it in Secrets Manager failed", async () => {
    const { secretId } = await fx.createCredential();
    failAwsCall("PutSecretValueCommand", "before");

    const rotation = await fx.rotate(secretId);

    expect(rotation).toMatchObject({ succeeded: true, attempts: 2 });
    const minted = fx.sim.tokens().filter((t) => t.description === `keyturn:${secretId}:${rotation.token}`);
    expect(minted.map((t) => t.deleted)).toEqual([true, false]);
    expect(await fx.invariantViolations([secretId], { rotationFinished: true })).toEqual([]);
  });
});

describe("AWS failures while finishing a rotation", () => {
  for (const command of ["UpdateSecretVersionStageCommand", "TagResourceCommand"]) {
    for (const phase of ["before", "after"] as const) {
      test(`a rotation completes when ${command} fails ${phase} taking effect`, async () => {
        const { secretId, keyId: firstKeyId } = await fx.createCredential();
        failAwsCall(command, phase);

        const rotation = await fx.rotate(secretId);

        expect(rotation).toMatchObject({ succeeded: true, attempts: 2 });
        expect(rotation.failures.map((f) => f.step)).toEqual(["finishSecret"]);
        expect((await fx.current(secretId)).previous).toMatchObject({ keyId: firstKeyId });
        expect(await fx.invariantViolations([secretId], { rotationFinished: true })).toEqual([]);
        expect(fx.sim.tokens().filter((t) => t.description.startsWith("keyturn:"))).toHaveLength(1);
        const events = await receivedEvents();
        expect(countByType(events)["Credential Rotation Failed"]).toBe(1);
        expect(countByType(events)["Credential Rotated"]).toBeGreaterThanOrEqual(1);
      });
    }
  }
});

describe("vendor failures during a rotation", () => {
  const calls = [
    { step: "createSecret", method: "GET", path: "/marketplace/api/auth/tokens", what: "listing tokens" },
    { step: "createSecret", method: "POST", path: "/marketplace/api/auth/tokens", what: "minting" },
    { step: "testSecret", method: "GET", path: "/marketplace/api/auth/user", what: "verifying" },
  ] as const;
  const faults: { name: string; fault: Fault }[] = [
    { name: "429 with Retry-After", fault: { kind: "status", status: 429, retryAfter: "1" } },
    { name: "500", fault: { kind: "status", status: 500 } },
    { name: "a timeout", fault: { kind: "delay", ms: 1_500 } },
  ];

  for (const call of calls) {
    for (const { name, fault } of faults) {
      test(`a rotation survives ${name} while ${call.what} (${call.step})`, async () => {
        const { secretId, keyId: firstKeyId } = await fx.createCredential();
        fx.sim.faults.add({ method: call.method, path: call.path, fault });

        const rotation = await fx.rotate(secretId);

        expect(rotation.succeeded).toBe(true);
        expect((await fx.current(secretId)).previous).toMatchObject({ keyId: firstKeyId });
        expect(rotation.failures.every((f) => f.step === call.step)).toBe(true);
        expect(await fx.invariantViolations([secretId], { rotationFinished: true })).toEqual([]);
        const events = await receivedEvents();
        expect(countByType(events)["Credential Rotated"]).toBe(1);
        expect(countByType(events)["Credential Rotation Failed"] ?? 0).toBe(rotation.failures.length);
        expectNoLeaks(
          events,
          rotation.failures.map((f) => f.error),
        );
      });
    }
  }

  test("a POST that mints is not retried blindly after a 500", async () => {
    const { secretId } = await fx.createCredential();
    fx.sim.faults.add({
      method: "POST",
      path: "/marketplace/api/auth/tokens",
      fault: { kind: "status", status: 500 },
    });

    await fx
      .invoke({
        Step: "createSecret",
        SecretId: secretId,
        ClientRequestToken: "00000000-0000-4000-8000-0000000000a1",
      })
      .catch(() => undefined);

    expect(fx.sim.requests.filter((r) => r.method === "POST")).toHaveLength(1);
  });
});

describe("a rotation that fails for good (issue 15)", () => {
  test("each failed attempt is a warning, and Secrets Manager giving up is critical", async () => {
    const { secretId, keyId } = await fx.createCredential();
    // The vendor is down for the whole rotation: every attempt's mint answers 503.
    fx.sim.faults.add({
      method: "POST",
      path: "/marketplace/api/auth/tokens",
      fault: { kind: "status", status: 503 },
      times: 1_000,
    });

    const rotation = await fx.rotate(secretId);

    expect(rotation).toMatchObject({ succeeded: false, attempts: 3 });
    expect((await fx.current(secretId)).keyId).toBe(keyId);
    const events = await receivedEvents();
    expect(events.map((e) => [e.detail.step, e.detail.severity])).toEqual([
      ["createSecret", "warning"],
      ["createSecret", "warning"],
      ["createSecret", "warning"],
      ["secretsmanager", "critical"],
    ]);
  });
});

describe("a credential that cannot be rotated", () => {
  test("says wrong region when the token authenticates in another region", async () => {
    // A credential configured for region "eu", handed a token of region "na".
    const { token, keyId } = await fx.createCredential({ region: "na" });
    const secretId = "immuta/eu-misplaced";
    await fx.createSecret(
      secretId,
      { provider: "immuta-request", region: "eu", token, keyId },
      { [Tag.provider]: "immuta-request", [Tag.credential]: secretId },
    );

    const rotation = await fx.rotate(secretId, { maxAttempts: 1 });

    expect(rotation.succeeded).toBe(false);
    const error = rotation.failures[0]?.error as Error & { credential: string };
    expect(error.name).toBe("CredentialRejectedError");
    expect(error.credential).toBe(secretId);
    expect(error.message).toMatch(/wrong region\?/);
    expect(error.message).toMatch(/authenticates in region "na"/);
    expect((await fx.current(secretId)).region).toBe("eu");
    expect(fx.sim.tokens().filter((t) => t.description.startsWith("keyturn:"))).toEqual([]);
    const events = await receivedEvents();
    expect(events.map((e) => e.detail)).toEqual([
      expect.objectContaining({
        severity: "critical",
        step: "createSecret",
        error: expect.objectContaining({ name: "CredentialRejectedError" }),
      }),
      // Secrets Manager gave up (its RotationFailed, relayed): the rotation failed for good.
      expect.objectContaining({ severity: "critical", step: "secretsmanager" }),
    ]);
    expectNoLeaks(events, [error]);
  });

  test.each([
    { case: "not JSON", value: "token=imm_secret_value_not_json_1234567890", field: /not JSON/ },
    {
      case: "a token of the wrong type",
      value: '{"provider":"immuta-request","region":"na","token":12345678901234567890,"keyId":"k"}',
      field: /"token" must be/,
    },
    {
      case: "no token",
      value: '{"provider":"immuta-request","region":"na","keyId":"k"}',
      field: /"token" is missing/,
    },
    {
      case: "an unknown region",
      value: '{"provider":"immuta-request","region":"us","token":"imm_secret_value_1234567890","keyId":"k"}',
      field: /"region" must be/,
    },
  ])("rejects a secret value with $case, naming the credential and the field", async ({ value, field }) => {
    const { secretId } = await fx.createCredential({ rawValue: value });

    const rotation = await fx.rotate(secretId, { maxAttempts: 1 });

    const error = rotation.failures[0]?.error as Error & { credential: string };
    expect(error.name).toBe("InvalidSecretError");
    expect(error.credential).toBe(secretId);
    expect(error.message).toMatch(field);
    expect(describeError(error)).not.toContain("imm_secret_value");
    expect(Object.values(await fx.stages(secretId))).toEqual([["AWSCURRENT"]]);
    const events = await receivedEvents();
    // The step's failure, then Secrets Manager's RotationFailed once it gave up (relayed).
    expect(countByType(events)).toEqual({ "Credential Rotation Failed": 2 });
    expect(JSON.stringify(events)).not.toContain("imm_secret_value");
  });

  test("reports an expired current token that cannot mint its successor", async () => {
    const { secretId, keyId } = await fx.createCredential({ tokenExpiresInMs: DAY });
    fx.clock.advance(2 * DAY);

    const rotation = await fx.rotate(secretId);

    expect(rotation.succeeded).toBe(false);
    const error = rotation.failures[0]?.error as Error;
    expect(error.name).toBe("CredentialRejectedError");
    expect(error.message).toMatch(/expired at/);
    expect((await fx.current(secretId)).keyId).toBe(keyId);
    expect(Object.values(await fx.stages(secretId))).toEqual([["AWSCURRENT"]]);
    expectNoLeaks(
      await receivedEvents(),
      rotation.failures.map((f) => f.error),
    );
  });
});

describe("a credential the stack created with its settings only", () => {
  const settingsOnly = JSON.stringify({ provider: "immuta-request", region: "na" });

  test("passes Secrets Manager's configuration test (testSecret on a copy of the value)", async () => {
    const { secretId } = await fx.createCredential({ rawValue: settingsOnly });
    const token = "c0ffee00-0000-4000-8000-000000000001";
    await fx.aws.secretsManager.send(
      new PutSecretValueCommand({
        SecretId: secretId,
        ClientRequestToken: token,
        SecretString: settingsOnly,
        VersionStages: ["AWSPENDING"],
      }),
    );

    await expect(
      fx.invoke({ Step: "testSecret", SecretId: secretId, ClientRequestToken: token }),
    ).resolves.toBeUndefined();
  });

  test("a rotation says to store the first key with keyturn put, and the monitor waits quietly", async () => {
    const { secretId } = await fx.createCredential({ rawValue: settingsOnly });

    const rotation = await fx.rotate(secretId, { maxAttempts: 1 });
    const sweep = await fx.sweep();

    expect(rotation.failures[0]?.error).toMatchObject({
      name: "AwaitingFirstKeyError",
      message: expect.stringContaining(`keyturn put ${secretId}`),
    });
    expect(sweep.failures).toEqual([]);
  });
});
