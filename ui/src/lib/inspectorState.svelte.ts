// The inspector's state (runes): its connection, what the server lists, one call at a time
// per section (tools, resources, prompts) with its progress and result, the drafts of the
// forms, and the server's questions waiting for the user (elicitation, sampling).

import { errorView, progressView, type ErrorView, type ProgressView, type ResultView } from "./content";
import {
  InspectorSession,
  samplingRefusal,
  samplingReply,
  type Connected,
  type CreateMessageResult,
  type ElicitParams,
  type ElicitResult,
  type Progress,
  type Prompt,
  type Resource,
  type ResourceTemplate,
  type SamplingParams,
  type Tool,
} from "./inspector";
import type { FormValues } from "./schemaForm";

export type Section = "tools" | "resources" | "prompts";

/** One request of the inspector: running, then its result, failure or cancellation. */
export class CallState {
  status = $state<"idle" | "running" | "done" | "failed" | "cancelled">("idle");
  /** What was run: a tool's or prompt's name, a resource's URI. */
  label = $state("");
  elapsed = $state(0);
  progress = $state.raw<ProgressView | null>(null);
  view = $state.raw<ResultView | null>(null);
  error = $state.raw<ErrorView | null>(null);
  private controller: AbortController | null = null;
  private stopTimer: () => void = () => {};
  private seq = 0;

  get running(): boolean {
    return this.status === "running";
  }

  async run<T>(label: string, fn: (signal: AbortSignal, onprogress: (p: Progress) => void) => Promise<T>, toView: (result: T) => ResultView): Promise<void> {
    this.cancel();
    const mine = ++this.seq;
    const controller = new AbortController();
    this.controller = controller;
    const started = performance.now();
    const timer = setInterval(() => {
      if (mine === this.seq) this.elapsed = performance.now() - started;
    }, 100);
    this.stopTimer = () => clearInterval(timer);
    this.status = "running";
    this.label = label;
    this.elapsed = 0;
    this.progress = null;
    this.view = null;
    this.error = null;
    try {
      const result = await fn(controller.signal, (p) => {
        if (mine === this.seq) this.progress = progressView(p);
      });
      if (mine !== this.seq) return;
      this.view = toView(result);
      this.status = "done";
    } catch (e) {
      if (mine !== this.seq) return;
      if (controller.signal.aborted) this.status = "cancelled";
      else {
        this.error = errorView(e);
        this.status = "failed";
      }
    } finally {
      clearInterval(timer);
      if (mine === this.seq) {
        this.elapsed = performance.now() - started;
        this.controller = null;
      }
    }
  }

  /** Cancels the call in flight (the server is sent notifications/cancelled). */
  cancel(): void {
    this.controller?.abort("Cancelled by the user");
  }

  dispose(): void {
    this.cancel();
    this.stopTimer();
  }
}

/** A tool's arguments as being edited: the form's values or the raw JSON text. */
export interface Draft {
  mode: "form" | "raw";
  values: FormValues;
  raw: string;
}

export type PendingRequest =
  | { id: number; kind: "elicit"; params: ElicitParams; answer: (result: ElicitResult) => void }
  | { id: number; kind: "sample"; params: SamplingParams; answer: (text: string) => void; refuse: () => void };

type Listed = { tools: Tool[]; resources: Resource[]; templates: ResourceTemplate[]; prompts: Prompt[] };

