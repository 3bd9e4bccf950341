// One loopback endpoint for every vendor simulator, as AWS_ENDPOINT_URL is for every AWS
// service: `http://127.0.0.1:PORT/<vendor host>/<path>` is passed on, unchanged, to the
// simulator registered for that host. keyturn's HTTP layer sends every vendor there when
// its endpoint override (KEYTURN_VENDOR_ENDPOINT) is set.
//
// The hub streams both ways and mirrors a dropped connection, so the simulators' faults
// (slow drips, cut connections) reach the client as they would directly.

import { createServer, request as forward, type IncomingHttpHeaders, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { Clock } from "./clock.ts";

export interface VendorHub {
  /** `http://127.0.0.1:PORT`: the vendor endpoint override. */
  url: string;
  /** Every vendor call passed through, in order (host, method, path without the query). */
  readonly calls: readonly { host: string; method: string; path: string }[];
  /** Calls answered 429 by the rate limit. */
  readonly throttled: number;
  close(): Promise<void>;
}

/**
 * What to do with one vendor call, for crash tests: pass it on, cut the connection before
 * the vendor sees it ("before"), or let the vendor act and cut the connection before the
 * answer reaches the client ("after": the call took effect, the answer was lost).
 */
export type CallFate = "pass" | "before" | "after";

/** One vendor call and its answer, whole, as the contract tests check them (test/contract). */
export interface Exchange {
  host: string;
  method: string;
  /** The path at the vendor, without the query. */
  path: string;
  query: Record<string, string>;
  requestHeaders: Record<string, string>;
  /** The request body as sent ("" for none). */
  requestBody: string;
  status: number;
  responseHeaders: Record<string, string>;
  responseBody: string;
}

export interface VendorHubOptions {
  /** Decides the fate of the n-th call (0-based) through the hub. */
  intercept?: (call: { index: number; host: string; method: string; path: string }) => CallFate;
  /**
   * A vendor's rate limit, per host: a token bucket refilled at `perSecond`, a second's worth
   * deep. A call beyond it is answered 429 with a Retry-After, as vendors do, and never reaches
   * the simulator. The bucket refills in real time unless `clock` is given: a test that moves
   * that clock only when a client waits out a Retry-After gets the same throttling on any
   * machine, however fast it sends.
   */
  rateLimit?: { perSecond: number; clock?: Clock };
  /** Given every call a simulator answered, once its answer has been passed on whole. */
  record?: (exchange: Exchange) => void;
}

/** What a stream carries, read alongside whoever consumes it: call the answer once it has ended. */
function collect(stream: NodeJS.ReadableStream): () => string {
  const chunks: Buffer[] = [];
  stream.on("data", (chunk: Buffer) => chunks.push(chunk));
  return () => Buffer.concat(chunks).toString("utf8");
}

function flat(headers: IncomingHttpHeaders): Record<string, string> {
  return Object.fromEntries(
    Object.entries(headers).map(([name, value]) => [
      name,
      Array.isArray(value) ? value.join(", ") : (value ?? ""),
    ]),
  );
}

/** `routes` maps a vendor host (e.g. "na.api.immutacloud.com") to a simulator's `url`. */
export async function startVendorHub(
  routes: Record<string, string>,
  options: VendorHubOptions = {},
): Promise<VendorHub> {
  const calls: { host: string; method: string; path: string }[] = [];
  const buckets = new Map<string, { tokens: number; at: number }>();
  let throttled = 0;
  /** Seconds to wait when the host's bucket is empty, or 0 when the call may pass. */
  const limited = (host: string): number => {
    const limit = options.rateLimit;
    if (!limit) return 0;
    const now = limit.clock ? limit.clock.now() : performance.now();
    const bucket = buckets.get(host) ?? { tokens: limit.perSecond, at: now };
    bucket.tokens = Math.min(limit.perSecond, bucket.tokens + ((now - bucket.at) / 1000) * limit.perSecond);
    bucket.at = now;
    buckets.set(host, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - bucket.tokens) / limit.perSecond));
  };
  const sockets = new Set<Socket>();
  const notFound = (res: ServerResponse, host: string) => {
    res.writeHead(404, { "content-type": "application/json" });
    res.end(JSON.stringify({ message: `no simulator for host "${host}"`, hosts: Object.keys(routes) }));
  };
  const server = createServer((req, res) => {
    const host = (req.url ?? "/").split("/")[1] ?? "";
    const upstream = routes[host];
    if (!upstream) return notFound(res, host);
    const wait = limited(host);
    if (wait > 0) {
      throttled++;
      req.resume();
      res.writeHead(429, { "content-type": "application/json", "retry-after": String(wait) });
      res.end(JSON.stringify({ message: "Too Many Requests", statusCode: 429 }));
      return;
    }
    const target = new URL(req.url ?? "/", upstream);
    const call = { host, method: req.method ?? "GET", path: target.pathname.slice(host.length + 1) };
    const fate = options.intercept?.({ index: calls.length, ...call }) ?? "pass";
    calls.push(call);
    if (fate === "before") {
      req.resume();
      res.destroy();
      return;
    }
    const requestBody = options.record ? collect(req) : undefined;
    const outgoing = forward(
      target,
      { method: req.method, headers: { ...req.headers, host: target.host } },
      (answer) => {
        if (fate === "after") {
          answer.resume();
          answer.on("end", () => res.destroy());
          return;
        }
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        if (options.record && requestBody) {
          const record = options.record;
          const responseBody = collect(answer);
          answer.on("end", () =>
            record({
              ...call,
              query: Object.fromEntries(target.searchParams),
              requestHeaders: flat(req.headers),
              requestBody: requestBody(),
              status: answer.statusCode ?? 502,
              responseHeaders: flat(answer.headers),
              responseBody: responseBody(),
            }),
          );
        }
        answer.pipe(res);
        answer.on("error", () => res.destroy());
        answer.on("aborted", () => res.destroy());
      },
    );
    outgoing.on("error", () => res.destroy());
    req.pipe(outgoing);
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get calls() {
      return [...calls];
    },
    get throttled() {
      return throttled;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
