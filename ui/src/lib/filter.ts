// The tool switch: turning one tool on or off as a minimal, reversible edit of the entry's
// `tools.allow` / `tools.deny` globs, and the JSON merge patch that writes it.
//
// Semantics (as in the core): a tool is exposed when it matches `allow` (if present) and does
// not match `deny`.
//
// Off: the exact name is appended to `deny`. Nothing else changes, so turning it back on
//      restores the file exactly.
// On:  the exact name is removed from `deny`. If a glob in `deny` still matches it, that glob
//      is replaced by the exact names of the other known tools it matched (so every other
//      tool keeps its state), and the caller is told. If an `allow` list exists and nothing
//      in it matches, the exact name is appended to `allow`.

import { globMatch, isGlob } from "./glob";
import type { ToolRules } from "./types";

export function matchesAny(patterns: readonly string[], tool: string): boolean {
  return patterns.some((p) => p === tool || globMatch(p, tool));
}

export function exposes(rules: ToolRules, tool: string): boolean {
  return (rules.allow === null || matchesAny(rules.allow, tool)) && !matchesAny(rules.deny, tool);
}

/** Why a tool is hidden, for a tooltip; `null` when it is exposed. */
export function hiddenBecause(rules: ToolRules, tool: string): string | null {
  const deniedBy = rules.deny.filter((p) => p === tool || globMatch(p, tool));
  if (deniedBy.length > 0) return `denied by ${deniedBy.map((p) => `"${p}"`).join(", ")}`;
  if (rules.allow !== null && !matchesAny(rules.allow, tool)) return "not in the allow list";
  return null;
}

export interface ToggleResult {
  rules: ToolRules;
  /** Things the user should know about the edit (a glob that was expanded). */
  notes: string[];
}

/** The rules after turning `tool` on or off. `known` is every tool the server has now. */
export function setExposed(rules: ToolRules, tool: string, expose: boolean, known: readonly string[]): ToggleResult {
  const notes: string[] = [];
  const allow = rules.allow === null ? null : [...rules.allow];
  let deny = [...rules.deny];
  if (exposes(rules, tool) === expose) return { rules: { allow, deny }, notes };

  if (!expose) {
    if (!deny.includes(tool)) deny.push(tool);
    return { rules: { allow, deny }, notes };
  }

  deny = deny.filter((p) => p !== tool);
  if (matchesAny(deny, tool)) {
    const expanded: string[] = [];
    for (const pattern of deny) {
      if (!(isGlob(pattern) && globMatch(pattern, tool))) {
        if (!expanded.includes(pattern)) expanded.push(pattern);
        continue;
      }
      const others = known.filter((k) => k !== tool && globMatch(pattern, k));
      for (const name of others) if (!expanded.includes(name)) expanded.push(name);
      notes.push(
        others.length > 0
          ? `The deny pattern "${pattern}" was replaced by the ${others.length} other tool${others.length === 1 ? "" : "s"} it matched.`
          : `The deny pattern "${pattern}" was removed (it matched no other tool).`,
      );
    }
    deny = expanded;
  }
  if (allow !== null && !matchesAny(allow, tool)) allow.push(tool);
  return { rules: { allow, deny }, notes };
}

function sameList(a: readonly string[] | null, b: readonly string[] | null): boolean {
  if (a === null || b === null) return a === b;
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * The JSON merge patch (RFC 7396) of a server entry that turns `before` into `after`, or
 * `null` when nothing changed. Only changed keys are sent, so other keys under `tools` stay.
 * An emptied `deny` is removed (`null`); it existed, since it had entries.
 */
export function toolsPatch(before: ToolRules, after: ToolRules): { tools: Record<string, string[] | null> } | null {
  const tools: Record<string, string[] | null> = {};
  if (!sameList(before.deny, after.deny)) tools.deny = after.deny.length > 0 ? after.deny : null;
  if (!sameList(before.allow, after.allow)) tools.allow = after.allow;
  return Object.keys(tools).length > 0 ? { tools } : null;
}
