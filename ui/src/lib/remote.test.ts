import { afterEach, describe, expect, it, vi } from "vitest";
import { api, ApiError } from "./api";
import { beginSignIn, isRemote, settleSignIns, SIGN_IN_WAIT_MS, stillWaiting, transportLabel } from "./remote";
import type { ServerState } from "./types";

describe("remote servers as shown", () => {
  it("a server with a url is remote", () => {
    expect(isRemote({ url: "https://mcp.example.com/mcp" })).toBe(true);
    expect(isRemote({ url: null })).toBe(false);
    expect(isRemote({})).toBe(false); // an older gateway
  });
  it("labels the remote transports only", () => {
    expect(transportLabel("streamable-http")).toBe("HTTP");
    expect(transportLabel("sse")).toBe("SSE");
    expect(transportLabel("stdio")).toBeNull();
    expect(transportLabel(null)).toBeNull();
    expect(transportLabel(undefined)).toBeNull();
  });
});

describe("beginSignIn", () => {
  it("POSTs for the server and opens the answered page in a new tab without an opener", async () => {
    const begin = vi.fn(async () => ({ authorizationUrl: "https://auth.example.com/authorize?client_id=sb&state=x" }));
    const open = vi.fn();
    const url = await beginSignIn("notion", { begin, open });
    expect(begin).toHaveBeenCalledWith("notion");
    expect(open).toHaveBeenCalledExactlyOnceWith("https://auth.example.com/authorize?client_id=sb&state=x", "_blank", "noopener");
    expect(url).toBe("https://auth.example.com/authorize?client_id=sb&state=x");
  });
  it("a local authorization server (http) is opened too", async () => {
    const open = vi.fn();
    await beginSignIn("dev", { begin: async () => ({ authorizationUrl: "http://127.0.0.1:9000/authorize" }), open });
    expect(open).toHaveBeenCalledOnce();
  });
  it("passes the gateway's error on and opens nothing", async () => {
    const open = vi.fn();
    const refused = new ApiError(409, "not_remote", "server 'fs' is not a remote server; only servers with a url sign in");
    await expect(beginSignIn("fs", { begin: async () => Promise.reject(refused), open })).rejects.toBe(refused);
    await expect(
      beginSignIn("x", { begin: async () => Promise.reject(new ApiError(502, "sign_in_failed", "cannot sign in to server 'x': no metadata")), open }),
    ).rejects.toMatchObject({ status: 502, code: "sign_in_failed" });
    expect(open).not.toHaveBeenCalled();
  });
  it("never opens what is not an http(s) page", async () => {
    const open = vi.fn();
    for (const authorizationUrl of ["javascript:alert(1)", "not a url", "", undefined as unknown as string]) {
      await expect(beginSignIn("x", { begin: async () => ({ authorizationUrl }), open })).rejects.toMatchObject({ code: "bad_authorization_url" });
    }
    await expect(beginSignIn("x", { begin: async () => null as unknown as { authorizationUrl: string }, open })).rejects.toBeInstanceOf(ApiError);
    expect(open).not.toHaveBeenCalled();
  });
});

describe("the sign-in API", () => {
  afterEach(() => vi.unstubAllGlobals());
  function stubFetch(status: number, body: string) {
    const fetch = vi.fn(async (_path: string, _init: RequestInit) => new Response(status === 204 ? null : body, { status, headers: { "content-type": "application/json" } }));
    vi.stubGlobal("fetch", fetch);
    return fetch;
  }
  it("Sign in POSTs /api/servers/{name}/auth", async () => {
    const fetch = stubFetch(200, JSON.stringify({ authorizationUrl: "https://auth.example.com/a" }));
    expect(await api.signIn("my.server")).toEqual({ authorizationUrl: "https://auth.example.com/a" });
    expect(fetch).toHaveBeenCalledOnce();
    expect(fetch.mock.calls[0][0]).toBe("/api/servers/my.server/auth");
    expect(fetch.mock.calls[0][1].method).toBe("POST");
  });
  it("Sign out DELETEs it (204)", async () => {
    const fetch = stubFetch(204, "");
    expect(await api.signOut("a b")).toBeNull();
    expect(fetch.mock.calls[0][0]).toBe("/api/servers/a%20b/auth");
    expect(fetch.mock.calls[0][1].method).toBe("DELETE");
  });
  it("errors carry the gateway's code and message", async () => {
    stubFetch(502, JSON.stringify({ error: { code: "sign_in_failed", message: "cannot sign in to server 'x': timed out" } }));
    await expect(api.signIn("x")).rejects.toMatchObject({ status: 502, code: "sign_in_failed", message: "cannot sign in to server 'x': timed out" });
  });
});

describe("waiting for a sign-in", () => {
  const p = { url: "https://auth.example.com/a", since: 1_000 };
  it("waits while the server needs sign-in or reconnects, for as long as the sign-in is good", () => {
    expect(stillWaiting(p, "needs-auth", 2_000)).toBe(true);
    expect(stillWaiting(p, "starting", 2_000)).toBe(true);
    expect(stillWaiting(p, "restarting", 2_000)).toBe(true);
    expect(stillWaiting(p, "running", 2_000)).toBe(false);
    expect(stillWaiting(p, "failed", 2_000)).toBe(false);
    expect(stillWaiting(p, "disabled", 2_000)).toBe(false);
    expect(stillWaiting(p, "needs-auth", 1_000 + SIGN_IN_WAIT_MS)).toBe(true);
    expect(stillWaiting(p, "needs-auth", 1_001 + SIGN_IN_WAIT_MS)).toBe(false);
  });
  it("settles: a running server is signed in, a gone or failed one stops the wait", () => {
    const states: Record<string, ServerState | null> = { a: "running", b: "needs-auth", c: null, d: "failed", e: "starting" };
    const pending = { a: p, b: p, c: p, d: p, e: p };
    const out = settleSignIns(pending, (n) => states[n] ?? null, 2_000);
    expect(Object.keys(out.pending)).toEqual(["b", "e"]);
    expect(out.signedIn).toEqual(["a"]);
    expect(out.changed).toBe(true);
    const same = settleSignIns({ b: p }, (n) => states[n] ?? null, 2_000);
    expect(same).toEqual({ pending: { b: p }, signedIn: [], changed: false });
    expect(settleSignIns({ b: p }, () => "needs-auth", 2_000 + SIGN_IN_WAIT_MS).pending).toEqual({});
  });
});
