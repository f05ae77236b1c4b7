// The activity log without the DOM: the filters and the page's query string, which live
// entries a filtered list takes, merging them into the list (by id, capped), the stats as
// uPlot's arrays, a throttle for the stats refetches, and formatting.

import type { ActivityQuery, ActivityStatsQuery } from "./api";
import type { ActivityEntry, ActivityList, ActivityOutcome, ActivityPoint, ActivityStats } from "./types";

export const OUTCOMES: readonly { value: ActivityOutcome; label: string }[] = [
  { value: "ok", label: "ok" },
  { value: "error", label: "error" },
  { value: "toolError", label: "tool error" },
  { value: "timeout", label: "timeout" },
  { value: "cancelled", label: "cancelled" },
];

export function outcomeLabel(outcome: ActivityOutcome): string {
  return OUTCOMES.find((o) => o.value === outcome)?.label ?? outcome;
}

/** Methods offered in the method filter (any other can be typed). */
export const METHODS: readonly string[] = [
  "tools/call",
  "tools/list",
  "resources/read",
  "resources/list",
  "resources/templates/list",
  "prompts/get",
  "prompts/list",
  "completion/complete",
  "initialize",
  "ping",
];

export type RangeKey = "15m" | "1h" | "24h" | "7d";

/** The time ranges, with the buckets their charts are drawn in (15 s, 1 min, 15 min, 1 h). */
export const RANGES: readonly { key: RangeKey; label: string; seconds: number; buckets: number }[] = [
  { key: "15m", label: "Last 15 minutes", seconds: 15 * 60, buckets: 60 },
  { key: "1h", label: "Last hour", seconds: 3600, buckets: 60 },
  { key: "24h", label: "Last 24 hours", seconds: 24 * 3600, buckets: 96 },
  { key: "7d", label: "Last 7 days", seconds: 7 * 24 * 3600, buckets: 168 },
];

export const DEFAULT_RANGE: RangeKey = "1h";

function range(key: RangeKey) {
  return RANGES.find((r) => r.key === key) ?? RANGES[1];
}

/** What the page shows; "" is "any". */
export interface ActivityFilters {
  server: string;
  /** A substring of the client's "name version". */
  client: string;
  method: string;
  /** The tool or prompt name (or resource URI), exactly. */
  tool: string;
  outcome: ActivityOutcome | "";
  range: RangeKey;
}

export const NO_FILTERS: ActivityFilters = { server: "", client: "", method: "", tool: "", outcome: "", range: DEFAULT_RANGE };

const TEXT_KEYS = ["server", "client", "method", "tool"] as const;

/** The filters of `/activity?…`; unknown outcomes and ranges read as "any" and the default. */
export function filtersFromQuery(search: string): ActivityFilters {
  const q = new URLSearchParams(search);
  const f: ActivityFilters = { ...NO_FILTERS };
  for (const key of TEXT_KEYS) f[key] = q.get(key)?.trim() ?? "";
  const outcome = q.get("outcome");
  if (OUTCOMES.some((o) => o.value === outcome)) f.outcome = outcome as ActivityOutcome;
  const r = q.get("range");
  if (RANGES.some((x) => x.key === r)) f.range = r as RangeKey;
  return f;
}

/** `?…` for the page's URL (set filters only, the default range left out), or "". */
export function filtersToQuery(f: ActivityFilters): string {
  const q = new URLSearchParams();
  for (const key of TEXT_KEYS) if (f[key].trim()) q.set(key, f[key].trim());
  if (f.outcome) q.set("outcome", f.outcome);
  if (f.range !== DEFAULT_RANGE) q.set("range", f.range);
  const s = q.toString();
  return s ? `?${s}` : "";
}

export function sameFilters(a: ActivityFilters, b: ActivityFilters): boolean {
  return filtersToQuery(a) === filtersToQuery(b);
}

/** The range's start at `now` (epoch ms). */
export function rangeStart(f: ActivityFilters, now: number): number {
  return now - range(f.range).seconds * 1000;
}

