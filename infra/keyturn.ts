// keyturn as one construct to drop into any CDK app: the event bus, the rotate function, and
// the permissions that let Secrets Manager call it and let it touch keyturn's secrets only.

import { ArnFormat, Stack, Token } from "aws-cdk-lib";
import { EventBus } from "aws-cdk-lib/aws-events";
import { PolicyStatement, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import type { NodejsFunction } from "aws-cdk-lib/aws-lambda-nodejs";
import { Construct } from "constructs";
import { Tag } from "#engine/settings.ts";
import type { RotateEnvironment } from "#handlers/environment.ts";
import { RotateFunction } from "./rotate-function.ts";

export const DEFAULT_BUS_NAME = "keyturn";
export const DEFAULT_SECRET_NAME_PREFIX = "keyturn/";

/** Secrets Manager name characters, ending in "/" so that the prefix names a folder, not a stem. */
const SECRET_NAME_PREFIX = /^[A-Za-z0-9/_+=.@-]*\/$/;

export interface KeyturnProps {
  /** Name of the EventBridge bus keyturn publishes to. Default "keyturn". */
  readonly busName?: string;
  /** Every managed secret is named `<prefix><credential>`. Must end with "/". Default "keyturn/". */
  readonly secretNamePrefix?: string;
}

export class InvalidKeyturnPropsError extends Error {
  override readonly name = "InvalidKeyturnPropsError";
}

export class Keyturn extends Construct {
  readonly bus: EventBus;
  readonly rotateFunction: NodejsFunction;
  /** ARN pattern of the secrets keyturn may manage. */
  readonly secretArnPattern: string;

  constructor(scope: Construct, id: string, props: KeyturnProps = {}) {
    super(scope, id);
    const secretNamePrefix = props.secretNamePrefix ?? DEFAULT_SECRET_NAME_PREFIX;
    if (!Token.isUnresolved(secretNamePrefix) && !SECRET_NAME_PREFIX.test(secretNamePrefix)) {
      throw new InvalidKeyturnPropsError(
        `Keyturn secretNamePrefix "${secretNamePrefix}" is not a secret name folder: use letters, digits ` +
          'and /_+=.@- only, ending with "/" (for example "keyturn/"), so that it cannot match other secrets.',
      );
    }

    this.bus = new EventBus(this, "Bus", { eventBusName: props.busName ?? DEFAULT_BUS_NAME });

    const environment: RotateEnvironment = { KEYTURN_EVENT_BUS_NAME: this.bus.eventBusName };
    this.rotateFunction = new RotateFunction(this, "Rotate", { environment }).function;

    // AWS recommends aws:SourceAccount alone for rotation functions: aws:SourceArn would tie
    // the function to a single secret, and it rotates every keyturn credential.
    this.rotateFunction.addPermission("InvokedBySecretsManager", {
      principal: new ServicePrincipal("secretsmanager.amazonaws.com"),
      sourceAccount: Stack.of(this).account,
    });

    this.secretArnPattern = Stack.of(this).formatArn({
      service: "secretsmanager",
      resource: "secret",
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      resourceName: `${secretNamePrefix}*`,
    });
    // Both gates, not either: a secret's name is fixed at creation, so the prefix keeps out
    // every existing secret of the account, while a tag can be added to any secret by anyone
    // allowed to tag it. The tag then keeps out stray secrets created under the prefix. The
    // engine refuses a secret without keyturn:provider anyway, so requiring it costs nothing.
    // (secretsmanager:resource/AllowRotationLambdaArn would be tighter still, but it would
    // deny reading an issuer credential that is not rotated by this function.)
    // No KMS statement: secrets under the AWS managed key aws/secretsmanager need none.
    // Customer managed keys come with the config-driven stack, which knows the keys.
    const managedSecret = { Null: { [`aws:ResourceTag/${Tag.provider}`]: "false" } };
    this.rotateFunction.addToRolePolicy(
      new PolicyStatement({
        sid: "RotateKeyturnSecrets",
        actions: [
          "secretsmanager:DescribeSecret",
          "secretsmanager:GetSecretValue",
          "secretsmanager:PutSecretValue",
          "secretsmanager:UpdateSecretVersionStage",
        ],
        resources: [this.secretArnPattern],
        conditions: managedSecret,
      }),
    );
    this.rotateFunction.addToRolePolicy(
      new PolicyStatement({
        sid: "MirrorKeyturnTags",
        actions: ["secretsmanager:TagResource"],
        resources: [this.secretArnPattern],
        // The engine writes only keyturn:* tags; it must not change tags that other policies key on.
        conditions: { ...managedSecret, "ForAllValues:StringLike": { "aws:TagKeys": ["keyturn:*"] } },
      }),
    );
    this.bus.grantPutEventsTo(this.rotateFunction);
  }
}
