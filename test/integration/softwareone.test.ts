// SoftwareOne API tokens through their whole life: minted by an administrator credential,
// rotated (the administrator rotates itself too), disabled then deleted after the grace
// period, postponed while still in use, orphans, emergency revokes. The real handlers
// against moto server and the SoftwareOne simulator.

import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { Tag } from "#engine/settings.ts";
import type { ReceivedEvent } from "#sandbox/event-subscriber.ts";
import { eventProblems } from "../support/event-schemas.ts";
import { type CapturedOutput, captureOutput, describeError, findLeaks } from "../support/leak-guard.ts";
import {
  ADMIN,
  DAY,
  HOUR,
  MINUTE,
  type SoftwareOneFixture,
  softwareoneFixture,
} from "../support/softwareone-fixture.ts";

let fx: SoftwareOneFixture;
let output: CapturedOutput;

beforeEach(async () => {
  fx = await softwareoneFixture({ orphanSafetyMarginMs: HOUR, reconcileIntervalMs: 0 });
  output = captureOutput();
});

afterEach(async () => {
  output.restore();
  await fx.close();
});

async function received(errors: unknown[] = []): Promise<ReceivedEvent[]> {
  const events = await fx.subscriber.drain();
  expect(events.flatMap(eventProblems)).toEqual([]);
  const texts = [JSON.stringify(events), output.text(), ...errors.map(describeError)];
  expect(findLeaks(texts, fx.sim.issuedValues)).toEqual([]);
  return events;
}

describe("rotation", () => {
  test("a consumer token is minted by the administrator with the same account, name and modules", async () => {
    await fx.createAdmin();
    const { secretId, keyId: firstKeyId } = await fx.createConsumer("softwareone/catalog-sync");

    const rotation = await fx.rotate(secretId);

    expect(rotation).toMatchObject({ succeeded: true, attempts: 1 });
    const current = await fx.read(secretId);
    const minted = fx.sim.tokens().find((t) => t.id === current.keyId);
    const first = fx.sim.tokens().find((t) => t.id === firstKeyId);
    expect(minted).toMatchObject({
      name: first?.name,
      account: { id: fx.accountId },
      description: `keyturn:${secretId}:${rotation.token}`,
      status: "Active",
    });
    expect(minted?.modules.map((m) => m.id)).toEqual(first?.modules.map((m) => m.id));
    expect(current.token).toMatch(new RegExp(`^idt:${current.keyId}:`));
    expect(fx.sim.isLive(current.token)).toBe(true);
    expect(await fx.untrackedKeys([secretId, ADMIN])).toEqual([]);
    expect((await received()).map((e) => e["detail-type"])).toEqual(["Credential Rotated"]);
  });

  test("the administrator credential rotates itself and keeps issuing", async () => {
    const admin = await fx.createAdmin();
    const { secretId } = await fx.createConsumer("softwareone/billing");

    const own = await fx.rotate(ADMIN);
    const consumer = await fx.rotate(secretId);

    expect(own.succeeded).toBe(true);
    expect(consumer.succeeded).toBe(true);
    const newAdmin = await fx.read(ADMIN);
    expect(newAdmin.keyId).not.toBe(admin.keyId);
    expect(fx.sim.tokens().find((t) => t.id === newAdmin.keyId)?.admin).toBe(true);
  });

  test("a disabled issuer gives a clear error naming the credential and loses nothing", async () => {
    const admin = await fx.createAdmin();
    const { secretId, keyId } = await fx.createConsumer("softwareone/catalog-sync");
    const adminToken = (await fx.read(ADMIN)).token;
    await fetch(`${fx.sim.baseUrl}/accounts/api-tokens/${admin.keyId}/disable`, {
      method: "POST",
      headers: { authorization: `Bearer ${adminToken}` },
    });

    const rotation = await fx.rotate(secretId, { maxAttempts: 2 });

    expect(rotation.succeeded).toBe(false);
    const error = rotation.failures[0]?.error as Error & { credential: string };
    expect(error.name).toBe("CredentialRejectedError");
    expect(error.credential).toBe(secretId);
    expect(error.message).toMatch(new RegExp(secretId));
    expect((await fx.read(secretId)).keyId).toBe(keyId);
    expect(fx.status(keyId)).toBe("Active");
    expect(Object.values(await fx.stages(secretId))).toEqual([["AWSCURRENT"]]);
    expect(await fx.untrackedKeys([secretId, ADMIN])).toEqual([]);
    const failed = (await received(rotation.failures.map((f) => f.error))).filter(
      (e) => e["detail-type"] === "Credential Rotation Failed",
    );
    // Both attempts, then Secrets Manager's RotationFailed once it gave up (relayed).
    expect(failed.map((e) => [e.detail.step, e.detail.severity])).toEqual([
      ["createSecret", "critical"],
      ["createSecret", "critical"],
      ["secretsmanager", "critical"],
    ]);
  });
});

