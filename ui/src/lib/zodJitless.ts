// Zod (the MCP SDK's schemas) compiles fast parsers with `new Function` unless told not to;
// the dashboard's CSP has no 'unsafe-eval', and even zod's guarded probe is reported as a CSP
// violation (a console error). Zod reads the flag when each object schema is built, so this
// module must run before the SDK's modules: inspector.ts imports it first.
import { config } from "zod/v4/core";

config({ jitless: true });
