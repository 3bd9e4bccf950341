// The refresh function: keeps a valid access token for every token-refresh credential (the
// providers of mode "refresh") in Parameter Store (functions/handlers/refresh.ts), with its dead-letter queue, the lease
// table that keeps two refreshes of one credential apart, the KMS key the token parameters are
// encrypted with and its policy, the schedule that runs it, its permissions, and the grants that
// let consumers read the tokens.

import { ArnFormat, Duration, RemovalPolicy, Stack, Token, Validations } from "aws-cdk-lib";
import { AttributeType, BillingMode, Table, TableEncryption } from "aws-cdk-lib/aws-dynamodb";
import { Grant, type IGrantable, PolicyDocument, PolicyStatement } from "aws-cdk-lib/aws-iam";
import { Key } from "aws-cdk-lib/aws-kms";
import { Schedule, ScheduleExpression } from "aws-cdk-lib/aws-scheduler";
import type { Queue } from "aws-cdk-lib/aws-sqs";
import type { Construct } from "constructs";
import { tokenParameterName } from "#aws/token-store.ts";
import { parseDuration } from "#engine/duration.ts";
import type { CredentialConfig } from "../config.ts";
import { InvalidKeyturnPropsError } from "../keyturn-errors.ts";
import { keyAdministration, keyUse, principalArnOf } from "../keyturn-fences.ts";
import {
  acknowledgeListSecrets,
  allow,
  CredentialFunction,
  deadLetterQueue,
  grantRecords,
  InvokeFunction,
  type KeyturnContext,
  listSecrets,
  onManagedSecrets,
  schedulerRole,
} from "./shared.ts";

/**
 * What writing and reading a SecureString takes of its key: Parameter Store encrypts a standard
 * parameter with Encrypt and an advanced one with GenerateDataKey, and decrypts either with
 * Decrypt ("How AWS Systems Manager Parameter Store uses AWS KMS").
 */
const TOKEN_KEY_WRITE_ACTIONS = ["kms:Encrypt", "kms:GenerateDataKey", "kms:Decrypt"];
/** What the rest of a parameter name may hold (PutParameter, "Naming Constraints"). */
const PARAMETER_NAME = /^[A-Za-z0-9_.\-/]+$/;

export interface RefreshFunctionProps {
  readonly context: KeyturnContext;
  /** The token parameters' path, validated (Keyturn refuses one the permissions cannot be computed from). */
  readonly tokenParameterPrefix: string;
  /** How often the refresh runs, as written (the engine reads it) and in whole minutes (`wholeMinutes`). */
  readonly refreshInterval: string;
  readonly refreshIntervalMinutes: number;
  /** Consumers always find an access token with at least this long left. */
  readonly minTokenRemaining: string;
  /** The configured credentials: the token-refresh ones' consumers may decrypt their own parameter. */
  readonly credentials: readonly CredentialConfig[];
}

export class RefreshFunction extends CredentialFunction<"refresh"> {
  /** Refresh runs that failed for good (the schedule could not invoke the function, or the run threw). */
  readonly deadLetters: Queue;
  /** Leases that keep two refreshes of one credential apart (functions/aws/lease.ts). */
  readonly leaseTable: Table;
  /** Encrypts the token parameters; its policy names who may use it, for which parameter. */
  readonly tokenKey: Key;
  /** Token pairs live under this Parameter Store path, one parameter per credential. */
  readonly tokenParameterPrefix: string;
  #tokenReaders = 0;

