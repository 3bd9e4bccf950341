// Fault injection shared by the vendor simulators (Immuta, SoftwareOne, Everflow and Incorta).
// Every simulator can be told to misbehave (429 with Retry-After, 5xx, slow or cut responses,
// malformed bodies), as the bad-input tests need (docs/testing.md, "Reliability").
// This module knows no vendor: a simulator computes its normal answer and `serveWithFaults`
// decides what actually goes on the wire.
//
// Delays are real time (timers), not the simulator's Clock: they exist to exercise a
// client's network timeouts, which run on real time too.

import { type ServerResponse, STATUS_CODES } from "node:http";
import { setTimeout as wait } from "node:timers/promises";

export type Fault =
  | {
      kind: "status";
      status: number;
      /** Raw `Retry-After` header value: seconds or an HTTP date. */
      retryAfter?: string;
      body?: string;
      contentType?: string;
    }
  /** Answer normally, but only after `ms`. */
  | { kind: "delay"; ms: number }
  /** Send the headers at once, then the body slowly over `ms`. */
  | { kind: "drip"; ms: number }
  /** 200 with a truncated, unparseable JSON body. */
  | { kind: "malformed" }
  /** 502 with an HTML error page, as a load balancer in front of the vendor would send. */
  | { kind: "html" }
  /** 200 with an empty body. */
  | { kind: "empty" }
  /** Destroy the socket without answering. */
  | { kind: "drop" }
  | { kind: "redirect"; location: string; status?: number };

/**
 * "before" (default): answer with the fault instead of doing the action.
 * "after": do the action, then answer with the fault (the call took effect, the answer was lost).
 * `delay` and `drip` always let the action happen; the phase says whether a delay comes
 * before or after it.
 */
export type FaultPhase = "before" | "after";

export interface FaultRule {
  /** HTTP method, any case; omitted: every method. */
  method?: string;
  /** Exact path (no query string) or a pattern; omitted: every path. */
  path?: string | RegExp;
  /** How many matching requests get the fault; default 1, `Infinity` allowed. */
  times?: number;
  phase?: FaultPhase;
  fault: Fault;
}

interface ArmedRule {
  rule: FaultRule;
  remaining: number;
  hits: number;
}

export class FaultInjector {
  #armed: ArmedRule[] = [];
  #hits = new WeakMap<FaultRule, ArmedRule>();

  /** Arms a rule; rules are matched in the order they were added. */
  add(rule: FaultRule): FaultRule {
    const times = rule.times ?? 1;
    if (!(times >= 1)) throw new RangeError(`A fault rule needs times >= 1, got ${times}`);
    const armed = { rule, remaining: times, hits: 0 };
    this.#armed.push(armed);
    this.#hits.set(rule, armed);
    return rule;
  }

  clear(): void {
    this.#armed = [];
  }

  /** How many requests this rule has answered so far. */
  hits(rule: FaultRule): number {
    return this.#hits.get(rule)?.hits ?? 0;
  }

  /** The fault for this request and phase, if a rule matches; consumes one use of that rule. */
  take(method: string, path: string, phase: FaultPhase): Fault | undefined {
    const index = this.#armed.findIndex((armed) => matches(armed.rule, method, path, phase));
    const armed = this.#armed[index];
    if (!armed) return undefined;
    armed.hits += 1;
    armed.remaining -= 1;
    if (armed.remaining <= 0) this.#armed.splice(index, 1);
    return armed.rule.fault;
  }
}

function matches(rule: FaultRule, method: string, path: string, phase: FaultPhase): boolean {
  if ((rule.phase ?? "before") !== phase) return false;
  if (rule.method !== undefined && rule.method.toUpperCase() !== method.toUpperCase()) return false;
  if (rule.path === undefined) return true;
  if (typeof rule.path === "string") return rule.path === path;
  rule.path.lastIndex = 0;
  return rule.path.test(path);
}

