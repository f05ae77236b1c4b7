// What tool definitions cost (issue 18), in real headless Chromium against a real `switchboard
// serve`: the server card's tokens, the tools tab sorted by cost and its total following the
// switches before the gateway answers, the aggregate endpoint's cost in full and in search mode
// (read again when the list changes, never polled), and the Connect dialog's search mode,
// previewed before it is written. Every number is compared with the API's. Screenshots go to
// test-artifacts/dashboard/7*-tokens-*.png.

import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { everything, launchBrowser, screenshot, setColorScheme, shootOnFailure, startSwitchboard, waitFor, waitGone } from "./harness.mjs";

const T = { timeout: 120_000 };

describe("token costs on the dashboard", () => {
  /** @type {Awaited<ReturnType<typeof startSwitchboard>>} */
  let sb;
  let browser;
  let page;
  let home;
  const pids = new Set();
  const cursorFile = () => path.join(home, ".cursor", "mcp.json");

  before(async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "sb-e2e-tokens-"));
    home = path.join(dir, "home");
    mkdirSync(path.dirname(cursorFile()), { recursive: true });
    writeFileSync(cursorFile(), `{\n  // mine\n  "mcpServers": {}\n}\n`);
    mkdirSync(path.join(home, ".config", "Claude"), { recursive: true });
    writeFileSync(path.join(home, ".config", "Claude", "claude_desktop_config.json"), `{ "mcpServers": {} }\n`);
    sb = await startSwitchboard(
      {
        mcpServers: {
          everything: everything(),
          // Two tools hidden by the file: its card counts only what clients receive.
          second: everything({ tools: { deny: ["echo", "get-sum"] } }),
        },
      },
      { dir, env: { HOME: home, XDG_CONFIG_HOME: path.join(home, ".config") } },
    );
    pids.add((await sb.waitRunning("everything")).pid);
    pids.add((await sb.waitRunning("second")).pid);
    browser = await launchBrowser();
    page = browser.page;
  });
  after(async () => {
    await browser?.close();
    await sb?.stop();
    await waitGone(pids);
  });
  shootOnFailure(() => page);

  const card = (name) => page.locator(`li[data-server="${name}"]`);
  const summary = () => page.getByTestId("aggregate-cost");
  const total = () => page.getByTestId("tools-total");
  const totalTokens = async () => Number(await total().getAttribute("data-tokens"));
  const num = async (locator, attribute) => Number(await locator.getAttribute(attribute));
  /** The API's own numbers (each server's costs settle once it has listed its tools). */
  const tokens = async () => (await sb.api("/api/tokens")).body;

  it("a card shows what its exposed tools cost, and the list the aggregate endpoint's cost in full and in search mode", T, async () => {
    await page.goto(sb.url + "/");
    for (const name of ["everything", "second"]) {
      const api = await sb.server(name, { cost: true });
      assert.ok(api.tools.cost.tokens > 500, `${name} has a cost: ${JSON.stringify(api.tools)}`);
      const shown = card(name).getByTestId("card-tokens");
      await waitFor(`${name}'s card to show ${api.tools.cost.tokens} tokens`, async () => (await num(shown, "data-tokens")) === api.tools.cost.tokens);
      // "≈1.9k tokens", and the tooltip names it an estimate.
      assert.match(await shown.textContent(), /^≈\d+(\.\d)?k? tokens$/);
      assert.match(await shown.getAttribute("title"), /o200k tokenizer; what clients receive in tools\/list/);
      assert.match(await shown.getAttribute("title"), new RegExp(`≈${api.tools.cost.tokens.toLocaleString("en-US")} tokens`));
    }
    // The server with two tools hidden costs less than the same server with all of them.
    const [all, some] = [await sb.server("everything", { cost: true }), await sb.server("second", { cost: true })];
    assert.equal(some.tools.exposed, all.tools.exposed - 2);
    assert.ok(some.tools.cost.tokens < all.tools.cost.tokens);

    const api = await tokens();
    assert.equal(api.endpoint, "/mcp");
    assert.equal(api.tools, all.tools.exposed + some.tools.exposed);
    await waitFor("the aggregate's cost to match /api/tokens", async () => (await num(summary(), "data-full-tokens")) === api.full.tokens);
    assert.equal(await num(summary(), "data-search-tokens"), api.search.tokens);
    const text = await summary().textContent();
    assert.match(text, /All servers through \/mcp: ≈\d+\.\dk tokens of tool definitions per request/);
    assert.match(text, /in search mode ≈\d+/);
    // The saving, worked out from the API's numbers.
    const saving = Math.round(((api.search.tokens - api.full.tokens) / api.full.tokens) * 100);
    assert.ok(saving < -80, `search mode saves most of it: ${saving} %`);
    assert.ok(text.includes(`(\u2212${-saving} %)`), `the saving ${saving} % in: ${text}`);
    await screenshot(page, "70-tokens-list-light", { fullPage: true });
    await setColorScheme(page, "dark");
    await screenshot(page, "70-tokens-list-dark", { fullPage: true });
    await setColorScheme(page, "light");
    await page.setViewportSize({ width: 420, height: 860 });
    await screenshot(page, "70-tokens-list-narrow", { fullPage: true });
    await page.setViewportSize({ width: 1280, height: 860 });
    assert.deepEqual(browser.errors, []);
  });

  it("is read again when the list changes, and never polled", T, async () => {
    const reads = [];
    const onRequest = (r) => {
      if (new URL(r.url()).pathname === "/api/tokens") reads.push(r.method());
    };
    page.on("request", onRequest);
    try {
      await page.waitForTimeout(2_500);
      assert.deepEqual(reads, [], "nothing is fetched while nothing happens");
      const before = await tokens();
      // A tool hidden in servers.json, by hand: the summary follows without a reload.
      const file = sb.readConfig();
      file.mcpServers.everything.tools = { deny: ["gzip-file-as-resource"] };
      sb.writeConfig(file);
      const after = await waitFor("/api/tokens to count one tool less", async () => {
        const t = await tokens();
        return t.tools === before.tools - 1 ? t : null;
      });
      assert.ok(after.full.tokens < before.full.tokens);
      await waitFor("the summary to show the new cost", async () => (await num(summary(), "data-full-tokens")) === after.full.tokens);
      assert.ok(reads.length > 0);
      const card = await sb.server("everything", { cost: true });
      await waitFor("the card to follow", async () => (await num(page.locator('li[data-server="everything"] [data-testid="card-tokens"]'), "data-tokens")) === card.tools.cost.tokens);
      // Back as it was.
      delete file.mcpServers.everything.tools;
      sb.writeConfig(file);
      await waitFor("the summary to show the full cost again", async () => (await num(summary(), "data-full-tokens")) === before.full.tokens);
    } finally {
      page.off("request", onRequest);
    }
  });

  it("the tools tab sorts by cost, and its total drops by a tool's tokens the moment its switch is flipped", T, async () => {
    const detail = await sb.server("everything", { cost: true });
    const costliest = detail.toolList.reduce((a, b) => (b.cost.tokens > a.cost.tokens ? b : a));
    await card("everything").locator("a").first().click();
    await page.waitForURL(/\/servers\/everything$/);
    await page.locator(`[data-tool="${detail.toolList[0].name}"]`).waitFor();
    // The server's own order first.
    assert.equal(await page.locator("[data-index='0']").getAttribute("data-tool"), detail.toolList[0].name);

    await page.getByRole("combobox", { name: "Sort tools" }).selectOption("cost");
    await waitFor("the costliest tool first", async () => (await page.locator("[data-index='0']").getAttribute("data-tool")) === costliest.name);
    const rows = await page.locator("[data-index]").evaluateAll((els) =>
      els
        .map((e) => ({ i: Number(e.getAttribute("data-index")), tokens: Number(e.querySelector("[data-field='tokens']")?.getAttribute("data-tokens")) }))
        .sort((a, b) => a.i - b.i),
    );
    assert.equal(rows.length, detail.toolList.length, "server-everything's tools all fit the window");
    for (let i = 1; i < rows.length; i++) assert.ok(rows[i - 1].tokens >= rows[i].tokens, `row ${i} costs no more than the one above: ${JSON.stringify(rows)}`);
    assert.equal(rows[0].tokens, costliest.cost.tokens);
    // Each row's number is the API's.
    for (const tool of detail.toolList)
      assert.equal(await num(page.locator(`[data-tool="${tool.name}"] [data-field="tokens"]`), "data-tokens"), tool.cost.tokens, tool.name);

    // The total is what the server's endpoint lists: the API's sum of the exposed tools.
    const before = (await sb.server("everything", { cost: true })).tools;
    assert.equal(before.exposed, detail.toolList.length);
    await waitFor("the total to match the API", async () => (await totalTokens()) === before.cost.tokens);
    assert.match(await total().textContent(), new RegExp(`Exposed: ${before.exposed} tools\\s*≈ [\\d.]+k tokens \\([\\d.]+ KB\\)`));
    assert.match(await total().textContent(), /nothing hidden/);
    await screenshot(page, "71-tokens-tools-by-cost-light", { fullPage: true });
    await setColorScheme(page, "dark");
    await screenshot(page, "71-tokens-tools-by-cost-dark", { fullPage: true });
    await setColorScheme(page, "light");

    // Hold the PATCH, so what the page shows before the gateway answers can be seen.
    let release;
    const held = new Promise((r) => (release = r));
    let patched = false;
    let passed;
    const sent = new Promise((r) => (passed = r));
    // The page asks for /api/servers/everything?cost=1: matched by path, whatever the query.
    const everythingApi = (url) => url.pathname === "/api/servers/everything";
    const hold = async (route) => {
      if (route.request().method() !== "PATCH") return route.continue();
      patched = true;
      await held;
      await route.continue().finally(passed);
    };
    await page.route(everythingApi, hold);
    try {
      await page.locator(`[data-tool="${costliest.name}"] [role="switch"]`).click();
      await waitFor("the PATCH to be sent", () => patched);
      assert.equal(await total().getAttribute("data-saving"), "true", "the gateway has not answered yet");
      assert.equal(await totalTokens(), before.cost.tokens - costliest.cost.tokens, "the total dropped by the tool's tokens at once");
      assert.match(await total().textContent(), new RegExp(`Exposed: ${before.exposed - 1} tools`));
      assert.match(await total().textContent(), /hidden: 1 tool, ≈\d+ tokens saved/);
      await screenshot(page, "72-tokens-tool-hidden-saving");
    } finally {
      release();
      // Only once the held request went on: removed earlier, the route would be handled twice.
      if (patched) await sent;
      await page.unroute(everythingApi, hold);
    }
    // The gateway's answer confirms it.
    await waitFor("the save to be confirmed", async () => (await total().getAttribute("data-saving")) === "false");
    const now = (await sb.server("everything", { cost: true })).tools;
    assert.deepEqual(sb.readConfig().mcpServers.everything.tools, { deny: [costliest.name] });
    assert.equal(now.exposed, before.exposed - 1);
    assert.equal(now.cost.tokens, before.cost.tokens - costliest.cost.tokens, "the API's total drops by the tool's own cost");
    assert.equal(await totalTokens(), now.cost.tokens);
    await page.locator(`[data-tool="${costliest.name}"] .pick`).click();
    assert.match(await page.locator('[data-field="tool-cost"]').textContent(), new RegExp(`Its definition: ≈${costliest.cost.tokens.toLocaleString("en-US")} tokens \\(.+\\), saved while hidden`));
    await screenshot(page, "72-tokens-tool-hidden-light", { fullPage: true });
    await setColorScheme(page, "dark");
    await screenshot(page, "72-tokens-tool-hidden-dark", { fullPage: true });
    await setColorScheme(page, "light");

    // The aggregate's cost followed: back on the list, it is /api/tokens' new number.
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Servers" }).click();
    await page.waitForURL(/\/$/);
    const hidden = await tokens();
    await waitFor("the summary to show the cost without the hidden tool", async () => (await num(summary(), "data-full-tokens")) === hidden.full.tokens);
    await waitFor("the card to show it too", async () => (await num(card("everything").getByTestId("card-tokens"), "data-tokens")) === now.cost.tokens);

    // On again: the total is back.
    await card("everything").locator("a").first().click();
    await page.waitForURL(/\/servers\/everything$/);
    const on = page.locator(`[data-tool="${costliest.name}"] [role="switch"]`);
    await on.click();
    await waitFor("the switch to settle on", async () => (await on.getAttribute("aria-checked")) === "true" && (await total().getAttribute("data-saving")) === "false");
    assert.equal(await totalTokens(), before.cost.tokens);
    assert.equal(sb.readConfig().mcpServers.everything.tools?.deny, undefined);
    assert.equal(await page.getByRole("combobox", { name: "Sort tools" }).inputValue(), "cost", "the order picked stays");
    assert.deepEqual(browser.errors, []);
  });

  it("the Connect dialog offers search mode, previews /mcp?mode=search, and writes only after Apply", T, async () => {
    const original = readFileSync(cursorFile(), "utf8");
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Clients" }).click();
    await page.waitForURL(/\/clients$/);
    const cursor = page.locator('li[data-client="cursor"]');
    await cursor.getByRole("button", { name: "Connect Cursor to Switchboard…" }).click();
    const dialog = page.getByRole("dialog", { name: "Connect Cursor to Switchboard" });
    await dialog.waitFor();
    const diffText = async () => ((await dialog.locator('[data-testid="diff"]').textContent().catch(() => "")) ?? "");
    const settled = async () => (await dialog.locator("figure.diff").getAttribute("aria-busy").catch(() => null)) === "false";
    await waitFor("the first preview", async () => (await settled()) && (await diffText()).includes(`${sb.url}/mcp`));

    const search = dialog.getByRole("radio", { name: /One entry, search mode/ });
    await search.check();
    await waitFor("the search-mode preview", async () => (await settled()) && (await diffText()).includes(`${sb.url}/mcp?mode=search`));
    const added = (await dialog.locator('[data-kind="add"]').allTextContents()).join("\n");
    assert.ok(added.includes(`"url": "${sb.url}/mcp?mode=search"`), `the added entry points at search mode:\n${added}`);
    // The choice says what it saves, in the API's numbers.
    const api = await tokens();
    const hint = await dialog.getByTestId("search-cost").textContent();
    assert.match(hint, /^≈\d+ tokens of definitions instead of ≈\d+\.\dk$/);
    assert.ok(hint.startsWith(`≈${api.search.tokens} tokens`), `${hint} vs ${api.search.tokens}`);
    assert.equal(readFileSync(cursorFile(), "utf8"), original, "the preview wrote nothing");
    await screenshot(page, "73-tokens-connect-search-light");
    await setColorScheme(page, "dark");
    await screenshot(page, "73-tokens-connect-search-dark");
    await setColorScheme(page, "light");

    await dialog.getByRole("button", { name: "Apply" }).click();
    await dialog.waitFor({ state: "detached" });
    const written = JSON.parse(readFileSync(cursorFile(), "utf8").replace(/^\s*\/\/.*$/gm, ""));
    assert.deepEqual(written.mcpServers.switchboard, { url: `${sb.url}/mcp?mode=search` });
    // The card says how it connects, and Change… opens on that choice.
    const entry = cursor.locator('li[data-entry="switchboard"]');
    await waitFor("the entry to read search mode", async () => /every Switchboard server \(one endpoint, search mode\)/.test((await entry.textContent()) ?? ""));
    assert.match(await cursor.getByTestId("reach-summary").textContent(), /Reaches every Switchboard server \(2\) in search mode/);
    await screenshot(page, "74-tokens-client-search-connected", { fullPage: true });
    await cursor.getByRole("button", { name: "Change how Cursor connects…" }).click();
    const change = page.getByRole("dialog", { name: "Connect Cursor to Switchboard" });
    await change.getByTestId("no-change").waitFor();
    assert.equal(await change.getByRole("radio", { name: /One entry, search mode/ }).isChecked(), true);
    await page.keyboard.press("Escape");
    await change.waitFor({ state: "detached" });

    // A client that only runs commands gets the bridge with --search.
    await page.locator('li[data-client="claude-desktop"]').getByRole("button", { name: "Connect Claude Desktop to Switchboard…" }).click();
    const bridge = page.getByRole("dialog", { name: "Connect Claude Desktop to Switchboard" });
    await bridge.waitFor();
    await bridge.getByRole("radio", { name: /One entry, search mode/ }).check();
    await waitFor("the bridge's preview with --search", async () => {
      const text = (await bridge.locator('[data-testid="diff"]').textContent().catch(() => "")) ?? "";
      return (await bridge.locator("figure.diff").getAttribute("aria-busy").catch(() => null)) === "false" && text.includes('"--search"');
    });
    await page.keyboard.press("Escape");
    await bridge.waitFor({ state: "detached" });
    assert.deepEqual(browser.errors, []);
  });
});
