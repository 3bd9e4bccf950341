// functions/engine/defaults.ts is the one place keyturn's defaults are written: each must be what
// it stands for (a duration in the engine's grammar, a schedule expression), and the config, the
// handlers' environments and the credential policy must answer it when a setting is left out, so
// that a value written again somewhere else is caught.

import { readFileSync } from "node:fs";
import * as v from "valibot";
import { describe, expect, test } from "vitest";
import * as defaults from "#engine/defaults.ts";
import { parseDuration } from "#engine/duration.ts";
import { settingsFromTags, Tag } from "#engine/settings.ts";
import { MonitorEnvironment, RefreshEnvironment, RevokeEnvironment } from "#handlers/environment.ts";
import { PROVIDER_IDS } from "#providers/registry.ts";
import { parseConfig } from "../../../infra/config.ts";

const EXAMPLE_CONFIG = new URL("../../../config/keyturn.example.json", import.meta.url);
/** Any registered provider: the policy defaults are the same for all. */
const PROVIDER: string = PROVIDER_IDS[0] ?? "none registered";

const DURATIONS = {
  DEFAULT_ORPHAN_SAFETY_MARGIN: defaults.DEFAULT_ORPHAN_SAFETY_MARGIN,
  DEFAULT_RECONCILE_INTERVAL: defaults.DEFAULT_RECONCILE_INTERVAL,
  DEFAULT_STUCK_ROTATION_AFTER: defaults.DEFAULT_STUCK_ROTATION_AFTER,
  DEFAULT_FAILURE_ESCALATION: defaults.DEFAULT_FAILURE_ESCALATION,
  DEFAULT_REFRESH_INTERVAL: defaults.DEFAULT_REFRESH_INTERVAL,
  DEFAULT_MIN_TOKEN_REMAINING: defaults.DEFAULT_MIN_TOKEN_REMAINING,
  DEFAULT_REFRESH_MEMORY: defaults.DEFAULT_REFRESH_MEMORY,
  DEFAULT_REVOKE_COOLDOWN: defaults.DEFAULT_REVOKE_COOLDOWN,
  DEFAULT_GRACE_PERIOD: defaults.DEFAULT_GRACE_PERIOD,
  DEFAULT_KEY_LIFETIME: defaults.DEFAULT_KEY_LIFETIME,
  DEFAULT_IN_USE_WINDOW: defaults.DEFAULT_IN_USE_WINDOW,
  DEFAULT_HARD_REVOKE_DELAY: defaults.DEFAULT_HARD_REVOKE_DELAY,
};
const ms = (text: string) => parseDuration(text);

