import { beforeAll, describe, expect, it, vi } from "vitest";

let parseRoute: typeof import("./router.svelte").parseRoute;

beforeAll(async () => {
  // The module makes the app's router on import, which reads the page's location.
  vi.stubGlobal("location", { pathname: "/", search: "", href: "http://127.0.0.1:7427/" });
  vi.stubGlobal("window", { addEventListener: () => {} });
  ({ parseRoute } = await import("./router.svelte"));
});

describe("parseRoute", () => {
  it("knows the list, a server, the clients, and nothing else", () => {
    expect(parseRoute("/", "")).toEqual({ page: "list" });
    expect(parseRoute("/clients", "")).toEqual({ page: "clients" });
    expect(parseRoute("/clients/", "")).toEqual({ page: "clients" });
    expect(parseRoute("/servers/a.b", "?tab=logs")).toEqual({ page: "server", name: "a.b", tab: "logs" });
    expect(parseRoute("/servers/%E0%A4%A", "")).toEqual({ page: "missing", path: "/servers/%E0%A4%A" });
    expect(parseRoute("/clients/cursor", "")).toEqual({ page: "missing", path: "/clients/cursor" });
  });

  it("knows the activity log and hands its query (the filters) to the page", () => {
    expect(parseRoute("/activity", "")).toEqual({ page: "activity", search: "" });
    expect(parseRoute("/activity/", "?tool=echo&outcome=error")).toEqual({ page: "activity", search: "?tool=echo&outcome=error" });
    expect(parseRoute("/activity/123", "")).toEqual({ page: "missing", path: "/activity/123" });
  });
});
