// The inspector's client against a real MCP server of the SDK over Streamable HTTP (a local
// node:http server): what it declares, lists, calls, and how it answers the server's questions.

import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { CallToolRequestSchema, ListToolsRequestSchema, type CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterEach, describe, expect, it } from "vitest";
import { CLIENT_INFO, endpointUrl, expandTemplate, InspectorSession, SAMPLING_MODEL, samplingRefusal, samplingReply, templateVariables, type InspectorHandlers } from "./inspector";

interface Fixture {
  url: URL;
  /** The servers made, one per session. */
  servers: Server[];
  deletes: number;
  cancelled: string[];
  close(): Promise<void>;
}

const TOOLS = [
  { name: "echo", inputSchema: { type: "object", properties: { message: { type: "string" } }, required: ["message"] } },
  { name: "slow", inputSchema: { type: "object" } },
  { name: "ask", inputSchema: { type: "object" } },
  { name: "sample", inputSchema: { type: "object" } },
  { name: "wait", inputSchema: { type: "object" } },
  { name: "typed", inputSchema: { type: "object" }, outputSchema: { type: "object", properties: { n: { type: "number" } }, required: ["n"] } },
];

function mcpServer(fixture: Fixture): Server {
  const server = new Server({ name: "fixture", version: "9.9.9" }, { capabilities: { tools: {} }, instructions: "Be nice." });
  // Two pages, to show the inspector asks for every page.
  server.setRequestHandler(ListToolsRequestSchema, (request) => (request.params?.cursor === "2" ? { tools: TOOLS.slice(3) } : { tools: TOOLS.slice(0, 3), nextCursor: "2" }));
  server.setRequestHandler(CallToolRequestSchema, async (request, extra): Promise<CallToolResult> => {
    const args = request.params.arguments ?? {};
    const text = (t: string): CallToolResult => ({ content: [{ type: "text", text: t }] });
    switch (request.params.name) {
      case "echo":
        return text(`Echo: ${String(args.message)}`);
      case "slow": {
        const token = request.params._meta?.progressToken;
        for (let i = 1; i <= 2; i++) {
          if (token !== undefined) await extra.sendNotification({ method: "notifications/progress", params: { progressToken: token, progress: i, total: 2, message: `step ${i}` } });
        }
        return text("done");
      }
      case "ask": {
        const answer = await server.elicitInput({ message: "Your name?", requestedSchema: { type: "object", properties: { name: { type: "string" } }, required: ["name"] } });
        return text(JSON.stringify(answer));
      }
      case "sample":
        try {
          const answer = await server.createMessage({ messages: [{ role: "user", content: { type: "text", text: "Hi?" } }], maxTokens: 10 });
          return text(JSON.stringify(answer));
        } catch (e) {
          return text(`refused: ${(e as { code?: number }).code}`);
        }
      case "wait":
        await new Promise<void>((resolve) => extra.signal.addEventListener("abort", () => resolve()));
        fixture.cancelled.push(request.params.name);
        return text("cancelled");
      case "typed":
        return { content: [], structuredContent: { n: "not a number" } };
      default:
        throw new Error(`no tool ${request.params.name}`);
    }
  });
  return server;
}

const fixtures: Fixture[] = [];
afterEach(async () => {
  await Promise.all(fixtures.splice(0).map((f) => f.close()));
});

async function fixture(): Promise<Fixture> {
  const transports = new Map<string, StreamableHTTPServerTransport>();
  const f: Fixture = { url: new URL("http://127.0.0.1"), servers: [], deletes: 0, cancelled: [], close: async () => {} };
  const http: HttpServer = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    if (req.method === "DELETE") f.deletes++;
    const id = req.headers["mcp-session-id"];
    let transport = typeof id === "string" ? transports.get(id) : undefined;
    if (!transport) {
      if (typeof id === "string") {
        res.writeHead(404).end("unknown session");
        return;
      }
      transport = new StreamableHTTPServerTransport({ sessionIdGenerator: randomUUID, onsessioninitialized: (sid) => void transports.set(sid, transport!) });
      const server = mcpServer(f);
      f.servers.push(server);
      await server.connect(transport);
    }
    await transport.handleRequest(req, res);
  });
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  f.url = endpointUrl("fixture", `http://127.0.0.1:${(http.address() as AddressInfo).port}`);
  f.close = async () => {
    await Promise.all(f.servers.map((s) => s.close().catch(() => {})));
    http.closeAllConnections();
    await new Promise((resolve) => http.close(resolve));
  };
  fixtures.push(f);
  return f;
}

const never: InspectorHandlers = {
  elicit: () => Promise.reject(new Error("not expected")),
  sample: () => Promise.reject(new Error("not expected")),
};

