// `cdk synth` / `cdk deploy` entry point (cdk.json runs it with Node's type stripping).

import { App } from "aws-cdk-lib";
import { KeyturnStack } from "./keyturn-stack.ts";

const app = new App();
new KeyturnStack(app, "Keyturn", {
  description: "keyturn: rotates, revokes and watches vendor API credentials kept in Secrets Manager",
});
app.synth();
