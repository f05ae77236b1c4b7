import { describe, expect, it } from "vitest";
import { emptyModel, hasEffects, mergeEffects, NO_EFFECTS, reduce, rowFromDetail, rowsFrom, uptimeAt, type Model } from "./reducer";
import type { ActivityEntry, LiveEvent, ServerDetail, ServerSummary } from "./types";

function summary(name: string, over: Partial<ServerSummary> = {}): ServerSummary {
  return {
    name,
    state: "running",
    pid: 100,
    uptimeSecs: 60,
    restarts: 0,
    lastError: null,
    tools: { exposed: 3, total: 3 },
    endpoints: { mcp: `http://h/servers/${name}/mcp`, sse: `http://h/servers/${name}/sse` },
    command: "x",
    args: [],
    disabled: false,
    ...over,
  };
}

function model(...servers: ServerSummary[]): Model {
  return { ...emptyModel(), servers: rowsFrom(servers, 1_000) };
}

describe("reduce", () => {
  it("hello and lagged refetch everything", () => {
    for (const event of [{ type: "hello" }, { type: "lagged", missed: 3 }] as LiveEvent[]) {
      const { effects } = reduce(model(), event, 0);
      expect(effects).toEqual({ list: true, config: true, details: ["*"], catalogs: [], clients: true, stats: true, usage: false });
    }
  });

  it("serverState patches the row at once and refetches the list", () => {
    const m = model(summary("a"), summary("b"));
    const { model: next, effects } = reduce(m, { type: "serverState", name: "b", state: "failed", pid: null, lastError: "boom" }, 5_000);
    expect(next.servers[1]).toMatchObject({ name: "b", state: "failed", pid: null, lastError: "boom", uptimeSecs: null });
    expect(next.servers[0]).toBe(m.servers[0]);
    expect(m.servers[1].state).toBe("running"); // not mutated
    expect(effects.list).toBe(true);
  });

  it("a new pid restarts the uptime clock", () => {
    const m = model(summary("a", { pid: 100, uptimeSecs: 500 }));
    const { model: next } = reduce(m, { type: "serverState", name: "a", state: "running", pid: 200, lastError: null }, 9_000);
    expect(next.servers[0]).toMatchObject({ pid: 200, uptimeSecs: 0, fetchedAt: 9_000 });
    expect(uptimeAt(next.servers[0], 12_500)).toBe(3);
  });

  it("the same pid keeps the uptime", () => {
    const m = model(summary("a", { pid: 100, uptimeSecs: 500 }));
    const { model: next } = reduce(m, { type: "serverState", name: "a", state: "running", pid: 100, lastError: null }, 9_000);
    expect(uptimeAt(next.servers[0], 11_000)).toBe(510);
  });

  it("serverState of an unknown server refetches the list", () => {
    const m = model(summary("a"));
    const { model: next, effects } = reduce(m, { type: "serverState", name: "new", state: "starting", pid: 5, lastError: null }, 0);
    expect(next).toBe(m);
    expect(effects.list).toBe(true);
  });

  it("toolsChanged refetches the list and that server's detail", () => {
    const { effects } = reduce(model(summary("a")), { type: "toolsChanged", name: "a" }, 0);
    expect(effects).toEqual({ ...NO_EFFECTS, list: true, details: ["a"] });
  });

  it("prompts and resources changes ask for their catalog", () => {
    expect(reduce(model(), { type: "promptsChanged", name: "a" }, 0).effects.catalogs).toEqual([{ name: "a", what: "prompts" }]);
    expect(reduce(model(), { type: "resourcesChanged", name: "a" }, 0).effects.catalogs).toEqual([{ name: "a", what: "resources" }]);
  });

  it("configError keeps the message and fetches the position; configReloaded clears it", () => {
    const broken = reduce(model(), { type: "configError", message: "servers.json:3:5: expected value" }, 0);
    expect(broken.model.configMessage).toContain("3:5");
    expect(broken.effects).toEqual({ ...NO_EFFECTS, config: true });
    const fixed = reduce(broken.model, { type: "configReloaded" }, 0);
    expect(fixed.model.configMessage).toBeNull();
    expect(fixed.effects).toMatchObject({ list: true, config: true, details: ["*"], clients: true });
  });

  it("serversChanged refetches the list and the clients (what each reaches depends on servers.json)", () => {
    expect(reduce(model(), { type: "serversChanged" }, 0).effects).toEqual({ ...NO_EFFECTS, list: true, clients: true });
  });

  it("state and tool changes leave the clients alone", () => {
    const m = model(summary("a"));
    expect(reduce(m, { type: "serverState", name: "a", state: "failed", pid: null, lastError: "x" }, 0).effects.clients).toBe(false);
    expect(reduce(m, { type: "toolsChanged", name: "a" }, 0).effects.clients).toBe(false);
  });

  it("activity refetches only the servers' numbers and leaves the model alone", () => {
    const m = model(summary("a"));
    const { model: next, effects } = reduce(m, { type: "activity", entries: [], dropped: 0 }, 0);
    expect(next).toBe(m);
    expect(effects).toEqual({ ...NO_EFFECTS, stats: true });
  });

  it("activity of an on-demand server asks for its sleep time again (throttled by the store)", () => {
    const m = model(summary("always"), summary("lazy", { start: "onDemand", sleepsAtMs: 50_000 }));
    const entry = (server: string | null) => ({ server }) as ActivityEntry;
    const of = (...servers: (string | null)[]) => reduce(m, { type: "activity", entries: servers.map(entry), dropped: 0 }, 0);
    expect(of("lazy").effects).toEqual({ ...NO_EFFECTS, stats: true, usage: true });
    expect(of("always", null).effects.usage).toBe(false);
    expect(of(null, "always", "lazy").effects.usage).toBe(true);
    expect(of("lazy").model).toBe(m);
  });

  it("an on-demand server's sleep time is dropped when it stops running, and unknown when it starts", () => {
    const m = model(summary("lazy", { start: "onDemand", sleepsAtMs: 50_000 }));
    const idle = reduce(m, { type: "serverState", name: "lazy", state: "idle", pid: null, lastError: null, listed: true }, 60_000).model;
    expect(idle.servers[0]).toMatchObject({ state: "idle", sleepsAtMs: null, pid: null, uptimeSecs: null });
    const woken = reduce(idle, { type: "serverState", name: "lazy", state: "running", pid: 7, lastError: null, listed: true }, 61_000);
    expect(woken.model.servers[0]).toMatchObject({ state: "running", sleepsAtMs: null, uptimeSecs: 0 });
    expect(woken.effects.list).toBe(true);
    // Still running (the same process): the time stands until the refetch.
    const same = reduce(m, { type: "serverState", name: "lazy", state: "running", pid: 100, lastError: null }, 61_000).model;
    expect(same.servers[0].sleepsAtMs).toBe(50_000);
  });

  it("ignores events it does not know", () => {
    const m = model(summary("a"));
    const { model: next, effects } = reduce(m, { type: "somethingNew" } as unknown as LiveEvent, 0);
    expect(next).toBe(m);
    expect(hasEffects(effects)).toBe(false);
  });
});

