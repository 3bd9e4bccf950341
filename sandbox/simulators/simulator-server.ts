// The request plumbing every vendor simulator shares (Immuta, SoftwareOne, Everflow, Incorta):
// each request's body is read, run through the fault injector (./faults.ts) and answered by the
// simulator, then kept in the request log; and the controls every simulator offers beside its
// vendor's calls (its URL, clock, faults, the secret values it handed out, the log, close).
// This module knows no vendor: a simulator says where a request goes, what it answers and how
// its vendor words an error.

import type { IncomingMessage, ServerResponse } from "node:http";
import type { Clock } from "./clock.ts";
import { FaultInjector, NO_ANSWER, type SimulatedResponse, sendResponse, serveWithFaults } from "./faults.ts";
import { serveOnLoopback } from "./loopback-server.ts";

/** What every simulator offers beside its vendor's calls; `R` is its request log's entry. */
export interface SimulatorControls<R> {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  readonly clock: Clock;
  /** Checked on every API request (not on a simulated web UI's); paths are matched after the host segment. */
  readonly faults: FaultInjector;
  /** Every secret value this simulator has handed out, for leak scans in tests. */
  readonly issuedValues: readonly string[];
  /** A snapshot of the API requests answered so far (never their credentials or bodies). */
  readonly requests: readonly R[];
  resetRequests(): void;
  /** Stops listening and closes every connection, idle keep-alive ones included. */
  close(): Promise<void>;
}

/** One request as the log sees it, once answered. */
export interface AnsweredRequest<T> {
  /** Where it went (the simulator's `locate`). */
  target: T;
  method: string;
  /** Status sent; `NO_ANSWER` (0) when the connection was dropped. */
  status: number;
  /** Arrival time on the simulator's clock, epoch ms. */
  at: number;
}

export interface SimulatorServerOptions<T extends { path: string }, R> {
  clock: Clock;
  /** Default 0: a free port. */
  port?: number | undefined;
  /** The simulator's own list of the values it handed out, which it appends to. */
  issuedValues: readonly string[];
  /** Where a request goes, from its URL: at least the vendor's path, which fault rules match. */
  locate(url: string): T;
  /** The simulator's answer to a request its faults let through. */
  answer(
    target: T,
    method: string,
    req: IncomingMessage,
    body: Buffer,
  ): SimulatedResponse | Promise<SimulatedResponse>;
  /** The body of a `status` fault that brings none, in the vendor's error shape. */
  statusBody(status: number, target: T): string;
  /** The request log's entry for an answered request. */
  logEntry(request: AnsweredRequest<T>): R;
  /**
   * Requests answered as they are, neither fault-injected nor logged (Everflow's web UI, which
   * stands for a person). Default none.
   */
  bypass?(target: T): boolean;
}

export interface SimulatorServer<R> {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  /** The simulator: its vendor's `calls` with the controls beside them (live: a getter stays a getter). */
  with<S extends SimulatorControls<R>>(calls: Omit<S, keyof SimulatorControls<R>>): S;
}

/** Starts a simulator's HTTP server on the loopback interface. */
export async function startSimulatorServer<T extends { path: string }, R>(
  options: SimulatorServerOptions<T, R>,
): Promise<SimulatorServer<R>> {
  const { clock, issuedValues } = options;
  const faults = new FaultInjector();
  const closing = new AbortController();
  let requests: R[] = [];

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const at = clock.now();
    const method = req.method ?? "GET";
    const target = options.locate(req.url ?? "/");
    const bypass = options.bypass?.(target) ?? false;
    let status = NO_ANSWER;
    try {
      const body = await readBody(req);
      const act = () => options.answer(target, method, req, body);
      if (bypass) {
        sendResponse(res, await act());
        return;
      }
      status = await serveWithFaults({
        faults,
        method,
        path: target.path,
        res,
        signal: closing.signal,
        statusBody: (faultStatus) => options.statusBody(faultStatus, target),
        act,
      });
    } catch {
      // The client went away mid-request or the simulator is closing: nobody is left to answer.
      res.destroy();
    } finally {
      if (!bypass) requests.push(options.logEntry({ target, method, status, at }));
    }
  };

  const served = await serveOnLoopback(handle, options.port);
  const controls: SimulatorControls<R> = {
    url: served.url,
    clock,
    faults,
    get issuedValues() {
      return [...issuedValues];
    },
    get requests() {
      return [...requests];
    },
    resetRequests() {
      requests = [];
    },
    close() {
      closing.abort();
      return served.close();
    },
  };
  return {
    url: served.url,
    with: <S extends SimulatorControls<R>>(calls: Omit<S, keyof SimulatorControls<R>>): S =>
      Object.defineProperties(calls, Object.getOwnPropertyDescriptors(controls)) as S,
  };
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
