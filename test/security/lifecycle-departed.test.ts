// Issue 14, lifecycle edges: a credential removed from the config. Its keys used to stay live at
// the vendor for good. Now the monitor, which scans keyturn's records for credentials the config no
// longer pins, first warns once ("Credential Departing": an application may still read the
// retained secret), then, once the credential's grace period has passed, revokes the keys it
// stored for it (automatic: with the issuer's key if the config still pins the issuer, or with the
// credential's own current value checked against the settings kept in the record), or names them
// once for a person (manual). The deployment is redone here with a smaller pinned config, as a
// `cdk deploy` of the edited config would.

import { describe, expect, test } from "vitest";
import { Tag } from "#engine/settings.ts";
import { RECORDS_TABLE } from "#sandbox/local-keyturn.ts";
import { DAY, HOUR } from "../support/world.ts";
import { EAGER_SWEEPS, neighbourWorlds, redeployWithout, storeEverflowKey } from "./neighbour.ts";

const worlds = neighbourWorlds();

describe("an automatic credential removed from the config", () => {
  test("a warning first, its keys revoked with its issuer's key once its grace period has passed, then nothing", async () => {
    const fx = await worlds.softwareone(EAGER_SWEEPS);
    const admin = await fx.createAdmin();
    const catalog = await fx.createConsumer("softwareone/catalog", { tags: { [Tag.gracePeriod]: "48h" } });
    const billing = await fx.createConsumer("softwareone/billing");
    await fx.rotate(catalog.secretId);
    const minted = (await fx.read(catalog.secretId)).keyId;
    await fx.sweep(); // the deployment that still pins it: the records keep its pinned entry
    await fx.subscriber.drain();

    const redeployed = await redeployWithout(fx, catalog.secretId);
    const warned = await redeployed.sweep();
    fx.clock.advance(47 * HOUR);
    const waiting = await redeployed.sweep();

    expect(warned.departed).toEqual([
      { credential: catalog.secretId, revokeAfter: new Date(fx.clock.now() + HOUR).toISOString() },
    ]);
    expect([...warned.revoked, ...waiting.revoked]).toEqual([]);
    expect(fx.status(catalog.keyId)).toBe("Active");
    expect(fx.status(minted)).toBe("Active");
    const warnings = await worlds.published(fx, fx.sim.issuedValues);
    expect(warnings.map((e) => e["detail-type"])).toEqual(["Credential Departing"]);
    expect(warnings[0]?.detail).toMatchObject({
      credential: catalog.secretId,
      provider: "softwareone",
      severity: "warning",
      keyIds: [catalog.keyId, minted].sort(),
      action: "revoke",
    });

    fx.clock.advance(HOUR + 1);
    const due = await redeployed.sweep();
    const after = await redeployed.sweep();

    expect(fx.status(catalog.keyId)).toBe("Deleted");
    expect(fx.status(minted)).toBe("Deleted");
    expect(fx.status(admin.keyId)).toBe("Active");
    expect(fx.status(billing.keyId)).toBe("Active");
    expect(due.revoked.map((r) => [r.keyId, r.reason]).sort()).toEqual(
      [
        [catalog.keyId, "left-config"],
        [minted, "left-config"],
      ].sort(),
    );
    expect(due.retired).toEqual([
      { credential: catalog.secretId, because: "left-config", retirement: "revoked" },
    ]);
    expect([...after.revoked, ...after.retired, ...after.departed]).toEqual([]);
    const revoked = await worlds.published(fx, fx.sim.issuedValues);
    expect(revoked.map((e) => e["detail-type"])).toEqual(["Credential Revoked", "Credential Revoked"]);
  });

  test("a self-issued credential's keys are revoked with its own current value once its grace period has passed", async () => {
    const fx = await worlds.immuta(EAGER_SWEEPS);
    const mine = await fx.createCredential({ name: "immuta/na-mine" });
    const other = await fx.createCredential({ name: "immuta/na-other" });
    // Rotated: the current key (the one that revokes) and the previous key, still in its grace period.
    await fx.rotate(mine.secretId);
    const current = await fx.read(mine.secretId);
    await fx.sweep();
    await fx.subscriber.drain();

    const redeployed = await redeployWithout(fx, mine.secretId);
    await redeployed.sweep();
    fx.clock.advance(DAY + 1);
    const due = await redeployed.sweep();

    expect(fx.sim.isLive(mine.token)).toBe(false);
    expect(fx.sim.isLive(current.token)).toBe(false);
    expect(fx.sim.isLive(other.token)).toBe(true);
    // Its own current key last: it is what the others are revoked with.
    expect(due.revoked.map((r) => [r.credential, r.keyId, r.reason])).toEqual([
      [mine.secretId, mine.keyId, "left-config"],
      [mine.secretId, current.keyId, "left-config"],
    ]);
    expect(due.failures).toEqual([]);
    await worlds.published(fx, fx.sim.issuedValues);
  });

  test("a record written before records kept the pinned entry, never swept since: named once for a person, nothing revoked", async () => {
    const fx = await worlds.softwareone(EAGER_SWEEPS);
    const admin = await fx.createAdmin();
    const catalog = await fx.createConsumer("softwareone/catalog");
    // No sweep while it was pinned: its record holds its key, not what keyturn would revoke it with.

    const redeployed = await redeployWithout(fx, catalog.secretId);
    await redeployed.sweep();
    fx.clock.advance(DAY + 1);
    const due = await redeployed.sweep();
    const after = await redeployed.sweep();

    expect(fx.status(catalog.keyId)).toBe("Active");
    expect(fx.status(admin.keyId)).toBe("Active");
    expect(due.retired).toEqual([
      { credential: catalog.secretId, because: "left-config", retirement: "announced" },
    ]);
    expect(after.retired).toEqual([]);
    const events = await worlds.published(fx, fx.sim.issuedValues);
    expect(events.map((e) => [e["detail-type"], e.detail.provider])).toEqual([
      ["Credential Departing", "unknown"],
      ["Keys Left Behind", "unknown"],
    ]);
    expect(events[1]?.detail).toMatchObject({
      why: "unknown-provider",
      keys: [{ keyId: catalog.keyId, revoke: [] }],
    });
  });

  test("a credential put back in the config before its grace period ends keeps its keys", async () => {
    const fx = await worlds.softwareone(EAGER_SWEEPS);
    await fx.createAdmin();
    const catalog = await fx.createConsumer("softwareone/catalog");
    await fx.sweep();

    const redeployed = await redeployWithout(fx, catalog.secretId);
    await redeployed.sweep();
    await fx.sweep(); // deployed again with it
    fx.clock.advance(2 * DAY);
    await redeployed.sweep(); // removed once more: a new departure, a new grace period
    const report = await redeployed.sweep();

    expect(fx.status(catalog.keyId)).toBe("Active");
    expect(report.revoked).toEqual([]);
    const events = await worlds.published(fx, fx.sim.issuedValues);
    expect(events.filter((e) => e["detail-type"] === "Credential Departing")).toHaveLength(2);
  });
});

