// On-demand servers (issue 19) in real headless Chromium against a real `switchboard serve`
// (see harness.mjs): a server-everything entry with `"start": "onDemand"` learns its catalog,
// sleeps (the card says idle, starts on demand) with its tools still listed on its page; a call
// from the Inspector starts it and the page counts down to its sleep ("sleeps in 0:02", ticking
// without refetching), then it is idle again; Restart starts a sleeping server; the settings
// tab changes its idle time (validated) and switches it to always, which runs it, and back.
// Screenshots go to test-artifacts/dashboard/8*-on-demand-*.png.

import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { alive, clientCall, everything, launchBrowser, ROOT, screenshot, setColorScheme, shootOnFailure, startSwitchboard, waitFor, waitGone } from "./harness.mjs";

const T = { timeout: 120_000 };
const EVERYTHING_JS = path.join(ROOT, "tests", "node", "node_modules", "@modelcontextprotocol", "server-everything", "dist", "index.js");
const IDLE_SECS = 3;

describe("on-demand servers on the dashboard", () => {
  /** @type {Awaited<ReturnType<typeof startSwitchboard>>} */
  let sb;
  let browser;
  let page;
  const pids = new Set();

  before(async () => {
    sb = await startSwitchboard({
      mcpServers: {
        lazy: { command: "node", args: [EVERYTHING_JS, "stdio"], start: "onDemand", idleStopSecs: IDLE_SECS },
        // One that runs always, for the list's summary.
        steady: everything(),
      },
    });
    pids.add((await sb.waitRunning("steady")).pid);
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
  /** The page's header (its badge and on-demand note). */
  const head = () => page.locator("header.head");
  const badgeState = (scope) => scope.locator("[data-state]").first().getAttribute("data-state");
  const note = (scope) => scope.locator('[data-field="on-demand"]');
  const api = () => sb.server("lazy");
  /** Waits until the API says `lazy` is idle with no process (its catalog known). */
  const apiIdle = (what, timeoutMs = 30_000) =>
    waitFor(what, async () => {
      const s = await api();
      return s.state === "idle" && s.pid === null ? s : null;
    }, timeoutMs);
  /** Requests the page makes to /api/servers…, while `fn` runs. */
  async function serverReads(fn) {
    const reads = [];
    const onRequest = (r) => {
      const p = new URL(r.url()).pathname;
      if (p === "/api/servers" || p.startsWith("/api/servers/")) reads.push({ at: Date.now(), path: p, method: r.method() });
    };
    page.on("request", onRequest);
    try {
      await fn(reads);
    } finally {
      page.off("request", onRequest);
    }
    return reads;
  }
  /** Runs `tool` in the open page's Inspector and waits for its result. */
  async function inspect(tool, args = {}) {
    await page.getByLabel("Tool", { exact: true }).selectOption(tool);
    await page.locator("form h3").getByText(tool, { exact: true }).waitFor();
    for (const [k, v] of Object.entries(args)) await page.getByLabel(k, { exact: true }).fill(v);
    await page.getByRole("button", { name: "Run", exact: true }).click();
    const result = page.getByTestId("inspector-result");
    await waitFor(`the result of ${tool}`, async () => {
      const status = await result.getAttribute("data-status");
      if (status === "failed" || status === "cancelled") throw new Error(`${tool} ${status}: ${await result.textContent()}`);
      return status === "done" && (await result.locator("h3").textContent()).includes(tool);
    }, 30_000);
    return result.textContent();
  }

  it("learns its catalog, then sleeps: the card says idle, starts on demand", T, async () => {
    const idle = await apiIdle("lazy to learn its catalog and sleep", 45_000);
    assert.equal(idle.start, "onDemand");
    assert.equal(idle.idleStopSecs, IDLE_SECS);
    assert.equal(idle.sleepsAtMs, null);
    assert.ok(idle.tools.total > 5, `its tools are known while it sleeps: ${JSON.stringify(idle.tools)}`);
    assert.equal((await sb.server("steady")).start, "always");

    await page.goto(sb.url + "/");
    await card("lazy").locator('[data-state="idle"]').waitFor();
    assert.equal(await note(card("lazy")).textContent(), "starts on demand");
    assert.match(await card("lazy").locator('[data-state="idle"]').getAttribute("title"), /starts on demand/);
    assert.equal(await card("lazy").locator('[data-field="tools"]').textContent(), `${idle.tools.exposed}/${idle.tools.total}`);
    assert.equal(await card("lazy").locator('[data-field="pid"]').textContent(), "–");
    // Nothing is wrong with it: no error styling, Restart (which starts it) and the switch work.
    assert.equal(await card("lazy").evaluate((el) => el.classList.contains("problem")), false);
    assert.equal(await card("lazy").getByRole("button", { name: "Restart lazy" }).isEnabled(), true);
    assert.equal(await note(card("steady")).count(), 0, "a server that runs always has no note");
    await waitFor("the summary to count it", async () => /1 running\s*·?\s*1 idle \(starts on demand\)/.test(await page.locator(".summary").textContent()));
    assert.equal(await page.locator('[data-field="idle-count"]').textContent(), "1 idle (starts on demand)");
    // Its tools are listed while it sleeps: the aggregate endpoint's cost counts them.
    const tokens = (await sb.api("/api/tokens")).body;
    assert.ok(tokens.servers.some((s) => s.name === "lazy"), JSON.stringify(tokens));
    await waitFor("the aggregate's cost", async () => Number(await page.getByTestId("aggregate-cost").getAttribute("data-full-tokens")) === tokens.full.tokens);
    await screenshot(page, "80-on-demand-list-idle-light", { fullPage: true });
    await setColorScheme(page, "dark");
    await screenshot(page, "80-on-demand-list-idle-dark", { fullPage: true });
    await setColorScheme(page, "light");
    assert.deepEqual(browser.errors, []);
  });

  it("its page lists its tools, resources and prompts while it sleeps, without starting it", T, async () => {
    await card("lazy").locator("a").first().click();
    await page.waitForURL(/\/servers\/lazy$/);
    await page.locator('[data-tool="echo"]').waitFor();
    assert.equal(await badgeState(head()), "idle");
    assert.equal(await note(head()).textContent(), "starts on demand");
    assert.match(await page.getByTestId("asleep-note").textContent(), /lazy is asleep: these are the tools it listed when it last ran/);
    assert.equal(await page.locator('[data-field="start"]').textContent(), "on demand");
    assert.equal(await page.locator('[data-field="idle-stop"]').textContent(), `${IDLE_SECS} s unused`);
    const detail = await api();
    assert.equal(await page.locator("[data-tool]").count(), detail.toolList.length);
    await screenshot(page, "81-on-demand-page-idle-light", { fullPage: true });
    await setColorScheme(page, "dark");
    await screenshot(page, "81-on-demand-page-idle-dark", { fullPage: true });
    await setColorScheme(page, "light");

    await page.getByRole("tab", { name: "Resources" }).click();
    await page.locator(".items li").first().waitFor();
    await page.getByRole("tab", { name: "Prompts" }).click();
    await page.locator(".items li").first().waitFor();
    assert.match(await page.locator(".items").textContent(), /simple-prompt/);
    assert.equal((await api()).state, "idle", "listing did not start it");
    assert.deepEqual(browser.errors, []);
  });

  it("a call from the Inspector starts it; the page counts down to its sleep, then it is idle again", T, async () => {
    await page.getByRole("tab", { name: "Inspector" }).click();
    await page.waitForURL(/tab=inspect/);
    await page.getByText("Connected to", { exact: false }).waitFor();
    assert.equal((await api()).state, "idle", "connecting the inspector did not start it");

    const seen = [];
    let calledAt = 0;
    let pid = null;
    const reads = await serverReads(async () => {
      const message = `wake up ${process.pid}`;
      const text = await inspect("echo", { message });
      calledAt = Date.now();
      assert.ok(text.includes(`Echo: ${message}`), text);
      // Watch the header's note until it is asleep again: "in use" or "sleeps in 0:0N" while it runs.
      await waitFor("lazy to run and then sleep again", async () => {
        const [state, text] = [await badgeState(head()), await note(head()).textContent().catch(() => null)];
        if (seen.at(-1)?.text !== text || seen.at(-1)?.state !== state) seen.push({ state, text, at: Date.now() - calledAt });
        if (state === "running" && pid === null) pid = (await api()).pid;
        return state === "idle" && seen.some((s) => s.state === "running") ? true : null;
      }, 20_000, 50);
    });
    const countdown = seen.filter((s) => s.state === "running" && /^sleeps in /.test(s.text ?? ""));
    assert.ok(countdown.length >= 2, `the countdown ticked (at least two values): ${JSON.stringify(seen)}`);
    for (const s of countdown) assert.match(s.text, /^sleeps in 0:0[0-3]$/, JSON.stringify(seen));
    const values = countdown.map((s) => Number(s.text.slice(-1)));
    assert.deepEqual(values, [...values].sort((a, b) => b - a), `it counts down: ${JSON.stringify(seen)}`);
    const asleepAt = seen.at(-1).at;
    assert.ok(asleepAt >= (IDLE_SECS - 1) * 1000 && asleepAt < (IDLE_SECS + 6) * 1000, `idle again about ${IDLE_SECS} s after the call: ${JSON.stringify(seen)}`);
    assert.equal(seen.at(-1).text, "starts on demand");
    // The countdown ticked on the page's clock: a handful of reads (on the state events and the
    // call's activity), not one a second.
    assert.ok(reads.length <= 8, `few reads of /api/servers: ${JSON.stringify(reads)}`);
    assert.ok(pid, "the API gave the process id while it ran");
    pids.add(pid);
    await waitFor(`process ${pid} to be gone`, () => !alive(pid), 10_000);
    await apiIdle("the API to say idle");

    // Asleep, nothing polls: once the last events' reads are done (the activity's are
    // throttled to one per 3 s), no read while nothing happens.
    await page.waitForTimeout(3_500);
    const quiet = await serverReads(() => page.waitForTimeout(3_000));
    assert.deepEqual(quiet, [], "nothing is fetched while it sleeps");
    await page.getByText("Connected to", { exact: false }).waitFor();
    assert.deepEqual(browser.errors, []);
  });

  it("Restart starts a sleeping server, which sleeps again unused", T, async () => {
    await page.getByRole("button", { name: "Restart", exact: true }).click();
    await waitFor("lazy to run after Restart", async () => (await badgeState(head())) === "running", 30_000);
    const running = await api();
    assert.equal(running.state, "running");
    pids.add(running.pid);
    await waitFor("the countdown or in use", async () => /^(sleeps in 0:0\d|in use|going to sleep…)$/.test((await note(head()).textContent()) ?? ""), 5_000, 50);
    await waitFor("lazy to sleep again", async () => (await badgeState(head())) === "idle", 20_000);
    await apiIdle("the API to say idle again");
  });

  it("the settings tab sets its idle time (validated) and switches it to always, which runs it", T, async () => {
    await page.getByRole("tab", { name: "Settings" }).click();
    const section = page.getByTestId("start-settings");
    await section.waitFor();
    const onDemand = section.getByRole("switch", { name: "Start on demand" });
    assert.equal(await onDemand.getAttribute("aria-checked"), "true");
    const amount = section.getByLabel("Stop after", { exact: true });
    const unit = section.getByLabel("Unit", { exact: true });
    assert.equal(await amount.inputValue(), String(IDLE_SECS));
    assert.equal(await unit.inputValue(), "s");
    await screenshot(page, "82-on-demand-settings-light", { fullPage: true });
    await setColorScheme(page, "dark");
    await screenshot(page, "82-on-demand-settings-dark", { fullPage: true });
    await setColorScheme(page, "light");

    // 0 is refused here, before the gateway (which would refuse it too).
    await amount.fill("0");
    await section.getByRole("button", { name: "Save", exact: true }).click();
    await section.locator(".error-text").getByText(/more than 0/).waitFor();
    assert.equal(await amount.getAttribute("aria-invalid"), "true");
    assert.equal(sb.readConfig().mcpServers.lazy.idleStopSecs, IDLE_SECS, "nothing was written");
    await screenshot(page, "83-on-demand-settings-invalid", { fullPage: true });

    // 2 minutes: the PATCH writes seconds.
    await amount.fill("2");
    await unit.selectOption("min");
    await section.getByRole("button", { name: "Save", exact: true }).click();
    await waitFor("idleStopSecs 120 in servers.json", () => sb.readConfig().mcpServers.lazy.idleStopSecs === 120);
    await waitFor("the page to say 2 min", async () => (await page.locator('[data-field="idle-stop"]').textContent()) === "2 min unused");
    assert.equal((await api()).idleStopSecs, 120);

    // A call from another client: the card and the page count down from 2:00.
    const text = await clientCall(`${sb.url}/servers/lazy/mcp`, "echo", { message: "hello" });
    assert.equal(text, "Echo: hello");
    await waitFor("the page's countdown from 2:00", async () => /^sleeps in 1:5\d|^sleeps in 2:00$/.test((await note(head()).textContent()) ?? ""), 10_000, 50);
    const first = await note(head()).textContent();
    await page.waitForTimeout(2_100);
    const later = await note(head()).textContent();
    assert.notEqual(later, first, `it ticks: ${first} then ${later}`);
    pids.add((await api()).pid);
    await screenshot(page, "84-on-demand-page-countdown-light", { fullPage: true });
    await setColorScheme(page, "dark");
    await screenshot(page, "84-on-demand-page-countdown-dark", { fullPage: true });
    await setColorScheme(page, "light");
    await page.getByRole("link", { name: "← All servers" }).click();
    await page.waitForURL(/\/$/);
    await waitFor("the card's countdown", async () => /^sleeps in 1:[45]\d$/.test((await note(card("lazy")).textContent()) ?? ""), 10_000);
    await screenshot(page, "85-on-demand-list-countdown-light", { fullPage: true });
    await setColorScheme(page, "dark");
    await screenshot(page, "85-on-demand-list-countdown-dark", { fullPage: true });
    await setColorScheme(page, "light");

    // Back to 3 s, then always: switching a sleeping server to always starts it.
    await page.goto(`${sb.url}/servers/lazy?tab=settings`);
    await amount.waitFor();
    assert.equal(await amount.inputValue(), "2");
    assert.equal(await unit.inputValue(), "min");
    await amount.fill(String(IDLE_SECS));
    await unit.selectOption("s");
    await section.getByRole("button", { name: "Save", exact: true }).click();
    await waitFor("idleStopSecs 3 in servers.json", () => sb.readConfig().mcpServers.lazy.idleStopSecs === IDLE_SECS);
    await waitFor("lazy to sleep", async () => (await badgeState(head())) === "idle", 20_000);

    await onDemand.click();
    await waitFor("the switch to settle off", async () => (await onDemand.getAttribute("aria-checked")) === "false" && (await onDemand.getAttribute("aria-busy")) === "false");
    assert.equal(sb.readConfig().mcpServers.lazy.start, "always");
    await waitFor("lazy to run always", async () => (await badgeState(head())) === "running", 30_000);
    const always = await sb.waitRunning("lazy");
    pids.add(always.pid);
    assert.equal(always.start, "always");
    assert.equal(always.sleepsAtMs, null);
    assert.equal(await note(head()).count(), 0, "no countdown for a server that runs always");
    assert.equal(await page.locator('[data-field="start"]').textContent(), "always");
    assert.equal(await amount.isDisabled(), true, "the idle time is used only on demand");
    // It keeps running past its old idle time.
    await page.waitForTimeout((IDLE_SECS + 1) * 1000);
    assert.equal((await api()).state, "running");
    assert.equal((await api()).pid, always.pid);
    await screenshot(page, "86-on-demand-switched-always", { fullPage: true });

    // And back: it sleeps after its idle time.
    await onDemand.click();
    await waitFor("the switch to settle on", async () => (await onDemand.getAttribute("aria-checked")) === "true" && (await onDemand.getAttribute("aria-busy")) === "false");
    assert.equal(sb.readConfig().mcpServers.lazy.start, "onDemand");
    await waitFor("lazy to sleep after its idle time", async () => (await badgeState(head())) === "idle", 30_000);
    await apiIdle("the API to say idle");
    assert.deepEqual(browser.errors, []);
  });
});
