// The e2e harness: a real `switchboard serve` (the built binary) on a free port with a
// temporary servers.json, real MCP servers from tests/node, Debian's Chromium driven by
// playwright-core, and the TypeScript SDK client of tests/clients. Every wait is bounded;
// every process started here is killed when its test ends, also on failure.

import { spawn, execFile } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync, readFileSync, renameSync, existsSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach } from "node:test";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const ARTIFACTS = path.join(ROOT, "test-artifacts", "dashboard");
const TARGET = process.env.CARGO_TARGET_DIR ? path.resolve(ROOT, process.env.CARGO_TARGET_DIR) : path.join(ROOT, "target");
const BIN = process.env.SWITCHBOARD_BIN ?? path.join(TARGET, "debug", "switchboard");
const EVERYTHING = path.join(ROOT, "tests", "node", "node_modules", ".bin", "mcp-server-everything");
const EVERYTHING_JS = path.join(ROOT, "tests", "node", "node_modules", "@modelcontextprotocol", "server-everything", "dist", "index.js");
const TS_CLIENT = path.join(ROOT, "tests", "clients", "ts_client.mjs");
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";

for (const [what, file, fix] of [
  ["the switchboard binary", BIN, "cargo build -p switchboard"],
  ["server-everything", EVERYTHING, "bash tests/setup.sh"],
  ["server-everything's script", EVERYTHING_JS, "bash tests/setup.sh"],
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
    // Secrets (`${secret:…}`, sign-in tokens) in a file beside servers.json, never in the
    // keychain of the machine running the tests.
    env: { ...process.env, XDG_DATA_HOME: path.join(dir, "data"), RUST_LOG: "info", SWITCHBOARD_SECRETS: "file", ...env },
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
    /** `cost`: with what its tools cost in tokens (counted only when asked). */
    async server(name, { cost = false } = {}) {
      return (await sb.api(`/api/servers/${name}${cost ? "?cost=1" : ""}`)).body;
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
    /**
     * SIGTERM (Switchboard stops its servers), SIGKILL after 15 s; then its directory
     * (servers.json, data, and whatever the test put there) is removed, unless `keep` (for a
     * restart on the same files).
     */
    async stop({ keep = false } = {}) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
        await exited;
        clearTimeout(timer);
      }
      live.delete(child);
      if (!keep) rmSync(dir, { recursive: true, force: true });
    },
  };
  return sb;
}

/** A TCP port on 127.0.0.1 that nothing listens on now (the OS picks it). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Whether something accepts TCP connections on 127.0.0.1:`port` (answers within 2 s). */
function accepts(port) {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: "127.0.0.1" });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(2_000, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/**
 * @modelcontextprotocol/server-everything as a real remote server: Streamable HTTP on a free
 * port, its MCP endpoint at `url`. Ready when the port accepts connections; `stop()` ends it.
 */
export async function startRemoteEverything() {
  const port = await freePort();
  const child = spawn(process.execPath, [EVERYTHING_JS, "streamableHttp"], {
    cwd: ROOT,
    env: { ...process.env, PORT: String(port) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  live.add(child);
  let output = "";
  const keep = (d) => {
    output = (output + d).slice(-20_000);
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  const exited = new Promise((r) => child.on("exit", r));
  const remote = {
    port,
    url: `http://127.0.0.1:${port}/mcp`,
    child,
    get output() {
      return output;
    },
    /** SIGTERM, SIGKILL after 5 s. */
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
        await exited;
        clearTimeout(timer);
      }
      live.delete(child);
    },
  };
  try {
    await waitFor(`server-everything to accept connections on port ${port}`, async () => {
      if (child.exitCode !== null) throw new Error(`it exited (${child.exitCode}):\n${output}`);
      return accepts(port);
    }, 20_000);
  } catch (e) {
    await remote.stop();
    throw e;
  }
  return remote;
}

export function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Waits until each of `pids` (server processes of a Switchboard that was stopped) is gone. */
export async function waitGone(pids) {
  for (const pid of pids) await waitFor(`server process ${pid} to be gone after Switchboard stopped`, () => !alive(pid), 15_000);
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

/** In a test file's describe: a full-page screenshot of `get()`'s page when a test failed. */
export function shootOnFailure(get) {
  afterEach(async (t) => {
    const page = get();
    if (page && t?.passed === false) await screenshot(page, `FAILED-${t.name.replace(/\W+/g, "-")}`, { fullPage: true }).catch(() => {});
  });
}

/** Switches the page to `scheme` ("light" | "dark") and lets the colour transitions finish before a capture. */
export async function setColorScheme(page, scheme) {
  await page.emulateMedia({ colorScheme: scheme });
  await page.waitForTimeout(300);
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

/** What a real MCP client (the TypeScript SDK) gets calling `tool` on `url`: the result's text. */
export function clientCall(url, tool, args = {}) {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [TS_CLIENT, "--url", url, "--transport", "streamable", "--scenario", "call", "--extra", JSON.stringify({ tool, arguments: args }), "--timeout", "30"],
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
        resolve(result.text ?? "");
      },
    );
  });
}
