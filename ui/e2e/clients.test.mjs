// The Clients page in real headless Chromium against a real `switchboard serve` whose HOME is a
// temporary folder holding realistic AI client files (Cursor's JSONC with a comment, Claude
// Desktop's with other keys, VS Code's with an HTTP server). It proves that every write is
// previewed first and that nothing reaches the disk before Apply. Screenshots go to
// test-artifacts/dashboard/3*-clients-*.png.

import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, afterEach, before, describe, it } from "node:test";
import { everything, launchBrowser, screenshot, startSwitchboard, waitFor, waitGone } from "./harness.mjs";

const T = { timeout: 120_000 };

/** A remote server of Cursor's; nothing listens there (an import must not reach the internet). */
const REMOTE_URL = "http://127.0.0.1:9/mcp";

const CURSOR = `{
  // my Cursor servers
  "mcpServers": {
    "notes": ${JSON.stringify(everything())},
    "remote": { "url": "${REMOTE_URL}" }
  }
}
`;

const CLAUDE_DESKTOP = `{
  "globalShortcut": "Ctrl+Space",
  "mcpServers": {
    "everything": ${JSON.stringify(everything())}
  }
}
`;

const VSCODE = `{
  // Workspace-independent servers
  "inputs": [],
  "servers": {
    "github": { "type": "http", "url": "https://api.githubcopilot.com/mcp/" }
  }
}
`;

/** JSONC as these fixtures write it (whole-line comments) as a value. */
const jsonc = (text) => JSON.parse(text.replace(/^\s*\/\/.*$/gm, ""));

