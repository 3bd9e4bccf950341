// Redaction shared by the HTTP layer and the logger: no credential value may reach an error message,
// a diagnostic or a log line. Secrets are blanked three ways: by value (every credential the process
// has handled is remembered), by key (fields such as `authorization` or `token`) and by shape
// (`Bearer …`, a JWT). What is particular to a vendor (its key header, its token shape) is not
// written here: each provider declares it (`redaction` in functions/providers/types.ts) and the
// provider registry passes it in with `addRedactionRules`, as elastic-transport's redaction takes
// its extra keys as options.

export const REDACTED = "[REDACTED]";

// Values shorter than this would blank ordinary words in messages; no vendor issues keys that short.
const MIN_SECRET_LENGTH = 8;
// A warm Lambda keeps the registry between invocations; the oldest entries go first once it is full,
// by which time those credentials have long been rotated.
const MAX_REMEMBERED = 1_000;

// Compared after lower-casing and dropping "-" and "_", so `api-key`, `API_KEY` and `apiKey` all match.
const SENSITIVE_KEYS = new Set(
  [
    "authorization",
    "proxy-authorization",
    "x-api-key",
    "cookie",
    "set-cookie",
    "token",
    "accesstoken",
    "refreshtoken",
    "apikey",
    "api_key",
    "password",
    "secret",
    "secretstring",
    "clientsecret",
  ].map(normalizeKey),
);

const BEARER = /\bBearer\s+[^\s"'`,\\]+/gi;
/** A JWT (header.claims.signature, base64url; the header always starts "eyJ"), as many vendors' tokens are. */
const JWT = /\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]+/g;

/** What a vendor adds to the rules above; see `addRedactionRules`. */
export interface RedactionRules {
  /** Header and field names whose values are secret wherever they appear (e.g. a vendor's key header). */
  readonly sensitiveKeys?: readonly string[];
  /**
   * Shapes of the vendor's secrets, blanked in any text even when never seen before. Each must be
   * global (flag g). A pattern with a capture group keeps what group 1 matched (a token's public
   * id, say) and blanks the rest of the match.
   */
  readonly tokenPatterns?: readonly RegExp[];
}

const tokenPatterns: RegExp[] = [];

/**
 * Adds a vendor's sensitive keys and token shapes to the rules, for the life of the process. The
 * provider registry (functions/providers/registry.ts) calls it for every provider it holds.
 */
export function addRedactionRules(rules: RedactionRules): void {
  for (const key of rules.sensitiveKeys ?? []) SENSITIVE_KEYS.add(normalizeKey(key));
  for (const pattern of rules.tokenPatterns ?? []) {
    if (!pattern.global) {
      throw new TypeError(`redaction pattern ${pattern} must have the g flag, or it blanks one match only`);
    }
    if (!tokenPatterns.some((known) => known.source === pattern.source && known.flags === pattern.flags)) {
      tokenPatterns.push(pattern);
    }
  }
}

const remembered = new Set<string>();
let rememberedPattern: RegExp | null | undefined;
const MAX_PATTERN_LENGTH = 20_000;

function normalizeKey(key: string): string {
  return key.toLowerCase().replace(/[-_]/g, "");
}