export class Inspector {
  readonly session: InspectorSession;
  section = $state<Section>("tools");
  connection = $state<"idle" | "connecting" | "open" | "failed" | "closed">("idle");
  info = $state.raw<Connected | null>(null);
  /** What each section lists; null until asked. */
  lists = $state.raw<{ [K in keyof Listed]: Listed[K] | null }>({ tools: null, resources: null, templates: null, prompts: null });
  listErrors = $state.raw<Record<Section, ErrorView | null>>({ tools: null, resources: null, prompts: null });
  loading = $state.raw<Record<Section, boolean>>({ tools: false, resources: false, prompts: false });
  /** The server's questions, oldest first; the first is shown. */
  pending = $state.raw<PendingRequest[]>([]);
  readonly calls: Record<Section, CallState> = { tools: new CallState(), resources: new CallState(), prompts: new CallState() };
  /** The picked item of each section (tool or prompt name, resource URI or template). */
  picked = $state<Record<Section, string | null>>({ tools: null, resources: null, prompts: null });
  /** Each tool's arguments being edited, and each prompt's or template's values. */
  readonly drafts = new Map<string, Draft>();
  private nextId = 1;

  constructor(readonly name: string) {
    this.session = new InspectorSession(name, {
      elicit: (params, signal) =>
        new Promise<ElicitResult>((resolve) => {
          const id = this.nextId++;
          this.pending = [...this.pending, { id, kind: "elicit", params, answer: (result) => (this.settle(id), resolve(result)) }];
          signal.addEventListener("abort", () => this.settle(id));
        }),
      sample: (params, signal) =>
        new Promise<CreateMessageResult>((resolve, reject) => {
          const id = this.nextId++;
          this.pending = [
            ...this.pending,
            { id, kind: "sample", params, answer: (text) => (this.settle(id), resolve(samplingReply(text))), refuse: () => (this.settle(id), reject(samplingRefusal())) },
          ];
          signal.addEventListener("abort", () => this.settle(id));
        }),
    });
  }

  private settle(id: number): void {
    this.pending = this.pending.filter((p) => p.id !== id);
  }

  /** A draft kept per key (so coming back to a tool finds what was typed), made by `make` the first time. */
  draft(key: string, make: () => Draft): Draft {
    const known = this.drafts.get(key);
    if (known) return known;
    const made = $state(make());
    this.drafts.set(key, made);
    return made;
  }

  /** Closed (the tab left): nothing more is asked. (A getter: TypeScript would narrow the field across awaits.) */
  get closed(): boolean {
    return this.connection === "closed";
  }

  /** Connects (the first use does) and notes what the server said about itself. */
  async connect(): Promise<boolean> {
    if (this.connection === "closed") return false;
    if (this.connection !== "open") this.connection = "connecting";
    try {
      await this.session.connect();
      this.info = this.session.info;
      if (!this.closed) this.connection = "open";
      return true;
    } catch (e) {
      if (this.closed) return false;
      this.connection = "failed";
      const err = errorView(e);
      this.listErrors = { tools: err, resources: err, prompts: err };
      return false;
    }
  }

  /** Lists a section's items (again, with `force`). */
  async load(section: Section, force = false): Promise<void> {
    const listed = section === "tools" ? this.lists.tools : section === "resources" ? this.lists.resources : this.lists.prompts;
    if ((listed && !force) || this.loading[section]) return;
    this.loading = { ...this.loading, [section]: true };
    try {
      if (!(await this.connect())) return;
      if (section === "tools") this.lists = { ...this.lists, tools: await this.session.tools() };
      else if (section === "prompts") this.lists = { ...this.lists, prompts: await this.session.prompts() };
      else {
        const [resources, templates] = await Promise.all([this.session.resources(), this.session.templates()]);
        this.lists = { ...this.lists, resources, templates };
      }
      this.listErrors = { ...this.listErrors, [section]: null };
    } catch (e) {
      this.listErrors = { ...this.listErrors, [section]: errorView(e) };
    } finally {
      this.loading = { ...this.loading, [section]: false };
    }
  }

  /** Leaving the inspector: calls cancelled, questions cancelled, the session ended. */
  async close(): Promise<void> {
    this.connection = "closed";
    for (const call of Object.values(this.calls)) call.dispose();
    for (const p of this.pending) {
      if (p.kind === "elicit") p.answer({ action: "cancel" });
      else p.refuse();
    }
    await this.session.close();
  }
}
