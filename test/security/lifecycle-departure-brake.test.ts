// Review 14, the departure brake (functions/engine/lifecycle.ts, Lifecycle.departures): more than
// half of the credentials keyturn holds keys for (and more than one) leaving the config in one
// scan are all held, announced as critical every scan; half or fewer proceed as before (warning,
// grace period, revocation). test/security/review14-careless-deploy.test.ts has the whole config
// lost; here the boundary.

import { describe, expect, test } from "vitest";
import { eventProblems } from "../support/event-schemas.ts";
import { DAY } from "../support/world.ts";
import { EAGER_SWEEPS, neighbourWorlds, redeployWithout } from "./neighbour.ts";

const worlds = neighbourWorlds();

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
