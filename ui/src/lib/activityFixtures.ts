// Fixtures shared by the activity log's tests (activity.test.ts, activityFeed.test.ts); imported
// by tests only.
import { NO_FILTERS, type ActivityFilters, type Clock } from "./activity";
import type { ActivityEntry } from "./types";

/** The tests' "now". */
export const NOW = 1_765_100_000_000;

/** A recorded tools/call of echo on `everything`, a second before NOW, with `over` on top. */
export function entry(id: number, over: Partial<ActivityEntry> = {}): ActivityEntry {
  return {
    id,
    ts: NOW - 1000,
    endpoint: "/servers/everything/mcp",
    transport: "http",
    server: "everything",
    client: "claude-code 1.0.3",
    fromDashboard: false,
    session: "s1",
    method: "tools/call",
    name: "echo",
    durationMs: 1.5,
    outcome: "ok",
    errorCode: null,
    error: null,
    requestBytes: 120,
    responseBytes: 340,
    protocol: "2025-11-25",
    request: null,
    response: null,
    ...over,
  };
}

/** No filters but `over`. */
export const filtersWith = (over: Partial<ActivityFilters>): ActivityFilters => ({ ...NO_FILTERS, ...over });

/** A clock whose time moves only by `advance`, which runs the timers that came due. */
export function fakeClock(start = 0) {
  let now = start;
  const timers: { at: number; fn: () => void }[] = [];
  const clock: Clock = {
    now: () => now,
    setTimeout: (fn, ms) => {
      const t = { at: now + ms, fn };
      timers.push(t);
      return t;
    },
    clearTimeout: (h) => {
      const i = timers.indexOf(h as (typeof timers)[number]);
      if (i >= 0) timers.splice(i, 1);
    },
  };
  const advance = (ms: number) => {
    now += ms;
    for (const t of timers.filter((t) => t.at <= now)) {
      timers.splice(timers.indexOf(t), 1);
      t.fn();
    }
  };
  return { clock, advance };
}
