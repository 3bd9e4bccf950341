// `cdk synth` / `cdk deploy` entry point (cdk.json runs it with Node's type stripping): the
// Keyturn stack from the config file named by the context "keyturn:config", checked against
// cdk-nag's AWS Solutions and Serverless packs.

import { App } from "aws-cdk-lib";
import { addComplianceChecks } from "./compliance.ts";
import { CONFIG_CONTEXT_KEY, InvalidConfigError, loadConfig } from "./config.ts";
import { keyturnPropsFromConfig } from "./keyturn.ts";
import { KeyturnStack } from "./keyturn-stack.ts";

const app = new App();
const configPath = app.node.tryGetContext(CONFIG_CONTEXT_KEY);
if (typeof configPath !== "string" || configPath === "") {
  console.error(
    `keyturn: no config file named. Set "${CONFIG_CONTEXT_KEY}" in cdk.json's context or pass ` +
      `-c ${CONFIG_CONTEXT_KEY}=path/to/keyturn.json (config/keyturn.example.json is an example).`,
  );
  process.exit(1);
}
let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig(configPath);
} catch (error) {
  // The problems, not a stack trace: each names the credential and the field to fix.
  if (!(error instanceof InvalidConfigError)) throw error;
  console.error(error.message);
  process.exit(1);
}
new KeyturnStack(app, "Keyturn", {
  description: "keyturn: rotates, revokes and watches vendor API credentials kept in Secrets Manager",
  ...keyturnPropsFromConfig(config),
});
addComplianceChecks(app);
app.synth();
