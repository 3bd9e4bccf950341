// Every failure as one line a person can act on: which credential, what went wrong, what to
// check. AWS errors (access denied, throttling, not found, missing credentials or region, an
// unreachable endpoint) get a sentence of their own; keyturn's own errors already are one. The
// stack trace is shown only with KEYTURN_DEBUG=1, and everything passes through the redactor.

import { KeyturnError } from "#engine/errors.ts";
import { HttpError } from "#http/errors.ts";
import { UsageError } from "./args.ts";

/** Set on AWS SDK errors by the clients' middleware (connection.ts): the IAM action that failed. */
export const AWS_ACTION = Symbol("keyturn.awsAction");

/** A failure the CLI detected itself, already phrased for the operator (exit 1). */
export class CommandFailure extends Error {
  override name = "CommandFailure";
}

export interface FailureContext {
  command: string;
  credential?: string | undefined;
  /** Where AWS is: "region eu-west-1" or "the endpoint http://127.0.0.1:5000". */
  where: string;
  bus: string;
}

export interface DescribedFailure {
  message: string;
  exitCode: 1 | 2;
}

const ACCESS_DENIED = /^(AccessDenied(Exception)?|UnauthorizedOperation|AuthorizationError)$/;
const THROTTLED =
  /^(Throttling(Exception)?|ThrottledException|TooManyRequestsException|RequestLimitExceeded|LimitExceededException|SlowDown)$/;
const BAD_CREDENTIALS =
  /^(ExpiredToken(Exception)?|UnrecognizedClientException|InvalidSignatureException|InvalidClientTokenId|IncompleteSignature(Exception)?)$/;
const UNREACHABLE = /^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH)$/;

function oneLine(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}

function awsSays(error: Error): string {
  const said = oneLine(error.message).slice(0, 300);
  return said && said !== error.name ? ` (AWS: ${said})` : "";
}

export function isAwsError(error: unknown): error is Error & { $metadata?: { httpStatusCode?: number } } {
  return error instanceof Error && ("$metadata" in error || AWS_ACTION in error || "$fault" in error);
}

function subject(context: FailureContext): string {
  return context.credential ? ` for credential "${context.credential}"` : "";
}

function describeAwsError(error: Error, context: FailureContext): string {
  const action = (error as Error & { [AWS_ACTION]?: string })[AWS_ACTION] ?? "the call";
  const name = error.name;
  const code = (error as { code?: unknown }).code;
  if (name === "ResourceNotFoundException") {
    if (action.startsWith("events:")) {
      return (
        `EventBridge bus "${context.bus}" does not exist in ${context.where}${subject(context)}: ` +
        "deploy keyturn's stack there, or name its bus with --bus."
      );
    }
    if (action.startsWith("lambda:")) {
      return (
        `keyturn's revoke function was not found in ${context.where}${subject(context)}: nothing was revoked. ` +
        "It is named <bus>-revoke (--bus, or KEYTURN_REVOKE_FUNCTION); revoke the key in the vendor's console " +
        `meanwhile${awsSays(error)}.`
      );
    }
    return context.credential
      ? `Credential "${context.credential}" not found: no secret with that name or ARN in ${context.where}. ` +
          "Check the name (keyturn status lists the managed credentials), the region (--region) and the account (--profile)."
      : `Not found in ${context.where}${awsSays(error)}.`;
  }
  if (ACCESS_DENIED.test(name)) {
    return (
      `AWS denied ${action}${subject(context)} in ${context.where}: the identity you run keyturn as lacks that ` +
      'permission on this resource. Check its IAM policy (docs/cli.md, "Operator permissions") and the profile ' +
      `(--profile, AWS_PROFILE)${awsSays(error)}.`
    );
  }
  if (THROTTLED.test(name)) {
    return (
      `AWS throttled ${action}${subject(context)} in ${context.where}, and the retries ran out. Nothing more was ` +
      "done; wait a minute and run the command again. If it keeps happening, look for automation calling " +
      "the same API in this account (Service Quotas shows the limit)."
    );
  }
  if (BAD_CREDENTIALS.test(name)) {
    return (
      `AWS rejected your credentials for ${action}${subject(context)} (${name}): they have expired or do not ` +
      "belong to this partition. Sign in again (e.g. aws sso login --profile <name>) and retry."
    );
  }
  if (name === "InvalidRequestException" && action === "secretsmanager:RotateSecret") {
    return (
      `Secrets Manager refused to rotate credential "${context.credential ?? "?"}"${awsSays(error)}. If no ` +
      "rotation function is set, point the secret at keyturn's rotate function (docs/deploy.md); if a previous " +
      "rotation is not complete, Secrets Manager retries it itself: wait, then check keyturn status."
    );
  }
  if (typeof code === "string" && UNREACHABLE.test(code)) {
    return (
      `Cannot reach AWS at ${context.where} (${code}) while calling ${action}${subject(context)}. Check ` +
      "--endpoint / AWS_ENDPOINT_URL (is the sandbox running?), the region and your network."
    );
  }
  return `AWS ${action} failed${subject(context)} in ${context.where}: ${name}${awsSays(error)}.`;
}

/** The one line and exit code for any failure. */
export function describeFailure(error: unknown, context: FailureContext): DescribedFailure {
  if (error instanceof UsageError) {
    const help = error.command ? `keyturn ${error.command} --help` : "keyturn --help";
    return { message: `${oneLine(error.message)}. See ${help}.`, exitCode: 2 };
  }
  if (!(error instanceof Error)) {
    return {
      message: `${context.command} failed${subject(context)}: ${oneLine(String(error))}`,
      exitCode: 1,
    };
  }
  if (error.name === "CredentialsProviderError" || /Could not load credentials/i.test(error.message)) {
    return {
      message:
        `No AWS credentials found: keyturn ${context.command} needs them. Set a profile (--profile, AWS_PROFILE), ` +
        "sign in (aws sso login), or export AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY. Against the sandbox, " +
        "set KEYTURN_SANDBOX=1.",
      exitCode: 1,
    };
  }
  if (/Region is missing/i.test(error.message)) {
    return {
      message: "No AWS region: pass --region, set AWS_REGION, or give your profile a region.",
      exitCode: 1,
    };
  }
  if (isAwsError(error)) return { message: oneLine(describeAwsError(error, context)), exitCode: 1 };
  // The engine wraps an AWS error met mid-step; the AWS sentence says more about what to fix.
  if (error instanceof KeyturnError && isAwsError(error.cause)) {
    return { message: oneLine(describeAwsError(error.cause, context)), exitCode: 1 };
  }
  // keyturn's own errors (engine, providers, HTTP layer, event publisher) name the credential
  // and the fix already.
  if (error instanceof KeyturnError || error instanceof HttpError || error instanceof CommandFailure) {
    return { message: oneLine(error.message), exitCode: 1 };
  }
  if (error.name === "EventPublishError") return { message: oneLine(error.message), exitCode: 1 };
  return {
    message: oneLine(
      `${context.command} failed${subject(context)}: ${error.name}: ${error.message} (KEYTURN_DEBUG=1 shows where)`,
    ),
    exitCode: 1,
  };
}
