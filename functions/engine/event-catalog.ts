// keyturn's event catalog (docs/events.md), defined once: the engine validates
// every event against these schemas before it is sent, and `npm run schemas` writes them
// out as the JSON Schemas in schemas/events/ that subscribers (and the tests) use.
// No detail carries a secret value: only ids, names, times and reasons.

import * as v from "valibot";

const text = v.pipe(v.string(), v.minLength(1));
const timestamp = v.pipe(v.string(), v.isoTimestamp());
const count = v.pipe(v.number(), v.integer(), v.minValue(0));

/** Every detail names the credential, its provider, its secret and how urgent it is. */
const ref = {
  credential: v.pipe(text, v.description("The credential's name (by default its secret's name).")),
  provider: v.pipe(
    text,
    v.description("Provider id, e.g. immuta-request, softwareone; unknown when the tags name none."),
  ),
  secretArn: text,
};

/** A detail schema with the title, description and detail type that the JSON Schema files carry. */
function detail<const S extends v.ObjectEntries>(detailType: string, description: string, entries: S) {
  return v.pipe(
    v.strictObject(entries),
    v.metadata({ title: detailType, description, "x-detail-type": detailType }),
  );
}

export const CredentialRotated = detail(
  "Credential Rotated",
  "A rotation finished: the new key is AWSCURRENT; the previous key stays valid until revokeAfter.",
  {
    ...ref,
    severity: v.literal("info"),
    versionId: v.pipe(text, v.description("The secret version now AWSCURRENT.")),
    keyId: v.pipe(text, v.description("The vendor's id of the new key (never the key).")),
    previousKeyId: v.optional(text),
    expiresAt: v.nullable(timestamp),
    revokeAfter: timestamp,
  },
);

export const CredentialRotationFailed = detail(
  "Credential Rotation Failed",
  "A rotation failed. AWSCURRENT is unchanged (except after an emergency revoke). Severity is warning when " +
    "Secrets Manager's own retry may get past it, critical when a person must act.",
  {
    ...ref,
    severity: v.picklist(["warning", "critical"]),
    step: v.pipe(
      v.picklist([
        "createSecret",
        "setSecret",
        "testSecret",
        "finishSecret",
        "emergency",
        "stuck",
        "secretsmanager",
      ]),
      v.description(
        "The protocol step that failed; emergency: an emergency revoke could not rotate; stuck: an AWSPENDING " +
          "version was left behind; secretsmanager: re-published from Secrets Manager's own RotationFailed or " +
          "RotationAbandoned.",
      ),
    ),
    versionId: text,
    error: v.strictObject({
      name: v.string(),
      message: v.pipe(v.string(), v.maxLength(2000)),
      retryable: v.boolean(),
    }),
  },
);

export const CredentialActionFailed = detail(
  "Credential Action Failed",
  "A sweep action for a credential failed (a revocation, a reconciliation, an expiry notice or early rotation, a " +
    "stuck rotation's cleanup, a reminder, the retirement of a deleted or departed credential's keys, finding its " +
    "secret): nothing was lost, and the next sweep tries again. Warning at first; critical once the action has kept " +
    "failing for longer than failureEscalation (default 24h). Failures already announced by their own event " +
    "(Credential Tampered, Revocation Refused, Credential Owned Elsewhere) are not repeated here.",
  {
    ...ref,
    severity: v.picklist(["warning", "critical"]),
    action: v.pipe(
      v.picklist([
        "expiry",
        "stuck-rotation",
        "revocation",
        "reminder",
        "reconciliation",
        "retirement",
        "lookup",
        "usage-reports",
      ]),
      v.description(
        "expiry: notices and early rotation; stuck-rotation: clearing an AWSPENDING left behind; revocation: the " +
          "previous key's; reminder: a manual rotation reminder; reconciliation: the vendor's key listing; " +
          "retirement: a deleted or departed credential's keys; lookup: the pinned secret could not be read; " +
          "usage-reports: the consumers' usage reports could not be read, so the previous key was revoked without them.",
      ),
    ),
    failingSince: v.pipe(timestamp, v.description("When this action began failing for this credential.")),
    error: v.strictObject({
      name: v.string(),
      message: v.pipe(v.string(), v.maxLength(2000)),
      retryable: v.boolean(),
    }),
  },
);

export const CredentialExpiring = detail(
  "Credential Expiring",
  "A credential's key crossed an expiry threshold; published once per threshold.",
  {
    ...ref,
    severity: v.picklist(["info", "warning", "critical"]),
    keyId: text,
    expiresAt: timestamp,
    threshold: v.pipe(text, v.description("The threshold crossed, e.g. 30d, 7d, 1d.")),
    daysLeft: count,
    action: v.pipe(
      v.picklist(["rotating-early", "rotation-scheduled", "manual-rotation-required"]),
      v.description(
        "rotating-early: keyturn started a rotation now because the key expires before its next scheduled " +
          "rotation; rotation-scheduled: the next rotation comes first; manual-rotation-required: a person must " +
          "replace the key.",
      ),
    ),
  },
);

