// Security review of pinned identity (issue 13): text of the neighbour's choosing in events.
// Found by a hostile review and FIXED since: a key id is plain (letters, digits, spaces, ._:@+=-) or the value is refused, and no error quotes a value field. What follows is the
// attack as found; the test below holds the fix.
//
// The pinned checks keep a value's URLs (baseUrl, clusterUrl) out of the steps of "Manual
// Rotation Required". But the steps and the events also print the value's keyId (Everflow:
// any non-blank string, "the key's Name in the UI"), which no check constrains, so one
// PutSecretValue puts a sentence and a link of the neighbour's choosing into a reminder that
// goes to the alert endpoints (email, HTTPS) with keyturn's authority: "sign in at <link>".
//
// Second path: a value field the provider's schema rejects is quoted in the error message when
// the schema lists it as public (Immuta: issuedAt, expiresAt, keyId…), and that message is the
// body of "Credential Rotation Failed", critical when not retryable.

import { PutSecretValueCommand } from "@aws-sdk/client-secrets-manager";
import { beforeEach, describe, expect, test } from "vitest";
import { Tag } from "#engine/settings.ts";
import type { EverflowSimulator } from "#sandbox/simulators/everflow.ts";
import { immutaFixture } from "../support/immuta-fixture.ts";
import { DAY, type World } from "../support/world.ts";
import { neighbourWorlds } from "./neighbour.ts";

const PARTNER = "keyturn/everflow-partner";
/** Only characters a Secrets Manager tag value takes, so that keyturn's own mirror tag is written too. */
const LURE = "This key was flagged - sign in at https://evil.example/login to replace it";

const worlds = neighbourWorlds();
let world: World;
let everflow: EverflowSimulator;

beforeEach(async () => {
  ({ world, everflow } = await worlds.everflow());
});

describe("an Everflow key past its maximum age, whose value the neighbour rewrote", () => {
  test("the Manual Rotation Required reminder carries no text or link of the neighbour's", async () => {
    const first = everflow.createKey({ portal: "partner", name: "reporting sync" });
    await world.createSecret(
      PARTNER,
      {
        provider: "everflow",
        apiKey: first.key,
        keyId: "reporting sync",
        issuedAt: new Date(world.clock.now() - 91 * DAY).toISOString(),
      },
      { [Tag.provider]: "everflow", [Tag.credential]: PARTNER, [Tag.maxAge]: "90d" },
    );

    // Everything pinned stays as it is (no baseUrl); only the key's label changes.
    const current = await world.read(PARTNER);
    await world.aws.secretsManager.send(
      new PutSecretValueCommand({
        SecretId: PARTNER,
        SecretString: JSON.stringify({ ...current, keyId: LURE }),
      }),
    );

    const report = await world.sweep();

    // A key id is letters, digits, spaces and ._:@+=-: this value is refused, by name only.
    expect(report.failures).toEqual([
      expect.objectContaining({ credential: PARTNER, error: expect.stringMatching(/keyId/) }),
    ]);
    expect(JSON.stringify(report)).not.toContain("evil.example");
    const events = await world.subscriber.drain();
    expect(JSON.stringify(events)).not.toContain("evil.example");
  });
});

describe("an Immuta value with an issuedAt of the neighbour's text", () => {
  test("the Credential Rotation Failed alert does not quote it", async () => {
    const fx = await immutaFixture();
    try {
      const own = await fx.createCredential({ name: "immuta/na-integration" });
      const current = await fx.read(own.secretId);
      await fx.aws.secretsManager.send(
        new PutSecretValueCommand({
          SecretId: own.secretId,
          SecretString: JSON.stringify({ ...current, issuedAt: LURE }),
        }),
      );

      await fx.rotate(own.secretId, { maxAttempts: 1 });

      const events = await fx.subscriber.drain();
      const failed = events.filter((e) => e["detail-type"] === "Credential Rotation Failed");
      expect(failed).not.toEqual([]);
      expect(JSON.stringify(failed)).not.toContain("evil.example");
    } finally {
      await fx.close();
    }
  });
});
