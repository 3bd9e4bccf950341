// The rotate Lambda as deployed: the handler bundled by the local esbuild into one ES module,
// its log group, and an environment typed by the handler's own schema, so that a variable the
// handler reads cannot be forgotten here without `tsc` failing.

import { fileURLToPath } from "node:url";
import { Duration } from "aws-cdk-lib";
import { Architecture, Runtime, Tracing } from "aws-cdk-lib/aws-lambda";
import { NodejsFunction, OutputFormat } from "aws-cdk-lib/aws-lambda-nodejs";
import { LogGroup, RetentionDays } from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";
import type { RotateEnvironment } from "#handlers/environment.ts";

const projectRoot = fileURLToPath(new URL("..", import.meta.url));

export interface RotateFunctionProps {
  readonly environment: RotateEnvironment;
}

export class RotateFunction extends Construct {
  readonly function: NodejsFunction;
  readonly logGroup: LogGroup;

  constructor(scope: Construct, id: string, props: RotateFunctionProps) {
    super(scope, id);

    // Rotation logs are the audit trail that shows when each key was minted, verified and
    // replaced; one year covers the usual audit window (SOC 2, PCI DSS 10.5.1). The group is
    // retained when the stack is deleted, for the same reason.
    this.logGroup = new LogGroup(this, "Logs", { retention: RetentionDays.ONE_YEAR });

    this.function = new NodejsFunction(this, "Function", {
      description: "keyturn: Secrets Manager rotation function for vendor API credentials",
      entry: fileURLToPath(new URL("../functions/handlers/rotate.ts", import.meta.url)),
      handler: "handler",
      projectRoot,
      depsLockFilePath: fileURLToPath(new URL("../package-lock.json", import.meta.url)),
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      memorySize: 256,
      // One step makes a few vendor calls (list issued keys, revoke a lost one, mint); each
      // call may take 4 attempts of 10 s plus backoff in the HTTP client, about a minute at
      // worst. Three minutes lets a step finish through one slow vendor; beyond that the
      // client's deadline check fails the step cleanly and Secrets Manager retries it.
      timeout: Duration.minutes(3),
      tracing: Tracing.ACTIVE,
      logGroup: this.logGroup,
      environment: { ...props.environment, NODE_OPTIONS: "--enable-source-maps" },
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
        // CommonJS dependencies bundled into an ES module still call require() for Node
        // built-ins (undici, parts of the AWS SDK); ESM has no require, so give it one.
        banner:
          'import { createRequire as keyturnCreateRequire } from "node:module"; ' +
          "const require = keyturnCreateRequire(import.meta.url);",
      },
    });
  }
}
