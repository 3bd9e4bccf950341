// Every default of keyturn's configuration, once, each with the reason for its value: what a
// config file, the Keyturn construct's props, a handler's environment or a credential's policy
// tags fall back to when they leave a setting out. The config schema (infra/config.ts), the
// construct (infra/keyturn.ts and infra/functions/), the handlers' environment schemas
// (functions/handlers/environment.ts), the engine (functions/engine/settings.ts) and the CLI
// import them from here, so that the deployed value, the documented one and the one a handler
// assumes cannot drift apart.
//
// Plain values only, no AWS CDK or SDK: this module is bundled into every Lambda function.

// Names: what keyturn creates and looks for when the config names nothing else.

/** The EventBridge bus keyturn publishes to; also names its tables and `<bus>-revoke` (cli/connection.ts finds them by it). */
export const DEFAULT_BUS_NAME = "keyturn";
/** The folder of keyturn's secrets: a folder of its own, so that keyturn's permissions match no other secret. */
export const DEFAULT_SECRET_NAME_PREFIX = "keyturn/";
/** Where the refresh keeps token pairs: a path of keyturn's own, which its token key's policy is scoped to. */
export const DEFAULT_TOKEN_PARAMETER_PREFIX = "/keyturn/tokens";

// The monitor (functions/engine/monitor.ts).

/**
 * The due sweep (keyturn's due index, a Query per shard): hourly keeps a revocation or an expiry
 * notice at most an hour late, for a few requests an hour when nothing is due.
 */
export const DEFAULT_MONITOR_SCHEDULE = "rate(1 hour)";
/**
 * The audit (ListSecrets over every credential: new, deleted and hidden secrets, tampering):
 * daily, since it pages through every secret while the due sweep reads only what is due.
 */
export const DEFAULT_AUDIT_SCHEDULE = "rate(1 day)";
/**
 * A marked vendor key younger than this is never revoked as an orphan: a rotation mints the key
 * before it stores it, and an hour is far longer than a rotation takes (the rotate function's
 * timeout is 3 minutes per step).
 */
export const DEFAULT_ORPHAN_SAFETY_MARGIN = "1h";
/** How often each issuer's keys are listed at the vendor: a few listings a day find orphans soon enough at little cost to the vendors' rate limits. */
export const DEFAULT_RECONCILE_INTERVAL = "6h";
/**
 * An AWSPENDING version this old (since the monitor first saw it) is a stuck rotation: a
 * rotation takes minutes, so after six hours and a few sweeps it is not merely slow.
 */
export const DEFAULT_STUCK_ROTATION_AFTER = "6h";
/** A sweep action failing this long turns from warning to critical: a day of hourly retries is no passing outage. */
export const DEFAULT_FAILURE_ESCALATION = "24h";

// The refresh (functions/engine/refresh.ts).

/**
 * How often token pairs are refreshed: well inside a 10-minute access-token lifetime, so that a
 * pair is renewed before it nears expiry rather than replaced on every run.
 */
export const DEFAULT_REFRESH_INTERVAL = "2m";
/** Consumers always find an access token with at least this long left: enough for a request or two and its retries. */
export const DEFAULT_MIN_TOKEN_REMAINING = "2m";
/**
 * How long a warm refresh keeps a key or pair it read (functions/engine/refresh-memory.ts): a new
 * version is read at the next run anyway, and an hour leaves one read an hour of runs
 * (bench/cost.ts: $0.44 a refresh-mode credential a month; 15 minutes would be $0.455).
 */
export const DEFAULT_REFRESH_MEMORY = "1h";

// The emergency revoke (functions/engine/emergency.ts).

/**
 * After a "Revoke Requested" from the bus was acted on, requests from the bus for another key of
 * the same credential are refused this long: a runaway scanner cannot rotate a credential over
 * and over, and ten minutes outlasts a rotation.
 */
export const DEFAULT_REVOKE_COOLDOWN = "10m";

// A credential's policy (its keyturn:* tags and pinned policy; functions/engine/settings.ts).

/** How long the previous key stays valid after a rotation: a day lets every consumer re-read the secret, even one that caches it or runs daily. */
export const DEFAULT_GRACE_PERIOD = "24h";
/** How long a key keyturn mints lives at the vendor: 90 days, the usual audit limit on a key's age, so a key rotation missed for months still expires. */
export const DEFAULT_KEY_LIFETIME = "90d";
/** A previous key the vendor saw used this recently is not revoked yet: an hour, one sweep, so a consumer still on it is given the next. */
export const DEFAULT_IN_USE_WINDOW = "1h";
/** How many sweeps may postpone a revocation because the old key is in use: 24 hourly sweeps, a day, then it is revoked anyway. */
export const DEFAULT_IN_USE_LIMIT = 24;
/** How long a disabled old key waits before it is deleted: a week to re-enable it if something still needed it. */
export const DEFAULT_HARD_REVOKE_DELAY = "7d";
/** When to warn before a key expires: a month to plan, a week, and a last day. */
export const DEFAULT_EXPIRY_THRESHOLDS = "30d,7d,1d";
