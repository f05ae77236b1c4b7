// The connection to `/api/events`: one EventSource, replaced with backoff when it fails (the
// gateway restarted, the laptop slept). The browser's own EventSource retry is not used: it
// has no backoff and gives up for good on some failures. A `hello` from the gateway marks the
// connection as up and resets the backoff; the caller refetches on it.

import { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from "./backoff";
import { EVENT_NAMES, type LiveEvent } from "./types";

export type LiveStatus =
  | { kind: "connecting"; attempt: number }
  | { kind: "open" }
  | { kind: "waiting"; attempt: number; retryAt: number };

/** The part of EventSource this module uses (a fake one in tests). */
export interface EventSourceLike {
  addEventListener(type: string, listener: (event: MessageEvent) => void): void;
  close(): void;
  onerror: ((event: Event) => void) | null;
}

export interface LiveDeps {
  createEventSource: (url: string) => EventSourceLike;
  setTimeout: (fn: () => void, ms: number) => unknown;
  clearTimeout: (handle: unknown) => void;
  now: () => number;
  random: () => number;
  backoff: BackoffOptions;
}

export interface LiveHandlers {
  onEvent: (event: LiveEvent) => void;
  onStatus: (status: LiveStatus) => void;
}

export function browserDeps(): LiveDeps {
  return {
    createEventSource: (url) => new EventSource(url),
    setTimeout: (fn, ms) => window.setTimeout(fn, ms),
    clearTimeout: (h) => window.clearTimeout(h as number),
    now: () => Date.now(),
    random: Math.random,
    backoff: DEFAULT_BACKOFF,
  };
}

export class LiveConnection {
  private source: EventSourceLike | null = null;
  private timer: unknown = null;
  private attempt = 0;
  private stopped = true;
  status: LiveStatus = { kind: "connecting", attempt: 0 };

  constructor(
    private readonly url: string,
    private readonly handlers: LiveHandlers,
    private readonly deps: LiveDeps,
  ) {}

  start(): void {
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    this.clearTimer();
    this.source?.close();
    this.source = null;
  }

  /** Reconnects now instead of waiting out the backoff (a button, the tab becoming visible). */
  retryNow(): void {
    if (this.stopped || this.status.kind !== "waiting") return;
    this.clearTimer();
    this.connect();
  }

  private setStatus(status: LiveStatus): void {
    this.status = status;
    this.handlers.onStatus(status);
  }

  private clearTimer(): void {
    if (this.timer !== null) this.deps.clearTimeout(this.timer);
    this.timer = null;
  }

  private connect(): void {
    this.source?.close();
    this.setStatus({ kind: "connecting", attempt: this.attempt });
    const source = this.deps.createEventSource(this.url);
    this.source = source;
    for (const name of EVENT_NAMES) {
      source.addEventListener(name, (message) => {
        if (this.source !== source) return;
        let event: LiveEvent;
        try {
          event = { ...JSON.parse(message.data), type: name } as LiveEvent;
        } catch {
          event = { type: name } as LiveEvent;
        }
        if (name === "hello") {
          this.attempt = 0;
          this.setStatus({ kind: "open" });
        }
        this.handlers.onEvent(event);
      });
    }
    source.onerror = () => {
      if (this.source !== source || this.stopped) return;
      source.close();
      this.source = null;
      const delay = backoffDelay(this.attempt, this.deps.backoff, this.deps.random);
      this.attempt++;
      this.setStatus({ kind: "waiting", attempt: this.attempt, retryAt: this.deps.now() + delay });
      this.timer = this.deps.setTimeout(() => {
        this.timer = null;
        if (!this.stopped) this.connect();
      }, delay);
    };
  }
}
