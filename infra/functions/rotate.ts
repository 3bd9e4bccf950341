// The rotate function: Secrets Manager's rotation function for every keyturn secret
// (functions/handlers/rotate.ts). Secrets Manager invokes it synchronously, step by step, and
// retries a failed rotation itself, so it has no dead-letter queue and no schedule of its own
// (each credential's rotation schedule is in infra/keyturn-credentials.ts).

import { Duration, Stack } from "aws-cdk-lib";
import { ServicePrincipal } from "aws-cdk-lib/aws-iam";
import type { Construct } from "constructs";
import {
  allow,
  busAndRecordsEnvironment,
  CredentialFunction,
  grantRecords,
  type KeyturnContext,
  mirrorKeyturnTags,
  onManagedSecrets,
  throughSecretsManager,
} from "./shared.ts";

/** The id of the permission that lets Secrets Manager invoke the function (the rotation schedules depend on it). */
export const INVOKED_BY_SECRETS_MANAGER = "InvokedBySecretsManager";

export class RotateFunction extends CredentialFunction<"rotate"> {
  constructor(scope: Construct, id: string, context: KeyturnContext) {
    super(scope, id, context, {
      handler: "rotate",
      description: "keyturn: Secrets Manager rotation function for vendor API credentials",
      // One step makes a few vendor calls (list issued keys, revoke a lost one, mint); each
      // call may take 4 attempts of 10 s plus backoff in the HTTP client, about a minute at
      // worst. Three minutes lets a step finish through one slow vendor; beyond that the
      // client's deadline check fails the step cleanly and Secrets Manager retries it.
      timeout: Duration.minutes(3),
      environment: busAndRecordsEnvironment(context),
    });
    grantRecords(context, this.function, "dynamodb:GetItem", "dynamodb:UpdateItem");
    // AWS recommends aws:SourceAccount for rotation functions and warns that an exact
    // aws:SourceArn would tie the function to one secret. Lambda matches SourceArn with ArnLike,
    // so the secrets folder keeps the function to keyturn's secrets while it rotates all of them.
    this.function.addPermission(INVOKED_BY_SECRETS_MANAGER, {
      principal: new ServicePrincipal("secretsmanager.amazonaws.com"),
      sourceAccount: Stack.of(this).account,
      sourceArn: context.secretArnPattern,
    });
    allow(
      context,
      this.function,
      onManagedSecrets(context, "RotateKeyturnSecrets", [
        "secretsmanager:DescribeSecret",
        "secretsmanager:GetSecretValue",
        "secretsmanager:PutSecretValue",
        "secretsmanager:UpdateSecretVersionStage",
      ]),
      mirrorKeyturnTags(context),
    );
  }

  /** Decrypts and stores keyturn's secrets under these KMS keys, through Secrets Manager only. */
  override useSecretKeys(keyArns: string[]): void {
    this.function.addToRolePolicy(
      throughSecretsManager(
        this,
        this.context,
        "DecryptAndEncryptKeyturnSecrets",
        ["kms:Decrypt", "kms:GenerateDataKey"],
        keyArns,
      ),
    );
  }
}
