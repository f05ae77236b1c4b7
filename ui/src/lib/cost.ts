// What tool definitions cost a model's context, without the DOM: the gateway counts each
// definition's tokens (o200k, an estimate) and bytes; this sums them, sorts tools by them,
// and words them ("≈1.9k tokens").

import type { Cost } from "./types";

export const NO_COST: Cost = Object.freeze({ tokens: 0, bytes: 0 });

export function addCost(a: Cost, b: Cost): Cost {
  return { tokens: a.tokens + b.tokens, bytes: a.bytes + b.bytes };
}

/** Said everywhere a number of tokens is shown, so nobody reads it as exact. */
export const ESTIMATE_NOTE = "estimated with the o200k tokenizer; what clients receive in tools/list";

/** A token count: "0", "999", "1.9k", "10.0k", "123k", "1.2M" (one decimal below 100k). */
export function formatTokens(n: number): string {
  if (!Number.isFinite(n) || n < 0) return "–";
  n = Math.round(n);
  if (n < 1000) return String(n);
  // Rounded first, so 99,960 reads "100k", not "100.0k".
  const k = Math.round(n / 100) / 10;
  if (k < 100) return `${k.toFixed(1)}k`;
  if (n < 999_500) return `${Math.round(n / 1000)}k`;
  return `${(n / 1_000_000).toFixed(1)}M`;
}

/** The exact count for a tooltip: "1,938 tokens". */
export function exactTokens(n: number): string {
  return `${n.toLocaleString("en-US")} ${n === 1 ? "token" : "tokens"}`;
}

/** How the tools tab orders tools: as the server lists them, by name, or costliest first. */
export type ToolSort = "listed" | "name" | "cost";

export const TOOL_SORTS: readonly { value: ToolSort; label: string }[] = [
  { value: "listed", label: "Server's order" },
  { value: "name", label: "Name" },
  { value: "cost", label: "Cost (most tokens first)" },
];

export function isToolSort(value: unknown): value is ToolSort {
  return TOOL_SORTS.some((s) => s.value === value);
}

interface Costed {
  name: string;
  cost?: Cost;
}

const byName = (a: Costed, b: Costed) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/**
 * `tools` in the order asked; "listed" answers the same array. Cost ties (and tools without a
 * cost, last) go by name, so the order is stable as costs are refetched.
 */
export function sortTools<T extends Costed>(tools: readonly T[], sort: ToolSort): readonly T[] {
  if (sort === "listed") return tools;
  const sorted = tools.slice();
  if (sort === "name") return sorted.sort(byName);
  return sorted.sort((a, b) => (b.cost?.tokens ?? -1) - (a.cost?.tokens ?? -1) || (b.cost?.bytes ?? -1) - (a.cost?.bytes ?? -1) || byName(a, b));
}

export interface ToolTotals {
  exposed: { count: number; cost: Cost };
  hidden: { count: number; cost: Cost };
  /** Every tool reported a cost (a gateway without costs: false). */
  known: boolean;
}

/**
 * The exposed and the hidden tools' counts and costs, `on` saying whether a tool is exposed
 * (the switch's state: what the user asked for while a save is in flight), so a total shows
 * what a filter saves the moment a switch is flipped.
 */
export function toolTotals<T extends Costed>(tools: readonly T[], on: (tool: T) => boolean): ToolTotals {
  const exposed = { count: 0, cost: NO_COST };
  const hidden = { count: 0, cost: NO_COST };
  let known = true;
  for (const tool of tools) {
    if (!tool.cost) known = false;
    const side = on(tool) ? exposed : hidden;
    side.count++;
    if (tool.cost) side.cost = addCost(side.cost, tool.cost);
  }
  return { exposed, hidden, known };
}

/**
 * The change from `full` to `search` as a whole percentage: -97 for 97 % fewer tokens, positive
 * when search mode costs more (a handful of small tools); null when there is nothing to compare.
 */
export function change(full: number, search: number): number | null {
  if (!(full > 0) || !Number.isFinite(search)) return null;
  return Math.round(((search - full) / full) * 100);
}

/** "−97 %", "+12 %", "±0 %" (a real minus sign). */
export function formatChange(percent: number): string {
  if (percent === 0) return "±0 %";
  return `${percent < 0 ? "\u2212" : "+"}${Math.abs(percent)} %`;
}
