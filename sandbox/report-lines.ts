// What the demo's timeline and `npm run sandbox` print for a monitor sweep: one line per thing
// the sweep did, with key ids (long generated ones shortened), never key values.

import type { MonitorReport } from "#engine/monitor.ts";

/** Long generated ids are shortened; names given by people are shown whole. */
export function shortId(id: unknown): string {
  const text = String(id);
  return text.length > 20 ? `${text.slice(0, 13)}…` : text;
}

/** A timeline line: what happened (a short verb, padded), then the detail. */
export interface ReportLine {
  what: string;
  detail: string;
}

/** One line per action of a sweep, failures first. */
export function sweepLines(
  report: MonitorReport,
  options: { inUseLimit?: (credential: string) => string } = {},
): ReportLine[] {
  const lines: ReportLine[] = [];
  for (const f of report.failures)
    lines.push({ what: "FAILED", detail: `sweep: ${f.credential}: ${f.error}` });
  for (const s of report.stuck) {
    lines.push({ what: "stuck", detail: `${s.credential} rotation ${shortId(s.versionId)} never finished` });
  }
  for (const r of report.revoked) {
    lines.push({
      what: "revoked",
      detail: `${r.credential} key ${shortId(r.keyId)}: ${r.strength} (${r.reason}, ${r.outcome})`,
    });
  }
  for (const p of report.postponed) {
    const limit = options.inUseLimit?.(p.credential);
    lines.push({
      what: "postponed",
      detail:
        `${p.credential} key ${shortId(p.keyId)} still in use ` +
        `(${p.postponements}${limit ? ` of at most ${limit}` : ""} postponements)`,
    });
  }
  for (const e of report.expiring) {
    lines.push({
      what: "expiring",
      detail: `${e.credential} key ${shortId(e.keyId)}: ${e.threshold} threshold (${e.action})`,
    });
  }
  for (const e of report.expired)
    lines.push({ what: "EXPIRED", detail: `${e.credential} key ${shortId(e.keyId)}` });
  for (const credential of report.rotatedEarly) {
    lines.push({
      what: "rotated",
      detail: `${credential} early: its key expires before the next scheduled rotation`,
    });
  }
  for (const m of report.manualReminders) {
    lines.push({ what: "reminder", detail: `${m.credential}: Manual Rotation Required (${m.reason})` });
  }
  for (const c of report.confirmedRevoked) {
    lines.push({
      what: "confirmed",
      detail: `${c.credential} old key ${shortId(c.keyId)} is no longer accepted by the vendor`,
    });
  }
  return lines;
}
