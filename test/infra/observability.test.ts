// Issue 15: a fleet an operator can see. The synthesized stack carries a CloudWatch dashboard,
// alarms on keyturn's own metrics (namespace "keyturn", functions/handlers/metrics.ts) and a
// missing-data treatment chosen for every alarm.

import { Duration } from "aws-cdk-lib";
import { beforeAll, describe, expect, test } from "vitest";
import { CREDENTIAL_STATES, MetricName } from "#handlers/metrics.ts";
import { InvalidConfigError, parseConfig } from "../../infra/config.ts";
import {
  cronInterval,
  heartbeatWindow,
  monitorInterval,
  scheduleInterval,
} from "../../infra/keyturn-alarms.ts";
import {
  configProps,
  exampleConfigJson,
  resourceProperties,
  type Synthesized,
  synthesize,
} from "./synthesize.ts";

const KEYTURN_DIMENSIONS = [{ Name: "service", Value: "keyturn" }];

describe("the stack of the example config", () => {
  let synthesized: Synthesized;
  const alarm = (name: string) =>
    resourceProperties(synthesized.template, synthesized.alarmIds[name] as string);
  /** What every alarm below shares: one of keyturn's metrics, raised on the critical topic. */
  const onKeyturnMetric = (metric: Record<string, unknown>) => ({
    Namespace: "keyturn",
    Dimensions: KEYTURN_DIMENSIONS,
    AlarmActions: [{ Ref: synthesized.topicIds.critical }],
    ...metric,
  });

  beforeAll(() => {
    synthesized = synthesize(configProps(), { bundle: false });
  });

  test("sets a missing-data treatment on every alarm", () => {
    const alarms = Object.values(synthesized.template.findResources("AWS::CloudWatch::Alarm"));

    expect(alarms.length).toBe(Object.keys(synthesized.alarmIds).length);
    for (const { Properties } of alarms) {
      expect(["breaching", "notBreaching"], Properties.AlarmDescription).toContain(
        Properties.TreatMissingData,
      );
    }
  });

  // Each alarm on one of keyturn's metrics: the metric (name, statistic, period) and the rule.
  test.each([
    {
      says: "raises an alarm on any failure keyturn's metrics count, on the critical topic",
      name: "Failures",
      metric: ["Failures", "Sum", 3600],
      rule: { Threshold: 0, ComparisonOperator: "GreaterThanThreshold", EvaluationPeriods: 1 },
      missingData: "notBreaching",
    },
    {
      says: "raises an alarm when the monitor's heartbeat is missing for two of its hourly periods, missing data breaching",
      name: "MonitorHeartbeat",
      metric: ["SweepDuration", "SampleCount", 3600],
      rule: { Threshold: 1, ComparisonOperator: "LessThanThreshold", EvaluationPeriods: 2 },
      missingData: "breaching",
    },
    {
      says: "raises an alarm when consumers' access token would fall under the 2-minute margin before the next run, or no run reports",
      name: "AccessTokenLifetime",
      // The refresh runs every 2 minutes: two runs a period; 2 minutes' interval + 2 minutes' margin.
      metric: ["AccessTokenLifetime", "Minimum", 240],
      rule: { Threshold: 240, ComparisonOperator: "LessThanThreshold", EvaluationPeriods: 1 },
      missingData: "breaching",
    },
  ] as const)("$says", ({ name, metric: [MetricName, Statistic, Period], rule, missingData }) => {
    expect(alarm(name)).toMatchObject(
      onKeyturnMetric({ MetricName, Statistic, Period, ...rule, TreatMissingData: missingData }),
    );
  });

  describe("the dashboard", () => {
    let body: string;

    beforeAll(() => {
      const dashboards = Object.values(synthesized.template.findResources("AWS::CloudWatch::Dashboard"));
      expect(dashboards).toHaveLength(1);
      // The body is a Fn::Join of literals and references.
      const join = dashboards[0]?.Properties.DashboardBody as { "Fn::Join": [string, unknown[]] } | undefined;
      const parts = join?.["Fn::Join"][1] ?? [];
      body = parts.map((part) => (typeof part === "string" ? part : JSON.stringify(part))).join("");
    });

    test.each([
      "Fleet by state",
      "Expiries in the next 30 days",
      "Failures",
      "Rotation durations",
      "Refresh health",
      "Dead-letter queues",
      "Is anything alarming now?",
    ])("has a widget: %s", (title) => {
      expect(body).toContain(`"title":"${title}`);
    });

    test("shows every credential state and keyturn's metrics", () => {
      for (const state of CREDENTIAL_STATES) expect(body).toContain(`"state","${state}"`);
      for (const name of Object.values(MetricName)) expect(body, name).toContain(name);
    });

    test("shows every dead-letter queue", () => {
      expect(body.match(/ApproximateNumberOfMessagesVisible/g)).toHaveLength(5);
    });
  });
});