describe("the Clients page", () => {
  let sb;
  let browser;
  let page;
  let home;
  const pids = new Set();
  const file = (relative) => path.join(home, relative);
  const read = (relative) => readFileSync(file(relative), "utf8");
  const backups = (relative) =>
    readdirSync(path.dirname(file(relative))).filter((n) => n.startsWith(`${path.basename(relative)}.switchboard-`) && n.endsWith(".bak"));
  const card = (client) => page.locator(`li[data-client="${client}"]`);
  const entry = (client, name) => card(client).locator(`li[data-entry="${name}"]`);

  before(async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "sb-e2e-clients-"));
    home = path.join(dir, "home");
    for (const [relative, text] of [
      [".cursor/mcp.json", CURSOR],
      [".config/Claude/claude_desktop_config.json", CLAUDE_DESKTOP],
      [".config/Code/User/mcp.json", VSCODE],
    ]) {
      mkdirSync(path.dirname(file(relative)), { recursive: true });
      writeFileSync(file(relative), text);
    }
    sb = await startSwitchboard({ mcpServers: { everything: everything() } }, { dir, env: { HOME: home, XDG_CONFIG_HOME: path.join(home, ".config") } });
    pids.add((await sb.waitRunning("everything")).pid);
    browser = await launchBrowser();
    page = browser.page;
  });
  after(async () => {
    await browser?.close();
    await sb?.stop();
    await waitGone(pids);
  });
  afterEach(async (t) => {
    if (page && t?.passed === false) await screenshot(page, `FAILED-clients-${t.name.replace(/\W+/g, "-")}`, { fullPage: true }).catch(() => {});
  });

  /** The dialog once its preview is on screen (not loading, not stale). */
  async function previewed(name, contains) {
    const dialog = page.getByRole("dialog", { name });
    await dialog.waitFor();
    await waitFor(`the preview of "${name}" to show ${contains}`, async () => {
      const busy = await dialog.locator("figure.diff").getAttribute("aria-busy").catch(() => null);
      const text = (await dialog.locator('[data-testid="diff"]').textContent().catch(() => "")) ?? "";
      return busy === "false" && text.includes(contains);
    });
    return dialog;
  }

  it("is reached from the top navigation with the keyboard, and lists every client with how it reaches each server", T, async () => {
    await page.goto(sb.url + "/");
    await page.locator('li[data-server="everything"]').waitFor();
    // Tab from the top of the page to the Clients link, then Enter.
    let focused = "";
    for (let i = 0; i < 12 && focused !== "Clients"; i++) {
      await page.keyboard.press("Tab");
      focused = await page.evaluate(() => document.activeElement?.textContent?.trim() ?? "");
    }
    assert.equal(focused, "Clients", "the Clients link is in the tab order near the top");
    await page.keyboard.press("Enter");
    await page.waitForURL(/\/clients$/);
    assert.equal(await page.getByRole("link", { name: "Clients" }).getAttribute("aria-current"), "page");
    assert.equal(await page.title(), "Clients · Switchboard");

    await card("cursor").waitFor();
    assert.equal(await card("cursor").getAttribute("data-status"), "not-connected");
    assert.equal(await entry("cursor", "notes").locator("[data-reach]").getAttribute("data-reach"), "direct");
    assert.equal(await entry("cursor", "remote").locator("[data-reach]").getAttribute("data-reach"), "http");
    assert.ok((await card("cursor").textContent()).includes(file(".cursor/mcp.json")), "the card names the file");
    // Claude Desktop starts its own copy of a server Switchboard runs: it says so.
    assert.equal(await entry("claude-desktop", "everything").locator("[data-reach]").getAttribute("data-reach"), "direct");
    await card("claude-desktop").getByTestId("runs-twice").waitFor();
    assert.equal(await entry("vscode", "github").locator("[data-reach]").getAttribute("data-reach"), "http");
    // Clients without a file are listed as not found, with where Switchboard looked.
    assert.equal(await card("windsurf").getAttribute("data-status"), "not-found");
    assert.ok((await card("windsurf").textContent()).includes(file(".codeium/windsurf/mcp_config.json")));
    assert.equal(await card("claude-code").getAttribute("data-status"), "not-found");

    await screenshot(page, "30-clients-light", { fullPage: true });
    await page.emulateMedia({ colorScheme: "dark" });
    await page.waitForTimeout(300);
    await screenshot(page, "30-clients-dark", { fullPage: true });
    await page.emulateMedia({ colorScheme: "light" });
    await page.waitForTimeout(300); // back to light: the transitions finish before the next capture
    await page.setViewportSize({ width: 420, height: 860 });
    await screenshot(page, "30-clients-narrow", { fullPage: true });
    await page.setViewportSize({ width: 1280, height: 860 });
  });

  it("Connect shows the diff first, writes nothing until Apply, then the client reaches Switchboard", T, async () => {
    const original = read(".cursor/mcp.json");
    await card("cursor").getByRole("button", { name: "Connect Cursor to Switchboard…" }).click();
    const dialog = await previewed("Connect Cursor to Switchboard", `${sb.url}/mcp`);
    assert.equal(await dialog.getByTestId("diff-path").textContent(), file(".cursor/mcp.json"));
    assert.match(await dialog.locator('[data-kind="add"]').first().textContent(), /"switchboard"|"remote"/);
    assert.ok((await dialog.locator('[data-kind="add"]').allTextContents()).some((t) => t.includes(`${sb.url}/mcp`)), "an added line has the gateway URL");
    assert.equal(read(".cursor/mcp.json"), original, "the preview wrote nothing");
    assert.deepEqual(backups(".cursor/mcp.json"), []);
    await screenshot(page, "31-clients-connect-preview");

    // Another option previews again; still nothing written.
    await dialog.getByRole("radio", { name: /One entry per server/ }).check();
    await previewed("Connect Cursor to Switchboard", `${sb.url}/servers/everything/mcp`);
    assert.equal(read(".cursor/mcp.json"), original);
    await page.emulateMedia({ colorScheme: "dark" });
    await page.waitForTimeout(300);
    await screenshot(page, "31-clients-connect-preview-dark");
    await page.emulateMedia({ colorScheme: "light" });
    await page.waitForTimeout(300); // back to light: the transitions finish before the next capture
    await page.setViewportSize({ width: 420, height: 860 });
    await screenshot(page, "31-clients-connect-preview-narrow");
    await page.setViewportSize({ width: 1280, height: 860 });

    // Escape cancels: nothing written, focus back on the button that opened it.
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "detached" });
    assert.equal(read(".cursor/mcp.json"), original, "cancel wrote nothing");
    await waitFor("focus back on the button that opened the dialog", async () =>
      (await page.evaluate(() => document.activeElement?.getAttribute("aria-label"))) === "Connect Cursor to Switchboard…",
    );

    // Open it again from the keyboard and apply the default (one entry for all servers).
    await page.keyboard.press("Enter");
    const again = await previewed("Connect Cursor to Switchboard", `${sb.url}/mcp`);
    assert.equal(await again.getByRole("radio", { name: /One entry for all servers/ }).isChecked(), true, "it opens with the defaults");
    assert.equal(read(".cursor/mcp.json"), original);
    await again.getByRole("button", { name: "Apply" }).click();
    await page.locator(".toasts").getByText("Cursor now reaches your servers through Switchboard", { exact: false }).waitFor();
    await again.waitFor({ state: "detached" });

    const written = read(".cursor/mcp.json");
    assert.equal(jsonc(written).mcpServers.switchboard.url, `${sb.url}/mcp`);
    assert.ok(written.includes("// my Cursor servers"), "the comment is kept");
    assert.deepEqual(jsonc(written).mcpServers.remote, { url: REMOTE_URL }, "other entries kept");
    assert.equal(backups(".cursor/mcp.json").length, 1, "a timestamped backup");

    // The page reads the file again: the new entry is reached through Switchboard.
    await entry("cursor", "switchboard").locator('[data-reach="switchboard"]').waitFor();
    assert.equal(await card("cursor").getAttribute("data-status"), "connected");
    assert.match(await entry("cursor", "switchboard").textContent(), /every Switchboard server/);
    assert.match(await card("cursor").getByTestId("reach-summary").textContent(), /Reaches every Switchboard server \(1\); starts 1 server itself; uses 1 other server/);
    await screenshot(page, "32-clients-connected", { fullPage: true });
  });

  it("Import shows the servers.json diff, then the imported server runs and is in the server list", T, async () => {
    const before = readFileSync(sb.config, "utf8");
    await card("cursor").getByRole("button", { name: "Import Cursor's servers…" }).click();
    const dialog = await previewed("Import Cursor's servers", '"notes"');
    assert.equal(await dialog.getByTestId("diff-path").textContent(), sb.config);
    await dialog.locator('[data-import="notes"]').waitFor();
    // A remote (URL) entry is imported too: Switchboard reaches it for every client.
    await dialog.locator('[data-import="remote"]').waitFor();
    assert.equal(readFileSync(sb.config, "utf8"), before, "the preview wrote nothing");
    await screenshot(page, "33-clients-import-preview");
    await dialog.getByRole("button", { name: "Apply" }).click();
    await dialog.waitFor({ state: "detached" });
    assert.deepEqual(sb.readConfig().mcpServers.notes, everything(), "imported as Cursor ran it");
    assert.deepEqual(sb.readConfig().mcpServers.remote, { url: REMOTE_URL }, "imported as Cursor reached it");

    // Switchboard runs it now; Cursor still starts its own copy, and the card says so.
    const notes = await sb.waitRunning("notes");
    pids.add(notes.pid);
    await card("cursor").getByTestId("runs-twice").waitFor();
    await entry("cursor", "notes").getByText("runs twice").waitFor();

    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Servers" }).click();
    await page.waitForURL(/\/$/);
    await page.locator('li[data-server="notes"] [data-state="running"]').waitFor({ timeout: 30_000 });
    await screenshot(page, "34-clients-imported-server-list", { fullPage: true });
  });

  it("a clash is explained and resolved by replacing; Disconnect puts the file back", T, async () => {
    await page.getByRole("link", { name: "Clients" }).click();
    await card("cursor").waitFor();
    // One entry per server: Cursor already has its own "notes", so the gateway refuses...
    await card("cursor").getByRole("button", { name: "Change how Cursor connects…" }).click();
    const dialog = page.getByRole("dialog", { name: "Connect Cursor to Switchboard" });
    await dialog.waitFor();
    await dialog.getByRole("radio", { name: /One entry per server/ }).check();
    const problem = dialog.getByRole("alert");
    await problem.getByText("Cursor already has an entry named “notes” of its own.").waitFor();
    assert.equal(await dialog.getByRole("button", { name: "Apply" }).isDisabled(), true);
    await screenshot(page, "35-clients-clash");
    // ...and the way out is one click.
    await problem.getByRole("button", { name: "Replace Cursor's own copies" }).click();
    await previewed("Connect Cursor to Switchboard", `${sb.url}/servers/notes/mcp`);
    assert.equal(await dialog.getByRole("checkbox", { name: /Replace Cursor's own copies/ }).isChecked(), true);
    assert.ok((await dialog.locator('[data-kind="del"]').allTextContents()).some((t) => t.includes("mcp-server-everything")), "Cursor's own notes goes");
    await screenshot(page, "36-clients-replace-preview");
    await dialog.getByRole("button", { name: "Apply" }).click();
    await dialog.waitFor({ state: "detached" });
    const cursor = jsonc(read(".cursor/mcp.json")).mcpServers;
    assert.deepEqual(cursor.notes, { url: `${sb.url}/servers/notes/mcp` });
    assert.deepEqual(cursor.everything, { url: `${sb.url}/servers/everything/mcp` });
    await entry("cursor", "notes").locator('[data-reach="switchboard"]').waitFor();
    assert.equal(await card("cursor").getByTestId("runs-twice").count(), 0, "nothing runs twice any more");

    // Disconnect: the diff, then the file as it was before Switchboard touched it.
    await card("cursor").getByRole("button", { name: "Disconnect Cursor…" }).click();
    const undo = await previewed("Disconnect Cursor from Switchboard", "mcp-server-everything");
    await screenshot(page, "37-clients-disconnect-preview");
    assert.equal(jsonc(read(".cursor/mcp.json")).mcpServers.notes.url, `${sb.url}/servers/notes/mcp`, "the preview wrote nothing");
    await undo.getByRole("button", { name: "Apply" }).click();
    await undo.waitFor({ state: "detached" });
    assert.deepEqual(jsonc(read(".cursor/mcp.json")), jsonc(CURSOR), "everything put back");
    assert.ok(read(".cursor/mcp.json").includes("// my Cursor servers"));
    await waitFor("Cursor to show as not connected", async () => (await card("cursor").getAttribute("data-status")) === "not-connected");
    assert.equal(await entry("cursor", "notes").locator("[data-reach]").getAttribute("data-reach"), "direct");
  });

  it("Claude Desktop gets the stdio bridge, and a client without a file gets a new one, both previewed", T, async () => {
    await card("claude-desktop").getByRole("button", { name: "Connect Claude Desktop to Switchboard…" }).click();
    const dialog = await previewed("Connect Claude Desktop to Switchboard", '"connect"');
    const added = (await dialog.locator('[data-kind="add"]').allTextContents()).join("\n");
    assert.ok(added.includes(sb.url), `the bridge is pointed at the gateway:\n${added}`);
    await page.keyboard.press("Escape");
    await dialog.waitFor({ state: "detached" });

    await card("windsurf").getByRole("button", { name: "Connect Windsurf to Switchboard…" }).click();
    const create = await previewed("Connect Windsurf to Switchboard", `"serverUrl": "${sb.url}/mcp"`);
    await create.getByText("new file").waitFor();
    assert.equal(await create.getByRole("checkbox").count(), 0, "a client with no entries of its own is not asked about replacing them");
    await screenshot(page, "38-clients-new-file-preview");
    await create.getByRole("button", { name: "Cancel" }).click();
    await create.waitFor({ state: "detached" });
    assert.equal(existsSync(file(".codeium/windsurf/mcp_config.json")), false, "cancel created nothing");
    assert.deepEqual(browser.errors, []);
  });

  it("a file edited between preview and Apply is not written: the new preview is shown instead", T, async () => {
    await card("vscode").getByRole("button", { name: "Connect VS Code to Switchboard…" }).click();
    const dialog = await previewed("Connect VS Code to Switchboard", `${sb.url}/mcp`);
    // Meanwhile the user adds a server to VS Code's file in their editor.
    const edited = read(".config/Code/User/mcp.json").replace(
      '"servers": {',
      '"servers": {\n    "added-meanwhile": { "type": "http", "url": "https://example.org/mcp" },',
    );
    writeFileSync(file(".config/Code/User/mcp.json"), edited);

    await dialog.getByRole("button", { name: "Apply" }).click();
    await dialog.getByText("The file changed since the preview, so nothing was written.", { exact: false }).waitFor();
    assert.equal(read(".config/Code/User/mcp.json"), edited, "the stale preview wrote nothing");
    assert.deepEqual(backups(".config/Code/User/mcp.json"), []);
    // The preview on screen is the change to the file as it is now.
    await previewed("Connect VS Code to Switchboard", "added-meanwhile");
    await screenshot(page, "39-clients-stale-preview");

    await dialog.getByRole("button", { name: "Apply" }).click();
    await page.locator(".toasts").getByText("VS Code now reaches your servers through Switchboard", { exact: false }).waitFor();
    const servers = jsonc(read(".config/Code/User/mcp.json")).servers;
    assert.equal(servers.switchboard.url, `${sb.url}/mcp`);
    assert.equal(servers["added-meanwhile"].url, "https://example.org/mcp", "the user's edit is kept");
  });

  it("a project folder: its files are listed and changed, the user's files are not", T, async () => {
    const project = path.join(home, "work", "app");
    const projectCursor = path.join(project, ".cursor", "mcp.json");
    mkdirSync(path.dirname(projectCursor), { recursive: true });
    writeFileSync(projectCursor, JSON.stringify({ mcpServers: { "project-notes": everything() } }, null, 2) + "\n");
    const userCursor = read(".cursor/mcp.json");

    await page.getByLabel("Project folder").fill(project);
    await page.getByRole("button", { name: "Show", exact: true }).click();
    const note = page.getByTestId("scope-note");
    // The note shows at once; which clients have no project file follows when the scan answers.
    await waitFor("the scope note to name the clients without a project-level file", async () =>
      /Claude Desktop and Windsurf have no project-level file/.test((await note.textContent()) ?? ""),
    );
    await entry("cursor", "project-notes").waitFor();
    assert.ok((await card("cursor").textContent()).includes(projectCursor), "the card names the project's file");
    assert.equal(await entry("cursor", "notes").count(), 0, "the user's entries are not shown");
    assert.equal(await page.getByRole("heading", { name: "Not in this project" }).count(), 1);
    await screenshot(page, "3a-clients-project", { fullPage: true });

    await card("cursor").getByRole("button", { name: "Connect Cursor to Switchboard…" }).click();
    const dialog = await previewed("Connect Cursor to Switchboard", `${sb.url}/mcp`);
    assert.equal(await dialog.getByTestId("diff-path").textContent(), projectCursor);
    await dialog.getByRole("button", { name: "Apply" }).click();
    await dialog.waitFor({ state: "detached" });
    const written = JSON.parse(readFileSync(projectCursor, "utf8"));
    assert.equal(written.mcpServers.switchboard.url, `${sb.url}/mcp`);
    assert.ok(written.mcpServers["project-notes"], "the project's own entry is kept");
    assert.equal(read(".cursor/mcp.json"), userCursor, "the user's file is untouched");
    await waitFor("the project's Cursor to show as connected", async () => (await card("cursor").getAttribute("data-status")) === "connected");

    // A folder that is not one says so, naming it.
    await page.getByLabel("Project folder").fill("work/app");
    await page.getByRole("button", { name: "Show", exact: true }).click();
    await page.getByRole("alert").getByText("project folder work/app: give its absolute path").waitFor();

    // Back to the user's files.
    await page.getByRole("button", { name: "Your user files" }).click();
    await entry("cursor", "notes").waitFor();
    assert.equal(await page.getByTestId("scope-note").count(), 0);
    assert.deepEqual(browser.errors, []);
  });

  it("follows the gateway's events, without polling", T, async () => {
    const reads = [];
    const onRequest = (r) => {
      if (new URL(r.url()).pathname === "/api/clients") reads.push(r.method());
    };
    page.on("request", onRequest);
    try {
      await page.waitForTimeout(2_500);
      assert.deepEqual(reads, [], "nothing is fetched while nothing happens");
      // An edit of servers.json (by hand, elsewhere) changes what the clients reach: read again.
      const config = sb.readConfig();
      config.mcpServers.extra = { command: "true", disabled: true };
      sb.writeConfig(config);
      await waitFor("the page to read the clients again after servers.json changed", () => reads.length > 0, 15_000);
      await card("cursor").getByRole("button", { name: "Connect Cursor to Switchboard…" }).click();
      const dialog = page.getByRole("dialog", { name: "Connect Cursor to Switchboard" });
      // everything, notes and remote (both imported from Cursor), and extra.
      await dialog.getByRole("radio", { name: /One entry per server \(4\)/ }).waitFor();
      await page.keyboard.press("Escape");
      await dialog.waitFor({ state: "detached" });
    } finally {
      page.off("request", onRequest);
    }
  });
});
