// keyturn's CloudWatch alarms: what the events cannot report themselves. A function that fails
// or is throttled, a dead-letter queue that holds anything (an invocation, a delivery or an
// alert given up for good) and a rotation that Secrets Manager reports as failed each raise an
// alarm on the critical topic, where someone is subscribed. So do keyturn's own metrics
// (functions/handlers/metrics.ts, namespace "keyturn"): any action a sweep or a refresh gave up,
// a monitor that stopped sweeping (its heartbeat missing), and consumers' access token left with
// less than the promised margin.
//
// Each alarm's treatment of missing data is chosen, not defaulted, and says why where it is set:
// a metric that is only published when something happens is "not breaching" when absent; one
// that must arrive on a schedule is "breaching" when absent, since its absence is the failure.

import { Duration } from "aws-cdk-lib";
import {
  Alarm,
  ComparisonOperator,
  type IMetric,
  Metric,
  TreatMissingData,
} from "aws-cdk-lib/aws-cloudwatch";
import { SnsAction } from "aws-cdk-lib/aws-cloudwatch-actions";
import type { IRule } from "aws-cdk-lib/aws-events";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import type { ITopic } from "aws-cdk-lib/aws-sns";
import type { IQueue } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { MetricName, NAMESPACE, SERVICE } from "#handlers/metrics.ts";

const PERIOD = Duration.minutes(5);

/** One of keyturn's own metrics (functions/handlers/metrics.ts), over all its other dimensions. */
export function keyturnMetric(
  metricName: string,
  options: { statistic: string; period: Duration; label?: string; dimensions?: Record<string, string> },
): Metric {
  return new Metric({
    namespace: NAMESPACE,
    metricName,
    dimensionsMap: { service: SERVICE, ...options.dimensions },
    statistic: options.statistic,
    period: options.period,
    ...(options.label ? { label: options.label } : {}),
  });
}

/**
 * At most how long a cron() schedule leaves between two runs, as far as its fields tell without
 * a calendar: every hour when its hour field is "*", every day when it names no day of the month
 * or week, else undefined (weekly, monthly: watched over the longest window, heartbeatWindow).
 */
export function cronInterval(expression: string): Duration | undefined {
  const cron = /^cron\((.+)\)$/.exec(expression.trim());
  const fields = cron?.[1]?.trim().split(/\s+/);
  if (fields?.length !== 6) return undefined;
  const [, hours, dayOfMonth, month, dayOfWeek] = fields;
  const any = (field: string | undefined) => field === "*" || field === "?";
  if (!any(month) || !any(dayOfMonth) || !any(dayOfWeek)) return undefined;
  return hours === "*" ? Duration.hours(1) : Duration.days(1);
}

/** At most how long the monitor's schedule leaves between two sweeps, for its heartbeat. */
export function monitorInterval(expression: string): Duration {
  return scheduleInterval(expression) ?? cronInterval(expression) ?? maxMonitorInterval;
}

/** How often a rate() schedule runs; undefined for a cron() one. */
export function scheduleInterval(expression: string): Duration | undefined {
  const rate = /^rate\((\d+) (minutes?|hours?|days?)\)$/.exec(expression);
  if (!rate) return undefined;
  const n = Number(rate[1]);
  const unit = rate[2] ?? "";
  return unit.startsWith("minute")
    ? Duration.minutes(n)
    : unit.startsWith("hour")
      ? Duration.hours(n)
      : Duration.days(n);
}

/** CloudWatch evaluates at most seven days of periods (Period × EvaluationPeriods ≤ 604,800 s). */
const MAX_ALARM_WINDOW = Duration.days(7);

/**
 * The heartbeat's window for a monitor that sweeps every `interval`: it alarms when every period
 * of the window saw no finished sweep. Up to a day, the period is the interval and the window two
 * intervals. Beyond a day, periods are days and the window one interval plus a day, so the empty
 * days between two sweeps never page. A schedule whose window would exceed CloudWatch's seven days
 * (an interval over six days) cannot be watched: the config refuses it (maxMonitorInterval).
 */
export function heartbeatWindow(interval: Duration): { period: Duration; periods: number } {
  const seconds = Math.max(interval.toSeconds(), 60);
  const day = Duration.days(1).toSeconds();
  if (seconds <= day) return { period: Duration.seconds(seconds), periods: 2 };
  const periods = Math.ceil(seconds / day) + 1;
  if (periods * day > MAX_ALARM_WINDOW.toSeconds()) {
    throw new RangeError(
      `The monitor's schedule runs every ${interval.toHumanString()}: its heartbeat cannot be watched ` +
        `(CloudWatch evaluates at most ${MAX_ALARM_WINDOW.toHumanString()}). Sweep at least every ${maxMonitorInterval.toHumanString()}.`,
    );
  }
  return { period: Duration.days(1), periods };
}

