import { describe, expect, it, vi } from "vitest";
import {
  appendOlder,
  callsSeries,
  errorRateSeries,
  filtersFromQuery,
  filtersToQuery,
  formatBytes,
  formatCount,
  formatMs,
  formatPercent,
  formatWhen,
  latencySeries,
  listQuery,
  matches,
  mergeEntries,
  mergeLive,
  NO_FILTERS,
  prettyJson,
  statsQuery,
  Throttle,
  type Listing,
} from "./activity";
import { entry, fakeClock, filtersWith as f, NOW } from "./activityFixtures";
import type { ActivityEntry, ActivityPoint, ActivityStats } from "./types";

const ids = (l: { entries: ActivityEntry[] }) => l.entries.map((e) => e.id);

describe("filters in the URL", () => {
  it("round-trip through the query, leaving out what is unset and the default range", () => {
    const filters = f({ server: "everything", client: "claude code", method: "tools/call", tool: "echo", outcome: "error", range: "24h" });
    const q = filtersToQuery(filters);
    expect(q).toBe("?server=everything&client=claude+code&method=tools%2Fcall&tool=echo&outcome=error&range=24h");
    expect(filtersFromQuery(q)).toEqual(filters);
    expect(filtersToQuery(NO_FILTERS)).toBe("");
    expect(filtersToQuery(f({ tool: "echo", range: "1h" }))).toBe("?tool=echo");
  });

  it("read an unknown outcome or range as any outcome and the default range", () => {
    expect(filtersFromQuery("?outcome=weird&range=3y&tool=%20echo%20")).toEqual(f({ tool: "echo" }));
  });
});

describe("queries", () => {
  it("the list query carries set filters, the range's start and the page", () => {
    expect(listQuery(f({ tool: "echo", outcome: "toolError", range: "15m" }), NOW, { before: 900, limit: 100 })).toEqual({
      from: NOW - 15 * 60_000,
      tool: "echo",
      outcome: "toolError",
      before: 900,
      limit: 100,
    });
  });

  it("the stats query is the range in its buckets, for the filtered server only", () => {
    expect(statsQuery(f({ range: "7d", tool: "echo" }))).toEqual({ window: 7 * 86400, buckets: 168 });
    expect(statsQuery(f({ server: "git" }))).toEqual({ window: 3600, buckets: 60, server: "git" });
  });
});

describe("matches (live entries under the filters)", () => {
  it("takes an entry only when every set filter agrees, the client as a substring ignoring case", () => {
    const e = entry(1);
    expect(matches(e, NO_FILTERS, NOW)).toBe(true);
    expect(matches(e, f({ server: "everything", method: "tools/call", tool: "echo", outcome: "ok", client: "CLAUDE" }), NOW)).toBe(true);
    expect(matches(e, f({ server: "git" }), NOW)).toBe(false);
    expect(matches(e, f({ method: "tools/list" }), NOW)).toBe(false);
    expect(matches(e, f({ tool: "ech" }), NOW)).toBe(false);
    expect(matches(e, f({ outcome: "error" }), NOW)).toBe(false);
    expect(matches(e, f({ client: "cursor" }), NOW)).toBe(false);
  });

  it("leaves out gateway-answered entries under a server filter, and entries of unknown clients under a client filter", () => {
    expect(matches(entry(1, { server: null, method: "initialize", name: null }), f({ server: "everything" }), NOW)).toBe(false);
    expect(matches(entry(1, { client: null }), f({ client: "a" }), NOW)).toBe(false);
  });

  it("leaves out entries older than the range", () => {
    expect(matches(entry(1, { ts: NOW - 16 * 60_000 }), f({ range: "15m" }), NOW)).toBe(false);
    expect(matches(entry(1, { ts: NOW - 16 * 60_000 }), f({ range: "1h" }), NOW)).toBe(true);
  });
});

