// Who owns a secret (functions/engine/lifecycle.ts): the decision the monitor, `keyturn status`
// and the emergency revoke take from AWS's own facts about a secret. moto does not keep a
// RotationLambdaARN without a Lambda to call, so the rotation-function case is decided here on a
// constructed SecretDescription; replicas and OwningService also run on moto
// (test/security/lifecycle-owned-elsewhere.test.ts).

import { describe, expect, test } from "vitest";
import type { SecretDescription } from "#aws/secret-store.ts";
import { foreignRotation, ownedElsewhere } from "#engine/lifecycle.ts";

const KEYTURN_ROTATE = "arn:aws:lambda:eu-west-1:123456789012:function:keyturn-rotate";
const live: SecretDescription = {
  arn: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:keyturn/x-AbCdEf",
  name: "keyturn/x",
  versions: {},
  tags: {},
};

describe("ownedElsewhere", () => {
  test("a secret keyturn rotates (or that has no rotation function) is keyturn's", () => {
    expect(ownedElsewhere(live, KEYTURN_ROTATE)).toEqual([]);
    expect(ownedElsewhere({ ...live, rotationLambdaArn: KEYTURN_ROTATE }, KEYTURN_ROTATE)).toEqual([]);
    // A qualified ARN (an alias or a version) of keyturn's own function is keyturn's too.
    expect(ownedElsewhere({ ...live, rotationLambdaArn: `${KEYTURN_ROTATE}:live` }, KEYTURN_ROTATE)).toEqual(
      [],
    );
  });

  test("another rotation function, a replica, a secret another service manages: owned elsewhere", () => {
    const other = "arn:aws:lambda:eu-west-1:123456789012:function:someone-elses-rotation";
    expect(foreignRotation({ rotationLambdaArn: other }, KEYTURN_ROTATE)).toBe(true);
    expect(
      ownedElsewhere(
        { ...live, rotationLambdaArn: other, primaryRegion: "us-east-1", owningService: "rds" },
        KEYTURN_ROTATE,
      ),
    ).toEqual(["replica", "owning-service", "foreign-rotation-function"]);
  });

  test("without keyturn's own function ARN (a local run), no rotation function is taken for foreign", () => {
    expect(foreignRotation({ rotationLambdaArn: KEYTURN_ROTATE }, undefined)).toBe(false);
    expect(ownedElsewhere({ ...live, primaryRegion: "us-west-2" }, undefined)).toEqual(["replica"]);
  });
});
