// The shapes of Switchboard's REST API and event stream (crates/switchboard/src/gateway/api).

/**
 * `needs-auth`: a remote server refused Switchboard until someone signs in (`lastError` says so).
 * `idle`: an on-demand server with no process; its catalog is listed from disk and the first
 * request that needs the process starts it.
 */
export type ServerState = "starting" | "running" | "restarting" | "failed" | "stopped" | "disabled" | "needs-auth" | "idle";

/** When a server's process runs: with Switchboard, or started by the first request that needs it and stopped after `idleStopSecs` unused. */
export type StartMode = "always" | "onDemand";

/** How a server is reached: a local program over stdio, or a remote URL over HTTP. */
export type Transport = "stdio" | "streamable-http" | "sse";

export interface ServerSummary {
  name: string;
  state: ServerState;
  pid: number | null;
  uptimeSecs: number | null;
  restarts: number;
  lastError: string | null;
  /** Epoch ms of the next start attempt, while failed/restarting; null for an on-demand server whose start failed (the next request tries again). */
  nextAttemptMs?: number | null;
  /** `cost`: what the exposed tools' definitions cost a client of the server's own endpoint (older gateways do not send it). */
  tools: { exposed: number; total: number; cost?: Cost };
  sessions?: number;
  /** Lines the server wrote to stdout that were not MCP: skipped, never fatal. */
  strayStdout?: { count: number; lastLine: string | null; lastAtMs: number | null };
  /** The MCP version Switchboard and the server agreed on, while it runs. */
  protocol?: string | null;
  endpoints: { mcp: string; sse: string };
  /** The program run; empty ("") for a remote server. */
  command: string;
  args: string[];
  /** A remote server's URL (query values and password hidden); null (or absent, older gateways) for a program. */
  url?: string | null;
  /** How it is reached (for a remote entry without `type`, what it turned out to speak); null before the first attempt. */
  transport?: Transport | null;
  disabled: boolean;
  /** Older gateways do not send it (every server runs always there). */
  start?: StartMode;
  /** How long an on-demand server may go unused before it is stopped (the entry's, else `gateway.idleStopSecs`). */
  idleStopSecs?: number;
  /** Epoch ms at which a running on-demand server stops unless something uses it meanwhile; null while something does, and for any other server or state. */
  sleepsAtMs?: number | null;
}

/**
 * The size of something a client receives: tokens counted with OpenAI's o200k tokenizer (an
 * estimate: each model family tokenizes a little differently) and bytes of its JSON.
 */
export interface Cost {
  tokens: number;
  bytes: number;
}

export interface ToolView {
  name: string;
  description: string | null;
  inputSchema: JsonSchema;
  exposed: boolean;
  /** Its definition in `tools/list`, as the server's own endpoint lists it (older gateways do not send it). */
  cost?: Cost;
}

export interface ToolRules {
  /** `null` when the entry has no `allow` list (everything not denied is exposed). */
  allow: string[] | null;
  deny: string[];
}

export interface ServerDetail extends ServerSummary {
  cwd: string | null;
  envKeys: string[];
  /** A remote entry's header names (values are never sent); older gateways do not send it. */
  headerKeys?: string[];
  /** The entry's `tools` rules; older gateways do not send it. */
  filter?: ToolRules;
  toolList: ToolView[];
}

export type ConfigError =
  | { kind: "syntax"; path: string; line: number; column: number; message: string }
  | { kind: "invalid"; path: string; key: string; message: string }
  | { kind: "read"; path: string; message: string };

export interface ConfigStatus {
  path: string;
  backupPath: string;
  lastAppliedMs: number | null;
  error: ConfigError | null;
}

export interface LogLine {
  ts: number;
  line: string;
}

export interface Resource {
  uri: string;
  name?: string;
  title?: string;
  description?: string;
  mimeType?: string;
}

export interface ResourceTemplate {
  uriTemplate: string;
  name?: string;
  title?: string;
  description?: string;
  mimeType?: string;
}

export interface PromptArgument {
  name: string;
  description?: string;
  required?: boolean;
}

export interface Prompt {
  name: string;
  title?: string;
  description?: string;
  arguments?: PromptArgument[];
}

/** A JSON Schema object as servers send it (loosely typed on purpose). */
export interface JsonSchema {
  type?: string | string[];
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  enum?: unknown[];
  default?: unknown;
  [key: string]: unknown;
}

/** Events of `/api/events`, by their SSE event name. */
export type LiveEvent =
  | { type: "hello" }
  /** `listed`: its tools are listed (it runs, or it is an on-demand server listed from its catalog); older gateways do not send it. */
  | { type: "serverState"; name: string; state: ServerState; pid: number | null; lastError: string | null; listed?: boolean }
  | { type: "toolsChanged"; name: string }
  | { type: "promptsChanged"; name: string }
  | { type: "resourcesChanged"; name: string }
  | { type: "serversChanged" }
  | { type: "configReloaded" }
  | { type: "configError"; message: string }
  | { type: "lagged"; missed?: number }
  /** Requests just recorded (oldest first); `dropped`: entries lost because the recording queue was full. */
  | { type: "activity"; entries: ActivityEntry[]; dropped: number };

export const EVENT_NAMES: readonly LiveEvent["type"][] = [
  "hello",
  "serverState",
  "toolsChanged",
  "promptsChanged",
  "resourcesChanged",
  "serversChanged",
  "configReloaded",
  "configError",
  "lagged",
  "activity",
];

