// The only way keyturn talks to vendors: one undici-based client that enforces HTTPS, bounds every
// attempt by a timeout and by the Lambda's remaining time, retries only what is safe to repeat, never
// follows redirects, and turns every failure into a typed, redacted error (see ./errors.ts).
//
// A 429 is waited out: for Retry-After when the vendor sends it; otherwise for X-RateLimit-Reset,
// read as epoch seconds (or milliseconds) when it is that large and as seconds left when it is small,
// since vendors use both and some document neither (naming X-RateLimit-Limit and X-RateLimit-Remaining
// only: see the providers in functions/providers/); otherwise for the rate-limit window the request declares. A wait longer
// than `maxRateLimitWaitMs`, or one that would end past the Lambda's deadline, is not started: the
// 429 is thrown instead, and the next run tries again.
//
// Nothing here is particular to one vendor: what is (a key header, a token shape, the shape of an
// error body) comes from the provider, in the request (`summarizeProblem`) or through the redactor's
// rules (./redact.ts).

import { isIPv4 } from "node:net";
import { setTimeout as sleepFor } from "node:timers/promises";
import type { Dispatcher } from "undici";
import {
  ConfigurationError,
  ConnectionError,
  DeadlineError,
  DeserializationError,
  HttpError,
  ResponseError,
  TimeoutError,
} from "./errors.ts";
import { isSensitiveKey, redactText, rememberSecret } from "./redact.ts";

export type HttpMethod = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/** What one attempt did; URL without query string, error already redacted. */
export interface HttpAttempt {
  method: HttpMethod;
  url: string;
  /** 1 for the first try, 2 for the first retry, … */
  attempt: number;
  status?: number;
  error?: HttpError;
  durationMs: number;
}

export interface HttpClientOptions {
  /** Names the vendor in errors and diagnostics, as the provider's `vendor` says it. */
  vendor: string;
  /** Per attempt. Default 10 000 ms. */
  timeoutMs?: number;
  /** Default 3. */
  maxRetries?: number;
  /** Default 200 ms. */
  retryBaseMs?: number;
  /** Default 5 000 ms. */
  retryMaxMs?: number;
  /** The longest wait for a rate limit's reset (X-RateLimit-Reset, or a request's window). Default 60 000 ms. */
  maxRateLimitWaitMs?: number;
  /** Time left before the Lambda is killed, e.g. `context.getRemainingTimeInMillis`. */
  remainingTimeMs?: () => number;
  /** Time kept back from `remainingTimeMs` to record the outcome. Default 2 000 ms. */
  safetyMarginMs?: number;
  /** Loopback base URL of the vendor simulators. Default `process.env.KEYTURN_VENDOR_ENDPOINT`; "" for none. */
  endpointOverride?: string;
  dispatcher?: Dispatcher;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  onAttempt?: (attempt: HttpAttempt) => void;
}

export interface HttpRequest {
  method: HttpMethod;
  /** Absolute canonical vendor URL (https, or http on loopback or with `allowPlainHttp`). */
  url: string;
  /**
   * Allows a plain http:// URL to a host that is not loopback. Only a provider sets it, and only for a
   * credential whose pinned settings say `allowPlainHttp: true` (an on-premises installation without HTTPS).
   */
  allowPlainHttp?: boolean;
  /**
   * The vendor's documented rate-limit window (e.g. 30 s). A 429 that says neither Retry-After nor
   * X-RateLimit-Reset is retried after this long, the longest the limit can last.
   */
  rateLimitWindowMs?: number;
  headers?: Record<string, string>;
  query?: Record<string, string>;
  /** Appended as is (only spaces and non-ASCII are percent-encoded), e.g. a vendor's query language. */
  rawQuery?: string;
  /** Sent as JSON. */
  body?: unknown;
  /** Default true for GET, PUT and DELETE; false for POST and PATCH. */
  idempotent?: boolean;
  timeoutMs?: number;
  /** Parse the answer as JSON. Default true; false returns the body as text. */
  expectJson?: boolean;
  /**
   * The vendor's error body (parsed JSON, or a redacted excerpt of text) in one short line for the
   * ResponseError's message, as the provider knows its vendor's error shape. Default
   * `summarizeProblem`: RFC 7807 and OAuth-style fields.
   */
  summarizeProblem?: (problem: unknown) => string;
}

