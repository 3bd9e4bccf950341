// Secrets Manager as keyturn uses it: one secret per credential, versions moved between
// the AWSCURRENT / AWSPENDING / AWSPREVIOUS staging labels, non-secret facts in tags.
// The only module that calls Secrets Manager.

import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  paginateListSecrets,
  ResourceNotFoundException,
  RotateSecretCommand,
  type SecretsManagerClient,
  type Tag as SecretTag,
  TagResourceCommand,
  UpdateSecretVersionStageCommand,
} from "@aws-sdk/client-secrets-manager";

export const CURRENT = "AWSCURRENT";
export const PENDING = "AWSPENDING";

export interface SecretDescription {
  arn: string;
  name: string;
  /** versionId -> staging labels, as DescribeSecret reports them. */
  versions: Record<string, string[]>;
  tags: Record<string, string>;
  /** When Secrets Manager's own schedule rotates the secret next, if rotation is on. */
  nextRotationDate?: Date | undefined;
  /** Set when the secret is scheduled for deletion (DeleteSecret): its value can no longer be read. */
  deletedDate?: Date | undefined;
  /** Set on a replica: the region of the primary secret, which alone may be rotated or written. */
  primaryRegion?: string | undefined;
  /** Set when another AWS service manages the secret (RDS, Redshift…). */
  owningService?: string | undefined;
  /** The rotation function Secrets Manager calls for the secret, when one was ever set. */
  rotationLambdaArn?: string | undefined;
}

/** The facts AWS itself keeps about a secret (no tag or value can set them), as SecretDescription holds them. */
function awsFacts(entry: {
  DeletedDate?: Date | undefined;
  PrimaryRegion?: string | undefined;
  OwningService?: string | undefined;
  RotationLambdaARN?: string | undefined;
}): Pick<SecretDescription, "deletedDate" | "primaryRegion" | "owningService" | "rotationLambdaArn"> {
  return {
    ...(entry.DeletedDate ? { deletedDate: entry.DeletedDate } : {}),
    ...(entry.PrimaryRegion ? { primaryRegion: entry.PrimaryRegion } : {}),
    ...(entry.OwningService ? { owningService: entry.OwningService } : {}),
    ...(entry.RotationLambdaARN ? { rotationLambdaArn: entry.RotationLambdaARN } : {}),
  };
}

export interface SecretVersion {
  versionId: string;
  stages: string[];
  secretString: string;
}

export class SecretStore {
  readonly #client: SecretsManagerClient;

  constructor(client: SecretsManagerClient) {
    this.#client = client;
  }

  async describe(secretId: string): Promise<SecretDescription> {
    const answer = await this.#client.send(new DescribeSecretCommand({ SecretId: secretId }));
    return {
      arn: answer.ARN ?? secretId,
      name: answer.Name ?? secretId,
      versions: answer.VersionIdsToStages ?? {},
      tags: tagMap(answer.Tags),
      nextRotationDate: answer.RotationEnabled ? answer.NextRotationDate : undefined,
      ...awsFacts(answer),
    };
  }

  /**
   * Every secret carrying `tagKey`, a page (up to 100 secrets) at a time, with tags and
   * staging labels: enough to decide what is due without reading a single value. Secrets
   * scheduled for deletion are listed too (IncludePlannedDeletion), with their `deletedDate`,
   * only when `options.includeDeleted` asks for them: the monitor retires their keys.
   */
  async *listTagged(
    tagKey: string,
    tagValues?: string[],
    options: { includeDeleted?: boolean } = {},
  ): AsyncIterable<SecretDescription[]> {
    // The SDK's paginator follows NextToken; each page is one ListSecrets call.
    const pages = paginateListSecrets(
      { client: this.#client, pageSize: 100 },
      {
        // Filters are ANDed; a tag-value filter matches the value of any tag, so callers
        // still check that it is `tagKey` that carries it.
        Filters: [
          { Key: "tag-key", Values: [tagKey] },
          ...(tagValues ? [{ Key: "tag-value" as const, Values: tagValues }] : []),
        ],
        IncludePlannedDeletion: true,
      },
    );
    for await (const page of pages) {
      yield (page.SecretList ?? [])
        .filter((entry) => options.includeDeleted === true || !entry.DeletedDate)
        .map((entry) => ({
          arn: entry.ARN ?? "",
          name: entry.Name ?? "",
          versions: entry.SecretVersionsToStages ?? {},
          tags: tagMap(entry.Tags),
          nextRotationDate: entry.RotationEnabled ? entry.NextRotationDate : undefined,
          ...awsFacts(entry),
        }));
    }
  }

  /** Asks Secrets Manager to run the secret's rotation function now; answers the new version's id. */
  async rotateNow(secretId: string): Promise<string> {
    const answer = await this.#client.send(
      new RotateSecretCommand({ SecretId: secretId, RotateImmediately: true }),
    );
    return answer.VersionId ?? "";
  }

  /** The version with that id or label, or `undefined` when it does not exist (or has no value yet). */
  async read(
    secretId: string,
    which: { versionId: string } | { stage: string },
  ): Promise<SecretVersion | undefined> {
    try {
      const answer = await this.#client.send(
        new GetSecretValueCommand({
          SecretId: secretId,
          ...("versionId" in which ? { VersionId: which.versionId } : { VersionStage: which.stage }),
        }),
      );
      if (answer.SecretString === undefined || answer.VersionId === undefined) return undefined;
      return {
        versionId: answer.VersionId,
        stages: answer.VersionStages ?? [],
        secretString: answer.SecretString,
      };
    } catch (error) {
      if (error instanceof ResourceNotFoundException) return undefined;
      throw error;
    }
  }

  /** Stores a value under `versionId` labelled AWSPENDING. Same token and same value again is a no-op. */
  async putPending(secretId: string, versionId: string, secretString: string): Promise<void> {
    await this.#client.send(
      new PutSecretValueCommand({
        SecretId: secretId,
        ClientRequestToken: versionId,
        SecretString: secretString,
        VersionStages: [PENDING],
      }),
    );
  }

  /** Moves a label to `toVersionId`, taking it off `fromVersionId` (required by Secrets Manager when it is attached there). */
  async moveStage(
    secretId: string,
    stage: string,
    toVersionId: string,
    fromVersionId?: string,
  ): Promise<void> {
    await this.#client.send(
      new UpdateSecretVersionStageCommand({
        SecretId: secretId,
        VersionStage: stage,
        MoveToVersionId: toVersionId,
        ...(fromVersionId ? { RemoveFromVersionId: fromVersionId } : {}),
      }),
    );
  }

  async removeStage(secretId: string, stage: string, fromVersionId: string): Promise<void> {
    await this.#client.send(
      new UpdateSecretVersionStageCommand({
        SecretId: secretId,
        VersionStage: stage,
        RemoveFromVersionId: fromVersionId,
      }),
    );
  }

  async tag(secretId: string, tags: Record<string, string>): Promise<void> {
    await this.#client.send(
      new TagResourceCommand({
        SecretId: secretId,
        Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
      }),
    );
  }
}

/** The version currently carrying `stage`, from a description's versionId -> labels map. */
export function versionWithStage(versions: Record<string, string[]>, stage: string): string | undefined {
  for (const [versionId, stages] of Object.entries(versions)) {
    if (stages.includes(stage)) return versionId;
  }
  return undefined;
}

function tagMap(tags: SecretTag[] | undefined): Record<string, string> {
  const map: Record<string, string> = {};
  for (const tag of tags ?? []) {
    if (tag.Key !== undefined) map[tag.Key] = tag.Value ?? "";
  }
  return map;
}
