// Durations in keyturn's settings ("24h", "90d", "30m", "45s"), as milliseconds: the one grammar
// of the config file (infra/config.ts), the policy tags, the functions' environment and the CLI.
// A whole number above zero, without leading zeros, then s, m, h or d: "0", "0h" or "07d" is no
// duration, so that no setting can be zero by accident (a grace period of nothing).

const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** The grammar, for schemas that check the text itself (the config file's JSON Schema). */
export const DURATION_PATTERN = /^[1-9][0-9]*[smhd]$/;

/** Milliseconds for a duration like "24h" (surrounding blanks ignored), or `undefined` when the text is not one. */
export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim();
  if (!DURATION_PATTERN.test(trimmed)) return undefined;
  const unit = trimmed.slice(-1) as keyof typeof UNIT_MS;
  return Number(trimmed.slice(0, -1)) * UNIT_MS[unit];
}
