// The activity page's state: the listing under the current filters (fetched, then kept
// current by the `activity` events), the stats for its charts (refetched at most every 5 s
// while calls arrive), and the notices the gateway sends along. Only the page imports it.

import { ApiError, type ActivityQuery, type ActivityStatsQuery } from "./api";
import {
  appendOlder,
  matches,
  mergeLive,
  NO_FILTERS,
  realClock,
  sameFilters,
  statsQuery,
  Throttle,
  listQuery,
  type ActivityFilters,
  type Clock,
  type Listing,
} from "./activity";
import type { ActivityEntry, ActivityList, ActivityStats, LiveEvent } from "./types";

/** Entries per request (first page and each "Load older"). */
export const PAGE_SIZE = 100;
/** The charts are read again at most this often while calls are recorded. */
export const STATS_MS = 5_000;

export interface FeedDeps {
  list: (q: ActivityQuery) => Promise<ActivityList>;
  stats: (q: ActivityStatsQuery) => Promise<ActivityStats>;
  clock?: Clock;
}

/** What the gateway says about the log itself. */
export interface FeedInfo {
  enabled: boolean;
  capture: boolean;
  warning: string | null;
}

export class ActivityFeed {
  filters = $state.raw<ActivityFilters>(NO_FILTERS);
  listing = $state.raw<Listing>({ entries: [], next: null });
  /** The first page under these filters arrived. */
  loaded = $state(false);
  loading = $state(false);
  loadingOlder = $state(false);
  error = $state<string | null>(null);
  info = $state.raw<FeedInfo | null>(null);
  /** Entries the gateway could not record (its queue was full), since it started. */
  dropped = $state(0);

  stats = $state.raw<ActivityStats | null>(null);
  statsError = $state<string | null>(null);

  /** The list stands still; matching entries that arrived meanwhile are counted. */
  paused = $state(false);
  missed = $state(0);

  private readonly clock: Clock;
  private seq = 0;
  private statsSeq = 0;
  /** Live entries that arrived while the first page was being fetched (merged into it). */
  private early: ActivityEntry[] | null = null;
  private readonly statsThrottle: Throttle;
  private started = false;

  constructor(private readonly deps: FeedDeps) {
    this.clock = deps.clock ?? realClock;
    this.statsThrottle = new Throttle(() => void this.fetchStats(), STATS_MS, this.clock);
  }

  /** Shows these filters: the listing is fetched again; the charts when their range or server changed. */
  setFilters(filters: ActivityFilters): void {
    const before = this.filters;
    if (this.started && sameFilters(before, filters)) return;
    this.filters = filters;
    const chartsChanged = !this.started || before.range !== filters.range || before.server !== filters.server;
    this.started = true;
    void this.reload();
    if (chartsChanged) this.statsThrottle.runNow();
  }

  stop(): void {
    this.seq++;
    this.statsSeq++;
    this.statsThrottle.cancel();
  }

  /** The newest page under the filters; "Load older" pages are let go. */
  async reload(): Promise<void> {
    const seq = ++this.seq;
    const filters = this.filters;
    this.loading = true;
    this.early = [];
    try {
      const page = await this.deps.list(listQuery(filters, this.clock.now(), { limit: PAGE_SIZE }));
      if (seq !== this.seq) return;
      this.listing = mergeLive({ entries: page.entries, next: page.next }, this.early ?? [], filters, this.clock.now());
      this.info = { enabled: page.enabled, capture: page.capture, warning: page.warning };
      this.dropped = Math.max(this.dropped, page.dropped);
      this.loaded = true;
      this.error = null;
      this.missed = 0;
    } catch (e) {
      if (seq !== this.seq) return;
      this.error = message(e);
    } finally {
      if (seq === this.seq) {
        this.loading = false;
        this.early = null;
      }
    }
  }

  /** The next older page, appended (kept until the filters change). */
  async loadOlder(): Promise<void> {
    const before = this.listing.next;
    if (before === null || this.loadingOlder || this.loading) return;
    const seq = this.seq;
    this.loadingOlder = true;
    try {
      const page = await this.deps.list(listQuery(this.filters, this.clock.now(), { before, limit: PAGE_SIZE }));
      if (seq !== this.seq || this.listing.next !== before) return;
      this.listing = appendOlder(this.listing, page);
      this.dropped = Math.max(this.dropped, page.dropped);
      this.error = null;
    } catch (e) {
      if (seq === this.seq) this.error = message(e);
    } finally {
      this.loadingOlder = false;
    }
  }

  setPaused(paused: boolean): void {
    if (paused === this.paused) return;
    this.paused = paused;
    // Resumed: what came meanwhile (beyond the cap, possibly) is read again.
    if (!paused && this.missed > 0) void this.reload();
    this.missed = 0;
  }

  /** An event of `/api/events`. */
  onEvent(event: LiveEvent): void {
    if (!this.started) return;
    if (event.type === "activity") {
      this.dropped = Math.max(this.dropped, event.dropped ?? 0);
      const entries = event.entries ?? [];
      if (entries.length === 0) return;
      this.statsThrottle.request();
      if (this.early) this.early.push(...entries);
      else if (this.paused) this.missed += entries.filter((e) => matches(e, this.filters, this.clock.now())).length;
      else this.listing = mergeLive(this.listing, entries, this.filters, this.clock.now());
    } else if (event.type === "hello" || event.type === "lagged") {
      // (Re)connected, or events were lost: what was missed is read again.
      if (this.loaded && !this.paused) void this.reload();
      this.statsThrottle.request();
    }
  }

  private async fetchStats(): Promise<void> {
    const seq = ++this.statsSeq;
    try {
      const stats = await this.deps.stats(statsQuery(this.filters));
      if (seq !== this.statsSeq) return;
      this.stats = stats;
      this.statsError = null;
      this.dropped = Math.max(this.dropped, stats.dropped);
    } catch (e) {
      if (seq === this.statsSeq) this.statsError = message(e);
    }
  }
}

function message(e: unknown): string {
  return e instanceof ApiError || e instanceof Error ? e.message : String(e);
}