describe("mergeEntries", () => {
  it("puts new entries first, newest first, whatever order they come in", () => {
    const listing: Listing = { entries: [entry(5), entry(4)], next: 4 };
    expect(ids(mergeEntries(listing, [entry(6), entry(7)]))).toEqual([7, 6, 5, 4]);
    expect(mergeEntries(listing, [entry(6)]).next).toBe(4);
  });

  it("keeps one entry per id (a live entry the fetch also answered)", () => {
    const listing: Listing = { entries: [entry(5), entry(4)], next: null };
    expect(ids(mergeEntries(listing, [entry(4), entry(5), entry(6)]))).toEqual([6, 5, 4]);
  });

  it("answers the same listing when nothing is new", () => {
    const listing: Listing = { entries: [entry(5), entry(4)], next: null };
    expect(mergeEntries(listing, [entry(5)])).toBe(listing);
    expect(mergeEntries(listing, [])).toBe(listing);
  });

  it("drops the oldest beyond the cap, and Load older resumes below the oldest kept", () => {
    const listing: Listing = { entries: [entry(3), entry(2), entry(1)], next: null };
    const merged = mergeEntries(listing, [entry(4), entry(5)], 3);
    expect(ids(merged)).toEqual([5, 4, 3]);
    expect(merged.next).toBe(3);
  });

  it("keeps as many as were loaded when older pages took the listing over the cap", () => {
    const listing: Listing = { entries: [entry(4), entry(3), entry(2), entry(1)], next: 1 };
    const merged = mergeEntries(listing, [entry(5)], 2);
    expect(ids(merged)).toEqual([5, 4, 3, 2]);
    expect(merged.next).toBe(2);
  });
});

describe("mergeLive", () => {
  it("merges only the live entries the filters take", () => {
    const listing: Listing = { entries: [entry(1)], next: null };
    const live = [entry(2, { outcome: "error" }), entry(3), entry(4, { outcome: "error" })];
    expect(ids(mergeLive(listing, live, f({ outcome: "error" }), NOW))).toEqual([4, 2, 1]);
  });
});

describe("appendOlder", () => {
  it("appends an older page whole and goes on from its next", () => {
    const listing: Listing = { entries: [entry(5), entry(4)], next: 4 };
    const older = appendOlder(listing, { entries: [entry(3), entry(2)], next: 2 });
    expect(ids(older)).toEqual([5, 4, 3, 2]);
    expect(older.next).toBe(2);
    expect(appendOlder(older, { entries: [entry(1)], next: null }).next).toBeNull();
  });
});

function point(t: number, calls: number, errors = 0, p = calls > 0 ? 10 : null): ActivityPoint {
  return { t, calls, errors, p50: p, p95: p === null ? null : p * 2, p99: p === null ? null : p * 3 };
}

function stats(over: Partial<ActivityStats> = {}): ActivityStats {
  const series = [point(60_000, 4, 1), point(120_000, 0), point(180_000, 10, 0)];
  return {
    from: 60_000,
    to: 240_000,
    bucketMs: 60_000,
    total: { calls: 14, errors: 1, p50: 10, p95: 20, p99: 30 },
    series,
    servers: [],
    tools: [],
    dropped: 0,
    warning: null,
    ...over,
  };
}

describe("chart data", () => {
  it("has x in seconds and one line for all servers when none is listed", () => {
    expect(callsSeries(stats())).toEqual({ labels: ["All servers"], data: [[60, 120, 180], [4, 0, 10]] });
  });

  it("scales calls to a minute when buckets are longer or shorter", () => {
    expect(callsSeries(stats({ bucketMs: 15_000 })).data[1]).toEqual([16, 0, 40]);
    expect(callsSeries(stats({ bucketMs: 3_600_000 })).data[1]).toEqual([0.07, 0, 0.17]);
  });

  it("draws one line per server, aligned by bucket, and the rest as other servers", () => {
    const s = stats({
      servers: [
        { server: "a", calls: 8, errors: 0, p50: 1, p95: 1, p99: 1, series: [point(60_000, 3), point(180_000, 5)] },
        { server: "b", calls: 4, errors: 0, p50: 1, p95: 1, p99: 1, series: [point(180_000, 4)] },
        { server: "c", calls: 2, errors: 0, p50: 1, p95: 1, p99: 1, series: [point(60_000, 1), point(180_000, 1)] },
      ],
    });
    expect(callsSeries(s, 4)).toEqual({ labels: ["a", "b", "c"], data: [[60, 120, 180], [3, 0, 5], [0, 0, 4], [1, 0, 1]] });
    expect(callsSeries(s, 2)).toEqual({ labels: ["a", "Other servers"], data: [[60, 120, 180], [3, 0, 5], [1, 0, 5]] });
  });

  it("gives latency percentiles with gaps where a bucket had no calls", () => {
    expect(latencySeries(stats()).data).toEqual([[60, 120, 180], [10, null, 10], [20, null, 20], [30, null, 30]]);
  });

  it("gives the error rate in percent, a gap without calls", () => {
    expect(errorRateSeries(stats()).data).toEqual([[60, 120, 180], [25, null, 0]]);
  });
});

