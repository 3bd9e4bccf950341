// Each detail type's severities (SEVERITIES in functions/engine/event-catalog.ts, which
// docs/events.md lists): the declaration is the set its schema allows, and every event the
// engine's constructors (functions/engine/events.ts) build for that detail type carries one of
// them; every declared severity is one some input actually produces, so the page promises
// nothing keyturn never sends. The constructors run for real (no stub): they validate against the
// catalog as they do in production.

import { describe, expect, test } from "vitest";
import { EVENT_CATALOG, type PublishedDetailType, SEVERITIES } from "#engine/event-catalog.ts";
import {
  type CredentialRef,
  credentialActionFailed,
  credentialDeparting,
  credentialExpired,
  credentialExpiring,
  credentialOwnedElsewhere,
  credentialRevoked,
  credentialRotated,
  credentialRotationFailed,
  credentialTampered,
  expirySeverity,
  keysLeftBehind,
  manualRotationRequired,
  previousStillInUse,
  revocationRefused,
  tokenRefreshFailed,
} from "#engine/events.ts";

const ref: CredentialRef = {
  credential: "keyturn/example",
  provider: "softwareone",
  secretArn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:keyturn/example-AbCdEf",
};
const at = "2026-11-30T12:00:00.000Z";
const DAY = 86_400_000;
const error = (retryable: boolean) => ({ name: "VendorError", message: "refused", retryable });

/** The severity options a detail type's schema allows, read from the valibot schema itself. */
function schemaSeverities(detailType: PublishedDetailType): string[] {
  const severity: { literal?: unknown; options?: readonly unknown[] } =
    EVENT_CATALOG[detailType].entries.severity;
  return (severity.options ?? (severity.literal === undefined ? [] : [severity.literal])).map(String);
}

/** Every event each constructor builds, over the inputs that decide its severity. */
function builtEvents(): { detailType: string; severity: string; input: string }[] {
  const events: { event: ReturnType<typeof credentialRotated>; input: string }[] = [];
  const add = (input: string, event: ReturnType<typeof credentialRotated>) => events.push({ event, input });

  add(
    "rotated",
    credentialRotated(ref, {
      versionId: "v2",
      keyId: "k2",
      previousKeyId: "k1",
      expiresAt: null,
      revokeAfter: at,
    }),
  );
  for (const retryable of [true, false]) {
    add(
      `rotation failed, retryable ${retryable}`,
      credentialRotationFailed(ref, { step: "createSecret", versionId: "v2", error: error(retryable) }),
    );
  }
  for (const step of ["stuck", "secretsmanager", "emergency"] as const) {
    add(
      `rotation failed, ${step}`,
      credentialRotationFailed(ref, { step, versionId: "v2", error: error(false), severity: "critical" }),
    );
  }
  for (const critical of [false, true]) {
    add(
      `action failed, critical ${critical}`,
      credentialActionFailed(ref, {
        action: "revocation",
        failingSince: new Date(at),
        critical,
        error: error(true),
      }),
    );
  }
  for (const msLeft of [30 * DAY, 7 * DAY + 1, 7 * DAY, 2 * DAY, DAY, 1, 0]) {
    add(
      `expiring, ${msLeft} ms left`,
      credentialExpiring(
        ref,
        {
          keyId: "k1",
          expiresAt: at,
          threshold: "30d",
          daysLeft: Math.floor(msLeft / DAY),
          action: "rotation-scheduled",
        },
        msLeft,
      ),
    );
    // The expiry watch builds the manual reminder's severity the same way (functions/engine/expiry.ts).
    add(
      `manual rotation, expiring, ${msLeft} ms left`,
      manualRotationRequired(ref, {
        severity: expirySeverity(msLeft),
        keyId: "k1",
        reason: "expiring",
        dueAt: at,
        steps: { create: [], revoke: [] },
      }),
    );
  }
  for (const reason of ["max-age", "old-key-not-revoked"] as const) {
    // functions/engine/manual.ts sends these as warnings.
    add(
      `manual rotation, ${reason}`,
      manualRotationRequired(ref, {
        severity: "warning",
        keyId: "k1",
        reason,
        dueAt: null,
        steps: { create: [], revoke: [] },
      }),
    );
  }
  add("expired", credentialExpired(ref, { keyId: "k1", expiresAt: at }));
  const revocationReasons = EVENT_CATALOG["Credential Revoked"].entries.reason.options;
  for (const reason of revocationReasons) {
    for (const alreadyDisabled of [false, true]) {
      add(
        `revoked, ${reason}, already disabled ${alreadyDisabled}`,
        credentialRevoked(ref, {
          keyId: "k1",
          reason,
          strength: "hard",
          outcome: "revoked",
          alreadyDisabled,
        }),
      );
    }
  }
  add(
    "still in use",
    previousStillInUse(ref, { keyId: "k1", lastUsedAt: at, postponements: 1, limit: 24, revokeAfter: at }),
  );
  add("refresh failed", tokenRefreshFailed(ref, { accessTokenExpiresAt: null, error: error(true) }));
  add("tampered", credentialTampered(ref, { tags: ["keyturn:issuer"], valueFields: [], during: "sweep" }));
  add(
    "refused",
    revocationRefused(ref, { keyId: "k1", reason: "not-recorded", referencedBy: [], during: "sweep" }),
  );
  add(
    "departing",
    credentialDeparting(ref, { keyIds: ["k1"], departedAt: at, revokeAfter: at, action: "revoke" }),
  );
  add(
    "left behind",
    keysLeftBehind(ref, { reason: "left-config", why: "manual-provider", keys: [], moreKeys: 0 }),
  );
  add("owned elsewhere", credentialOwnedElsewhere(ref, ["replica"]));

  return events.map(({ event, input }) => ({
    detailType: event.detailType,
    severity: String((event.detail as { severity: string }).severity),
    input,
  }));
}