export interface HttpResponse<T> {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** `undefined` when the answer has no body (204, content-length 0). */
  body: T;
}

interface PreparedRequest {
  method: HttpMethod;
  /** Canonical URL without query string: the only URL errors and diagnostics show. */
  url: string;
  origin: string;
  path: string;
  headers: Record<string, string>;
  body: string | undefined;
  idempotent: boolean;
  timeoutMs: number;
  expectJson: boolean;
  rateLimitWindowMs: number | undefined;
  summarizeProblem: (problem: unknown) => string;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_RETRIES = 3;
const DEFAULT_RETRY_BASE_MS = 200;
const DEFAULT_RETRY_MAX_MS = 5_000;
const DEFAULT_SAFETY_MARGIN_MS = 2_000;
const DEFAULT_MAX_RATE_LIMIT_WAIT_MS = 60_000;
const PROBLEM_EXCERPT_CHARS = 500;
const SUMMARY_CHARS = 200;
// X-RateLimit-Reset values from these up are epoch times (after September 2001), not seconds left.
const EPOCH_SECONDS_FLOOR = 1e9;
const EPOCH_MS_FLOOR = 1e12;
const IDEMPOTENT_METHODS = new Set<HttpMethod>(["GET", "PUT", "DELETE"]);

// Codes of the abort reasons this client gives its own signal, so that they share the switch below
// with undici's and Node's codes.
const ATTEMPT_TIMEOUT = "KEYTURN_ATTEMPT_TIMEOUT";
const DEADLINE_REACHED = "KEYTURN_DEADLINE_REACHED";

class AttemptAborted extends Error {
  readonly code: string;

  constructor(code: string) {
    super(code === DEADLINE_REACHED ? "the Lambda's deadline is near" : "the attempt timed out");
    this.name = "AttemptAborted";
    this.code = code;
  }
}

export class HttpClient {
  readonly #vendor: string;
  readonly #timeoutMs: number;
  readonly #maxRetries: number;
  readonly #retryBaseMs: number;
  readonly #retryMaxMs: number;
  readonly #maxRateLimitWaitMs: number;
  readonly #remainingTimeMs: (() => number) | undefined;
  readonly #safetyMarginMs: number;
  readonly #endpointOverride: EndpointOverride | undefined;
  readonly #dispatcher: Dispatcher | undefined;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #random: () => number;
  readonly #onAttempt: ((attempt: HttpAttempt) => void) | undefined;

  constructor(options: HttpClientOptions) {
    this.#vendor = options.vendor;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#maxRetries = options.maxRetries ?? DEFAULT_MAX_RETRIES;
    this.#retryBaseMs = options.retryBaseMs ?? DEFAULT_RETRY_BASE_MS;
    this.#retryMaxMs = options.retryMaxMs ?? DEFAULT_RETRY_MAX_MS;
    this.#maxRateLimitWaitMs = options.maxRateLimitWaitMs ?? DEFAULT_MAX_RATE_LIMIT_WAIT_MS;
    this.#remainingTimeMs = options.remainingTimeMs;
    this.#safetyMarginMs = options.safetyMarginMs ?? DEFAULT_SAFETY_MARGIN_MS;
    this.#dispatcher = options.dispatcher;
    this.#sleep = options.sleep ?? ((ms) => sleepFor(ms));
    this.#random = options.random ?? Math.random;
    this.#onAttempt = options.onAttempt;
    const override = options.endpointOverride ?? process.env.KEYTURN_VENDOR_ENDPOINT;
    this.#endpointOverride = override ? parseEndpointOverride(override, options.vendor) : undefined;
  }

