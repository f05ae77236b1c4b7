// A unified diff (as the gateway's `similar` writes it for client files and servers.json) read
// into lines the Clients page can draw: hunk headers, and context / added / removed lines with
// their old and new line numbers. Hunks are read by their counts, so a removed line that starts
// with "--" is never taken for a file header.

export type DiffLine =
  | { kind: "hunk"; text: string }
  | { kind: "context" | "add" | "del"; text: string; old: number | null; new: number | null }
  | { kind: "note"; text: string };

export interface ParsedDiff {
  /** The file names of the `---` / `+++` header (the gateway writes the same path twice). */
  oldPath: string | null;
  newPath: string | null;
  lines: DiffLine[];
  added: number;
  removed: number;
  /** The file does not exist yet: every line is new. */
  created: boolean;
  /** The file would be emptied. */
  emptied: boolean;
}

const HUNK = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@(.*)$/;

export function parseDiff(text: string): ParsedDiff {
  const out: ParsedDiff = { oldPath: null, newPath: null, lines: [], added: 0, removed: 0, created: false, emptied: false };
  const raw = text.split("\n");
  if (raw.at(-1) === "") raw.pop();
  let oldLine = 0;
  let newLine = 0;
  // Lines left in the current hunk, by side.
  let oldLeft = 0;
  let newLeft = 0;
  let hunks = 0;
  for (const line of raw) {
    const inHunk = oldLeft > 0 || newLeft > 0;
    if (line.startsWith("\\")) {
      // "\ No newline at end of file": about the line before, on either side.
      out.lines.push({ kind: "note", text: line.slice(1).trim() });
      continue;
    }
    if (inHunk) {
      const sign = line[0];
      const body = line.slice(1);
      if (sign === "+" && newLeft > 0) {
        out.lines.push({ kind: "add", text: body, old: null, new: newLine++ });
        newLeft--;
        out.added++;
        continue;
      }
      if (sign === "-" && oldLeft > 0) {
        out.lines.push({ kind: "del", text: body, old: oldLine++, new: null });
        oldLeft--;
        out.removed++;
        continue;
      }
      // A context line (some tools drop the space of an empty one).
      if ((sign === " " || line === "") && oldLeft > 0 && newLeft > 0) {
        out.lines.push({ kind: "context", text: body, old: oldLine++, new: newLine++ });
        oldLeft--;
        newLeft--;
        continue;
      }
      // The counts were wrong: fall through and read it as a header.
      oldLeft = newLeft = 0;
    }
    const hunk = HUNK.exec(line);
    if (hunk) {
      const [, os, oc, ns, nc] = hunk;
      oldLine = Number(os);
      newLine = Number(ns);
      oldLeft = oc === undefined ? 1 : Number(oc);
      newLeft = nc === undefined ? 1 : Number(nc);
      // A zero-length side starts "before" line N: the first real line is N + 1.
      if (oldLeft === 0) oldLine++;
      if (newLeft === 0) newLine++;
      if (hunks++ === 0) {
        out.created = oldLeft === 0 && Number(os) === 0;
        out.emptied = newLeft === 0 && Number(ns) === 0;
      }
      out.lines.push({ kind: "hunk", text: line });
      continue;
    }
    if (line.startsWith("--- ") && out.oldPath === null) {
      out.oldPath = headerPath(line);
      continue;
    }
    if (line.startsWith("+++ ") && out.newPath === null) {
      out.newPath = headerPath(line);
      continue;
    }
    // Anything else outside a hunk (a "diff --git" line, an index line): shown as is.
    if (line !== "") out.lines.push({ kind: "note", text: line });
  }
  return out;
}

/** `--- path\ttimestamp` -> `path` */
function headerPath(line: string): string {
  return line.slice(4).split("\t")[0];
}

/** Whether the diff changes anything. */
export function hasChanges(diff: ParsedDiff): boolean {
  return diff.added > 0 || diff.removed > 0;
}