describe("mergeEffects", () => {
  it("unions without duplicates", () => {
    const a = { list: true, config: false, details: ["x"], catalogs: [{ name: "x", what: "prompts" as const }], clients: false, stats: true, usage: false };
    const b = { list: false, config: true, details: ["x", "*"], catalogs: [{ name: "x", what: "prompts" as const }, { name: "y", what: "resources" as const }], clients: true, stats: false, usage: true };
    expect(mergeEffects(a, b)).toEqual({
      list: true,
      config: true,
      details: ["x", "*"],
      catalogs: [
        { name: "x", what: "prompts" },
        { name: "y", what: "resources" },
      ],
      clients: true,
      stats: true,
      usage: true,
    });
    expect(hasEffects(NO_EFFECTS)).toBe(false);
    expect(hasEffects({ ...NO_EFFECTS, usage: true })).toBe(true);
    expect(hasEffects({ ...NO_EFFECTS, clients: true })).toBe(true);
    expect(hasEffects({ ...NO_EFFECTS, stats: true })).toBe(true);
  });
});

describe("uptimeAt", () => {
  it("counts on from the read, and is null when not running", () => {
    const [row] = rowsFrom([summary("a", { uptimeSecs: 10 })], 1_000);
    expect(uptimeAt(row, 1_000)).toBe(10);
    expect(uptimeAt(row, 4_999)).toBe(13);
    expect(uptimeAt({ ...row, state: "failed" }, 4_999)).toBeNull();
  });
});

describe("rowFromDetail", () => {
  it("keeps the listed fields and leaves out what only the page needs", () => {
    const detail: ServerDetail = {
      ...summary("lazy", { start: "onDemand", idleStopSecs: 3, sleepsAtMs: 9_000 }),
      cwd: "/x",
      envKeys: ["A"],
      headerKeys: [],
      filter: { allow: null, deny: [] },
      toolList: [{ name: "t", description: null, inputSchema: {}, exposed: true }],
    };
    const row = rowFromDetail(detail, 1_234);
    expect(row).toEqual({ ...summary("lazy", { start: "onDemand", idleStopSecs: 3, sleepsAtMs: 9_000 }), fetchedAt: 1_234 });
  });
});
