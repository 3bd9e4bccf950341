// keyturn's CloudWatch dashboard: the fleet an operator can see at a glance, each widget one
// question (docs/operations.md, "Watching the fleet"). It reads keyturn's own metrics
// (functions/handlers/metrics.ts), the functions' and the dead-letter queues' AWS metrics, and
// shows the alarms' state (infra/keyturn-alarms.ts).

import { Duration } from "aws-cdk-lib";
import {
  AlarmStatusWidget,
  Dashboard,
  GraphWidget,
  GraphWidgetView,
  type IAlarm,
  MathExpression,
  SingleValueWidget,
} from "aws-cdk-lib/aws-cloudwatch";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import type { IQueue } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { CREDENTIAL_STATES, MetricName, NAMESPACE } from "#handlers/metrics.ts";
import { keyturnMetric } from "./keyturn-alarms.ts";

const HOUR = Duration.hours(1);
const WIDTH = 12;
const HEIGHT = 6;

export interface KeyturnDashboardProps {
  /** keyturn's functions, by name (rotate, monitor, …). */
  readonly functions: Record<string, IFunction>;
  /** keyturn's dead-letter queues, by what they hold. */
  readonly deadLetterQueues: Record<string, IQueue>;
  /** Every keyturn alarm. */
  readonly alarms: readonly IAlarm[];
  /** The access token lifetime consumers are promised (minTokenRemaining), drawn on the refresh widget. */
  readonly tokenMargin?: Duration;
}

/** Every series of one keyturn metric, whatever the values of `dimension` (a search: new ones appear by themselves). */
function searchByDimension(metricName: string, dimensions: string[], statistic: string, period: Duration) {
  return new MathExpression({
    expression: `SEARCH('{${NAMESPACE},${["service", ...dimensions].join(",")}} MetricName="${metricName}"', '${statistic}', ${period.toSeconds()})`,
    usingMetrics: {},
    label: "",
    period,
  });
}

export class KeyturnDashboard extends Construct {
  readonly dashboard: Dashboard;

  constructor(scope: Construct, id: string, props: KeyturnDashboardProps) {
    super(scope, id);
    this.dashboard = new Dashboard(this, "Dashboard", {
      // Two weeks: a month's expiries and a rotation's days are seen, hourly sweeps stay readable.
      defaultInterval: Duration.days(14),
    });
    const functions = Object.entries(props.functions);
    const queues = Object.entries(props.deadLetterQueues);
    this.dashboard.addWidgets(
      new AlarmStatusWidget({
        title: "Is anything alarming now?",
        alarms: [...props.alarms],
        width: 24,
        height: 3,
      }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        title: "Fleet by state: how many credentials are ok, and how many need someone?",
        stacked: true,
        width: WIDTH,
        height: HEIGHT,
        left: CREDENTIAL_STATES.map((state) =>
          keyturnMetric(MetricName.credentials, {
            statistic: "Maximum",
            period: HOUR,
            label: state,
            dimensions: { state },
          }),
        ),
        leftYAxis: { min: 0, showUnits: false },
      }),
      new GraphWidget({
        title: "Expiries in the next 30 days: how many keys, and how soon is the first?",
        width: WIDTH,
        height: HEIGHT,
        left: [
          keyturnMetric(MetricName.expiriesNext30Days, {
            statistic: "Maximum",
            period: HOUR,
            label: "keys expiring within 30 days",
          }),
        ],
        right: [
          keyturnMetric(MetricName.fewestDaysToExpiry, {
            statistic: "Minimum",
            period: HOUR,
            label: "days to the first expiry",
          }),
        ],
        leftYAxis: { min: 0, showUnits: false },
        rightYAxis: { showUnits: false },
        rightAnnotations: [{ value: 30, label: "30 days" }],
      }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        title: "Failures: what did keyturn give up, by kind, and did a function fail?",
        stacked: true,
        width: WIDTH,
        height: HEIGHT,
        left: [searchByDimension(MetricName.failures, ["action"], "Sum", HOUR)],
        right: functions.map(([name, fn]) =>
          fn.metricErrors({ period: HOUR, statistic: "Sum", label: `${name} errors` }),
        ),
        leftYAxis: { min: 0, showUnits: false },
        rightYAxis: { min: 0, showUnits: false },
      }),
      new GraphWidget({
        title: "Sweeps: what did the monitor do, and how long did a sweep take?",
        stacked: true,
        width: WIDTH,
        height: HEIGHT,
        left: [searchByDimension(MetricName.actions, ["action"], "Sum", HOUR)],
        right: [
          keyturnMetric(MetricName.sweepDuration, {
            statistic: "Maximum",
            period: HOUR,
            label: "sweep (ms)",
          }),
        ],
        leftYAxis: { min: 0, showUnits: false },
        rightYAxis: { min: 0 },
      }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        title: "Rotation durations: how long does each step take, and which failed?",
        width: WIDTH,
        height: HEIGHT,
        view: GraphWidgetView.TIME_SERIES,
        left: [searchByDimension(MetricName.rotationStepDuration, ["provider", "step"], "Maximum", HOUR)],
        right: [searchByDimension(MetricName.rotationStepFailures, ["provider", "step"], "Sum", HOUR)],
        leftYAxis: { min: 0 },
        rightYAxis: { min: 0, showUnits: false },
      }),
      new GraphWidget({
        title: "Refresh health: how long do consumers' tokens have left, and how did the runs go?",
        width: WIDTH,
        height: HEIGHT,
        left: [
          keyturnMetric(MetricName.accessTokenLifetime, {
            statistic: "Minimum",
            period: Duration.minutes(10),
            label: "fewest seconds left on an access token",
          }),
        ],
        right: [searchByDimension(MetricName.tokenRefreshes, ["outcome"], "Sum", HOUR)],
        leftYAxis: { min: 0 },
        rightYAxis: { min: 0, showUnits: false },
        ...(props.tokenMargin
          ? { leftAnnotations: [{ value: props.tokenMargin.toSeconds(), label: "promised minimum" }] }
          : {}),
      }),
    );
    this.dashboard.addWidgets(
      new SingleValueWidget({
        title: "Dead-letter queues: is anything given up for good waiting to be read?",
        width: 24,
        height: 3,
        metrics: queues.map(([name, queue]) =>
          queue.metricApproximateNumberOfMessagesVisible({
            period: Duration.minutes(5),
            statistic: "Maximum",
            label: name,
          }),
        ),
      }),
    );
  }
}
