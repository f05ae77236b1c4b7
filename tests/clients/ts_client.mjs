#!/usr/bin/env node
// MCP test client built on the official TypeScript SDK (@modelcontextprotocol/sdk, pinned in
// tests/node/package.json). Usage:
//
//   node ts_client.mjs --url URL --transport streamable|sse --scenario NAME [--extra JSON] [--timeout SECS]
//
// Scenarios: list_tools, call, progress, sampling, concurrent, resources_prompts.
// Prints exactly one JSON object on the LAST line of stdout. Exit codes: 0 scenario ran (for
// `call`, a JSON-RPC error is reported as ok:false with exit 0), 1 failure, 2 bad command line,
// 3 overall timeout.
//
// The SDK is loaded from tests/node/node_modules (override with SWITCHBOARD_TEST_NODE_MODULES).

import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

const here = path.dirname(fileURLToPath(import.meta.url));
const nodeModules =
  process.env.SWITCHBOARD_TEST_NODE_MODULES || path.resolve(here, "..", "node", "node_modules");
const sdkDir = path.join(nodeModules, "@modelcontextprotocol", "sdk");
const sdk = (p) => import(pathToFileURL(path.join(sdkDir, "dist", "esm", p)).href);

const DEFAULT_SAMPLING_REPLY = "sampled-by-test-client";
let emitted = false;

function emit(obj, code) {
  if (emitted) return;
  emitted = true;
  process.stdout.write(JSON.stringify(obj) + "\n", () => process.exit(code));
  // In case the write callback never fires.
  setTimeout(() => process.exit(code), 2000).unref();
}

function usage(msg) {
  process.stderr.write(`ts_client: ${msg}\n`);
  emit({ ok: false, client: "ts", error: { message: msg } }, 2);
}

let opts;
try {
  opts = parseArgs({
    options: {
      url: { type: "string" },
      transport: { type: "string" },
      scenario: { type: "string" },
      extra: { type: "string", default: "{}" },
      timeout: { type: "string", default: "60" },
      "request-timeout": { type: "string" },
    },
    strict: true,
  }).values;
} catch (e) {
  usage(String(e.message || e));
}

const SCENARIOS = ["list_tools", "call", "progress", "sampling", "concurrent", "resources_prompts"];

