// What the inspector shows for an MCP answer, without the DOM: each content block classified
// (text, image, audio, embedded resource, resource link), binary data as `data:` URLs (the
// page's CSP allows `img-src data:` and `media-src data:`), a tool result's structured
// content and error flag, a resource's contents and a prompt's messages in the same shape,
// and a failed request as its JSON-RPC code and message.

export type ResourceBody =
  | { kind: "text"; text: string; json: string | null; fromBlob?: true }
  | { kind: "image"; src: string; bytes: number }
  | { kind: "audio"; src: string; bytes: number }
  | { kind: "binary"; href: string | null; bytes: number };

export type ContentPart =
  | { kind: "text"; text: string; json: string | null }
  | { kind: "image"; mimeType: string; src: string | null; bytes: number }
  | { kind: "audio"; mimeType: string; src: string | null; bytes: number }
  | { kind: "resource"; uri: string; mimeType: string | null; body: ResourceBody }
  | { kind: "link"; uri: string; name: string; title: string | null; description: string | null; mimeType: string | null; size: number | null }
  | { kind: "unknown"; type: string; json: string };

export interface ResultItem {
  /** A prompt message's role. */
  role?: string;
  part: ContentPart;
  /** "audience: user · priority 0.9", when the block has annotations. */
  note: string | null;
}

export interface ResultView {
  /** A tool result with `isError: true`: the tool failed (the call itself did not). */
  isError: boolean;
  /** A prompt's description. */
  description: string | null;
  items: ResultItem[];
  /** A tool result's `structuredContent`, pretty-printed. */
  structured: string | null;
  /** The whole answer, pretty-printed. */
  raw: string;
}