/** `GET /api/activity`'s query for the filters at `now`. */
export function listQuery(f: ActivityFilters, now: number, page: { before?: number; limit?: number } = {}): ActivityQuery {
  const q: ActivityQuery = { from: rangeStart(f, now), ...page };
  if (f.server) q.server = f.server;
  if (f.client) q.client = f.client;
  if (f.method) q.method = f.method;
  if (f.tool) q.tool = f.tool;
  if (f.outcome) q.outcome = f.outcome;
  return q;
}

/** `GET /api/activity/stats`'s query: the range, in its buckets, of the server filtered on (if any). */
export function statsQuery(f: ActivityFilters): ActivityStatsQuery {
  const r = range(f.range);
  const q: ActivityStatsQuery = { window: r.seconds, buckets: r.buckets };
  if (f.server) q.server = f.server;
  return q;
}

/**
 * Whether a live entry belongs in the list the filters fetched, as the gateway would have
 * answered: server, method, tool and outcome exactly, the client as a substring (ignoring
 * case), and not older than the range.
 */
export function matches(e: ActivityEntry, f: ActivityFilters, now: number): boolean {
  if (f.server && e.server !== f.server) return false;
  if (f.method && e.method !== f.method) return false;
  if (f.tool && e.name !== f.tool) return false;
  if (f.outcome && e.outcome !== f.outcome) return false;
  if (f.client && !(e.client ?? "").toLowerCase().includes(f.client.toLowerCase())) return false;
  return e.ts >= rangeStart(f, now);
}

/** What the page keeps of the log: newest first, and where the next older page starts. */
export interface Listing {
  entries: ActivityEntry[];
  /** `before` for "Load older"; null when nothing older is left. */
  next: number | null;
}

/** How many entries the page keeps while live entries arrive (loading older ones raises it to what is loaded). */
export const LIVE_CAP = 500;

/**
 * Merges entries (any order) into a listing: one per id, newest first. Beyond `cap` (or the
 * listing's length, if the user loaded more), the oldest go, and "Load older" resumes
 * below the oldest kept.
 */
export function mergeEntries(listing: Listing, incoming: readonly ActivityEntry[], cap = LIVE_CAP): Listing {
  if (incoming.length === 0) return listing;
  const byId = new Map<number, ActivityEntry>();
  for (const e of listing.entries) byId.set(e.id, e);
  let added = false;
  for (const e of incoming) {
    if (!byId.has(e.id)) added = true;
    byId.set(e.id, e);
  }
  if (!added) return listing;
  const entries = [...byId.values()].sort((a, b) => b.id - a.id);
  const keep = Math.max(cap, listing.entries.length);
  if (entries.length <= keep) return { entries, next: listing.next };
  const kept = entries.slice(0, keep);
  return { entries: kept, next: kept[kept.length - 1].id };
}

/** Live entries for a listing: those the filters take, merged. */
export function mergeLive(listing: Listing, live: readonly ActivityEntry[], f: ActivityFilters, now: number, cap = LIVE_CAP): Listing {
  return mergeEntries(
    listing,
    live.filter((e) => matches(e, f, now)),
    cap,
  );
}

/** An older page ("Load older") appended: the listing grows to hold it, and goes on from its `next`. */
export function appendOlder(listing: Listing, page: Pick<ActivityList, "entries" | "next">): Listing {
  const merged = mergeEntries(listing, page.entries, listing.entries.length + page.entries.length);
  return { entries: merged.entries, next: page.next };
}

/** uPlot's data: x (seconds, uPlot's time unit) first, then one array per series (null: a gap). */
export type ChartData = [number[], ...(number | null)[][]];

export interface ChartSeries {
  labels: string[];
  data: ChartData;
}

const xs = (points: readonly ActivityPoint[]) => points.map((p) => p.t / 1000);

/**
 * Calls per minute, one line per server (the busiest `max - 1`, the rest as "other servers"),
 * or one line for all when no server has calls. Buckets of other lengths are scaled to a minute.
 */