  async request<T = unknown>(req: HttpRequest): Promise<HttpResponse<T>> {
    const prepared = this.#prepare(req);
    let lastFailure: HttpError | undefined;
    for (let attempt = 1; ; attempt++) {
      const budgetMs = this.#budgetMs();
      if (budgetMs <= 0) {
        throw new DeadlineError(
          `${this.#vendor}: not sending ${prepared.method} ${prepared.url}: the Lambda is within its ` +
            `${this.#safetyMarginMs} ms safety margin of its timeout. Raise the function's timeout ` +
            "or let the next invocation try again.",
          { ...this.#context(prepared), cause: lastFailure },
        );
      }
      const startedAt = performance.now();
      let failure: HttpError;
      try {
        const response = await this.#attempt<T>(prepared, budgetMs);
        this.#report({ ...this.#where(prepared, attempt, startedAt), status: response.status });
        return response;
      } catch (error) {
        failure = error instanceof HttpError ? error : this.#transportError(error, prepared, budgetMs);
        const status = failure instanceof ResponseError ? { status: failure.status } : {};
        this.#report({ ...this.#where(prepared, attempt, startedAt), ...status, error: failure });
      }
      if (attempt > this.#maxRetries || !mayRetry(failure, prepared.idempotent)) throw failure;
      const waitMs = this.#waitBeforeRetryMs(attempt, failure, prepared);
      // Sleeping past the deadline would only turn a clear vendor error into a killed Lambda.
      if (waitMs === undefined || waitMs >= this.#budgetMs()) throw failure;
      lastFailure = failure;
      await this.#sleep(waitMs);
    }
  }

  #budgetMs(): number {
    return this.#remainingTimeMs === undefined
      ? Number.POSITIVE_INFINITY
      : this.#remainingTimeMs() - this.#safetyMarginMs;
  }

  /** How long to wait before repeating the request; undefined when waiting is not worth it. */
  #waitBeforeRetryMs(retry: number, failure: HttpError, prepared: PreparedRequest): number | undefined {
    const backoffMs = this.#random() * Math.min(this.#retryMaxMs, this.#retryBaseMs * 2 ** (retry - 1));
    if (!(failure instanceof ResponseError)) return backoffMs;
    if (failure.retryAfterMs !== undefined) return Math.max(failure.retryAfterMs, backoffMs);
    if (failure.status !== 429) return backoffMs;
    const resetMs = failure.rateLimitResetMs ?? prepared.rateLimitWindowMs;
    if (resetMs === undefined) return backoffMs;
    return resetMs > this.#maxRateLimitWaitMs ? undefined : Math.max(resetMs, backoffMs);
  }

  #context(prepared: PreparedRequest): { vendor: string; method: string; url: string } {
    return { vendor: this.#vendor, method: prepared.method, url: prepared.url };
  }

  #where(prepared: PreparedRequest, attempt: number, startedAt: number): HttpAttempt {
    return {
      method: prepared.method,
      url: prepared.url,
      attempt,
      durationMs: Math.round(performance.now() - startedAt),
    };
  }

  #report(attempt: HttpAttempt): void {
    if (this.#onAttempt === undefined) return;
    try {
      this.#onAttempt(attempt);
    } catch {
      // Diagnostics must never change the outcome of a vendor call.
    }
  }

  #prepare(req: HttpRequest): PreparedRequest {
    const canonical = this.#parseCanonicalUrl(req.url, req.allowPlainHttp === true);
    const path = `${canonical.pathname}${buildSearch(canonical, req.query, req.rawQuery)}`;
    const expectJson = req.expectJson ?? true;
    const headers: Record<string, string> = expectJson ? { accept: "application/json" } : {};
    for (const [name, value] of Object.entries(req.headers ?? {})) {
      headers[name.toLowerCase()] = value;
      if (isSensitiveKey(name)) rememberCredential(value);
    }
    let body: string | undefined;
    if (req.body !== undefined) {
      body = JSON.stringify(req.body);
      headers["content-type"] ??= "application/json";
      rememberCredentialsIn(req.body);
    }
    const override = this.#endpointOverride;
    return {
      method: req.method,
      // Redacted once every credential of this request is remembered: some vendors take keys in paths.
      url: redactText(`${canonical.origin}${canonical.pathname}`),
      // The simulators behind the override route by the vendor's host name, the first path segment.
      origin: override === undefined ? canonical.origin : override.origin,
      path: override === undefined ? path : `${override.pathPrefix}/${canonical.host}${path}`,
      headers,
      body,
      idempotent: req.idempotent ?? IDEMPOTENT_METHODS.has(req.method),
      timeoutMs: req.timeoutMs ?? this.#timeoutMs,
      expectJson,
      rateLimitWindowMs: req.rateLimitWindowMs,
      summarizeProblem: req.summarizeProblem ?? summarizeProblem,
    };
  }

