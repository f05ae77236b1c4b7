// The Clients page's logic, without the DOM: what each detected client reaches and how, and
// the preview-then-apply flow of its actions. The flow is the page's promise to the user:
// nothing is written that was not shown first. Apply is possible only from a preview that is
// on screen and sends exactly the options that preview was made with, plus the preview's
// `plan`: the gateway refuses (409 `preview_stale`) when the file changed since, and the flow
// shows the new preview instead. (A gateway that sends no plan is checked after the fact: the
// flow says when what was written differs from what was shown.)

import { ApiError } from "./api";
import { hasChanges, parseDiff, type ParsedDiff } from "./diff";
import type { ClientChange, ClientEntry, DetectedClient } from "./types";

export type ClientAction = "install" | "uninstall" | "import";

export interface ActionOptions {
  /**
   * install: one `switchboard` entry for the aggregate endpoint, one entry per server, or one
   * `switchboard` entry for the aggregate endpoint in search mode (`/mcp?mode=search`: three
   * meta-tools instead of every tool, fewer tokens with many servers).
   */
  mode: "aggregate" | "each" | "search";
  /** install: take the client's own copies of servers Switchboard runs out of its file. */
  replace: boolean;
}

export const DEFAULT_OPTIONS: ActionOptions = Object.freeze({ mode: "aggregate", replace: false });

/** The body of `POST /api/clients/{client}/{action}`. */
export function requestBody(action: ClientAction, options: ActionOptions, dryRun: boolean, expect?: string): Record<string, unknown> {
  const body: Record<string, unknown> = action === "install" ? { dryRun, all: options.mode === "each", replace: options.replace } : { dryRun };
  if (action === "install" && options.mode === "search") body.search = true;
  if (expect !== undefined) body.expect = expect;
  return body;
}

/**
 * A client's server name as servers.json would hold it (a port of the gateway's
 * `sanitize_name`), to tell which of the client's own servers Switchboard also runs.
 */
export function sanitizeName(name: string): string {
  let out = name.replace(/[^A-Za-z0-9._-]/gu, "-");
  while (out.includes("__")) out = out.replaceAll("__", "_");
  out = out.replace(/^\.+/, "").replace(/^-+|-+$/g, "");
  return out === "" ? "server" : out;
}

/** What one of Switchboard's own entries in a client's file reaches; `search`: the aggregate endpoint in search mode. */
export type Through = { kind: "all"; search?: true } | { kind: "server"; name: string };

/**
 * The gateway lists its own entries without their URL, so which server one reaches is read
 * from its name as `install` writes them: a server's own name for one server, `switchboard`
 * for the aggregate endpoint. A URL or `switchboard connect` command in `detail` (should a
 * gateway send one) is read first.
 */
