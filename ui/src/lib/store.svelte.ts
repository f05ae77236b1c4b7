// The dashboard's state: what the gateway reported, kept current by `/api/events` (no
// polling), and the actions that change servers.json through the API.

import { api, ApiError } from "./api";
import { exposes, setExposed, toolsPatch } from "./filter";
import { browserDeps, LiveConnection, type LiveStatus } from "./live";
import { beginSignIn, settleSignIns, stillWaiting, type PendingSignIn } from "./remote";
import { runSteps, type Step } from "./secrets";
import { emptyModel, hasEffects, mergeEffects, NO_EFFECTS, reduce, rowFromDetail, rowsFrom, type Catalog, type Effects, type Model } from "./reducer";
import { Throttle } from "./activity";
import { dueForRefresh, formatIdleStop, startChange } from "./ondemand";
import type { ActivityStat, DetectedClient, EndpointCost, LiveEvent, SecretsInfo, ServerDetail, ServerEntry, ToolRules } from "./types";

export interface Toast {
  id: number;
  kind: "info" | "error";
  text: string;
}

/** How long effects of a burst of events are gathered before refetching. */
const COALESCE_MS = 60;
/** The server cards' activity numbers are read again at most this often while calls are recorded. */
const SERVER_ACTIVITY_MS = 10_000;
/** The list is read again at most this often while calls move on-demand servers' sleep times. */
const SLEEP_TIMES_MS = 3_000;

class Dashboard {
  model = $state<Model>(emptyModel());
  /** The first `/api/servers` answer arrived. */
  loaded = $state(false);
  loadError = $state<string | null>(null);
  live = $state<LiveStatus>({ kind: "connecting", attempt: 0 });
  /** A clock for uptimes and countdowns, ticking once a second. */
  now = $state(Date.now());
  toasts = $state<Toast[]>([]);

  /** The server whose page is open, and its detail (tools can be thousands: not deep-proxied). */
  openName = $state<string | null>(null);
  detail = $state.raw<ServerDetail | null>(null);
  detailFetchedAt = 0;
  detailError = $state<ApiError | null>(null);
  /** Tools whose switch was flipped and not yet confirmed by the gateway: name -> wanted. */
  pendingTools = $state.raw<ReadonlyMap<string, boolean>>(new Map());
  /** Bumped when a server's resources or prompts changed, so an open tab refetches. */
  catalogVersion = $state<Record<string, number>>({});

  /** Sign-ins begun from this page and not yet over: server name -> the page opened. */
  signIns = $state<Record<string, PendingSignIn>>({});

  /** The Clients page: what `/api/clients` last answered (kept while away, refetched on return). */
  clients = $state.raw<DetectedClient[] | null>(null);
  clientsError = $state<string | null>(null);
  clientsLoading = $state(false);
  /** The project folder the Clients page works on, or null for the user's own files. */
  clientsProject = $state<string | null>(null);

  /** `GET /api/secrets` (where typed values can be stored); null until known, or when the gateway keeps none. */
  secrets = $state.raw<SecretsInfo | null>(null);

  /** Each server's calls and latency over the last hour (for the cards); servers without calls are absent. */
  serverActivity = $state.raw<ReadonlyMap<string, ActivityStat>>(new Map());

  /** `GET /api/tokens`: the aggregate endpoint's cost, for the server list; null until read (or a gateway that counts none). */
  aggregateCost = $state.raw<EndpointCost | null>(null);