export const CredentialExpired = detail(
  "Credential Expired",
  "A credential's current key is past its expiry: consumers are failing now.",
  { ...ref, severity: v.literal("critical"), keyId: text, expiresAt: timestamp },
);

export const ManualRotationRequired = detail(
  "Manual Rotation Required",
  "A key only a person can replace is due (maximum age, expiry), or the replaced key has not been revoked in " +
    "the vendor's UI yet. Carries the UI steps.",
  {
    ...ref,
    severity: v.picklist(["info", "warning", "critical"]),
    keyId: text,
    reason: v.picklist(["max-age", "expiring", "old-key-not-revoked"]),
    dueAt: v.nullable(timestamp),
    steps: v.strictObject({ create: v.array(v.string()), revoke: v.array(v.string()) }),
  },
);

export const CredentialRevoked = detail(
  "Credential Revoked",
  "A key was revoked at the vendor: an old key whose grace period ended, one revoked although still in use " +
    "after the postponement limit, an orphan minted by a rotation that never stored it, or a compromised key.",
  {
    ...ref,
    severity: v.picklist(["info", "warning"]),
    keyId: v.pipe(text, v.description("The vendor's id of the revoked key (never the key).")),
    reason: v.pipe(
      v.picklist([
        "grace-period-ended",
        "in-use-limit-reached",
        "orphan",
        "compromised",
        "revoked-by-operator",
        "superseded",
        "secret-deleted",
        "left-config",
      ]),
      v.description(
        "revoked-by-operator: a key only a person can revoke (in the vendor's UI) was found rejected by the " +
          "vendor; superseded: a newer rotation replaced the previous key before its grace period ended, so the " +
          "older key was revoked at once; secret-deleted: the credential's secret was scheduled for deletion, so " +
          "keyturn revoked every key it had stored for it that was still live; left-config: the credential left " +
          "the config, and its grace period after keyturn announced it (Credential Departing) has ended.",
      ),
    ),
    strength: v.pipe(
      v.picklist(["soft", "hard"]),
      v.description("soft: disabled, reversible; hard: deleted."),
    ),
    outcome: v.picklist(["revoked", "already-gone"]),
    lastUsedAt: v.optional(v.nullable(timestamp)),
  },
);

export const PreviousCredentialStillInUse = detail(
  "Previous Credential Still In Use",
  "The previous key's grace period ended but the vendor saw it used, or a consumer reported holding it, within " +
    "the in-use window: revocation waits for the next sweep, up to the postponement limit. Find the consumer that " +
    "has not picked up the new key (consumers names those that reported it).",
  {
    ...ref,
    severity: v.literal("warning"),
    keyId: text,
    lastUsedAt: v.pipe(
      timestamp,
      v.description("The latest use: the vendor's last use of the key, or a consumer's latest report of it."),
    ),
    postponements: v.pipe(count, v.minValue(1)),
    limit: count,
    revokeAfter: timestamp,
    consumers: v.optional(
      v.pipe(
        v.array(
          v.strictObject({
            consumer: v.pipe(text, v.maxLength(200), v.description("The name the consumer reports under.")),
            reportedAt: timestamp,
          }),
        ),
        v.maxLength(20),
        v.description(
          "The consumers that reported holding the key within the in-use window (keyturn/consumer usage " +
            "reports), latest first, at most 20; absent when only the vendor saw it used.",
        ),
      ),
    ),
  },
);

export const TokenRefreshFailed = detail(
  "Token Refresh Failed",
  "Short-lived tokens could not be refreshed or minted: consumers are about to be left without a valid token.",
  {
    ...ref,
    severity: v.literal("critical"),
    accessTokenExpiresAt: v.nullable(timestamp),
    error: v.strictObject({
      name: v.string(),
      message: v.pipe(v.string(), v.maxLength(2000)),
      retryable: v.boolean(),
    }),
  },
);

export const CredentialTampered = detail(
  "Credential Tampered",
  "A secret's keyturn:* tags or its value disagree with what the deployment pinned (the config): someone other " +
    "than keyturn changed them. keyturn did not act on the credential (no rotation, revocation or refresh) and " +
    "will not until the secret says what the config says again. Names the tags and value fields that differ, " +
    "never what they hold: find who in CloudTrail (TagResource, PutSecretValue).",
  {
    ...ref,
    severity: v.literal("critical"),
    tags: v.pipe(v.array(text), v.description("The keyturn:* tags that differ from the pinned config.")),
    valueFields: v.pipe(
      v.array(text),
      v.description(
        "The value's fields (vendor endpoint, scope, provider) that differ from the pinned config.",
      ),
    ),
    during: v.pipe(
      v.picklist(["rotation", "sweep", "refresh", "handover", "emergency-revoke"]),
      v.description("What keyturn was about to do when it found the difference."),
    ),
  },
);