describe("revocation after the grace period", () => {
  test("the previous token is disabled at revokeAfter and deleted after the hard-revoke delay", async () => {
    await fx.createAdmin();
    const { secretId, keyId: firstKeyId } = await fx.createConsumer("softwareone/catalog-sync", {
      tags: { [Tag.gracePeriod]: "12h", [Tag.hardRevokeDelay]: "7d" },
    });
    await fx.rotate(secretId);

    fx.clock.advance(12 * HOUR - MINUTE);
    const early = await fx.sweep();
    fx.clock.advance(MINUTE);
    const soft = await fx.sweep();
    const afterSoft = fx.status(firstKeyId);
    fx.clock.advance(7 * DAY - MINUTE);
    const notYet = await fx.sweep();
    fx.clock.advance(MINUTE);
    const hard = await fx.sweep();

    expect(early.revoked).toEqual([]);
    expect(soft.revoked).toEqual([
      expect.objectContaining({ keyId: firstKeyId, strength: "soft", outcome: "revoked" }),
    ]);
    expect(afterSoft).toBe("Disabled");
    expect(notYet.revoked).toEqual([]);
    expect(hard.revoked).toEqual([
      expect.objectContaining({ keyId: firstKeyId, strength: "hard", outcome: "revoked" }),
    ]);
    expect(fx.status(firstKeyId)).toBe("Deleted");
    const revoked = (await received()).filter((e) => e["detail-type"] === "Credential Revoked");
    expect(revoked.map((e) => [e.detail.strength, e.detail.reason])).toEqual([
      ["soft", "grace-period-ended"],
      ["hard", "grace-period-ended"],
    ]);
  });

  test("a previous token still in use is postponed each sweep up to the limit, then revoked anyway", async () => {
    await fx.createAdmin();
    const { secretId, keyId: firstKeyId } = await fx.createConsumer("softwareone/catalog-sync", {
      tags: { [Tag.inUseWindow]: "1h", [Tag.inUseLimit]: "2" },
    });
    await fx.rotate(secretId);
    fx.clock.advance(DAY);

    const sweeps = [];
    for (let i = 0; i < 3; i++) {
      fx.sim.touch(firstKeyId); // a consumer that has not picked up the new token
      sweeps.push(await fx.sweep());
      fx.clock.advance(HOUR);
    }

    expect(sweeps.map((s) => s.postponed.length)).toEqual([1, 1, 0]);
    expect(sweeps[2]?.revoked).toEqual([
      expect.objectContaining({ keyId: firstKeyId, reason: "in-use-limit-reached", strength: "soft" }),
    ]);
    expect(fx.status(firstKeyId)).toBe("Disabled");
    const events = await received();
    const stillInUse = events.filter((e) => e["detail-type"] === "Previous Credential Still In Use");
    expect(stillInUse.map((e) => [e.detail.postponements, e.detail.limit])).toEqual([
      [1, 2],
      [2, 2],
    ]);
    const revoked = events.filter((e) => e["detail-type"] === "Credential Revoked");
    expect(revoked.map((e) => e.detail)).toEqual([
      expect.objectContaining({
        reason: "in-use-limit-reached",
        severity: "warning",
        lastUsedAt: expect.any(String),
      }),
    ]);
  });

  test("a previous token last used before the in-use window is revoked on time", async () => {
    await fx.createAdmin();
    const { secretId, keyId: firstKeyId } = await fx.createConsumer("softwareone/catalog-sync");
    await fx.rotate(secretId);
    fx.sim.touch(firstKeyId);
    fx.clock.advance(DAY);

    const report = await fx.sweep();

    expect(report.postponed).toEqual([]);
    expect(report.revoked).toEqual([
      expect.objectContaining({ keyId: firstKeyId, reason: "grace-period-ended" }),
    ]);
  });
});

