// The part of undici the vendor client (./client.ts) uses, and nothing else of it: an Agent (a
// connection pool per origin, kept across a warm Lambda's invocations) and the request API. The
// client imports this module dynamically, on its first vendor call, so a function that calls no
// vendor in an invocation (the monitor with nothing due) never evaluates undici, and one that does
// evaluates only these files.
//
// They are named by their files inside the package: its entry (`undici`) also loads fetch,
// WebSocket, EventSource, the cache interceptors and stores, the mock agents and the proxy
// agents, which keyturn never uses (bundled, an Agent and the request API are 473 kB against
// 733 kB for the entry; bench/bundles.ts). These paths are undici's internal layout, not its
// documented API: ./undici-internals.d.ts types them from undici's own declarations, and
// test/unit/http/transport.test.ts checks against the installed undici that they are the very
// objects its entry exports, so an upgrade that moves them fails the tests, not a Lambda.
//
// The Agent is keyturn's own rather than undici's global dispatcher: Node's built-in undici (the
// one behind global fetch) claims the same global slot when something loads it first, as the AWS
// SDK does, and then the global dispatcher is Node's copy of undici, not the version keyturn
// ships and tests.

import type { Dispatcher } from "undici";
import request from "undici/lib/api/api-request.js";
import Agent from "undici/lib/dispatcher/agent.js";

let agent: Dispatcher | undefined;

/** The process's one Agent, created on first use. */
export function sharedAgent(): Dispatcher {
  agent ??= new Agent();
  return agent;
}

/**
 * `dispatcher.request(options)` of undici's request API, for any dispatcher: the package entry
 * adds the API to Dispatcher's prototype, which the files loaded here leave as it is.
 */
export function sendRequest(
  dispatcher: Dispatcher,
  options: Dispatcher.RequestOptions,
): Promise<Dispatcher.ResponseData> {
  return request.call(dispatcher, options);
}