export const RevocationRefused = detail(
  "Revocation Refused",
  "keyturn was about to revoke a key for this credential, but another credential it manages uses that key (or it " +
    "is the issuer's own), or keyturn never stored it as this credential's key: nothing was revoked, and the sweep " +
    "does not try again. The credential's tags or value name a key that is not its own; find who changed them in " +
    "CloudTrail before revoking anything by hand. Or (reason cooldown) a Revoke Requested event asked for another " +
    "key of a credential whose emergency revoke ran less than the revokeCooldown ago: nothing was done. If that key " +
    "has leaked too, an operator revokes it with keyturn revoke, which the cooldown does not hold back.",
  {
    ...ref,
    severity: v.literal("critical"),
    keyId: v.pipe(text, v.description("The vendor's id of the key keyturn did not revoke (never the key).")),
    reason: v.pipe(
      v.picklist(["used-by-another-credential", "not-recorded", "cooldown"]),
      v.description(
        "used-by-another-credential: another managed credential (or the issuer) uses it; not-recorded: keyturn " +
          "never stored it as this credential's key; cooldown: an emergency revoke of the credential acted less " +
          "than the revokeCooldown ago, for another key.",
      ),
    ),
    referencedBy: v.pipe(v.array(text), v.description("The credentials that use the key (when they do).")),
    cooldownUntil: v.optional(
      v.pipe(
        timestamp,
        v.description("For reason cooldown: when a request from the bus for another key is acted on again."),
      ),
    ),
    during: v.picklist(["sweep", "reconciliation", "rotation", "handover", "emergency-revoke"]),
  },
);

export const CredentialDeparting = detail(
  "Credential Departing",
  "A credential keyturn stored keys for is no longer in the config it was deployed from. Its keys stay valid " +
    "until revokeAfter (its grace period), so that an application still reading its secret keeps working meanwhile; " +
    "then keyturn revokes them (action revoke), or names them in a Keys Left Behind event for a person to revoke " +
    "(action announce). Put the credential back in the config and deploy to keep its keys. Published once.",
  {
    ...ref,
    severity: v.literal("warning"),
    keyIds: v.pipe(
      v.array(text),
      v.description("The keys keyturn stored for the credential (vendor ids, never the keys)."),
    ),
    departedAt: v.pipe(timestamp, v.description("When the monitor first found it missing from the config.")),
    revokeAfter: timestamp,
    action: v.picklist(["revoke", "announce"]),
  },
);

export const KeysLeftBehind = detail(
  "Keys Left Behind",
  "A credential's secret was scheduled for deletion, or the credential left the config and its grace period " +
    "ended, and keyturn cannot revoke its keys itself: the vendor has no API for it, or keyturn has no key to " +
    "revoke them with (a self-issued credential whose secret is deleted, an issuer no longer in the config). A " +
    "person must revoke every key named here that is still active, in the vendor's UI. Published once.",
  {
    ...ref,
    severity: v.literal("critical"),
    reason: v.pipe(
      v.picklist(["secret-deleted", "left-config"]),
      v.description(
        "secret-deleted: the secret is scheduled for deletion; left-config: the config no longer has it.",
      ),
    ),
    why: v.pipe(
      v.picklist(["manual-provider", "no-authority", "unknown-provider", "unverified"]),
      v.description(
        "manual-provider: only a person can revoke this vendor's keys; no-authority: keyturn has no usable key " +
          "to revoke them with; unknown-provider: keyturn's record predates the provider being kept in it; " +
          "unverified: keys of a departed credential that keyturn's records name but nothing at the vendor (keyturn's " +
          "marker) or in the credential's secret (its key tags, its current value) ties to it: keyturn revoked the " +
          "others and leaves these to a person, who must find out whose they are before revoking any.",
      ),
    ),
    keys: v.pipe(
      v.array(
        v.strictObject({
          keyId: v.pipe(text, v.description("The vendor's id of the key (never the key).")),
          revoke: v.pipe(
            v.array(v.string()),
            v.description("The vendor's UI steps to revoke it, when known."),
          ),
        }),
      ),
      v.maxLength(50),
    ),
    moreKeys: v.pipe(count, v.description("Keys recorded beyond those listed (listed at most 50).")),
  },
);

