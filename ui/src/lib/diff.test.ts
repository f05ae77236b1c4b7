import { describe, expect, it } from "vitest";
import { hasChanges, parseDiff } from "./diff";

// What the gateway answered for `POST /api/clients/cursor/install {"dryRun": true}`.
const INSTALL = `--- /home/ada/.cursor/mcp.json
+++ /home/ada/.cursor/mcp.json
@@ -2,6 +2,9 @@
   // my Cursor servers
   "mcpServers": {
     "notes": { "command": "npx", "args": ["stdio"] },
-    "remote": { "url": "https://example.com/mcp" }
+    "remote": { "url": "https://example.com/mcp" },
+    "switchboard": {
+      "url": "http://127.0.0.1:7427/mcp"
+    }
   }
 }
`;

describe("parseDiff", () => {
  it("reads the header, hunks, and line numbers on both sides", () => {
    const d = parseDiff(INSTALL);
    expect(d.oldPath).toBe("/home/ada/.cursor/mcp.json");
    expect(d.newPath).toBe("/home/ada/.cursor/mcp.json");
    expect(d.added).toBe(4);
    expect(d.removed).toBe(1);
    expect(d.created).toBe(false);
    expect(d.lines[0]).toEqual({ kind: "hunk", text: "@@ -2,6 +2,9 @@" });
    expect(d.lines[1]).toEqual({ kind: "context", text: "  // my Cursor servers", old: 2, new: 2 });
    expect(d.lines[4]).toEqual({ kind: "del", text: '    "remote": { "url": "https://example.com/mcp" }', old: 5, new: null });
    expect(d.lines[5]).toMatchObject({ kind: "add", old: null, new: 5 });
    expect(d.lines.at(-1)).toEqual({ kind: "context", text: "}", old: 7, new: 10 });
    expect(hasChanges(d)).toBe(true);
  });

  it("knows a new file (the client has none yet)", () => {
    const d = parseDiff("--- a.json\n+++ a.json\n@@ -0,0 +1,3 @@\n+{\n+  \"mcpServers\": {}\n+}\n");
    expect(d.created).toBe(true);
    expect(d.added).toBe(3);
    expect(d.lines.filter((l) => l.kind === "add").map((l) => (l.kind === "add" ? l.new : 0))).toEqual([1, 2, 3]);
  });

  it("reads a count left out as one line", () => {
    const d = parseDiff('--- s.json\n+++ s.json\n@@ -1 +1,3 @@\n-{"mcpServers":{}}\n+{\n+  "mcpServers": {}\n+}\n');
    expect(d.removed).toBe(1);
    expect(d.added).toBe(3);
    expect(d.lines[1]).toMatchObject({ kind: "del", old: 1 });
  });

  it("never takes a removed line starting with -- for a header", () => {
    const d = parseDiff("--- f\n+++ f\n@@ -1,2 +1,2 @@\n--- not a header\n++++ nor this\n same\n");
    expect(d.lines.map((l) => l.kind)).toEqual(["hunk", "del", "add", "context"]);
    expect(d.lines[1]).toMatchObject({ text: "-- not a header" });
    expect(d.lines[2]).toMatchObject({ text: "+++ nor this" });
    expect(d.oldPath).toBe("f");
  });

  it("keeps the no-newline note and several hunks", () => {
    const d = parseDiff("--- f\n+++ f\n@@ -1,2 +1,2 @@\n a\n-b\n+c\n@@ -10 +10 @@\n-x\n\\ No newline at end of file\n+y\n\\ No newline at end of file\n");
    expect(d.lines.map((l) => l.kind)).toEqual(["hunk", "context", "del", "add", "hunk", "del", "note", "add", "note"]);
    expect(d.lines[5]).toMatchObject({ old: 10 });
    expect(d.lines[6]).toEqual({ kind: "note", text: "No newline at end of file" });
  });

  it("reads an empty context line whose space was dropped", () => {
    const d = parseDiff("--- f\n+++ f\n@@ -1,3 +1,3 @@\n a\n\n-b\n+c\n");
    expect(d.lines.map((l) => l.kind)).toEqual(["hunk", "context", "context", "del", "add"]);
  });

  it("an empty diff changes nothing", () => {
    const d = parseDiff("");
    expect(d.lines).toEqual([]);
    expect(hasChanges(d)).toBe(false);
  });

  it("knows a file that would be emptied", () => {
    const d = parseDiff("--- f\n+++ f\n@@ -1,2 +0,0 @@\n-a\n-b\n");
    expect(d.emptied).toBe(true);
    expect(d.removed).toBe(2);
  });
});
