import { describe, expect, it } from "vitest";
import {
  answersRequests,
  dueForRefresh,
  formatCountdown,
  formatIdleStop,
  idleStopField,
  isListed,
  movesSleep,
  parseIdleStop,
  retryNote,
  secondsLeft,
  sleepNote,
  sleepTitle,
  startChange,
} from "./ondemand";
import type { ServerState, ServerSummary } from "./types";

const lazy = (state: ServerState, over: Partial<ServerSummary> = {}) =>
  ({ name: "lazy", state, start: "onDemand", sleepsAtMs: null, nextAttemptMs: null, disabled: false, protocol: "2025-11-25", ...over }) as const;

describe("formatCountdown", () => {
  it("reads as a clock", () => {
    expect(formatCountdown(252)).toBe("4:12");
    expect(formatCountdown(5)).toBe("0:05");
    expect(formatCountdown(60)).toBe("1:00");
    expect(formatCountdown(3599)).toBe("59:59");
    expect(formatCountdown(3725)).toBe("1:02:05");
    expect(formatCountdown(0)).toBe("0:00");
    expect(formatCountdown(-3)).toBe("0:00");
    expect(formatCountdown(4.9)).toBe("0:04");
  });
});

describe("secondsLeft", () => {
  it("rounds up, so the last second shows 0:01", () => {
    expect(secondsLeft(10_000, 0)).toBe(10);
    expect(secondsLeft(10_000, 9_001)).toBe(1);
    expect(secondsLeft(10_000, 10_000)).toBe(0);
    expect(secondsLeft(10_000, 12_000)).toBe(0);
    expect(secondsLeft(10_000, 7_400)).toBe(3);
  });
});

describe("formatIdleStop", () => {
  it("says the time in the largest units that fit", () => {
    expect(formatIdleStop(3)).toBe("3 s");
    expect(formatIdleStop(300)).toBe("5 min");
    expect(formatIdleStop(90)).toBe("1 min 30 s");
    expect(formatIdleStop(3600)).toBe("1 h");
    expect(formatIdleStop(5400)).toBe("1 h 30 min");
    expect(formatIdleStop(7205)).toBe("2 h 0 min 5 s");
    expect(formatIdleStop(0)).toBe("0 s");
  });
});

describe("sleepNote", () => {
  it("asleep: starts on demand", () => {
    expect(sleepNote(lazy("idle"), 0)).toEqual({ kind: "asleep", text: "starts on demand" });
  });

  it("running unused: a countdown to its sleep time, ticking with the clock", () => {
    const row = lazy("running", { sleepsAtMs: 1_000_000 });
    expect(sleepNote(row, 1_000_000 - 252_000)).toEqual({ kind: "countdown", secs: 252, clock: "4:12", text: "sleeps in 4:12" });
    expect(sleepNote(row, 1_000_000 - 251_000)?.text).toBe("sleeps in 4:11");
    expect(sleepNote(row, 999_500)?.text).toBe("sleeps in 0:01");
    expect(sleepNote(row, 1_000_000)).toEqual({ kind: "countdown", secs: 0, clock: "0:00", text: "going to sleep…" });
  });

  it("running and used (no sleep time): in use", () => {
    expect(sleepNote(lazy("running"), 0)).toEqual({ kind: "inUse", text: "in use" });
    expect(sleepNote(lazy("running", { sleepsAtMs: undefined }), 0)?.kind).toBe("inUse");
  });

  it("starting on demand", () => {
    expect(sleepNote(lazy("starting"), 0)?.text).toBe("starting on demand");
  });

  it("nothing for other states, disabled ones, and servers that run always", () => {
    for (const state of ["failed", "restarting", "stopped", "disabled", "needs-auth"] as const) expect(sleepNote(lazy(state), 0)).toBeNull();
    expect(sleepNote(lazy("idle", { disabled: true }), 0)).toBeNull();
    expect(sleepNote(lazy("running", { start: "always", sleepsAtMs: 5 }), 0)).toBeNull();
    expect(sleepNote(lazy("running", { start: undefined }), 0)).toBeNull();
  });

  it("has a tooltip that says what the words mean", () => {
    expect(sleepTitle({ kind: "asleep", text: "" }, 300)).toMatch(/first request that needs it/);
    expect(sleepTitle({ kind: "countdown", text: "", secs: 3, clock: "0:03" }, 300)).toMatch(/stops after 5 min without requests/);
    expect(sleepTitle({ kind: "inUse", text: "" }, 90)).toMatch(/sleeps after 1 min 30 s unused/);
  });
});

