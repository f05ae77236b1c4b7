// A client for the conformance kit's auth scenarios (`run client --command "node signin_driver.mjs"`),
// signing in through the dashboard: the kit gives the URL of its protected MCP server as the last
// argument. This writes a servers.json with one `url` entry `s` for it, starts the real
// `switchboard serve` (harness.mjs), opens the dashboard in headless Chromium, clicks the card's
// Sign in, checks the callback tab says "Signed in to s" and the card then runs with tools, and
// uses the first tool through the gateway with the TypeScript SDK client, as an AI client would.
// Exit status 0 on success; every wait is bounded; everything started is stopped, also on failure.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { ROOT, launchBrowser, screenshot, startSwitchboard, waitFor } from "./harness.mjs";

const log = (...args) => console.error("[signin-driver]", ...args);
const sdkDir = path.join(ROOT, "tests", "node", "node_modules", "@modelcontextprotocol", "sdk", "dist", "esm");
const sdk = (p) => import(pathToFileURL(path.join(sdkDir, p)).href);

function bounded(what, promise, ms = 30_000) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

async function useTools(endpoint) {
  const { Client } = await sdk("client/index.js");
  const { StreamableHTTPClientTransport } = await sdk("client/streamableHttp.js");
  const client = new Client({ name: "signin-driver", version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL(endpoint));
  try {
    await bounded("initialize", client.connect(transport));
    const { tools } = await bounded("tools/list", client.listTools());
    log("tools:", tools.map((t) => t.name));
    if (tools.length === 0) throw new Error("the gateway lists no tools for s");
    const result = await bounded(`tools/call ${tools[0].name}`, client.callTool({ name: tools[0].name, arguments: {} }));
    log("called", tools[0].name, "isError:", result.isError ?? false, JSON.stringify(result.content));
    if (result.isError) throw new Error(`tools/call ${tools[0].name} answered an error: ${JSON.stringify(result.content)}`);
  } finally {
    await client.close().catch(() => {});
  }
}

async function main() {
  const serverUrl = process.argv.at(-1);
  if (!/^https?:\/\//.test(serverUrl ?? "")) throw new Error(`usage: node signin_driver.mjs URL (got ${serverUrl})`);
  const dir = mkdtempSync(path.join(tmpdir(), "sb-signin-"));
  let sb;
  let browser;
  try {
    sb = await startSwitchboard({ mcpServers: { s: { url: serverUrl, health: { pingIntervalSecs: 0 } } } }, {
      dir,
      env: { XDG_RUNTIME_DIR: path.join(dir, "run"), XDG_CONFIG_HOME: path.join(dir, "config"), XDG_STATE_HOME: path.join(dir, "state") },
    });
    log("switchboard at", sb.url, "for", serverUrl);
    browser = await launchBrowser();
    const { page, context } = browser;
    await page.goto(sb.url + "/");
    const card = page.locator('li[data-server="s"]');
    await card.locator('[data-state="needs-auth"]').waitFor({ timeout: 60_000 });
    const clipOf = async () => {
      const box = await card.boundingBox();
      return { x: Math.max(0, box.x - 12), y: Math.max(0, box.y - 12), width: box.width + 24, height: box.height + 24 };
    };
    await screenshot(page, "50-signin-card-before", { clip: await clipOf() });

    const [popup] = await Promise.all([
      bounded("the sign-in tab to open", context.waitForEvent("page", { timeout: 15_000 }), 20_000),
      card.getByRole("button", { name: "Sign in to s" }).click(),
    ]);
    await waitFor("the sign-in tab to reach /oauth/callback", () => new URL(popup.url()).pathname === "/oauth/callback", 30_000);
    await popup.waitForLoadState("load", { timeout: 15_000 });
    await popup.getByText("Signed in to s").first().waitFor({ timeout: 15_000 });
    log("callback page:", popup.url().replace(/\?.*/, "?…"));
    await screenshot(popup, "50-signin-callback");

    await card.locator('[data-state="running"]').waitFor({ timeout: 60_000 });
    const tools = await waitFor("the card to show tools", async () => {
      const text = (await card.locator('[data-field="tools"]').textContent({ timeout: 2_000 }))?.trim();
      return text && !/^0\//.test(text) ? text : null;
    }, 30_000);
    log("card running, tools", tools);
    await page.waitForTimeout(300); // let transitions finish
    await screenshot(page, "50-signin-card-after", { clip: await clipOf() });

    await useTools(`${sb.url}/servers/s/mcp`);
    if (browser.errors.length) log("page errors (not fatal):", browser.errors);
    log("ok");
  } catch (e) {
    if (browser) await screenshot(browser.page, "50-signin-FAILED", { fullPage: true }).catch(() => {});
    if (sb) log("switchboard stderr (tail):\n" + sb.stderr.slice(-4_000));
    throw e;
  } finally {
    await browser?.close();
    await sb?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const overall = setTimeout(() => {
  log("FAILED: the driver did not finish within 150 s");
  process.exit(3);
}, 150_000);
main().then(
  () => {
    clearTimeout(overall);
    process.exit(0);
  },
  (e) => {
    log("FAILED:", e?.stack ?? e);
    process.exit(1);
  },
);