  private connection: LiveConnection | null = null;
  private clientsOpen = false;
  private clientsSeq = 0;
  private pending: Effects = NO_EFFECTS;
  private flushTimer: ReturnType<typeof setTimeout> | null = null;
  private flushing: Promise<void> | null = null;
  private detailSeq = 0;
  private toastSeq = 0;
  private toolQueue = new Map<string, boolean>();
  private toolWorker: Promise<void> | null = null;
  private liveListeners = new Set<(event: LiveEvent) => void>();
  private activityOpen = false;
  /** Calls were recorded since the cards' numbers were read. */
  private activityStale = true;
  private activitySeq = 0;
  private activityThrottle = new Throttle(() => void this.fetchServerActivity(), SERVER_ACTIVITY_MS);
  /** The server list is shown: the aggregate's cost is read with the list. */
  private listOpen = false;
  /** The list was refetched while the aggregate's cost was not (the list page was closed). */
  private costStale = true;
  private costSeq = 0;
  /** Calls to on-demand servers move their sleep times: the list is read again, at most every 3 s. */
  private sleepTimesThrottle = new Throttle(() => this.request({ ...NO_EFFECTS, list: true }), SLEEP_TIMES_MS);
  /** Servers read again when their countdown ran out: name -> the sleep time that ran out (once each). */
  private sleepsChecked = new Map<string, number>();

