// Short-lived token pairs in SSM Parameter Store, one SecureString per credential. Not in
// Secrets Manager: a 10-minute access token would be written every few minutes, and
// Secrets Manager keeps every version younger than 24 h, which runs into its version quota;
// Parameter Store keeps the 100 newest versions and drops older ones by itself.
// Consumers read the parameter (WithDecryption) and re-read it on a 401.

import {
  GetParameterCommand,
  ParameterNotFound,
  PutParameterCommand,
  type SSMClient,
} from "@aws-sdk/client-ssm";
import { DEFAULT_TOKEN_PARAMETER_PREFIX } from "#engine/defaults.ts";

/** What a consumer finds in the parameter: the pair, its absolute expiries, and which key minted it. */
export interface StoredTokens {
  accessToken: string;
  refreshToken: string;
  type: string;
  /** Epoch milliseconds, as the vendor answered. */
  accessTokenExpiresAt: number;
  refreshTokenExpiresAt: number;
  /** The id of the API key the pair was minted from. */
  keyId: string;
  refreshedAt: string;
}

export function tokenParameterName(credential: string, prefix = DEFAULT_TOKEN_PARAMETER_PREFIX): string {
  return `${prefix}/${credential.replace(/^\/+/, "")}`;
}

export interface TokenStoreOptions {
  /**
   * The KMS key (id, ARN or alias) to encrypt the parameters with; unset, Parameter Store's
   * default, the AWS managed key aws/ssm. The stack gives keyturn's own token key, whose key
   * policy names who may decrypt each parameter.
   */
  keyId?: string;
}

export class TokenStore {
  readonly #client: SSMClient;
  readonly #keyId: string | undefined;

  constructor(client: SSMClient, options: TokenStoreOptions = {}) {
    this.#client = client;
    this.#keyId = options.keyId;
  }

  async read(name: string): Promise<StoredTokens | undefined> {
    try {
      const answer = await this.#client.send(new GetParameterCommand({ Name: name, WithDecryption: true }));
      return answer.Parameter?.Value ? (JSON.parse(answer.Parameter.Value) as StoredTokens) : undefined;
    } catch (error) {
      if (error instanceof ParameterNotFound) return undefined;
      throw error;
    }
  }

  /**
   * The parameter's version, read without decrypting it (no KMS request): it changes with every
   * write. undefined when there is no parameter.
   */
  async version(name: string): Promise<number | undefined> {
    try {
      const answer = await this.#client.send(new GetParameterCommand({ Name: name, WithDecryption: false }));
      return answer.Parameter?.Version;
    } catch (error) {
      if (error instanceof ParameterNotFound) return undefined;
      throw error;
    }
  }

  /** Writes the pair; the parameter's new version. */
  async write(name: string, tokens: StoredTokens, keyId = this.#keyId): Promise<number | undefined> {
    const answer = await this.#client.send(
      new PutParameterCommand({
        Name: name,
        Value: JSON.stringify(tokens),
        Type: "SecureString",
        Overwrite: true,
        ...(keyId ? { KeyId: keyId } : {}),
        Description: "keyturn: current access and refresh tokens (JSON); re-read on 401",
      }),
    );
    return answer.Version;
  }
}
