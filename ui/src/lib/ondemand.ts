// On-demand servers (`"start": "onDemand"`) without the DOM: what a card and a page say of them
// (asleep, the countdown to sleep, in use), which servers' sleep time the activity moved, which
// rows to read again when their countdown ran out, and the "stop after" field of the settings
// tab (seconds or minutes ↔ `idleStopSecs`).

import { formatDuration } from "./format";
import type { ActivityEntry, ServerState, ServerSummary, StartMode } from "./types";

/** The fields of a server this module reads (a listed row or a detail). */
type OnDemandFacts = Pick<ServerSummary, "state" | "nextAttemptMs" | "start" | "sleepsAtMs" | "disabled" | "protocol">;

export function isOnDemand(server: Pick<ServerSummary, "start">): boolean {
  return server.start === "onDemand";
}

/**
 * Whether the gateway lists the server's tools, prompts and resources: it runs, or it is an
 * on-demand server listed from its stored catalog while no process answers (asleep, starting,
 * or its last start on demand failed). What the `listed` of a `serverState` event says, read
 * from a row: the gateway reports the catalog's protocol exactly when it has one.
 */
export function isListed(server: Pick<ServerSummary, "state" | "start" | "protocol">): boolean {
  if (server.state === "running" || server.state === "idle") return true;
  return isOnDemand(server) && (server.state === "starting" || server.state === "restarting" || server.state === "failed") && !!server.protocol;
}

/**
 * Whether a client's request reaches the server now: it runs, or the request starts it (an
 * on-demand server that is not disabled). The inspector opens for these.
 */
export function answersRequests(server: Pick<ServerSummary, "state" | "start" | "disabled">): boolean {
  if (server.state === "running") return true;
  if (!isOnDemand(server) || server.disabled) return false;
  return server.state === "idle" || server.state === "starting" || server.state === "restarting" || server.state === "failed";
}