describe("the cost of watching for departures", () => {
  test("a sweep keeps each record's pinned entry up to date once, then writes nothing", async () => {
    const fx = await worlds.softwareone(EAGER_SWEEPS);
    await fx.createAdmin();
    await fx.createConsumer("softwareone/catalog");
    const writes: string[] = [];
    fx.aws.dynamodb.middlewareStack.add(
      (next, context) => async (args) => {
        // The writes of a record's pinned entry (not the sweep's marks, nor its claim of the
        // departures scan, its "#sweep" item).
        const input = args.input as { Key?: { credential?: { S?: string } }; UpdateExpression?: string };
        const key = input.Key?.credential?.S ?? "";
        if (
          context.commandName === "UpdateItemCommand" &&
          !key.startsWith("#") &&
          input.UpdateExpression?.includes("#pinned")
        )
          writes.push(key);
        return next(args);
      },
      { step: "initialize", name: "countRecordWrites" },
    );

    await fx.sweep();
    const backfilled = writes.length;
    await fx.sweep();

    expect(backfilled).toBe(2); // the two records the world wrote without the pinned entry
    expect(writes).toHaveLength(2);
  });

  test("an audit reads keyturn's records in one Scan, never one read per credential", async () => {
    const fx = await worlds.softwareone({ reconcileIntervalMs: 6 * HOUR, orphanSafetyMarginMs: 0 });
    await fx.createAdmin();
    await fx.createConsumer("softwareone/catalog");
    await fx.createConsumer("softwareone/billing");
    const calls: string[] = [];
    fx.aws.dynamodb.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as { TableName?: string; Key?: { credential?: { S?: string } } };
        const item = input.Key?.credential?.S;
        // The records of credentials (not the monitor's own "#sweep" item, nor other tables' items).
        if (input.TableName === RECORDS_TABLE && (item === undefined || !item.startsWith("#")))
          calls.push(context.commandName ?? "");
        return next(args);
      },
      { step: "initialize", name: "countRecordReads" },
    );

    await fx.sweep();
    fx.clock.advance(HOUR);
    await fx.sweep();

    const reads = calls.filter((name) => name === "ScanCommand" || name === "GetItemCommand");
    expect(reads).toEqual(["ScanCommand", "ScanCommand"]);
  });
});

describe("a manual credential removed from the config", () => {
  test("a warning first, then once its grace period has passed one critical event naming its key", async () => {
    const { world, everflow } = await worlds.everflow();
    const name = "keyturn/everflow-partner";
    const apiKey = await storeEverflowKey(world, everflow, name);
    await world.sweep();
    await world.subscriber.drain();

    const redeployed = await redeployWithout(world, name);
    await redeployed.sweep();
    world.clock.advance(DAY + 1);
    await redeployed.sweep();
    await redeployed.sweep();

    expect(everflow.isLive(apiKey)).toBe(true);
    const events = await worlds.published(world, everflow.issuedValues);
    expect(events.map((e) => [e["detail-type"], e.detail.severity])).toEqual([
      ["Credential Departing", "warning"],
      ["Keys Left Behind", "critical"],
    ]);
    expect(events[0]?.detail).toMatchObject({ action: "announce", keyIds: ["reporting sync"] });
    expect(events[1]?.detail).toMatchObject({ reason: "left-config", why: "manual-provider" });
  });
});
