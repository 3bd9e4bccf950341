import { expect, test } from "vitest";

test("runs on the Lambda's Node major", () => {
  expect(process.versions.node.split(".")[0]).toBe("24");
});
