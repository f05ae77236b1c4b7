import { describe, expect, it } from "vitest";
import { ApiError } from "./api";
import { ActionFlow, clashOf, currentOptions, DEFAULT_OPTIONS, describeReach, inScope, requestBody, sanitizeName, summarize, throughSwitchboard, type FlowState } from "./clients";
import type { ClientChange, ClientEntry, DetectedClient } from "./types";

const DIFF = "--- f\n+++ f\n@@ -1,3 +1,4 @@\n {\n   \"mcpServers\": {\n+    \"switchboard\": { \"url\": \"http://127.0.0.1:7427/mcp\" }\n   }\n";

function client(servers: ClientEntry[], over: Partial<DetectedClient["files"][number]> = {}): DetectedClient {
  return { client: "cursor", name: "Cursor", files: [{ path: "/home/ada/.cursor/mcp.json", scope: "user", exists: true, error: null, servers, ...over }] };
}
const direct = (name: string): ClientEntry => ({ name, reach: "direct", detail: `npx -y ${name}` });
const ours = (name: string, detail = ""): ClientEntry => ({ name, reach: "switchboard", detail });

describe("requestBody", () => {
  it("sends the install options and always says whether it is a dry run", () => {
    expect(requestBody("install", DEFAULT_OPTIONS, true)).toEqual({ dryRun: true, all: false, replace: false });
    expect(requestBody("install", { mode: "each", replace: true }, false)).toEqual({ dryRun: false, all: true, replace: true });
    expect(requestBody("import", { mode: "each", replace: true }, true)).toEqual({ dryRun: true });
    expect(requestBody("uninstall", DEFAULT_OPTIONS, false)).toEqual({ dryRun: false });
    expect(requestBody("import", DEFAULT_OPTIONS, false, "0123abcd")).toEqual({ dryRun: false, expect: "0123abcd" });
  });
  it("asks for search mode only when chosen, and only of install", () => {
    expect(requestBody("install", { mode: "search", replace: false }, true)).toEqual({ dryRun: true, all: false, replace: false, search: true });
    expect(requestBody("install", { mode: "search", replace: true }, false, "p")).toEqual({ dryRun: false, all: false, replace: true, search: true, expect: "p" });
    expect(requestBody("uninstall", { mode: "search", replace: false }, true)).toEqual({ dryRun: true });
    expect(requestBody("install", { mode: "aggregate", replace: false }, true)).not.toHaveProperty("search");
  });
});

describe("sanitizeName", () => {
  it("matches the gateway's", () => {
    expect(sanitizeName("My Server")).toBe("My-Server");
    expect(sanitizeName("a__b")).toBe("a_b");
    expect(sanitizeName("@scope/pkg")).toBe("scope-pkg");
    expect(sanitizeName("...")).toBe("server");
    expect(sanitizeName("é")).toBe("server");
    expect(sanitizeName("time")).toBe("time");
  });
});

describe("throughSwitchboard", () => {
  const names = ["time", "git"];
  it("reads a server's own entry and the aggregate one from the names install writes", () => {
    expect(throughSwitchboard(ours("switchboard"), names)).toEqual({ kind: "all" });
    expect(throughSwitchboard(ours("time"), names)).toEqual({ kind: "server", name: "time" });
    // A name Switchboard does not run (any more): assume the aggregate endpoint.
    expect(throughSwitchboard(ours("mine"), names)).toEqual({ kind: "all" });
  });
  it("prefers a URL or bridge command when the gateway sends one", () => {
    expect(throughSwitchboard(ours("x", "http://127.0.0.1:7427/servers/git/mcp"), names)).toEqual({ kind: "server", name: "git" });
    expect(throughSwitchboard(ours("time", "http://127.0.0.1:7427/mcp"), names)).toEqual({ kind: "all" });
    expect(throughSwitchboard(ours("x", "/usr/bin/switchboard connect git --url http://127.0.0.1:7427"), names)).toEqual({ kind: "server", name: "git" });
    expect(throughSwitchboard(ours("x", "/usr/bin/switchboard connect --url http://127.0.0.1:7427"), names)).toEqual({ kind: "all" });
  });
  it("tells the aggregate endpoint in search mode, by URL or by the bridge's --search", () => {
    expect(throughSwitchboard(ours("switchboard", "http://127.0.0.1:7427/mcp?mode=search"), names)).toEqual({ kind: "all", search: true });
    expect(throughSwitchboard(ours("switchboard", "http://127.0.0.1:7427/mcp?servers=a,b&mode=search"), names)).toEqual({ kind: "all", search: true });
    expect(throughSwitchboard(ours("switchboard", "/usr/bin/switchboard connect --search --url http://127.0.0.1:7427"), names)).toEqual({ kind: "all", search: true });
    expect(throughSwitchboard(ours("switchboard", "http://127.0.0.1:7427/mcp?mode=searchable"), names)).toEqual({ kind: "all" });
  });
});

