// Remote servers (servers.json entries with a `url`) as the views show them, and signing in to
// one: the gateway answers the authorization server's page, the browser opens it in a new
// tab, and after the user approves the server reconnects (a `serverState` event says
// `running`). Pure, with the API and the browser passed in, so it is unit-tested.

import { ApiError } from "./api";
import type { ServerState, ServerSummary, Transport } from "./types";

/** Whether the server is reached at a URL rather than run as a program. */
export function isRemote(server: Pick<ServerSummary, "url">): boolean {
  return typeof server.url === "string";
}

/** The small label of a remote transport; none for stdio (or before the first attempt). */
export function transportLabel(transport: Transport | null | undefined): "HTTP" | "SSE" | null {
  return transport === "streamable-http" ? "HTTP" : transport === "sse" ? "SSE" : null;
}

/** The label's tooltip. */
export function transportTitle(transport: Transport | null | undefined): string {
  return transport === "streamable-http"
    ? "Reached over Streamable HTTP"
    : transport === "sse"
      ? "Reached over HTTP+SSE (the older MCP transport)"
      : "Not reached yet";
}

/** How long a sign-in begun stays good at the gateway: the dashboard waits no longer. */
export const SIGN_IN_WAIT_MS = 10 * 60_000;

/** A sign-in begun from this page: the page opened, and when. */
export interface PendingSignIn {
  url: string;
  since: number;
}

export interface SignInDeps {
  /** `POST /api/servers/{name}/auth`. */
  begin: (name: string) => Promise<{ authorizationUrl: string }>;
  /** `window.open`. */
  open: (url: string, target: string, features: string) => unknown;
}

/**
 * Begins a sign-in to `name` and opens the authorization page in a new tab (without a handle
 * back to this page). Answers the page's URL; throws the API's error, or one of its own when
 * the answer is not an http(s) URL (it is never opened then).
 */
export async function beginSignIn(name: string, deps: SignInDeps): Promise<string> {
  const answer = await deps.begin(name);
  const url = answer?.authorizationUrl;
  let protocol = "";
  try {
    protocol = new URL(url).protocol;
  } catch {
    // reported below
  }
  if (typeof url !== "string" || (protocol !== "https:" && protocol !== "http:")) {
    throw new ApiError(0, "bad_authorization_url", "the gateway answered no sign-in page to open");
  }
  deps.open(url, "_blank", "noopener");
  return url;
}

/** Whether a sign-in begun at `pending.since` is still awaited, the server now in `state`. */
export function stillWaiting(pending: PendingSignIn, state: ServerState, now: number): boolean {
  if (now - pending.since > SIGN_IN_WAIT_MS) return false;
  // After the browser came back the server reconnects: starting (or restarting), then running.
  return state === "needs-auth" || state === "starting" || state === "restarting";
}

/**
 * The sign-ins still awaited, given each server's state now (`null`: the server is gone), and
 * those that ended because their server runs (signed in).
 */
export function settleSignIns(
  pending: Readonly<Record<string, PendingSignIn>>,
  stateOf: (name: string) => ServerState | null,
  now: number,
): { pending: Record<string, PendingSignIn>; signedIn: string[]; changed: boolean } {
  const kept: Record<string, PendingSignIn> = {};
  const signedIn: string[] = [];
  let changed = false;
  for (const [name, p] of Object.entries(pending)) {
    const state = stateOf(name);
    if (state !== null && stillWaiting(p, state, now)) {
      kept[name] = p;
      continue;
    }
    changed = true;
    if (state === "running") signedIn.push(name);
  }
  return { pending: kept, signedIn, changed };
}