/** A simulator's normal answer, before faults are applied. */
export interface SimulatedResponse {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

/** Status reported for a request whose socket was destroyed without an answer. */
export const NO_ANSWER = 0;

export interface FaultContext {
  /** The normal answer, when the action ran: `delay` and `drip` send it, `malformed` truncates it. */
  original?: SimulatedResponse;
  /** Body for a `status` fault that brings none, in the vendor's error shape. */
  statusBody?: (status: number) => string;
  /** Aborts pending waits (the simulator is closing). */
  signal?: AbortSignal;
}

/** Writes a complete answer; returns its status. */
export function sendResponse(res: ServerResponse, response: SimulatedResponse): number {
  const body = response.body ?? "";
  res.writeHead(response.status, { ...response.headers, "content-length": Buffer.byteLength(body) });
  res.end(body);
  return response.status;
}

/** Answers with a fault; returns the status sent, or `NO_ANSWER` for a dropped connection. */
export async function applyFault(
  res: ServerResponse,
  fault: Fault,
  context: FaultContext = {},
): Promise<number> {
  switch (fault.kind) {
    case "status": {
      const headers: Record<string, string> = {
        "content-type": fault.contentType ?? "application/json; charset=utf-8",
      };
      if (fault.retryAfter !== undefined) headers["retry-after"] = fault.retryAfter;
      const body = fault.body ?? context.statusBody?.(fault.status) ?? defaultStatusBody(fault.status);
      return sendResponse(res, { status: fault.status, headers, body });
    }
    case "delay":
      await wait(fault.ms, undefined, { signal: context.signal });
      return sendResponse(res, context.original ?? { status: 200 });
    case "drip":
      return drip(res, context.original ?? { status: 200 }, fault.ms, context.signal);
    case "malformed":
      return sendResponse(res, {
        status: 200,
        headers: { "content-type": "application/json; charset=utf-8" },
        body: truncatedJson(context.original?.body),
      });
    case "html":
      return sendResponse(res, {
        status: 502,
        headers: { "content-type": "text/html" },
        body: "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n",
      });
    case "empty":
      return sendResponse(res, {
        status: 200,
        headers: { "content-type": "application/json; charset=utf-8" },
      });
    case "drop":
      res.socket?.destroy();
      res.destroy();
      return NO_ANSWER;
    case "redirect":
      return sendResponse(res, { status: fault.status ?? 302, headers: { location: fault.location } });
  }
}

/**
 * Runs one request through the injector: a "before" fault answers instead of the action
 * (a `delay` postpones it); otherwise `act` runs and an "after" fault, if any, replaces
 * or slows its answer. Returns the status sent, or `NO_ANSWER`.
 */
export async function serveWithFaults(options: {
  faults: FaultInjector;
  method: string;
  path: string;
  res: ServerResponse;
  act: () => SimulatedResponse | Promise<SimulatedResponse>;
  statusBody?: (status: number) => string;
  signal?: AbortSignal;
}): Promise<number> {
  const { faults, method, path, res, act, statusBody, signal } = options;
  const before = faults.take(method, path, "before");
  if (before && before.kind !== "delay" && before.kind !== "drip") {
    return applyFault(res, before, { statusBody, signal });
  }
  if (before?.kind === "delay") await wait(before.ms, undefined, { signal });
  const original = await act();
  const fault = faults.take(method, path, "after") ?? (before?.kind === "drip" ? before : undefined);
  if (!fault) return sendResponse(res, original);
  return applyFault(res, fault, { original, statusBody, signal });
}

async function drip(
  res: ServerResponse,
  response: SimulatedResponse,
  ms: number,
  signal: AbortSignal | undefined,
): Promise<number> {
  const body = Buffer.from(response.body ?? "");
  res.writeHead(response.status, { ...response.headers, "content-length": body.length });
  res.flushHeaders();
  const pieces = Math.max(1, Math.min(body.length, 10));
  const pieceSize = Math.ceil(body.length / pieces);
  for (let i = 0; i < pieces; i += 1) {
    await wait(ms / pieces, undefined, { signal });
    if (res.destroyed) return response.status;
    res.write(body.subarray(i * pieceSize, (i + 1) * pieceSize));
  }
  res.end();
  return response.status;
}

function truncatedJson(original: string | undefined): string {
  const fallback = '{"message":"Interna';
  if (!original || original.length < 2) return fallback;
  const prefix = original.slice(0, Math.floor(original.length / 2));
  try {
    JSON.parse(prefix);
    return fallback;
  } catch {
    return prefix;
  }
}

function defaultStatusBody(status: number): string {
  return JSON.stringify({ message: STATUS_CODES[status] ?? "Error", statusCode: status });
}