describe("orphans", () => {
  test("an orphan beyond the first page of the account's token list is found and deleted", async () => {
    await fx.createAdmin();
    const { secretId } = await fx.createConsumer("softwareone/catalog-sync");
    for (let i = 0; i < 120; i++)
      fx.sim.seedToken(fx.accountId, { name: `someone else's token ${i}`, modules: ["MOD-1001"] });
    // A token minted by a rotation whose Lambda died before storing it.
    fx.sim.seedToken(fx.accountId, {
      name: "integration softwareone/catalog-sync",
      description: `keyturn:${secretId}:crashed-rotation`,
      modules: ["MOD-1001"],
    });
    const [orphan] = await fx.untrackedKeys([secretId, ADMIN]);
    fx.clock.advance(2 * HOUR);

    const report = await fx.sweep();

    expect(orphan).toBeDefined();
    expect(report.revoked).toEqual([
      { credential: secretId, keyId: orphan, reason: "orphan", strength: "hard", outcome: "revoked" },
    ]);
    expect(fx.status(orphan as string)).toBe("Deleted");
    expect(fx.sim.liveTokens().length).toBe(122); // the admin, the consumer and the 120 others
    expect(
      fx.sim.requests.filter((r) => r.method === "GET" && /offset=100/.test(r.query ?? "")).length,
    ).toBeGreaterThan(0);
  });
});

describe("emergency revoke", () => {
  test("a leaked consumer token is replaced and deleted at once, with no grace and no in-use wait", async () => {
    await fx.createAdmin();
    const { secretId, keyId: leakedKeyId } = await fx.createConsumer("softwareone/catalog-sync");
    fx.sim.touch(leakedKeyId);

    const outcome = await fx.revoke({
      credential: secretId,
      keyId: leakedKeyId,
      reason: "token pasted in a public issue",
    });

    expect(outcome).toMatchObject({ keyId: leakedKeyId, rotated: true, revocation: "revoked" });
    expect(fx.status(leakedKeyId)).toBe("Deleted");
    expect(fx.sim.isLive((await fx.read(secretId)).token)).toBe(true);
    const revoked = (await received()).filter((e) => e["detail-type"] === "Credential Revoked");
    expect(revoked.map((e) => e.detail)).toEqual([
      expect.objectContaining({ keyId: leakedKeyId, reason: "compromised", strength: "hard" }),
    ]);
  });
});

describe("a weekly rotation (issue 15: routine lifecycle is info)", () => {
  test("the previous key, disabled after its grace period and waiting for its deletion, is deleted by the next rotation as info", async () => {
    await fx.createAdmin();
    const { secretId, keyId: firstKeyId } = await fx.createConsumer("softwareone/catalog-sync");
    await fx.rotate(secretId);
    fx.clock.advance(DAY);
    await fx.sweep();
    expect(fx.status(firstKeyId)).toBe("Disabled");
    await received();

    fx.clock.advance(6 * DAY);
    await fx.rotate(secretId);

    expect(fx.status(firstKeyId)).toBe("Deleted");
    const revoked = (await received()).filter((e) => e["detail-type"] === "Credential Revoked");
    expect(revoked.map((e) => [e.detail.keyId, e.detail.reason, e.detail.severity])).toEqual([
      [firstKeyId, "superseded", "info"],
    ]);
  });
});
