// The inspector's MCP client: the official TypeScript SDK's Client over Streamable HTTP to
// the gateway's `/servers/{name}/mcp`, same origin as the page (so the gateway's Host, Origin
// and token rules apply as to any client; its calls are logged as from the dashboard by the
// clientInfo name). One connection per open inspector, made on first use and ended
// (DELETE of the session, then close) when the inspector closes.
//
// The server may ask the user something during a call (elicitation) or ask for an LLM
// completion (sampling): both are handed to the page, which answers for the user.

import "./zodJitless";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { UriTemplate } from "@modelcontextprotocol/sdk/shared/uriTemplate.js";
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  type CallToolResult,
  type CreateMessageRequest,
  type CreateMessageResult,
  type ElicitRequest,
  type ElicitResult,
  type GetPromptResult,
  type Progress,
  type Prompt,
  type ReadResourceResult,
  type Resource,
  type ResourceTemplate,
  type ServerCapabilities,
  type Tool,
} from "@modelcontextprotocol/sdk/types.js";
import type { jsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/types.js";

declare const __DASHBOARD_VERSION__: string;

export const CLIENT_INFO = { name: "switchboard-dashboard", version: typeof __DASHBOARD_VERSION__ === "string" ? __DASHBOARD_VERSION__ : "0.0.0" };
/** What the inspector can answer: form elicitations and sampling (typed by the user). */
export const CAPABILITIES = { elicitation: { form: {} }, sampling: {} };
/** The model name a sampling answer carries: no model wrote it. */
export const SAMPLING_MODEL = "switchboard-dashboard (typed by the user)";

export type ElicitParams = ElicitRequest["params"];
export type SamplingParams = CreateMessageRequest["params"];
export type { CallToolResult, CreateMessageResult, ElicitResult, GetPromptResult, Progress, Prompt, ReadResourceResult, Resource, ResourceTemplate, Tool };

export interface InspectorHandlers {
  /** The server asks the user for input; `signal` aborts when it gives up (cancelled, closed). */
  elicit(params: ElicitParams, signal: AbortSignal): Promise<ElicitResult>;
  /** The server asks for a completion; reject to refuse it. */
  sample(params: SamplingParams, signal: AbortSignal): Promise<CreateMessageResult>;
}

/** The gateway's endpoint of a server, on the page's origin. */
export function endpointUrl(name: string, origin: string = location.origin): URL {
  return new URL(`/servers/${encodeURIComponent(name)}/mcp`, origin);
}

/** The sampling answer for the text the user typed. */
export function samplingReply(text: string): CreateMessageResult {
  return { role: "assistant", content: { type: "text", text }, model: SAMPLING_MODEL, stopReason: "endTurn" };
}

/** Refusing a sampling request: a JSON-RPC error with code -1, as the spec suggests for a user's refusal. */
export function samplingRefusal(): Error {
  return Object.assign(new Error("The user declined the sampling request"), { code: -1 });
}

/** A resource template's variable names. */
export function templateVariables(uriTemplate: string): string[] {
  try {
    return new UriTemplate(uriTemplate).variableNames;
  } catch {
    return [];
  }
}

/** A resource template expanded with the values typed (RFC 6570, as the SDK reads it). */
export function expandTemplate(uriTemplate: string, values: Record<string, string>): string {
  return new UriTemplate(uriTemplate).expand(values);
}

/**
 * Structured content is shown as the server sent it, never refused: the SDK's default
 * validator (Ajv) compiles schemas with `new Function`, which the page's CSP forbids, and an
 * inspector should show a result that does not match its schema rather than hide it.
 */
const showAsSent: jsonSchemaValidator = {
  getValidator: () => (input: unknown) => ({ valid: true, data: input as never, errorMessage: undefined }),
};

/** A request the server may not have seen: the session is gone (the gateway answered 404). */
function sessionLost(error: unknown): boolean {
  const e = error as { code?: unknown; message?: unknown };
  return e?.code === 404 && typeof e.message === "string" && e.message.startsWith("Streamable HTTP error");
}

export interface Connected {
  server: { name: string; version: string } | null;
  protocol: string | null;
  instructions: string | null;
  capabilities: ServerCapabilities;
}

type Page<K extends string, T> = { [key in K]: T[] } & { nextCursor?: string };

/** The most pages of a list asked for (a server that keeps answering a cursor). */
const MAX_PAGES = 50;
/** A call may wait on the user (elicitation, sampling): give it an hour, renewed by progress. */
const CALL_TIMEOUT_MS = 60 * 60 * 1000;

export class InspectorSession {
  private client: Client | null = null;
  private transport: StreamableHTTPClientTransport | null = null;
  private connecting: Promise<Client> | null = null;
  private closed = false;
  info: Connected | null = null;

  constructor(
    readonly name: string,
    private readonly handlers: InspectorHandlers,
    private readonly url: URL = endpointUrl(name),
  ) {}

  /** The connection, made on first use (and again after it was lost). */
  connect(): Promise<Client> {
    if (this.closed) return Promise.reject(new Error("The inspector was closed"));
    this.connecting ??= this.open().catch((e) => {
      this.connecting = null;
      throw e;
    });
    return this.connecting;
  }

  private async open(): Promise<Client> {
    const client = new Client(CLIENT_INFO, { capabilities: CAPABILITIES, jsonSchemaValidator: showAsSent });
    client.setRequestHandler(ElicitRequestSchema, (request, extra) => this.handlers.elicit(request.params, extra.signal));
    client.setRequestHandler(CreateMessageRequestSchema, (request, extra) => this.handlers.sample(request.params, extra.signal));
    // Failures reach the caller of each request; the rest (a GET stream the gateway does not
    // keep) is not the user's concern.
    client.onerror = () => {};
    const transport = new StreamableHTTPClientTransport(this.url);
    client.onclose = () => {
      if (this.client === client) this.forget();
    };
    await client.connect(transport);
    if (this.closed) {
      await transport.terminateSession().catch(() => {});
      await client.close().catch(() => {});
      throw new Error("The inspector was closed");
    }
    this.client = client;
    this.transport = transport;
    const server = client.getServerVersion();
    this.info = {
      server: server ? { name: server.name, version: server.version } : null,
      protocol: transport.protocolVersion ?? null,
      instructions: client.getInstructions() ?? null,
      capabilities: client.getServerCapabilities() ?? {},
    };
    return client;
  }

  private forget(): void {
    this.client = null;
    this.transport = null;
    this.connecting = null;
  }

  /** Runs `fn` on the connection; once more on a new one when the gateway no longer knows the session. */
  private async run<T>(fn: (client: Client) => Promise<T>): Promise<T> {
    const client = await this.connect();
    try {
      return await fn(client);
    } catch (e) {
      if (!sessionLost(e) || this.closed) throw e;
      if (this.client === client) {
        this.forget();
        void client.close().catch(() => {});
      }
      return fn(await this.connect());
    }
  }

  private async capabilities(): Promise<ServerCapabilities> {
    await this.connect();
    return this.info?.capabilities ?? {};
  }

  private async all<K extends string, T>(key: K, list: (client: Client, cursor: string | undefined) => Promise<Page<K, T>>): Promise<T[]> {
    return this.run(async (client) => {
      const items: T[] = [];
      let cursor: string | undefined;
      for (let page = 0; page < MAX_PAGES; page++) {
        const answer = await list(client, cursor);
        items.push(...answer[key]);
        cursor = answer.nextCursor;
        if (!cursor) break;
      }
      return items;
    });
  }

  /** tools/list (every page); [] when the server declares no tools. */
  async tools(): Promise<Tool[]> {
    if (!(await this.capabilities()).tools) return [];
    return this.all("tools", (c, cursor) => c.listTools(cursor ? { cursor } : undefined));
  }

  async resources(): Promise<Resource[]> {
    if (!(await this.capabilities()).resources) return [];
    return this.all("resources", (c, cursor) => c.listResources(cursor ? { cursor } : undefined));
  }

  async templates(): Promise<ResourceTemplate[]> {
    if (!(await this.capabilities()).resources) return [];
    return this.all("resourceTemplates", (c, cursor) => c.listResourceTemplates(cursor ? { cursor } : undefined));
  }

  async prompts(): Promise<Prompt[]> {
    if (!(await this.capabilities()).prompts) return [];
    return this.all("prompts", (c, cursor) => c.listPrompts(cursor ? { cursor } : undefined));
  }

  /** tools/call, asking for progress; `signal` cancels it (notifications/cancelled). */
  callTool(name: string, args: Record<string, unknown>, options: { signal?: AbortSignal; onprogress?: (p: Progress) => void } = {}): Promise<CallToolResult> {
    return this.run(
      (c) =>
        c.callTool({ name, arguments: args }, undefined, {
          signal: options.signal,
          onprogress: options.onprogress ?? (() => {}),
          timeout: CALL_TIMEOUT_MS,
          resetTimeoutOnProgress: true,
        }) as Promise<CallToolResult>,
    );
  }

  readResource(uri: string, signal?: AbortSignal): Promise<ReadResourceResult> {
    return this.run((c) => c.readResource({ uri }, { signal, timeout: CALL_TIMEOUT_MS }));
  }

  getPrompt(name: string, args: Record<string, string>, signal?: AbortSignal): Promise<GetPromptResult> {
    return this.run((c) => c.getPrompt({ name, arguments: args }, { signal, timeout: CALL_TIMEOUT_MS }));
  }

  /** Ends the session at the gateway (DELETE) and closes the connection. */
  async close(): Promise<void> {
    this.closed = true;
    const connecting = this.connecting;
    const client = this.client ?? (await connecting?.catch(() => null)) ?? null;
    const transport = this.transport;
    this.forget();
    if (!client) return;
    try {
      await transport?.terminateSession();
    } catch {
      // gone already, or the gateway is unreachable
    }
    await client.close().catch(() => {});
  }
}