describe("formatting", () => {
  it("formats durations from sub-millisecond to minutes", () => {
    expect(formatMs(0)).toBe("0 ms");
    expect(formatMs(0.4213)).toBe("0.42 ms");
    expect(formatMs(3.21)).toBe("3.2 ms");
    expect(formatMs(340.4)).toBe("340 ms");
    expect(formatMs(1250)).toBe("1.25 s");
    expect(formatMs(12_340)).toBe("12.3 s");
    expect(formatMs(125_000)).toBe("2m 5s");
    expect(formatMs(null)).toBe("–");
  });

  it("formats sizes, counts and shares", () => {
    expect(formatBytes(120)).toBe("120 B");
    expect(formatBytes(1229)).toBe("1.2 KB");
    expect(formatBytes(35_000)).toBe("34 KB");
    expect(formatBytes(5.1 * 1024 * 1024)).toBe("5.1 MB");
    expect(formatCount(999)).toBe("999");
    expect(formatCount(1234)).toBe("1.2k");
    expect(formatCount(34_567)).toBe("35k");
    expect(formatPercent(2.345)).toBe("2.3 %");
    expect(formatPercent(45.6)).toBe("46 %");
    expect(formatPercent(null)).toBe("–");
  });

  it("shows today's calls by time with milliseconds, older ones with their date", () => {
    const today = new Date(2025, 11, 7, 14, 3, 22, 45).getTime();
    expect(formatWhen(today, new Date(2025, 11, 7, 23, 0).getTime())).toBe("14:03:22.045");
    expect(formatWhen(today, new Date(2025, 11, 8, 1, 0).getTime())).toBe("2025-12-07 14:03:22");
  });

  it("pretty-prints captured JSON, and shows a truncated capture as it is", () => {
    expect(prettyJson('{"a":1}')).toBe('{\n  "a": 1\n}');
    expect(prettyJson('{"a":"tru')).toBe('{"a":"tru');
  });
});

describe("Throttle", () => {
  it("runs at once, then folds requests within the interval into one run at its end", () => {
    const { clock, advance } = fakeClock();
    const fn = vi.fn();
    const t = new Throttle(fn, 5000, clock);
    t.request();
    expect(fn).toHaveBeenCalledTimes(1);
    advance(1000);
    t.request();
    t.request();
    advance(3000);
    expect(fn).toHaveBeenCalledTimes(1);
    advance(1000);
    expect(fn).toHaveBeenCalledTimes(2);
    advance(10_000);
    expect(fn).toHaveBeenCalledTimes(2);
  });

  it("runNow runs at once instead of the scheduled run; cancel drops it", () => {
    const { clock, advance } = fakeClock();
    const fn = vi.fn();
    const t = new Throttle(fn, 5000, clock);
    t.request();
    t.request();
    t.runNow();
    expect(fn).toHaveBeenCalledTimes(2);
    advance(5000);
    expect(fn).toHaveBeenCalledTimes(2); // the scheduled run was replaced
    advance(1000);
    t.runNow();
    advance(1000);
    t.request();
    t.cancel();
    advance(10_000);
    expect(fn).toHaveBeenCalledTimes(3);
  });
});
