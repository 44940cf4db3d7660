// Validate an OpenAPI document (file path argument) against the official
// OpenAPI 3.1 JSON schema; prints the errors and exits 1 when invalid.
// The validator is found in OPENAPI_NODE_MODULES, else next to this file.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const modules = process.env.OPENAPI_NODE_MODULES ||
	join(dirname(fileURLToPath(import.meta.url)), "node_modules");
const { Validator } = await import(pathToFileURL(
	join(modules, "@seriousme/openapi-schema-validator/index.js")).href);

const doc = JSON.parse(readFileSync(process.argv[2], "utf8"));
const validator = new Validator();
const res = await validator.validate(doc);
if (!res.valid) {
	console.error(JSON.stringify(res.errors, null, 2));
	process.exit(1);
}
console.log(`valid OpenAPI ${validator.version}`);