describe("keyturn's defaults", () => {
  test("every default is listed here, so that a new one is checked too", () => {
    const listed = [
      ...Object.keys(DURATIONS),
      "DEFAULT_BUS_NAME",
      "DEFAULT_SECRET_NAME_PREFIX",
      "DEFAULT_TOKEN_PARAMETER_PREFIX",
      "DEFAULT_MONITOR_SCHEDULE",
      "DEFAULT_AUDIT_SCHEDULE",
      "DEFAULT_IN_USE_LIMIT",
      "DEFAULT_EXPIRY_THRESHOLDS",
    ];

    expect(Object.keys(defaults).sort()).toEqual(listed.sort());
  });

  test.each(Object.entries(DURATIONS))("%s is a positive duration in the engine's grammar", (_name, text) => {
    expect(ms(text)).toBeGreaterThan(0);
  });

  test("the schedules are EventBridge Scheduler rate expressions, the thresholds durations", () => {
    expect(defaults.DEFAULT_MONITOR_SCHEDULE).toMatch(/^rate\(\d+ (minute|hour|day)s?\)$/);
    expect(defaults.DEFAULT_AUDIT_SCHEDULE).toMatch(/^rate\(\d+ (minute|hour|day)s?\)$/);
    for (const threshold of defaults.DEFAULT_EXPIRY_THRESHOLDS.split(",")) {
      expect(ms(threshold), threshold).toBeGreaterThan(0);
    }
  });

  test("a handler's environment without a setting falls back to the default", () => {
    const required = { KEYTURN_EVENT_BUS_NAME: "keyturn", KEYTURN_RECORDS_TABLE: "keyturn-records" };
    const monitor = v.parse(MonitorEnvironment, required);
    const refresh = v.parse(RefreshEnvironment, {
      KEYTURN_EVENT_BUS_NAME: "keyturn",
      KEYTURN_LEASE_TABLE: "leases",
    });
    const revoke = v.parse(RevokeEnvironment, required);

    expect(monitor.KEYTURN_ORPHAN_SAFETY_MARGIN).toBe(ms(defaults.DEFAULT_ORPHAN_SAFETY_MARGIN));
    expect(monitor.KEYTURN_RECONCILE_INTERVAL).toBe(ms(defaults.DEFAULT_RECONCILE_INTERVAL));
    expect(monitor.KEYTURN_STUCK_ROTATION_AFTER).toBe(ms(defaults.DEFAULT_STUCK_ROTATION_AFTER));
    expect(monitor.KEYTURN_FAILURE_ESCALATION).toBe(ms(defaults.DEFAULT_FAILURE_ESCALATION));
    expect(refresh.KEYTURN_REFRESH_INTERVAL).toBe(ms(defaults.DEFAULT_REFRESH_INTERVAL));
    expect(refresh.KEYTURN_MIN_TOKEN_REMAINING).toBe(ms(defaults.DEFAULT_MIN_TOKEN_REMAINING));
    expect(refresh.KEYTURN_REFRESH_MEMORY).toBe(ms(defaults.DEFAULT_REFRESH_MEMORY));
    expect(refresh.KEYTURN_TOKEN_PARAMETER_PREFIX).toBe(defaults.DEFAULT_TOKEN_PARAMETER_PREFIX);
    expect(revoke.KEYTURN_REVOKE_COOLDOWN).toBe(ms(defaults.DEFAULT_REVOKE_COOLDOWN));
  });

  test("a config without names or policy falls back to the defaults", () => {
    // The example config's credentials, without the names and policy fields it sets.
    const example = JSON.parse(readFileSync(EXAMPLE_CONFIG, "utf8"));
    const credentials = example.credentials.map(
      ({ gracePeriod: _grace, expiryThresholds: _thresholds, ...rest }: Record<string, unknown>) => rest,
    );
    const config = parseConfig({ credentials });

    expect(config.credentials.length).toBeGreaterThan(0);
    expect(config.busName).toBe(defaults.DEFAULT_BUS_NAME);
    expect(config.secretNamePrefix).toBe(defaults.DEFAULT_SECRET_NAME_PREFIX);
    for (const credential of config.credentials) {
      expect(credential.policy.gracePeriod, credential.name).toBe(defaults.DEFAULT_GRACE_PERIOD);
      expect(credential.policy.expiryThresholds, credential.name).toEqual(
        defaults.DEFAULT_EXPIRY_THRESHOLDS.split(","),
      );
    }
  });

  test("a secret's tags without policy fall back to the defaults", () => {
    const settings = settingsFromTags("keyturn/reporting", { [Tag.provider]: PROVIDER });

    expect(settings.gracePeriodMs).toBe(ms(defaults.DEFAULT_GRACE_PERIOD));
    expect(settings.keyLifetimeMs).toBe(ms(defaults.DEFAULT_KEY_LIFETIME));
    expect(settings.inUseWindowMs).toBe(ms(defaults.DEFAULT_IN_USE_WINDOW));
    expect(settings.inUseLimit).toBe(defaults.DEFAULT_IN_USE_LIMIT);
    expect(settings.hardRevokeDelayMs).toBe(ms(defaults.DEFAULT_HARD_REVOKE_DELAY));
  });
});
