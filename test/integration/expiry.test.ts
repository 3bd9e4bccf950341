// The monitor's expiry watch and stuck-rotation check, with an injected clock, against moto
// server and the Immuta simulator.

import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { Tag } from "#engine/settings.ts";
import type { ReceivedEvent } from "#sandbox/event-subscriber.ts";
import { eventProblems } from "../support/event-schemas.ts";
import { DAY, HOUR, type ImmutaFixture, immutaFixture } from "../support/immuta-fixture.ts";
import { type CapturedOutput, captureOutput, findLeaks } from "../support/leak-guard.ts";

let fx: ImmutaFixture;
let output: CapturedOutput;

beforeEach(async () => {
  fx = await immutaFixture({ orphanSafetyMarginMs: HOUR, reconcileIntervalMs: 0, stuckAfterMs: 6 * HOUR });
  output = captureOutput();
});

afterEach(async () => {
  output.restore();
  await fx.close();
});

async function received(): Promise<ReceivedEvent[]> {
  const events = await fx.subscriber.drain();
  expect(events.flatMap(eventProblems)).toEqual([]);
  expect(findLeaks([JSON.stringify(events), output.text()], fx.sim.issuedValues)).toEqual([]);
  return events;
}

describe("expiry notices", () => {
  test("each threshold is announced once and the expiry once, however often the monitor sweeps", async () => {
    const { secretId, keyId } = await fx.createCredential({ tokenExpiresInMs: 40 * DAY });
    // Immuta is refusing new tokens all month: the early rotations fail, so the key stays.
    fx.sim.faults.add({
      method: "POST",
      path: "/marketplace/api/auth/tokens",
      times: Number.POSITIVE_INFINITY,
      fault: { kind: "status", status: 503 },
    });

    for (let hour = 0; hour <= 42 * 24; hour += 6) {
      await fx.sweep();
      fx.clock.advance(6 * HOUR);
    }

    const events = await received();
    const notices = events
      .filter((e) => e["detail-type"] === "Credential Expiring" || e["detail-type"] === "Credential Expired")
      .map((e) => [e["detail-type"], e.detail.threshold ?? "-", e.detail.severity, e.detail.keyId]);
    expect(notices).toEqual([
      ["Credential Expiring", "30d", "info", keyId],
      ["Credential Expiring", "7d", "warning", keyId],
      ["Credential Expiring", "1d", "critical", keyId],
      ["Credential Expired", "-", "critical", keyId],
    ]);
    expect((await fx.tags(secretId))[Tag.expiryNotice]).toBe(`${keyId}@expired`);
  });

  test("a credential first seen with little time left gets only the nearest threshold", async () => {
    const { keyId } = await fx.createCredential({
      tokenExpiresInMs: 5 * DAY,
      tags: { [Tag.keyLifetime]: "90d" },
    });
    fx.sim.faults.add({
      method: "POST",
      path: "/marketplace/api/auth/tokens",
      times: 10,
      fault: { kind: "status", status: 503 },
    });

    await fx.sweep();

    const expiring = (await received()).filter((e) => e["detail-type"] === "Credential Expiring");
    expect(expiring.map((e) => [e.detail.threshold, e.detail.daysLeft, e.detail.keyId])).toEqual([
      ["7d", 5, keyId],
    ]);
  });

  test("custom thresholds from the credential's tag are honoured", async () => {
    await fx.createCredential({ tokenExpiresInMs: 50 * DAY, tags: { [Tag.expiryThresholds]: "60d,14d" } });
    fx.sim.faults.add({
      method: "POST",
      path: "/marketplace/api/auth/tokens",
      times: 10,
      fault: { kind: "status", status: 503 },
    });

    await fx.sweep();

    const expiring = (await received()).filter((e) => e["detail-type"] === "Credential Expiring");
    expect(expiring.map((e) => e.detail.threshold)).toEqual(["60d"]);
  });

  test("an automatic credential expiring before its next rotation is rotated early, and says so", async () => {
    const { secretId, keyId: expiringKeyId } = await fx.createCredential({ tokenExpiresInMs: 20 * DAY });

    const report = await fx.sweep();

    expect(report.rotatedEarly).toEqual([secretId]);
    const current = await fx.current(secretId);
    expect(current.keyId).not.toBe(expiringKeyId);
    expect(fx.sim.isLive(current.token)).toBe(true);
    const events = await received();
    expect(events.find((e) => e["detail-type"] === "Credential Expiring")?.detail).toMatchObject({
      keyId: expiringKeyId,
      action: "rotating-early",
      threshold: "30d",
    });
    expect(events.filter((e) => e["detail-type"] === "Credential Rotated")).toHaveLength(1);
    const later = await fx.sweep();
    expect(later.expiring).toEqual([]);
  });

  test("a credential without expiry is never announced", async () => {
    const { secretId } = await fx.createCredential({ tags: { [Tag.keyLifetime]: "none" } });
    await fx.rotate(secretId);

    fx.clock.advance(400 * DAY);
    const report = await fx.sweep();

    expect(report.expiring).toEqual([]);
    expect(report.expired).toEqual([]);
  });
});

describe("stuck rotations", () => {
  test("an AWSPENDING left behind is reported once it outlives the limit, removed, and its key revoked", async () => {
    const { secretId, keyId } = await fx.createCredential();
    const token = "0f0f0f0f-1111-4222-8333-444444444444";
    await fx.invoke({ Step: "createSecret", SecretId: secretId, ClientRequestToken: token });
    const stuckKeyId = (await fx.read(secretId, token)).keyId;

    const first = await fx.sweep();
    fx.clock.advance(6 * HOUR);
    const second = await fx.sweep();
    const third = await fx.sweep();

    expect(first.stuck).toEqual([]);
    expect(second.stuck).toEqual([{ credential: secretId, versionId: token }]);
    expect((await fx.stages(secretId))[token]).toEqual([]);
    expect(third.revoked).toEqual([expect.objectContaining({ keyId: stuckKeyId, reason: "orphan" })]);
    expect((await fx.current(secretId)).keyId).toBe(keyId);
    const failed = (await received()).filter((e) => e["detail-type"] === "Credential Rotation Failed");
    expect(failed.map((e) => [e.detail.step, e.detail.severity, e.detail.versionId])).toEqual([
      ["stuck", "critical", token],
    ]);
    expect((await fx.rotate(secretId)).succeeded).toBe(true);
  });

  test("a rotation that finishes in time is not reported", async () => {
    const { secretId } = await fx.createCredential();
    const token = "0f0f0f0f-1111-4222-8333-555555555555";
    await fx.invoke({ Step: "createSecret", SecretId: secretId, ClientRequestToken: token });
    await fx.sweep();
    for (const Step of ["setSecret", "testSecret", "finishSecret"] as const) {
      await fx.invoke({ Step, SecretId: secretId, ClientRequestToken: token });
    }

    fx.clock.advance(7 * HOUR);
    const report = await fx.sweep();

    expect(report.stuck).toEqual([]);
    expect((await fx.tags(secretId))[Tag.pendingSeen]).toBe("");
  });
});