describe("retryNote", () => {
  it("counts down to the next attempt on a timer", () => {
    expect(retryNote(lazy("failed", { start: "always", nextAttemptMs: 10_000 }), 4_000)).toBe("retrying in 6s");
    expect(retryNote(lazy("restarting", { start: "always", nextAttemptMs: 100_000 }), 0)).toBe("retrying in 1m 40s");
  });

  it("says the next request tries again for an on-demand server whose start failed", () => {
    expect(retryNote(lazy("failed", { lastError: "boom" } as Partial<ServerSummary>), 0)).toBe("the next request tries again");
    expect(retryNote(lazy("failed", { disabled: true }), 0)).toBeNull();
    expect(retryNote(lazy("failed", { start: "always" }), 0)).toBeNull();
    expect(retryNote(lazy("running"), 0)).toBeNull();
    expect(retryNote(lazy("idle"), 0)).toBeNull();
  });
});

describe("isListed and answersRequests", () => {
  it("an on-demand server is listed from its catalog while asleep, starting or failed", () => {
    expect(isListed(lazy("idle"))).toBe(true);
    expect(isListed(lazy("starting"))).toBe(true);
    expect(isListed(lazy("failed"))).toBe(true);
    // No catalog learned (its first start failed): nothing listed.
    expect(isListed(lazy("failed", { protocol: null }))).toBe(false);
    expect(isListed(lazy("running", { start: "always" }))).toBe(true);
    expect(isListed(lazy("failed", { start: "always" }))).toBe(false);
    expect(isListed(lazy("disabled"))).toBe(false);
  });

  it("a request reaches a running server, or starts an on-demand one that is not disabled", () => {
    expect(answersRequests(lazy("running", { start: "always" }))).toBe(true);
    expect(answersRequests(lazy("idle"))).toBe(true);
    expect(answersRequests(lazy("starting"))).toBe(true);
    expect(answersRequests(lazy("failed"))).toBe(true);
    expect(answersRequests(lazy("idle", { disabled: true }))).toBe(false);
    expect(answersRequests(lazy("disabled"))).toBe(false);
    expect(answersRequests(lazy("starting", { start: "always" }))).toBe(false);
  });
});

describe("movesSleep", () => {
  const servers = [
    { name: "a", start: "always" as const, state: "running" as const },
    { name: "b", start: "onDemand" as const, state: "running" as const },
    { name: "c", state: "running" as const },
    { name: "d", start: "onDemand" as const, state: "idle" as const },
    { name: "e", start: "onDemand" as const, state: "starting" as const },
  ];
  it("is true when an entry was answered by an on-demand server that runs (or starts)", () => {
    expect(movesSleep(servers, [{ server: "a" }, { server: "b" }])).toBe(true);
    expect(movesSleep(servers, [{ server: "e" }])).toBe(true);
    expect(movesSleep(servers, [{ server: "a" }, { server: null }, { server: "c" }])).toBe(false);
    expect(movesSleep(servers, [])).toBe(false);
    expect(movesSleep([{ name: "a", start: "always", state: "running" }], [{ server: "a" }])).toBe(false);
  });

  it("is false for one asleep (listed from its catalog: nothing to move)", () => {
    expect(movesSleep(servers, [{ server: "d" }])).toBe(false);
  });
});

