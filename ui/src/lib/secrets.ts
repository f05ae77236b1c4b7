// Typed values kept in the user's secret store (`/api/secrets`: the OS keychain, or a 0600
// file where there is none) so that servers.json holds only `${secret:NAME}`: the names, the
// labels, and the requests of a save, in order, without the DOM.

import type { SecretsInfo, SecretStoreKind } from "./types";
import { buildEntry, type EntryFields } from "./validate";

/**
 * The secret a value of `key` (an env variable, a header) of server `server` is stored as:
 * `{SERVER}_{KEY}` upper-cased, each character outside [A-Za-z0-9_.-] replaced by `_` (as the
 * core names the secrets an import moves to the keychain).
 */
export function secretName(server: string, key: string): string {
  // Replaced before upper-casing: "ß".toUpperCase() is "SS", and one character stays one.
  return `${server}_${key}`.replace(/[^A-Za-z0-9_.-]/gu, "_").toUpperCase();
}

/** What servers.json holds instead of a stored value. */
export function secretRef(name: string): string {
  return `\${secret:${name}}`;
}

/**
 * A value that refers to something (`${env:VAR}`, `${secret:NAME}`) is written as is: stored
 * whole, the reference would be passed on literally (a stored value is not expanded again).
 */
export function isReference(value: string): boolean {
  return /\$\{(env|secret):/.test(value);
}

/** The checkbox's label. */
export function storeLabel(kind: SecretStoreKind): string {
  return kind === "keychain" ? "Store in keychain" : "Store in Switchboard's secrets file (no OS keychain here)";
}

/** Whether the box starts ticked: with a keychain, yes; with the file (or no store known), no. */
export function storedByDefault(info: SecretsInfo | null): boolean {
  return info?.store === "keychain";
}

/** Whether a typed value goes to the store: the box ticked, and a value to keep that is not a reference. */
export function willStore(value: string, ticked: boolean): boolean {
  return ticked && value !== "" && !isReference(value);
}

/** A row of values typed for a map (`env`, `headers`); `store` undefined: the default. */
export interface TypedRow {
  key: string;
  value: string;
  store?: boolean;
}

/** A value to store before the entry is written. */
export interface SecretPut {
  name: string;
  value: string;
  /** The map and key it was typed for (for messages). */
  map: MapName;
  key: string;
}

export type MapName = "env" | "headers";

/**
 * `rows` as written to the entry (stored values replaced by their references) and the values
 * to store. `storeDefault` null: no store is known, nothing is stored.
 */
export function storeRows(server: string, map: MapName, rows: readonly TypedRow[], storeDefault: boolean | null): { rows: TypedRow[]; secrets: SecretPut[] } {
  const out: TypedRow[] = [];
  const secrets: SecretPut[] = [];
  for (const row of rows) {
    if (storeDefault !== null && willStore(row.value, row.store ?? storeDefault)) {
      const name = secretName(server, row.key);
      secrets.push({ name, value: row.value, map, key: row.key });
      out.push({ key: row.key, value: secretRef(name) });
    } else {
      out.push({ key: row.key, value: row.value });
    }
  }
  return { rows: out, secrets };
}

/** Why these values cannot all be stored (two keys that name one secret), or null. */
export function clashError(secrets: readonly SecretPut[]): string | null {
  const seen = new Map<string, SecretPut>();
  for (const s of secrets) {
    const other = seen.get(s.name);
    if (other && other.value !== s.value) return `${other.key} and ${s.key} would both be stored as ${s.name}: store only one of them.`;
    seen.set(s.name, s);
  }
  return null;
}

/** The settings tab's edits of one map. */
export interface MapEdits {
  /** Existing names: undefined = keep, string = replace with, null = remove. */
  changes: Record<string, string | null | undefined>;
  /** Existing names being replaced: the box (undefined: the default). */
  store: Record<string, boolean | undefined>;
  added: readonly TypedRow[];
}

/** A request of a save, in the order they are made. */
export type Step =
  /** `PUT /api/secrets/{name}` */
  | ({ kind: "secret" } & SecretPut)
  /** `PATCH /api/servers/{name}` (settings) or `PUT` (a new server). */
  | { kind: "write"; body: Record<string, unknown> }
  /** `POST /api/servers/{name}/restart` */
  | { kind: "restart" };

/**
 * The requests of a save of the settings tab: each value to store first, then the patch (its
 * maps with references in place of the stored values), then, when a stored value replaced one
 * the entry had, a restart: the entry may already have read `${secret:NAME}` (a key being
 * rotated), in which case the patch leaves it as it was and would restart nothing.
 *
 * `base` is the rest of the patch; `storeDefault` null means no store is known (nothing
 * stored). Answers an error message instead when two values would be stored as one name.
 */
export function settingsSteps(
  server: string,
  base: Record<string, unknown>,
  maps: Partial<Record<MapName, MapEdits>>,
  storeDefault: boolean | null,
  options: { disabled?: boolean } = {},
): Step[] | string {
  const body: Record<string, unknown> = { ...base };
  const secrets: SecretPut[] = [];
  let replaced = false;
  for (const map of ["env", "headers"] as const) {
    const edits = maps[map];
    if (!edits) continue;
    const out: Record<string, string | null> = {};
    const replacing: TypedRow[] = [];
    for (const [key, value] of Object.entries(edits.changes)) {
      if (value === null) out[key] = null;
      else if (value !== undefined) replacing.push({ key, value, store: edits.store[key] });
    }
    const r = storeRows(server, map, replacing, storeDefault);
    const a = storeRows(server, map, edits.added, storeDefault);
    for (const row of [...r.rows, ...a.rows]) out[row.key] = row.value;
    secrets.push(...r.secrets, ...a.secrets);
    if (r.secrets.length > 0) replaced = true;
    if (Object.keys(out).length > 0) body[map] = out;
  }
  const clash = clashError(secrets);
  if (clash) return clash;
  const steps: Step[] = secrets.map((s) => ({ kind: "secret", ...s }));
  steps.push({ kind: "write", body });
  if (replaced && !options.disabled) steps.push({ kind: "restart" });
  return steps;
}

export interface StepDeps {
  putSecret(name: string, value: string): Promise<unknown>;
  write(body: Record<string, unknown>): Promise<unknown>;
  restart(): Promise<unknown>;
}

/** How running the steps went: the first that failed stops the rest. */
export interface StepsResult {
  done: Step[];
  failed: { step: Step; error: unknown } | null;
  /** What the write answered. */
  written: unknown;
}

/** Runs `steps` one after the other; one that fails stops it (a value not stored: nothing written). */
export async function runSteps(steps: readonly Step[], deps: StepDeps): Promise<StepsResult> {
  const done: Step[] = [];
  let written: unknown = undefined;
  for (const step of steps) {
    try {
      if (step.kind === "secret") await deps.putSecret(step.name, step.value);
      else if (step.kind === "write") written = await deps.write(step.body);
      else await deps.restart();
    } catch (error) {
      return { done, failed: { step, error }, written };
    }
    done.push(step);
  }
  return { done, failed: null, written };
}

/**
 * The requests of the Add server dialog: each value to store first, then the `PUT` of the
 * entry (`buildEntry`'s, with references in place of the stored values). Only the rows of the
 * dialog's mode count (the other mode's are kept on screen but not written).
 */
export function addSteps(server: string, fields: Omit<EntryFields, "env" | "headers"> & { env: TypedRow[]; headers: TypedRow[] }, storeDefault: boolean | null): Step[] | string {
  const map: MapName = fields.mode === "url" ? "headers" : "env";
  const { rows, secrets } = storeRows(server, map, fields[map], storeDefault);
  const clash = clashError(secrets);
  if (clash) return clash;
  const entry = buildEntry({ ...fields, [map]: rows });
  return [...secrets.map((s): Step => ({ kind: "secret", ...s })), { kind: "write", body: entry }];
}
