// The IAM statements of a synthesized template, as the infra tests read them: every identity
// policy's, a role's, a function's, and the ARNs CloudFormation joins from pseudo parameters.

import type { Template } from "aws-cdk-lib/assertions";
import { resourceProperties } from "./synthesize.ts";

export interface Statement {
  Sid?: string;
  Effect?: string;
  Principal?: unknown;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}

export function actionsOf(statement: Statement): string[] {
  return Array.isArray(statement.Action) ? statement.Action : [statement.Action];
}

export function resourcesOf(statement: Statement): unknown[] {
  return Array.isArray(statement.Resource) ? statement.Resource : [statement.Resource];
}

/** Every statement of every identity policy in the template. */
export function policyStatements(template: Template): Statement[] {
  return Object.values(template.findResources("AWS::IAM::Policy")).flatMap(
    (policy) => policy.Properties.PolicyDocument.Statement,
  );
}

/** Every statement of every identity policy in the template, with the policy's logical id. */
export function identityStatements(template: Template): (Statement & { policy: string })[] {
  return Object.entries(template.findResources("AWS::IAM::Policy")).flatMap(([policy, resource]) =>
    (resource.Properties.PolicyDocument.Statement as Statement[]).map((statement) => ({
      ...statement,
      policy,
    })),
  );
}

/** The statements of the policies attached to a role, by its logical id. */
export function roleStatements(template: Template, roleId: string): Statement[] {
  return Object.values(template.findResources("AWS::IAM::Policy"))
    .filter((policy) => JSON.stringify(policy.Properties.Roles) === JSON.stringify([{ Ref: roleId }]))
    .flatMap((policy) => policy.Properties.PolicyDocument.Statement);
}

/** The statements of the policies attached to a function's execution role. */
export function functionStatements(template: Template, functionId: string): Statement[] {
  const role = resourceProperties(template, functionId).Role as { "Fn::GetAtt": [string, string] };
  return roleStatements(template, role["Fn::GetAtt"][0]);
}

/** The resource string of a Fn::Join ARN, with the pseudo parameters left as placeholders. */
export function joinedArn(resource: unknown): string {
  if (typeof resource === "string") return resource;
  const join = (resource as { "Fn::Join": [string, unknown[]] })["Fn::Join"];
  return join[1].map((part) => (typeof part === "string" ? part : `{${JSON.stringify(part)}}`)).join("");
}
