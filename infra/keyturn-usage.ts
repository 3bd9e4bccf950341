// The consumers' side of the construct (issue 19): the usage table the consumer library reports
// into (functions/aws/usage-store.ts), the monitor's read of it, and `grantConsumer`, which gives
// an application's role what keyturn/consumer needs for one credential and nothing more: read that
// credential's secret (or, for a token credential, its token parameter and its decryption), and
// write usage reports in that credential's partition only (an IAM dynamodb:LeadingKeys
// condition). So a consumer can at worst delay its own credential's previous-key revocation, up
// to the in-use limit (functions/engine/revocation.ts); it cannot touch another credential's.
//
// Its own table, not the records table: the records decide which keys keyturn may revoke and
// only keyturn's functions write them; reports are written by applications.

import { RemovalPolicy, Stack } from "aws-cdk-lib";
import { AttributeType, BillingMode, Table, TableEncryption } from "aws-cdk-lib/aws-dynamodb";
import { Grant, type IGrantable } from "aws-cdk-lib/aws-iam";
import type { NodejsFunction } from "aws-cdk-lib/aws-lambda-nodejs";
import { Construct } from "constructs";
import { USAGE_ATTRIBUTES, USAGE_KEYS } from "#aws/usage-store.ts";
import type { CredentialConfig } from "./config.ts";
import { InvalidKeyturnPropsError } from "./keyturn-errors.ts";
import { denyAllBut, TABLE_CHANGES } from "./keyturn-fences.ts";

/** Writing a report other than by PutItem: deleting one early, rewriting one, or many at once. */
const USAGE_REWRITES = [
  "dynamodb:UpdateItem",
  "dynamodb:DeleteItem",
  "dynamodb:BatchWriteItem",
  "dynamodb:PartiQLUpdate",
  "dynamodb:PartiQLDelete",
  "dynamodb:PartiQLInsert",
];

export interface KeyturnUsageProps {
  /** The stack's bus name: the table is named after it, as the records table is. */
  busName: string;
  /** The configured credentials (their mode and secret name). */
  credentials: readonly Pick<CredentialConfig, "name" | "mode" | "secretName">[];
  /** The monitor reads the reports of each credential whose previous key is due. */
  monitor: NodejsFunction;
}

/** What grantConsumer asks of the Keyturn construct: its own grants of a secret and of token parameters. */
export interface ConsumerReadGrants {
  grantRead(grantee: IGrantable, credential: string): Grant;
  grantReadTokens(grantee: IGrantable, credential?: string): Grant;
}

export class KeyturnUsage extends Construct {
  /** The consumers' usage reports: partition credential (secret name), sort `<keyId>#<consumer>`, TTL expiresAt. */
  readonly table: Table;
  readonly #credentials: KeyturnUsageProps["credentials"];
  readonly #tableName: string;

  constructor(scope: Construct, id: string, props: KeyturnUsageProps) {
    super(scope, id);
    this.#credentials = props.credentials;
    this.#tableName = `${props.busName}-usage`;
    this.table = new Table(this, "Table", {
      tableName: this.#tableName,
      partitionKey: { name: USAGE_KEYS.partition, type: AttributeType.STRING },
      sortKey: { name: USAGE_KEYS.sort, type: AttributeType.STRING },
      timeToLiveAttribute: USAGE_KEYS.ttl,
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      // As the records table: an item holds a credential's name, a consumer's name and a key id
      // (the vendor's id, never the key), which keyturn publishes anyway.
      encryption: TableEncryption.DEFAULT,
      // What a deploy that deletes and recreates the stack must not forget: who still holds an old key.
      removalPolicy: RemovalPolicy.RETAIN,
    });
    props.monitor.addEnvironment("KEYTURN_USAGE_TABLE", this.table.tableName);
    this.table.grant(props.monitor, "dynamodb:Query");
  }

  /**
   * The table's resource policy: reports are written by PutItem alone (grantConsumer's, or a
   * consumer stack's own), so that nobody but the deployment deletes or rewrites them before
   * their TTL, or writes many at once; and only the deployment changes or deletes the table.
   * Who may put a report is left to IAM (grantConsumer, with its partition condition): the
   * consumers of other stacks are named nowhere here. The worst a report does is bounded by the
   * in-use limit (functions/engine/revocation.ts); a table that cannot be read holds nothing
   * back and is announced as a failure. The table is named by the ARN built from its name, as
   * the records table is (a resource's properties cannot refer to itself).
   */
  fence(deploymentRoleArn: string): void {
    const table = Stack.of(this).formatArn({
      service: "dynamodb",
      resource: "table",
      resourceName: this.#tableName,
    });
    const resources = [table, `${table}/*`];
    this.table.addToResourcePolicy(
      denyAllBut("ReportsArePutOnly", USAGE_REWRITES, [deploymentRoleArn], {}, resources),
    );
    this.table.addToResourcePolicy(
      denyAllBut("OnlyTheDeploymentChangesTheUsageTable", TABLE_CHANGES, [deploymentRoleArn], {}, resources),
    );
  }

  /**
   * Lets `grantee` (a role or user, as grantRead requires) consume `credential`: read it as
   * keyturn/consumer does, and report which key id it holds in that credential's partition only.
   */
  grantConsumer(keyturn: ConsumerReadGrants, grantee: IGrantable, credential: string): Grant {
    const config = this.#credentials.find((c) => c.name === credential);
    if (!config) {
      throw new InvalidKeyturnPropsError(
        `Keyturn grantConsumer: "${credential}" is not a configured credential ` +
          `(${this.#credentials.map((c) => c.name).join(", ") || "none are configured"}).`,
      );
    }
    // A token credential's consumers read the pair the refresh keeps, never the API key.
    const read =
      config.mode === "refresh"
        ? keyturn.grantReadTokens(grantee, config.secretName)
        : keyturn.grantRead(grantee, credential);
    Grant.addToPrincipal({
      grantee,
      // PutItem only: a report is written whole, never updated, deleted or batched (the table's
      // policy refuses those to all but the deployment).
      actions: ["dynamodb:PutItem"],
      resourceArns: [this.table.tableArn],
      conditions: {
        // The partition is the secret's name, as Secrets Manager answers it to the library; the
        // item's attributes are a report's, and the call answers nothing of what it replaced.
        "ForAllValues:StringEquals": {
          "dynamodb:LeadingKeys": [config.secretName],
          "dynamodb:Attributes": [...USAGE_ATTRIBUTES],
        },
        StringEqualsIfExists: { "dynamodb:ReturnValues": "NONE" },
      },
    });
    return read;
  }
}
