import { describe, expect, it } from "vitest";
import { commandLine, formatDuration } from "./format";
import { buildEntry, commandError, envKeyError, headerNameError, parseArgs, parsePastedServer, serverNameError, urlError, type EntryFields } from "./validate";
import { scrollToReveal, visibleRange } from "./virtual";

describe("serverNameError", () => {
  it("follows the core's rules", () => {
    expect(serverNameError("everything")).toBeNull();
    expect(serverNameError("my-server_2.v1")).toBeNull();
    expect(serverNameError("")).toMatch(/required/);
    expect(serverNameError("has space")).toMatch(/letters/);
    expect(serverNameError("a/b")).toMatch(/letters/);
    expect(serverNameError(".hidden")).toMatch(/start/);
    expect(serverNameError("a__b")).toMatch(/__/);
    expect(serverNameError("taken", ["taken"])).toMatch(/already exists/);
  });
});

describe("form helpers", () => {
  it("commands and env keys", () => {
    expect(commandError("npx")).toBeNull();
    expect(commandError("  ")).toMatch(/required/);
    expect(commandError(" npx")).toMatch(/spaces/);
    expect(envKeyError("API_KEY")).toBeNull();
    expect(envKeyError("1A")).toMatch(/digit/);
    expect(envKeyError("A", ["A"])).toMatch(/already/);
  });
  it("remote URLs, as the core checks them", () => {
    expect(urlError("https://mcp.example.com/mcp")).toBeNull();
    expect(urlError("http://127.0.0.1:3001/mcp?key=x")).toBeNull();
    expect(urlError("${env:MCP_URL}")).toBeNull(); // checked when expanded
    expect(urlError("https://${env:HOST}/mcp")).toBeNull();
    expect(urlError("")).toMatch(/required/);
    expect(urlError(" https://a.example/mcp")).toMatch(/spaces/);
    expect(urlError("mcp.example.com/mcp")).toMatch(/not a URL/);
    expect(urlError("ftp://a.example/mcp")).toMatch(/http:\/\/ or https:\/\/.*ftp:/);
    expect(urlError("file:///tmp/x")).toMatch(/http/);
  });
  it("header names are HTTP tokens, unique without case", () => {
    expect(headerNameError("Authorization")).toBeNull();
    expect(headerNameError("X-API-Key")).toBeNull();
    expect(headerNameError("")).toMatch(/required/);
    expect(headerNameError("X Key")).toMatch(/spaces/);
    expect(headerNameError("X-Key:")).toMatch(/':'/);
    expect(headerNameError("x-api-key", ["X-API-Key"])).toMatch(/already set/);
  });
  it("args are one per line, inner blanks kept", () => {
    expect(parseArgs("\n-y\n\n@scope/pkg\n\n")).toEqual(["-y", "", "@scope/pkg"]);
    expect(parseArgs("a b\r\nc")).toEqual(["a b", "c"]);
    expect(parseArgs("")).toEqual([]);
  });
});

describe("buildEntry", () => {
  const fields: EntryFields = {
    mode: "command",
    command: "npx",
    argsText: "-y\n@scope/pkg\n",
    cwd: "  /srv  ",
    env: [{ key: "K", value: "v" }],
    url: "https://mcp.example.com/mcp",
    transport: "sse",
    headers: [{ key: "Authorization", value: "Bearer ${env:TOKEN}" }],
    disabled: false,
  };
  it("a command entry has only a command's fields", () => {
    expect(buildEntry(fields)).toEqual({ command: "npx", args: ["-y", "@scope/pkg"], env: { K: "v" }, cwd: "/srv" });
    expect(buildEntry({ ...fields, argsText: "", env: [], cwd: " ", disabled: true })).toEqual({ command: "npx", disabled: true });
  });
  it("a URL entry has the url, the type unless Auto, and the headers if any", () => {
    expect(buildEntry({ ...fields, mode: "url" })).toEqual({
      url: "https://mcp.example.com/mcp",
      type: "sse",
      headers: { Authorization: "Bearer ${env:TOKEN}" },
    });
    expect(buildEntry({ ...fields, mode: "url", transport: "http", headers: [] })).toEqual({ url: "https://mcp.example.com/mcp", type: "http" });
    expect(buildEntry({ ...fields, mode: "url", transport: "auto", headers: [], disabled: true })).toEqual({ url: "https://mcp.example.com/mcp", disabled: true });
  });
});

