// Time budgets of the monitor's sweep (issue 16, "Bounded"). Each credential's work in a sweep
// and each reconciliation group get a budget; a vendor that hangs costs at most that, never the
// rest of the sweep. Two things enforce it:
//
// - the vendor HTTP client of the work is given the budget's time left as its deadline (the
//   monitor's `http` factory), so that a call in flight is aborted when the budget ends and no
//   vendor call outlives it;
// - the work is raced against a timer, for what the HTTP client does not cover (an AWS call
//   that hangs): past its budget the work is reported as failed (BudgetExceededError, retryable,
//   naming the credential) and the sweep goes on. A raced-out AWS call may still land later; it
//   is one of the idempotent writes every sweep redoes anyway.

import { KeyturnError } from "./errors.ts";

/** A credential's (or a reconciliation group's) work in a sweep ran out of its time budget. */
export class BudgetExceededError extends KeyturnError {
  override name = "BudgetExceededError";
}

/** Time left of one budget, on a monotonic clock. */
export class Budget {
  readonly ms: number;
  readonly #clock: () => number;
  #endsAt: number;
  /** Since when the budget is held (see `excluding`); undefined while it runs. */
  #heldSince: number | undefined;

  constructor(ms: number, clock: () => number = () => performance.now()) {
    this.ms = ms;
    this.#clock = clock;
    this.#endsAt = clock() + ms;
  }

  remainingMs(): number {
    return this.#endsAt - (this.#heldSince ?? this.#clock());
  }

  get held(): boolean {
    return this.#heldSince !== undefined;
  }

  get spent(): boolean {
    return !this.held && this.remainingMs() <= 0;
  }

  /**
   * Runs `work` with the budget held: its time is the sweep's shared work (a listing every
   * credential's revocation uses), not this credential's.
   */
  async excluding<T>(work: () => Promise<T>): Promise<T> {
    const since = this.#heldSince;
    if (since !== undefined) return work();
    this.#heldSince = this.#clock();
    try {
      return await work();
    } finally {
      this.#endsAt += this.#clock() - (this.#heldSince ?? this.#clock());
      this.#heldSince = undefined;
    }
  }
}

/**
 * Runs `work` within `budget`: its result, or its own error while the budget lasts; past the
 * budget, a BudgetExceededError for `credential` (`doing` says what was cut short). The error of a
 * vendor call the HTTP client stopped at the budget's end is reported as the budget's too.
 */
export async function withinBudget<T>(
  budget: Budget,
  credential: string,
  doing: string,
  work: () => Promise<T>,
): Promise<T> {
  const exceeded = (cause?: unknown) =>
    new BudgetExceededError(
      `${doing} for credential "${credential}" did not finish within its ${budget.ms} ms budget ` +
        "(a vendor or AWS call that did not answer in time); the sweep went on with the others and the " +
        "next sweep tries again. If it keeps happening, check the vendor's status page.",
      { credential, retryable: true, ...(cause === undefined ? {} : { cause }) },
    );
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    // The budget may have been held meanwhile (Budget.excluding): wait for its new end.
    const arm = () => {
      const wait = Math.max(budget.held ? 50 : 0, budget.remainingMs());
      timer = setTimeout(() => (budget.spent ? reject(exceeded()) : arm()), wait);
    };
    arm();
  });
  const running = work();
  // Once raced out, the work's own later failure is nobody's to hear: keep it from being unhandled.
  running.catch(() => {});
  try {
    return await Promise.race([running, timeout]);
  } catch (error) {
    if (error instanceof BudgetExceededError) throw error;
    throw budget.spent ? exceeded(error) : error;
  } finally {
    clearTimeout(timer);
  }
}
