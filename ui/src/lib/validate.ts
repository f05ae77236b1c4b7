// Validation of the add/edit forms, mirroring the core's rules so errors show before a save.

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

/** Arguments from a textarea: one per line; blank lines at the ends are dropped. */
export function parseArgs(text: string): string[] {
  const lines = text.split("\n").map((l) => l.replace(/\r$/, ""));
  while (lines.length > 0 && lines[lines.length - 1].trim() === "") lines.pop();
  while (lines.length > 0 && lines[0].trim() === "") lines.shift();
  return lines;
}

export interface PastedServer {
  name?: string;
  command?: string;
  args?: string[];
  env?: Record<string, string>;
  cwd?: string;
}

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
  if (typeof obj.command !== "string") {
    const keys = Object.keys(obj);
    if (keys.length !== 1) return keys.length === 0 ? "No server found in the JSON." : "The JSON has several servers: paste one.";
    name = keys[0];
    obj = obj[name] as Record<string, unknown>;
    if (!obj || typeof obj !== "object") return "No server found in the JSON.";
  }
  if (typeof obj.command !== "string") {
    return typeof obj.url === "string" ? "That is a remote (URL) server: Switchboard runs local programs with a command." : 'The entry has no "command".';
  }
  const out: PastedServer = { name, command: obj.command };
  if (Array.isArray(obj.args)) out.args = obj.args.map(String);
  if (obj.env && typeof obj.env === "object") out.env = Object.fromEntries(Object.entries(obj.env as Record<string, unknown>).map(([k, v]) => [k, String(v)]));
  if (typeof obj.cwd === "string") out.cwd = obj.cwd;
  return out;
}
