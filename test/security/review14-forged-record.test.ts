// Review 14: keyturn's records table is now an authority, not a bookkeeping mirror. Since the
// lifecycle edges, a record the config does not pin is a "departed credential", and its pinned
// entry (provider, issuer, settings) is read back from the record itself to decide which key
// revokes its keys. The table has no resource policy (infra/keyturn.ts, Records), so whoever may
// write it (any principal whose IAM policy allows dynamodb:PutItem or UpdateItem on it: an account
// administrator, the put and revoke operators, a broad CI role) can forge one item and have the
// monitor revoke, with the issuer's administrator key, a key of the vendor account that keyturn
// does not manage. No secret, tag or event is touched: the fences never see it.
//
// Fixed in the engine (functions/engine/lifecycle.ts; the table's resource policy is another
// change): the recorded entry is validated (recordedEntry), and a departed credential's key is
// revoked only when keyturn's vendor marker or the credential's secret ties it to the credential.
// The assertions on what is announced instead were added with the fix.

import { PutItemCommand } from "@aws-sdk/client-dynamodb";
import { describe, expect, test } from "vitest";
import { RECORDS_TABLE } from "#sandbox/local-keyturn.ts";
import { SOFTWAREONE_HOST } from "#sandbox/simulators/softwareone.ts";
import { ADMIN } from "../support/softwareone-fixture.ts";
import { EAGER_SWEEPS, neighbourWorlds } from "./neighbour.ts";

const worlds = neighbourWorlds();

describe("a record forged in keyturn's records table", () => {
  test("gets no key of the issuer's vendor account revoked that keyturn does not manage", async () => {
    const fx = await worlds.softwareone(EAGER_SWEEPS);
    const admin = await fx.createAdmin();
    const catalog = await fx.createConsumer("softwareone/catalog");
    // Another integration's token in the same SoftwareOne account: not keyturn's, in no secret.
    const bystander = fx.sim.seedToken(fx.accountId, {
      name: "payroll export (not keyturn's)",
      modules: ["MOD-1001"],
    });
    await fx.sweep();
    await fx.subscriber.drain();

    // One PutItem: a credential the config never had, "issued" by the pinned administrator,
    // departed long ago, whose record names the bystander's token.
    const template = fx.pinned.bySecretName(catalog.secretId);
    if (!template) throw new Error("the catalog credential is not pinned");
    await fx.aws.dynamodb.send(
      new PutItemCommand({
        TableName: RECORDS_TABLE,
        Item: {
          credential: { S: "softwareone/ghost" },
          keys: { SS: [bystander.id] },
          pinned: { S: JSON.stringify({ ...template, secretName: "softwareone/ghost", issuer: ADMIN }) },
          departedAt: { S: "2020-01-01T00:00:00.000Z" },
        },
      }),
    );

    const report = await fx.sweep();

    expect(fx.status(admin.keyId)).toBe("Active");
    expect(fx.status(catalog.keyId)).toBe("Active");
    // Failed before the fix: the sweep revoked it with the administrator's key ("Credential Revoked", left-config).
    expect(report.revoked).toEqual([]);
    expect(fx.status(bystander.id)).toBe("Active");
    // Added with the fix: nothing ties the key to "softwareone/ghost" (no keyturn marker naming it,
    // no secret naming it), so it is named for a person, as unverified, and never revoked.
    const events = await fx.subscriber.drain();
    expect(events.filter((e) => e["detail-type"] === "Credential Revoked")).toEqual([]);
    expect(
      events
        .filter((e) => e["detail-type"] === "Keys Left Behind")
        .map((e) => [e.detail.credential, e.detail.why]),
    ).toEqual([["softwareone/ghost", "unverified"]]);
  });

  test("never sends the issuer's key to another vendor's host when the forged entry names another provider", async () => {
    const hosts = new Set<string>();
    const fx = await worlds.softwareone({
      ...EAGER_SWEEPS,
      http: { onAttempt: (attempt) => hosts.add(new URL(attempt.url).host) },
    });
    await fx.createAdmin();
    const catalog = await fx.createConsumer("softwareone/catalog");
    await fx.sweep();
    hosts.clear();

    const template = fx.pinned.bySecretName(catalog.secretId);
    if (!template) throw new Error("the catalog credential is not pinned");
    // An Immuta credential "issued" by the SoftwareOne administrator: the engine reads the
    // administrator's value as the authority and hands it to the Immuta provider.
    await fx.aws.dynamodb.send(
      new PutItemCommand({
        TableName: RECORDS_TABLE,
        Item: {
          credential: { S: "softwareone/ghost" },
          keys: { SS: ["any-key-id"] },
          pinned: {
            S: JSON.stringify({
              secretName: "softwareone/ghost",
              provider: "immuta-request",
              issuer: ADMIN,
              settings: { region: "na" },
              settingsFields: ["region", "baseUrl", "tenantId"],
              policy: template.policy,
            }),
          },
          departedAt: { S: "2020-01-01T00:00:00.000Z" },
        },
      }),
    );

    await fx.sweep();

    // Failed before the fix: the administrator's SoftwareOne token goes out as a Bearer token to an
    // immutacloud.com host ("undefined.api.immutacloud.com": the SoftwareOne value has no region).
    expect([...hosts].filter((host) => host !== SOFTWAREONE_HOST)).toEqual([]);
    // Added with the fix: the record is refused outright (its provider is not its issuer's), as a
    // critical failure naming no key.
    const events = await fx.subscriber.drain();
    const failed = events.filter((e) => e.detail.credential === "softwareone/ghost");
    expect(
      failed.map((e) => [e["detail-type"], e.detail.severity, (e.detail.error as { name: string }).name]),
    ).toEqual([["Credential Action Failed", "critical", "InvalidRecordError"]]);
    expect(JSON.stringify(failed)).not.toContain("any-key-id");
  });
});
