// The credentials of a keyturn deployment, from the config: one secret each (created under
// keyturn's own KMS key, or an existing one adopted), its keyturn:* policy tags, its resource
// policy (the fence: who besides keyturn may write, label, tag or read it), and, for credentials
// keyturn mints at the vendor, Secrets Manager's rotation schedule pointing at the rotate function.

import { ArnFormat, Duration, Lazy, RemovalPolicy, SecretValue, Stack, Tags, Validations } from "aws-cdk-lib";
import { PolicyDocument, PolicyStatement } from "aws-cdk-lib/aws-iam";
import { Key } from "aws-cdk-lib/aws-kms";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import { LogGroup, RetentionDays } from "aws-cdk-lib/aws-logs";
import {
  CfnResourcePolicy,
  CfnRotationSchedule,
  type CfnSecret,
  type ISecret,
  Secret,
} from "aws-cdk-lib/aws-secretsmanager";
import {
  AwsCustomResource,
  AwsCustomResourcePolicy,
  type AwsSdkCall,
  PhysicalResourceId,
} from "aws-cdk-lib/custom-resources";
import { Construct, type IDependable } from "constructs";
import { Tag } from "#engine/settings.ts";
import { type CredentialConfig, credentialTags, INITIAL_SECRET_VALUE } from "./config.ts";
import {
  denyAllBut,
  keyAdministration,
  keyUse,
  principalArnOf,
  unique,
  validatePolicySize,
} from "./keyturn-fences.ts";

/**
 * Who may do what to the managed secrets, by principal ARN (aws:PrincipalArn): each secret's
 * resource policy denies each action to everyone else, and keyturn's key policy lets only these
 * principals use the key. The deployment role may do all of it.
 */
export interface CredentialFence {
  /** The role CloudFormation deploys the stack with (infra/keyturn-fences.ts, deploymentRoleArn). */
  readonly deploymentRoleArn: string;
  /** PutSecretValue: the rotate function and the operators who hand keys over. */
  readonly valueWriters: readonly string[];
  /** UpdateSecretVersionStage. */
  readonly labelMovers: readonly string[];
  /** RotateSecret. */
  readonly rotators: readonly string[];
  /** TagResource with keyturn:* tag keys. */
  readonly taggers: readonly string[];
  /** GetSecretValue on every managed secret, besides each credential's own consumers. */
  readonly readers: readonly string[];
}

/** Secrets Manager's limit on a secret's resource policy (API Reference, PutResourcePolicy: at most 20480 characters). */
const SECRET_POLICY_LIMIT = 20_480;

