// One moto server for the whole test run; tests isolate themselves by account (test/support/aws.ts).
import type { TestProject } from "vitest/node";
import { startLocalAws } from "../../sandbox/local-aws.ts";

export default async function setup(project: TestProject) {
  const aws = await startLocalAws({ log: (line) => console.log(`[local-aws] ${line}`) });
  Object.assign(process.env, aws.env);
  project.provide("awsEndpoint", aws.endpoint);
  return async () => {
    await aws.stop();
  };
}

declare module "vitest" {
  export interface ProvidedContext {
    awsEndpoint: string;
  }
}
