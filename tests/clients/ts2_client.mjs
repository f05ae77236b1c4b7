#!/usr/bin/env node
// MCP test client built on the TypeScript SDK v2 client package (@modelcontextprotocol/client,
// pinned in tests/node/package.json), pinned to protocol revision 2026-07-28: connect() sends
// `server/discover` and fails loudly unless the server offers exactly that revision (no
// fallback to `initialize`). Usage:
//
//   node ts2_client.mjs --url URL --transport streamable --scenario NAME [--extra JSON] [--timeout SECS]
//
// Scenarios: list_tools, call, progress, sampling, elicitation. The 2026-07-28 era has no
// server->client requests: a server that needs sampling or elicitation answers the call with an
// `input_required` result, and the SDK fulfils it through the handlers registered below and
// retries the call (the rounds happen inside client.callTool()).
// Prints exactly one JSON object on the LAST line of stdout. Exit codes: 0 scenario ran (for
// `call`, a JSON-RPC error is reported as ok:false with exit 0), 1 failure, 2 bad command line,
// 3 overall timeout.
//
// The SDK is loaded from tests/node/node_modules (override with SWITCHBOARD_TEST_NODE_MODULES).

import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

const PINNED_PROTOCOL_VERSION = "2026-07-28";
const here = path.dirname(fileURLToPath(import.meta.url));
const nodeModules =
  process.env.SWITCHBOARD_TEST_NODE_MODULES || path.resolve(here, "..", "node", "node_modules");
const sdkDir = path.join(nodeModules, "@modelcontextprotocol", "client");

const DEFAULT_SAMPLING_REPLY = "sampled-by-test-client";
const DEFAULT_ELICITATION_ANSWER = "switchboard-elicited-name";
let emitted = false;

function emit(obj, code) {
  if (emitted) return;
  emitted = true;
  process.stdout.write(JSON.stringify(obj) + "\n", () => process.exit(code));
  // In case the write callback never fires.
  setTimeout(() => process.exit(code), 2000).unref();
}

function usage(msg) {
  process.stderr.write(`ts2_client: ${msg}\n`);
  emit({ ok: false, client: "ts2", error: { message: msg } }, 2);
}

let opts;
try {
  opts = parseArgs({
    options: {
      url: { type: "string" },
      transport: { type: "string", default: "streamable" },
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

const SCENARIOS = ["list_tools", "call", "progress", "sampling", "elicitation"];

async function main() {
  if (!opts.url) return usage("--url is required");
  // 2026-07-28 is a Streamable HTTP (or stdio) revision; there is no 2026 legacy-SSE binding.
  if (opts.transport !== "streamable") return usage("--transport must be streamable");
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
    process.stderr.write(`ts2_client: overall timeout after ${opts.timeout}s\n`);
    emit(
      { ok: false, client: "ts2", transport: opts.transport, scenario: opts.scenario, error: { type: "timeout", message: `overall timeout after ${opts.timeout}s` } },
      3,
    );
  }, timeoutMs);

  const { Client, StreamableHTTPClientTransport, ProtocolError } = await import(
    pathToFileURL(path.join(sdkDir, "dist", "index.mjs")).href
  );
  const { createRequire } = await import("node:module");
  const sdkVersion = createRequire(import.meta.url)(path.join(sdkDir, "package.json")).version;

  // Record JSON-RPC methods the client POSTs (like py_client's wire_methods) and the
  // MCP-Protocol-Version headers it sends.
  const wire = [];
  const headerVersions = new Set();
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
      const h = new Headers(init.headers ?? {});
      const v = h.get("mcp-protocol-version");
      if (v) headerVersions.add(v);
    }
    return fetch(url, init);
  };

  const transport = new StreamableHTTPClientTransport(new URL(opts.url), { fetch: recordingFetch });
  const client = new Client(
    { name: "switchboard-ts2-test-client", version: sdkVersion },
    {
      capabilities: { sampling: {}, elicitation: { form: {} } },
      versionNegotiation: { mode: { pin: PINNED_PROTOCOL_VERSION } },
      inputRequired: { autoFulfill: true },
    },
  );
  const reply = extra.reply ?? DEFAULT_SAMPLING_REPLY;
  const answer = extra.answer ?? DEFAULT_ELICITATION_ANSWER;
  const samplingRequests = [];
  const elicitationRequests = [];
  client.setRequestHandler("sampling/createMessage", async (request) => {
    samplingRequests.push(request.params);
    return {
      role: "assistant",
      content: { type: "text", text: reply },
      model: "switchboard-test-model",
      stopReason: "endTurn",
    };
  });
  client.setRequestHandler("elicitation/create", async (request) => {
    elicitationRequests.push(request.params);
    return { action: "accept", content: { name: answer } };
  });

  const out = {
    ok: true,
    client: "ts2",
    sdk: `@modelcontextprotocol/client ${sdkVersion}`,
    transport: opts.transport,
    scenario: opts.scenario,
  };
  const t0 = performance.now();
  const reqOpts = { timeout: requestTimeoutMs };
  const textOf = (r) => (r?.content ?? []).filter((c) => typeof c.text === "string").map((c) => c.text).join("\n");

  await client.connect(transport, reqOpts);
  out.protocolVersion = client.getNegotiatedProtocolVersion() ?? null;
  out.era = client.getProtocolEra() ?? null;
  out.serverInfo = client.getServerVersion() ?? null;
  out.handshake = client.getDiscoverResult() ? "server/discover" : "initialize";
  out.sessionId = transport.sessionId ?? null;

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
          reqOpts,
        );
        out.result = r;
        out.text = textOf(r);
      } catch (e) {
        if (!(e instanceof ProtocolError)) throw e;
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
    case "elicitation": {
      const r = await client.callTool(
        { name: extra.tool ?? "trigger-elicitation-request", arguments: extraArgs({}) },
        reqOpts,
      );
      out.elicitation_called = elicitationRequests.length > 0;
      out.elicitation_requests = elicitationRequests;
      out.result = r;
      out.text = textOf(r);
      out.result_contains_answer = JSON.stringify(r).includes(answer);
      if (!out.elicitation_called || !out.result_contains_answer) out.ok = false;
      break;
    }
  }

  out.wire_methods = [...new Set(wire)].sort();
  out.first_methods = wire.slice(0, 3);
  out.header_protocol_versions = [...headerVersions].sort();
  out.elapsed_ms = Math.round(performance.now() - t0);
  clearTimeout(overall);
  try {
    if (transport.sessionId) await Promise.race([transport.terminateSession(), new Promise((r) => setTimeout(r, 2000))]);
    await Promise.race([client.close(), new Promise((r) => setTimeout(r, 2000))]);
  } catch {
    /* closing errors do not change the verdict */
  }
  if (!out.ok && opts.scenario !== "call") {
    process.stderr.write(`ts2_client: scenario ${opts.scenario} reported failure\n`);
    emit(out, 1);
  } else {
    emit(out, 0);
  }
}

main().catch((e) => {
  process.stderr.write(`ts2_client: scenario ${opts?.scenario} failed: ${e?.stack ?? e}\n`);
  const err = { type: e?.constructor?.name ?? "Error", message: String(e?.message ?? e) };
  if (e?.code !== undefined) err.code = e.code;
  if (e?.data !== undefined) err.data = e.data;
  emit({ ok: false, client: "ts2", transport: opts?.transport, scenario: opts?.scenario, error: err }, 1);
});