test("a stack without token-refresh credentials has no access token alarm (nothing would report)", () => {
  const json = exampleConfigJson();
  json.credentials = json.credentials.filter((credential) => credential.provider !== "incorta-v1");
  const synthesized = synthesize(configProps(json), { bundle: false });

  expect(Object.keys(synthesized.alarmIds)).not.toContain("AccessTokenLifetime");
  expect(Object.keys(synthesized.alarmIds)).toContain("MonitorHeartbeat");
});

test("the heartbeat's period is the monitor's rate", () => {
  expect(scheduleInterval("rate(1 hour)")?.toSeconds()).toBe(3600);
  expect(scheduleInterval("rate(15 minutes)")?.toSeconds()).toBe(900);
  expect(scheduleInterval("rate(2 days)")?.toSeconds()).toBe(Duration.days(2).toSeconds());
  expect(scheduleInterval("cron(0 * * * ? *)")).toBeUndefined();
});

describe("a monitor that sweeps less often than daily", () => {
  // Before: the period was capped at a day with two periods, so a sweep every three days left
  // two empty days between sweeps and paged on-call twice a schedule.
  test("is watched per day over one interval plus a day, every day of the window empty to alarm", () => {
    const json = exampleConfigJson();
    json.monitorSchedule = "rate(3 days)";
    const synthesized = synthesize(configProps(json), { bundle: false });
    const heartbeat = resourceProperties(
      synthesized.template,
      synthesized.alarmIds.MonitorHeartbeat as string,
    );
    expect(heartbeat).toMatchObject({
      Period: 86_400,
      EvaluationPeriods: 4,
      DatapointsToAlarm: 4,
      TreatMissingData: "breaching",
    });
  });

  test("keeps two periods of the interval up to a day, and the window within CloudWatch's seven days", () => {
    const hourly = heartbeatWindow(Duration.hours(1));
    expect([hourly.period.toSeconds(), hourly.periods]).toEqual([3600, 2]);
    expect(heartbeatWindow(Duration.days(1)).periods).toBe(2);
    const sixDays = heartbeatWindow(Duration.days(6));
    expect(sixDays.period.toSeconds() * sixDays.periods).toBeLessThanOrEqual(604_800);
    expect(() => heartbeatWindow(Duration.days(7))).toThrow(/at least every 6 days/);
  });

  test("reads a cron schedule's interval from its fields, the longest window when they do not tell", () => {
    expect(cronInterval("cron(0 * * * ? *)")?.toSeconds()).toBe(3600);
    expect(cronInterval("cron(15 3 * * ? *)")?.toSeconds()).toBe(86_400);
    expect(cronInterval("cron(0 3 ? * MON *)")).toBeUndefined();
    expect(monitorInterval("cron(0 3 ? * MON *)").toDays()).toBe(6);
    expect(monitorInterval("rate(2 hours)").toSeconds()).toBe(7200);
  });

  test("the config refuses a rate its heartbeat cannot watch, naming the limit", () => {
    const json = exampleConfigJson();
    json.monitorSchedule = "rate(7 days)";
    expect(() => parseConfig(json, "keyturn.json")).toThrow(InvalidConfigError);
    expect(() => parseConfig(json, "keyturn.json")).toThrow(
      /"monitorSchedule" is "rate\(7 days\)": sweep at least every 6 days/,
    );
    json.monitorSchedule = "rate(144 hours)";
    expect(() => parseConfig(json, "keyturn.json")).not.toThrow();
  });

  test("the config refuses an audit rarer than the due index's horizon (a week), naming the limit", () => {
    const json = exampleConfigJson();
    json.auditSchedule = "rate(7 days)";
    expect(() => parseConfig(json, "keyturn.json")).toThrow(
      /"auditSchedule" is "rate\(7 days\)": audit at least every 6 days/,
    );
    json.auditSchedule = "rate(6 days)";
    expect(() => parseConfig(json, "keyturn.json")).not.toThrow();
  });
});
