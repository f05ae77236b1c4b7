import { describe, expect, it, vi } from "vitest";
import { ApiError } from "./api";
import { addSteps, clashError, isReference, runSteps, secretName, secretRef, settingsSteps, storedByDefault, storeLabel, storeRows, willStore, type Step } from "./secrets";

describe("secretName", () => {
  it("is {SERVER}_{KEY}, upper-cased", () => {
    expect(secretName("github", "GITHUB_TOKEN")).toBe("GITHUB_GITHUB_TOKEN");
    expect(secretName("everything", "api_key")).toBe("EVERYTHING_API_KEY");
    expect(secretName("my-server.v2", "Token")).toBe("MY-SERVER.V2_TOKEN");
  });
  it("replaces what a secret name cannot hold by _", () => {
    // Header names are tokens: '-' stays, the rest of their punctuation goes.
    expect(secretName("remote", "X-API-Key")).toBe("REMOTE_X-API-KEY");
    expect(secretName("remote", "x!#$%&'*+^`|~y")).toBe(`REMOTE_X${"_".repeat(12)}Y`);
    expect(secretName("a b", "c/d:e")).toBe("A_B_C_D_E");
  });
  it("one character stays one, also outside ASCII (as the core names them)", () => {
    expect(secretName("s", "straße")).toBe("S_STRA_E");
    expect(secretName("s", "k😀")).toBe("S_K_");
    expect(secretName("s", "ıK")).toBe("S__K");
  });
  it("always gives a name the store accepts", () => {
    for (const [server, key] of [
      ["x", "é"],
      ["srv", "Authorization"],
      ["a.b-c_d", "Z9"],
    ]) {
      expect(secretName(server, key)).toMatch(/^[A-Z0-9_.-]+$/);
    }
  });
  it("is referred to as ${secret:NAME}", () => {
    expect(secretRef("GITHUB_TOKEN")).toBe("${secret:GITHUB_TOKEN}");
  });
});

describe("the store box", () => {
  it("is ticked by default with a keychain only", () => {
    expect(storedByDefault({ store: "keychain", path: null, names: [] })).toBe(true);
    expect(storedByDefault({ store: "file", path: "/home/u/.local/share/switchboard/secrets.json", names: [] })).toBe(false);
    expect(storedByDefault(null)).toBe(false);
  });
  it("says where the value goes", () => {
    expect(storeLabel("keychain")).toBe("Store in keychain");
    expect(storeLabel("file")).toBe("Store in Switchboard's secrets file (no OS keychain here)");
  });
  it("references and empty values are written as typed", () => {
    expect(isReference("${env:GITHUB_TOKEN}")).toBe(true);
    expect(isReference("Bearer ${secret:X}")).toBe(true);
    expect(isReference("ghp_abc${notaref}")).toBe(false);
    expect(willStore("ghp_abc", true)).toBe(true);
    expect(willStore("ghp_abc", false)).toBe(false);
    expect(willStore("", true)).toBe(false);
    expect(willStore("${env:TOKEN}", true)).toBe(false);
  });
});

describe("storeRows", () => {
  it("replaces the stored values by references, keeps the others", () => {
    const { rows, secrets } = storeRows(
      "gh",
      "env",
      [
        { key: "TOKEN", value: "ghp_1" }, // default
        { key: "PLAIN", value: "visible", store: false },
        { key: "FROM_ENV", value: "${env:HOME}", store: true },
        { key: "EMPTY", value: "", store: true },
      ],
      true,
    );
    expect(rows).toEqual([
      { key: "TOKEN", value: "${secret:GH_TOKEN}" },
      { key: "PLAIN", value: "visible" },
      { key: "FROM_ENV", value: "${env:HOME}" },
      { key: "EMPTY", value: "" },
    ]);
    expect(secrets).toEqual([{ name: "GH_TOKEN", value: "ghp_1", map: "env", key: "TOKEN" }]);
  });
  it("a ticked box counts whatever the default", () => {
    expect(storeRows("gh", "env", [{ key: "T", value: "v", store: true }], false).secrets).toHaveLength(1);
  });
  it("without a known store nothing is stored", () => {
    const { rows, secrets } = storeRows("gh", "env", [{ key: "T", value: "v", store: true }], null);
    expect(rows).toEqual([{ key: "T", value: "v" }]);
    expect(secrets).toEqual([]);
  });
});

