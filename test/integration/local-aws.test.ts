import { CreateSecretCommand, ListSecretsCommand } from "@aws-sdk/client-secrets-manager";
import { expect, test } from "vitest";
import { isolatedAws } from "../support/aws.ts";

test("two tests' AWS accounts do not see each other's secrets on the shared moto server", async () => {
  const first = isolatedAws();
  const second = isolatedAws();

  await first.secretsManager.send(
    new CreateSecretCommand({ Name: "keyturn/isolation-probe", SecretString: "{}" }),
  );

  const seenBySecond = await second.secretsManager.send(new ListSecretsCommand({}));
  const seenByFirst = await first.secretsManager.send(new ListSecretsCommand({}));
  expect(seenBySecond.SecretList ?? []).toEqual([]);
  expect((seenByFirst.SecretList ?? []).map((s) => s.Name)).toEqual(["keyturn/isolation-probe"]);
  expect(first.accountId).not.toBe(second.accountId);
});
