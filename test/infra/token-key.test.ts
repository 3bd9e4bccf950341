// The token key from the stack to Parameter Store: the refresh names keyturn's token key on every
// write (KEYTURN_TOKEN_KEY_ID), and without one (the sandbox, the tests) Parameter Store's default
// key is left as it was. moto records the key a SecureString was written with; it does not check
// that the key exists or that its policy lets the writer use it, which only a real account shows.

import { DescribeParametersCommand } from "@aws-sdk/client-ssm";
import { beforeAll, describe, expect, test } from "vitest";
import { type StoredTokens, TokenStore } from "#aws/token-store.ts";
import { RefreshEnvironment, readEnvironment } from "#handlers/environment.ts";
import { type IsolatedAws, isolatedAws } from "../support/aws.ts";

const TOKENS: StoredTokens = {
  accessToken: "access",
  refreshToken: "refresh",
  type: "Bearer",
  accessTokenExpiresAt: 0,
  refreshTokenExpiresAt: 0,
  keyId: "k-1",
  refreshedAt: "2026-11-30T00:00:00.000Z",
};
const KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";

describe("the token store", () => {
  let aws: IsolatedAws;

  beforeAll(() => {
    aws = isolatedAws();
  });

  async function keyOf(name: string): Promise<string | undefined> {
    const { Parameters = [] } = await aws.ssm.send(
      new DescribeParametersCommand({ ParameterFilters: [{ Key: "Name", Values: [name] }] }),
    );
    return Parameters[0]?.KeyId;
  }

  test("writes each pair with the key it was given, and reads it back", async () => {
    const store = new TokenStore(aws.ssm, { keyId: KEY_ARN });

    await store.write("/keyturn/tokens/keyturn/incorta-analytics", TOKENS);

    expect(await keyOf("/keyturn/tokens/keyturn/incorta-analytics")).toBe(KEY_ARN);
    expect(await store.read("/keyturn/tokens/keyturn/incorta-analytics")).toEqual(TOKENS);
  });

  test("without a key leaves the choice to Parameter Store (its default, aws/ssm)", async () => {
    const store = new TokenStore(aws.ssm);

    await store.write("/keyturn/tokens/keyturn/incorta-default", TOKENS);

    expect(await keyOf("/keyturn/tokens/keyturn/incorta-default")).toBe("alias/aws/ssm");
  });

  test("takes the key from the refresh function's environment, where the stack sets it", () => {
    const environment = { KEYTURN_EVENT_BUS_NAME: "keyturn", KEYTURN_LEASE_TABLE: "leases" };

    expect(
      readEnvironment(RefreshEnvironment, { ...environment, KEYTURN_TOKEN_KEY_ID: KEY_ARN }, "refresh")
        .KEYTURN_TOKEN_KEY_ID,
    ).toBe(KEY_ARN);
    expect(readEnvironment(RefreshEnvironment, environment, "refresh").KEYTURN_TOKEN_KEY_ID).toBeUndefined();
  });
});