  constructor(scope: Construct, id: string, props: RefreshFunctionProps) {
    const { context } = props;
    // Beside the function, in the Keyturn scope (infra/functions/shared.ts says why).
    const deadLetters = deadLetterQueue(scope, "RefreshDeadLetters");
    const leaseTable = new Table(scope, "Leases", {
      partitionKey: { name: "lease", type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      // Expired leases are taken over by the next refresher anyway (a conditional write); TTL
      // only clears the ones whose holder died before releasing them.
      timeToLiveAttribute: "expiresAt",
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      // An AWS owned key rather than a KMS key of the account: an item holds a lease name (a
      // secret's ARN, which ListSecrets shows anyway), a Lambda request id and an expiry, never
      // a token or a key, so a key policy and a CloudTrail record of every use would guard nothing.
      encryption: TableEncryption.DEFAULT,
      // A lease lives at most a minute: nothing in the table outlives the stack.
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // The refresh interval is also the schedule's rate below: the engine replaces a pair once it
    // could expire before the next run, so it must know how often runs really come.
    const eventAge = Duration.minutes(Math.min(props.refreshIntervalMinutes, 6 * 60));
    // A customer managed key rather than the AWS managed aws/ssm, whose key policy lets every
    // principal of the account decrypt any SecureString through Parameter Store (Systems Manager
    // User Guide, "Restricting decryption of SecureString parameter values"): under this one only
    // the refresh writes the pairs and only each credential's consumers read theirs, each bound
    // to its parameter by the encryption context Parameter Store sends (PARAMETER_ARN; "How AWS
    // Systems Manager Parameter Store uses AWS KMS"). Retained: a parameter's older versions stay
    // encrypted under it.
    const tokenKey = new Key(scope, "TokenKey", {
      description: "keyturn: encrypts the token pairs the refresh keeps in Parameter Store",
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.RETAIN,
      pendingWindow: Duration.days(30),
      policy: new PolicyDocument({ statements: [keyAdministration()] }),
    });
    super(scope, id, context, {
      handler: "refresh",
      description:
        "keyturn: keeps a valid access token for every token-refresh credential in Parameter Store",
      // No longer than a lease (the engine holds each for 60 s): a run cut short cannot still be
      // writing a pair once another refresher may take the lease over. It also ends before the
      // next run is due, the interval being a minute at least.
      timeout: Duration.minutes(1),
      environment: {
        KEYTURN_EVENT_BUS_NAME: context.bus.eventBusName,
        KEYTURN_LEASE_TABLE: leaseTable.tableName,
        KEYTURN_TOKEN_PARAMETER_PREFIX: props.tokenParameterPrefix,
        KEYTURN_REFRESH_INTERVAL: props.refreshInterval,
        KEYTURN_MIN_TOKEN_REMAINING: props.minTokenRemaining,
        KEYTURN_TOKEN_KEY_ID: tokenKey.keyArn,
        // Read only: the settings keyturn wrote values under (a config change is not tampering).
        KEYTURN_RECORDS_TABLE: context.recordsTable.tableName,
      },
      // A refresh invalidates the previous token pair, so two runs at once would leave one of
      // them writing a dead pair: never more than one. A schedule that fires during a run is
      // throttled, not lost: Lambda keeps the event and retries it, with backoff, until the run
      // has ended (up to maxEventAge). The lease table still keeps refreshes from anywhere else
      // apart.
      reservedConcurrentExecutions: 1,
      asyncInvocation: {
        // No retry: the next scheduled run is the retry, and it picks up whatever this one left.
        retryAttempts: 0,
        // A run held back for a whole interval is given up: the next one is due anyway.
        maxEventAge: eventAge,
        deadLetterQueue: deadLetters,
      },
    });
    this.deadLetters = deadLetters;
    this.leaseTable = leaseTable;
    this.tokenKey = tokenKey;
    this.tokenParameterPrefix = props.tokenParameterPrefix;
    // GetItem only: the refresh reads a credential's record when its value's settings differ from
    // the pinned ones (functions/engine/credentials.ts); it writes none (the table's policy refuses).
    grantRecords(context, this.function, "dynamodb:GetItem");
    allow(
      context,
      this.function,
      // The refresh filters ListSecrets on the keyturn:provider tag key.
      listSecrets(),
      // The API key, to mint or refresh a pair. No DescribeSecret: ListSecrets already answers
      // the tags and staging labels the refresh reads.
      onManagedSecrets(context, "ReadKeyturnSecrets", ["secretsmanager:GetSecretValue"]),
      new PolicyStatement({
        sid: "ReadWriteTokenParameters",
        actions: ["ssm:GetParameter", "ssm:PutParameter"],
        resources: [this.#tokenParameterArn()],
      }),
      // The token key, through Parameter Store for keyturn's token parameters only. The key
      // policy names the role too (below): it alone decides, since it gives the account nothing.
      new PolicyStatement({
        sid: "EncryptDecryptTokenParameters",
        actions: TOKEN_KEY_WRITE_ACTIONS,
        resources: [this.tokenKey.keyArn],
        conditions: this.#tokenKeyConditions(),
      }),
      // Conditional writes only: PutItem takes a lease, DeleteItem gives it back.
      new PolicyStatement({
        sid: "TakeAndReleaseLeases",
        actions: ["dynamodb:PutItem", "dynamodb:DeleteItem"],
        resources: [this.leaseTable.tableArn],
      }),
    );
    this.tokenKey.addToResourcePolicy(
      keyUse("RefreshStoresTokens", TOKEN_KEY_WRITE_ACTIONS, [this.role.roleArn], this.#viaSsm(), {
        PARAMETER_ARN: this.#tokenParameterArn(),
      }),
    );
    // Each token-refresh credential's consumers decrypt its own parameter, and no other.
    for (const credential of props.credentials) {
      if (credential.mode !== "refresh" || (credential.consumers ?? []).length === 0) continue;
      this.#allowTokenReaders(credential.consumers ?? [], credential.secretName);
    }
    new Schedule(scope, "RefreshSchedule", {
      schedule: ScheduleExpression.rate(Duration.minutes(props.refreshIntervalMinutes)),
      description: "keyturn: runs the token refresh",
      target: new InvokeFunction(this.function, {
        deadLetterQueue: deadLetters,
        maxEventAge: eventAge,
        role: schedulerRole(scope, "RefreshScheduleRole", "refresh"),
      }),
    });
    acknowledgeListSecrets(this.role);
    Validations.of(this.role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:parameter${this.tokenParameterPrefix}/*]`,
      reason:
        "The refresh stores one token parameter per refresh-mode credential, named after it, under keyturn's own token " +
        "prefix; credentials come and go with the config, so the prefix needs a wildcard (GetParameter and PutParameter only).",
    });
  }

  /** Keyturn.grantReadTokens: the token parameter of `credential` (or every one) and its decryption. */
  grantReadTokens(grantee: IGrantable, credential?: string): Grant {
    if (credential !== undefined && !Token.isUnresolved(credential) && !PARAMETER_NAME.test(credential)) {
      throw new InvalidKeyturnPropsError(
        `Keyturn grantReadTokens credential "${credential}" cannot name a token parameter: Parameter Store ` +
          "names hold letters, digits and _.-/ only (and no wildcard, which would widen the grant).",
      );
    }
    const grant = Grant.addToPrincipal({
      grantee,
      actions: ["ssm:GetParameter"],
      resourceArns: [this.#tokenParameterArn(credential)],
    });
    Grant.addToPrincipal({
      grantee,
      actions: ["kms:Decrypt"],
      resourceArns: [this.tokenKey.keyArn],
      conditions: this.#tokenKeyConditions(credential),
    });
    this.#allowTokenReaders([principalArnOf(grantee, "grantReadTokens")], credential);
    return grant;
  }

  /** Names token readers in the token key's policy: decryption through Parameter Store of that credential's parameter (or every one). */
  #allowTokenReaders(arns: readonly string[], credential?: string): void {
    this.tokenKey.addToResourcePolicy(
      keyUse(`ConsumersDecryptTokens${++this.#tokenReaders}`, ["kms:Decrypt"], arns, this.#viaSsm(), {
        PARAMETER_ARN: this.#tokenParameterArn(credential),
      }),
    );
  }

  /** Use of the token key through Parameter Store, for one credential's parameter or every token parameter. */
  #tokenKeyConditions(credential?: string): Record<string, Record<string, unknown>> {
    return {
      StringEquals: { "kms:ViaService": this.#viaSsm() },
      StringLike: { "kms:EncryptionContext:PARAMETER_ARN": this.#tokenParameterArn(credential) },
    };
  }

  #viaSsm(): string {
    return `ssm.${Stack.of(this).region}.amazonaws.com`;
  }

  /** The ARN of one credential's token parameter, or of all of them. */
  #tokenParameterArn(credential?: string): string {
    const name =
      credential === undefined
        ? `${this.tokenParameterPrefix}/*`
        : tokenParameterName(credential, this.tokenParameterPrefix);
    return Stack.of(this).formatArn({
      service: "ssm",
      resource: "parameter",
      arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
      // A parameter's ARN is "parameter" followed by its name, which already starts with "/".
      resourceName: name.replace(/^\/+/, ""),
    });
  }
}

/** The refresh interval in minutes, refused unless EventBridge Scheduler can run at that rate. */
export function wholeMinutes(interval: string): number {
  const ms = Token.isUnresolved(interval) ? undefined : parseDuration(interval);
  if (ms === undefined || ms < 60_000 || ms % 60_000 !== 0) {
    throw new InvalidKeyturnPropsError(
      `Keyturn refreshInterval "${interval}" is not a whole number of minutes of at least one: the refresh ` +
        'schedule runs at a rate in minutes, so write a duration such as "2m", "5m" or "1h".',
    );
  }
  return ms / 60_000;
}
