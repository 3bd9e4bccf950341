// The deployable stack: the Keyturn construct on its own, environment-agnostic so that it
// synthesizes offline and deploys to whichever account and region the CLI is pointed at.

import { Stack, type StackProps } from "aws-cdk-lib";
import type { Construct } from "constructs";
import { Keyturn, type KeyturnProps } from "./keyturn.ts";

export interface KeyturnStackProps extends StackProps, KeyturnProps {}

export class KeyturnStack extends Stack {
  readonly keyturn: Keyturn;

  constructor(scope: Construct, id: string, props: KeyturnStackProps = {}) {
    super(scope, id, props);
    // The stack's own props (description, env…) share no name with the construct's, which
    // reads only its own: the whole props object is passed rather than a list of fields.
    this.keyturn = new Keyturn(this, "Keyturn", props);
  }
}
