// Revocation of Immuta tokens (a vendor that deletes, with no soft revoke and no last-use
// report): the grace period, orphans, emergency revokes. The real monitor and revoke
// handlers against moto server and the Immuta simulator.

import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { Tag } from "#engine/settings.ts";
import type { ReceivedEvent } from "#sandbox/event-subscriber.ts";
import { eventProblems } from "../support/event-schemas.ts";
import { DAY, HOUR, type ImmutaFixture, immutaFixture, MINUTE } from "../support/immuta-fixture.ts";
import { type CapturedOutput, captureOutput, describeError, findLeaks } from "../support/leak-guard.ts";

let fx: ImmutaFixture;
let output: CapturedOutput;

beforeEach(async () => {
  fx = await immutaFixture({ orphanSafetyMarginMs: HOUR, reconcileIntervalMs: 0 });
  output = captureOutput();
});

afterEach(async () => {
  output.restore();
  await fx.close();
});

async function eventsOfType(detailType: string): Promise<ReceivedEvent[]> {
  const events = await fx.subscriber.drain();
  expect(events.flatMap(eventProblems)).toEqual([]);
  expect(findLeaks([JSON.stringify(events), output.text()], fx.sim.issuedValues)).toEqual([]);
  return events.filter((event) => event["detail-type"] === detailType);
}

function tokenState(keyId: string): "live" | "deleted" | "unknown" {
  const token = fx.sim.tokens().find((t) => t.tokenId === keyId);
  if (!token) return "unknown";
  return token.deleted ? "deleted" : "live";
}

