// keyturn's alerts: one encrypted SNS topic per severity, each fed by a rule on the keyturn bus
// matching that severity, and the email and HTTPS endpoints subscribed to every topic at or
// above the minimum severity they asked for. Anyone may add rules of their own on the bus;
// these topics are what keyturn itself offers people.

import { Duration, RemovalPolicy, Stack } from "aws-cdk-lib";
import type { IAlarm } from "aws-cdk-lib/aws-cloudwatch";
import { type IEventBus, Rule } from "aws-cdk-lib/aws-events";
import { PolicyDocument, PolicyStatement, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { Key } from "aws-cdk-lib/aws-kms";
import { SubscriptionProtocol, Topic } from "aws-cdk-lib/aws-sns";
import { EmailSubscription, UrlSubscription } from "aws-cdk-lib/aws-sns-subscriptions";
import type { IQueue } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { EVENT_SOURCE } from "#aws/event-publisher.ts";
import type { Severity } from "#engine/events.ts";
import { SEVERITIES } from "./config.ts";
import { denyAllBut, keyAdministration } from "./keyturn-fences.ts";

export { SEVERITIES };

const DEFAULT_MINIMUM_SEVERITY: Severity = "warning";

/**
 * What would silence a topic by changing it: its attributes (its policy, its key, its delivery
 * policy), its policy statement by statement, its data protection policy (which may deny or mask
 * what is published), or its deletion. These are the topic policy actions SNS accepts that do so
 * (Amazon SNS Developer Guide, "Amazon SNS API permissions: Actions and resources reference");
 * Unsubscribe and SetSubscriptionAttributes are not among them: a subscription is fenced by
 * nothing but IAM (and an email subscription by nothing, its unsubscribe link needs no
 * credentials).
 */
const TOPIC_CHANGES = [
  "sns:SetTopicAttributes",
  "sns:AddPermission",
  "sns:RemovePermission",
  "sns:PutDataProtectionPolicy",
  "sns:DeleteTopic",
];

export interface KeyturnAlertProps {
  /** Addresses that receive alerts; each gets a confirmation email from SNS first. */
  readonly email?: readonly string[];
  /** `https://` endpoints that receive alerts; each must confirm SNS's SubscriptionConfirmation first. */
  readonly https?: readonly string[];
  /**
   * The least severe alerts the endpoints above receive: each endpoint is subscribed to this
   * severity's topic and every more severe one, so "warning" (the default) sends warning and
   * critical alerts, "critical" only critical ones, "info" all of them. Every event goes to
   * exactly one topic, so an endpoint never receives the same alert twice.
   */
  readonly minimumSeverity?: Severity;
}

export interface KeyturnAlertsProps extends KeyturnAlertProps {
  /** The bus keyturn publishes its events to. */
  readonly bus: IEventBus;
  /** Receives the alerts EventBridge could not deliver to their topic. */
  readonly deadLetters: IQueue;
  /** The role CloudFormation deploys the stack with: the only one the topics' policies let change them. */
  readonly deploymentRoleArn: string;
}

const events = new ServicePrincipal("events.amazonaws.com");
const cloudWatch = new ServicePrincipal("cloudwatch.amazonaws.com");

export class KeyturnAlerts extends Construct {
  /** Encrypts the three topics. */
  readonly key: Key;
  readonly topics: Record<Severity, Topic>;
  /** The rule that sends each severity's events to its topic. */
  readonly rules: Record<Severity, Rule>;

  constructor(scope: Construct, id: string, props: KeyturnAlertsProps) {
    super(scope, id);

    // A customer managed key rather than the AWS managed alias/aws/sns: SNS encrypts with the
    // publisher's permissions, and the AWS managed key's policy cannot be changed to let
    // EventBridge use it, so EventBridge could never deliver to a topic under it.
    this.key = new Key(this, "Key", {
      description: "keyturn: encrypts the alert topics",
      enableKeyRotation: true,
      // SNS keeps a message only until it is delivered: once the topics are gone, nothing
      // encrypted under this key is left to read.
      removalPolicy: RemovalPolicy.DESTROY,
      // The account administers the key; only EventBridge and CloudWatch, for keyturn's rules
      // and this account's alarms, use it (below): nobody else publishes to these topics.
      policy: new PolicyDocument({ statements: [keyAdministration()] }),
    });
    // The key policy cannot name the rules or the topics (each depends on the key through the
    // topics, a cycle), so it admits EventBridge only for rules on the keyturn bus; each
    // topic's policy then admits only its own rule.
    this.key.addToResourcePolicy(
      new PolicyStatement({
        sid: "AlertRulesEncryptForTopics",
        principals: [events],
        actions: ["kms:GenerateDataKey", "kms:Decrypt"],
        resources: ["*"],
        conditions: {
          ArnLike: {
            "aws:SourceArn": Stack.of(this).formatArn({
              service: "events",
              resource: "rule",
              resourceName: `${props.bus.eventBusName}/*`,
            }),
          },
        },
      }),
    );

    const minimum = SEVERITIES.indexOf(props.minimumSeverity ?? DEFAULT_MINIMUM_SEVERITY);
    const topics: Partial<Record<Severity, Topic>> = {};
    const rules: Partial<Record<Severity, Rule>> = {};
    for (const [rank, severity] of SEVERITIES.entries()) {
      const name = severity.charAt(0).toUpperCase() + severity.slice(1);
      const topic = new Topic(this, `${name}Topic`, {
        displayName: `keyturn ${severity} alerts`,
        masterKey: this.key,
        enforceSSL: true,
      });
      const rule = new Rule(this, `${name}Rule`, {
        eventBus: props.bus,
        description: `keyturn: sends every ${severity} keyturn event to the ${severity} alert topic`,
        eventPattern: { source: [EVENT_SOURCE], detail: { severity: [severity] } },
      });
      // Not aws-events-targets' SnsTopic: it lets events.amazonaws.com publish to the topic and
      // use the key for any rule of any account; these statements name the one rule.
      rule.addTarget({
        bind: () => ({
          arn: topic.topicArn,
          targetResource: topic,
          deadLetterConfig: { arn: props.deadLetters.queueArn },
          // EventBridge's own maximum: an alert that arrives late is still worth reading.
          retryPolicy: {
            maximumRetryAttempts: 185,
            maximumEventAgeInSeconds: Duration.hours(24).toSeconds(),
          },
        }),
      });
      topic.addToResourcePolicy(
        new PolicyStatement({
          sid: "PublishFromAlertRule",
          principals: [events],
          actions: ["sns:Publish"],
          resources: [topic.topicArn],
          conditions: { ArnEquals: { "aws:SourceArn": rule.ruleArn } },
        }),
      );
      // Only the deployment changes or deletes the topic: whoever else could would silence every
      // alert of this severity, whatever the account's IAM policies allow them.
      topic.addToResourcePolicy(
        denyAllBut("OnlyTheDeploymentChangesTheTopic", TOPIC_CHANGES, [props.deploymentRoleArn], {}, [
          topic.topicArn,
        ]),
      );
      props.deadLetters.addToResourcePolicy(
        new PolicyStatement({
          sid: `Undelivered${name}Alerts`,
          principals: [events],
          actions: ["sqs:SendMessage"],
          resources: [props.deadLetters.queueArn],
          conditions: { ArnEquals: { "aws:SourceArn": rule.ruleArn } },
        }),
      );
      if (rank >= minimum) {
        // Each subscription's id is its endpoint, so reordering the list replaces none (a
        // replaced email subscription would have to be confirmed again).
        // SNS keeps what it could not deliver to an endpoint (after its own retries) in the alerts
        // dead-letter queue too, where an alarm notices it.
        const deadLetterQueue = props.deadLetters;
        for (const address of new Set(props.email)) {
          topic.addSubscription(new EmailSubscription(address, { deadLetterQueue }));
        }
        for (const url of new Set(props.https)) {
          topic.addSubscription(
            new UrlSubscription(url, { protocol: SubscriptionProtocol.HTTPS, deadLetterQueue }),
          );
        }
      }
      topics[severity] = topic;
      rules[severity] = rule;
    }
    this.topics = topics as Record<Severity, Topic>;
    this.rules = rules as Record<Severity, Rule>;

    // keyturn's CloudWatch alarms (functions failing or throttled, dead letters, rotations
    // failing) notify the critical topic, which admits them by ARN (acceptAlarms). They need the
    // key as EventBridge does, since SNS encrypts with the publisher's permissions; the key
    // policy cannot name the alarms (each alarm refers to the topic, which refers to the key), so
    // it admits CloudWatch for this account's alarms, and the topic's policy narrows that to
    // keyturn's own.
    this.key.addToResourcePolicy(
      new PolicyStatement({
        sid: "AlarmsEncryptForCriticalTopic",
        principals: [cloudWatch],
        actions: ["kms:GenerateDataKey*", "kms:Decrypt"],
        resources: ["*"],
        conditions: { StringEquals: { "aws:SourceAccount": Stack.of(this).account } },
      }),
    );
  }

  /**
   * Lets these alarms, and no other alarm of the account, publish to the critical topic:
   * CloudWatch publishes as its service principal with the alarm's ARN as aws:SourceArn (Amazon
   * SNS Developer Guide, "Example cases for Amazon SNS access control", CloudWatch alarms), so a
   * statement naming the ARNs keeps anyone who may create an alarm from paging through it.
   */
  acceptAlarms(alarms: readonly IAlarm[]): void {
    if (alarms.length === 0) return;
    this.topics.critical.addToResourcePolicy(
      new PolicyStatement({
        sid: "PublishFromKeyturnAlarms",
        principals: [cloudWatch],
        actions: ["sns:Publish"],
        resources: [this.topics.critical.topicArn],
        conditions: { ArnEquals: { "aws:SourceArn": alarms.map((alarm) => alarm.alarmArn) } },
      }),
    );
  }
}