describe("summarize", () => {
  it("a client that runs everything itself, some of it twice", () => {
    const s = summarize(client([direct("time"), direct("My Notes"), { name: "remote", reach: "http", detail: "https://example.com/mcp" }]), ["time", "My-Notes"]);
    expect(s.status).toBe("not-connected");
    expect(s.direct.map((d) => d.name)).toEqual(["time", "My Notes"]);
    expect(s.twice).toEqual(["time", "My Notes"]);
    expect(s.other).toBe(1);
    expect(describeReach(s, 2)).toBe("Starts 2 servers itself; uses 1 other server.");
  });

  it("a connected client", () => {
    const s = summarize(client([ours("switchboard"), direct("memory")]), ["time", "git", "x"]);
    expect(s.status).toBe("connected");
    expect(s.all).toBe(true);
    expect(s.twice).toEqual([]);
    expect(describeReach(s, 3)).toBe("Reaches every Switchboard server (3); starts 1 server itself.");
    const each = summarize(client([ours("time"), ours("git")]), ["time", "git"]);
    expect(each).toMatchObject({ all: false, through: ["time", "git"] });
    expect(describeReach(each, 2)).toBe("Reaches 2 servers through Switchboard.");
  });

  it("a client connected in search mode, and the options its dialog opens with", () => {
    const search = summarize(client([ours("switchboard", "http://127.0.0.1:7427/mcp?mode=search"), direct("memory")]), ["time"]);
    expect(search).toMatchObject({ status: "connected", all: true, search: true });
    expect(describeReach(search, 1)).toBe("Reaches every Switchboard server (1) in search mode; starts 1 server itself.");
    expect(currentOptions(search)).toEqual({ mode: "search", replace: false });
    expect(currentOptions(search, true)).toEqual({ mode: "search", replace: true });
    // An entry that lists every tool as well: not "in search mode".
    const both = summarize(client([ours("switchboard", "http://127.0.0.1:7427/mcp?mode=search"), ours("all", "http://127.0.0.1:7427/mcp")]), ["time"]);
    expect(both).toMatchObject({ all: true, search: false });
    expect(currentOptions(both)).toEqual({ mode: "aggregate", replace: false });
    expect(currentOptions(summarize(client([ours("time")]), ["time"]))).toEqual({ mode: "each", replace: false });
    expect(currentOptions(summarize(client([direct("time")]), ["time"]))).toEqual(DEFAULT_OPTIONS);
  });

  it("a client without a file, or with a file it cannot read", () => {
    const missing = summarize(client([], { exists: false }), []);
    expect(missing).toMatchObject({ status: "not-found", found: false, path: "/home/ada/.cursor/mcp.json" });
    expect(describeReach(missing, 0)).toBe("Not found on this machine.");
    const broken = summarize(client([], { error: "not valid JSON: line 3" }), []);
    expect(broken).toMatchObject({ status: "unreadable", error: "not valid JSON: line 3" });
    expect(describeReach(summarize(client([]), []), 0)).toBe("No MCP servers configured.");
  });
});

describe("inScope", () => {
  const both: DetectedClient = {
    client: "cursor",
    name: "Cursor",
    files: [
      { path: "/home/ada/.cursor/mcp.json", scope: "user", exists: true, error: null, servers: [direct("notes")] },
      { path: "/work/app/.cursor/mcp.json", scope: "project", exists: false, error: null, servers: [] },
    ],
  };
  const userOnly: DetectedClient = { ...client([direct("x")]), client: "claude-desktop", name: "Claude Desktop" };

  it("without a project, shows every client as listed", () => {
    expect(inScope([both, userOnly], null)).toEqual({ clients: [both, userOnly], noProjectFile: [] });
  });

  it("with a project, shows only project files, so the card and its actions are about them", () => {
    const { clients, noProjectFile } = inScope([both, userOnly], "/work/app");
    expect(clients.map((c) => c.files.map((f) => f.path))).toEqual([["/work/app/.cursor/mcp.json"]]);
    expect(noProjectFile).toEqual(["Claude Desktop"]);
    // Its project file does not exist yet: the client is "not found" there, not connected.
    expect(summarize(clients[0], []).status).toBe("not-found");
  });
});

