// The revoke function: the emergency revoke, which rotates a credential at once and revokes the
// compromised key (functions/handlers/revoke.ts), with its dead-letter queue, the rule that runs
// it for a configured requester's "Revoke Requested", the revoke operators' permission to invoke
// it (`keyturn revoke`), and its own permissions.

import { Duration } from "aws-cdk-lib";
import { Rule } from "aws-cdk-lib/aws-events";
import { LambdaFunction } from "aws-cdk-lib/aws-events-targets";
import { ArnPrincipal } from "aws-cdk-lib/aws-iam";
import type { CfnFunction } from "aws-cdk-lib/aws-lambda";
import type { Queue } from "aws-cdk-lib/aws-sqs";
import type { Construct } from "constructs";
import { DetailType } from "#engine/events.ts";
import {
  allow,
  busAndRecordsEnvironment,
  CredentialFunction,
  deadLetterQueue,
  grantRecords,
  invokeRotateFunction,
  type KeyturnContext,
  mirrorKeyturnTags,
  onManagedSecrets,
} from "./shared.ts";

export interface RevokeFunctionProps {
  readonly context: KeyturnContext;
  /** The bus name the function's own name is derived from (`<busName>-revoke`, which `keyturn revoke` finds). */
  readonly busName: string;
  /** The rotate function's ARN: the rotation function every managed secret must name. */
  readonly rotateFunctionArn: string;
  /** How long requests from the bus for another key of a credential are held back; unset, the handler's default. */
  readonly revokeCooldown: string | undefined;
  /** IAM role ARNs of the revoke operators: they may invoke the function. */
  readonly operators: readonly string[];
  /** The event sources whose "Revoke Requested" events run the function; none, no rule. */
  readonly requesterSources: readonly string[];
}

export class RevokeFunction extends CredentialFunction<"revoke"> {
  /** Revoke requests that failed for good (the rule could not deliver one, or the revoke threw). */
  readonly deadLetters: Queue;
  /** The rule that runs the function on a configured requester's "Revoke Requested"; none without requesters. */
  readonly rule: Rule | undefined;

  constructor(scope: Construct, id: string, props: RevokeFunctionProps) {
    // Beside the function, in the Keyturn scope (infra/functions/shared.ts says why).
    const deadLetters = deadLetterQueue(scope, "RevokeDeadLetters");
    super(scope, id, props.context, {
      handler: "revoke",
      description: "keyturn: emergency revoke, rotates a credential at once and revokes the compromised key",
      // It waits for a whole rotation through Secrets Manager. Only createSecret and testSecret
      // call the vendor, each bounded by the rotate function's 3 minutes; setSecret and
      // finishSecret are quick. Ten minutes covers that worst case and keeps the one minute the
      // handler reserves to revoke and publish after the wait.
      timeout: Duration.minutes(10),
      environment: {
        ...busAndRecordsEnvironment(props.context),
        KEYTURN_ROTATE_FUNCTION_ARN: props.rotateFunctionArn,
        KEYTURN_REVOKE_COOLDOWN: props.revokeCooldown,
      },
      // A reservation both guarantees and caps: an emergency revoke still runs when other
      // workloads have used up the account's concurrency, and a runaway scanner flooding the
      // bus with requests cannot rotate every credential at once against the vendors' rate
      // limits. Five lets one leaked file's handful of credentials go in parallel; requests
      // over it wait in Lambda's queue (up to maxEventAge) rather than being lost.
      reservedConcurrentExecutions: 5,
      asyncInvocation: {
        // No retry: a revoke that failed after its rotation would, rerun, take the fresh
        // successor for the compromised key, rotate again and revoke it. A failed request goes
        // to the dead-letter queue, and the handler publishes a critical event, for a person.
        retryAttempts: 0,
        maxEventAge: Duration.hours(6),
        deadLetterQueue: deadLetters,
      },
    });
    this.deadLetters = deadLetters;
    // Named after the bus, as the records table, so that `keyturn revoke` finds it from the bus
    // name alone (cli/connection.ts); the bus name is already unique in the account and region.
    (this.function.node.defaultChild as CfnFunction).functionName = `${props.busName}-revoke`;
    // `keyturn revoke` against AWS invokes this function (RequestResponse): the revoke operators
    // need that and nothing else of the engine's rights (no RotateSecret, tags, records or
    // issuer keys). Their own IAM policies may allow it too; this lets the config say so.
    for (const [index, arn] of [...new Set(props.operators)].entries()) {
      this.function.addPermission(`InvokedByRevokeOperator${index}`, {
        principal: new ArnPrincipal(arn),
        action: "lambda:InvokeFunction",
      });
    }
    grantRecords(this.context, this.function, "dynamodb:GetItem", "dynamodb:UpdateItem");
    allow(
      this.context,
      this.function,
      onManagedSecrets(this.context, "RotateKeyturnSecretsNow", [
        "secretsmanager:RotateSecret",
        "secretsmanager:DescribeSecret",
        "secretsmanager:GetSecretValue",
      ]),
      mirrorKeyturnTags(this.context),
    );
    // RotateSecret requires lambda:InvokeFunction on the secret's rotation function.
    this.function.addToRolePolicy(invokeRotateFunction(props.rotateFunctionArn));
    // Only from the configured requesters' sources: the bus policy (Keyturn's fences) lets only
    // the configured principals put a "Revoke Requested", and this pattern keeps the rule from
    // running on one they would publish under another source. With no requester configured
    // there is no rule: a pattern cannot match an empty list of sources, and any source it did
    // name could be published by someone. Operators then revoke with `keyturn revoke`, or by
    // invoking the revoke function, which their IAM policies decide (a function policy can
    // only allow).
    const sources = [...new Set(props.requesterSources)];
    this.rule =
      sources.length === 0
        ? undefined
        : new Rule(scope, "RevokeRequested", {
            eventBus: this.context.bus,
            description:
              "keyturn: runs the revoke function for each Revoke Requested event of a configured requester",
            eventPattern: { source: sources, detailType: [DetailType.revokeRequested] },
            targets: [
              new LambdaFunction(this.function, {
                // Delivery retries are safe, an undelivered request has not started; a leaked key
                // stays leaked, so a late revoke is still worth running.
                retryAttempts: 185,
                maxEventAge: Duration.hours(24),
                deadLetterQueue: deadLetters,
              }),
            ],
          });
  }
}