  #parseCanonicalUrl(raw: string, allowPlainHttp: boolean): URL {
    let canonical: URL;
    try {
      canonical = new URL(raw);
    } catch {
      // Node's TypeError keeps the whole input, query string included, so it is not kept as the cause.
      throw new ConfigurationError(
        `${this.#vendor}: "${withoutQuery(raw)}" is not an absolute URL; check the configured base URL.`,
        { vendor: this.#vendor, url: raw },
      );
    }
    const shown = `${canonical.protocol}//${canonical.host}${canonical.pathname}`;
    const secure =
      canonical.protocol === "https:" ||
      (canonical.protocol === "http:" && (allowPlainHttp || isLoopback(canonical.hostname)));
    if (!secure) {
      throw new ConfigurationError(
        `${this.#vendor}: refusing to send a request to ${shown}: credentials travel only over https:// ` +
          "(plain http is allowed for loopback addresses, and for a credential whose settings say " +
          "allowPlainHttp: true). Fix the configured base URL.",
        { vendor: this.#vendor, url: shown },
      );
    }
    if (canonical.username !== "" || canonical.password !== "") {
      throw new ConfigurationError(
        `${this.#vendor}: the URL ${shown} carries a user name or password; pass credentials in headers.`,
        { vendor: this.#vendor, url: shown },
      );
    }
    for (const [name, value] of canonical.searchParams) {
      if (isSensitiveKey(name)) rememberSecret(value);
    }
    return canonical;
  }

  async #attempt<T>(prepared: PreparedRequest, budgetMs: number): Promise<HttpResponse<T>> {
    const transport = await loadTransport();
    const limitedByDeadline = budgetMs < prepared.timeoutMs;
    const controller = new AbortController();
    const timer = setTimeout(
      () => controller.abort(new AttemptAborted(limitedByDeadline ? DEADLINE_REACHED : ATTEMPT_TIMEOUT)),
      Math.min(prepared.timeoutMs, budgetMs),
    );
    try {
      const response = await transport.sendRequest(this.#dispatcher ?? transport.sharedAgent(), {
        origin: prepared.origin,
        path: prepared.path,
        method: prepared.method,
        headers: prepared.headers,
        body: prepared.body ?? null,
        signal: controller.signal,
      });
      // Reading every body to the end, even one that is thrown away, lets undici reuse the socket;
      // the signal keeps covering a body that trickles in.
      const text = await response.body.text();
      return this.#interpret<T>(prepared, response.statusCode, response.headers, text);
    } finally {
      clearTimeout(timer);
    }
  }

