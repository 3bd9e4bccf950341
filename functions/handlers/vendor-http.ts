// The vendor HTTP client for one invocation: its deadline is the Lambda's remaining time.
import type { Context } from "aws-lambda";
import { HttpClient, type HttpClientOptions } from "#http/client.ts";

export type InvocationContext = Pick<Context, "getRemainingTimeInMillis" | "awsRequestId">;

export function vendorHttp(context: InvocationContext, overrides: Partial<HttpClientOptions> = {}) {
  return (vendor: string) =>
    new HttpClient({ vendor, remainingTimeMs: () => context.getRemainingTimeInMillis(), ...overrides });
}