export function callsSeries(stats: ActivityStats, max = 6): ChartSeries {
  const perMinute = 60_000 / (stats.bucketMs || 60_000);
  const scale = (n: number) => Math.round(n * perMinute * 100) / 100;
  const x = xs(stats.series);
  if (stats.servers.length === 0) return { labels: ["All servers"], data: [x, stats.series.map((p) => scale(p.calls))] };
  const shown = stats.servers.length > max ? stats.servers.slice(0, max - 1) : stats.servers;
  const labels = shown.map((s) => s.server);
  const data: ChartData = [x];
  const index = new Map(stats.series.map((p, i) => [p.t, i]));
  const sums = stats.series.map(() => 0);
  for (const s of shown) {
    const line = stats.series.map(() => 0);
    for (const p of s.series) {
      const i = index.get(p.t);
      if (i === undefined) continue;
      line[i] = p.calls;
      sums[i] += p.calls;
    }
    data.push(line.map(scale));
  }
  if (shown.length < stats.servers.length) {
    labels.push("Other servers");
    data.push(stats.series.map((p, i) => scale(Math.max(0, p.calls - sums[i]))));
  }
  return { labels, data };
}

/** p50, p95 and p99 per bucket (ms; null where a bucket had no calls). */
export function latencySeries(stats: ActivityStats): ChartSeries {
  return {
    labels: ["p50", "p95", "p99"],
    data: [xs(stats.series), stats.series.map((p) => p.p50), stats.series.map((p) => p.p95), stats.series.map((p) => p.p99)],
  };
}

/** Errors as a percentage of calls per bucket (null where there were no calls). */
export function errorRateSeries(stats: ActivityStats): ChartSeries {
  return {
    labels: ["Error rate"],
    data: [xs(stats.series), stats.series.map((p) => (p.calls > 0 ? Math.round((p.errors / p.calls) * 1000) / 10 : null))],
  };
}

/** A share as "12.5 %" (one decimal under 10). */
export function formatPercent(n: number | null): string {
  if (n === null || !Number.isFinite(n)) return "–";
  return `${n < 10 ? Math.round(n * 10) / 10 : Math.round(n)} %`;
}

/** A duration in ms as people read it: "0.42 ms", "12.3 ms", "340 ms", "1.25 s", "2m 5s". */
export function formatMs(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return "–";
  if (ms === 0) return "0 ms";
  if (ms < 1) return `${ms.toFixed(2)} ms`;
  if (ms < 10) return `${ms.toFixed(1)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}m ${s % 60}s`;
}

/** A size: "120 B", "1.2 KB", "34 KB", "5.1 MB" (1 KB = 1024 B). */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KB", "MB", "GB"];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[u]}`;
}

/** A call count: "999", "1.2k", "34k", "1.5M". */
export function formatCount(n: number): string {
  if (n < 1000) return String(n);
  if (n < 1_000_000) return `${n < 10_000 ? (n / 1000).toFixed(1) : Math.round(n / 1000)}k`;
  return `${(n / 1_000_000).toFixed(1)}M`;
}

const pad = (n: number, w = 2) => String(n).padStart(w, "0");

/** When a call arrived: the time of day (with ms) today, the date and time (local) before. */
export function formatWhen(ts: number, now: number): string {
  const d = new Date(ts);
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  if (d.toDateString() === new Date(now).toDateString()) return `${time}.${pad(d.getMilliseconds(), 3)}`;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${time}`;
}

/** Captured JSON text pretty-printed when it parses (a truncated capture is shown as sent). */
export function prettyJson(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

/**
 * Runs `fn` at most once per `intervalMs`: a request within the interval is run when it is
 * over (requests meanwhile fold into that one run), so the last request is never lost.
 */
export class Throttle {
  private last = -Infinity;
  private timer: unknown = null;

  constructor(
    private readonly fn: () => void,
    private readonly intervalMs: number,
    private readonly clock: Clock = realClock,
  ) {}

  request(): void {
    if (this.timer !== null) return;
    const wait = this.last + this.intervalMs - this.clock.now();
    if (wait <= 0) this.run();
    else
      this.timer = this.clock.setTimeout(() => {
        this.timer = null;
        this.run();
      }, wait);
  }

  /** Runs now (the filters changed), instead of a run scheduled. */
  runNow(): void {
    this.cancel();
    this.run();
  }

  /** Whether it ran within the last `ms`. */
  ranWithin(ms: number): boolean {
    return this.clock.now() - this.last < ms;
  }

  cancel(): void {
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  private run(): void {
    this.last = this.clock.now();
    this.fn();
  }
}