describe("dueForRefresh", () => {
  const running = (name: string, sleepsAtMs: number | null) => ({ name, state: "running" as const, start: "onDemand" as const, sleepsAtMs });
  it("names each running on-demand server whose countdown ran out, once per sleep time", () => {
    const rows = [running("a", 10_000), running("b", 20_000), running("c", null), { ...running("d", 1_000), start: "always" as const }, { ...running("e", 1_000), state: "idle" as const }];
    const done = new Map<string, number>();
    expect(dueForRefresh(rows, 9_000, done)).toEqual([]);
    expect(dueForRefresh(rows, 10_200, done)).toEqual([]); // within the grace: the gateway's own event usually comes first
    expect(dueForRefresh(rows, 10_500, done)).toEqual(["a"]);
    done.set("a", 10_000);
    // The refetch said the same time (clocks differ): not again, never a loop.
    expect(dueForRefresh(rows, 15_000, done)).toEqual([]);
    expect(dueForRefresh(rows, 30_000, done)).toEqual(["b"]);
    // A call moved it: due again when the new time passes.
    const moved = [running("a", 40_000)];
    expect(dueForRefresh(moved, 35_000, done)).toEqual([]);
    expect(dueForRefresh(moved, 41_000, done)).toEqual(["a"]);
  });
});

describe("the idle-stop field", () => {
  it("starts in minutes for whole minutes, else seconds", () => {
    expect(idleStopField(300)).toEqual({ value: "5", unit: "min" });
    expect(idleStopField(90)).toEqual({ value: "90", unit: "s" });
    expect(idleStopField(3)).toEqual({ value: "3", unit: "s" });
    expect(idleStopField(3600)).toEqual({ value: "60", unit: "min" });
  });

  it("parses seconds and minutes into idleStopSecs", () => {
    expect(parseIdleStop("120", "s")).toEqual({ secs: 120 });
    expect(parseIdleStop(" 5 ", "min")).toEqual({ secs: 300 });
    expect(parseIdleStop("1.5", "min")).toEqual({ secs: 90 });
    expect(parseIdleStop("2,5", "min")).toEqual({ secs: 150 });
    expect(parseIdleStop("0.1", "min")).toEqual({ secs: 6 });
  });

  it("refuses what the core would refuse, and typos", () => {
    expect(parseIdleStop("0", "s")).toHaveProperty("error", expect.stringMatching(/more than 0/));
    expect(parseIdleStop("0.0", "min")).toHaveProperty("error", expect.stringMatching(/more than 0/));
    expect(parseIdleStop("", "s")).toHaveProperty("error", "A time is required.");
    expect(parseIdleStop("-5", "s")).toHaveProperty("error", expect.stringMatching(/number of seconds/));
    expect(parseIdleStop("5m", "min")).toHaveProperty("error", expect.stringMatching(/number of minutes/));
    expect(parseIdleStop("1e3", "s")).toHaveProperty("error");
    expect(parseIdleStop("1.5", "s")).toHaveProperty("error", "Give whole seconds.");
    expect(parseIdleStop("0.01", "min")).toHaveProperty("error", "Give whole seconds.");
    expect(parseIdleStop("600000", "min")).toHaveProperty("error", expect.stringMatching(/At most a year/));
  });
});

describe("startChange", () => {
  it("writes the mode and says what happens to the server now", () => {
    expect(startChange("od", true, "running", 300)).toEqual({ start: "onDemand", message: "od starts on demand now: it stops after 5 min unused" });
    expect(startChange("od", true, "failed", 300)).toEqual({ start: "onDemand", message: "od starts on demand now" });
    expect(startChange("od", false, "idle", 300)).toEqual({ start: "always", message: "od runs always now: starting it" });
    expect(startChange("od", false, "running", 300)).toEqual({ start: "always", message: "od runs always now" });
  });
});