/**
 * What a server entry in servers.json holds (the part the dashboard edits): a program to run
 * (`command`) or a remote server to reach (`url`, with `type` "http" or "sse"; without it
 * Streamable HTTP is tried, then SSE).
 */
export interface ServerEntry {
  command?: string;
  args?: string[];
  env?: Record<string, string>;
  cwd?: string;
  url?: string;
  type?: "http" | "sse";
  headers?: Record<string, string>;
  disabled?: boolean;
  start?: StartMode;
  idleStopSecs?: number;
  [key: string]: unknown;
}

/** Where `PUT /api/secrets/{name}` keeps a value: the OS keychain, or (none here) a 0600 file. */
export type SecretStoreKind = "keychain" | "file";

/** `GET /api/secrets`: the user's secrets for `${secret:NAME}`, by name only (a value is never answered). */
export interface SecretsInfo {
  store: SecretStoreKind;
  /** The file, for the "file" store; null for the keychain. */
  path: string | null;
  names: string[];
}

/** `GET /api/tokens[?servers=a,b]`: what the aggregate endpoint's `tools/list` costs a client. */
export interface EndpointCost {
  /** The endpoint as a client uses it: `/mcp`, `/mcp?servers=a,b`. */
  endpoint: string;
  /** The tools it exposes (running servers only). */
  tools: number;
  /** Every tool listed (named `server__tool`). */
  full: Cost;
  /** In search mode (`?mode=search`): the three meta-tools. */
  search: Cost;
  /** Each running server's share of `full`, its tools named as the aggregate names them. */
  servers: { name: string; tools: number; cost: Cost }[];
}

/** How a client reaches one of the servers in its own file (`GET /api/clients`). */
export type Reach = "switchboard" | "direct" | "http" | "unknown";

export interface ClientEntry {
  /** The entry's name in the client's file. */
  name: string;
  reach: Reach;
  /** The command line (`direct`), the URL (`http`); empty for Switchboard's own entries. */
  detail: string;
}

export interface ClientFile {
  path: string;
  scope: "user" | "project";
  exists: boolean;
  /** Why the file could not be read (it is then left alone). */
  error: string | null;
  servers: ClientEntry[];
}

export interface DetectedClient {
  /** The id the API takes in `/api/clients/{client}/…` (as the gateway lists it). */
  client: string;
  name: string;
  files: ClientFile[];
}

/** The answer of `POST /api/clients/{client}/install|uninstall|import`, dry run or not. */
export interface ClientChange {
  /** The file that is (or would be) written: the client's, or servers.json for an import. */
  path: string;
  /** A unified diff of it; empty when nothing changes. */
  diff: string;
  /** Names this exact change; sent back as `expect` so a stale preview is never applied. */
  plan?: string;
  written: boolean;
  /** install/uninstall: the timestamped copy of the file as it was. */
  backup?: string | null;
  /** install: entries the client still runs itself although Switchboard runs them too. */
  duplicates?: string[];
  /** import: [name in the client, name in servers.json]. */
  imported?: [string, string][];
  /** import: [name in the client, why not]. */
  skipped?: [string, string][];
}

/** How a recorded request ended: `toolError` is a result with `isError`. */
export type ActivityOutcome = "ok" | "error" | "toolError" | "cancelled" | "timeout";

/** One MCP request through the gateway, as the activity log recorded it. */
export interface ActivityEntry {
  /** Increasing: newer is larger. */
  id: number;
  /** Epoch ms when the request arrived. */
  ts: number;
  /** The gateway path it came in on, e.g. `/servers/everything/mcp`, `/mcp?servers=a,b`, `/sse`. */
  endpoint: string;
  transport: "http" | "sse";
  /** The server that answered; null when the gateway answered itself. */
  server: string | null;
  /** clientInfo "name version"; null when unknown. */
  client: string | null;
  /** Sent by the dashboard's own inspector. */
  fromDashboard: boolean;
  session: string | null;
  method: string;
  /** The tool or prompt name as the server knows it, or the resource URI. */
  name: string | null;
  durationMs: number;
  outcome: ActivityOutcome;
  errorCode: number | null;
  error: string | null;
  requestBytes: number;
  responseBytes: number;
  protocol: string | null;
  /** Only with `activity.capture`: the params / the result or error as JSON text (truncated, secrets redacted). */
  request: string | null;
  response: string | null;
}

/** `GET /api/activity`. */
export interface ActivityList {
  /** Newest first. */
  entries: ActivityEntry[];
  /** Pass as `before` for the next (older) page; null at the end. */
  next: number | null;
  dropped: number;
  enabled: boolean;
  capture: boolean;
  warning: string | null;
}

export interface ActivityStat {
  calls: number;
  /** error + toolError + timeout (not cancelled). */
  errors: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

/** One bucket of a series (empty buckets are sent: calls 0, percentiles null). */
export interface ActivityPoint extends ActivityStat {
  /** Bucket start, epoch ms. */
  t: number;
}

/** `GET /api/activity/stats`: requests that reached a server only. */
export interface ActivityStats {
  from: number;
  to: number;
  bucketMs: number;
  total: ActivityStat;
  /** All servers together, oldest first. */
  series: ActivityPoint[];
  /** By calls, descending. */
  servers: (ActivityStat & { server: string; series: ActivityPoint[] })[];
  /** tools/call only, slowest (p95) first, at most 20. */
  tools: (ActivityStat & { server: string; tool: string })[];
  dropped: number;
  warning: string | null;
}