describe("parsePastedServer", () => {
  const entry = { command: "npx", args: ["-y", "pkg"], env: { K: "v", N: 1 } };
  it("reads the shapes READMEs use", () => {
    expect(parsePastedServer(JSON.stringify(entry))).toEqual({ command: "npx", args: ["-y", "pkg"], env: { K: "v", N: "1" }, name: undefined });
    expect(parsePastedServer(`"fs": ${JSON.stringify(entry)}`)).toMatchObject({ name: "fs", command: "npx" });
    expect(parsePastedServer(JSON.stringify({ mcpServers: { fs: entry } }))).toMatchObject({ name: "fs", command: "npx" });
  });
  it("explains what it cannot use", () => {
    expect(parsePastedServer("")).toMatch(/Paste/);
    expect(parsePastedServer("nope")).toMatch(/not a JSON object/);
    expect(parsePastedServer(JSON.stringify({ mcpServers: { a: entry, b: entry } }))).toMatch(/several/);
    expect(parsePastedServer(JSON.stringify({ remote: { name: "x" } }))).toMatch(/"command".*"url"/);
  });
  it("reads remote entries, in the spellings clients use", () => {
    expect(parsePastedServer(JSON.stringify({ remote: { url: "https://x.example/mcp" } }))).toEqual({ name: "remote", url: "https://x.example/mcp", transport: "auto" });
    expect(parsePastedServer(JSON.stringify({ mcpServers: { r: { type: "http", url: "https://x.example/mcp", headers: { "X-Key": "${env:KEY}", N: 1 } } } }))).toEqual({
      name: "r",
      url: "https://x.example/mcp",
      transport: "http",
      headers: { "X-Key": "${env:KEY}", N: "1" },
    });
    expect(parsePastedServer(JSON.stringify({ type: "sse", url: "http://localhost:3001/sse" }))).toMatchObject({ url: "http://localhost:3001/sse", transport: "sse" });
    expect(parsePastedServer(JSON.stringify({ type: "streamableHttp", url: "https://a" }))).toMatchObject({ transport: "http" });
    expect(parsePastedServer(`"w": {"serverUrl": "https://w.example/mcp"}`)).toMatchObject({ name: "w", url: "https://w.example/mcp" });
  });
});

describe("virtual list windows", () => {
  it("renders what is visible plus overscan, never out of range", () => {
    expect(visibleRange(0, 600, 60, 2000, 5)).toEqual({ start: 0, end: 16 });
    expect(visibleRange(60 * 1000, 600, 60, 2000, 5)).toEqual({ start: 995, end: 1016 });
    expect(visibleRange(1e9, 600, 60, 2000, 5)).toEqual({ start: 1994, end: 2000 });
    expect(visibleRange(0, 600, 60, 0)).toEqual({ start: 0, end: 0 });
  });
  it("scrolls just enough to reveal a row", () => {
    expect(scrollToReveal(0, 0, 600, 60)).toBeNull();
    expect(scrollToReveal(10, 0, 600, 60)).toBe(60);
    expect(scrollToReveal(2, 300, 600, 60)).toBe(120);
  });
});

describe("format", () => {
  it("durations and command lines", () => {
    expect(formatDuration(null)).toBe("–");
    expect(formatDuration(59)).toBe("59s");
    expect(formatDuration(61)).toBe("1m 1s");
    expect(formatDuration(3 * 3600 + 120)).toBe("3h 2m");
    expect(formatDuration(2 * 86400 + 3600)).toBe("2d 1h");
    expect(commandLine("npx", ["-y", "@scope/pkg", "a b", ""])).toBe("npx -y @scope/pkg 'a b' ''");
  });
});