/** The longest monitor interval whose heartbeat can be watched (heartbeatWindow). */
export const maxMonitorInterval = Duration.days(MAX_ALARM_WINDOW.toDays() - 1);

export interface KeyturnAlarmsProps {
  /** keyturn's functions, by name (rotate, monitor, …). */
  readonly functions: Record<string, IFunction>;
  /** keyturn's dead-letter queues, by what they hold. */
  readonly deadLetterQueues: Record<string, IQueue>;
  /** The rule on the default bus that matches Secrets Manager's RotationFailed and RotationAbandoned. */
  readonly rotationFailures: IRule;
  /** Where the alarms go. */
  readonly topic: ITopic;
  /**
   * How often the monitor sweeps: the heartbeat alarm's window (heartbeatWindow). Default one
   * hour (the default schedule). Longer than a day is watched per day; over six days, refused.
   */
  readonly monitorInterval?: Duration;
  /**
   * The token refresh's interval and the access token lifetime consumers are promised
   * (minTokenRemaining): the lifetime alarm, for a deployment with token-refresh credentials.
   */
  readonly tokenLifetime?: { readonly refreshInterval: Duration; readonly margin: Duration };
}

interface AlarmSpec {
  metric: IMetric;
  description: string;
  /** Chosen for each alarm, with its reason beside it. */
  treatMissingData: TreatMissingData;
  /** Default: any datapoint above 0. */
  threshold?: number;
  comparisonOperator?: ComparisonOperator;
  /** Default 1. */
  evaluationPeriods?: number;
  /** Default: every evaluation period. */
  datapointsToAlarm?: number;
}

export class KeyturnAlarms extends Construct {
  /** Every alarm, by a name saying what it watches. */
  readonly alarms: Record<string, Alarm> = {};

