// Keys only a person can replace: Everflow partner keys and Incorta v2 PATs (and the Incorta
// v1 API key behind the token refresh). Reminders with the UI steps, a key handed over and
// verified before it becomes current, a bad key refused, the old key chased until revoked.
// The real monitor and acceptKey against moto server and the simulators.

import { afterEach, beforeEach, describe, expect, test } from "vitest";
import { Tag } from "#engine/settings.ts";
import type { ReceivedEvent } from "#sandbox/event-subscriber.ts";
import { ManualClock } from "#sandbox/simulators/clock.ts";
import {
  EVERFLOW_HOSTS,
  type EverflowSimulator,
  startEverflowSimulator,
} from "#sandbox/simulators/everflow.ts";
import { type IncortaSimulator, startIncortaSimulator } from "#sandbox/simulators/incorta.ts";
import { eventProblems } from "../support/event-schemas.ts";
import { type CapturedOutput, captureOutput, describeError, findLeaks } from "../support/leak-guard.ts";
import { DAY, HOUR, startWorld, TEST_START, type World } from "../support/world.ts";

const CLUSTER = "acme.cloud.incorta.com";
const PARTNER = "keyturn/everflow-partner";
const PAT = "keyturn/incorta-pat";
const V1 = "keyturn/incorta-v1";

let world: World;
let everflow: EverflowSimulator;
let incorta: IncortaSimulator;
let output: CapturedOutput;

beforeEach(async () => {
  const clock = new ManualClock(TEST_START);
  everflow = await startEverflowSimulator({ clock });
  incorta = await startIncortaSimulator({ clock });
  world = await startWorld({
    clock,
    vendors: {
      ...Object.fromEntries(EVERFLOW_HOSTS.map((host) => [host, everflow.url])),
      [CLUSTER]: incorta.url,
    },
  });
  output = captureOutput();
});

afterEach(async () => {
  output.restore();
  await world.close();
  await everflow.close();
  await incorta.close();
});

async function received(errors: unknown[] = []): Promise<ReceivedEvent[]> {
  const events = await world.subscriber.drain();
  expect(events.flatMap(eventProblems)).toEqual([]);
  const secrets = [...everflow.issuedValues, ...incorta.issuedValues];
  expect(findLeaks([output.text(), JSON.stringify(events), ...errors.map(describeError)], secrets)).toEqual(
    [],
  );
  return events;
}

const ofType = (events: ReceivedEvent[], type: string) => events.filter((e) => e["detail-type"] === type);

async function storeEverflowKey(tags: Record<string, string> = {}, issuedAt = new Date(world.clock.now())) {
  const first = everflow.createKey({ portal: "partner", name: "reporting sync" });
  await world.createSecret(
    PARTNER,
    { provider: "everflow", apiKey: first.key, keyId: "reporting sync", issuedAt: issuedAt.toISOString() },
    { [Tag.provider]: "everflow", [Tag.credential]: PARTNER, ...tags },
  );
  return first;
}

describe("a key past its maximum age", () => {
  test("gets a Manual Rotation Required with the UI steps, at most once a day", async () => {
    await storeEverflowKey({ [Tag.maxAge]: "90d" }, new Date(world.clock.now() - 91 * DAY));

    const first = await world.sweep();
    world.clock.advance(6 * HOUR);
    const sameDay = await world.sweep();
    world.clock.advance(DAY);
    const nextDay = await world.sweep();

    expect([first, sameDay, nextDay].map((r) => r.manualReminders.length)).toEqual([1, 0, 1]);
    const reminders = ofType(await received(), "Manual Rotation Required");
    expect(reminders).toHaveLength(2);
    expect(reminders[0]?.detail).toMatchObject({
      credential: PARTNER,
      reason: "max-age",
      keyId: "reporting sync",
    });
    const steps = reminders[0]?.detail.steps as { create: string[]; revoke: string[] };
    expect(steps.create.join(" ")).toMatch(/Account > API Keys/);
    expect(steps.revoke.join(" ")).toMatch(/Revoke/);
  });

  test("a key within its maximum age gets no reminder", async () => {
    await storeEverflowKey({ [Tag.maxAge]: "90d" }, new Date(world.clock.now() - 30 * DAY));

    const report = await world.sweep();

    expect(report.manualReminders).toEqual([]);
  });
});

