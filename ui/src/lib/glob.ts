// Glob patterns as Switchboard's core reads them (Rust `globset` with its defaults), so the
// dashboard can tell which `tools.allow` / `tools.deny` entry matches a tool name:
//   ?  one character        *  any run of characters (`/` included; `**` is the same)
//   [abc] [a-z] [!a-z] [^a-z]  one character of (or not of) a class
//   {a,b}  either alternative (not nested)      \x  the character x itself
// Matching is case-sensitive and anchored at both ends.

const cache = new Map<string, RegExp | null>();

function escapeRegExp(ch: string): string {
  return /[\\^$.*+?()[\]{}|/]/.test(ch) ? `\\${ch}` : ch;
}

/** Compiles a glob to an anchored RegExp, or `null` when the pattern is invalid. */
export function globToRegExp(pattern: string): RegExp | null {
  const hit = cache.get(pattern);
  if (hit !== undefined) return hit;
  let re = "";
  let inAlternates = false;
  let ok = true;
  for (let i = 0; i < pattern.length && ok; i++) {
    const ch = pattern[i];
    switch (ch) {
      case "\\":
        i++;
        if (i >= pattern.length) ok = false;
        else re += escapeRegExp(pattern[i]);
        break;
      case "?":
        re += "[\\s\\S]";
        break;
      case "*":
        while (pattern[i + 1] === "*") i++;
        re += "[\\s\\S]*";
        break;
      case "[": {
        let j = i + 1;
        let negated = false;
        if (pattern[j] === "!" || pattern[j] === "^") {
          negated = true;
          j++;
        }
        let cls = "";
        let first = true;
        while (j < pattern.length && (pattern[j] !== "]" || first)) {
          const c = pattern[j];
          if (c === "-" && !first && pattern[j + 1] !== "]" && j + 1 < pattern.length) cls += "-";
          else cls += c === "\\" || c === "]" || c === "^" || c === "[" || c === "-" ? `\\${c}` : c;
          first = false;
          j++;
        }
        if (j >= pattern.length) {
          ok = false; // unclosed class
          break;
        }
        re += `[${negated ? "^" : ""}${cls}]`;
        i = j;
        break;
      }
      case "{":
        if (inAlternates) ok = false; // globset refuses nested alternates
        inAlternates = true;
        re += "(?:";
        break;
      case "}":
        if (inAlternates) {
          inAlternates = false;
          re += ")";
        } else re += "\\}";
        break;
      case ",":
        re += inAlternates ? "|" : ",";
        break;
      default:
        re += escapeRegExp(ch);
    }
  }
  if (inAlternates) ok = false;
  let compiled: RegExp | null = null;
  if (ok) {
    try {
      compiled = new RegExp(`^(?:${re})$`, "u");
    } catch {
      compiled = null;
    }
  }
  cache.set(pattern, compiled);
  return compiled;
}

/** Whether `name` matches `pattern`. An invalid pattern matches nothing (as in the core). */
export function globMatch(pattern: string, name: string): boolean {
  return globToRegExp(pattern)?.test(name) ?? false;
}

/** Whether the pattern has any glob syntax, i.e. can match more than its own text. */
export function isGlob(pattern: string): boolean {
  return /[?*[{\\]/.test(pattern);
}