export const CredentialOwnedElsewhere = detail(
  "Credential Owned Elsewhere",
  "A pinned credential's secret is a replica (only its primary region may rotate it), is managed by another AWS " +
    "service, or has another rotation function than keyturn's: keyturn neither rotates nor relabels it, nor " +
    "revokes its keys. Manage it where it is owned, or remove it from keyturn's config.",
  {
    ...ref,
    severity: v.literal("critical"),
    reasons: v.pipe(
      v.array(v.picklist(["replica", "owning-service", "foreign-rotation-function"])),
      v.minLength(1),
    ),
  },
);

/** Published by others (a leak scanner, a person) and consumed by keyturn's revoke function. */
export const RevokeRequested = detail(
  "Revoke Requested",
  "Put on the keyturn bus by a leak scanner or a person to kill a key now. If it is the credential's current key, " +
    "keyturn rotates the credential and revokes it hard, with no grace period; if it is the previous key still in " +
    "its grace period, keyturn revokes it; otherwise (already revoked, say by an earlier delivery of the same " +
    "request) keyturn does nothing.",
  {
    credential: v.pipe(text, v.description("The credential's name (its secret's name).")),
    keyId: v.pipe(
      text,
      v.maxLength(128),
      v.description(
        "The vendor's id of the compromised key (never the key): keyturn status and the events show it.",
      ),
    ),
    reason: v.pipe(text, v.maxLength(500), v.description("Why, for the audit trail (never the key).")),
  },
);

export const EVENT_CATALOG = {
  "Credential Rotated": CredentialRotated,
  "Credential Rotation Failed": CredentialRotationFailed,
  "Credential Action Failed": CredentialActionFailed,
  "Credential Expiring": CredentialExpiring,
  "Credential Expired": CredentialExpired,
  "Manual Rotation Required": ManualRotationRequired,
  "Credential Revoked": CredentialRevoked,
  "Previous Credential Still In Use": PreviousCredentialStillInUse,
  "Token Refresh Failed": TokenRefreshFailed,
  "Credential Tampered": CredentialTampered,
  "Revocation Refused": RevocationRefused,
  "Credential Departing": CredentialDeparting,
  "Keys Left Behind": KeysLeftBehind,
  "Credential Owned Elsewhere": CredentialOwnedElsewhere,
  "Revoke Requested": RevokeRequested,
} as const;

export type DetailTypeName = keyof typeof EVENT_CATALOG;
export type DetailOf<T extends DetailTypeName> = v.InferOutput<(typeof EVENT_CATALOG)[T]>;

/** The detail types keyturn publishes itself (all but the request others put on the bus). */
export type PublishedDetailType = Exclude<DetailTypeName, "Revoke Requested">;
/** The severities a detail type's schema allows. */
export type SeverityOf<T extends PublishedDetailType> =
  DetailOf<T> extends { severity: infer S extends string } ? S : never;

/**
 * How loud each event keyturn publishes can be, and when: one entry per severity its schema
 * allows (the compiler holds the keys to the schema, a test holds them to it and every
 * constructor in ./events.ts). docs/events.md is generated from this and the schemas above.
 */
export const SEVERITIES: { readonly [T in PublishedDetailType]: { readonly [S in SeverityOf<T>]: string } } =
  {
    "Credential Rotated": { info: "always" },
    "Credential Rotation Failed": {
      warning:
        "a failed attempt that Secrets Manager's own retry of the rotation may get past (a retryable error)",
      critical:
        "a failure a person must act on: an error no retry gets past, a stuck rotation (step stuck), Secrets " +
        "Manager's RotationFailed or RotationAbandoned (step secretsmanager), an emergency revoke that could not " +
        "rotate (step emergency)",
    },
    "Credential Action Failed": {
      warning: "the action began failing less than the escalation time (KEYTURN_FAILURE_ESCALATION, 24h) ago",
      critical: "the action has kept failing for longer than the escalation time",
    },
    "Credential Expiring": {
      info: "more than 7 days left",
      warning: "7 days or less left",
      critical: "1 day or less left",
    },
    "Credential Expired": { critical: "always" },
    "Manual Rotation Required": {
      info: "reason expiring, more than 7 days left",
      warning: "reason max-age or old-key-not-revoked; reason expiring with 7 days or less left",
      critical: "reason expiring, 1 day or less left",
    },
    "Credential Revoked": {
      info: "reason grace-period-ended or revoked-by-operator; a superseded key that was already disabled",
      warning:
        "reason in-use-limit-reached, orphan, compromised, secret-deleted or left-config; a superseded key still enabled",
    },
    "Previous Credential Still In Use": { warning: "always" },
    "Token Refresh Failed": { critical: "always" },
    "Credential Tampered": { critical: "always" },
    "Revocation Refused": { critical: "always" },
    "Credential Departing": { warning: "always" },
    "Keys Left Behind": { critical: "always" },
    "Credential Owned Elsewhere": { critical: "always" },
  };