/** A whole number of seconds as a clock: `0:05`, `4:12`, `1:02:05`. Negative counts as 0. */
export function formatCountdown(secs: number): string {
  const s = Math.max(0, Math.floor(secs));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/** Seconds until `sleepsAtMs` at `now`, rounded up (a countdown shows 0:01 until it is over). */
export function secondsLeft(sleepsAtMs: number, now: number): number {
  return Math.max(0, Math.ceil((sleepsAtMs - now) / 1000));
}

/** `idleStopSecs` in words: `3 s`, `5 min`, `1 min 30 s`, `1 h`, `1 h 30 min`, `2 h 0 min 5 s`. */
export function formatIdleStop(secs: number): string {
  const s = Math.max(0, Math.floor(secs));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  const parts: string[] = [];
  if (h > 0) parts.push(`${h} h`);
  if (m > 0 || (h > 0 && r > 0)) parts.push(`${m} min`);
  if (r > 0 || parts.length === 0) parts.push(`${r} s`);
  return parts.join(" ");
}

/** What a card or page says of an on-demand server beside its state. */
export type SleepNote =
  /** No process: the first request that needs it starts it. */
  | { kind: "asleep"; text: string }
  /** Started by a request, not answering yet. */
  | { kind: "waking"; text: string }
  /** Running, and something uses it (a call in flight, a subscription): it does not sleep. */
  | { kind: "inUse"; text: string }
  /** Running unused: it stops at `sleepsAtMs`; `secs` left (0: due now), as a `clock` ("4:12"). */
  | { kind: "countdown"; text: string; secs: number; clock: string };

/** The note for an on-demand server in a state that has one; null for any other server or state. */
export function sleepNote(server: Pick<OnDemandFacts, "state" | "start" | "sleepsAtMs" | "disabled">, now: number): SleepNote | null {
  if (!isOnDemand(server) || server.disabled) return null;
  switch (server.state) {
    case "idle":
      return { kind: "asleep", text: "starts on demand" };
    case "starting":
      return { kind: "waking", text: "starting on demand" };
    case "running": {
      if (server.sleepsAtMs === null || server.sleepsAtMs === undefined) return { kind: "inUse", text: "in use" };
      const secs = secondsLeft(server.sleepsAtMs, now);
      const clock = formatCountdown(secs);
      return { kind: "countdown", secs, clock, text: secs > 0 ? `sleeps in ${clock}` : "going to sleep…" };
    }
    default:
      return null;
  }
}

/** The note's tooltip: what the words mean. */
export function sleepTitle(note: SleepNote, idleStopSecs: number | undefined): string {
  const after = idleStopSecs ? ` after ${formatIdleStop(idleStopSecs)}` : "";
  switch (note.kind) {
    case "asleep":
      return "No process runs; its tools stay listed. The first request that needs it (a tool call, say) starts it.";
    case "waking":
      return "A request needs it: it is being started.";
    case "inUse":
      return `Something uses it (a call in flight or a subscription): it keeps running, and sleeps${after} unused once that ends.`;
    case "countdown":
      return `Unused: it stops${after} without requests, unless one comes meanwhile.`;
  }
}

/**
 * What a failed server's error line adds: the retry countdown of one retried on a timer, or,
 * for an on-demand server whose start on demand failed (no timer), that the next request
 * tries again. Null when neither applies.
 */
export function retryNote(server: Pick<OnDemandFacts, "state" | "start" | "nextAttemptMs" | "disabled">, now: number): string | null {
  if (server.state !== "failed" && server.state !== "restarting") return null;
  if (server.nextAttemptMs) return `retrying in ${formatDuration(Math.max(0, Math.ceil((server.nextAttemptMs - now) / 1000)))}`;
  if (isOnDemand(server) && server.state === "failed" && !server.disabled) return "the next request tries again";
  return null;
}

/**
 * Whether recorded requests may have moved an on-demand server's sleep time (the list is then
 * read again, throttled): an entry answered by an on-demand server listed as running or
 * starting. (One asleep has no sleep time; a request that starts it brings state events,
 * which refetch the list anyway.)
 */
export function movesSleep(
  servers: readonly Pick<ServerSummary, "name" | "start" | "state">[],
  entries: readonly Pick<ActivityEntry, "server">[],
): boolean {
  const awake = new Set(servers.filter((s) => isOnDemand(s) && (s.state === "running" || s.state === "starting")).map((s) => s.name));
  return awake.size > 0 && entries.some((e) => e.server !== null && awake.has(e.server));
}

/**
 * The running on-demand servers whose countdown ran out (`graceMs` ago) and that were not read
 * again for that very time: each is read once (`done` remembers name → sleepsAtMs), never in
 * a loop, even if the gateway's answer still says the same time (its clock differs).
 */
export function dueForRefresh(
  servers: readonly Pick<ServerSummary, "name" | "state" | "start" | "sleepsAtMs">[],
  now: number,
  done: ReadonlyMap<string, number>,
  graceMs = 500,
): string[] {
  const due: string[] = [];
  for (const s of servers) {
    if (s.state !== "running" || !isOnDemand(s) || s.sleepsAtMs === null || s.sleepsAtMs === undefined) continue;
    if (now < s.sleepsAtMs + graceMs) continue;
    if (done.get(s.name) === s.sleepsAtMs) continue;
    due.push(s.name);
  }
  return due;
}

export type IdleUnit = "s" | "min";

/** The field's starting value for `secs`: whole minutes in minutes, anything else in seconds. */
export function idleStopField(secs: number): { value: string; unit: IdleUnit } {
  return secs > 0 && secs % 60 === 0 ? { value: String(secs / 60), unit: "min" } : { value: String(secs), unit: "s" };
}

/** The largest `idleStopSecs` the field accepts (a year: anything longer is a typo). */
export const MAX_IDLE_STOP_SECS = 365 * 24 * 3600;

/**
 * The field's text in `unit` as `idleStopSecs`, or why not: a number greater than 0 (the core
 * refuses 0), whole seconds (1.5 min is 90 s; 0.25 s is not).
 */
export function parseIdleStop(text: string, unit: IdleUnit): { secs: number } | { error: string } {
  const t = text.trim().replace(",", ".");
  if (t === "") return { error: "A time is required." };
  if (!/^\d+(\.\d+)?$/.test(t)) return { error: `Give a number of ${unit === "min" ? "minutes" : "seconds"}, such as ${unit === "min" ? "5" : "300"}.` };
  const secs = Number(t) * (unit === "min" ? 60 : 1);
  if (!(secs > 0)) return { error: "It must be more than 0: an on-demand server stops after some time unused." };
  const whole = Math.round(secs);
  if (Math.abs(secs - whole) > 1e-6) return { error: "Give whole seconds." };
  if (whole > MAX_IDLE_STOP_SECS) return { error: "At most a year (365 days)." };
  return { secs: whole };
}

/** What `start` a switch flip writes, and the toast that says what it does to the server now. */
export function startChange(name: string, onDemand: boolean, state: ServerState, idleStopSecs: number | undefined): { start: StartMode; message: string } {
  if (onDemand) {
    const after = idleStopSecs ? ` after ${formatIdleStop(idleStopSecs)}` : "";
    return {
      start: "onDemand",
      message: state === "running" ? `${name} starts on demand now: it stops${after} unused` : `${name} starts on demand now`,
    };
  }
  return { start: "always", message: state === "idle" ? `${name} runs always now: starting it` : `${name} runs always now` };
}
