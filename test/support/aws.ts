// AWS clients for one test: the run's moto server (started by global-setup.ts), in an account
// of the test's own (sandbox/moto-account.ts).
import { inject } from "vitest";
import { type IsolatedAws, motoAccount } from "#sandbox/moto-account.ts";

export type { IsolatedAws };

export function isolatedAws(): IsolatedAws {
  return motoAccount(inject("awsEndpoint"));
}