  constructor(scope: Construct, id: string, props: KeyturnAlarmsProps) {
    super(scope, id);
    const action = new SnsAction(props.topic);
    const alarm = (name: string, spec: AlarmSpec) => {
      const created = new Alarm(this, name, {
        metric: spec.metric,
        // By default any one is worth a look: none of these happens in normal operation.
        threshold: spec.threshold ?? 0,
        comparisonOperator: spec.comparisonOperator ?? ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: spec.evaluationPeriods ?? 1,
        ...(spec.datapointsToAlarm ? { datapointsToAlarm: spec.datapointsToAlarm } : {}),
        treatMissingData: spec.treatMissingData,
        alarmDescription: spec.description,
      });
      created.addAlarmAction(action);
      this.alarms[name] = created;
    };

    for (const [name, fn] of Object.entries(props.functions)) {
      const title = name.charAt(0).toUpperCase() + name.slice(1);
      alarm(`${title}Errors`, {
        metric: fn.metricErrors({ period: PERIOD, statistic: "Sum" }),
        // Lambda publishes Errors only for periods with invocations: none is no failure. A
        // function that should run and does not is the heartbeat's alarm (the monitor) or the
        // token lifetime's (the refresh); the others run on demand.
        treatMissingData: TreatMissingData.NOT_BREACHING,
        description: `keyturn: the ${name} function failed. Its logs (one JSON record per step, with the credential) say why.`,
      });
      alarm(`${title}Throttles`, {
        metric: fn.metricThrottles({ period: PERIOD, statistic: "Sum" }),
        // Published only for periods with invocations, as Errors.
        treatMissingData: TreatMissingData.NOT_BREACHING,
        description:
          `keyturn: the ${name} function was throttled: its reserved concurrency or the account's limit is used up, ` +
          "so some run waited or was refused.",
      });
    }
    for (const [name, queue] of Object.entries(props.deadLetterQueues)) {
      const title = name.charAt(0).toUpperCase() + name.slice(1);
      alarm(`${title}DeadLetters`, {
        metric: queue.metricApproximateNumberOfMessagesVisible({ period: PERIOD, statistic: "Maximum" }),
        // SQS stops publishing a queue's metrics once it has been empty and untouched for about
        // six hours, the normal state of a dead-letter queue: missing is empty. A queue holding
        // messages keeps publishing, so a real dead letter is never hidden by it.
        treatMissingData: TreatMissingData.NOT_BREACHING,
        description:
          `keyturn: the ${name} dead-letter queue holds messages that were given up for good. Read them ` +
          "(each says what failed), fix the cause, then redrive or delete them.",
      });
    }
    alarm("RotationFailures", {
      // Rules on the default bus publish their metrics by rule name alone.
      metric: new Metric({
        namespace: "AWS/Events",
        metricName: "TriggeredRules",
        dimensionsMap: { RuleName: props.rotationFailures.ruleName },
        period: PERIOD,
        statistic: "Sum",
      }),
      // Published only when the rule matches an event: none is no failed rotation.
      treatMissingData: TreatMissingData.NOT_BREACHING,
      description:
        "keyturn: Secrets Manager reported a rotation as failed or abandoned (RotationFailed, RotationAbandoned). " +
        'The keyturn bus carries the matching "Credential Rotation Failed" with the credential and the step.',
    });

    alarm("Failures", {
      // An hour, the default sweep interval: a revocation failing at every sweep keeps the alarm
      // in ALARM (one notification) rather than flapping between sweeps.
      metric: keyturnMetric(MetricName.failures, { statistic: "Sum", period: Duration.hours(1) }),
      // Every sweep and refresh run writes it, 0 included; absent, nothing ran that could fail.
      // A monitor that stopped running is the heartbeat's alarm, not this one's.
      treatMissingData: TreatMissingData.NOT_BREACHING,
      description:
        "keyturn: an action was given up: a sweep's (metric Failures by action: expiry, revocation, reminder, …) " +
        'or a token refresh\'s. The keyturn bus carries "Credential Action Failed" or "Token Refresh Failed" with ' +
        "the credential; the monitor's and the refresh's logs say why.",
    });

    const heartbeat = heartbeatWindow(props.monitorInterval ?? Duration.hours(1));
    alarm("MonitorHeartbeat", {
      // Every sweep that finishes writes one SweepDuration datapoint: its sample count is the heartbeat.
      metric: keyturnMetric(MetricName.sweepDuration, { statistic: "SampleCount", period: heartbeat.period }),
      threshold: 1,
      comparisonOperator: ComparisonOperator.LESS_THAN_THRESHOLD,
      // Every period of the window must be empty (heartbeatWindow): a sweep that lands late in
      // the next period does not page, nor do the empty days between two sweeps of a slow schedule.
      evaluationPeriods: heartbeat.periods,
      datapointsToAlarm: heartbeat.periods,
      // Missing is the very thing watched: a monitor that does not run, or never finishes,
      // writes nothing. Breaching, so that silence raises the alarm.
      treatMissingData: TreatMissingData.BREACHING,
      description:
        "keyturn: the monitor has not finished a sweep for two of its intervals: no expiry notice, revocation or " +
        "failure report goes out. Look at the monitor's Errors alarm and logs, its schedule and its dead-letter queue.",
    });

    if (props.tokenLifetime) {
      const { refreshInterval, margin } = props.tokenLifetime;
      // What the refresh promises is that consumers find at least `margin` left until the next run
      // can replace the token: a token with less than interval + margin left after a run breaks
      // that promise before the next one (the refresh's own "holds until the next run" rule).
      const floor = refreshInterval.plus(margin);
      alarm("AccessTokenLifetime", {
        metric: keyturnMetric(MetricName.accessTokenLifetime, {
          statistic: "Minimum",
          // Two runs a period: the first shortfall is seen at once, and a run landing late in
          // the next period leaves no period empty.
          period: Duration.seconds(Math.min(Math.max(refreshInterval.toSeconds() * 2, 60), 86_400)),
        }),
        threshold: floor.toSeconds(),
        comparisonOperator: ComparisonOperator.LESS_THAN_THRESHOLD,
        evaluationPeriods: 1,
        // Every refresh run writes it (there are token-refresh credentials, or this alarm would not
        // exist): absent for a whole period, two runs in a row kept no token fresh. Breaching.
        treatMissingData: TreatMissingData.BREACHING,
        description:
          `keyturn: consumers' access token has less than ${floor.toHumanString()} left after a refresh run, so it falls ` +
          `under the promised ${margin.toHumanString()} before the next run can replace it; or the refresh has stopped ` +
          'running. "Token Refresh Failed" on the keyturn bus names the credential; the refresh\'s logs, Errors alarm ' +
          "and dead-letter queue say why.",
      });
    }
  }
}