  #interpret<T>(
    prepared: PreparedRequest,
    status: number,
    headers: Record<string, string | string[] | undefined>,
    text: string,
  ): HttpResponse<T> {
    const context = this.#context(prepared);
    if (status >= 200 && status < 300) {
      if (text === "") return { status, headers, body: undefined as T };
      if (!prepared.expectJson) return { status, headers, body: text as T };
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch (error) {
        // The parser's message quotes the body, which may hold a credential nobody has seen yet
        // (a mint answer cut short), so it is summarised instead of kept as the cause.
        throw new DeserializationError(
          `${this.#vendor} answered ${status} to ${prepared.method} ${prepared.url} with a body that is ` +
            `not JSON (${describeJsonFailure(text, error)}; content-type ${firstHeader(headers["content-type"]) ?? "none"}, ` +
            `${Buffer.byteLength(text)} bytes). Check that the base URL points at the vendor's API.`,
          { ...context, status },
        );
      }
      rememberCredentialsIn(body);
      return { status, headers, body: body as T };
    }
    if (status >= 300 && status < 400) {
      const location = firstHeader(headers.location);
      throw new ConfigurationError(
        `${this.#vendor} redirected ${prepared.method} ${prepared.url} (${status}) to ` +
          `${location === undefined ? "no location" : withoutQuery(location)}; keyturn does not follow ` +
          "redirects, so that credentials never reach another host. Point the base URL at the new address.",
        context,
      );
    }
    const problem = readProblem(text, firstHeader(headers["content-type"]));
    // A provider's summary that finds nothing it knows leaves the body to the default's.
    const summary =
      boundedSummary(prepared.summarizeProblem, problem) || boundedSummary(summarizeProblem, problem);
    const now = Date.now();
    const rateLimited = status === 429;
    throw new ResponseError(
      `${this.#vendor} answered ${status} to ${prepared.method} ${prepared.url}` +
        `${summary === "" ? "" : `: ${summary}`}. ${rateLimited ? rateLimitAdvice(headers) : statusAdvice(status)}`,
      {
        ...context,
        status,
        problem,
        retryAfterMs: parseRetryAfter(firstHeader(headers["retry-after"]), now),
        ...(rateLimited
          ? { rateLimitResetMs: parseRateLimitReset(firstHeader(headers["x-ratelimit-reset"]), now) }
          : {}),
      },
    );
  }

  #transportError(error: unknown, prepared: PreparedRequest, budgetMs: number): HttpError {
    const context = { ...this.#context(prepared), cause: error };
    const attemptMs = Math.min(prepared.timeoutMs, budgetMs);
    const request = `${prepared.method} ${prepared.url}`;
    const host = new URL(prepared.url).host;
    const code = errorCode(error);
    switch (code) {
      case DEADLINE_REACHED:
        return new DeadlineError(
          `${this.#vendor}: stopped ${request} after ${attemptMs} ms to keep the Lambda's ` +
            `${this.#safetyMarginMs} ms safety margin. Raise the function's timeout.`,
          context,
        );
      case ATTEMPT_TIMEOUT:
      case "UND_ERR_CONNECT_TIMEOUT":
      case "UND_ERR_HEADERS_TIMEOUT":
      case "UND_ERR_BODY_TIMEOUT":
      case "ETIMEDOUT":
        return new TimeoutError(
          `${this.#vendor} did not answer ${request} within ${attemptMs} ms. ` +
            "Check the vendor's status page, or raise timeoutMs if it is merely slow.",
          context,
        );
      case "ENOTFOUND":
      case "EAI_AGAIN":
        return new ConnectionError(
          `${this.#vendor}: the host name ${host} did not resolve (${code}) for ${request}. ` +
            "Check the configured base URL and region.",
          context,
        );
      case "ECONNREFUSED":
      case "EHOSTUNREACH":
      case "ENETUNREACH":
        return new ConnectionError(
          `${this.#vendor}: could not connect to ${host} (${code}) for ${request}. ` +
            "Check the configured base URL and whether the vendor is up.",
          context,
        );
      case "ECONNRESET":
      case "EPIPE":
      case "UND_ERR_SOCKET":
      case "UND_ERR_CLOSED":
      case "UND_ERR_RES_CONTENT_LENGTH_MISMATCH":
        return new ConnectionError(
          `${this.#vendor} closed the connection during ${request} before the answer was complete ` +
            `(${code}). If it keeps happening, check the vendor's status page.`,
          context,
        );
      case "CERT_HAS_EXPIRED":
      case "DEPTH_ZERO_SELF_SIGNED_CERT":
      case "SELF_SIGNED_CERT_IN_CHAIN":
      case "UNABLE_TO_VERIFY_LEAF_SIGNATURE":
      case "UNABLE_TO_GET_ISSUER_CERT_LOCALLY":
      case "ERR_TLS_CERT_ALTNAME_INVALID":
        return new ConfigurationError(
          `${this.#vendor}: the TLS certificate of ${host} was rejected (${code}) for ${request}. ` +
            "Check the base URL, or whether a proxy intercepts TLS.",
          context,
        );
      case "UND_ERR_INVALID_ARG":
        return new ConfigurationError(
          `${this.#vendor}: ${request} cannot be sent as built (${errorMessage(error)}). ` +
            "Check its headers and query.",
          context,
        );
      default:
        return new ConnectionError(
          `${this.#vendor}: ${request} failed (${code ?? "no code"}: ${errorMessage(error)}).`,
          context,
        );
    }
  }
}

/**
 * Where ./transport.ts is at run time. In a Lambda bundle it is a file of its own beside index.mjs
 * (infra/keyturn-function.ts builds it and defines KEYTURN_TRANSPORT_FILE), so that a cold start
 * neither evaluates nor even parses undici; from source (the tests, the CLI) it is the module
 * beside this one.
 */