export function isSensitiveKey(key: string): boolean {
  return SENSITIVE_KEYS.has(normalizeKey(key));
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function add(value: string): void {
  if (value.length < MIN_SECRET_LENGTH || remembered.has(value)) return;
  if (remembered.size >= MAX_REMEMBERED) {
    const oldest = remembered.values().next().value;
    if (oldest !== undefined) remembered.delete(oldest);
  }
  remembered.add(value);
  rememberedPattern = undefined;
}

export function rememberSecret(value: string | undefined): void {
  if (value === undefined) return;
  add(value);
  // A secret sent in a query string shows up percent-encoded in echoes and URLs.
  add(encodeURIComponent(value));
}

export function forgetSecrets(): void {
  remembered.clear();
  rememberedPattern = undefined;
}

/** Longest first, so that a secret containing another is blanked whole. */
function rememberedLongestFirst(): string[] {
  return [...remembered].sort((a, b) => b.length - a.length);
}

/**
 * One alternation of every remembered value, or `null` when that would be too large a
 * regular expression for the engine (a huge secret, found by the bad-input corpus): then
 * each value is replaced in turn instead.
 */
function rememberedRegExp(): RegExp | null | undefined {
  if (remembered.size === 0) return undefined;
  if (rememberedPattern === undefined) {
    const alternatives = rememberedLongestFirst().map(escapeRegExp);
    const size = alternatives.reduce((total, alternative) => total + alternative.length, 0);
    try {
      rememberedPattern = size > MAX_PATTERN_LENGTH ? null : new RegExp(alternatives.join("|"), "g");
    } catch {
      rememberedPattern = null;
    }
  }
  return rememberedPattern;
}

function withoutRemembered(text: string): string {
  const pattern = rememberedRegExp();
  if (pattern === undefined) return text;
  if (pattern !== null) {
    try {
      return text.replace(pattern, REDACTED);
    } catch {
      // The engine compiles lazily and may refuse the pattern only now: fall back for good.
      rememberedPattern = null;
    }
  }
  let redacted = text;
  for (const value of rememberedLongestFirst()) redacted = redacted.replaceAll(value, REDACTED);
  return redacted;
}

export function redactText(text: string): string {
  let redacted = withoutRemembered(text).replace(BEARER, `Bearer ${REDACTED}`);
  for (const pattern of tokenPatterns) {
    redacted = redacted.replace(pattern, (match: string, kept: unknown) =>
      typeof kept === "string" && match.startsWith(kept) ? `${kept}${REDACTED}` : REDACTED,
    );
  }
  return redacted.replace(JWT, REDACTED);
}

function isHeadersLike(value: object): value is { entries(): IterableIterator<[string, string]> } {
  const candidate = value as Record<string, unknown>;
  return (
    typeof candidate.entries === "function" &&
    typeof candidate.get === "function" &&
    typeof candidate.has === "function" &&
    typeof candidate.append === "function"
  );
}

function redactEntry(key: unknown, value: unknown, seen: WeakMap<object, unknown>): unknown {
  if (typeof key === "string" && isSensitiveKey(key) && value !== undefined && value !== null) {
    return REDACTED;
  }
  return redactDeep(value, seen);
}

function redactError(error: Error, seen: WeakMap<object, unknown>): Error {
  // Keeps the prototype so that `instanceof` and the logger's error formatting still apply.
  const copy = Object.create(Object.getPrototypeOf(error)) as Error;
  seen.set(error, copy);
  for (const key of Reflect.ownKeys(error)) {
    const descriptor = Object.getOwnPropertyDescriptor(error, key);
    if (descriptor === undefined || !("value" in descriptor)) continue;
    const value = typeof key === "string" ? redactEntry(key, descriptor.value, seen) : descriptor.value;
    Object.defineProperty(copy, key, { ...descriptor, value });
  }
  for (const key of ["name", "message", "stack"] as const) {
    if (!Object.hasOwn(copy, key) && typeof error[key] === "string") {
      Object.defineProperty(copy, key, {
        value: redactText(error[key]),
        writable: true,
        configurable: true,
        enumerable: false,
      });
    }
  }
  return copy;
}

function redactDeep(value: unknown, seen: WeakMap<object, unknown>): unknown {
  if (typeof value === "string") return redactText(value);
  if (typeof value !== "object" || value === null) return value;
  if (seen.has(value)) return seen.get(value);
  if (value instanceof Error) return redactError(value, seen);
  if (value instanceof Date) return new Date(value.getTime());
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return value;
  if (Array.isArray(value)) {
    const copy: unknown[] = [];
    seen.set(value, copy);
    for (const item of value) copy.push(redactDeep(item, seen));
    return copy;
  }
  if (value instanceof Map) {
    const copy = new Map<unknown, unknown>();
    seen.set(value, copy);
    for (const [key, item] of value) copy.set(key, redactEntry(key, item, seen));
    return copy;
  }
  if (value instanceof Set) {
    const copy = new Set<unknown>();
    seen.set(value, copy);
    for (const item of value) copy.add(redactDeep(item, seen));
    return copy;
  }
  if (isHeadersLike(value)) {
    const copy: Record<string, unknown> = {};
    seen.set(value, copy);
    for (const [key, item] of value.entries()) copy[key] = redactEntry(key, item, seen);
    return copy;
  }
  const copy = Object.create(Object.getPrototypeOf(value)) as Record<string, unknown>;
  seen.set(value, copy);
  for (const [key, item] of Object.entries(value)) copy[key] = redactEntry(key, item, seen);
  return copy;
}

export function redactValue<T>(value: T): T {
  return redactDeep(value, new WeakMap()) as T;
}

export function jsonReplacer(key: string, value: unknown): unknown {
  if (key !== "" && isSensitiveKey(key) && value !== undefined && value !== null) return REDACTED;
  if (typeof value === "string") return redactText(value);
  // JSON.stringify turns a Map or Headers into {}; as plain objects their keys get the rules above.
  if (value instanceof Map) return Object.fromEntries(value);
  if (typeof value === "object" && value !== null && !Array.isArray(value) && isHeadersLike(value)) {
    return Object.fromEntries(value.entries());
  }
  return value;
}
