// Types for the two files inside undici that ./transport.ts loads instead of the package entry
// (see there why), from undici's own declarations of what the entry exports from them.
// test/unit/http/transport.test.ts checks that they are the same objects at run time.

declare module "undici/lib/dispatcher/agent.js" {
  import type { Agent } from "undici";

  const AgentClass: typeof Agent;
  export default AgentClass;
}

declare module "undici/lib/api/api-request.js" {
  import type { Dispatcher } from "undici";

  /** Dispatcher.prototype.request: `this` is the dispatcher. */
  function request(this: Dispatcher, options: Dispatcher.RequestOptions): Promise<Dispatcher.ResponseData>;
  export default request;
}