describe("the grace period", () => {
  test("the previous token is revoked by the first sweep after revokeAfter, to the minute", async () => {
    const { secretId, keyId: firstKeyId } = await fx.createCredential();
    await fx.rotate(secretId);

    fx.clock.advance(DAY - MINUTE);
    const early = await fx.sweep();
    const stillLive = tokenState(firstKeyId);
    fx.clock.advance(MINUTE);
    const onTime = await fx.sweep();

    expect(early.revoked).toEqual([]);
    expect(stillLive).toBe("live");
    expect(onTime.revoked).toEqual([
      {
        credential: secretId,
        keyId: firstKeyId,
        reason: "grace-period-ended",
        strength: "hard",
        outcome: "revoked",
      },
    ]);
    expect(tokenState(firstKeyId)).toBe("deleted");
    expect((await fx.tags(secretId))[Tag.previousState]).toBe("revoked");
    const revoked = await eventsOfType("Credential Revoked");
    expect(revoked.map((e) => e.detail)).toEqual([
      expect.objectContaining({
        keyId: firstKeyId,
        reason: "grace-period-ended",
        severity: "info",
        outcome: "revoked",
      }),
    ]);
  });

  test("the next rotation's previous token gets its own grace period, not an orphan's fate", async () => {
    const { secretId } = await fx.createCredential();
    await fx.rotate(secretId);
    fx.clock.advance(DAY);
    await fx.sweep();
    await fx.rotate(secretId);
    const secondPrevious = (await fx.tags(secretId))[Tag.previousKeyId];

    fx.clock.advance(DAY - MINUTE);
    const early = await fx.sweep();
    fx.clock.advance(MINUTE);
    const onTime = await fx.sweep();

    expect(early.revoked).toEqual([]);
    expect(onTime.revoked).toEqual([
      expect.objectContaining({ keyId: secondPrevious, reason: "grace-period-ended", outcome: "revoked" }),
    ]);
  });

  test("a second rotation inside the grace period revokes the first previous token at once (superseded)", async () => {
    const { secretId, keyId: firstKeyId } = await fx.createCredential();
    await fx.rotate(secretId);
    const second = await fx.current(secretId);

    await fx.rotate(secretId);

    expect(tokenState(firstKeyId)).toBe("deleted");
    expect(tokenState(second.keyId)).toBe("live");
    expect((await fx.tags(secretId))[Tag.previousKeyId]).toBe(second.keyId);
    expect(await fx.invariantViolations([secretId], { rotationFinished: true })).toEqual([]);
    const revoked = await eventsOfType("Credential Revoked");
    expect(revoked.map((e) => [e.detail.keyId, e.detail.reason])).toEqual([[firstKeyId, "superseded"]]);
  });

  test("a revoked previous token is not revoked again by later sweeps", async () => {
    const { secretId } = await fx.createCredential();
    await fx.rotate(secretId);
    fx.clock.advance(DAY);
    await fx.sweep();
    fx.sim.resetRequests();

    const later = await fx.sweep();

    expect(later.revoked).toEqual([]);
    expect(fx.sim.requests.filter((r) => r.method === "DELETE")).toEqual([]);
  });

  test("the current token is never revoked, even when the tags name it as the previous one", async () => {
    const { secretId, keyId: first } = await fx.createCredential();
    await fx.rotate(secretId);
    const current = await fx.current(secretId);
    await fx.store.tag(secretId, { [Tag.previousKeyId]: current.keyId });
    fx.clock.advance(2 * DAY);

    const report = await fx.sweep();

    // keyturn's records name the previous key, not the tags: the first token goes, the current stays.
    expect(report.revoked.map((revocation) => revocation.keyId)).toEqual([first]);
    expect(tokenState(current.keyId)).toBe("live");
  });

  test("a previous token made current again by hand (a rollback) is not revoked when its grace period ends", async () => {
    const { secretId, keyId: first } = await fx.createCredential();
    await fx.rotate(secretId);
    const versions = await fx.store.describe(secretId);
    const [firstVersion] =
      Object.entries(versions.versions).find(([, stages]) => stages.includes("AWSPREVIOUS")) ?? [];
    const [secondVersion] =
      Object.entries(versions.versions).find(([, stages]) => stages.includes("AWSCURRENT")) ?? [];
    expect(firstVersion && secondVersion).toBeTruthy();
    // A person restores the first version (UpdateSecretVersionStage); the tags still mirror the second key.
    await fx.store.moveStage(secretId, "AWSCURRENT", String(firstVersion), String(secondVersion));
    fx.clock.advance(2 * DAY);

    const report = await fx.sweep();

    expect(report.revoked.map((revocation) => revocation.keyId)).not.toContain(first);
    expect(tokenState(first)).toBe("live");
  });

  test("a previous token already deleted by hand is recorded as already gone", async () => {
    const { secretId, keyId: firstKeyId, token: firstToken } = await fx.createCredential();
    await fx.rotate(secretId);
    await fetch(`${fx.sim.baseUrl("na")}/api/auth/tokens/${firstKeyId}`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${firstToken}` },
    });
    fx.clock.advance(DAY);

    const report = await fx.sweep();

    expect(report.revoked).toEqual([expect.objectContaining({ keyId: firstKeyId, outcome: "already-gone" })]);
    expect((await fx.tags(secretId))[Tag.previousState]).toBe("revoked");
    expect(report.failures).toEqual([]);
  });

  test("a sweep with nothing due reads no secret value and calls no vendor", async () => {
    const { secretId } = await fx.createCredential();
    await fx.rotate(secretId);
    await fx.sweep(); // reconciles once
    const quiet = await immutaFixture({ reconcileIntervalMs: DAY });
    try {
      const { secretId: other } = await quiet.createCredential();
      await quiet.rotate(other);
      await quiet.sweep();
      quiet.sim.resetRequests();
      let valueReads = 0;
      quiet.aws.secretsManager.middlewareStack.add(
        (next, context) => async (args) => {
          if (context.commandName === "GetSecretValueCommand") valueReads++;
          return next(args);
        },
        { step: "initialize" },
      );

      quiet.clock.advance(HOUR);
      const report = await quiet.sweep();

      expect(report.revoked).toEqual([]);
      expect(valueReads).toBe(0);
      expect(quiet.sim.requests).toEqual([]);
    } finally {
      await quiet.close();
    }
  });
});

describe("orphans", () => {
  test("a token minted by a rotation that never stored it is revoked once older than the safety margin", async () => {
    const { secretId } = await fx.createCredential();
    // What a rotation whose Lambda died between minting and storing leaves behind: a live
    // token with the rotation's marker that no secret version holds.
    const abandoned = { token: "7d0c1f7e-5a1b-4c2d-9e3f-000000000001", succeeded: false };
    fx.sim.seedToken("na", fx.userId, { description: `keyturn:${secretId}:${abandoned.token}` });
    const orphan = fx.sim.tokens().find((t) => t.description === `keyturn:${secretId}:${abandoned.token}`);

    const tooYoung = await fx.sweep();
    fx.clock.advance(HOUR);
    const due = await fx.sweep();

    expect(abandoned.succeeded).toBe(false);
    expect(orphan?.deleted).toBe(false);
    expect(tooYoung.revoked).toEqual([]);
    expect(due.revoked).toEqual([
      {
        credential: secretId,
        keyId: orphan?.tokenId,
        reason: "orphan",
        strength: "hard",
        outcome: "revoked",
      },
    ]);
    expect(await fx.invariantViolations([secretId])).toEqual([]);
    const revoked = await eventsOfType("Credential Revoked");
    expect(revoked.map((e) => e.detail)).toEqual([
      expect.objectContaining({ reason: "orphan", severity: "warning" }),
    ]);
  });

  test("a rotation whose mint answer was lost revokes the token it could not store, at once", async () => {
    const { secretId } = await fx.createCredential();
    fx.sim.faults.add({
      method: "POST",
      path: "/marketplace/api/auth/tokens",
      phase: "after",
      fault: { kind: "drop" },
    });

    const failed = await fx.rotate(secretId, { maxAttempts: 1 });

    const minted = fx.sim.tokens().filter((t) => t.description === `keyturn:${secretId}:${failed.token}`);
    expect(failed.succeeded).toBe(false);
    expect(minted.map((t) => t.deleted)).toEqual([true]);
  });

  test("the current, previous and pending tokens are never taken for orphans", async () => {
    const { secretId } = await fx.createCredential();
    await fx.rotate(secretId);
    await fx.invoke({
      Step: "createSecret",
      SecretId: secretId,
      ClientRequestToken: "11111111-2222-4333-8444-555555555555",
    });
    fx.clock.advance(2 * HOUR);

    const report = await fx.sweep();

    expect(report.revoked.filter((r) => r.reason === "orphan")).toEqual([]);
    expect(fx.sim.liveTokens().filter((t) => t.description.startsWith("keyturn:"))).toHaveLength(2);
  });

  test("reconciliation waits for its interval", async () => {
    const slow = await immutaFixture({ orphanSafetyMarginMs: 0, reconcileIntervalMs: 6 * HOUR });
    try {
      const { secretId } = await slow.createCredential();
      await slow.sweep(); // reconciles now, nothing to find
      slow.sim.seedToken("na", slow.userId, { description: `keyturn:${secretId}:crashed-rotation` });

      slow.clock.advance(HOUR);
      const before = await slow.sweep();
      slow.clock.advance(5 * HOUR);
      const after = await slow.sweep();

      expect(before.revoked).toEqual([]);
      expect(after.revoked.map((r) => r.reason)).toEqual(["orphan"]);
    } finally {
      await slow.close();
    }
  });
});

describe("emergency revoke", () => {
  test("revoking the current token rotates first, then kills the compromised token at once", async () => {
    const { secretId, keyId: leakedKeyId } = await fx.createCredential();

    const outcome = await fx.revoke({
      credential: secretId,
      keyId: leakedKeyId,
      reason: "found in a public repository",
    });

    const current = await fx.current(secretId);
    expect(outcome).toEqual({
      credential: secretId,
      keyId: leakedKeyId,
      target: "current",
      rotated: true,
      revocation: "revoked",
    });
    expect(current.keyId).not.toBe(leakedKeyId);
    expect(fx.sim.isLive(current.token)).toBe(true);
    expect(tokenState(leakedKeyId)).toBe("deleted");
    expect((await fx.tags(secretId))[Tag.previousState]).toBe("revoked");
    const revoked = await eventsOfType("Credential Revoked");
    expect(revoked.map((e) => e.detail)).toEqual([
      expect.objectContaining({ keyId: leakedKeyId, reason: "compromised", strength: "hard" }),
    ]);
  });

  test("revoking the current token during the previous one's grace period leaves only the new token live", async () => {
    const { secretId, keyId: originalKeyId } = await fx.createCredential();
    await fx.rotate(secretId);
    const leaked = await fx.current(secretId);

    await fx.revoke({ credential: secretId, keyId: leaked.keyId, reason: "leaked right after a rotation" });

    const current = await fx.current(secretId);
    expect(tokenState(originalKeyId)).toBe("deleted");
    expect(tokenState(leaked.keyId)).toBe("deleted");
    expect(fx.sim.liveTokens().map((t) => t.tokenId)).toEqual([current.keyId]);
    const revoked = await eventsOfType("Credential Revoked");
    expect(revoked.map((e) => e.detail.reason).sort()).toEqual(["compromised", "superseded"]);
  });

  test("a Revoke Requested event on the bus is accepted as the request", async () => {
    const { secretId, keyId: leakedKeyId } = await fx.createCredential();

    await fx.revoke({
      "detail-type": "Revoke Requested",
      source: "leak-scanner",
      detail: { credential: secretId, keyId: leakedKeyId, reason: "secret scanner hit" },
    });

    expect(tokenState(leakedKeyId)).toBe("deleted");
  });

  test("revoking the previous token revokes it without rotating", async () => {
    const { secretId, keyId: firstKeyId } = await fx.createCredential();
    await fx.rotate(secretId);
    const current = await fx.current(secretId);

    const outcome = await fx.revoke({ credential: secretId, keyId: firstKeyId, reason: "old laptop stolen" });

    expect(outcome).toMatchObject({ keyId: firstKeyId, rotated: false, revocation: "revoked" });
    expect(tokenState(firstKeyId)).toBe("deleted");
    expect((await fx.current(secretId)).keyId).toBe(current.keyId);
    const later = await fx.sweep();
    expect(later.revoked).toEqual([]);
  });

  test("when the rotation fails the compromised token is revoked anyway and a critical event says so", async () => {
    const { secretId, keyId: leakedKeyId } = await fx.createCredential();
    fx.sim.faults.add({
      method: "POST",
      path: "/marketplace/api/auth/tokens",
      times: Number.POSITIVE_INFINITY,
      fault: { kind: "status", status: 503 },
    });

    const outcome = await fx.revoke({ credential: secretId, keyId: leakedKeyId, reason: "posted in a chat" });

    expect(outcome).toMatchObject({ keyId: leakedKeyId, rotated: false, revocation: "revoked" });
    expect(tokenState(leakedKeyId)).toBe("deleted");
    const events = await fx.subscriber.drain();
    expect(events.flatMap(eventProblems)).toEqual([]);
    const emergency = events.filter((e) => e.detail.step === "emergency");
    expect(emergency.map((e) => e.detail)).toEqual([
      expect.objectContaining({
        severity: "critical",
        error: expect.objectContaining({ message: expect.stringMatching(/without a working key/) }),
      }),
    ]);
    expect(events.filter((e) => e.detail.reason === "compromised")).toHaveLength(1);
  });

  test("a request for an unknown credential fails with a clear error and changes nothing", async () => {
    await fx.createCredential();

    const failure = await fx
      .revoke({ credential: "immuta/does-not-exist", keyId: "k", reason: "typo" })
      .catch((e: unknown) => e);

    expect(describeError(failure)).toMatch(/does-not-exist|ResourceNotFound/);
    expect(fx.sim.tokens().filter((t) => t.deleted)).toEqual([]);
  });

  test("a malformed request names what is missing", async () => {
    const failure = await fx.revoke({ credential: "x" }).catch((e: unknown) => e);

    expect(failure).toMatchObject({
      name: "InvalidRevokeRequestError",
      message: expect.stringMatching(/reason/),
    });
  });
});
