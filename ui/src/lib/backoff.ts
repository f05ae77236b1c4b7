// Reconnect delays for the event stream: exponential with jitter, capped, reset by the caller
// once a connection is established (the gateway's `hello`).

export interface BackoffOptions {
  /** Delay before the first retry. */
  initialMs: number;
  /** Upper bound of any delay (before jitter). */
  maxMs: number;
  /** Growth per failed attempt. */
  factor: number;
  /** Spread, as a fraction of the delay: 0.2 gives ±20%. */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 500, maxMs: 15_000, factor: 2, jitter: 0.2 };

/** Milliseconds to wait before retry number `attempt` (0 for the first retry). */
export function backoffDelay(attempt: number, options: BackoffOptions = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const n = Math.max(0, Math.floor(attempt));
  const base = Math.min(options.maxMs, options.initialMs * Math.pow(options.factor, Math.min(n, 64)));
  const spread = base * options.jitter * (random() * 2 - 1);
  return Math.max(0, Math.round(base + spread));
}