describe("clashError", () => {
  it("two different values for one name are refused", () => {
    const [a, b] = [
      { name: "S_TOKEN", value: "1", map: "env" as const, key: "token" },
      { name: "S_TOKEN", value: "2", map: "env" as const, key: "TOKEN" },
    ];
    expect(clashError([a, b])).toMatch(/token and TOKEN would both be stored as S_TOKEN/);
    expect(clashError([a, { ...b, value: "1" }])).toBeNull();
    expect(clashError([a])).toBeNull();
  });
});

describe("settingsSteps", () => {
  const none = { changes: {}, store: {}, added: [] };

  it("without anything stored: only the patch, as before", () => {
    const steps = settingsSteps(
      "everything",
      { command: "npx" },
      { env: { changes: { OLD: null, KEEP: undefined, NEW_VAL: "x" }, store: {}, added: [{ key: "ADDED", value: "y" }] }, headers: none },
      false,
    );
    expect(steps).toEqual([{ kind: "write", body: { command: "npx", env: { OLD: null, NEW_VAL: "x", ADDED: "y" } } }]);
  });

  it("nothing changed in the maps: no map in the patch", () => {
    expect(settingsSteps("s", { cwd: null }, { env: none, headers: none }, true)).toEqual([{ kind: "write", body: { cwd: null } }]);
  });

  it("stores first, then writes the references", () => {
    const steps = settingsSteps("everything", {}, { env: { changes: {}, store: {}, added: [{ key: "API_KEY", value: "s3cret", store: true }] } }, false);
    expect(steps).toEqual([
      { kind: "secret", name: "EVERYTHING_API_KEY", value: "s3cret", map: "env", key: "API_KEY" },
      { kind: "write", body: { env: { API_KEY: "${secret:EVERYTHING_API_KEY}" } } },
    ]);
  });

  it("a header too, with its own name; unticked ones stay as typed", () => {
    const steps = settingsSteps(
      "remote",
      {},
      {
        env: none,
        headers: { changes: {}, store: {}, added: [{ key: "Authorization", value: "Bearer abc" }, { key: "X-Trace", value: "on", store: false }] },
      },
      true,
    );
    expect(steps).toEqual([
      { kind: "secret", name: "REMOTE_AUTHORIZATION", value: "Bearer abc", map: "headers", key: "Authorization" },
      { kind: "write", body: { headers: { Authorization: "${secret:REMOTE_AUTHORIZATION}", "X-Trace": "on" } } },
    ]);
  });

  it("a stored replacement restarts after the patch (the entry may already read the same reference)", () => {
    const steps = settingsSteps("gh", {}, { env: { changes: { TOKEN: "ghp_new" }, store: { TOKEN: undefined }, added: [] } }, true);
    expect(steps).toEqual([
      { kind: "secret", name: "GH_TOKEN", value: "ghp_new", map: "env", key: "TOKEN" },
      { kind: "write", body: { env: { TOKEN: "${secret:GH_TOKEN}" } } },
      { kind: "restart" },
    ]);
    // Not for a disabled server, nor for a replacement written as typed.
    expect(settingsSteps("gh", {}, { env: { changes: { TOKEN: "x" }, store: {}, added: [] } }, true, { disabled: true })).toHaveLength(2);
    expect(settingsSteps("gh", {}, { env: { changes: { TOKEN: "x" }, store: { TOKEN: false }, added: [] } }, true)).toEqual([
      { kind: "write", body: { env: { TOKEN: "x" } } },
    ]);
  });

  it("an existing value replaced by a reference is written as is", () => {
    expect(settingsSteps("gh", {}, { env: { changes: { TOKEN: "${env:GH_TOKEN}" }, store: { TOKEN: true }, added: [] } }, true)).toEqual([
      { kind: "write", body: { env: { TOKEN: "${env:GH_TOKEN}" } } },
    ]);
  });

  it("refuses two values that would be one secret", () => {
    const steps = settingsSteps("s", {}, { env: { changes: { token: "a" }, store: {}, added: [{ key: "TOKEN", value: "b" }] } }, true);
    expect(steps).toMatch(/would both be stored as S_TOKEN/);
  });
});

