// Stands in for the MCP SDK's Ajv validator in the dashboard's bundle (vite.config.ts,
// `noAjv`): the inspector passes its own validator (inspector.ts: structured content is shown
// as sent), so the SDK's default, Ajv, is never made, yet its client module imports it
// (137 KB raw, 42 KB gzipped of the inspector's chunk). Ajv compiles schemas with
// `new Function`, which the page's CSP forbids anyway. Accepts everything, like the inspector's.
import type { jsonSchemaValidator, JsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/types.js";

export class AjvJsonSchemaValidator implements jsonSchemaValidator {
  getValidator<T>(): JsonSchemaValidator<T> {
    return (input: unknown) => ({ valid: true, data: input as T, errorMessage: undefined });
  }
}
