// Time budgets of the monitor's sweep (functions/engine/budget.ts): work that outlives its budget
// is reported as the credential's BudgetExceededError; work the sweep shares (held budget) does
// not count against it. Timers decide, never an assertion on elapsed time.

import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, test } from "vitest";
import { Budget, BudgetExceededError, withinBudget } from "#engine/budget.ts";

describe("withinBudget", () => {
  test("answers the work's result, or its own error, while the budget lasts", async () => {
    await expect(withinBudget(new Budget(5_000), "keyturn/a", "Test", async () => 42)).resolves.toBe(42);
    const own = new Error("the vendor said no");
    await expect(
      withinBudget(new Budget(5_000), "keyturn/a", "Test", async () => {
        throw own;
      }),
    ).rejects.toBe(own);
  });

  test("work that never ends is cut at the budget's end, naming the credential", async () => {
    const error = await withinBudget(
      new Budget(20),
      "keyturn/slow",
      "Monitor sweep",
      () => new Promise(() => {}),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BudgetExceededError);
    expect(error).toMatchObject({ credential: "keyturn/slow", retryable: true });
    expect((error as Error).message).toMatch(/keyturn\/slow.*20 ms budget/);
  });

  test("work that would fail only after its budget's end is reported as the budget's failure", async () => {
    const budget = new Budget(10);
    const late = new Error("DeadlineError from the HTTP client");
    const error = await withinBudget(budget, "keyturn/b", "Test", async () => {
      await sleep(60);
      throw late;
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BudgetExceededError);
  });

  test("time the budget is held (the sweep's shared listing) does not count against it", async () => {
    const budget = new Budget(30);
    const answer = await withinBudget(budget, "keyturn/c", "Test", async () => {
      const listed = await budget.excluding(async () => {
        await sleep(120);
        return "listing";
      });
      return `${listed} done`;
    });
    expect(answer).toBe("listing done");
    expect(budget.spent).toBe(false);
  });
});