  start(): void {
    if (this.connection) return;
    this.connection = new LiveConnection("/api/events", { onEvent: (e) => this.onEvent(e), onStatus: (s) => (this.live = s) }, browserDeps());
    this.connection.start();
    // A first load without waiting for `hello` (which triggers the same fetch).
    this.request({ ...NO_EFFECTS, list: true, config: true });
    setInterval(() => {
      if (document.visibilityState !== "visible") return;
      this.now = Date.now();
      this.checkSleeps();
    }, 1000);
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") {
        this.now = Date.now();
        this.connection?.retryNow();
        // Nothing watches the clients' files: one may have been edited meanwhile.
        if (this.clientsOpen) void this.fetchClients();
      }
    });
    window.addEventListener("online", () => this.connection?.retryNow());
  }

  retryNow(): void {
    this.connection?.retryNow();
  }

  get servers() {
    return this.model.servers;
  }

  row(name: string) {
    return this.model.servers.find((s) => s.name === name) ?? null;
  }

  private onEvent(event: LiveEvent): void {
    const { model, effects } = reduce(this.model, event, Date.now());
    if (model !== this.model) this.model = model;
    if (event.type === "serverState") this.settleSignIns();
    for (const listener of this.liveListeners) listener(event);
    if (event.type === "promptsChanged" || event.type === "resourcesChanged") {
      for (const c of effects.catalogs) this.bumpCatalog(c.name, c.what);
      return;
    }
    this.request(effects);
  }

  private bumpCatalog(name: string, what: Catalog): void {
    const key = `${name}/${what}`;
    this.catalogVersion[key] = (this.catalogVersion[key] ?? 0) + 1;
  }

  /** Schedules refetches; a burst of events becomes one round of requests. */
  private request(effects: Effects): void {
    if (!hasEffects(effects)) return;
    this.pending = mergeEffects(this.pending, effects);
    if (this.flushTimer === null) this.flushTimer = setTimeout(() => void this.flush(), COALESCE_MS);
  }

  private async flush(): Promise<void> {
    this.flushTimer = null;
    // One round at a time, so an older answer never lands after a newer one.
    if (this.flushing) {
      await this.flushing;
      if (this.flushTimer === null && hasEffects(this.pending)) this.flushTimer = setTimeout(() => void this.flush(), 0);
      return;
    }
    const effects = this.pending;
    this.pending = NO_EFFECTS;
    this.flushing = this.run(effects).finally(() => (this.flushing = null));
    await this.flushing;
  }

  private async run(effects: Effects): Promise<void> {
    const jobs: Promise<unknown>[] = [];
    if (effects.list) {
      jobs.push(this.fetchList());
      // What changes the list (states, tools, filters, servers) changes the cost: read with it.
      if (this.listOpen) jobs.push(this.fetchAggregateCost());
      else this.costStale = true;
    }
    if (effects.config) jobs.push(this.fetchConfig());
    const open = this.openName;
    if (open !== null && (effects.details.includes("*") || effects.details.includes(open))) jobs.push(this.fetchDetail(open));
    if (effects.clients && this.clientsOpen) jobs.push(this.fetchClients());
    if (effects.stats) this.requestServerActivity();
    if (effects.usage) this.sleepTimesThrottle.request();
    await Promise.allSettled(jobs);
  }

  /**
   * A running on-demand server whose countdown ran out is read again, once for that sleep
   * time (it usually went to sleep, and its `serverState` event said so already; if a call
   * moved its time meanwhile, the answer says the new one). Never polled beyond that.
   */
  private checkSleeps(): void {
    for (const name of dueForRefresh(this.model.servers, this.now, this.sleepsChecked)) {
      const row = this.row(name);
      if (row?.sleepsAtMs == null) continue;
      this.sleepsChecked.set(name, row.sleepsAtMs);
      void this.refreshServer(name);
    }
  }

  /** Reads one server again (its row, and its detail if its page is open). */
  private async refreshServer(name: string): Promise<void> {
    try {
      const detail = await api.server(name);
      const index = this.model.servers.findIndex((s) => s.name === name);
      if (index >= 0) {
        const servers = this.model.servers.slice();
        this.now = Date.now();
        servers[index] = rowFromDetail(detail, this.now);
        this.model = { ...this.model, servers };
      }
      this.setDetail(detail);
    } catch {
      // Gone or unreachable: the events and the banner say so.
    }
  }

  /** Every event of `/api/events` as it comes (the activity page's live entries); answers the unsubscribe. */
  onLive(listener: (event: LiveEvent) => void): () => void {
    this.liveListeners.add(listener);
    return () => this.liveListeners.delete(listener);
  }

  /** The server list was opened (its cards' activity numbers are read, then kept current) or closed. */
  watchServerActivity(open: boolean): void {
    if (open === this.activityOpen) return;
    this.activityOpen = open;
    if (!open) this.activityThrottle.cancel();
    // Calls came meanwhile, or the hour moved on (older calls fell out of it).
    else if (this.activityStale || !this.activityThrottle.ranWithin(60_000)) this.activityThrottle.request();
  }

  /**
   * The server list was opened (the aggregate's cost is read if the list changed meanwhile,
   * then with every refetch of the list) or closed. Never polled.
   */
  watchAggregateCost(open: boolean): void {
    if (open === this.listOpen) return;
    this.listOpen = open;
    // A refetch of the list already waiting reads it too.
    if (open && this.costStale && !this.pending.list) void this.fetchAggregateCost();
  }

  private async fetchAggregateCost(): Promise<void> {
    const seq = ++this.costSeq;
    this.costStale = false;
    try {
      const cost = await api.tokens();
      if (seq === this.costSeq) this.aggregateCost = cost;
    } catch (e) {
      this.costStale = true;
      // A gateway that does not count tokens: no summary. (Not reachable: the banner says so, the numbers stay.)
      if (seq === this.costSeq && (e as ApiError).status === 404) this.aggregateCost = null;
    }
  }

  private requestServerActivity(): void {
    this.activityStale = true;
    if (this.activityOpen) this.activityThrottle.request();
  }

  /** One `GET /api/activity/stats` for all the cards: the last hour, per server. */
  private async fetchServerActivity(): Promise<void> {
    const seq = ++this.activitySeq;
    this.activityStale = false;
    try {
      const stats = await api.activityStats({ window: 3600, buckets: 1 });
      if (seq === this.activitySeq) this.serverActivity = new Map(stats.servers.filter((s) => s.calls > 0).map((s) => [s.server, s]));
    } catch (e) {
      this.activityStale = true;
      // A gateway without the activity log: no numbers. (Not reachable: the banner says so, the numbers stay.)
      if (seq === this.activitySeq && (e as ApiError).status === 404) this.serverActivity = new Map();
    }
  }

  private async fetchList(): Promise<void> {
    try {
      const servers = await api.servers();
      // The clock too, so countdowns start from the answer (not from up to a second before it).
      this.now = Date.now();
      this.model = { ...this.model, servers: rowsFrom(servers, this.now) };
      this.loaded = true;
      this.loadError = null;
      this.settleSignIns();
    } catch (e) {
      this.loadError = (e as Error).message;
    }
  }

  private async fetchConfig(): Promise<void> {
    try {
      const config = await api.config();
      this.model = { ...this.model, config, configMessage: config.error ? this.model.configMessage : null };
    } catch {
      // the connection banner says why
    }
  }

  /** The Clients page was opened (fetched now, and on events while open) or closed. */
  watchClients(open: boolean): void {
    if (open === this.clientsOpen) return;
    this.clientsOpen = open;
    if (open) void this.fetchClients();
  }

  /** Reads the clients' files again (after an action, or when asked). */
  async fetchClients(): Promise<void> {
    const seq = ++this.clientsSeq;
    this.clientsLoading = true;
    try {
      const clients = await api.clients(this.clientsProject);
      if (seq === this.clientsSeq) {
        this.clients = clients;
        this.clientsError = null;
      }
    } catch (e) {
      if (seq === this.clientsSeq) this.clientsError = (e as Error).message;
    } finally {
      if (seq === this.clientsSeq) this.clientsLoading = false;
    }
  }

  /** Switches the Clients page to a project folder's files (null: the user's own). */
  setClientsProject(project: string | null): void {
    this.clientsProject = project;
    this.clients = null;
    this.clientsError = null;
    void this.fetchClients();
  }

  /** After a client action wrote a file: what the clients reach, and (an import) the servers. */
  clientsChanged(): void {
    void this.fetchClients();
    this.request({ ...NO_EFFECTS, list: true });
  }

  /** Opens a server's page (or closes it with `null`) and loads its detail. */
  open(name: string | null): void {
    if (name === this.openName) return;
    this.openName = name;
    this.detail = null;
    this.detailError = null;
    this.pendingTools = new Map();
    this.toolQueue.clear();
    if (name !== null) void this.fetchDetail(name);
  }

  private async fetchDetail(name: string): Promise<void> {
    const seq = ++this.detailSeq;
    try {
      const detail = await api.server(name);
      if (seq === this.detailSeq && this.openName === name) {
        this.detailFetchedAt = Date.now();
        this.detail = detail;
        this.detailError = null;
      }
    } catch (e) {
      if (seq === this.detailSeq && this.openName === name) {
        this.detailError = e as ApiError;
        if ((e as ApiError).status === 404) this.detail = null; // removed meanwhile
      }
    }
  }

  private setDetail(detail: ServerDetail): void {
    if (detail.name !== this.openName) return;
    this.detailSeq++; // an answer to an earlier GET is older than this
    this.detailFetchedAt = Date.now();
    this.detail = detail;
    this.detailError = null;
  }

  toast(kind: Toast["kind"], text: string): void {
    const id = ++this.toastSeq;
    this.toasts = [...this.toasts, { id, kind, text }];
    setTimeout(() => this.dismiss(id), kind === "error" ? 9000 : 5000);
  }

  dismiss(id: number): void {
    this.toasts = this.toasts.filter((t) => t.id !== id);
  }

  private fail(what: string, e: unknown): void {
    const message = e instanceof Error ? e.message : String(e);
    this.toast("error", `${what}: ${message}`);
  }

  async restart(name: string): Promise<boolean> {
    // An on-demand server asleep has nothing to restart: it is started.
    const asleep = this.row(name)?.state === "idle";
    try {
      await api.restart(name);
      this.toast("info", asleep ? `Starting ${name}…` : `Restarting ${name}…`);
      return true;
    } catch (e) {
      this.fail(`Could not restart ${name}`, e);
      return false;
    }
  }

  async setDisabled(name: string, disabled: boolean): Promise<boolean> {
    return this.patch(name, { disabled: disabled ? true : null }, disabled ? `${name} disabled` : `${name} enabled`);
  }

  /** `start`: on demand (started by the first request that needs it) or always; answers whether it was written. */
  async setOnDemand(name: string, onDemand: boolean): Promise<boolean> {
    const row = this.row(name) ?? (this.detail?.name === name ? this.detail : null);
    const change = startChange(name, onDemand, row?.state ?? "stopped", row?.idleStopSecs);
    return this.patch(name, { start: change.start }, change.message);
  }

  /** `idleStopSecs`: how long an on-demand server may go unused before it is stopped. */
  async setIdleStop(name: string, secs: number): Promise<boolean> {
    return this.patch(name, { idleStopSecs: secs }, `${name} now stops after ${formatIdleStop(secs)} unused`);
  }

  /** A merge patch of the entry; answers whether it was written. */
  async patch(name: string, patch: Record<string, unknown>, success?: string): Promise<boolean> {
    try {
      const detail = await api.patch(name, patch);
      this.setDetail(detail);
      if (success) this.toast("info", success);
      this.request({ ...NO_EFFECTS, list: true });
      return true;
    } catch (e) {
      this.fail(`Could not change ${name}`, e);
      return false;
    }
  }

  /** Reads where secrets are stored (the settings tab and the add dialog ask when opened). */
  async fetchSecrets(): Promise<void> {
    try {
      this.secrets = await api.secrets();
    } catch {
      this.secrets = null; // no store: values are written as typed, as before
    }
  }

  private secretsPlace(): string {
    return this.secrets?.store === "file" ? "Switchboard's secrets file" : "the keychain";
  }

  /**
   * Runs a save's requests (`settingsSteps`): values stored first, then the patch, then a
   * restart if asked. A value not stored writes nothing; every failure is a toast.
   */
  async save(name: string, steps: readonly Step[], success?: string): Promise<boolean> {
    const result = await runSteps(steps, {
      putSecret: (secret, value) => api.putSecret(secret, value),
      write: (body) => api.patch(name, body),
      restart: () => api.restart(name),
    });
    if (result.done.some((s) => s.kind === "secret")) void this.fetchSecrets();
    if (result.written) {
      this.setDetail(result.written as ServerDetail);
      this.request({ ...NO_EFFECTS, list: true });
    }
    const failed = result.failed;
    if (failed === null) {
      const stored = steps.flatMap((s) => (s.kind === "secret" ? [s.name] : []));
      if (success) this.toast("info", stored.length > 0 ? `${success} (${stored.join(", ")} stored in ${this.secretsPlace()})` : success);
      return true;
    }
    if (failed.step.kind === "secret") this.fail(`Could not store ${failed.step.name} in ${this.secretsPlace()}, so nothing was saved`, failed.error);
    else if (failed.step.kind === "write") this.fail(`Could not change ${name}`, failed.error);
    else {
      // Written: the form is done; only the restart is left to do.
      this.fail(`Saved, but could not restart ${name} (restart it to use the new value)`, failed.error);
      return true;
    }
    return false;
  }

  /** Adds a server with `addSteps`' requests: values stored first; answers the first error. */
  async add(name: string, steps: readonly Step[]): Promise<ApiError | null> {
    const result = await runSteps(steps, {
      putSecret: (secret, value) => api.putSecret(secret, value),
      write: (body) => api.put(name, body as ServerEntry),
      restart: () => api.restart(name),
    });
    if (result.done.some((s) => s.kind === "secret")) void this.fetchSecrets();
    const failed = result.failed;
    if (failed === null) {
      await this.fetchList(); // so its page has its row at once
      this.toast("info", `${name} added`);
      return null;
    }
    const e = failed.error instanceof ApiError ? failed.error : new ApiError(0, "error", String(failed.error));
    if (failed.step.kind === "secret") return new ApiError(e.status, e.code, `Could not store ${failed.step.name} in ${this.secretsPlace()}, so nothing was added: ${e.message}`);
    return e;
  }

  async remove(name: string): Promise<boolean> {
    try {
      await api.remove(name);
      this.model = { ...this.model, servers: this.model.servers.filter((s) => s.name !== name) };
      this.request({ ...NO_EFFECTS, list: true });
      this.toast("info", `${name} removed`);
      return true;
    } catch (e) {
      this.fail(`Could not remove ${name}`, e);
      return false;
    }
  }

  /**
   * Begins signing in to a remote server: opens the authorization server's page in a new tab
   * and waits (on this page) until the server runs; errors become toasts.
   */
  async signIn(name: string): Promise<boolean> {
    try {
      const url = await beginSignIn(name, { begin: api.signIn, open: (u, target, features) => window.open(u, target, features) });
      this.signIns[name] = { url, since: Date.now() };
      return true;
    } catch (e) {
      this.fail(`Could not sign in to ${name}`, e);
      return false;
    }
  }

  /** The sign-in to `name` this page waits for, if any. */
  waitingSignIn(name: string): PendingSignIn | null {
    const pending = this.signIns[name];
    const row = this.row(name);
    return pending && row && stillWaiting(pending, row.state, this.now) ? pending : null;
  }

  /** Stops waiting for a sign-in (the page may still be completed in the browser). */
  cancelSignIn(name: string): void {
    delete this.signIns[name];
  }

  private settleSignIns(): void {
    if (Object.keys(this.signIns).length === 0) return;
    const { pending, signedIn, changed } = settleSignIns(this.signIns, (n) => this.row(n)?.state ?? null, Date.now());
    if (!changed) return;
    this.signIns = pending;
    for (const name of signedIn) this.toast("info", `Signed in to ${name}`);
  }

  /** Forgets a remote server's tokens; it reconnects without them (and usually needs a sign-in again). */
  async signOut(name: string): Promise<boolean> {
    try {
      await api.signOut(name);
      delete this.signIns[name];
      this.toast("info", `Signed out of ${name}: it reconnects without the tokens`);
      this.request({ ...NO_EFFECTS, list: true, details: [name] });
      return true;
    } catch (e) {
      this.fail(`Could not sign out of ${name}`, e);
      return false;
    }
  }

  /** Whether a tool shows as on: the wanted state while a change is pending. */
  toolOn(tool: { name: string; exposed: boolean }): boolean {
    return this.pendingTools.get(tool.name) ?? tool.exposed;
  }

  /**
   * Flips a tool's switch on the open server. Flips made while a save is in flight are
   * gathered into the next save, each computed from the rules the gateway last returned.
   */
  setTool(tool: string, expose: boolean): void {
    if (this.openName === null) return;
    this.toolQueue.set(tool, expose);
    const pending = new Map(this.pendingTools);
    pending.set(tool, expose);
    this.pendingTools = pending;
    if (!this.toolWorker) this.toolWorker = this.saveTools(this.openName).finally(() => (this.toolWorker = null));
  }

  private async saveTools(name: string): Promise<void> {
    while (this.toolQueue.size > 0 && this.openName === name && this.detail) {
      const batch = new Map(this.toolQueue);
      this.toolQueue.clear();
      const known = this.detail.toolList.map((t) => t.name);
      const before: ToolRules = this.detail.filter ?? { allow: null, deny: [] };
      let rules = before;
      const notes: string[] = [];
      for (const [tool, expose] of batch) {
        const result = setExposed(rules, tool, expose, known);
        rules = result.rules;
        notes.push(...result.notes);
      }
      const patch = toolsPatch(before, rules);
      let ok = true;
      if (patch) {
        try {
          this.setDetail(await api.patch(name, patch));
          this.request({ ...NO_EFFECTS, list: true });
        } catch (e) {
          ok = false;
          this.fail(`Could not change the tools of ${name}`, e);
        }
      }
      if (this.openName !== name) return;
      const pending = new Map(this.pendingTools);
      for (const [tool, expose] of batch) if (this.toolQueue.get(tool) === undefined && pending.get(tool) === expose) pending.delete(tool);
      this.pendingTools = pending;
      if (ok) for (const note of notes) this.toast("info", note);
      if (ok && this.detail) {
        for (const [tool, expose] of batch) {
          if (exposes(this.detail.filter ?? { allow: null, deny: [] }, tool) !== expose && !this.toolQueue.has(tool)) {
            this.toast("error", `${tool} is still ${expose ? "hidden" : "exposed"}: see tools.allow and tools.deny in servers.json.`);
          }
        }
      }
    }
  }
}

export const dashboard = new Dashboard();
