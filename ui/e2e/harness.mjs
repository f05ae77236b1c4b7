// The e2e harness: a real `switchboard serve` (the built binary) on a free port with a
// temporary servers.json, real MCP servers from tests/node, Debian's Chromium driven by
// playwright-core, and the TypeScript SDK client of tests/clients. Every wait is bounded;
// every process started here is killed when its test ends, also on failure.

import { spawn, execFile } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync, readFileSync, renameSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const ARTIFACTS = path.join(ROOT, "test-artifacts", "dashboard");
const TARGET = process.env.CARGO_TARGET_DIR ? path.resolve(ROOT, process.env.CARGO_TARGET_DIR) : path.join(ROOT, "target");
const BIN = process.env.SWITCHBOARD_BIN ?? path.join(TARGET, "debug", "switchboard");
const EVERYTHING = path.join(ROOT, "tests", "node", "node_modules", ".bin", "mcp-server-everything");
const TS_CLIENT = path.join(ROOT, "tests", "clients", "ts_client.mjs");
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";

for (const [what, file, fix] of [
  ["the switchboard binary", BIN, "cargo build -p switchboard"],
  ["server-everything", EVERYTHING, "bash tests/setup.sh"],
  ["Chromium", CHROMIUM, "bash scripts/system-deps chromium"],
]) {
  if (!existsSync(file)) throw new Error(`${what} is missing at ${file}: run \`${fix}\` first (scripts/test does)`);
}
mkdirSync(ARTIFACTS, { recursive: true });

/** A server entry running @modelcontextprotocol/server-everything over stdio. */
export function everything(extra = {}) {
  return { command: EVERYTHING, args: ["stdio"], ...extra };
}

/** Polls `check` until it returns a truthy value; fails with `what` after `timeoutMs`. */
export async function waitFor(what, check, timeoutMs = 20_000, everyMs = 100) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last.message}` : ""}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

const live = new Set();
process.on("exit", () => {
  for (const child of live) {
    try {
      child.kill("SIGKILL");
    } catch {
      // gone
    }
  }
});

/**
 * Starts `switchboard serve` with `file` as servers.json (an object, or text as is). `env` is
 * added to its environment (a temporary HOME for the clients' files, say).
 */
export async function startSwitchboard(file, { port = 0, dir, env = {} } = {}) {
  dir ??= mkdtempSync(path.join(tmpdir(), "sb-e2e-"));
  const config = path.join(dir, "servers.json");
  if (file !== undefined) writeFileSync(config, typeof file === "string" ? file : JSON.stringify(file, null, 2));
  const child = spawn(BIN, ["serve", "--config", config, "--port", String(port)], {
    env: { ...process.env, XDG_DATA_HOME: path.join(dir, "data"), RUST_LOG: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  live.add(child);
  let stderr = "";
  child.stderr.on("data", (d) => {
    stderr = (stderr + d).slice(-20_000);
  });
  const url = await new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`switchboard did not start within 30 s; stderr:\n${stderr}`)), 30_000);
    child.stdout.on("data", (d) => {
      out += d;
      const m = /switchboard listening on (\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`switchboard exited (${code}) before listening; stderr:\n${stderr}`));
    });
  });
  const exited = new Promise((r) => child.on("exit", r));
  const sb = {
    url,
    port: Number(new URL(url).port),
    dir,
    config,
    child,
    get stderr() {
      return stderr;
    },
    async api(p, init) {
      const r = await fetch(url + p, init);
      const text = await r.text();
      return { status: r.status, body: text ? JSON.parse(text) : null };
    },
    async server(name) {
      return (await sb.api(`/api/servers/${name}`)).body;
    },
    async waitRunning(name, timeoutMs = 30_000) {
      return waitFor(`${name} to run`, async () => {
        const s = await sb.server(name);
        return s?.state === "running" && s.pid ? s : null;
      }, timeoutMs);
    },
    readConfig() {
      return JSON.parse(readFileSync(config, "utf8"));
    },
    /** Saves servers.json as editors do: write a temp file, rename it over. */
    writeConfig(value) {
      const tmp = `${config}.tmp-${process.pid}`;
      writeFileSync(tmp, typeof value === "string" ? value : JSON.stringify(value, null, 2));
      renameSync(tmp, config);
    },
    /** SIGTERM (Switchboard stops its servers), SIGKILL after 15 s. */
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      await exited;
      clearTimeout(timer);
      live.delete(child);
    },
  };
  return sb;
}

export function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Headless Debian Chromium with a fresh profile. */
export async function launchBrowser({ colorScheme = "light", viewport = { width: 1280, height: 860 } } = {}) {
  const profile = mkdtempSync(path.join(tmpdir(), "sb-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    colorScheme,
    viewport,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    timeout: 30_000,
  });
  context.setDefaultTimeout(15_000);
  const page = context.pages()[0] ?? (await context.newPage());
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => {
    if (m.type() === "error" && !/Failed to load resource|ERR_CONNECTION_REFUSED|net::ERR/.test(m.text())) errors.push(m.text());
  });
  return {
    context,
    page,
    errors,
    async close() {
      await context.close().catch(() => {});
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export async function screenshot(page, name, options = {}) {
  const file = path.join(ARTIFACTS, `${name}.png`);
  // A full-page capture of a scrolled page draws the sticky header mid-page.
  if (options.fullPage) await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: file, ...options });
  return file;
}

/** Tool names a real MCP client (the TypeScript SDK) sees on `url`. */
export function clientTools(url) {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [TS_CLIENT, "--url", url, "--transport", "streamable", "--scenario", "list_tools", "--timeout", "30"],
      { timeout: 45_000 },
      (error, stdout, stderr) => {
        const last = stdout.trim().split("\n").pop() ?? "";
        let result;
        try {
          result = JSON.parse(last);
        } catch {
          return reject(new Error(`ts_client printed no result (${error?.message ?? "no error"}):\n${stdout}\n${stderr}`));
        }
        if (!result.ok) return reject(new Error(`ts_client failed: ${JSON.stringify(result.error)}`));
        resolve(result.tools);
      },
    );
  });
}
