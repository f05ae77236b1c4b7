import { describe, expect, it } from "vitest";
import { globMatch, globToRegExp, isGlob } from "./glob";

describe("globMatch (globset semantics)", () => {
  it("matches literals exactly", () => {
    expect(globMatch("echo", "echo")).toBe(true);
    expect(globMatch("echo", "echo2")).toBe(false);
    expect(globMatch("echo", "Echo")).toBe(false);
    expect(globMatch("get-env", "get-env")).toBe(true);
    expect(globMatch("a.b", "aXb")).toBe(false);
  });
  it("* matches any run, / included, and ** is the same", () => {
    expect(globMatch("get_*", "get_time")).toBe(true);
    expect(globMatch("get_*", "get_")).toBe(true);
    expect(globMatch("get_*", "set_time")).toBe(false);
    expect(globMatch("*", "a/b")).toBe(true);
    expect(globMatch("**", "")).toBe(true);
    expect(globMatch("*env*", "get-env-x")).toBe(true);
  });
  it("? matches one character", () => {
    expect(globMatch("a?c", "abc")).toBe(true);
    expect(globMatch("a?c", "ac")).toBe(false);
  });
  it("classes, ranges and negation", () => {
    expect(globMatch("tool[12]", "tool1")).toBe(true);
    expect(globMatch("tool[12]", "tool3")).toBe(false);
    expect(globMatch("t[a-c]x", "tbx")).toBe(true);
    expect(globMatch("t[!a-c]x", "tbx")).toBe(false);
    expect(globMatch("t[^a-c]x", "tdx")).toBe(true);
    expect(globMatch("t[-_]x", "t_x")).toBe(true);
    expect(globMatch("t[]]x", "t]x")).toBe(true);
  });
  it("alternates", () => {
    expect(globMatch("{get,set}_*", "set_x")).toBe(true);
    expect(globMatch("{get,set}_*", "put_x")).toBe(false);
    expect(globMatch("a,b", "a,b")).toBe(true);
  });
  it("escapes", () => {
    expect(globMatch("a\\*", "a*")).toBe(true);
    expect(globMatch("a\\*", "ab")).toBe(false);
  });
  it("invalid patterns match nothing", () => {
    expect(globToRegExp("[abc")).toBeNull();
    expect(globToRegExp("{a,{b}}")).toBeNull();
    expect(globToRegExp("{a")).toBeNull();
    expect(globMatch("[abc", "a")).toBe(false);
  });
  it("tells globs from plain names", () => {
    expect(isGlob("get_*")).toBe(true);
    expect(isGlob("get-env")).toBe(false);
    expect(isGlob("a{b,c}")).toBe(true);
  });
});
