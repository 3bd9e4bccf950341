// Review 14, the departure brake (functions/engine/lifecycle.ts, Lifecycle.departures): more than
// half of the credentials keyturn holds keys for (and more than one) leaving the config in one
// scan are all held, announced as critical every scan; half or fewer proceed as before (warning,
// grace period, revocation). test/security/review14-careless-deploy.test.ts has the whole config
// lost; here the boundary.

import { describe, expect, test } from "vitest";
import { PinnedCredentials } from "#engine/pinned.ts";
import { LEASE_TABLE, type LocalKeyturn, RECORDS_TABLE, startLocalKeyturn } from "#sandbox/local-keyturn.ts";
import { eventProblems } from "../support/event-schemas.ts";
import { DAY, HOUR, type World } from "../support/world.ts";
import { EAGER_SWEEPS, neighbourWorlds } from "./neighbour.ts";

const worlds = neighbourWorlds();

function redeployWithout(world: World, removed: readonly string[]): Promise<LocalKeyturn> {
  return startLocalKeyturn({
    clients: world.aws,
    busName: "keyturn",
    clock: world.clock,
    vendorEndpoint: world.hub.url,
    ...EAGER_SWEEPS,
    stuckAfterMs: 6 * HOUR,
    refreshIntervalMs: 120_000,
    minTokenRemainingMs: 120_000,
    http: { timeoutMs: 1_000, retryBaseMs: 1, retryMaxMs: 10, sleep: async () => {} },
    provisioned: { subscriber: world.subscriber, leaseTable: LEASE_TABLE, recordsTable: RECORDS_TABLE },
    pinned: new PinnedCredentials(
      world.pinned.all().filter((credential) => !removed.includes(credential.secretName)),
    ),
  });
}

describe("the departure brake", () => {
  test("half of the credentials leaving proceeds; more than half is held, critical, until the config is fixed", async () => {
    const fx = await worlds.softwareone(EAGER_SWEEPS);
    const admin = await fx.createAdmin();
    const a = await fx.createConsumer("softwareone/a");
    const b = await fx.createConsumer("softwareone/b");
    const c = await fx.createConsumer("softwareone/c");
    await fx.sweep();
    await fx.subscriber.drain();

    // Three of four: held.
    const most = await redeployWithout(fx, [a.secretId, b.secretId, c.secretId]);
    const held = await most.sweep();
    fx.clock.advance(DAY + 1);
    const stillHeld = await most.sweep();
    const critical = await fx.subscriber.drain();

    expect([...held.revoked, ...stillHeld.revoked]).toEqual([]);
    expect(critical.flatMap(eventProblems)).toEqual([]);
    expect(critical.map((e) => [e["detail-type"], e.detail.severity])).toEqual(
      Array(6).fill(["Credential Action Failed", "critical"]),
    );
    expect([a, b, c].map((k) => fx.status(k.keyId))).toEqual(["Active", "Active", "Active"]);

    // Two of four (half): they depart as before, warned first, revoked after the grace period.
    const half = await redeployWithout(fx, [a.secretId, b.secretId]);
    const warned = await half.sweep();
    const warnings = await fx.subscriber.drain();
    fx.clock.advance(DAY + 1);
    const due = await half.sweep();

    expect(warnings.map((e) => [e["detail-type"], e.detail.severity])).toEqual([
      ["Credential Departing", "warning"],
      ["Credential Departing", "warning"],
    ]);
    expect(warned.revoked).toEqual([]);
    expect(due.revoked.map((r) => [r.credential, r.reason]).sort()).toEqual(
      [
        [a.secretId, "left-config"],
        [b.secretId, "left-config"],
      ].sort(),
    );
    expect([admin, a, b, c].map((k) => fx.status(k.keyId))).toEqual([
      "Active",
      "Deleted",
      "Deleted",
      "Active",
    ]);
  });
});
