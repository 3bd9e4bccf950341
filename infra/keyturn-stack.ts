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
    this.keyturn = new Keyturn(this, "Keyturn", {
      busName: props.busName,
      secretNamePrefix: props.secretNamePrefix,
      monitorSchedule: props.monitorSchedule,
      orphanSafetyMargin: props.orphanSafetyMargin,
      reconcileInterval: props.reconcileInterval,
      stuckRotationAfter: props.stuckRotationAfter,
      refreshInterval: props.refreshInterval,
      minTokenRemaining: props.minTokenRemaining,
      tokenParameterPrefix: props.tokenParameterPrefix,
      alerts: props.alerts,
      credentials: props.credentials,
      revokeCooldown: props.revokeCooldown,
      operators: props.operators,
      revokeRequesters: props.revokeRequesters,
      deploymentRoleArn: props.deploymentRoleArn,
    });
  }
}