declare const KEYTURN_TRANSPORT_FILE: string | undefined;
const TRANSPORT_FILE = typeof KEYTURN_TRANSPORT_FILE === "string" ? KEYTURN_TRANSPORT_FILE : "./transport.ts";

type Transport = typeof import("./transport.ts");
let loadingTransport: Promise<Transport> | undefined;

/** undici, loaded on the first request of the process rather than with this module. */
function loadTransport(): Promise<Transport> {
  loadingTransport ??= import(new URL(TRANSPORT_FILE, import.meta.url).href) as Promise<Transport>;
  return loadingTransport;
}

/**
 * Whether a failed attempt may be repeated. Only idempotent requests are repeated after a transient
 * failure: a POST that mints a key may have minted it before the connection dropped, the timer fired
 * or a gateway answered 502/503/504, and a second POST would mint a second key whose twin nobody
 * records. A 429 is the exception: rate limiting turns the request away before the vendor acts on it.
 */
function mayRetry(failure: HttpError, idempotent: boolean): boolean {
  if (failure instanceof ResponseError && failure.status === 429) return true;
  return idempotent && failure.retryable;
}

function isLoopback(hostname: string): boolean {
  return (
    hostname === "localhost" || hostname === "[::1]" || (isIPv4(hostname) && hostname.startsWith("127."))
  );
}

interface EndpointOverride {
  origin: string;
  /** The override's path without a trailing slash, often "". */
  pathPrefix: string;
}

function parseEndpointOverride(value: string, vendor: string): EndpointOverride {
  let override: URL | undefined;
  try {
    override = new URL(value);
  } catch {
    override = undefined;
  }
  if (
    override === undefined ||
    (override.protocol !== "http:" && override.protocol !== "https:") ||
    !isLoopback(override.hostname)
  ) {
    throw new ConfigurationError(
      `${vendor}: the vendor endpoint override "${withoutQuery(value)}" (KEYTURN_VENDOR_ENDPOINT) must be ` +
        "an http(s) URL on a loopback address: it exists only to reach the local vendor simulators.",
      { vendor, url: value },
    );
  }
  return { origin: override.origin, pathPrefix: override.pathname.replace(/\/+$/, "") };
}

