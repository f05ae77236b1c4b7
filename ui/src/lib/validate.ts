// Validation of the add/edit forms, mirroring the core's rules so errors show before a save,
// and the entry the add dialog writes.

import type { ServerEntry } from "./types";

/** Why `name` cannot name a server, or `null` (the core's `check_server_name`). */
export function serverNameError(name: string, existing: readonly string[] = []): string | null {
  if (name === "") return "A name is required.";
  if (!/^[A-Za-z0-9._-]+$/.test(name)) return "Use letters, digits, '-', '_' and '.' only: the name becomes part of the endpoint URL.";
  if (name.startsWith(".")) return "The name cannot start with '.'.";
  if (name.includes("__")) return "The name cannot contain '__' (it separates server and tool names on the aggregate endpoint).";
  if (existing.includes(name)) return `A server named "${name}" already exists.`;
  return null;
}

export function commandError(command: string): string | null {
  if (command.trim() === "") return "A command is required, such as npx, uvx or the path of a program.";
  if (command !== command.trim()) return "The command has leading or trailing spaces.";
  return null;
}

/** Environment variable names: what POSIX shells accept. */
export function envKeyError(key: string, taken: readonly string[] = []): string | null {
  if (key === "") return "A variable name is required.";
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) return "Use letters, digits and '_', not starting with a digit.";
  if (taken.includes(key)) return `${key} is already set.`;
  return null;
}

/** A remote server's URL: http(s) with a host, as the core checks (one with `${env:VAR}` in it is checked when expanded). */
export function urlError(url: string): string | null {
  if (url.trim() === "") return "A URL is required, such as https://mcp.example.com/mcp.";
  if (url !== url.trim()) return "The URL has leading or trailing spaces.";
  if (url.includes("${")) return null;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "That is not a URL: give it whole, such as https://mcp.example.com/mcp.";
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") return `Use an http:// or https:// URL, not ${parsed.protocol}.`;
  if (parsed.hostname === "") return "The URL has no host.";
  return null;
}

/** HTTP header names are tokens (RFC 9110); they compare without case. */
export function headerNameError(name: string, taken: readonly string[] = []): string | null {
  if (name === "") return "A header name is required.";
  if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name)) return "Use letters, digits and '-', without spaces or ':' (such as Authorization or X-API-Key).";
  if (taken.some((t) => t.toLowerCase() === name.toLowerCase())) return `${name} is already set.`;
  return null;
}

/** Arguments from a textarea: one per line; blank lines at the ends are dropped. */
export function parseArgs(text: string): string[] {
  const lines = text.split("\n").map((l) => l.replace(/\r$/, ""));
  while (lines.length > 0 && lines[lines.length - 1].trim() === "") lines.pop();
  while (lines.length > 0 && lines[0].trim() === "") lines.shift();
  return lines;
}

/** How the add dialog reaches a remote server: `auto` omits `type` (Streamable HTTP is tried, then SSE). */
export type TransportChoice = "auto" | "http" | "sse";

/** The add dialog's fields. */
export interface EntryFields {
  mode: "command" | "url";
  command: string;
  argsText: string;
  cwd: string;
  env: { key: string; value: string }[];
  url: string;
  transport: TransportChoice;
  headers: { key: string; value: string }[];
  disabled: boolean;
}

/** The servers.json entry the add dialog PUTs: only the fields of its mode, empty ones left out. */
export function buildEntry(f: EntryFields): ServerEntry {
  let entry: ServerEntry;
  if (f.mode === "url") {
    entry = { url: f.url };
    if (f.transport !== "auto") entry.type = f.transport;
    if (f.headers.length > 0) entry.headers = Object.fromEntries(f.headers.map((h) => [h.key, h.value]));
  } else {
    entry = { command: f.command };
    const args = parseArgs(f.argsText);
    if (args.length > 0) entry.args = args;
    if (f.env.length > 0) entry.env = Object.fromEntries(f.env.map((e) => [e.key, e.value]));
    if (f.cwd.trim()) entry.cwd = f.cwd.trim();
  }
  if (f.disabled) entry.disabled = true;
  return entry;
}

export interface PastedServer {
  name?: string;
  command?: string;
  args?: string[];
  env?: Record<string, string>;
  cwd?: string;
  url?: string;
  transport?: TransportChoice;
  headers?: Record<string, string>;
}

/** The `type` of a pasted remote entry, in the spellings clients use. */
function transportOf(type: unknown): TransportChoice {
  if (typeof type !== "string") return "auto";
  const t = type.toLowerCase().replace(/[-_]/g, "");
  return t === "http" || t === "streamablehttp" ? "http" : t === "sse" ? "sse" : "auto";
}

const strings = (value: unknown): Record<string, string> =>
  Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, String(v)]));

/**
 * Reads a server from pasted JSON, in any of the shapes READMEs show: a whole config with
 * `mcpServers`, `"name": { ... }`, or the entry alone. Returns an error message when it
 * cannot.
 */
export function parsePastedServer(text: string): PastedServer | string {
  const trimmed = text.trim();
  if (trimmed === "") return "Paste a server entry first.";
  let value: unknown;
  const attempts = [trimmed, `{${trimmed}}`];
  for (const attempt of attempts) {
    try {
      value = JSON.parse(attempt);
      break;
    } catch {
      value = undefined;
    }
  }
  if (value === undefined || value === null || typeof value !== "object" || Array.isArray(value)) return "That is not a JSON object.";
  let obj = value as Record<string, unknown>;
  let name: string | undefined;
  for (const key of ["mcpServers", "servers"]) {
    if (obj[key] && typeof obj[key] === "object") obj = obj[key] as Record<string, unknown>;
  }
  const isEntry = (o: Record<string, unknown>) => typeof o.command === "string" || typeof o.url === "string" || typeof o.serverUrl === "string";
  if (!isEntry(obj)) {
    const keys = Object.keys(obj);
    if (keys.length !== 1) return keys.length === 0 ? "No server found in the JSON." : "The JSON has several servers: paste one.";
    name = keys[0];
    obj = obj[name] as Record<string, unknown>;
    if (!obj || typeof obj !== "object") return "No server found in the JSON.";
  }
  if (!isEntry(obj)) return 'The entry has no "command" (a program to run) or "url" (a remote server).';
  if (typeof obj.command !== "string") {
    // A remote server: `url`, or Windsurf's `serverUrl`.
    const out: PastedServer = { name, url: (typeof obj.url === "string" ? obj.url : obj.serverUrl) as string, transport: transportOf(obj.type) };
    if (obj.headers && typeof obj.headers === "object") out.headers = strings(obj.headers);
    return out;
  }
  const out: PastedServer = { name, command: obj.command };
  if (Array.isArray(obj.args)) out.args = obj.args.map(String);
  if (obj.env && typeof obj.env === "object") out.env = strings(obj.env);
  if (typeof obj.cwd === "string") out.cwd = obj.cwd;
  return out;
}
