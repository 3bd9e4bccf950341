// The Immuta provider's reading of GET /api/auth/user (operation `user` of Immuta's spec): the
// answer's tenantInfo.globalSegment names the region the token belongs to, and a token that
// authenticates but belongs to another region is refused. A real node:http server plays the
// vendor (the simulator answers each region's tokens only at that region's host, so it cannot
// show a disagreement).
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, expect, test } from "vitest";
import { CredentialRejectedError, VendorError } from "#engine/errors.ts";
import { immutaRequest } from "#providers/immuta-request/index.ts";
import { ManualClock } from "#sandbox/simulators/clock.ts";
import { rejection, simulatorContext } from "../../support/provider-context.ts";

const TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ0ZXN0In0.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg";
let server: Server | undefined;

afterEach(async () => {
  await new Promise((resolve) => server?.close(resolve));
  server = undefined;
});

/** A vendor answering GET /api/auth/user with `user`, on loopback; its URL. */
async function vendorAnswering(user: unknown): Promise<string> {
  server = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify(user));
  });
  await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const user = (tenantInfo: Record<string, unknown>) => ({
  displayName: "etl",
  username: "etl@example.com",
  expiration: 0,
  globalUserId: "u-1",
  trackingId: "t-1",
  tenantInfo,
  authorizations: {},
  groups: [],
});

const verify = async (url: string) =>
  immutaRequest.verify(
    immutaRequest.parse(
      { provider: "immuta-request", region: "na", token: TOKEN, keyId: "k-1" },
      "immuta/app",
    ),
    simulatorContext({ vendor: "Immuta", credential: "immuta/app", url, clock: new ManualClock(new Date()) }),
  );

test("a token whose user is in the credential's region passes", async () => {
  const url = await vendorAnswering(
    user({ id: "6f1c2a9e-0000-4000-8000-000000000001", globalSegment: "na" }),
  );
  await expect(verify(url)).resolves.toBeUndefined();
});

test("a token that Immuta says belongs to another region is refused, naming both regions", async () => {
  const url = await vendorAnswering(
    user({ id: "6f1c2a9e-0000-4000-8000-000000000001", globalSegment: "eu" }),
  );
  const error = await rejection(verify(url));
  expect(error).toBeInstanceOf(CredentialRejectedError);
  expect(error.message).toMatch(/belongs to region "eu", not "na"/);
  expect(error.message).not.toContain(TOKEN);
});

test("an answer without the user's tenant proves nothing and is refused", async () => {
  const url = await vendorAnswering({ ok: true });
  expect(await rejection(verify(url))).toBeInstanceOf(VendorError);
});
