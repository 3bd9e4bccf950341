// What the provider tests (test/unit/providers) share: a ProviderContext that sends one
// credential's calls to a vendor simulator over real HTTP, with retries that do not wait,
// and the error a call or a parse ends in.

import { HttpClient } from "#http/client.ts";
import type { ProviderContext } from "#providers/types.ts";
import type { Clock } from "#sandbox/simulators/clock.ts";

/** The context a provider gets for `credential`, every call going to the simulator at `url`, time from `clock`. */
export function simulatorContext(options: {
  vendor: string;
  credential: string;
  url: string;
  clock: Clock;
}): ProviderContext {
  return {
    credential: options.credential,
    http: new HttpClient({
      vendor: options.vendor,
      endpointOverride: options.url,
      timeoutMs: 1_000,
      retryBaseMs: 1,
      retryMaxMs: 10,
      sleep: async () => {},
    }),
    now: () => new Date(options.clock.now()),
  };
}

/** The error the promise rejects with; a promise that fulfils fails the test. */
export async function rejection(promise: Promise<unknown>): Promise<Error> {
  const outcome = await promise.then(
    () => undefined,
    (error: unknown) => error,
  );
  if (!(outcome instanceof Error)) throw new Error("expected the call to fail");
  return outcome;
}

/** The error `act` throws; an `act` that returns fails the test. */
export function thrownBy(act: () => unknown): Error {
  try {
    act();
  } catch (error) {
    if (error instanceof Error) return error;
  }
  throw new Error("expected it to throw");
}