describe("clashOf", () => {
  it("finds the clashing entry of a refused install", () => {
    const e = new ApiError(409, "client_clash", "/home/ada/.cursor/mcp.json already has an entry 'time' of its own; pass --replace to replace it (it is kept for uninstall)");
    expect(clashOf(e)).toBe("time");
    expect(clashOf(new ApiError(409, "client_config", "/x changed while Switchboard was writing it; try again"))).toBeNull();
    expect(clashOf(new ApiError(422, "client_config", "already has an entry 'time'"))).toBeNull();
  });
});

/** A gateway stand-in: every call waits until the test answers it. */
function fakeGateway() {
  const calls: { body: Record<string, unknown>; resolve: (c: ClientChange) => void; reject: (e: unknown) => void }[] = [];
  const run = (body: Record<string, unknown>) => new Promise<ClientChange>((resolve, reject) => calls.push({ body, resolve, reject }));
  return { calls, run };
}
const answer = (diff: string, extra: Partial<ClientChange> = {}): ClientChange => ({ path: "/home/ada/.cursor/mcp.json", diff, written: false, ...extra });

describe("ActionFlow", () => {
  it("previews first, then writes with exactly the options that were shown", async () => {
    const gw = fakeGateway();
    const seen: FlowState["phase"][] = [];
    const flow = new ActionFlow("install", gw.run, (s) => seen.push(s.phase));
    const shown = flow.preview({ mode: "each", replace: true });
    expect(flow.canApply).toBe(false); // nothing on screen yet
    expect(await flow.apply()).toBeNull();
    expect(gw.calls).toHaveLength(1);
    expect(gw.calls[0].body).toEqual({ dryRun: true, all: true, replace: true });
    gw.calls[0].resolve(answer(DIFF));
    await shown;
    expect(flow.state.phase).toBe("ready");
    expect(flow.canApply).toBe(true);

    const applied = flow.apply();
    expect(flow.state.phase).toBe("applying");
    expect(gw.calls[1].body).toEqual({ dryRun: false, all: true, replace: true });
    gw.calls[1].resolve(answer(DIFF, { written: true, backup: "/home/ada/.cursor/mcp.json.switchboard-1.bak" }));
    expect(await applied).toMatchObject({ written: true });
    expect(flow.state).toMatchObject({ phase: "applied", drifted: false });
    expect(seen).toEqual(["previewing", "ready", "applying", "applied"]);
  });

  it("search mode is part of the previewed plan: apply sends it with the preview's plan", async () => {
    const gw = fakeGateway();
    const flow = new ActionFlow("install", gw.run);
    const aggregate = flow.preview();
    const search = flow.preview({ mode: "search", replace: false });
    const SEARCH = DIFF.replace("/mcp", "/mcp?mode=search");
    gw.calls[1].resolve(answer(SEARCH, { plan: "search-plan" }));
    await search;
    // The older preview (every tool) answers late: it is dropped.
    gw.calls[0].resolve(answer(DIFF, { plan: "aggregate-plan" }));
    await aggregate;
    expect(flow.state).toMatchObject({ phase: "ready", options: { mode: "search" }, preview: { plan: "search-plan" } });
    const applied = flow.apply();
    expect(gw.calls[2].body).toEqual({ dryRun: false, all: false, replace: false, search: true, expect: "search-plan" });
    gw.calls[2].resolve(answer(SEARCH, { written: true, plan: "search-plan" }));
    await applied;
    expect(flow.state).toMatchObject({ phase: "applied", drifted: false, options: { mode: "search" } });
  });

  it("a late answer to an older preview never replaces the newer one", async () => {
    const gw = fakeGateway();
    const flow = new ActionFlow("install", gw.run);
    const first = flow.preview({ mode: "aggregate", replace: false });
    const second = flow.preview({ mode: "each", replace: false });
    gw.calls[1].resolve(answer(DIFF.replace("switchboard", "time")));
    await second;
    gw.calls[0].resolve(answer(DIFF));
    await first;
    expect(flow.state).toMatchObject({ phase: "ready", options: { mode: "each" } });
    expect(flow.state.phase === "ready" && flow.state.preview.diff).toContain('"time"');
    // And apply sends the options of that preview.
    void flow.apply();
    expect(gw.calls[2].body).toEqual({ dryRun: false, all: true, replace: false });
  });

  it("a preview asked for during a write waits for the write", async () => {
    const gw = fakeGateway();
    const flow = new ActionFlow("uninstall", gw.run);
    const p = flow.preview();
    gw.calls[0].resolve(answer(DIFF));
    await p;
    const applied = flow.apply();
    await flow.preview({ mode: "each", replace: true });
    expect(gw.calls).toHaveLength(2);
    gw.calls[1].resolve(answer(DIFF, { written: true }));
    await applied;
    expect(flow.state.phase).toBe("applied");
  });

  it("nothing to change: apply is refused", async () => {
    const gw = fakeGateway();
    const flow = new ActionFlow("uninstall", gw.run);
    const p = flow.preview();
    gw.calls[0].resolve(answer(""));
    await p;
    expect(flow.state.phase).toBe("ready");
    expect(flow.canApply).toBe(false);
    expect(await flow.apply()).toBeNull();
    expect(gw.calls).toHaveLength(1);
  });

  it("an import with nothing to import is not applied even with a diff", async () => {
    const gw = fakeGateway();
    const flow = new ActionFlow("import", gw.run);
    const p = flow.preview();
    gw.calls[0].resolve(answer(DIFF, { imported: [], skipped: [["remote", "not a stdio server"]] }));
    await p;
    expect(flow.canApply).toBe(false);
  });

  it("says when what was written differs from the preview", async () => {
    const gw = fakeGateway();
    const flow = new ActionFlow("install", gw.run);
    const p = flow.preview();
    gw.calls[0].resolve(answer(DIFF));
    await p;
    const applied = flow.apply();
    gw.calls[1].resolve(answer(DIFF + "+changed meanwhile\n", { written: true }));
    await applied;
    expect(flow.state).toMatchObject({ phase: "applied", drifted: true });
  });

  it("apply names the preview it writes; refused as stale, it shows the new preview and writes nothing", async () => {
    const gw = fakeGateway();
    const flow = new ActionFlow("install", gw.run);
    const p = flow.preview();
    gw.calls[0].resolve(answer(DIFF, { plan: "plan-1" }));
    await p;

    const applied = flow.apply();
    expect(gw.calls[1].body).toEqual({ dryRun: false, all: false, replace: false, expect: "plan-1" });
    gw.calls[1].reject(new ApiError(409, "preview_stale", "/home/ada/.cursor/mcp.json changed since the preview, so nothing was written"));
    await new Promise((r) => setTimeout(r, 0));
    // The flow previews again by itself, with the same options.
    expect(gw.calls[2].body).toEqual({ dryRun: true, all: false, replace: false });
    const now = DIFF.replace("switchboard", "switchboard-2");
    gw.calls[2].resolve(answer(now, { plan: "plan-2" }));
    expect(await applied).toBeNull();
    expect(flow.state).toMatchObject({ phase: "ready", stale: true, preview: { diff: now, plan: "plan-2" } });
    expect(flow.canApply).toBe(true);

    // Applying now writes that new preview, and only that.
    const again = flow.apply();
    expect(gw.calls[3].body).toMatchObject({ dryRun: false, expect: "plan-2" });
    gw.calls[3].resolve(answer(now, { written: true, plan: "plan-2" }));
    await again;
    expect(flow.state).toMatchObject({ phase: "applied", drifted: false });
  });

  it("errors of either step are kept with the options", async () => {
    const gw = fakeGateway();
    const flow = new ActionFlow("install", gw.run);
    const p = flow.preview({ mode: "each", replace: false });
    gw.calls[0].reject(new ApiError(409, "client_clash", "x already has an entry 'time' of its own"));
    await p;
    expect(flow.state).toMatchObject({ phase: "failed", during: "preview", options: { mode: "each" } });
    expect(flow.state.phase === "failed" && clashOf(flow.state.error)).toBe("time");

    const again = flow.preview({ mode: "each", replace: true });
    gw.calls[1].resolve(answer(DIFF));
    await again;
    const applied = flow.apply();
    gw.calls[2].reject(new TypeError("network down"));
    expect(await applied).toBeNull();
    expect(flow.state).toMatchObject({ phase: "failed", during: "apply", error: { message: "network down" } });
  });
});