describe("handing over a new key", () => {
  test("a key the vendor accepts becomes current; the old one is recorded for revocation", async () => {
    const first = await storeEverflowKey();
    const second = everflow.createKey({ portal: "partner", name: "reporting sync 2" });

    const accepted = await world.put(PARTNER, { apiKey: second.key, keyId: "reporting sync 2" });

    const current = await world.read(PARTNER);
    expect(accepted).toMatchObject({ keyId: "reporting sync 2", previousKeyId: "reporting sync" });
    expect(current).toMatchObject({ provider: "everflow", apiKey: second.key, keyId: "reporting sync 2" });
    expect(
      Object.values(await world.stages(PARTNER)).filter((labels) => labels.includes("AWSPENDING")),
    ).toEqual([]);
    expect(await world.tags(PARTNER)).toMatchObject({
      [Tag.keyId]: "reporting sync 2",
      [Tag.previousKeyId]: "reporting sync",
      [Tag.previousState]: "active",
    });
    expect(everflow.isLive(first.key)).toBe(true);
    expect(ofType(await received(), "Credential Rotated")).toHaveLength(1);
  });

  test("a key the vendor rejects is refused and AWSCURRENT stays as it was", async () => {
    const first = await storeEverflowKey();
    const revoked = everflow.createKey({ portal: "partner", name: "mistake" });
    everflow.revokeKey(revoked.id);

    const failure = await world
      .put(PARTNER, { apiKey: revoked.key, keyId: "mistake" })
      .catch((e: unknown) => e);

    expect(failure).toMatchObject({ name: "KeyRefusedError", credential: PARTNER });
    expect(String(failure)).toMatch(/AWSCURRENT is unchanged/);
    expect((await world.read(PARTNER)).apiKey).toBe(first.key);
    expect(
      Object.values(await world.stages(PARTNER)).filter((labels) => labels.includes("AWSPENDING")),
    ).toEqual([]);
    await received([failure]);
  });

  test("a key of the wrong Everflow portal is refused with the portal named", async () => {
    await storeEverflowKey();
    const network = everflow.createKey({ portal: "network", name: "network key" });

    const failure = await world
      .put(PARTNER, { apiKey: network.key, keyId: "network key" })
      .catch((e: unknown) => e);

    expect(failure).toMatchObject({ name: "KeyRefusedError" });
    expect(String(failure)).toMatch(/Out of realm|portal/);
    await received([failure]);
  });

  test("a value missing what the vendor needs is refused naming the field, without echoing the key", async () => {
    await storeEverflowKey();

    const failure = await world.put(PARTNER, { apiKey: "short" }).catch((e: unknown) => e);

    expect(failure).toMatchObject({ name: "InvalidSecretError", credential: PARTNER });
    expect(String(failure)).toMatch(/apiKey/);
  });
});

describe("the old key after a handover", () => {
  test("is chased daily after the grace period until the vendor rejects it, then recorded as revoked", async () => {
    const first = await storeEverflowKey({ [Tag.gracePeriod]: "24h" });
    const second = everflow.createKey({ portal: "partner", name: "reporting sync 2" });
    await world.put(PARTNER, { apiKey: second.key, keyId: "reporting sync 2" });

    const withinGrace = await world.sweep();
    world.clock.advance(DAY);
    const stillAlive = await world.sweep();
    everflow.revokeKey(first.id); // the operator revokes it in the UI
    world.clock.advance(DAY);
    const confirmed = await world.sweep();
    world.clock.advance(DAY);
    const later = await world.sweep();

    expect(withinGrace.manualReminders).toEqual([]);
    expect(stillAlive.manualReminders).toEqual([{ credential: PARTNER, reason: "old-key-not-revoked" }]);
    expect(confirmed.confirmedRevoked).toEqual([{ credential: PARTNER, keyId: "reporting sync" }]);
    expect(later.manualReminders).toEqual([]);
    const events = await received();
    expect(ofType(events, "Manual Rotation Required").map((e) => e.detail.reason)).toEqual([
      "old-key-not-revoked",
    ]);
    expect(ofType(events, "Credential Revoked").map((e) => e.detail.reason)).toEqual(["revoked-by-operator"]);
  });
});