function withoutQuery(url: string): string {
  const end = url.search(/[?#]/);
  return end === -1 ? url : url.slice(0, end);
}

function buildSearch(canonical: URL, query: Record<string, string> | undefined, rawQuery?: string): string {
  const parts: string[] = [];
  if (canonical.search !== "") parts.push(canonical.search.slice(1));
  if (query !== undefined && Object.keys(query).length > 0) {
    for (const [name, value] of Object.entries(query)) {
      if (isSensitiveKey(name)) rememberSecret(value);
    }
    parts.push(new URLSearchParams(query).toString());
  }
  // HTTP forbids spaces and non-ASCII in a request line; everything else goes out as written.
  if (rawQuery) parts.push(rawQuery.replace(/[^\x21-\x7e]/gu, (char) => encodeURIComponent(char)));
  return parts.length === 0 ? "" : `?${parts.join("&")}`;
}

function rememberCredential(value: string): void {
  rememberSecret(value);
  // "Bearer <token>", "Basic <base64>": the credential alone also shows up in echoes.
  const credential = /^[A-Za-z][\w-]*\s+(\S+)$/.exec(value)?.[1];
  rememberSecret(credential);
}

function rememberCredentialsIn(value: unknown): void {
  if (typeof value !== "object" || value === null) return;
  for (const [key, item] of Object.entries(value)) {
    if (typeof item === "string" && isSensitiveKey(key)) rememberCredential(item);
    else rememberCredentialsIn(item);
  }
}

function firstHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function errorCode(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const { code, errors } = error as { code?: unknown; errors?: unknown };
  if (typeof code === "string") return code;
  // Node's happy-eyeballs connect reports one failure per address in an AggregateError.
  if (Array.isArray(errors)) return errorCode(errors[0]);
  return undefined;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function describeJsonFailure(text: string, error: unknown): string {
  if (text.trimStart().startsWith("<")) return "it looks like HTML";
  if (error instanceof SyntaxError && /end of JSON input|Unterminated/i.test(error.message)) {
    return "it ends early, as if cut short";
  }
  return "it is malformed";
}

function readProblem(text: string, contentType: string | undefined): unknown {
  if (text === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    const readable = contentType?.includes("html")
      ? text.replace(/<(script|style)\b[\s\S]*?<\/\1>/gi, " ").replace(/<[^>]*>/g, " ")
      : text;
    // Redacted before it is cut, so that a cut cannot leave half a secret unrecognised.
    return redactText(readable).replace(/\s+/g, " ").trim().slice(0, PROBLEM_EXCERPT_CHARS);
  }
}

/**
 * The default summary of an error body: a text excerpt as it is; of JSON, the RFC 7807 (title,
 * detail), OAuth-style (error, error_description) and plain `message` fields, each once.
 */
function summarizeProblem(problem: unknown): string {
  if (typeof problem === "string") return problem;
  if (typeof problem !== "object" || problem === null) return "";
  const fields = problem as Record<string, unknown>;
  const texts = ["title", "error", "detail", "message", "error_description"]
    .map((key) => fields[key])
    .filter((text): text is string => typeof text === "string" && text !== "");
  return [...new Set(texts)].join(": ");
}

/**
 * A provider's summary, redacted and bounded (redacted whole before the cut, so that a cut
 * cannot leave part of a secret unrecognised): the body is the vendor's, and so is what a
 * provider's summary picks out of it. A summary that throws counts as none.
 */
function boundedSummary(summarize: (problem: unknown) => string, problem: unknown): string {
  let summary: unknown;
  try {
    summary = summarize(problem);
  } catch {
    return "";
  }
  return typeof summary === "string" ? redactText(summary).slice(0, SUMMARY_CHARS) : "";
}

function statusAdvice(status: number): string {
  switch (status) {
    case 400:
    case 422:
      return "The vendor rejected the request as built; its problem details say which field.";
    case 401:
      return "Check that the credential is valid, not expired or revoked, and sent to the right region.";
    case 403:
      return "The credential lacks a permission this call needs.";
    case 404:
      return "Check the base URL and the id in the path; the resource may already be gone.";
    case 409:
      return "The request conflicts with the resource's current state at the vendor.";
    default:
      return status >= 500
        ? "The vendor failed to handle the request; try again later and check its status page."
        : "Check the request against the vendor's API reference.";
  }
}

/** What a 429's rate-limit headers said, numbers only (the vendor chooses these texts). */
function rateLimitAdvice(headers: Record<string, string | string[] | undefined>): string {
  const number = (name: string) => {
    const value = firstHeader(headers[name])?.trim();
    return value !== undefined && /^\d{1,13}$/.test(value) ? value : undefined;
  };
  const limit = number("x-ratelimit-limit");
  const remaining = number("x-ratelimit-remaining");
  const reset = number("x-ratelimit-reset");
  const said = [
    ...(remaining === undefined
      ? []
      : [`X-RateLimit-Remaining ${remaining}${limit === undefined ? "" : ` of ${limit}`}`]),
    firstHeader(headers["retry-after"]) === undefined ? "no Retry-After" : "a Retry-After",
    ...(reset === undefined ? [] : [`X-RateLimit-Reset ${reset}`]),
  ];
  return (
    `The vendor is rate limiting (${said.join(", ")}): keyturn waits for the limit to reset when the ` +
    "Lambda's time allows, and otherwise leaves the call to the next run."
  );
}

/**
 * X-RateLimit-Reset in milliseconds from `now`. Vendors send epoch seconds (GitHub), epoch
 * milliseconds or seconds left (IETF draft): a value too large to be a wait of a few years is a time.
 */
function parseRateLimitReset(value: string | undefined, now: number): number | undefined {
  const trimmed = value?.trim();
  if (trimmed === undefined || !/^\d+(\.\d+)?$/.test(trimmed)) return undefined;
  const number = Number(trimmed);
  if (number >= EPOCH_MS_FLOOR) return Math.max(0, Math.ceil(number - now));
  if (number >= EPOCH_SECONDS_FLOOR) return Math.max(0, Math.ceil(number * 1000 - now));
  return Math.ceil(number * 1000);
}

/** Retry-After as delta-seconds or an HTTP date, in milliseconds from `now`. */
function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
