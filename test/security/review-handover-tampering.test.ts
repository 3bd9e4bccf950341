// Security review of pinned identity (issue 13): a tampered value met by a handover.
// Found by a hostile review and FIXED since: the handover reports the tampering, and keeps the old key id to retire only for manual vendors (a person revokes it). What follows is the
// attack as found; the test below holds the fix.
//
// acceptKey (functions/engine/manual.ts) reads the current value with
// `readValue(...).catch(() => undefined)`: a CredentialTamperedError is swallowed there, before
// acceptKey's own reportTampering can see it. The handover then goes ahead as if the credential
// had no key: no "Credential Tampered" (critical), and no `previous`, so keyturn stops tracking
// the key being replaced (no keyturn:previous-key-id, no daily "revoke the old key" reminder).
// The neighbour needs one PutSecretValue before the operator's next `keyturn put`.

import { PutSecretValueCommand } from "@aws-sdk/client-secrets-manager";
import { beforeEach, describe, expect, test } from "vitest";
import { Tag } from "#engine/settings.ts";
import { EVERFLOW_EU_BASE_URL } from "#providers/everflow/index.ts";
import type { EverflowSimulator } from "#sandbox/simulators/everflow.ts";
import type { World } from "../support/world.ts";
import { neighbourWorlds } from "./neighbour.ts";

const PARTNER = "keyturn/everflow-partner";

const worlds = neighbourWorlds();
let world: World;
let everflow: EverflowSimulator;

beforeEach(async () => {
  ({ world, everflow } = await worlds.everflow());
});

describe("a value with a base URL the config does not pin, then `keyturn put`", () => {
  test("the handover reports the tampering (critical) instead of dropping the replaced key", async () => {
    // Pinned with no baseUrl (the default, US host), as the config says.
    const first = everflow.createKey({ portal: "partner", name: "reporting sync" });
    await world.createSecret(
      PARTNER,
      {
        provider: "everflow",
        apiKey: first.key,
        keyId: "reporting sync",
        issuedAt: new Date(world.clock.now()).toISOString(),
      },
      { [Tag.provider]: "everflow", [Tag.credential]: PARTNER },
    );

    // The neighbour: the same value, with the EU host (a documented one, so the provider accepts it).
    const current = await world.read(PARTNER);
    await world.aws.secretsManager.send(
      new PutSecretValueCommand({
        SecretId: PARTNER,
        SecretString: JSON.stringify({ ...current, baseUrl: EVERFLOW_EU_BASE_URL }),
      }),
    );

    // The operator hands over the replacement key, as `keyturn put` does.
    const second = everflow.createKey({ portal: "partner", name: "reporting sync 2" });
    const handover = await world.put(PARTNER, { apiKey: second.key, keyId: "reporting sync 2" }).then(
      (accepted) => ({ accepted }),
      (error: unknown) => ({ error }),
    );

    const events = await world.subscriber.drain();
    const tampered = events.filter((e) => e["detail-type"] === "Credential Tampered").map((e) => e.detail);
    expect(tampered).toEqual([expect.objectContaining({ credential: PARTNER, during: "handover" })]);
    // Had it been accepted, the replaced key must still be tracked for revocation.
    if ("accepted" in handover) expect(handover.accepted.previousKeyId).toBe("reporting sync");
  });
});
