// Issue 18: an older SoftwareOne token, whose value is the bare secret without the `idt:TKN-…:`
// prefix (its id is the secret's keyId), rotated by the real handlers against moto server and the
// SoftwareOne simulator: the successor is minted in the current form, the older token is disabled
// after the grace period (a last-use check first), and no value reaches an event or a log line.

import { afterEach, beforeEach, expect, test } from "vitest";
import { Tag } from "#engine/settings.ts";
import { eventProblems } from "../support/event-schemas.ts";
import { type CapturedOutput, captureOutput, findLeaks } from "../support/leak-guard.ts";
import { ADMIN, DAY, type SoftwareOneFixture, softwareoneFixture } from "../support/softwareone-fixture.ts";

const CREDENTIAL = "softwareone/older-token";

let fx: SoftwareOneFixture;
let output: CapturedOutput;

beforeEach(async () => {
  fx = await softwareoneFixture({ reconcileIntervalMs: 0 });
  output = captureOutput();
});

afterEach(async () => {
  output.restore();
  await fx.close();
});

async function storeOlderToken(
  keyId: (seeded: { id: string }) => string,
): Promise<{ id: string; token: string }> {
  const seeded = fx.sim.seedToken(fx.accountId, {
    name: "older integration",
    legacy: true,
    modules: ["MOD-1002"],
  });
  await fx.createSecret(
    CREDENTIAL,
    { provider: "softwareone", token: seeded.token, keyId: keyId(seeded), accountId: fx.accountId },
    { [Tag.provider]: "softwareone", [Tag.credential]: CREDENTIAL, [Tag.issuer]: ADMIN },
  );
  return seeded;
}

test("an older token rotates to an idt: token, and is disabled once its grace period has passed", async () => {
  await fx.createAdmin();
  const older = await storeOlderToken((seeded) => seeded.id);
  expect(older.token.startsWith("idt:")).toBe(false);

  const rotation = await fx.rotate(CREDENTIAL);
  const successor = await fx.read(CREDENTIAL);
  fx.clock.advance(10 * DAY);
  await fx.sweep();

  expect(rotation.succeeded).toBe(true);
  expect(successor.token.startsWith(`idt:${successor.keyId}:`)).toBe(true);
  expect(fx.sim.tokens().find((t) => t.id === successor.keyId)).toMatchObject({
    name: "older integration",
    modules: [{ id: "MOD-1002" }],
  });
  expect(fx.status(older.id)).not.toBe("Active");
  expect(fx.sim.isLive(successor.token as string)).toBe(true);
  const events = await fx.subscriber.drain();
  expect(events.flatMap(eventProblems)).toEqual([]);
  expect(findLeaks([JSON.stringify(events), output.text()], fx.sim.issuedValues)).toEqual([]);
});

test("an older administrator token whose keyId names another token does not rotate, and that token stays", async () => {
  const admin = await fx.createAdmin();
  const other = fx.sim.seedToken(fx.accountId, { name: "another integration", modules: ["MOD-1001"] });
  const seeded = fx.sim.seedToken(fx.accountId, { name: "older admin", legacy: true, admin: true });
  await fx.createSecret(
    CREDENTIAL,
    { provider: "softwareone", token: seeded.token, keyId: other.id, accountId: fx.accountId },
    { [Tag.provider]: "softwareone", [Tag.credential]: CREDENTIAL, [Tag.issuer]: ADMIN },
  );

  const rotation = await fx.rotate(CREDENTIAL, { maxAttempts: 1 });
  fx.clock.advance(10 * DAY);
  await fx.sweep();

  expect(rotation.succeeded).toBe(false);
  expect(String((rotation.failures[0]?.error as Error | undefined)?.message)).toContain(
    "belongs to another token",
  );
  expect(fx.status(other.id)).toBe("Active");
  expect(fx.status(admin.keyId)).toBe("Active");
  expect(fx.sim.liveTokens().filter((t) => t.description?.startsWith(`keyturn:${CREDENTIAL}`))).toEqual([]);
  const events = await fx.subscriber.drain();
  expect(findLeaks([JSON.stringify(events), output.text()], fx.sim.issuedValues)).toEqual([]);
});
