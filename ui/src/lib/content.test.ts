import { describe, expect, it } from "vitest";
import { annotationsNote, base64Bytes, classify, dataUrl, errorView, formatElapsed, prettyJson, progressView, promptResultView, resourceResultView, safeMime, toolResultView } from "./content";

// server-everything's get-tiny-image (a 1×1 PNG would do; any base64 does).
const PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

describe("classify", () => {
  it("shows text as is, and JSON text pretty-printed too", () => {
    expect(classify({ type: "text", text: "Echo: hi" })).toEqual({ kind: "text", text: "Echo: hi", json: null });
    expect(classify({ type: "text", text: '{"a":1}' })).toEqual({ kind: "text", text: '{"a":1}', json: '{\n  "a": 1\n}' });
  });

  it("makes images and audio data: URLs of their base64", () => {
    expect(classify({ type: "image", data: PNG, mimeType: "image/png" })).toEqual({ kind: "image", mimeType: "image/png", src: `data:image/png;base64,${PNG}`, bytes: 70 });
    expect(classify({ type: "audio", data: "UklGRg==", mimeType: "audio/wav" })).toMatchObject({ kind: "audio", src: "data:audio/wav;base64,UklGRg==", bytes: 4 });
  });

  it("reads an embedded resource's text or blob, with its uri and mime type", () => {
    expect(classify({ type: "resource", resource: { uri: "demo://1", mimeType: "text/plain", text: "hello" } })).toEqual({
      kind: "resource",
      uri: "demo://1",
      mimeType: "text/plain",
      body: { kind: "text", text: "hello", json: null },
    });
    expect(classify({ type: "resource", resource: { uri: "demo://2", mimeType: "image/png", blob: PNG } })).toMatchObject({ body: { kind: "image", src: `data:image/png;base64,${PNG}` } });
    expect(classify({ type: "resource", resource: { uri: "demo://3", mimeType: "application/gzip", blob: "AAEC" } })).toMatchObject({
      body: { kind: "binary", href: "data:application/gzip;base64,AAEC", bytes: 3 },
    });
  });

  it("shows a text resource sent as a blob as its text, and a blob that is not UTF-8 as binary", () => {
    const hello = Buffer.from("héllo").toString("base64");
    expect(classify({ type: "resource", resource: { uri: "demo://b", mimeType: "text/plain", blob: hello } })).toMatchObject({
      body: { kind: "text", text: "héllo", fromBlob: true },
    });
    expect(classify({ type: "resource", resource: { uri: "demo://j", mimeType: "application/json", blob: Buffer.from('{"a":1}').toString("base64") } })).toMatchObject({
      body: { kind: "text", json: '{\n  "a": 1\n}' },
    });
    expect(classify({ type: "resource", resource: { uri: "demo://x", mimeType: "text/plain", blob: Buffer.from([0xff, 0xfe, 0x00]).toString("base64") } })).toMatchObject({
      body: { kind: "binary", bytes: 3 },
    });
  });

  it("reads a resource link's fields", () => {
    expect(classify({ type: "resource_link", uri: "demo://r/1", name: "one", description: "The first", mimeType: "text/plain" })).toEqual({
      kind: "link",
      uri: "demo://r/1",
      name: "one",
      title: null,
      description: "The first",
      mimeType: "text/plain",
      size: null,
    });
  });

  it("shows a block of an unknown type as JSON", () => {
    expect(classify({ type: "hologram", x: 1 })).toEqual({ kind: "unknown", type: "hologram", json: '{\n  "type": "hologram",\n  "x": 1\n}' });
  });
});

describe("data URLs", () => {
  it("refuses data that is not base64 rather than build a broken or injected URL", () => {
    expect(dataUrl("image/png", "not base64!")).toBeNull();
    expect(dataUrl("image/png", 42)).toBeNull();
    expect(dataUrl("image/png", "AAEC\nAAEC")).toBe("data:image/png;base64,AAECAAEC");
  });

  it("uses only a plain media type, dropping parameters and anything odd", () => {
    expect(safeMime("image/svg+xml")).toBe("image/svg+xml");
    expect(safeMime("audio/wav; codecs=1")).toBe("audio/wav");
    expect(safeMime('text/html,<script>"')).toBe("application/octet-stream");
    expect(safeMime(undefined)).toBe("application/octet-stream");
  });

  it("counts the bytes base64 decodes to", () => {
    expect(base64Bytes("")).toBe(0);
    expect(base64Bytes("AAEC")).toBe(3);
    expect(base64Bytes("AAE=")).toBe(2);
    expect(base64Bytes("AA==")).toBe(1);
  });
});