describe("addSteps", () => {
  const fields = {
    mode: "command" as const,
    command: "npx",
    argsText: "-y\n@modelcontextprotocol/server-github",
    cwd: "",
    env: [{ key: "GITHUB_TOKEN", value: "ghp_x" }],
    url: "",
    transport: "auto" as const,
    headers: [{ key: "Authorization", value: "Bearer hidden-mode" }],
    disabled: false,
  };
  it("stores, then PUTs the entry with the reference", () => {
    expect(addSteps("github", fields, true)).toEqual([
      { kind: "secret", name: "GITHUB_GITHUB_TOKEN", value: "ghp_x", map: "env", key: "GITHUB_TOKEN" },
      { kind: "write", body: { command: "npx", args: ["-y", "@modelcontextprotocol/server-github"], env: { GITHUB_TOKEN: "${secret:GITHUB_GITHUB_TOKEN}" } } },
    ]);
  });
  it("only the mode's rows count (the other mode's are not stored)", () => {
    expect(addSteps("api", { ...fields, mode: "url", url: "https://mcp.example.com/mcp" }, true)).toEqual([
      { kind: "secret", name: "API_AUTHORIZATION", value: "Bearer hidden-mode", map: "headers", key: "Authorization" },
      { kind: "write", body: { url: "https://mcp.example.com/mcp", headers: { Authorization: "${secret:API_AUTHORIZATION}" } } },
    ]);
  });
  it("unticked or without a store: the entry as typed", () => {
    const plain = [{ kind: "write", body: { command: "npx", args: ["-y", "@modelcontextprotocol/server-github"], env: { GITHUB_TOKEN: "ghp_x" } } }];
    expect(addSteps("github", fields, false)).toEqual(plain);
    expect(addSteps("github", fields, null)).toEqual(plain);
  });
});

describe("runSteps", () => {
  const steps: Step[] = [
    { kind: "secret", name: "S_A", value: "1", map: "env", key: "A" },
    { kind: "secret", name: "S_B", value: "2", map: "env", key: "B" },
    { kind: "write", body: { env: { A: "${secret:S_A}", B: "${secret:S_B}" } } },
    { kind: "restart" },
  ];
  function deps(fail?: string) {
    const calls: string[] = [];
    const refuse = (what: string) => {
      calls.push(what);
      if (what === fail) return Promise.reject(new ApiError(400, "invalid_name", `refused ${what}`));
      return Promise.resolve(what === "write" ? { name: "s" } : null);
    };
    return {
      calls,
      putSecret: vi.fn((name: string) => refuse(`put ${name}`)),
      write: vi.fn(() => refuse("write")),
      restart: vi.fn(() => refuse("restart")),
    };
  }

  it("makes the requests in order", async () => {
    const d = deps();
    const result = await runSteps(steps, d);
    expect(d.calls).toEqual(["put S_A", "put S_B", "write", "restart"]);
    expect(d.putSecret).toHaveBeenNthCalledWith(1, "S_A", "1");
    expect(d.write).toHaveBeenCalledWith({ env: { A: "${secret:S_A}", B: "${secret:S_B}" } });
    expect(result.failed).toBeNull();
    expect(result.done).toEqual(steps);
    expect(result.written).toEqual({ name: "s" });
  });

  it("a value not stored writes nothing", async () => {
    const d = deps("put S_B");
    const result = await runSteps(steps, d);
    expect(d.calls).toEqual(["put S_A", "put S_B"]);
    expect(d.write).not.toHaveBeenCalled();
    expect(result.failed?.step).toBe(steps[1]);
    expect((result.failed?.error as ApiError).code).toBe("invalid_name");
    expect(result.written).toBeUndefined();
  });

  it("a refused write restarts nothing", async () => {
    const d = deps("write");
    const result = await runSteps(steps, d);
    expect(d.calls).toEqual(["put S_A", "put S_B", "write"]);
    expect(d.restart).not.toHaveBeenCalled();
    expect(result.failed?.step.kind).toBe("write");
  });

  it("a failed restart comes after the write", async () => {
    const d = deps("restart");
    const result = await runSteps(steps, d);
    expect(result.written).toEqual({ name: "s" });
    expect(result.failed?.step.kind).toBe("restart");
  });
});
