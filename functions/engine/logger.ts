// The one logger: Powertools structured JSON, every record passed through the redactor so
// that a secret value never reaches CloudWatch, whatever a caller hands it.
import { Logger } from "@aws-lambda-powertools/logger";
import { jsonReplacer } from "#http/redact.ts";

export const logger = new Logger({ serviceName: "keyturn", jsonReplacerFn: jsonReplacer });
