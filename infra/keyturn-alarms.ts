// keyturn's CloudWatch alarms: what the events cannot report themselves. A function that fails
// or is throttled, a dead-letter queue that holds anything (an invocation, a delivery or an
// alert given up for good) and a rotation that Secrets Manager reports as failed each raise an
// alarm on the critical topic, where someone is subscribed.

import { Duration } from "aws-cdk-lib";
import { Alarm, ComparisonOperator, Metric, TreatMissingData } from "aws-cdk-lib/aws-cloudwatch";
import { SnsAction } from "aws-cdk-lib/aws-cloudwatch-actions";
import type { IRule } from "aws-cdk-lib/aws-events";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import type { ITopic } from "aws-cdk-lib/aws-sns";
import type { IQueue } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";

const PERIOD = Duration.minutes(5);

export interface KeyturnAlarmsProps {
  /** keyturn's functions, by name (rotate, monitor, …). */
  readonly functions: Record<string, IFunction>;
  /** keyturn's dead-letter queues, by what they hold. */
  readonly deadLetterQueues: Record<string, IQueue>;
  /** The rule on the default bus that matches Secrets Manager's RotationFailed and RotationAbandoned. */
  readonly rotationFailures: IRule;
  /** Where the alarms go. */
  readonly topic: ITopic;
}

export class KeyturnAlarms extends Construct {
  /** Every alarm, by a name saying what it watches. */
  readonly alarms: Record<string, Alarm> = {};

  constructor(scope: Construct, id: string, props: KeyturnAlarmsProps) {
    super(scope, id);
    const action = new SnsAction(props.topic);
    const alarm = (name: string, metric: Metric, description: string) => {
      const created = new Alarm(this, name, {
        metric,
        // Any one is worth a look: none of these happens in normal operation.
        threshold: 0,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: TreatMissingData.NOT_BREACHING,
        alarmDescription: description,
      });
      created.addAlarmAction(action);
      this.alarms[name] = created;
    };

    for (const [name, fn] of Object.entries(props.functions)) {
      const title = name.charAt(0).toUpperCase() + name.slice(1);
      alarm(
        `${title}Errors`,
        fn.metricErrors({ period: PERIOD, statistic: "Sum" }),
        `keyturn: the ${name} function failed. Its logs (one JSON record per step, with the credential) say why.`,
      );
      alarm(
        `${title}Throttles`,
        fn.metricThrottles({ period: PERIOD, statistic: "Sum" }),
        `keyturn: the ${name} function was throttled: its reserved concurrency or the account's limit is used up, ` +
          "so some run waited or was refused.",
      );
    }
    for (const [name, queue] of Object.entries(props.deadLetterQueues)) {
      const title = name.charAt(0).toUpperCase() + name.slice(1);
      alarm(
        `${title}DeadLetters`,
        queue.metricApproximateNumberOfMessagesVisible({ period: PERIOD, statistic: "Maximum" }),
        `keyturn: the ${name} dead-letter queue holds messages that were given up for good. Read them ` +
          "(each says what failed), fix the cause, then redrive or delete them.",
      );
    }
    alarm(
      "RotationFailures",
      // Rules on the default bus publish their metrics by rule name alone.
      new Metric({
        namespace: "AWS/Events",
        metricName: "TriggeredRules",
        dimensionsMap: { RuleName: props.rotationFailures.ruleName },
        period: PERIOD,
        statistic: "Sum",
      }),
      "keyturn: Secrets Manager reported a rotation as failed or abandoned (RotationFailed, RotationAbandoned). " +
        'The keyturn bus carries the matching "Credential Rotation Failed" with the credential and the step.',
    );
  }
}
