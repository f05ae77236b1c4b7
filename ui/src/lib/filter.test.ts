import { describe, expect, it } from "vitest";
import { exposes, hiddenBecause, setExposed, toolsPatch } from "./filter";
import type { ToolRules } from "./types";

const TOOLS = ["echo", "add", "get-env", "get-sum", "get-tiny-image", "long-running"];
const none: ToolRules = { allow: null, deny: [] };

function exposedSet(rules: ToolRules): string[] {
  return TOOLS.filter((t) => exposes(rules, t));
}

describe("exposes", () => {
  it("everything without rules", () => {
    expect(exposedSet(none)).toEqual(TOOLS);
  });
  it("allow limits, deny wins", () => {
    const rules = { allow: ["echo", "get-*"], deny: ["get-env"] };
    expect(exposedSet(rules)).toEqual(["echo", "get-sum", "get-tiny-image"]);
    expect(hiddenBecause(rules, "get-env")).toBe('denied by "get-env"');
    expect(hiddenBecause(rules, "add")).toBe("not in the allow list");
    expect(hiddenBecause(rules, "echo")).toBeNull();
  });
  it("an empty allow list exposes nothing", () => {
    expect(exposedSet({ allow: [], deny: [] })).toEqual([]);
  });
});

describe("setExposed", () => {
  it("off appends the exact name to deny", () => {
    const r = setExposed(none, "echo", false, TOOLS);
    expect(r.rules).toEqual({ allow: null, deny: ["echo"] });
    expect(r.notes).toEqual([]);
    expect(exposes(r.rules, "echo")).toBe(false);
  });

  it("off then on restores the rules exactly", () => {
    const start: ToolRules = { allow: ["echo", "get-*"], deny: ["x"] };
    const off = setExposed(start, "get-sum", false, TOOLS).rules;
    expect(off).toEqual({ allow: ["echo", "get-*"], deny: ["x", "get-sum"] });
    const on = setExposed(off, "get-sum", true, TOOLS).rules;
    expect(on).toEqual(start);
  });

  it("on adds to an allow list that does not match", () => {
    const start: ToolRules = { allow: ["echo"], deny: [] };
    const r = setExposed(start, "add", true, TOOLS);
    expect(r.rules).toEqual({ allow: ["echo", "add"], deny: [] });
    expect(exposedSet(r.rules)).toEqual(["echo", "add"]);
  });

  it("on leaves an allow list that already matches by glob", () => {
    const start: ToolRules = { allow: ["get-*"], deny: ["get-env"] };
    const r = setExposed(start, "get-env", true, TOOLS);
    expect(r.rules).toEqual({ allow: ["get-*"], deny: [] });
  });

  it("on under a deny glob expands the glob to the other tools it matched", () => {
    const start: ToolRules = { allow: null, deny: ["get-*", "echo"] };
    const before = exposedSet(start);
    const r = setExposed(start, "get-sum", true, TOOLS);
    expect(r.rules.deny).toEqual(["get-env", "get-tiny-image", "echo"]);
    expect(r.notes).toHaveLength(1);
    expect(r.notes[0]).toContain('"get-*"');
    // Exactly one tool changed.
    expect(exposedSet(r.rules)).toEqual([...before, "get-sum"].sort((a, b) => TOOLS.indexOf(a) - TOOLS.indexOf(b)));
  });

  it("on under a glob that matched only this tool removes the glob", () => {
    const r = setExposed({ allow: null, deny: ["long-*"] }, "long-running", true, TOOLS);
    expect(r.rules.deny).toEqual([]);
    expect(r.notes[0]).toContain("removed");
  });

  it("on with both an exact deny and an allow miss fixes both", () => {
    const r = setExposed({ allow: ["echo"], deny: ["add"] }, "add", true, TOOLS);
    expect(r.rules).toEqual({ allow: ["echo", "add"], deny: [] });
  });

  it("is a no-op when the tool is already in the wanted state", () => {
    const start: ToolRules = { allow: ["echo"], deny: ["add"] };
    expect(setExposed(start, "echo", true, TOOLS).rules).toEqual(start);
    expect(setExposed(start, "add", false, TOOLS).rules).toEqual(start);
    expect(setExposed(start, "get-sum", false, TOOLS).rules).toEqual(start);
  });

  it("never changes another tool's state, whatever the rules", () => {
    const ruleSets: ToolRules[] = [
      none,
      { allow: ["get-*"], deny: [] },
      { allow: ["e*", "a?d"], deny: ["echo"] },
      { allow: null, deny: ["*-*"] },
      { allow: ["*"], deny: ["{get,long}-*", "add"] },
      { allow: [], deny: [] },
    ];
    for (const rules of ruleSets) {
      for (const tool of TOOLS) {
        for (const want of [true, false]) {
          const after = setExposed(rules, tool, want, TOOLS).rules;
          expect(exposes(after, tool), `${JSON.stringify(rules)} ${tool} -> ${want}`).toBe(want);
          for (const other of TOOLS.filter((t) => t !== tool)) {
            expect(exposes(after, other), `${JSON.stringify(rules)} ${tool} -> ${want}: ${other}`).toBe(exposes(rules, other));
          }
        }
      }
    }
  });

  it("does not mutate its input", () => {
    const start: ToolRules = { allow: ["echo"], deny: ["get-*"] };
    const copy = structuredClone(start);
    setExposed(start, "get-sum", true, TOOLS);
    setExposed(start, "echo", false, TOOLS);
    expect(start).toEqual(copy);
  });
});

describe("toolsPatch", () => {
  it("is null when nothing changed", () => {
    expect(toolsPatch({ allow: ["a"], deny: ["b"] }, { allow: ["a"], deny: ["b"] })).toBeNull();
  });
  it("sends only the changed list", () => {
    expect(toolsPatch(none, { allow: null, deny: ["echo"] })).toEqual({ tools: { deny: ["echo"] } });
    expect(toolsPatch({ allow: ["echo"], deny: [] }, { allow: ["echo", "add"], deny: [] })).toEqual({ tools: { allow: ["echo", "add"] } });
  });
  it("removes an emptied deny list", () => {
    expect(toolsPatch({ allow: null, deny: ["echo"] }, none)).toEqual({ tools: { deny: null } });
  });
  it("never sends a null inside a tools object that may not exist", () => {
    // With no rules at all, a patch only ever adds.
    for (const tool of TOOLS) {
      const patch = toolsPatch(none, setExposed(none, tool, false, TOOLS).rules);
      expect(JSON.stringify(patch)).not.toContain("null");
    }
  });
});