describe("prettyJson", () => {
  it("pretty-prints objects and arrays only", () => {
    expect(prettyJson("[1,2]")).toBe("[\n  1,\n  2\n]");
    expect(prettyJson("42")).toBeNull();
    expect(prettyJson("{not json}")).toBeNull();
    expect(prettyJson("plain")).toBeNull();
  });
});

describe("result views", () => {
  it("a tool result: its blocks, structured content, and the error flag", () => {
    const v = toolResultView({ content: [{ type: "text", text: "3" }], structuredContent: { result: 3 }, isError: false });
    expect(v.items.map((i) => i.part.kind)).toEqual(["text"]);
    expect(v.structured).toBe('{\n  "result": 3\n}');
    expect(v.isError).toBe(false);
    expect(toolResultView({ content: [{ type: "text", text: "boom" }], isError: true }).isError).toBe(true);
  });

  it("a resource's contents as embedded resources", () => {
    const v = resourceResultView({ contents: [{ uri: "demo://1", mimeType: "text/plain", text: "hi" }] });
    expect(v.items[0].part).toMatchObject({ kind: "resource", uri: "demo://1", body: { kind: "text", text: "hi" } });
  });

  it("a prompt's messages with their roles and the prompt's description", () => {
    const v = promptResultView({ description: "A prompt", messages: [{ role: "user", content: { type: "text", text: "Hello" } }] });
    expect(v.description).toBe("A prompt");
    expect(v.items).toEqual([{ role: "user", part: { kind: "text", text: "Hello", json: null }, note: null }]);
  });

  it("a sampling request's messages, one of them with a list of blocks", () => {
    const v = promptResultView({
      messages: [
        { role: "user", content: [{ type: "text", text: "a" }, { type: "text", text: "b" }] },
        { role: "assistant", content: { type: "text", text: "c" } },
      ],
    });
    expect(v.items.map((i) => [i.role, i.part.kind === "text" ? i.part.text : null])).toEqual([
      ["user", "a"],
      ["user", "b"],
      ["assistant", "c"],
    ]);
  });

  it("notes a block's annotations", () => {
    expect(annotationsNote({ type: "text", text: "x", annotations: { audience: ["user"], priority: 0.9 } })).toBe("audience: user · priority 0.9");
    expect(annotationsNote({ type: "text", text: "x" })).toBeNull();
  });
});

describe("errorView", () => {
  it("reads the SDK's McpError into the JSON-RPC code and the server's message", () => {
    const e = Object.assign(new Error("MCP error -32602: Tool nope not found"), { code: -32602, data: { tool: "nope" } });
    expect(errorView(e)).toEqual({ code: -32602, message: "Tool nope not found", data: '{\n  "tool": "nope"\n}' });
  });

  it("keeps an HTTP failure's status and message", () => {
    const e = Object.assign(new Error("Streamable HTTP error: Error POSTing to endpoint: forbidden"), { code: 403 });
    expect(errorView(e)).toEqual({ code: 403, message: "Streamable HTTP error: Error POSTing to endpoint: forbidden", data: null });
  });

  it("shows anything else thrown as text", () => {
    expect(errorView(new TypeError("Failed to fetch"))).toEqual({ code: null, message: "Failed to fetch", data: null });
    expect(errorView("plain")).toEqual({ code: null, message: "plain", data: null });
  });
});

describe("progress and time", () => {
  it("a progress with a total is a fraction; without one, a count", () => {
    expect(progressView({ progress: 3, total: 10, message: "step 3" })).toEqual({ progress: 3, total: 10, message: "step 3", fraction: 0.3, label: "3 / 10" });
    expect(progressView({ progress: 5 })).toEqual({ progress: 5, total: null, message: null, fraction: null, label: "5" });
    expect(progressView({ progress: 12, total: 10 }).fraction).toBe(1);
  });

  it("formats elapsed time at a useful precision", () => {
    expect(formatElapsed(850.4)).toBe("850 ms");
    expect(formatElapsed(12_345)).toBe("12.3 s");
    expect(formatElapsed(125_000)).toBe("2 min 05 s");
  });
});
