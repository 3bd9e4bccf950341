// Issue 15: a sweep action that fails is heard. The previous key's revocation fails at the vendor
// (SoftwareOne answers 500 to every disable): the sweep publishes "Credential Action Failed"
// (warning), keeps publishing it while it fails, and once it has kept failing longer than the
// escalation time (24 hours by default) the event is critical, with the streak's start.

import { afterEach, beforeEach, expect, test } from "vitest";
import type { ReceivedEvent } from "#sandbox/event-subscriber.ts";
import { eventProblems } from "../support/event-schemas.ts";
import { type CapturedOutput, captureOutput, findLeaks } from "../support/leak-guard.ts";
import { DAY, HOUR, type SoftwareOneFixture, softwareoneFixture } from "../support/softwareone-fixture.ts";

let fx: SoftwareOneFixture;
let output: CapturedOutput;

beforeEach(async () => {
  fx = await softwareoneFixture({ reconcileIntervalMs: 6 * HOUR, orphanSafetyMarginMs: HOUR });
  output = captureOutput();
});

afterEach(async () => {
  output.restore();
  await fx.close();
});

async function actionFailures(): Promise<ReceivedEvent[]> {
  const events = await fx.subscriber.drain();
  expect(events.flatMap(eventProblems)).toEqual([]);
  expect(findLeaks([JSON.stringify(events), output.text()], fx.sim.issuedValues)).toEqual([]);
  return events.filter((event) => event["detail-type"] === "Credential Action Failed");
}

test("a revocation that keeps failing is a warning, then critical once it has failed for a day", async () => {
  await fx.createAdmin();
  const { secretId, keyId: previous } = await fx.createConsumer("softwareone/catalog-sync");
  await fx.rotate(secretId);
  await fx.subscriber.drain();
  fx.sim.faults.add({
    method: "POST",
    path: /\/disable$/,
    fault: { kind: "status", status: 500 },
    times: 1_000,
  });

  fx.clock.advance(DAY);
  const firstSweep = await fx.sweep();
  const first = await actionFailures();
  fx.clock.advance(12 * HOUR);
  await fx.sweep();
  const second = await actionFailures();
  fx.clock.advance(12 * HOUR);
  await fx.sweep();
  const third = await actionFailures();

  expect(fx.status(previous)).toBe("Active");
  expect(firstSweep.failures).toEqual([
    expect.objectContaining({ credential: secretId, action: "revocation" }),
  ]);
  const failingSince = first[0]?.detail.failingSince;
  expect(first.map((e) => e.detail)).toEqual([
    expect.objectContaining({
      credential: secretId,
      provider: "softwareone",
      action: "revocation",
      severity: "warning",
      error: expect.objectContaining({ name: "VendorError" }),
    }),
  ]);
  expect(second.map((e) => [e.detail.severity, e.detail.failingSince])).toEqual([["warning", failingSince]]);
  expect(third.map((e) => [e.detail.severity, e.detail.failingSince])).toEqual([["critical", failingSince]]);
});

test("a failure long after the last one starts a new streak: a warning again", async () => {
  await fx.createAdmin();
  const { secretId } = await fx.createConsumer("softwareone/catalog-sync");
  await fx.rotate(secretId);
  const fault = fx.sim.faults.add({
    method: "POST",
    path: /\/disable$/,
    fault: { kind: "status", status: 500 },
    times: 1,
  });
  fx.clock.advance(DAY);
  await fx.sweep();
  expect(fx.sim.faults.hits(fault)).toBe(1);
  await fx.subscriber.drain();

  // The next rotation, two days later, and its previous key's revocation failing once more.
  fx.clock.advance(2 * DAY);
  await fx.sweep(); // the first previous key is disabled now
  await fx.rotate(secretId);
  fx.sim.faults.add({ method: "POST", path: /\/disable$/, fault: { kind: "status", status: 500 }, times: 1 });
  fx.clock.advance(DAY);
  await fx.sweep();

  const failures = await actionFailures();
  expect(failures.map((e) => [e.detail.action, e.detail.severity])).toEqual([["revocation", "warning"]]);
  expect(failures[0]?.detail.failingSince).toBe(new Date(fx.clock.now()).toISOString());
});
