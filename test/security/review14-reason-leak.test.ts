// Review 14: the emergency revoke logs the request's `reason` (functions/engine/emergency.ts,
// "emergency revoke requested") before it has read the credential's value, so before the
// redactor knows the key. `reason` is free text of the requester's (up to 500 characters); a leak
// scanner that quotes what it matched ("token <value> found in repo X"), or a person pasting the
// leaked line, puts the key into keyturn's CloudWatch logs in clear: the redactor catches a
// SoftwareOne token and a Bearer header by shape, an Immuta PAT or an Everflow key only once this
// process has read it.

import { expect, test } from "vitest";
import { DetailType } from "#engine/events.ts";
import { findLeaks } from "../support/leak-guard.ts";
import { neighbourWorlds } from "./neighbour.ts";

const worlds = neighbourWorlds();

test("a revoke request whose reason quotes the leaked key does not put the key into keyturn's logs", async () => {
  const fx = await worlds.immuta();
  const mine = await fx.createCredential({ name: "immuta/na-quoted" });

  await fx.revoke({
    "detail-type": DetailType.revokeRequested,
    source: "leak-scanner",
    detail: {
      credential: mine.secretId,
      keyId: mine.keyId,
      reason: `matched ${mine.token} in github.com/example/app/.env`,
    },
  });

  // Fails today: the "emergency revoke requested" line carries the reason verbatim.
  expect(findLeaks([worlds.printed()], [mine.token])).toEqual([]);
});
