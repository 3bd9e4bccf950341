// The ways a call to a vendor can fail, one class each, so that callers branch on the kind of failure
// and on `retryable` instead of parsing messages. `retryable` says the failure is transient (asking
// again later may succeed); whether the HTTP client itself repeats a request also depends on whether
// the request is idempotent. Messages, URLs, causes and problem bodies are redacted on construction.

import { redactText, redactValue } from "./redact.ts";

export interface HttpErrorOptions {
  vendor: string;
  method?: string;
  /** Canonical vendor URL; anything after `?` or `#` is dropped. */
  url?: string;
  cause?: unknown;
}

function withoutQuery(url: string): string {
  const end = url.search(/[?#]/);
  return end === -1 ? url : url.slice(0, end);
}

export class HttpError extends Error {
  override name = "HttpError";
  readonly retryable: boolean;
  readonly vendor: string;
  readonly method: string;
  readonly url: string;

  constructor(message: string, options: HttpErrorOptions & { retryable: boolean }) {
    super(
      redactText(message),
      options.cause === undefined ? undefined : { cause: redactValue(options.cause) },
    );
    this.retryable = options.retryable;
    this.vendor = options.vendor;
    this.method = options.method ?? "";
    this.url = redactText(withoutQuery(options.url ?? ""));
  }
}

/** The vendor did not answer within the per-attempt timeout. */
export class TimeoutError extends HttpError {
  override name = "TimeoutError";

  constructor(message: string, options: HttpErrorOptions) {
    super(message, { ...options, retryable: true });
  }
}

/** The Lambda has too little time left to start, finish or repeat a call before it is killed. */
export class DeadlineError extends TimeoutError {
  override name = "DeadlineError";
  override readonly retryable = false;
}

/** No usable connection: refused, reset, closed early, or the host name did not resolve. */
export class ConnectionError extends HttpError {
  override name = "ConnectionError";

  constructor(message: string, options: HttpErrorOptions) {
    super(message, { ...options, retryable: true });
  }
}

// 429: rate limited; 502/503/504: a gateway or the vendor is briefly unavailable.
const TRANSIENT_STATUSES = new Set([429, 502, 503, 504]);

export interface ResponseErrorOptions extends HttpErrorOptions {
  status: number;
  /** The answer's body: parsed JSON (such as RFC 7807 problem details) or a short text excerpt. */
  problem?: unknown;
  retryAfterMs?: number;
  /** A 429's X-RateLimit-Reset, in milliseconds from when the answer arrived. */
  rateLimitResetMs?: number | undefined;
}

/** The vendor answered with a status outside 2xx. */
export class ResponseError extends HttpError {
  override name = "ResponseError";
  readonly status: number;
  readonly problem?: unknown;
  readonly retryAfterMs?: number;
  readonly rateLimitResetMs?: number;

  constructor(message: string, options: ResponseErrorOptions) {
    super(message, { ...options, retryable: TRANSIENT_STATUSES.has(options.status) });
    this.status = options.status;
    if (options.problem !== undefined) this.problem = redactValue(options.problem);
    if (options.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
    if (options.rateLimitResetMs !== undefined) this.rateLimitResetMs = options.rateLimitResetMs;
  }
}

/** A successful answer whose body is not the JSON the caller expects. */
export class DeserializationError extends HttpError {
  override name = "DeserializationError";
  readonly status: number;

  constructor(message: string, options: HttpErrorOptions & { status: number }) {
    super(message, { ...options, retryable: false });
    this.status = options.status;
  }
}

/** A request keyturn refuses to send or to follow: plain HTTP, a bad URL, a redirect, a TLS failure. */
export class ConfigurationError extends HttpError {
  override name = "ConfigurationError";

  constructor(message: string, options: HttpErrorOptions) {
    super(message, { ...options, retryable: false });
  }
}