describe("InspectorSession", () => {
  it("connects on first use as switchboard-dashboard, declaring form elicitation and sampling", async () => {
    const f = await fixture();
    const session = new InspectorSession("fixture", never, f.url);
    expect(f.servers).toHaveLength(0);
    await session.connect();
    expect(f.servers).toHaveLength(1);
    expect(f.servers[0].getClientVersion()).toEqual(CLIENT_INFO);
    expect(CLIENT_INFO.name).toBe("switchboard-dashboard");
    expect(CLIENT_INFO.version).toBe(JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")).version);
    expect(f.servers[0].getClientCapabilities()).toMatchObject({ elicitation: { form: {} }, sampling: {} });
    expect(session.info).toMatchObject({ server: { name: "fixture", version: "9.9.9" }, instructions: "Be nice.", capabilities: { tools: {} } });
    expect(session.info?.protocol).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    await session.close();
  });

  it("lists every page of tools, and nothing the server does not declare", async () => {
    const f = await fixture();
    const session = new InspectorSession("fixture", never, f.url);
    expect((await session.tools()).map((t) => t.name)).toEqual(TOOLS.map((t) => t.name));
    expect(await session.resources()).toEqual([]);
    expect(await session.prompts()).toEqual([]);
    expect(f.servers).toHaveLength(1);
    await session.close();
  });

  it("calls a tool and reports its progress", async () => {
    const f = await fixture();
    const session = new InspectorSession("fixture", never, f.url);
    expect(await session.callTool("echo", { message: "hi" })).toMatchObject({ content: [{ type: "text", text: "Echo: hi" }] });
    const progress: unknown[] = [];
    const result = await session.callTool("slow", {}, { onprogress: (p) => progress.push(p) });
    expect(result.content).toEqual([{ type: "text", text: "done" }]);
    expect(progress).toEqual([
      { progress: 1, total: 2, message: "step 1" },
      { progress: 2, total: 2, message: "step 2" },
    ]);
    await session.close();
  });

  it("hands the server's elicitation to the page and returns the user's answer", async () => {
    const f = await fixture();
    const asked: unknown[] = [];
    const session = new InspectorSession(
      "fixture",
      {
        ...never,
        elicit: async (params) => {
          asked.push(params);
          return { action: "accept", content: { name: "Ada" } };
        },
      },
      f.url,
    );
    const result = await session.callTool("ask", {});
    expect(asked).toEqual([expect.objectContaining({ message: "Your name?", requestedSchema: expect.objectContaining({ required: ["name"] }) })]);
    expect(JSON.parse((result.content[0] as { text: string }).text)).toEqual({ action: "accept", content: { name: "Ada" } });
    await session.close();
  });

  it("answers sampling with the text the user typed, or refuses it with code -1", async () => {
    const f = await fixture();
    let refuse = false;
    const session = new InspectorSession("fixture", { ...never, sample: async () => (refuse ? Promise.reject(samplingRefusal()) : samplingReply("Hello there")) }, f.url);
    const answered = await session.callTool("sample", {});
    expect(JSON.parse((answered.content[0] as { text: string }).text)).toEqual({
      role: "assistant",
      content: { type: "text", text: "Hello there" },
      model: SAMPLING_MODEL,
      stopReason: "endTurn",
    });
    refuse = true;
    expect((await session.callTool("sample", {})).content).toEqual([{ type: "text", text: "refused: -1" }]);
    await session.close();
  });

  it("cancels a call when its signal aborts, telling the server", async () => {
    const f = await fixture();
    const session = new InspectorSession("fixture", never, f.url);
    const controller = new AbortController();
    const call = session.callTool("wait", {}, { signal: controller.signal });
    await expect.poll(() => f.servers.length).toBe(1);
    await new Promise((r) => setTimeout(r, 50));
    controller.abort("Cancelled by the user");
    await expect(call).rejects.toThrow(/Cancelled by the user/);
    await expect.poll(() => f.cancelled).toEqual(["wait"]);
    await session.close();
  });

  it("shows structured content as sent, even when it does not match the tool's output schema", async () => {
    const f = await fixture();
    const session = new InspectorSession("fixture", never, f.url);
    await session.tools();
    expect((await session.callTool("typed", {})).structuredContent).toEqual({ n: "not a number" });
    await session.close();
  });

  it("opens a new session when the gateway no longer knows the old one", async () => {
    const f = await fixture();
    const session = new InspectorSession("fixture", never, f.url);
    await session.connect();
    // The server (and its session) went away, as when it restarts behind the gateway.
    await f.servers[0].close();
    expect(await session.callTool("echo", { message: "again" })).toMatchObject({ content: [{ text: "Echo: again" }] });
    expect(f.servers).toHaveLength(2);
    await session.close();
  });

  it("ends its session at the gateway (DELETE) when closed, and refuses to reconnect after", async () => {
    const f = await fixture();
    const session = new InspectorSession("fixture", never, f.url);
    await session.connect();
    await session.close();
    expect(f.deletes).toBe(1);
    await expect(session.tools()).rejects.toThrow(/closed/);
  });

  it("closing an inspector that never connected sends nothing", async () => {
    const f = await fixture();
    await new InspectorSession("fixture", never, f.url).close();
    expect(f.deletes).toBe(0);
    expect(f.servers).toHaveLength(0);
  });
});

describe("endpoints and templates", () => {
  it("addresses a server's MCP endpoint on the page's origin, its name encoded", () => {
    expect(endpointUrl("everything", "http://127.0.0.1:7427").href).toBe("http://127.0.0.1:7427/servers/everything/mcp");
    expect(endpointUrl("a b/c", "http://127.0.0.1:7427").pathname).toBe("/servers/a%20b%2Fc/mcp");
  });

  it("reads a resource template's variables and expands it", () => {
    expect(templateVariables("demo://resource/dynamic/text/{resourceId}")).toEqual(["resourceId"]);
    expect(expandTemplate("demo://resource/dynamic/text/{resourceId}", { resourceId: "7" })).toBe("demo://resource/dynamic/text/7");
    expect(templateVariables("file:///{+path}{?q,lang}")).toEqual(["path", "q", "lang"]);
    expect(expandTemplate("search://{?q,lang}", { q: "a b" })).toBe("search://?q=a%20b");
  });
});
