// The one mapping from a config to the construct's props (keyturnPropsFromConfig, used by
// infra/app.ts, the sandbox and these tests): every field a config sets reaches the construct,
// and the stack passes every prop on. The audit schedule once did not: the stack listed the
// props it passed and left auditSchedule out, so a config's audit schedule was silently ignored.

import { describe, expect, test } from "vitest";
import { parseConfig } from "../../infra/config.ts";
import { keyturnPropsFromConfig } from "../../infra/keyturn.ts";
import { configProps, fullConfigJson, synthesize } from "./synthesize.ts";

/** Every top-level field of the config, set to something other than its default. */
function everyFieldJson() {
  return {
    ...fullConfigJson(),
    busName: "keyturn-prod",
    secretNamePrefix: "keyturn/",
    monitorSchedule: "rate(2 hours)",
    auditSchedule: "rate(2 days)",
    orphanSafetyMargin: "2h",
    reconcileInterval: "12h",
    stuckRotationAfter: "3h",
    refreshInterval: "5m",
    minTokenRemaining: "3m",
    tokenParameterPrefix: "/keyturn-prod/tokens",
    revokeCooldown: "20m",
    deploymentRoleArn: "arn:aws:iam::123456789012:role/deployer",
  };
}

describe("the config's fields as the construct's props", () => {
  test("every field the config sets is a prop, the schedules as schedule expressions", () => {
    const json = everyFieldJson();
    const config = parseConfig(json);
    const props = keyturnPropsFromConfig(config);
    const { $schema: _schema, ...fields } = json as Record<string, unknown>;

    for (const field of Object.keys(fields)) {
      expect(props[field as keyof typeof props], field).toBeDefined();
    }
    expect(props.monitorSchedule?.expressionString).toBe("rate(2 hours)");
    expect(props.auditSchedule?.expressionString).toBe("rate(2 days)");
    expect(props.credentials).toEqual(config.credentials);
  });

  test("the stack runs the monitor's audit on the config's audit schedule", () => {
    const { template } = synthesize(configProps(everyFieldJson()), { bundle: false });
    const schedules = template.findResources("AWS::Scheduler::Schedule");
    const expressions = Object.values(schedules).map(
      (schedule) => (schedule.Properties as { ScheduleExpression: string }).ScheduleExpression,
    );

    expect(expressions).toContain("rate(2 days)");
    expect(expressions).toContain("rate(2 hours)");
    expect(expressions).toContain("rate(5 minutes)");
  });
});
