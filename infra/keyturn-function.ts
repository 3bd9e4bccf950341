// One keyturn Lambda as deployed: a handler from functions/handlers bundled by the local
// esbuild into one ES module, its log group, and an environment typed by that handler's own
// schema, so that a variable the handler reads cannot be forgotten here without `tsc` failing.

import { fileURLToPath } from "node:url";
import { type Duration, Validations } from "aws-cdk-lib";
import { Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { Architecture, Runtime, Tracing } from "aws-cdk-lib/aws-lambda";
import { SqsDestination } from "aws-cdk-lib/aws-lambda-destinations";
import { NodejsFunction, OutputFormat } from "aws-cdk-lib/aws-lambda-nodejs";
import { LogGroup, RetentionDays } from "aws-cdk-lib/aws-logs";
import type { IQueue } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import type { PinnedDocument } from "#engine/pinned.ts";
import type {
  MonitorEnvironment,
  RefreshEnvironment,
  RelayEnvironment,
  RevokeEnvironment,
  RotateEnvironment,
} from "#handlers/environment.ts";

const projectRoot = fileURLToPath(new URL("..", import.meta.url));

// CommonJS dependencies bundled into an ES module still call require() for Node built-ins
// (undici, parts of the AWS SDK); ESM has no require, so give it one.
const REQUIRE_BANNER =
  'import { createRequire as keyturnCreateRequire } from "node:module"; ' +
  "const require = keyturnCreateRequire(import.meta.url);";

/** The vendor HTTP client's undici part (functions/http/transport.ts), built beside index.mjs. */
const TRANSPORT_FILE = "transport.mjs";

/**
 * The shell command that builds functions/http/transport.ts into `<outputDir>/transport.mjs` with
 * the options of the function's own bundle: the vendor HTTP client imports it on its first vendor
 * call (functions/http/client.ts), so a cold start neither evaluates nor parses undici.
 * bench/lambda-build.ts builds the same file with the same options.
 */
function transportBuildCommand(inputDir: string, outputDir: string): string {
  const quote = (arg: string) => `'${arg.replaceAll("'", "'\\''")}'`;
  return [
    `${inputDir}/node_modules/.bin/esbuild`,
    "--bundle",
    `${inputDir}/functions/http/transport.ts`,
    "--target=node24",
    "--platform=node",
    "--format=esm",
    `--outfile=${outputDir}/${TRANSPORT_FILE}`,
    "--minify",
    "--sourcemap",
    "--sources-content=false",
    "--define:esbuildDetection=1",
    `--banner:js=${REQUIRE_BANNER}`,
    "--main-fields=module,main",
    "--log-level=warning",
  ]
    .map(quote)
    .join(" ");
}

/** Each handler in functions/handlers, with the environment its schema reads. */
export interface HandlerEnvironments {
  rotate: RotateEnvironment;
  monitor: MonitorEnvironment;
  refresh: RefreshEnvironment;
  revoke: RevokeEnvironment;
  relay: RelayEnvironment;
}

export type HandlerName = keyof HandlerEnvironments;

export interface AsyncInvocationProps {
  /** How often Lambda retries a failed asynchronous invocation (0 to 2). */
  readonly retryAttempts: number;
  /** How long an event may wait in Lambda's queue (throttled) before it is given up. */
  readonly maxEventAge: Duration;
  /** Receives every invocation that failed for good. */
  readonly deadLetterQueue: IQueue;
}

export interface KeyturnFunctionProps<H extends HandlerName> {
  /** The handler module, `functions/handlers/<handler>.ts`. */
  readonly handler: H;
  readonly description: string;
  readonly timeout: Duration;
  readonly environment: HandlerEnvironments[H];
  /** Default 256 MB. */
  readonly memorySize?: number;
  /** Default: none, the function shares the account's unreserved concurrency. */
  readonly reservedConcurrentExecutions?: number;
  /** For functions invoked asynchronously (schedules, rules). Default: Lambda's defaults, no queue. */
  readonly asyncInvocation?: AsyncInvocationProps;
  /**
   * What the deployment pins (functions/engine/pinned.ts), baked into the function's code: only
   * a deployment can change it. For the functions that act on credentials.
   */
  readonly pinned?: PinnedDocument;
}

export class KeyturnFunction<H extends HandlerName> extends Construct {
  readonly function: NodejsFunction;
  readonly logGroup: LogGroup;
  /** The execution role: it may write to its own log group, and what the construct adds. */
  readonly role: Role;

  constructor(scope: Construct, id: string, props: KeyturnFunctionProps<H>) {
    super(scope, id);

    // These logs are the audit trail that shows when each key was minted, verified, replaced
    // and revoked; one year covers the usual audit window (SOC 2, PCI DSS 10.5.1). The group is
    // retained when the stack is deleted, for the same reason.
    this.logGroup = new LogGroup(this, "Logs", { retention: RetentionDays.ONE_YEAR });

    // A role of its own rather than the AWSLambdaBasicExecutionRole managed policy, which lets a
    // function create log groups and write to every one in the account: this one may write to
    // its own log group only.
    this.role = new Role(this, "Role", {
      assumedBy: new ServicePrincipal("lambda.amazonaws.com"),
      description: `keyturn: execution role of the ${props.handler} function`,
    });
    this.logGroup.grantWrite(this.role);

    const asyncInvocation = props.asyncInvocation;
    this.function = new NodejsFunction(this, "Function", {
      role: this.role,
      description: props.description,
      entry: fileURLToPath(new URL(`../functions/handlers/${props.handler}.ts`, import.meta.url)),
      handler: "handler",
      projectRoot,
      depsLockFilePath: fileURLToPath(new URL("../package-lock.json", import.meta.url)),
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize ?? 256,
      timeout: props.timeout,
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      // No X-Ray. Active tracing without a Tracer records one segment per invocation, the Lambda
      // service's own: nothing the function's logs, its duration metric and keyturn's metrics do
      // not already say. A Powertools Tracer around the SDK clients and vendor calls would add the
      // per-call breakdown, but it brings aws-xray-sdk-core into every bundle (measured: 125 KB
      // more minified, +10% on the rotate and monitor bundles of 1.2 MB; every cold start imports
      // it) for timings nobody reads at keyturn's volume (a sweep an hour, a rotation a month). The RotationStepDuration and SweepDuration metrics
      // (functions/handlers/metrics.ts) show where time goes; the logs say which step and which
      // vendor call failed.
      tracing: Tracing.DISABLED,
      logGroup: this.logGroup,
      environment: { ...definedVariables(props.environment), NODE_OPTIONS: "--enable-source-maps" },
      // An on-failure destination rather than the older function DLQ: its record carries the
      // error, the attempt count and why the event was given up, not just the payload.
      ...(asyncInvocation
        ? {
            retryAttempts: asyncInvocation.retryAttempts,
            maxEventAge: asyncInvocation.maxEventAge,
            onFailure: new SqsDestination(asyncInvocation.deadLetterQueue),
          }
        : {}),
      bundling: {
        // No Docker here or in CI: the esbuild from devDependencies bundles on the host.
        forceDockerBundling: false,
        format: OutputFormat.ESM,
        mainFields: ["module", "main"],
        target: "node24",
        minify: true,
        sourceMap: true,
        sourcesContent: false,
        // Ship the SDK version the tests ran against rather than whichever the runtime carries.
        bundleAwsSDK: true,
        banner: REQUIRE_BANNER,
        commandHooks: {
          beforeBundling: () => [],
          beforeInstall: () => [],
          afterBundling: (inputDir, outputDir) => [transportBuildCommand(inputDir, outputDir)],
        },
        define: {
          // undici's own switch for the build Node.js carries (its package.json, build:node): the
          // experimental Milo HTTP parser, off unless asked for, is left out of the bundle (151 kB);
          // llhttp parses as it does by default (functions/http/transport.ts).
          esbuildDetection: "1",
          // Where the vendor HTTP client finds its transport (see transportBuildCommand).
          KEYTURN_TRANSPORT_FILE: JSON.stringify(`./${TRANSPORT_FILE}`),
          // functions/handlers/pinned.ts reads it. Base64 keeps the value safe through the shell
          // command that the local bundling runs.
          ...(props.pinned
            ? { KEYTURN_PINNED: JSON.stringify(Buffer.from(JSON.stringify(props.pinned)).toString("base64")) }
            : {}),
        },
      },
    });
    Validations.of(this.function).acknowledge({
      id: "Serverless-LambdaTracing",
      reason:
        "X-Ray is off on purpose (see tracing above): without a Tracer it records only the Lambda segment, and a " +
        "Tracer would double the bundle a cold start imports; step and sweep durations are metrics, each call is logged.",
    });
    Validations.of(this.function).acknowledge({
      id: "Serverless-LambdaDLQ",
      reason: asyncInvocation
        ? "Failed asynchronous invocations go to an SQS on-failure destination instead (see asyncInvocation), whose " +
          "record carries the error and the attempts, which a function dead-letter queue does not."
        : "Only invoked synchronously (by Secrets Manager's rotation and RotateSecret), so nothing is queued that could " +
          "be lost: the caller receives the error, and Secrets Manager records it and retries the rotation.",
    });
  }
}

/** Optional variables left unset fall back to the schema's default in the handler. */
function definedVariables(environment: object): Record<string, string> {
  return Object.fromEntries(
    Object.entries(environment).filter((entry): entry is [string, string] => typeof entry[1] === "string"),
  );
}