describe("an Incorta v2 PAT", () => {
  test("expiring: each threshold brings Credential Expiring and Manual Rotation Required; a new PAT ends it", async () => {
    const expiresAt = new Date(world.clock.now() + 10 * DAY);
    const pat = incorta.createPat(CLUSTER, "analytics", "etl.bot", { name: "etl-2026-11", expiresAt });
    await world.createSecret(
      PAT,
      {
        provider: "incorta-v2",
        clusterUrl: `https://${CLUSTER}/incorta`,
        tenantName: "analytics",
        token: pat.token,
        keyId: "etl-2026-11",
        expiresAt: expiresAt.toISOString(),
      },
      { [Tag.provider]: "incorta-v2", [Tag.credential]: PAT },
    );

    await world.sweep(); // 10 days left: the 30d threshold
    world.clock.advance(4 * DAY);
    await world.sweep(); // 6 days left: the 7d threshold
    const nextExpiry = new Date(world.clock.now() + 90 * DAY);
    const next = incorta.createPat(CLUSTER, "analytics", "etl.bot", {
      name: "etl-2027-02",
      expiresAt: nextExpiry,
    });
    await world.put(PAT, { token: next.token, keyId: "etl-2027-02", expiresAt: nextExpiry.toISOString() });
    world.clock.advance(5 * DAY);
    const afterHandover = await world.sweep();

    const events = await received();
    expect(ofType(events, "Credential Expiring").map((e) => [e.detail.threshold, e.detail.action])).toEqual([
      ["30d", "manual-rotation-required"],
      ["7d", "manual-rotation-required"],
    ]);
    const required = ofType(events, "Manual Rotation Required");
    // The old PAT, still alive after the grace period, is chased too.
    expect(required.map((e) => [e.detail.reason, e.detail.severity])).toEqual([
      ["expiring", "info"],
      ["expiring", "warning"],
      ["old-key-not-revoked", "warning"],
    ]);
    const steps = required[0]?.detail.steps as { create: string[] } | undefined;
    expect(steps?.create.join(" ")).toMatch(/Profile Manager/);
    expect(afterHandover.expiring).toEqual([]);
    expect(afterHandover.expired).toEqual([]);
    expect(incorta.isPatLive((await world.read(PAT)).token)).toBe(true);
  });
});

describe("an Incorta v1 API key renewed in the UI", () => {
  test("the new key is accepted, the token refresh mints with it, and the old key is confirmed dead", async () => {
    const oldKey = incorta.issueApiKey(CLUSTER, "analytics", "etl.bot");
    await world.createSecret(
      V1,
      {
        provider: "incorta-v1",
        clusterUrl: `https://${CLUSTER}/incorta`,
        tenantName: "analytics",
        loginName: "etl.bot",
        apiKey: oldKey,
      },
      { [Tag.provider]: "incorta-v1", [Tag.credential]: V1, [Tag.gracePeriod]: "1h" },
    );
    await world.refresh();
    const before = await world.storedTokens(V1);

    const newKey = incorta.renewApiKey(CLUSTER, "analytics", "etl.bot");
    await world.put(V1, { apiKey: newKey });
    world.clock.advance(6 * 60_000);
    const refresh = await world.refresh();
    const after = await world.storedTokens(V1);
    const validAfterRefresh = incorta.isAccessTokenValid(after?.accessToken ?? "");
    world.clock.advance(HOUR);
    const sweep = await world.sweep();

    expect(refresh.outcomes.map((o) => o.outcome)).toEqual(["minted"]);
    expect(after?.keyId).not.toBe(before?.keyId);
    expect(validAfterRefresh).toBe(true);
    expect(sweep.confirmedRevoked.map((r) => r.credential)).toEqual([V1]);
    await received();
  });
});

describe("the first key of a credential the stack created with its settings only", () => {
  test("is stored with the settings kept, once the vendor accepts it", async () => {
    await world.createSecret(
      PAT,
      { provider: "incorta-v2", clusterUrl: `https://${CLUSTER}/incorta`, tenantName: "analytics" },
      { [Tag.provider]: "incorta-v2", [Tag.credential]: PAT },
    );
    const expiresAt = new Date(world.clock.now() + 60 * DAY);
    const pat = incorta.createPat(CLUSTER, "analytics", "etl.bot", { name: "first", expiresAt });

    const accepted = await world.put(PAT, {
      token: pat.token,
      keyId: "first",
      expiresAt: expiresAt.toISOString(),
    });

    expect(accepted).toMatchObject({ keyId: "first", previousKeyId: undefined });
    expect(await world.read(PAT)).toMatchObject({
      clusterUrl: `https://${CLUSTER}/incorta`,
      tenantName: "analytics",
      keyId: "first",
    });
  });
});
