// Every price the cost model uses, in one place: AWS list prices for US East (N. Virginia),
// on-demand, no free tier, no Savings Plans, as published on the pages named below and read in
// November 2026. When AWS changes a price, change it here and nowhere else.

export const PRICES_AS_OF = "2026-11";
export const PRICE_REGION = "us-east-1";

export const PRICES = {
  lambda: {
    source: "https://aws.amazon.com/lambda/pricing/",
    /** Arm, first 7.5 billion GB-seconds a month. */
    armPerGbSecond: 0.0000133334,
    perRequest: 0.2 / 1_000_000,
  },
  secretsManager: {
    source: "https://aws.amazon.com/secrets-manager/pricing/",
    perSecretMonth: 0.4,
    perApiCall: 0.05 / 10_000,
  },
  eventBridge: {
    source: "https://aws.amazon.com/eventbridge/pricing/",
    /** Custom events put on a bus, per 64 KB chunk (keyturn's events are far smaller). */
    perCustomEvent: 1 / 1_000_000,
    /** EventBridge Scheduler invocations, beyond its free 14 million a month (ignored here). */
    perSchedulerInvocation: 1 / 1_000_000,
  },
  ssm: {
    source: "https://aws.amazon.com/systems-manager/pricing/",
    /** Standard parameters: no storage charge. */
    perStandardParameterMonth: 0,
    /** Standard throughput: no charge for API interactions. */
    perStandardApiInteraction: 0,
  },
  kms: {
    source: "https://aws.amazon.com/kms/pricing/",
    /**
     * A customer managed key. keyturn has two: one for the secrets it creates (with automatic
     * rotation, which adds $1 a month for each of the first two rotations), one for the alert topics.
     */
    perKeyMonth: 1,
    /** Symmetric requests, including those AWS services make on your behalf with AWS managed keys. */
    perRequest: 0.03 / 10_000,
  },
  cloudWatch: {
    source: "https://aws.amazon.com/cloudwatch/pricing/",
    /** A custom metric (first 10,000), prorated by the hour: one published in an hour of the month costs 1/730 of it. */
    perMetricMonth: 0.3,
    /** Standard log ingestion: the EMF lines the metrics are written as are log events. */
    perGbIngested: 0.5,
  },
  dynamoDb: {
    source: "https://aws.amazon.com/dynamodb/pricing/on-demand/",
    /** On-demand, Standard table class, since the November 2024 reduction. */
    perWriteRequestUnit: 0.625 / 1_000_000,
    perReadRequestUnit: 0.125 / 1_000_000,
  },
} as const;
