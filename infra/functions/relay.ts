// The relay: re-publishes Secrets Manager's own rotation failures on the keyturn bus
// (functions/handlers/relay.ts), with its dead-letter queue, the rule on the account's default
// bus that sends it those failures, and its one permission.

import { Duration } from "aws-cdk-lib";
import { Rule } from "aws-cdk-lib/aws-events";
import { LambdaFunction } from "aws-cdk-lib/aws-events-targets";
import { PolicyStatement } from "aws-cdk-lib/aws-iam";
import type { Queue } from "aws-cdk-lib/aws-sqs";
import type { Construct } from "constructs";
import { KeyturnFunction } from "../keyturn-function.ts";
import { allow, deadLetterQueue, type KeyturnContext } from "./shared.ts";

/**
 * Secrets Manager's own report that a rotation failed or was abandoned (CloudTrail "AWS Service
 * Event via CloudTrail" entries on the default bus; Secrets Manager User Guide, "AWS CloudTrail
 * entries for Secrets Manager", rotation). The relay decides which secrets are keyturn's.
 */
const ROTATION_FAILURE_PATTERN = {
  source: ["aws.secretsmanager"],
  detailType: ["AWS Service Event via CloudTrail"],
  detail: { eventName: ["RotationFailed", "RotationAbandoned"] },
};

export class RelayFunction extends KeyturnFunction<"relay"> {
  /** Rotation failures the relay could not take in (undelivered, or the relay threw). */
  readonly deadLetters: Queue;
  /** The rule on the account's default bus that sends Secrets Manager's rotation failures to the relay. */
  readonly rule: Rule;

  constructor(scope: Construct, id: string, context: KeyturnContext) {
    // Beside the function, in the Keyturn scope (infra/functions/shared.ts says why).
    const deadLetters = deadLetterQueue(scope, "RelayDeadLetters");
    super(scope, id, {
      handler: "relay",
      description:
        "keyturn: re-publishes Secrets Manager's RotationFailed and RotationAbandoned on the keyturn bus",
      // One DescribeSecret and one PutEvents.
      timeout: Duration.seconds(30),
      environment: { KEYTURN_EVENT_BUS_NAME: context.bus.eventBusName },
      asyncInvocation: {
        // Safe to retry: the relay publishes last, so a failed run has published nothing, and
        // a failure reported twice beats one not reported.
        retryAttempts: 2,
        maxEventAge: Duration.hours(6),
        deadLetterQueue: deadLetters,
      },
    });
    this.deadLetters = deadLetters;
    allow(
      context,
      this.function,
      // Without the keyturn:provider condition of the other functions' statements: the relay
      // reads the tags to learn whether a failing secret is keyturn's, and under that condition
      // DescribeSecret on an untagged secret in the folder would fail with AccessDenied instead
      // of answering "not keyturn's". DescribeSecret answers metadata (name, tags, rotation
      // settings), never a value. Secrets outside the prefix are not keyturn's by definition and
      // stay denied.
      new PolicyStatement({
        sid: "ReadKeyturnSecretTags",
        actions: ["secretsmanager:DescribeSecret"],
        resources: [context.secretArnPattern],
      }),
    );
    // On the default bus, where AWS services' CloudTrail events arrive; a rule there matches only
    // events of its own account and region.
    this.rule = new Rule(scope, "RotationFailures", {
      description:
        "keyturn: sends Secrets Manager's RotationFailed and RotationAbandoned to the relay function",
      eventPattern: ROTATION_FAILURE_PATTERN,
      targets: [
        new LambdaFunction(this.function, {
          // Delivery retries are safe, an undelivered failure has not been relayed yet.
          retryAttempts: 185,
          maxEventAge: Duration.hours(24),
          deadLetterQueue: deadLetters,
        }),
      ],
    });
  }
}