/** The tag keys keyturn owns: writing or removing them is fenced, other tags are free. */
const KEYTURN_TAG_KEYS = { "ForAnyValue:StringLike": { "aws:TagKeys": ["keyturn:*"] } };

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
  /** Who may change the secrets besides the deployment, and who may read them. */
  readonly fence: CredentialFence;
  /** ARN pattern of the secrets keyturn may manage (its secret name prefix). */
  readonly secretArnPattern: string;
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
  /** Each credential's secret resource policy, by credential name. */
  readonly resourcePolicies: Record<string, CfnResourcePolicy> = {};
  #adopted = 0;
  readonly #fence: CredentialFence;
  readonly #region: string;
  /** Readers granted in the app (grantRead), by credential: the fences let them read too. */
  readonly #granted = new Map<string, string[]>();
  /** The credentials whose secret the stack creates, under keyturn's key, by name: their secret names. */
  readonly #created = new Map<string, string>();
  #keyStatements = 0;

  constructor(scope: Construct, id: string, props: KeyturnCredentialsProps) {
    super(scope, id);
    this.#fence = props.fence;
    this.#region = Stack.of(this).region;
    const created = props.credentials.filter((credential) => credential.source.kind === "create");
    if (created.length > 0) {
      this.key = new Key(this, "Key", {
        description: "keyturn: encrypts the secrets of the credentials keyturn manages",
        enableKeyRotation: true,
        // Retained with the secrets it encrypts (below): deleting it would make them unreadable.
        removalPolicy: RemovalPolicy.RETAIN,
        pendingWindow: Duration.days(30),
        // Not CDK's default policy, which gives the account root kms:* and so lets any IAM
        // policy of the account use the key: the account administers it, and only the roles
        // named below use it, each through Secrets Manager for keyturn's secrets only. A role
        // must be named here: without the root's kms:*, an IAM policy alone no longer lets it
        // use the key (AWS KMS Developer Guide, "Key policies": "Allows access to the AWS
        // account and enables IAM policies").
        policy: new PolicyDocument({ statements: [keyAdministration()] }),
      });
      this.keyArns.push(this.key.keyArn);
      // Storing a value needs a data key, reading one a decryption (Secrets Manager User Guide,
      // "Secret encryption and decryption", "Permissions for the KMS key"). The deployment
      // creates each secret with its first value.
      this.key.addToResourcePolicy(
        keyUse(
          "WritersEncryptThroughSecretsManager",
          ["kms:GenerateDataKey", "kms:Decrypt"],
          [...props.fence.valueWriters, props.fence.deploymentRoleArn],
          this.#viaSecretsManager(),
          { SecretARN: props.secretArnPattern },
        ),
      );
      this.key.addToResourcePolicy(
        keyUse(
          "ReadersDecryptThroughSecretsManager",
          ["kms:Decrypt"],
          props.fence.readers,
          this.#viaSecretsManager(),
          { SecretARN: props.secretArnPattern },
        ),
      );
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
      this.#fenceSecret(id, credential, secret);
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
      // A constant with no secret in it (infra/config.ts): the first `keyturn put` stores the key.
      secretStringValue: SecretValue.unsafePlainText(INITIAL_SECRET_VALUE),
      // The secret holds a live vendor key: deleting the stack must not delete it with it.
      removalPolicy: RemovalPolicy.RETAIN,
    });
    // The key is set on the template's resource rather than as the construct's encryptionKey:
    // given one, CDK's Secret adds a statement to the key policy that lets every principal of the
    // account use the key through Secrets Manager, which is what keyturn's key policy withholds.
    (secret.node.defaultChild as CfnSecret).kmsKeyId = key.keyArn;
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

  /**
   * Lets a principal of the app read one credential's value: its secret's resource policy and
   * keyturn's key policy name it besides the configured consumers. `grantee` must be a role or
   * a user of this stack (or an imported one): a role of another stack that depends on this one
   * would make each stack wait for the other.
   */
  allowReader(grantee: Parameters<typeof principalArnOf>[0], credential: string): void {
    const arn = principalArnOf(grantee, "grantRead");
    const readers = this.#granted.get(credential) ?? [];
    readers.push(arn);
    this.#granted.set(credential, readers);
    // An adopted secret's key is not keyturn's: its own key policy must let the reader decrypt.
    if (this.key && this.#created.has(credential)) {
      this.key.addToResourcePolicy(this.#consumersDecrypt([arn], credential));
    }
  }

  /**
   * The secret's resource policy: a Deny per action that would change what keyturn trusts or
   * hands out, each excepting only the principals that need it. Deny rather than Allow: the
   * policy then takes nothing from keyturn's functions, whose IAM policies grant what they do,
   * and takes away from everyone else whatever the account's IAM policies give them (Secrets
   * Manager User Guide, "Resource-based policies"). BlockPublicPolicy stays on: Secrets Manager
   * refuses a policy that would open the secret to other accounts.
   */
  #fenceSecret(id: string, credential: CredentialConfig, secret: ISecret): void {
    const fence = this.#fence;
    const deployment = [fence.deploymentRoleArn];
    // An adopted secret's keyturn:* tags are written at deploy by CDK's custom resource
    // function, under a role of its own (below).
    const tagWriters = this.#adoptionRoleArn(id);
    const consumers = credential.consumers ?? [];
    const readers = Lazy.list({
      produce: () =>
        unique([
          ...fence.readers,
          ...consumers,
          ...(this.#granted.get(credential.name) ?? []),
          // It may rewrite this policy anyway, so denying it reads would guard nothing.
          fence.deploymentRoleArn,
        ]),
    });
    const document = new PolicyDocument({
      statements: [
        denyAllBut(
          "OnlyKeyturnWritesTheValue",
          ["secretsmanager:PutSecretValue"],
          [...fence.valueWriters, ...deployment],
        ),
        denyAllBut(
          "OnlyKeyturnMovesStagingLabels",
          ["secretsmanager:UpdateSecretVersionStage"],
          [...fence.labelMovers, ...deployment],
        ),
        denyAllBut("OnlyKeyturnRotates", ["secretsmanager:RotateSecret"], [...fence.rotators, ...deployment]),
        denyAllBut(
          "OnlyKeyturnWritesKeyturnTags",
          ["secretsmanager:TagResource"],
          [...fence.taggers, ...deployment, ...tagWriters],
          KEYTURN_TAG_KEYS,
        ),
        denyAllBut(
          "OnlyTheDeploymentRemovesKeyturnTags",
          ["secretsmanager:UntagResource"],
          [...deployment, ...tagWriters],
          KEYTURN_TAG_KEYS,
        ),
        // UpdateSecret writes a value or changes the key; CancelRotateSecret turns rotation off;
        // replicas would be copies under other policies. Nothing of keyturn calls them.
        denyAllBut(
          "OnlyTheDeploymentChangesTheSecret",
          [
            "secretsmanager:UpdateSecret",
            "secretsmanager:CancelRotateSecret",
            "secretsmanager:PutResourcePolicy",
            "secretsmanager:DeleteResourcePolicy",
            "secretsmanager:DeleteSecret",
            "secretsmanager:ReplicateSecretToRegions",
          ],
          deployment,
        ),
        // BatchGetSecretValue also requires GetSecretValue on each secret, so it is fenced too.
        denyAllBut("OnlyNamedReadersReadTheValue", ["secretsmanager:GetSecretValue"], readers),
      ],
    });
    const policy = new CfnResourcePolicy(this, `${id}Policy`, {
      secretId: secretId(secret, credential),
      resourcePolicy: document,
      blockPublicPolicy: true,
    });
    this.resourcePolicies[credential.name] = policy;
    validatePolicySize(
      policy,
      `the resource policy of credential "${credential.name}"`,
      SECRET_POLICY_LIMIT,
      () => document,
    );
    // Retained, as the secret is: a credential that leaves the config (or a stack that is
    // deleted) keeps its key live at the vendor through the departure's grace period, or for good
    // when only a person can revoke it, and deleting the policy with the config entry would open
    // that key to whatever the account's IAM policies allow. Retaining also keeps a replacement
    // (a credential renamed, so its policy's logical id changes) from deleting the new policy of
    // the same secret after it was put. For an adopted secret this means it is handed back fenced:
    // keyturn's tags are removed, but writing its value, its labels, its policy and reading it are
    // still denied to all but the roles the policy names, until its owner has the deployment role
    // delete the policy or put one of their own (nobody else may: the policy denies it).
    policy.applyRemovalPolicy(RemovalPolicy.RETAIN);
    if (credential.source.kind === "create") {
      this.#created.set(credential.name, credential.secretName);
      if (this.key && consumers.length > 0) {
        this.key.addToResourcePolicy(this.#consumersDecrypt(consumers, credential.name));
      }
    }
  }

  /**
   * Decryption of one created secret's value, through Secrets Manager, for its consumers. The
   * secret is named by its name, not referenced: the secret already refers to the key.
   */
  #consumersDecrypt(arns: readonly string[], credential: string): PolicyStatement {
    return keyUse(
      `ConsumersDecrypt${++this.#keyStatements}`,
      ["kms:Decrypt"],
      arns,
      this.#viaSecretsManager(),
      { SecretARN: this.#namedSecretArn(this.#created.get(credential) as string) },
    );
  }

  #viaSecretsManager(): string {
    return `secretsmanager.${this.#region}.amazonaws.com`;
  }

  /** The role of CDK's custom resource function that tags an adopted secret; none for a created one. */
  #adoptionRoleArn(id: string): string[] {
    const tagging = this.node.tryFindChild(`${id}Tags`) as AwsCustomResource | undefined;
    return tagging ? [principalArnOf(tagging, "adoption")] : [];
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
