// What each event of `/api/events` does to what the dashboard shows: a pure function from
// (model, event) to (new model, what to refetch). Events carry only what changed, so rows are
// patched at once and the rest (restarts, tool counts, the file's error position) is
// refetched; the caller coalesces those refetches.

import { movesSleep } from "./ondemand";
import type { ConfigStatus, LiveEvent, ServerDetail, ServerSummary } from "./types";

/** A server as listed, with when its numbers were read (uptime keeps counting from there). */
export interface ServerRow extends ServerSummary {
  fetchedAt: number;
}

export interface Model {
  servers: ServerRow[];
  config: ConfigStatus | null;
  /** The newest `configError` message, until `/api/config` says more. */
  configMessage: string | null;
}

export type Catalog = "resources" | "prompts";

export interface Effects {
  /** Refetch `/api/servers`. */
  list: boolean;
  /** Refetch `/api/config`. */
  config: boolean;
  /** Refetch these servers' details; "*" means whichever is open. */
  details: string[];
  /** Refetch these resource or prompt lists, if shown. */
  catalogs: { name: string; what: Catalog }[];
  /** Refetch `/api/clients`, if the Clients page is open (what each client reaches depends on servers.json). */
  clients: boolean;
  /** Refetch the servers' activity numbers (`/api/activity/stats`), throttled by the caller. */
  stats: boolean;
  /** Refetch `/api/servers`, throttled by the caller: requests moved an on-demand server's sleep time (`sleepsAtMs`). */
  usage: boolean;
}

export const NO_EFFECTS: Effects = { list: false, config: false, details: [], catalogs: [], clients: false, stats: false, usage: false };

export function emptyModel(): Model {
  return { servers: [], config: null, configMessage: null };
}

/** Everything, as after a (re)connect or a lag. */
function refetchAll(): Effects {
  return { list: true, config: true, details: ["*"], catalogs: [], clients: true, stats: true, usage: false };
}

export function reduce(model: Model, event: LiveEvent, now: number): { model: Model; effects: Effects } {
  switch (event.type) {
    case "hello":
    case "lagged":
      return { model, effects: refetchAll() };
    case "serverState": {
      const index = model.servers.findIndex((s) => s.name === event.name);
      if (index < 0) return { model, effects: { ...NO_EFFECTS, list: true } };
      const old = model.servers[index];
      const row: ServerRow = { ...old, state: event.state, pid: event.pid, lastError: event.lastError };
      if (event.state !== "running") {
        row.uptimeSecs = null;
        row.fetchedAt = now;
      } else if (old.state !== "running" || old.pid !== event.pid) {
        row.uptimeSecs = 0;
        row.fetchedAt = now;
      }
      if (event.state === "running") row.nextAttemptMs = null;
      // Only a running on-demand server has a sleep time; one that just started is in use (the
      // request that started it): the refetch tells when it sleeps.
      if (event.state !== "running" || old.state !== "running") row.sleepsAtMs = null;
      const servers = model.servers.slice();
      servers[index] = row;
      return { model: { ...model, servers }, effects: { ...NO_EFFECTS, list: true } };
    }
    case "toolsChanged":
      return { model, effects: { ...NO_EFFECTS, list: true, details: [event.name] } };
    case "promptsChanged":
      return { model, effects: { ...NO_EFFECTS, catalogs: [{ name: event.name, what: "prompts" }] } };
    case "resourcesChanged":
      return { model, effects: { ...NO_EFFECTS, catalogs: [{ name: event.name, what: "resources" }] } };
    case "serversChanged":
      return { model, effects: { ...NO_EFFECTS, list: true, clients: true } };
    case "configReloaded":
      return { model: { ...model, configMessage: null }, effects: { ...NO_EFFECTS, list: true, config: true, details: ["*"], clients: true } };
    case "configError":
      return { model: { ...model, configMessage: event.message }, effects: { ...NO_EFFECTS, config: true } };
    case "activity":
      // The entries themselves go to the activity page as they are (store.svelte.ts `onLive`).
      return { model, effects: { ...NO_EFFECTS, stats: true, usage: movesSleep(model.servers, event.entries) } };
    default:
      // An event this dashboard does not know (a newer gateway): nothing to do.
      return { model, effects: NO_EFFECTS };
  }
}

/** Merges effects, for coalescing a burst of events into one round of fetches. */
export function mergeEffects(a: Effects, b: Effects): Effects {
  const details = [...a.details];
  for (const d of b.details) if (!details.includes(d)) details.push(d);
  const catalogs = [...a.catalogs];
  for (const c of b.catalogs) if (!catalogs.some((x) => x.name === c.name && x.what === c.what)) catalogs.push(c);
  return { list: a.list || b.list, config: a.config || b.config, details, catalogs, clients: a.clients || b.clients, stats: a.stats || b.stats, usage: a.usage || b.usage };
}

export function hasEffects(e: Effects): boolean {
  return e.list || e.config || e.details.length > 0 || e.catalogs.length > 0 || e.clients || e.stats || e.usage;
}

/** Rows from a fresh `/api/servers` answer. */
export function rowsFrom(servers: ServerSummary[], now: number): ServerRow[] {
  return servers.map((s) => ({ ...s, fetchedAt: now }));
}

/** A row from one server's detail (`GET /api/servers/{name}`), without what only the page needs. */
export function rowFromDetail(detail: ServerDetail, now: number): ServerRow {
  const { cwd, envKeys, headerKeys, filter, toolList, ...summary } = detail;
  return { ...summary, fetchedAt: now };
}

/** Seconds a server has been up at `now`, counting on from when the row was read. */
export function uptimeAt(row: ServerRow, now: number): number | null {
  if (row.state !== "running" || row.uptimeSecs === null) return null;
  return row.uptimeSecs + Math.max(0, Math.floor((now - row.fetchedAt) / 1000));
}