export function throughSwitchboard(entry: ClientEntry, serverNames: readonly string[]): Through {
  const url = /\/servers\/([^/\s?#]+)\/(?:mcp|sse)\b/.exec(entry.detail);
  if (url) return { kind: "server", name: safeDecode(url[1]) };
  const bridge = /\bconnect\s+(?!-)(\S+)/.exec(entry.detail);
  if (bridge) return { kind: "server", name: bridge[1] };
  if (entry.detail.trim() !== "") return searchMode(entry.detail) ? { kind: "all", search: true } : { kind: "all" };
  return entry.name !== "switchboard" && serverNames.includes(entry.name) ? { kind: "server", name: entry.name } : { kind: "all" };
}

/** An aggregate entry in search mode: its URL has `mode=search`, or its bridge command `--search`. */
function searchMode(detail: string): boolean {
  return /[?&]mode=search(?:[&#\s]|$)/.test(detail) || /\bconnect\b.*\s--search(?:\s|$)/.test(detail);
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

export type ClientStatus = "connected" | "not-connected" | "not-found" | "unreadable";

export interface ClientSummary {
  status: ClientStatus;
  /** The path the client reads (its user file: the one the actions change). */
  path: string | null;
  /** A file exists. */
  found: boolean;
  /** Why its file could not be read. */
  error: string | null;
  /** It reaches every Switchboard server through the aggregate endpoint. */
  all: boolean;
  /** ... in search mode (and through no entry that lists every tool). */
  search: boolean;
  /** Servers it reaches through per-server entries of Switchboard. */
  through: string[];
  /** Entries it starts itself. */
  direct: ClientEntry[];
  /** Its own entries of servers Switchboard runs as well: each runs twice. */
  twice: string[];
  /** Entries that point at some other URL, or that Switchboard cannot read. */
  other: number;
}

export function summarize(client: DetectedClient, serverNames: readonly string[]): ClientSummary {
  const file = client.files.find((f) => f.scope === "user") ?? client.files[0] ?? null;
  const found = client.files.some((f) => f.exists);
  const error = client.files.find((f) => f.exists && f.error)?.error ?? null;
  const entries = client.files.flatMap((f) => f.servers);
  let all = false;
  let listsAll = false;
  const through: string[] = [];
  const direct: ClientEntry[] = [];
  const twice: string[] = [];
  let other = 0;
  for (const entry of entries) {
    if (entry.reach === "switchboard") {
      const t = throughSwitchboard(entry, serverNames);
      if (t.kind === "all") {
        all = true;
        if (!t.search) listsAll = true;
      }
      else if (!through.includes(t.name)) through.push(t.name);
    } else if (entry.reach === "direct") {
      direct.push(entry);
      if (serverNames.includes(sanitizeName(entry.name))) twice.push(entry.name);
    } else {
      other++;
    }
  }
  const status: ClientStatus = !found ? "not-found" : error ? "unreadable" : all || through.length > 0 ? "connected" : "not-connected";
  return { status, path: file?.path ?? null, found, error, all, search: all && !listsAll, through, direct, twice, other };
}

function count(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** One line on what the client reaches, for its card. */
export function describeReach(s: ClientSummary, serverCount: number): string {
  if (s.status === "not-found") return "Not found on this machine.";
  if (s.status === "unreadable") return "Its config file cannot be read.";
  const parts: string[] = [];
  if (s.all) parts.push(`Reaches every Switchboard server (${serverCount})${s.search ? " in search mode" : ""}`);
  else if (s.through.length > 0) parts.push(`Reaches ${count(s.through.length, "server")} through Switchboard`);
  if (s.direct.length > 0) parts.push(`${parts.length ? "starts" : "Starts"} ${count(s.direct.length, "server")} itself`);
  if (s.other > 0) parts.push(`${parts.length ? "uses" : "Uses"} ${count(s.other, "other server")}`);
  if (parts.length === 0) return "No MCP servers configured.";
  return `${parts.join("; ")}.`;
}

/** The install options matching how a client is connected now (a dialog opens on them). */
export function currentOptions(s: ClientSummary, replace = false): ActionOptions {
  const mode = s.all ? (s.search ? "search" : "aggregate") : s.through.length > 0 ? "each" : "aggregate";
  return { mode, replace };
}

/** The entry name of an install that clashes with one of the client's own entries. */
export function clashOf(error: ApiError): string | null {
  if (error.status !== 409 || error.code !== "client_clash") return null;
  return /already has an entry '([^']+)'/.exec(error.message)?.[1] ?? null;
}

function asApiError(e: unknown): ApiError {
  return e instanceof ApiError ? e : new ApiError(0, "error", e instanceof Error ? e.message : String(e));
}

export type FlowState =
  | { phase: "previewing"; options: ActionOptions }
  /** `stale`: an apply was refused because the file changed; this is the preview made after. */
  | { phase: "ready"; options: ActionOptions; preview: ClientChange; diff: ParsedDiff; stale?: boolean }
  | { phase: "failed"; options: ActionOptions; error: ApiError; during: "preview" | "apply" }
  | { phase: "applying"; options: ActionOptions; preview: ClientChange; diff: ParsedDiff }
  | { phase: "applied"; options: ActionOptions; preview: ClientChange; diff: ParsedDiff; result: ClientChange; drifted: boolean };

/** Whether a preview has anything to write. */
export function applicable(action: ClientAction, preview: ClientChange, diff: ParsedDiff): boolean {
  if (action === "import" && (preview.imported?.length ?? 0) === 0) return false;
  return hasChanges(diff);
}

/** Calls the action: `body` always carries `dryRun`. */
export type Runner = (body: Record<string, unknown>) => Promise<ClientChange>;

/**
 * Preview (a dry run), then apply. A newer preview replaces an older one whose answer comes
 * late; options changed while a write is in flight wait for it.
 */
export class ActionFlow {
  state: FlowState;
  private seq = 0;

  constructor(
    readonly action: ClientAction,
    private readonly run: Runner,
    private readonly onchange: (state: FlowState) => void = () => {},
    options: ActionOptions = DEFAULT_OPTIONS,
  ) {
    this.state = { phase: "previewing", options: { ...options } };
  }

  private set(state: FlowState): void {
    this.state = state;
    this.onchange(state);
  }

  async preview(options: ActionOptions = this.state.options): Promise<void> {
    if (this.state.phase === "applying") return;
    return this.load(options);
  }

  private async load(options: ActionOptions): Promise<void> {
    const seq = ++this.seq;
    options = { ...options };
    this.set({ phase: "previewing", options });
    try {
      const preview = await this.run(requestBody(this.action, options, true));
      if (seq === this.seq) this.set({ phase: "ready", options, preview, diff: parseDiff(preview.diff) });
    } catch (e) {
      if (seq === this.seq) this.set({ phase: "failed", options, error: asApiError(e), during: "preview" });
    }
  }

  get canApply(): boolean {
    const s = this.state;
    return s.phase === "ready" && applicable(this.action, s.preview, s.diff);
  }

  /** Writes what the preview on screen showed; answers the gateway's result, or null. */
  async apply(): Promise<ClientChange | null> {
    const s = this.state;
    if (s.phase !== "ready" || !applicable(this.action, s.preview, s.diff)) return null;
    const seq = ++this.seq;
    const { options, preview, diff } = s;
    this.set({ phase: "applying", options, preview, diff });
    try {
      const result = await this.run(requestBody(this.action, options, false, preview.plan));
      if (seq === this.seq) this.set({ phase: "applied", options, preview, diff, result, drifted: result.diff !== preview.diff });
      return result;
    } catch (e) {
      if (seq !== this.seq) return null;
      const error = asApiError(e);
      if (error.status === 409 && error.code === "preview_stale") {
        // Nothing was written: show what applying would write now, and let the user decide.
        await this.load(options);
        if (this.state.phase === "ready") this.set({ ...this.state, stale: true });
        return null;
      }
      this.set({ phase: "failed", options, error, during: "apply" });
      return null;
    }
  }
}

/**
 * The clients as the page shows them for one scope: with a project folder, only their
 * project-level files (the ones the actions then change), and the clients that have none
 * (Claude Desktop, Windsurf) set apart; without one, as the gateway listed them.
 */
export function inScope(clients: readonly DetectedClient[], project: string | null): { clients: DetectedClient[]; noProjectFile: string[] } {
  if (project === null) return { clients: [...clients], noProjectFile: [] };
  const shown: DetectedClient[] = [];
  const noProjectFile: string[] = [];
  for (const c of clients) {
    const files = c.files.filter((f) => f.scope === "project");
    if (files.length === 0) noProjectFile.push(c.name);
    else shown.push({ ...c, files });
  }
  return { clients: shown, noProjectFile };
}
