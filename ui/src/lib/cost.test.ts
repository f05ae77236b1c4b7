import { describe, expect, it } from "vitest";
import { addCost, change, exactTokens, formatChange, formatTokens, isToolSort, NO_COST, sortTools, toolTotals } from "./cost";

const tool = (name: string, tokens: number, bytes = tokens * 4, exposed = true) => ({ name, exposed, cost: { tokens, bytes } });

describe("formatTokens", () => {
  it("words a count as people read it, one decimal below 100k", () => {
    expect(formatTokens(0)).toBe("0");
    expect(formatTokens(259)).toBe("259");
    expect(formatTokens(999)).toBe("999");
    expect(formatTokens(1000)).toBe("1.0k");
    expect(formatTokens(1938)).toBe("1.9k");
    expect(formatTokens(10_034)).toBe("10.0k");
    expect(formatTokens(99_949)).toBe("99.9k");
    // Rounded before choosing the form: never "100.0k".
    expect(formatTokens(99_950)).toBe("100k");
    expect(formatTokens(123_456)).toBe("123k");
    expect(formatTokens(999_499)).toBe("999k");
    expect(formatTokens(999_500)).toBe("1.0M");
    expect(formatTokens(2_345_678)).toBe("2.3M");
  });
  it("shows nothing made up for a number that is not one", () => {
    expect(formatTokens(Number.NaN)).toBe("–");
    expect(formatTokens(-1)).toBe("–");
  });
  it("and exactly, for a tooltip", () => {
    expect(exactTokens(1)).toBe("1 token");
    expect(exactTokens(10_034)).toBe("10,034 tokens");
  });
});

describe("sortTools", () => {
  const tools = [tool("echo", 88), tool("zip", 239), tool("add", 104), tool("same-b", 88, 300), tool("same-a", 88, 300)];

  it("keeps the server's order, or sorts by name", () => {
    expect(sortTools(tools, "listed")).toBe(tools);
    expect(sortTools(tools, "name").map((t) => t.name)).toEqual(["add", "echo", "same-a", "same-b", "zip"]);
    expect(tools[0].name).toBe("echo"); // not sorted in place
  });

  it("puts the costliest first; ties by bytes, then by name; tools without a cost last", () => {
    const withUnknown = [...tools, { name: "old", exposed: true }];
    expect(sortTools(withUnknown, "cost").map((t) => t.name)).toEqual(["zip", "add", "echo", "same-a", "same-b", "old"]);
  });

  it("knows its sort names", () => {
    expect(isToolSort("cost")).toBe(true);
    expect(isToolSort("price")).toBe(false);
  });
});

describe("toolTotals", () => {
  const tools = [tool("echo", 88, 366), tool("get-sum", 104, 415), tool("zip", 239, 1100, false)];

  it("adds up the exposed and the hidden tools", () => {
    expect(toolTotals(tools, (t) => t.exposed)).toEqual({
      exposed: { count: 2, cost: { tokens: 192, bytes: 781 } },
      hidden: { count: 1, cost: { tokens: 239, bytes: 1100 } },
      known: true,
    });
  });

  it("follows the switches (a flip not yet saved counts at once): what hiding a tool saves", () => {
    const pending = new Map([["echo", false]]);
    const totals = toolTotals(tools, (t) => pending.get(t.name) ?? t.exposed);
    expect(totals.exposed).toEqual({ count: 1, cost: { tokens: 104, bytes: 415 } });
    expect(totals.hidden).toEqual({ count: 2, cost: { tokens: 327, bytes: 1466 } });
    const before = toolTotals(tools, (t) => t.exposed);
    expect(before.exposed.cost.tokens - totals.exposed.cost.tokens).toBe(88);
  });

  it("says when a gateway sent no costs", () => {
    expect(toolTotals([{ name: "a", exposed: true }], () => true)).toMatchObject({ known: false, exposed: { count: 1, cost: NO_COST } });
    expect(toolTotals([], () => true)).toEqual({ exposed: { count: 0, cost: NO_COST }, hidden: { count: 0, cost: NO_COST }, known: true });
  });

  it("adds costs", () => {
    expect(addCost({ tokens: 1, bytes: 2 }, { tokens: 3, bytes: 4 })).toEqual({ tokens: 4, bytes: 6 });
  });
});

describe("change", () => {
  it("is the saving of search mode as a whole percentage", () => {
    expect(change(10_034, 259)).toBe(-97);
    expect(change(1938, 259)).toBe(-87);
    expect(formatChange(-97)).toBe("\u221297 %");
  });
  it("can be an increase (a few small tools), or nothing to compare", () => {
    expect(change(200, 259)).toBe(30);
    expect(formatChange(30)).toBe("+30 %");
    expect(formatChange(0)).toBe("±0 %");
    expect(change(0, 259)).toBeNull();
  });
});
