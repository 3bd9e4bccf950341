// The credentials of a keyturn deployment, from the config: one secret each (created under
// keyturn's own KMS key, or an existing one adopted), its keyturn:* policy tags, and, for
// credentials keyturn mints at the vendor, Secrets Manager's rotation schedule pointing at the
// rotate function.

import { ArnFormat, Duration, RemovalPolicy, SecretValue, Stack, Tags, Validations } from "aws-cdk-lib";
import { PolicyStatement } from "aws-cdk-lib/aws-iam";
import { Key } from "aws-cdk-lib/aws-kms";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import { LogGroup, RetentionDays } from "aws-cdk-lib/aws-logs";
import { CfnRotationSchedule, type ISecret, Secret } from "aws-cdk-lib/aws-secretsmanager";
import {
  AwsCustomResource,
  AwsCustomResourcePolicy,
  type AwsSdkCall,
  PhysicalResourceId,
} from "aws-cdk-lib/custom-resources";
import { Construct, type IDependable } from "constructs";
import { Tag } from "#engine/settings.ts";
import { type CredentialConfig, credentialTags, INITIAL_SECRET_VALUE } from "./config.ts";

export interface KeyturnCredentialsProps {
  readonly credentials: readonly CredentialConfig[];
  /** Secrets Manager's rotation function for automatic credentials. */
  readonly rotateFunction: IFunction;
  /**
   * What must exist before a rotation schedule: Secrets Manager checks a new schedule by running
   * the function's testSecret step, so the function's permission for Secrets Manager and its
   * role's policies come first (the function itself does: the schedule names it).
   */
  readonly rotateDependencies: IDependable[];
}

/** Policy tags that may be absent from a credential; an adopted secret gets them empty instead (read as unset). */
const CLEARABLE_TAGS = [Tag.issuer, Tag.maxAge] as const;

export class KeyturnCredentials extends Construct {
  /** Encrypts the secrets the stack creates; undefined when it creates none. */
  readonly key: Key | undefined;
  /** Each credential's secret, by credential name. */
  readonly secrets: Record<string, ISecret> = {};
  /** Each credential's secret ARN for IAM policies (a pattern matching Secrets Manager's suffix when only the name is known). */
  readonly secretPolicyArns: Record<string, string> = {};
  /** Secrets Manager's rotation schedule of each automatic credential, by credential name. */
  readonly rotationSchedules: Record<string, CfnRotationSchedule> = {};
  /** ARNs of the KMS keys the managed secrets are encrypted with (keyturn's own and the adopted secrets'). */
  readonly keyArns: string[] = [];
  #adopted = 0;

  constructor(scope: Construct, id: string, props: KeyturnCredentialsProps) {
    super(scope, id);
    const created = props.credentials.filter((credential) => credential.source.kind === "create");
    if (created.length > 0) {
      this.key = new Key(this, "Key", {
        description: "keyturn: encrypts the secrets of the credentials keyturn manages",
        enableKeyRotation: true,
        // Retained with the secrets it encrypts (below): deleting it would make them unreadable.
        removalPolicy: RemovalPolicy.RETAIN,
        pendingWindow: Duration.days(30),
      });
      this.keyArns.push(this.key.keyArn);
    }
    for (const credential of props.credentials) {
      const id = credential.name.replaceAll("/", "|");
      const secret =
        credential.source.kind === "create"
          ? this.#createSecret(id, credential, this.key as Key)
          : this.#adoptSecret(id, credential, credential.source);
      this.secrets[credential.name] = secret;
      this.secretPolicyArns[credential.name] =
        credential.source.kind === "existing" && credential.source.secretArn === undefined
          ? this.#namedSecretArn(credential.source.secretName)
          : secret.secretArn;
      if (credential.source.kind === "existing" && credential.source.kmsKeyArn !== undefined) {
        this.keyArns.push(credential.source.kmsKeyArn);
      }
      if (credential.rotation) {
        const schedule = new CfnRotationSchedule(this, `${id}Rotation`, {
          secretId: secretId(secret, credential),
          rotationLambdaArn: props.rotateFunction.functionArn,
          rotationRules: {
            scheduleExpression: credential.rotation.scheduleExpression,
            duration: credential.rotation.window,
          },
          // A new or changed schedule must not mint a key at deploy: the first key is handed over
          // with `keyturn put`, and a changed schedule takes effect at its next window.
          rotateImmediatelyOnUpdate: false,
        });
        schedule.node.addDependency(...props.rotateDependencies);
        this.rotationSchedules[credential.name] = schedule;
      } else {
        Validations.of(secret).acknowledge({
          id: "AwsSolutions-SMG4",
          reason:
            `${credential.provider} keys cannot be minted by API, so Secrets Manager has nothing to rotate them with: ` +
            'a person replaces them (keyturn put), and the monitor publishes "Manual Rotation Required" when the key ' +
            "reaches its maxAge or an expiry threshold.",
        });
      }
    }
  }