export interface ErrorView {
  /** The JSON-RPC error code (or the HTTP status of a failed request); null when there is none. */
  code: number | null;
  message: string;
  /** The error's `data`, pretty-printed. */
  data: string | null;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

const str = (v: unknown): string | null => (typeof v === "string" && v !== "" ? v : null);

/** Text that is a JSON object or array, pretty-printed; null for any other text. */
export function prettyJson(text: string): string | null {
  const t = text.trim();
  if (!(t.startsWith("{") && t.endsWith("}")) && !(t.startsWith("[") && t.endsWith("]"))) return null;
  try {
    return JSON.stringify(JSON.parse(t), null, 2);
  } catch {
    return null;
  }
}

const MIME = /^[a-z0-9][a-z0-9!#$&^_.+-]*\/[a-z0-9][a-z0-9!#$&^_.+-]*$/i;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** A media type fit for a data: URL (its parameters dropped); octet-stream when it is not one. */
export function safeMime(mimeType: unknown): string {
  const essence = typeof mimeType === "string" ? mimeType.split(";")[0].trim().toLowerCase() : "";
  return MIME.test(essence) ? essence : "application/octet-stream";
}

/** The bytes base64 text decodes to. */
export function base64Bytes(data: string): number {
  const clean = data.replace(/\s+/g, "");
  const pad = clean.endsWith("==") ? 2 : clean.endsWith("=") ? 1 : 0;
  return Math.max(0, Math.floor((clean.length * 3) / 4) - pad);
}

/** `data:{mime};base64,{data}`, or null when `data` is not base64. */
export function dataUrl(mimeType: unknown, data: unknown): string | null {
  if (typeof data !== "string") return null;
  const clean = data.replace(/\s+/g, "");
  if (!BASE64.test(clean) || clean.length % 4 === 1) return null;
  return `data:${safeMime(mimeType)};base64,${clean}`;
}

/** Whether a media type is text a person can read. */
export function isTextMime(mime: string): boolean {
  return mime.startsWith("text/") || /^application\/([\w.+-]*\+)?(json|xml|yaml|x-yaml|javascript|toml)$/.test(mime);
}

/** Base64 that decodes to UTF-8 text, decoded; null when it is not (or too big to show). */
export function decodeText(data: string, maxBytes = 1024 * 1024): string | null {
  if (base64Bytes(data) > maxBytes) return null;
  try {
    const bin = atob(data.replace(/\s+/g, ""));
    const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return null;
  }
}

function resourceBody(r: Record<string, unknown>): ResourceBody {
  if (typeof r.text === "string") return { kind: "text", text: r.text, json: prettyJson(r.text) };
  const blob = typeof r.blob === "string" ? r.blob : "";
  const mime = safeMime(r.mimeType);
  const src = dataUrl(mime, blob);
  const bytes = base64Bytes(blob);
  // A text resource sent as a blob (server-everything's blob resources are text/plain).
  const text = src && isTextMime(mime) ? decodeText(blob) : null;
  if (text !== null) return { kind: "text", text, json: prettyJson(text), fromBlob: true };
  if (src && mime.startsWith("image/")) return { kind: "image", src, bytes };
  if (src && mime.startsWith("audio/")) return { kind: "audio", src, bytes };
  return { kind: "binary", href: src, bytes };
}

/** One content block as the inspector shows it. */
export function classify(block: unknown): ContentPart {
  if (!isObject(block)) return { kind: "unknown", type: typeof block, json: JSON.stringify(block) ?? String(block) };
  switch (block.type) {
    case "text": {
      const text = typeof block.text === "string" ? block.text : "";
      return { kind: "text", text, json: prettyJson(text) };
    }
    case "image":
    case "audio": {
      const data = typeof block.data === "string" ? block.data : "";
      return { kind: block.type, mimeType: safeMime(block.mimeType), src: dataUrl(block.mimeType, data), bytes: base64Bytes(data) };
    }
    case "resource": {
      const r = isObject(block.resource) ? block.resource : {};
      return { kind: "resource", uri: str(r.uri) ?? "", mimeType: str(r.mimeType), body: resourceBody(r) };
    }
    case "resource_link":
      return {
        kind: "link",
        uri: str(block.uri) ?? "",
        name: str(block.name) ?? "",
        title: str(block.title),
        description: str(block.description),
        mimeType: str(block.mimeType),
        size: typeof block.size === "number" ? block.size : null,
      };
    default:
      return { kind: "unknown", type: typeof block.type === "string" ? block.type : "?", json: JSON.stringify(block, null, 2) };
  }
}

/** A block's annotations in a few words, or null. */
export function annotationsNote(block: unknown): string | null {
  const a = isObject(block) && isObject(block.annotations) ? block.annotations : null;
  if (!a) return null;
  const bits: string[] = [];
  if (Array.isArray(a.audience) && a.audience.length) bits.push(`audience: ${a.audience.join(", ")}`);
  if (typeof a.priority === "number") bits.push(`priority ${a.priority}`);
  if (typeof a.lastModified === "string") bits.push(`modified ${a.lastModified}`);
  return bits.length ? bits.join(" · ") : null;
}

const item = (block: unknown, role?: string): ResultItem => ({ ...(role ? { role } : {}), part: classify(block), note: annotationsNote(block) });

/** A `tools/call` result. */
export function toolResultView(result: unknown): ResultView {
  const r = isObject(result) ? result : {};
  const content = Array.isArray(r.content) ? r.content : [];
  return {
    isError: r.isError === true,
    description: null,
    items: content.map((b) => item(b)),
    structured: r.structuredContent === undefined ? null : JSON.stringify(r.structuredContent, null, 2),
    raw: JSON.stringify(result, null, 2),
  };
}

/** A `resources/read` result: each of its contents as an embedded resource. */
export function resourceResultView(result: unknown): ResultView {
  const r = isObject(result) ? result : {};
  const contents = Array.isArray(r.contents) ? r.contents : [];
  return {
    isError: false,
    description: null,
    items: contents.map((c) => item({ type: "resource", resource: c })),
    structured: null,
    raw: JSON.stringify(result, null, 2),
  };
}

/** A `prompts/get` result (or a sampling request's messages): its messages, each with its role. */
export function promptResultView(result: unknown): ResultView {
  const r = isObject(result) ? result : {};
  const messages = Array.isArray(r.messages) ? r.messages : [];
  return {
    isError: false,
    description: str(r.description),
    // A message holds one block, or (sampling, 2025-11-25) a list of them.
    items: messages.flatMap((m) => (isObject(m) ? (Array.isArray(m.content) ? m.content : [m.content]).map((b) => item(b, str(m.role) ?? "?")) : [item(m)])),
    structured: null,
    raw: JSON.stringify(result, null, 2),
  };
}

/**
 * A failed request: the SDK's McpError ("MCP error -32602: …", with `code` and `data`), its
 * HTTP error (`code` the status), or anything else thrown.
 */
export function errorView(error: unknown): ErrorView {
  if (!(error instanceof Error) && !isObject(error)) return { code: null, message: String(error), data: null };
  const e = error as { code?: unknown; message?: unknown; data?: unknown };
  let message = typeof e.message === "string" ? e.message : String(error);
  const code = typeof e.code === "number" && Number.isFinite(e.code) ? e.code : null;
  const m = /^MCP error (-?\d+): ([\s\S]*)$/.exec(message);
  if (m) message = m[2];
  const data = e.data === undefined ? null : JSON.stringify(e.data, null, 2);
  return { code: code ?? (m ? Number(m[1]) : null), message, data };
}

/** "1.2 KB" and the like. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** Elapsed time: "850 ms", "12.3 s", "2 min 05 s". */
export function formatElapsed(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.floor(ms / 1000);
  return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
}

export interface ProgressView {
  progress: number;
  total: number | null;
  message: string | null;
  /** 0..1 when the total is known, else null (an indeterminate bar). */
  fraction: number | null;
  /** "3 / 10", "3". */
  label: string;
}

/** A `notifications/progress` as a bar. */
export function progressView(p: { progress: number; total?: number; message?: string }): ProgressView {
  const total = typeof p.total === "number" && p.total > 0 ? p.total : null;
  const fraction = total === null ? null : Math.max(0, Math.min(1, p.progress / total));
  return { progress: p.progress, total, message: str(p.message), fraction, label: total === null ? `${p.progress}` : `${p.progress} / ${total}` };
}
