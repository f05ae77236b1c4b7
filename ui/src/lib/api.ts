// The REST API, typed. Every failure becomes an ApiError with the gateway's code and message
// (or a plain explanation when the gateway could not be reached).

import type { ActivityList, ActivityOutcome, ActivityStats, ClientChange, ConfigStatus, DetectedClient, EndpointCost, Prompt, Resource, ResourceTemplate, SecretsInfo, ServerDetail, ServerEntry, ServerSummary } from "./types";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers: body === undefined ? { accept: "application/json" } : { accept: "application/json", "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, "unreachable", "Switchboard is not reachable. Is it still running?");
  }
  const text = await response.text();
  let json: unknown = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: reported below
  }
  if (!response.ok) {
    const error = (json as { error?: { code?: string; message?: string } } | null)?.error;
    throw new ApiError(response.status, error?.code ?? `http_${response.status}`, error?.message ?? (text || response.statusText));
  }
  return json as T;
}

const enc = encodeURIComponent;

/** `GET /api/activity`'s query: every field optional; `client` is a substring, `tool` the exact `name`. */
export interface ActivityQuery {
  server?: string;
  client?: string;
  method?: string;
  tool?: string;
  outcome?: ActivityOutcome;
  /** Epoch ms. */
  from?: number;
  to?: number;
  /** Entries with an id below this (the previous answer's `next`). */
  before?: number;
  limit?: number;
}

/** `GET /api/activity/stats`'s query: `window` in seconds. */
export interface ActivityStatsQuery {
  window?: number;
  buckets?: number;
  server?: string;
}

/** `?a=1&b=x` of the fields set (empty strings and undefined left out), or "". */
function queryString(params: object): string {
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined && value !== null && value !== "") q.set(key, String(value));
  const s = q.toString();
  return s ? `?${s}` : "";
}

export const api = {
  // `?cost=1`: with what the tools' definitions cost in tokens (the gateway counts only when asked).
  servers: () => request<{ servers: ServerSummary[] }>("GET", "/api/servers?cost=1").then((r) => r.servers),
  server: (name: string) => request<ServerDetail>("GET", `/api/servers/${enc(name)}?cost=1`),
  config: () => request<ConfigStatus>("GET", "/api/config"),
  patch: (name: string, patch: Record<string, unknown>) => request<ServerDetail>("PATCH", `/api/servers/${enc(name)}?cost=1`, patch),
  put: (name: string, entry: ServerEntry) => request<ServerDetail>("PUT", `/api/servers/${enc(name)}?cost=1`, entry),
  remove: (name: string) => request<{ name: string; removed: boolean }>("DELETE", `/api/servers/${enc(name)}`),
  restart: (name: string) => request<{ name: string; restarting: boolean }>("POST", `/api/servers/${enc(name)}/restart`),
  /** Begins signing in to a remote server: the page to open in the browser. */
  signIn: (name: string) => request<{ authorizationUrl: string }>("POST", `/api/servers/${enc(name)}/auth`),
  /** Forgets a remote server's tokens; it reconnects without them. */
  signOut: (name: string) => request<null>("DELETE", `/api/servers/${enc(name)}/auth`),
  resources: (name: string) => request<{ resources: Resource[]; templates: ResourceTemplate[] }>("GET", `/api/servers/${enc(name)}/resources`),
  prompts: (name: string) => request<{ prompts: Prompt[] }>("GET", `/api/servers/${enc(name)}/prompts`),
  /** With `project`, its project-level files are listed too. */
  clients: (project: string | null = null) =>
    request<{ clients: DetectedClient[] }>("GET", project ? `/api/clients?project=${encodeURIComponent(project)}` : "/api/clients").then((r) => r.clients),
  /** install, uninstall or import; `dryRun: true` only plans it and answers the diff. */
  client: (client: string, action: "install" | "uninstall" | "import", body: Record<string, unknown>) =>
    request<ClientChange>("POST", `/api/clients/${enc(client)}/${action}`, body),
  /** The secret store and the names in it (never a value). */
  secrets: () => request<SecretsInfo>("GET", "/api/secrets"),
  /** Stores a value for `${secret:NAME}` (204). */
  putSecret: (name: string, value: string) => request<null>("PUT", `/api/secrets/${enc(name)}`, { value }),
  /** The activity log, newest first, one page. */
  activity: (filters: ActivityQuery = {}) => request<ActivityList>("GET", `/api/activity${queryString(filters)}`),
  /** Calls, errors and latency percentiles over a window, in buckets, overall and per server and tool. */
  activityStats: (params: ActivityStatsQuery = {}) => request<ActivityStats>("GET", `/api/activity/stats${queryString(params)}`),
  /** What the aggregate endpoint's tool definitions cost (in full and in search mode); `servers`: a view of some servers. */
  tokens: (servers?: readonly string[]) =>
    request<EndpointCost>("GET", servers && servers.length > 0 ? `/api/tokens?servers=${servers.map(enc).join(",")}` : "/api/tokens"),
  logsUrl: (name: string, tail: number) => `/api/servers/${enc(name)}/logs?follow=1&tail=${tail}`,
};
