// The rule packs every keyturn synthesis is checked against: cdk-nag's AWS Solutions and
// Serverless packs. A finding fails the synthesis unless the construct that caused it
// acknowledges it with a reason (Validations.of(construct).acknowledge).

import { type App, Validations } from "aws-cdk-lib";
import { AwsSolutionsChecks, ServerlessChecks } from "cdk-nag";

export const RULE_PACKS = ["AwsSolutions", "Serverless"] as const;

export function addComplianceChecks(app: App): void {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
}
