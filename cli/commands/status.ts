// keyturn status: every managed credential in one table (or JSON), from ListSecrets alone.

import type { FailureStreak } from "#aws/failure-streaks.ts";
import type { KeyRecord } from "#aws/record-store.ts";
import { Tag } from "#engine/settings.ts";
import type { CommandRun, ExitCode } from "../command.ts";
import { type Colour, relative, shortDuration } from "../output.ts";
import { type CredentialState, type CredentialStatus, credentialStatus, departedStatus } from "../status.ts";

const STATE_COLOURS: Record<CredentialState, Colour> = {
  ok: "green",
  expiring: "yellow",
  "replace-due": "yellow",
  rotating: "cyan",
  expired: "red",
  invalid: "red",
  deleted: "red",
  departed: "yellow",
  "owned-elsewhere": "red",
};

function cells(row: CredentialStatus, now: Date): string[] {
  const nextAt = row.nextAction.at ? new Date(row.nextAction.at) : undefined;
  let when = "-";
  if (nextAt) {
    when = row.nextAction.overdue
      ? nextAt.getTime() >= now.getTime() - 60_000
        ? "now"
        : `overdue ${shortDuration(now.getTime() - nextAt.getTime())}`
      : relative(nextAt, now);
  }
  let expires = "unknown";
  if (row.expiresAt === "never") expires = "never";
  else if (row.expiresAt) expires = relative(new Date(row.expiresAt), now);
  return [
    row.credential,
    row.provider ?? "?",
    row.mode ?? "?",
    row.issuedAt ? shortDuration(now.getTime() - Date.parse(row.issuedAt)) : "-",
    row.lastRotation ? relative(new Date(row.lastRotation), now) : "never",
    row.nextAction.action,
    when,
    expires,
    row.state,
  ];
}

/** A failure older than this is history, not shown. */
const RECENT_FAILURE_MS = 7 * 86_400_000;

export async function run({ out, connect }: CommandRun): Promise<ExitCode> {
  const connection = await connect();
  const now = connection.now();
  const rows: CredentialStatus[] = [];
  const records = new Map<string, KeyRecord>();
  const failures = new Map<string, FailureStreak>();
  let recordsError: string | undefined;
  await out.progress(`listing keyturn's credentials in ${connection.where}`, async () => {
    // keyturn's records: what it stored for credentials that are gone (deleted, or out of the config).
    try {
      for await (const page of connection.records.all())
        for (const record of page) records.set(record.credential, record);
      // The last failure of each credential, as the monitor announced it, within the last week.
      for await (const page of connection.failures.all()) {
        for (const streak of page) {
          if (now.getTime() - streak.last.getTime() > RECENT_FAILURE_MS) continue;
          const known = failures.get(streak.credential);
          if (!known || known.last < streak.last) failures.set(streak.credential, streak);
        }
      }
    } catch (error) {
      recordsError = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    }
    for await (const page of connection.store.listTagged(Tag.provider, undefined, { includeDeleted: true })) {
      for (const description of page)
        rows.push(credentialStatus(description, now, connection.pinned, { records }));
    }
  });
  for (const record of records.values()) {
    const row = departedStatus(record, connection.pinned);
    if (row && !rows.some((listed) => listed.secret === row.secret)) rows.push(row);
  }
  rows.sort((a, b) => a.credential.localeCompare(b.credential));
  for (const row of rows) {
    const failure = failures.get(row.secret);
    if (failure) {
      row.lastFailure = {
        action: failure.action,
        since: failure.since.toISOString(),
        at: failure.last.toISOString(),
        error: failure.error,
      };
    }
  }

  if (out.json) {
    out.result({ generatedAt: now.toISOString(), credentials: rows });
    return 0;
  }
  if (rows.length === 0) {
    out.note(
      `No credentials managed by keyturn in ${connection.where}: no secret carries the ${Tag.provider} tag.`,
    );
    return 0;
  }
  out.table(
    ["CREDENTIAL", "PROVIDER", "MODE", "AGE", "LAST ROTATION", "NEXT ACTION", "WHEN", "EXPIRES", "STATE"],
    rows.map((row) => {
      const colours: (Colour | undefined)[] = [];
      colours[6] = row.nextAction.overdue ? "yellow" : undefined;
      colours[8] = STATE_COLOURS[row.state];
      return { cells: cells(row, now), colours };
    }),
  );
  for (const row of rows.filter((r) => r.problem)) out.line(`\n${row.credential}: ${row.problem}`);
  for (const row of rows) {
    const failure = row.lastFailure;
    if (!failure) continue;
    out.line(
      `\n${row.credential}: ${failure.action} failed at ${failure.at} (failing since ${failure.since}): ${failure.error}`,
    );
  }
  if (recordsError)
    out.note(
      `keyturn's records could not be read (${recordsError}): credentials that left the config are not shown.`,
    );
  return 0;
}
