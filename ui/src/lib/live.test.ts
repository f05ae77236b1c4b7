import { describe, expect, it } from "vitest";
import { DEFAULT_BACKOFF } from "./backoff";
import { LiveConnection, type EventSourceLike, type LiveStatus } from "./live";
import type { LiveEvent } from "./types";

class FakeSource implements EventSourceLike {
  listeners = new Map<string, ((e: MessageEvent) => void)[]>();
  onerror: ((e: Event) => void) | null = null;
  closed = false;
  addEventListener(type: string, fn: (e: MessageEvent) => void) {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), fn]);
  }
  close() {
    this.closed = true;
  }
  emit(type: string, data: unknown) {
    for (const fn of this.listeners.get(type) ?? []) fn({ data: JSON.stringify(data) } as MessageEvent);
  }
  fail() {
    this.onerror?.(new Event("error"));
  }
}

function harness() {
  const sources: FakeSource[] = [];
  const timers: { fn: () => void; ms: number; id: number }[] = [];
  let clock = 0;
  let nextId = 1;
  const events: LiveEvent[] = [];
  const statuses: LiveStatus[] = [];
  const conn = new LiveConnection(
    "/api/events",
    { onEvent: (e) => events.push(e), onStatus: (s) => statuses.push(s) },
    {
      createEventSource: () => {
        const s = new FakeSource();
        sources.push(s);
        return s;
      },
      setTimeout: (fn, ms) => {
        const id = nextId++;
        timers.push({ fn, ms, id });
        return id;
      },
      clearTimeout: (id) => {
        const i = timers.findIndex((t) => t.id === id);
        if (i >= 0) timers.splice(i, 1);
      },
      now: () => clock,
      random: () => 0.5,
      backoff: DEFAULT_BACKOFF,
    },
  );
  const runTimer = () => {
    const t = timers.shift();
    if (!t) throw new Error("no timer pending");
    clock += t.ms;
    t.fn();
    return t.ms;
  };
  return { conn, sources, timers, events, statuses, runTimer };
}

describe("LiveConnection", () => {
  it("opens on hello and passes events through with their type", () => {
    const h = harness();
    h.conn.start();
    expect(h.sources).toHaveLength(1);
    expect(h.conn.status).toEqual({ kind: "connecting", attempt: 0 });
    h.sources[0].emit("hello", { type: "hello" });
    expect(h.conn.status).toEqual({ kind: "open" });
    h.sources[0].emit("serverState", { name: "a", state: "running", pid: 1, lastError: null });
    expect(h.events.map((e) => e.type)).toEqual(["hello", "serverState"]);
    expect(h.events[1]).toMatchObject({ name: "a", pid: 1 });
  });

  it("reconnects with growing delays while the gateway is down, and resets after hello", () => {
    const h = harness();
    h.conn.start();
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      h.sources[h.sources.length - 1].fail();
      expect(h.sources[h.sources.length - 1].closed).toBe(true);
      expect(h.conn.status.kind).toBe("waiting");
      delays.push(h.runTimer());
    }
    expect(delays).toEqual([500, 1000, 2000, 4000, 8000]);
    expect(h.sources).toHaveLength(6);
    // The gateway is back: hello resets the backoff.
    h.sources[5].emit("hello", {});
    expect(h.conn.status).toEqual({ kind: "open" });
    h.sources[5].fail();
    expect(h.runTimer()).toBe(500);
    // Every reconnect's hello reaches the caller, who refetches on it.
    h.sources[6].emit("hello", {});
    expect(h.events.filter((e) => e.type === "hello")).toHaveLength(2);
  });

  it("ignores events from a replaced source", () => {
    const h = harness();
    h.conn.start();
    const old = h.sources[0];
    old.fail();
    h.runTimer();
    old.emit("serversChanged", {});
    expect(h.events).toEqual([]);
  });

  it("retryNow skips the wait; stop ends everything", () => {
    const h = harness();
    h.conn.start();
    h.sources[0].fail();
    expect(h.timers).toHaveLength(1);
    h.conn.retryNow();
    expect(h.timers).toHaveLength(0);
    expect(h.sources).toHaveLength(2);
    h.conn.retryNow(); // not waiting: no-op
    expect(h.sources).toHaveLength(2);
    h.conn.stop();
    expect(h.sources[1].closed).toBe(true);
    h.sources[1].fail();
    expect(h.timers).toHaveLength(0);
  });

  it("survives data that is not JSON", () => {
    const h = harness();
    h.conn.start();
    for (const fn of h.sources[0].listeners.get("serversChanged") ?? []) fn({ data: "not json" } as MessageEvent);
    expect(h.events).toEqual([{ type: "serversChanged" }]);
  });
});
