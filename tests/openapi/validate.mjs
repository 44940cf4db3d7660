// Validate an OpenAPI document (file path argument) against the official
// OpenAPI 3.1 JSON schema; prints the errors and exits 1 when invalid.
import { readFileSync } from "node:fs";
import { Validator } from "@seriousme/openapi-schema-validator";

const doc = JSON.parse(readFileSync(process.argv[2], "utf8"));
const validator = new Validator();
const res = await validator.validate(doc);
if (!res.valid) {
	console.error(JSON.stringify(res.errors, null, 2));
	process.exit(1);
}
console.log(`valid OpenAPI ${validator.version}`);