describe("each detail type's severities", () => {
  test.each(Object.keys(SEVERITIES) as PublishedDetailType[])(
    "%s: the declaration is its schema's set",
    (detailType) => {
      expect(Object.keys(SEVERITIES[detailType]).sort()).toEqual(schemaSeverities(detailType).sort());
    },
  );

  test("every detail type keyturn publishes has a declaration, and Revoke Requested (published by others) none", () => {
    expect(Object.keys(SEVERITIES).sort()).toEqual(
      Object.keys(EVENT_CATALOG)
        .filter((detailType) => detailType !== "Revoke Requested")
        .sort(),
    );
  });

  test("every event the constructors build has a severity its detail type declares", () => {
    const built = builtEvents();
    const undeclared = built.filter(
      ({ detailType, severity }) => !(severity in (SEVERITIES[detailType as PublishedDetailType] ?? {})),
    );

    expect(built.length).toBeGreaterThan(40);
    expect(undeclared).toEqual([]);
  });

  test("every declared severity is one the constructors actually produce", () => {
    const produced = new Set(builtEvents().map(({ detailType, severity }) => `${detailType}: ${severity}`));
    const declared = Object.entries(SEVERITIES).flatMap(([detailType, severities]) =>
      Object.keys(severities).map((severity) => `${detailType}: ${severity}`),
    );

    expect(declared.filter((entry) => !produced.has(entry))).toEqual([]);
  });

  test("the rules the declaration states hold: revocations by reason, expiry by time left", () => {
    const built = builtEvents();
    const severityOf = (input: string) => built.find((event) => event.input === input)?.severity;

    expect(severityOf("revoked, grace-period-ended, already disabled false")).toBe("info");
    expect(severityOf("revoked, revoked-by-operator, already disabled false")).toBe("info");
    expect(severityOf("revoked, superseded, already disabled true")).toBe("info");
    for (const reason of [
      "in-use-limit-reached",
      "orphan",
      "compromised",
      "superseded",
      "secret-deleted",
      "left-config",
    ]) {
      expect(severityOf(`revoked, ${reason}, already disabled false`), reason).toBe("warning");
    }
    expect(severityOf(`expiring, ${7 * DAY + 1} ms left`)).toBe("info");
    expect(severityOf(`expiring, ${7 * DAY} ms left`)).toBe("warning");
    expect(severityOf(`expiring, ${DAY} ms left`)).toBe("critical");
    expect(severityOf("rotation failed, retryable true")).toBe("warning");
    expect(severityOf("rotation failed, retryable false")).toBe("critical");
  });
});
