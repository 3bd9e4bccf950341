// --timeout for commands that wait for a rotation.

import { parseDuration } from "#engine/duration.ts";
import { UsageError } from "../args.ts";

export const DEFAULT_ROTATION_TIMEOUT_MS = 5 * 60_000;

export function rotationTimeoutMs(options: Record<string, string | boolean>, command: string): number {
  const text = options.timeout;
  if (typeof text !== "string") return DEFAULT_ROTATION_TIMEOUT_MS;
  const ms = parseDuration(text);
  if (ms === undefined || ms <= 0) {
    throw new UsageError(`--timeout must be a duration such as 90s, 5m or 1h`, command);
  }
  return ms;
}