  #createSecret(id: string, credential: CredentialConfig, key: Key): ISecret {
    const secret = new Secret(this, id, {
      secretName: credential.secretName,
      description: credential.description ?? `keyturn: ${credential.provider} credential ${credential.name}`,
      encryptionKey: key,
      // A constant with no secret in it (infra/config.ts): the first `keyturn put` stores the key.
      secretStringValue: SecretValue.unsafePlainText(INITIAL_SECRET_VALUE),
      // The secret holds a live vendor key: deleting the stack must not delete it with it.
      removalPolicy: RemovalPolicy.RETAIN,
    });
    for (const [key, value] of Object.entries(credentialTags(credential))) Tags.of(secret).add(key, value);
    return secret;
  }

  /**
   * An existing secret: CloudFormation cannot tag a resource it does not own, so a custom
   * resource writes the policy tags at deploy (and removes them when the credential leaves the
   * config, which hands the secret back untouched otherwise).
   */
  #adoptSecret(
    id: string,
    credential: CredentialConfig,
    source: Extract<CredentialConfig["source"], { kind: "existing" }>,
  ): ISecret {
    const secret =
      source.secretArn !== undefined
        ? Secret.fromSecretCompleteArn(this, id, source.secretArn)
        : Secret.fromSecretNameV2(this, id, source.secretName);
    const tags = {
      ...Object.fromEntries(CLEARABLE_TAGS.map((tag) => [tag, ""])),
      ...credentialTags(credential),
    };
    const tagCall: AwsSdkCall = {
      service: "SecretsManager",
      action: "TagResource",
      parameters: {
        SecretId: secretId(secret, credential),
        Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
      },
      physicalResourceId: PhysicalResourceId.of(`keyturn-tags:${source.secretName}`),
    };
    const tagging = new AwsCustomResource(this, `${id}Tags`, {
      onCreate: tagCall,
      onUpdate: tagCall,
      onDelete: {
        service: "SecretsManager",
        action: "UntagResource",
        parameters: { SecretId: secretId(secret, credential), TagKeys: Object.keys(tags) },
      },
      installLatestAwsSdk: false,
      memorySize: 256,
      logGroup: this.#adoptionLogs(),
      policy: AwsCustomResourcePolicy.fromStatements([
        new PolicyStatement({
          actions: ["secretsmanager:TagResource", "secretsmanager:UntagResource"],
          resources: [source.secretArn ?? this.#namedSecretArn(source.secretName)],
          conditions: { "ForAllValues:StringLike": { "aws:TagKeys": ["keyturn:*"] } },
        }),
      ]),
    });
    if (this.#adopted++ === 0) acknowledgeAdoptionProvider(this);
    if (source.secretArn === undefined) {
      Validations.of(tagging).acknowledge({
        id:
          "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:" +
          `${source.secretName}-??????]`,
        reason:
          "The existing secret is named, not referenced by ARN, and Secrets Manager appends six random characters to " +
          "every secret's ARN: this wildcard matches that one secret's suffix and nothing else.",
      });
    }
    return secret;
  }

  /** Any secret of that name: its ARN ends in "-" and six characters Secrets Manager chose. */
  #namedSecretArn(secretName: string): string {
    return Stack.of(this).formatArn({
      service: "secretsmanager",
      resource: "secret",
      resourceName: `${secretName}-??????`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
  }

  /** One log group, shared by every adoption (they run in CDK's one custom resource function). */
  #adoptionLogs(): LogGroup {
    const existing = this.node.tryFindChild("AdoptionLogs");
    if (existing) return existing as LogGroup;
    return new LogGroup(this, "AdoptionLogs", {
      retention: RetentionDays.ONE_YEAR,
      removalPolicy: RemovalPolicy.RETAIN,
    });
  }
}

/** How Secrets Manager is told the secret: its ARN, or its name when only the name is known (a partial ARN could be ambiguous). */
function secretId(secret: ISecret, credential: CredentialConfig): string {
  return credential.source.kind === "existing" && credential.source.secretArn === undefined
    ? credential.source.secretName
    : secret.secretArn;
}

/**
 * CDK's one provider function behind every AwsCustomResource of a stack: it lives at the stack's
 * root and is configured by CDK, so its findings are acknowledged where it is.
 */
function acknowledgeAdoptionProvider(scope: Construct): void {
  const provider = Stack.of(scope).node.tryFindChild(
    `AWS${AwsCustomResource.PROVIDER_FUNCTION_UUID.replaceAll("-", "")}`,
  );
  if (!provider) return;
  const deployTimeOnly =
    "CDK's AwsCustomResource provider, which CloudFormation invokes synchronously at deploy only";
  Validations.of(provider).acknowledge(
    {
      id: "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
      reason:
        `${deployTimeOnly}: CDK attaches the basic execution policy (logs only) to it. What it may do to secrets is ` +
        "the separate inline policy: tagging the adopted secrets, with keyturn:* tags only.",
    },
    {
      id: "Serverless-LambdaDLQ",
      reason: `${deployTimeOnly}: a failure fails the deployment, which reports it; nothing is queued that could be lost.`,
    },
    {
      id: "Serverless-LambdaTracing",
      reason: `${deployTimeOnly} for one SDK call (TagResource or UntagResource); CloudTrail and the stack's events record it.`,
    },
  );
}
