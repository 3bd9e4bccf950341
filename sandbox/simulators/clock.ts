// Time source for the vendor simulators. Token expiry (Immuta answers an expired token 401:
// https://documentation.immuta.com/saas/developer-guides/api-intro/marketplace-api) is judged
// against an injected clock, so tests can move time forward instead of sleeping until a token
// runs out.

export interface Clock {
  /** Current time in epoch milliseconds. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A clock that moves only when told to. */
export class ManualClock implements Clock {
  #now: number;

  constructor(start: number | Date = Date.now()) {
    this.#now = toEpochMs(start);
  }

  now(): number {
    return this.#now;
  }

  set(t: number | Date): void {
    this.#now = toEpochMs(t);
  }

  advance(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) {
      throw new RangeError(`ManualClock.advance needs a finite, non-negative number of ms, got ${ms}`);
    }
    this.#now += ms;
  }
}

function toEpochMs(t: number | Date): number {
  const ms = typeof t === "number" ? t : t.getTime();
  if (!Number.isFinite(ms)) throw new RangeError(`ManualClock needs a valid time, got ${String(t)}`);
  return ms;
}