async function main() {
  if (!opts.url) return usage("--url is required");
  if (!["streamable", "sse"].includes(opts.transport)) return usage("--transport must be streamable or sse");
  if (!SCENARIOS.includes(opts.scenario)) return usage(`--scenario must be one of ${SCENARIOS.join(", ")}`);
  let extra;
  try {
    extra = JSON.parse(opts.extra);
    if (extra === null || typeof extra !== "object" || Array.isArray(extra)) throw new Error("not an object");
  } catch (e) {
    return usage(`bad --extra: ${e.message}`);
  }
  const timeoutMs = Number(opts.timeout) * 1000;
  const requestTimeoutMs = opts["request-timeout"] ? Number(opts["request-timeout"]) * 1000 : timeoutMs;

  const overall = setTimeout(() => {
    process.stderr.write(`ts_client: overall timeout after ${opts.timeout}s\n`);
    emit(
      { ok: false, client: "ts", transport: opts.transport, scenario: opts.scenario, error: { type: "timeout", message: `overall timeout after ${opts.timeout}s` } },
      3,
    );
  }, timeoutMs);

  const [{ Client }, { StreamableHTTPClientTransport }, { SSEClientTransport }, types] = await Promise.all([
    sdk("client/index.js"),
    sdk("client/streamableHttp.js"),
    sdk("client/sse.js"),
    sdk("types.js"),
  ]);
  const { CreateMessageRequestSchema, McpError } = types;
  const { createRequire } = await import("node:module");
  const sdkVersion = createRequire(import.meta.url)(path.join(sdkDir, "package.json")).version;

  // Record JSON-RPC methods the client POSTs (like py_client's wire_methods).
  const wire = [];
  const recordingFetch = async (url, init) => {
    if (init && init.method === "POST" && typeof init.body === "string") {
      try {
        const body = JSON.parse(init.body);
        for (const m of Array.isArray(body) ? body : [body]) {
          wire.push(m.method ?? (m.error ? "<error-response>" : "<response>"));
        }
      } catch {
        /* not JSON */
      }
    }
    return fetch(url, init);
  };

  const url = new URL(opts.url);
  const transport =
    opts.transport === "streamable"
      ? new StreamableHTTPClientTransport(url, { fetch: recordingFetch })
      : new SSEClientTransport(url, { fetch: recordingFetch });

  const client = new Client(
    { name: "switchboard-ts-test-client", version: sdkVersion },
    { capabilities: { sampling: {} } },
  );
  const reply = extra.reply ?? DEFAULT_SAMPLING_REPLY;
  const samplingRequests = [];
  client.setRequestHandler(CreateMessageRequestSchema, async (request) => {
    samplingRequests.push(request.params);
    return {
      role: "assistant",
      content: { type: "text", text: reply },
      model: "switchboard-test-model",
      stopReason: "endTurn",
    };
  });

  const out = {
    ok: true,
    client: "ts",
    sdk: `@modelcontextprotocol/sdk ${sdkVersion}`,
    transport: opts.transport,
    scenario: opts.scenario,
  };
  const t0 = performance.now();
  const reqOpts = { timeout: requestTimeoutMs };
  const textOf = (r) => (r?.content ?? []).filter((c) => typeof c.text === "string").map((c) => c.text).join("\n");

  await client.connect(transport);
  out.protocolVersion = transport.protocolVersion ?? transport._protocolVersion ?? null;
  out.serverInfo = client.getServerVersion() ?? null;
  out.handshake = "initialize";
  if (opts.transport === "streamable") out.sessionId = transport.sessionId ?? null;

  const extraArgs = (def) => extra.arguments ?? def;

  switch (opts.scenario) {
    case "list_tools": {
      const r = await client.listTools(undefined, reqOpts);
      out.tools = r.tools.map((t) => t.name);
      break;
    }
    case "call": {
      try {
        const r = await client.callTool(
          { name: extra.tool ?? "echo", arguments: extraArgs({ message: "hello" }) },
          undefined,
          reqOpts,
        );
        out.result = r;
        out.text = textOf(r);
      } catch (e) {
        if (!(e instanceof McpError)) throw e;
        out.ok = false;
        out.error = { code: e.code, message: e.message.replace(/^MCP error -?\d+: /, "") };
        if (e.data !== undefined) out.error.data = e.data;
      }
      break;
    }
    case "progress": {
      const notes = [];
      const start = performance.now();
      const r = await client.callTool(
        { name: extra.tool ?? "trigger-long-running-operation", arguments: extraArgs({ duration: 2, steps: 4 }) },
        undefined,
        {
          ...reqOpts,
          onprogress: (p) =>
            notes.push({
              progress: p.progress,
              total: p.total ?? null,
              message: p.message ?? null,
              elapsed_ms: Math.round(performance.now() - start),
            }),
        },
      );
      out.progress = notes;
      out.result = r;
      out.text = textOf(r);
      out.call_ms = Math.round(performance.now() - start);
      break;
    }
    case "sampling": {
      const r = await client.callTool(
        { name: extra.tool ?? "trigger-sampling-request", arguments: extraArgs({ prompt: "say hi", maxTokens: 20 }) },
        undefined,
        reqOpts,
      );
      out.sampling_called = samplingRequests.length > 0;
      out.sampling_requests = samplingRequests;
      out.result = r;
      out.text = textOf(r);
      out.result_contains_reply = JSON.stringify(r).includes(reply);
      if (!out.sampling_called || !out.result_contains_reply) out.ok = false;
      break;
    }
    case "concurrent": {
      const n = Number(extra.n ?? 32);
      const tool = extra.tool ?? "echo";
      const args = extraArgs({ message: "call-{i}" });
      const templated = JSON.stringify(args).includes("{i}");
      const subst = (v, i) =>
        typeof v === "string"
          ? v.replaceAll("{i}", String(i))
          : Array.isArray(v)
            ? v.map((x) => subst(x, i))
            : v && typeof v === "object"
              ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, subst(x, i)]))
              : v;
      const start = performance.now();
      const results = await Promise.all(
        Array.from({ length: n }, async (_, i) => {
          const a = subst(args, i);
          const s = performance.now();
          try {
            const r = await client.callTool({ name: tool, arguments: a }, undefined, reqOpts);
            const text = textOf(r);
            const expected = Object.values(a).filter((v) => typeof v === "string");
            return {
              ok: !r.isError,
              matched: templated ? expected.every((e) => text.includes(e)) : true,
              ms: Math.round(performance.now() - s),
            };
          } catch (e) {
            return {
              ok: false,
              matched: false,
              error: e instanceof McpError ? { code: e.code, message: e.message } : String(e),
              ms: Math.round(performance.now() - s),
            };
          }
        }),
      );
      out.n = n;
      out.successes = results.filter((r) => r.ok).length;
      out.failures = n - out.successes;
      out.mismatched = results.filter((r) => r.ok && !r.matched).length;
      out.wall_ms = Math.round(performance.now() - start);
      out.max_call_ms = Math.max(...results.map((r) => r.ms));
      out.errors = results.filter((r) => r.error).map((r) => r.error).slice(0, 5);
      if (out.failures || out.mismatched) out.ok = false;
      break;
    }
    case "resources_prompts": {
      const rl = await client.listResources(undefined, reqOpts);
      out.resources = rl.resources.map((r) => r.uri);
      out.resource_names = rl.resources.map((r) => r.name);
      const uri = extra.resource_uri ?? out.resources[0];
      if (uri) {
        const rr = await client.readResource({ uri }, reqOpts);
        out.read = {
          uri,
          contents: rr.contents.map((c) => ({
            uri: c.uri,
            mimeType: c.mimeType ?? null,
            text_len: typeof c.text === "string" ? c.text.length : null,
            blob_len: typeof c.blob === "string" ? c.blob.length : null,
          })),
        };
      }
      const tl = await client.listResourceTemplates(undefined, reqOpts);
      out.resource_templates = tl.resourceTemplates.map((t) => t.uriTemplate);
      const pl = await client.listPrompts(undefined, reqOpts);
      out.prompts = pl.prompts.map((p) => p.name);
      const pname = extra.prompt ?? out.prompts[0];
      if (pname) {
        const prompt = pl.prompts.find((p) => p.name === pname);
        const pargs = { ...(extra.prompt_args ?? {}) };
        for (const a of prompt?.arguments ?? []) if (a.required && !(a.name in pargs)) pargs[a.name] = "test";
        const gp = await client.getPrompt({ name: pname, arguments: pargs }, reqOpts);
        out.prompt = {
          name: pname,
          arguments: pargs,
          messages: gp.messages.length,
          roles: gp.messages.map((m) => m.role),
          first_text: gp.messages.map((m) => m.content?.text).find((t) => typeof t === "string") ?? null,
        };
      }
      break;
    }
  }

  out.wire_methods = [...new Set(wire)].sort();
  out.first_methods = wire.slice(0, 3);
  out.elapsed_ms = Math.round(performance.now() - t0);
  clearTimeout(overall);
  try {
    if (opts.transport === "streamable") await Promise.race([transport.terminateSession(), new Promise((r) => setTimeout(r, 2000))]);
    await Promise.race([client.close(), new Promise((r) => setTimeout(r, 2000))]);
  } catch {
    /* closing errors do not change the verdict */
  }
  if (!out.ok && opts.scenario !== "call") {
    process.stderr.write(`ts_client: scenario ${opts.scenario} reported failure\n`);
    emit(out, 1);
  } else {
    emit(out, 0);
  }
}

main().catch((e) => {
  process.stderr.write(`ts_client: scenario ${opts?.scenario} failed: ${e?.stack ?? e}\n`);
  const err = { type: e?.constructor?.name ?? "Error", message: String(e?.message ?? e) };
  if (typeof e?.code === "number") err.code = e.code;
  emit({ ok: false, client: "ts", transport: opts?.transport, scenario: opts?.scenario, error: err }, 1);
});
