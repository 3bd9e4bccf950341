// The sweep's bookkeeping marks (issue 13): the last expiry notice sent (`<keyId>@<threshold>`), the
// last manual reminder (`<reason>@<time>`), the AWSPENDING version first seen (`<version>@<time>`)
// and the last reconciliation of the vendor's keys. They decide whether a notice or a reminder goes
// out, when a rotation counts as stuck, and when orphans are looked for: someone allowed to tag a
// secret must not be able to hold a notice back or keep orphans from being found by writing them.
//
// So for a credential keyturn holds a record for, they are keyturn's records (KeyRecord.marks),
// and the secret's keyturn:* tags of the same names are a mirror written after, for people and
// `keyturn status`. The checks (./expiry.ts, ./manual.ts, ./revocation.ts, ./due.ts) read them as
// the credential's tags, which `withRecordedMarks` overlays with the record's (a mark the record
// lacks is absent, whatever the tag says: after an upgrade a notice may go out once more, never
// one less), and write them through `markingStore`, which writes the record first. A credential
// keyturn holds no record for (no key it ever stored) keeps them in tags alone.

import { type KeyRecord, type KeyRecords, MARK_NAMES, type MarkName } from "#aws/record-store.ts";
import type { SecretStore } from "#aws/secret-store.ts";
import type { ManagedCredential } from "./credentials.ts";
import { Tag } from "./settings.ts";

/** Each mark's tag (its mirror). */
const MARK_TAGS: Record<MarkName, string> = {
  expiryNotice: Tag.expiryNotice,
  manualReminder: Tag.manualReminder,
  pendingSeen: Tag.pendingSeen,
  reconciledAt: Tag.reconciledAt,
};

/** The credential with its record's marks in place of the tags' (see the header); as it is without a record. */
export function withRecordedMarks<C extends ManagedCredential>(
  credential: C,
  record: KeyRecord | undefined,
): C {
  if (!record) return credential;
  const tags = { ...credential.tags };
  for (const name of MARK_NAMES) {
    const value = record.marks[name];
    if (value === undefined) delete tags[MARK_TAGS[name]];
    else tags[MARK_TAGS[name]] = value;
  }
  return { ...credential, tags };
}

/**
 * The store the sweep's checks write through: a TagResource that carries marks writes them to the
 * credential's record first (`recordOf`: its name and record, by the secret id the check tags),
 * keeping the record in memory up to date, then the tags as asked (the mirror).
 */
export function markingStore(
  store: SecretStore,
  records: KeyRecords,
  recordOf: (secretId: string) => { name: string; record: KeyRecord | undefined } | undefined,
): SecretStore {
  return new Proxy(store, {
    get(target, property) {
      if (property === "tag") {
        return async (secretId: string, tags: Record<string, string>) => {
          const marks: Partial<Record<MarkName, string>> = {};
          for (const name of MARK_NAMES) {
            const value = tags[MARK_TAGS[name]];
            if (value !== undefined) marks[name] = value;
          }
          const known = Object.keys(marks).length > 0 ? recordOf(secretId) : undefined;
          if (known?.record && (await records.setMarks(known.name, marks)))
            Object.assign(known.record.marks, marks);
          await target.tag(secretId, tags);
        };
      }
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
