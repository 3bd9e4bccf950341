// Holds chosen calls, Secrets Manager's or a vendor's, at the moment keyturn is about to send
// them, until the test releases them. A concurrency test uses this to make its parties meet at
// known points (both rotations are about to mint; a sweep runs while a minted key is not yet
// stored), so that the race it names happens on every run instead of whenever latency happens
// to interleave the parties.

import type { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { Agent, type Dispatcher } from "undici";

export interface HeldCall<C> {
  /** Resolves with the call once it has arrived and is being held. */
  readonly reached: Promise<C>;
  /** Lets the held call go on; released before its call arrives, it lets that call straight through. */
  release(): void;
}

interface Hold<C> {
  match: (call: C) => boolean;
  taken: boolean;
  arrived: (call: C) => void;
  released: Promise<void>;
  release: () => void;
}

/** The holds of one kind of call: each call is taken by the first hold, not yet taken, that matches it. */
class Holds<C> {
  readonly #holds: Hold<C>[] = [];

  add(match: (call: C) => boolean): HeldCall<C> {
    const reached = Promise.withResolvers<C>();
    const released = Promise.withResolvers<void>();
    const release = () => released.resolve();
    this.#holds.push({ match, taken: false, arrived: reached.resolve, released: released.promise, release });
    return { reached: reached.promise, release };
  }

  releaseAll(): void {
    for (const hold of this.#holds) hold.release();
  }

  /** The wait before this call may go on: none when no hold takes it. */
  take(call: C): Promise<void> | undefined {
    const hold = this.#holds.find((candidate) => !candidate.taken && candidate.match(call));
    if (!hold) return undefined;
    hold.taken = true;
    hold.arrived(call);
    return hold.released;
  }
}

export interface AwsCall {
  /** The SDK's command name, e.g. "PutSecretValueCommand". */
  command: string;
  input: Record<string, unknown>;
}

export interface AwsCallHolder {
  /** Holds the next call of `command` whose input `match`es; two holds of one command take its first two calls. */
  holdNext(command: string, match?: (input: Record<string, unknown>) => boolean): HeldCall<AwsCall>;
  /** Lets every held call go on, and the calls of holds not yet taken straight through: for teardown. */
  releaseAll(): void;
}

/** Holds calls of this Secrets Manager client (a world's `aws.secretsManager`). */
export function holdAwsCalls(client: SecretsManagerClient): AwsCallHolder {
  const holds = new Holds<AwsCall>();
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const call = { command: context.commandName ?? "", input: args.input as Record<string, unknown> };
      await holds.take(call);
      return next(args);
    },
    { step: "initialize", name: "heldCalls" },
  );
  return {
    holdNext: (command, match = () => true) =>
      holds.add((call) => call.command === command && match(call.input)),
    releaseAll: () => holds.releaseAll(),
  };
}

export interface VendorCall {
  method: string;
  /** As sent to the vendor hub: `/<vendor host>/<path>`. */
  path: string;
}

export interface VendorCallHolder {
  /** For keyturn's HTTP client: a world's `http: { dispatcher }`. */
  readonly dispatcher: Dispatcher;
  /** Holds the next vendor call with this method whose path matches. */
  holdNext(method: string, path: RegExp): HeldCall<VendorCall>;
  /** Lets every held call go on, and the calls of holds not yet taken straight through: for teardown. */
  releaseAll(): void;
  close(): Promise<void>;
}

/** Holds vendor calls of every HTTP client given `dispatcher`. */
export function holdVendorCalls(): VendorCallHolder {
  const holds = new Holds<VendorCall>();
  const agent = new Agent();
  const dispatcher = agent.compose((dispatch) => (options, handler) => {
    const wait = holds.take({ method: options.method, path: options.path });
    if (!wait) return dispatch(options, handler);
    void wait.then(() => dispatch(options, handler));
    return true;
  });
  return {
    dispatcher,
    holdNext: (method, path) => holds.add((call) => call.method === method && path.test(call.path)),
    releaseAll: () => holds.releaseAll(),
    close: () => agent.close(),
  };
}
