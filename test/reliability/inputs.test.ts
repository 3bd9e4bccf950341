// A reduced, deterministic subset of `npm run sweep` (test/reliability/sweep.ts), so that
// every change is held to the same promises: every third bad input of the corpus, dealt into
// five shards so that no test runs long.

import { expect, inject, test } from "vitest";
import { captureOutput } from "../support/leak-guard.ts";
import { type BadInputCase, badInputCorpus } from "./bad-inputs.ts";

const SHARDS = 5;

/**
 * Deals every third case to the shards in turn. A slow drip costs a timeout on every attempt
 * (about 4 s), the rest a few milliseconds each: the drips are dealt on their own, so that no
 * shard gets two of them.
 */
function shardOf(shard: number): (c: BadInputCase, index: number) => boolean {
  const dealt = { slow: 0, quick: 0 };
  return (c, index) => {
    if (index % 3 !== 0) return false;
    const kind = c.name.endsWith("a slow drip past the timeout") ? "slow" : "quick";
    return dealt[kind]++ % SHARDS === shard;
  };
}

test.for(Array.from({ length: SHARDS }, (_, shard) => shard))(
  "every third bad input (shard %i of 5) gets a typed error naming the credential, and changes nothing",
  async (shard, { signal }) => {
    const output = captureOutput();
    const report = await badInputCorpus(inject("awsEndpoint"), { select: shardOf(shard), signal }).finally(
      () => output.restore(),
    );

    expect(report.failures).toEqual([]);
    expect(report.badInputs).toBeGreaterThanOrEqual(14);
    expect(report.unhandledRejections).toBe(0);
    expect(report.secrets.filter((secret) => output.text().includes(secret))).toEqual([]);
  },
);
