import { describe, expect, it } from "vitest";
import { commandLine, formatDuration } from "./format";
import { commandError, envKeyError, parseArgs, parsePastedServer, serverNameError } from "./validate";
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
  it("args are one per line, inner blanks kept", () => {
    expect(parseArgs("\n-y\n\n@scope/pkg\n\n")).toEqual(["-y", "", "@scope/pkg"]);
    expect(parseArgs("a b\r\nc")).toEqual(["a b", "c"]);
    expect(parseArgs("")).toEqual([]);
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
    expect(parsePastedServer(JSON.stringify({ remote: { url: "https://x" } }))).toMatch(/URL/);
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
