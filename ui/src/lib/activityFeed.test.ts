import { describe, expect, it, vi } from "vitest";
import { NO_FILTERS } from "./activity";
import { ActivityFeed, STATS_MS } from "./activityFeed.svelte";
import { entry, fakeClock, filtersWith as f, NOW } from "./activityFixtures";
import type { ActivityQuery, ActivityStatsQuery } from "./api";
import type { ActivityEntry, ActivityList, ActivityStats } from "./types";

function page(entries: ActivityEntry[], over: Partial<ActivityList> = {}): ActivityList {
  return { entries, next: null, dropped: 0, enabled: true, capture: false, warning: null, ...over };
}

const STATS: ActivityStats = {
  from: 0,
  to: 0,
  bucketMs: 60_000,
  total: { calls: 0, errors: 0, p50: null, p95: null, p99: null },
  series: [],
  servers: [],
  tools: [],
  dropped: 0,
  warning: null,
};

/** A deferred answer, resolved by the test. */
function deferred<T>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

function setup() {
  const { clock, advance } = fakeClock(NOW);
  const lists: { q: ActivityQuery; answer: ReturnType<typeof deferred<ActivityList>> }[] = [];
  const statsCalls: ActivityStatsQuery[] = [];
  const feed = new ActivityFeed({
    list: (q) => {
      const answer = deferred<ActivityList>();
      lists.push({ q, answer });
      return answer.promise;
    },
    stats: vi.fn(async (q: ActivityStatsQuery) => {
      statsCalls.push(q);
      return STATS;
    }),
    clock,
  });
  return { feed, lists, statsCalls, advance };
}

const flush = () => new Promise((r) => setTimeout(r, 0));
const ids = (feed: ActivityFeed) => feed.listing.entries.map((e) => e.id);

describe("ActivityFeed", () => {
  it("merges live entries that arrive while the first page loads, without duplicates", async () => {
    const { feed, lists } = setup();
    feed.setFilters(NO_FILTERS);
    feed.onEvent({ type: "activity", entries: [entry(3), entry(4)], dropped: 0 });
    lists[0].answer.resolve(page([entry(3), entry(2)], { next: 2 }));
    await flush();
    expect(ids(feed)).toEqual([4, 3, 2]);
    expect(feed.listing.next).toBe(2);
    feed.onEvent({ type: "activity", entries: [entry(5)], dropped: 0 });
    expect(ids(feed)).toEqual([5, 4, 3, 2]);
  });

  it("adds only the live entries the filters take", async () => {
    const { feed, lists } = setup();
    feed.setFilters(f({ outcome: "error" }));
    lists[0].answer.resolve(page([]));
    await flush();
    feed.onEvent({ type: "activity", entries: [entry(1), entry(2, { outcome: "error" })], dropped: 0 });
    expect(ids(feed)).toEqual([2]);
  });

  it("drops the answer to filters that were changed meanwhile", async () => {
    const { feed, lists } = setup();
    feed.setFilters(f({ tool: "a" }));
    feed.setFilters(f({ tool: "b" }));
    expect(lists.map((l) => l.q.tool)).toEqual(["a", "b"]);
    lists[1].answer.resolve(page([entry(2, { name: "b" })]));
    await flush();
    lists[0].answer.resolve(page([entry(1, { name: "a" })]));
    await flush();
    expect(ids(feed)).toEqual([2]);
  });

  it("refetches the charts when the range or server changes, not for the other filters", async () => {
    const { feed, statsCalls } = setup();
    feed.setFilters(NO_FILTERS);
    feed.setFilters(f({ tool: "echo" }));
    feed.setFilters(f({ tool: "echo", range: "24h" }));
    feed.setFilters(f({ tool: "echo", range: "24h", server: "git" }));
    await flush();
    expect(statsCalls).toEqual([{ window: 3600, buckets: 60 }, { window: 86400, buckets: 96 }, { window: 86400, buckets: 96, server: "git" }]);
  });

  it("refetches the charts at most every 5 s while calls arrive", async () => {
    const { feed, lists, statsCalls, advance } = setup();
    feed.setFilters(NO_FILTERS);
    lists[0].answer.resolve(page([]));
    await flush();
    for (let i = 1; i <= 10; i++) {
      feed.onEvent({ type: "activity", entries: [entry(i)], dropped: 0 });
      advance(400);
    }
    expect(statsCalls).toHaveLength(1);
    advance(STATS_MS);
    expect(statsCalls).toHaveLength(2);
  });

  it("while paused, counts the matching calls instead of adding them; resuming reads the list again", async () => {
    const { feed, lists } = setup();
    feed.setFilters(NO_FILTERS);
    lists[0].answer.resolve(page([entry(1)]));
    await flush();
    feed.setPaused(true);
    feed.onEvent({ type: "activity", entries: [entry(2), entry(3)], dropped: 0 });
    expect(ids(feed)).toEqual([1]);
    expect(feed.missed).toBe(2);
    feed.setPaused(false);
    expect(lists).toHaveLength(2);
    lists[1].answer.resolve(page([entry(3), entry(2), entry(1)]));
    await flush();
    expect(ids(feed)).toEqual([3, 2, 1]);
    expect(feed.missed).toBe(0);
  });

  it("loads older pages from next and keeps the highest dropped count it was told", async () => {
    const { feed, lists } = setup();
    feed.setFilters(NO_FILTERS);
    lists[0].answer.resolve(page([entry(9), entry(8)], { next: 8, dropped: 3 }));
    await flush();
    void feed.loadOlder();
    expect(lists[1].q.before).toBe(8);
    lists[1].answer.resolve(page([entry(7)], { next: null, dropped: 2 }));
    await flush();
    expect(ids(feed)).toEqual([9, 8, 7]);
    expect(feed.listing.next).toBeNull();
    feed.onEvent({ type: "activity", entries: [], dropped: 5 });
    expect(feed.dropped).toBe(5);
  });

  it("reads the list again after a reconnect (events may have been missed)", async () => {
    const { feed, lists } = setup();
    feed.setFilters(NO_FILTERS);
    lists[0].answer.resolve(page([]));
    await flush();
    feed.onEvent({ type: "hello" });
    expect(lists).toHaveLength(2);
  });
});
