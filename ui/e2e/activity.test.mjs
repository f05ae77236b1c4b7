// The activity log (issue 17) in real headless Chromium against a real `switchboard serve`
// running server-everything (see harness.mjs): a server page's Inspector runs tools and answers
// an elicitation, and the Activity page shows those calls, and one from another client live,
// filters them, draws its charts and opens a call's details; the server card shows the hour's
// calls and p95. Screenshots go to test-artifacts/dashboard/6*-*.png.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { clientCall, everything, launchBrowser, screenshot, setColorScheme, shootOnFailure, startSwitchboard, waitFor, waitGone } from "./harness.mjs";

const T = { timeout: 120_000 };

/** A duration as the page shows it ("0.42 ms", "12.3 ms", "340 ms", "1.25 s", "2m 5s"). */
const DURATION = /^(\d+(\.\d+)? (ms|s)|\d+m \d+s)$/;

describe("the inspector and the activity log", () => {
  /** @type {Awaited<ReturnType<typeof startSwitchboard>>} */
  let sb;
  let browser;
  let page;
  let mcp;
  const pids = new Set();
  /** Ids of the entries the inspector's tools/calls made, by tool. */
  const inspected = {};

  before(async () => {
    sb = await startSwitchboard({ mcpServers: { every: everything() } });
    mcp = `${sb.url}/servers/every/mcp`;
    browser = await launchBrowser();
    page = browser.page;
    pids.add((await sb.waitRunning("every")).pid);
  });
  after(async () => {
    await browser?.close();
    await sb?.stop();
    await waitGone(pids);
  });
  shootOnFailure(() => page);

  const result = () => page.getByTestId("inspector-result");
  /** Waits for the inspector's call of `tool` to finish, and answers the result's text. */
  async function finished(tool) {
    await waitFor(`the result of ${tool}`, async () => {
      const status = await result().getAttribute("data-status");
      if (status === "failed" || status === "cancelled") throw new Error(`${tool} ${status}: ${await result().textContent()}`);
      return status === "done" && (await result().locator("h3").textContent()).includes(tool);
    }, 30_000);
    return result().textContent();
  }
  /** Picks `tool` in the inspector; its form shows. */
  async function pick(tool) {
    await page.getByLabel("Tool", { exact: true }).selectOption(tool);
    await page.locator("form h3").getByText(tool, { exact: true }).waitFor();
  }
  /** The log's entries (GET /api/activity with `query`). */
  async function activity(query) {
    const r = await sb.api(`/api/activity?${new URLSearchParams(query)}`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body.entries;
  }

  it("the inspector runs echo and shows its result", T, async () => {
    await page.goto(`${sb.url}/servers/every?tab=inspect`);
    await page.getByText("Connected to", { exact: false }).waitFor();
    await page.getByLabel("Tool", { exact: true }).waitFor();
    await pick("echo");
    const message = `hello from the inspector ${process.pid}`;
    await page.getByLabel("message", { exact: true }).fill(message);
    await page.getByRole("button", { name: "Run", exact: true }).click();
    const text = await finished("echo");
    assert.ok(text.includes(`Echo: ${message}`), `the echoed text is shown, got: ${text}`);
    await screenshot(page, "60-inspector-echo", { fullPage: true });
    assert.deepEqual(browser.errors, []);
  });

  it("get-tiny-image shows the image, decoded, light and dark", T, async () => {
    await pick("get-tiny-image");
    await page.getByRole("button", { name: "Run", exact: true }).click();
    await finished("get-tiny-image");
    const img = result().locator("img").first();
    await img.waitFor();
    const size = await waitFor("the image to be decoded", () =>
      img.evaluate((el) => (el.complete && el.naturalWidth > 0 ? { w: el.naturalWidth, h: el.naturalHeight, shown: el.getBoundingClientRect().width } : null)),
    );
    assert.ok(size.h > 0 && size.shown > 0, `the image is decoded and shown: ${JSON.stringify(size)}`);
    await screenshot(page, "61-inspector-image-light", { fullPage: true });
    await setColorScheme(page, "dark");
    await screenshot(page, "61-inspector-image-dark", { fullPage: true });
    await setColorScheme(page, "light");
    assert.deepEqual(browser.errors, []);
  });

  it("answers trigger-elicitation-request's questions on the page", T, async () => {
    await pick("trigger-elicitation-request");
    await page.getByRole("button", { name: "Run", exact: true }).click();
    const dialog = page.getByTestId("elicitation");
    await dialog.waitFor();
    assert.equal(await dialog.getAttribute("role"), "dialog");
    assert.equal(await result().getAttribute("data-status"), "running", "the call waits for the answer");
    assert.match(await dialog.textContent(), /Please provide inputs for the following fields/);
    // server-everything asks for a name (required) and more, with defaults for most.
    const name = `Ada Lovelace ${process.pid}`;
    await dialog.getByLabel("name", { exact: true }).fill(name);
    await dialog.getByLabel("check", { exact: true }).check();
    await dialog.getByLabel("email", { exact: true }).fill("ada@example.com");
    await screenshot(page, "62-inspector-elicitation", { fullPage: true });
    // Two Cancel buttons meanwhile (the call's and the question's): Accept is the dialog's.
    await dialog.getByRole("button", { name: "Accept", exact: true }).click();
    await dialog.waitFor({ state: "detached" });
    const text = await finished("trigger-elicitation-request");
    assert.match(text, /User provided the requested information/);
    assert.ok(text.includes(`- Name: ${name}`), `the answer names what was typed, got: ${text}`);
    assert.ok(text.includes("- Agreed to terms: true"), text);
    assert.ok(text.includes("- Email: ada@example.com"), text);
    assert.ok(text.includes("- Favorite Integer: 42"), `the defaults were sent: ${text}`);
    await screenshot(page, "63-inspector-elicitation-answered", { fullPage: true });
    assert.deepEqual(browser.errors, []);
  });

  it("the log holds the inspector's calls as the dashboard's", T, async () => {
    for (const tool of ["echo", "get-tiny-image", "trigger-elicitation-request"]) {
      // Written by the log's own thread a moment after the answer.
      const entries = await waitFor(`the ${tool} call in the log`, async () => {
        const found = await activity({ tool, method: "tools/call" });
        return found.length > 0 ? found : null;
      });
      assert.equal(entries.length, 1, `one ${tool} call: ${JSON.stringify(entries)}`);
      const [e] = entries;
      assert.equal(e.fromDashboard, true, JSON.stringify(e));
      assert.ok(e.client?.startsWith("switchboard-dashboard"), `client: ${e.client}`);
      assert.equal(e.server, "every");
      assert.equal(e.endpoint, "/servers/every/mcp");
      assert.equal(e.outcome, "ok", JSON.stringify(e));
      assert.ok(e.durationMs > 0, JSON.stringify(e));
      inspected[tool] = e.id;
    }
    // Its listing too, and nothing else claims to be the dashboard.
    const all = await activity({ limit: "1000" });
    assert.ok(all.some((e) => e.fromDashboard && e.method === "tools/list"), "the inspector's tools/list is recorded");
    for (const e of all) assert.equal(e.fromDashboard, e.client?.startsWith("switchboard-dashboard ") ?? false, JSON.stringify(e));
  });

  it("Activity shows the calls with their durations, and a new one live", T, async () => {
    await page.goto(`${sb.url}/activity`);
    const rows = page.locator("tr[data-id]");
    await rows.first().waitFor();
    const headers = await page.locator("table.activity thead th").allTextContents();
    const durationColumn = headers.indexOf("Duration");
    const nameColumn = headers.indexOf("Name");
    assert.ok(durationColumn >= 0 && nameColumn >= 0, `columns: ${headers}`);
    const cell = (id, column) => page.locator(`tr[data-id="${id}"] > td`).nth(column);
    for (const [tool, id] of Object.entries(inspected)) {
      await page.locator(`tr[data-id="${id}"]`).waitFor();
      assert.equal(await cell(id, nameColumn).textContent(), tool);
      assert.match((await cell(id, durationColumn).textContent()).trim(), DURATION, `${tool}'s duration`);
      assert.match(await page.locator(`tr[data-id="${id}"]`).textContent(), /switchboard-dashboard.*dashboard/);
    }

    // A call from another client while the page is open arrives without a reload.
    await page.evaluate(() => (window.__sameDocument = true));
    const message = `live from outside ${Date.now()}`;
    assert.equal(await clientCall(mcp, "echo", { message }), `Echo: ${message}`);
    const [outside] = await waitFor("the outside call in the log", async () => {
      const found = (await activity({ tool: "echo", client: "switchboard-ts-test-client" })).filter((e) => e.method === "tools/call");
      return found.length > 0 ? found : null;
    });
    assert.equal(outside.fromDashboard, false);
    const row = page.locator(`tr[data-id="${outside.id}"]`);
    await row.waitFor({ timeout: 15_000 });
    assert.equal(await page.evaluate(() => window.__sameDocument), true, "the page was not reloaded");
    assert.equal(await cell(outside.id, nameColumn).textContent(), "echo");
    assert.match((await cell(outside.id, durationColumn).textContent()).trim(), DURATION);
    assert.match(await row.textContent(), /switchboard-ts-test-client/);
    assert.doesNotMatch(await row.textContent(), /dashboard(?!-)/, "no dashboard badge on another client's call");
    // Newest first: it is above the inspector's calls.
    const ids = await rows.evaluateAll((trs) => trs.map((tr) => Number(tr.dataset.id)));
    assert.deepEqual(ids, [...ids].sort((a, b) => b - a), "newest first");
    assert.equal(ids[0] >= outside.id, true);
    assert.deepEqual(browser.errors, []);
  });

  it("draws the charts and lists the slowest tools, light and dark", T, async () => {
    // Each chart draws its first series (calls of `every`, p50, the error rate: 0 %) in its
    // colour, not only axes and grid; the calls so far may all fall in one minute.
    const FIRST = { calls: "--chart-1", latency: "--chart-1", errors: "--bad" };
    const drawn = async () => {
      for (const [kind, colour] of Object.entries(FIRST)) {
        const chart = page.locator(`[data-chart="${kind}"]`);
        await chart.locator("canvas").waitFor();
        const ink = await waitFor(`the ${kind} chart to be drawn`, () => chart.evaluate(canvasInk, colour));
        assert.ok(ink.width > 0 && ink.height > 0 && ink.inked > 0, `${kind}: ${JSON.stringify(ink)}`);
        assert.ok(ink.series > 0, `the ${kind} chart shows its data: ${JSON.stringify(ink)}`);
      }
    };
    await drawn();

    const slowest = page.getByTestId("slowest-tools");
    await waitFor("the inspector's tools among the slowest", async () => {
      const tools = await slowest.locator("tr[data-tool]").evaluateAll((trs) => trs.map((tr) => tr.dataset.tool));
      return ["echo", "get-tiny-image", "trigger-elicitation-request"].every((t) => tools.includes(t));
    });
    // The charts are read again at most every 5 s while calls come: the outside call shows up.
    const echoCalls = slowest.locator('tr[data-tool="echo"][data-server="every"] td').nth(2);
    await waitFor("echo's two calls (the inspector's, the outside one) in the slowest tools", async () => (await echoCalls.textContent()) === "2");
    assert.match(await page.getByTestId("activity-totals").textContent(), /p95/);

    await screenshot(page, "64-activity-light", { fullPage: true });
    await setColorScheme(page, "dark");
    // The charts draw again in the dark scheme's colours.
    await drawn();
    await screenshot(page, "64-activity-dark", { fullPage: true });
    await setColorScheme(page, "light");
    assert.deepEqual(browser.errors, []);
  });

  it("filters by tool (in the URL), and a row opens its details", T, async () => {
    const expected = (await activity({ tool: "get-tiny-image" })).map((e) => e.id);
    assert.deepEqual(expected, [inspected["get-tiny-image"]]);
    const tool = page.getByLabel("Tool", { exact: true });
    await tool.fill("get-tiny-image");
    await tool.press("Enter");
    await page.waitForURL(/[?&]tool=get-tiny-image(&|$)/);
    const rows = page.locator("tr[data-id]");
    await waitFor("only get-tiny-image's rows", async () => {
      const ids = await rows.evaluateAll((trs) => trs.map((tr) => Number(tr.dataset.id)));
      return JSON.stringify(ids) === JSON.stringify(expected);
    });
    for (const label of ["Server", "Client", "Method", "Outcome", "Time range"]) await page.getByLabel(label, { exact: true }).waitFor();
    await screenshot(page, "65-activity-filtered", { fullPage: true });

    // The same URL opened afresh shows the same.
    await page.reload();
    await page.locator(`tr[data-id="${expected[0]}"]`).waitFor();
    assert.equal(await rows.count(), 1);
    assert.equal(await page.getByLabel("Tool", { exact: true }).inputValue(), "get-tiny-image");

    await page.locator(`tr[data-id="${expected[0]}"] td.name`).click();
    const details = page.getByTestId("activity-details");
    await details.getByRole("heading", { name: /tools\/call\s+get-tiny-image/ }).waitFor();
    const [entry] = await activity({ tool: "get-tiny-image" });
    const fields = Object.fromEntries(
      await details.locator("dl > dt").evaluateAll((dts) => dts.map((dt) => [dt.textContent.trim(), dt.nextElementSibling?.textContent.trim() ?? ""])),
    );
    assert.equal(fields.Id, String(entry.id));
    assert.equal(fields.Server, "every");
    assert.equal(fields.Method, "tools/call");
    assert.equal(fields.Name, "get-tiny-image");
    assert.ok(fields.Client.startsWith(entry.client) && fields.Client.includes("this dashboard's inspector"), fields.Client);
    assert.ok(fields.Endpoint.startsWith("/servers/every/mcp"), fields.Endpoint);
    assert.ok(fields.Session.includes(entry.session), fields.Session);
    assert.ok(fields.Duration.includes(`(${entry.durationMs} ms)`), fields.Duration);
    assert.equal(fields.Outcome, "ok");
    assert.ok(fields.Time.startsWith(new Date(entry.ts).toISOString()), fields.Time);
    await screenshot(page, "66-activity-details");
    // (The ✕ at the top is named Close too.)
    await details.locator(".foot").getByRole("button", { name: "Close", exact: true }).click();
    await waitFor("the details to close", () => details.evaluate((d) => !d.open));
    assert.deepEqual(browser.errors, []);
  });

  it("the server card shows the last hour's calls and p95", T, async () => {
    await page.goto(`${sb.url}/`);
    const card = page.locator('li[data-server="every"]');
    await card.locator('[data-state="running"]').waitFor();
    const stats = (await sb.api("/api/activity/stats?window=3600&buckets=1")).body.servers.find((s) => s.server === "every");
    assert.ok(stats.calls >= 4, JSON.stringify(stats));
    const calls = card.locator('[data-field="calls"]');
    // At least what the stats said a moment ago (the card reads them itself, maybe later).
    await waitFor(`the card to count ${stats.calls} calls or more`, async () => Number(await calls.textContent()) >= stats.calls);
    assert.match((await card.locator('[data-field="p95"]').textContent()).trim(), DURATION);
    assert.equal(await card.locator('[data-field="activity"]').getAttribute("href"), "/activity?server=every");
    await screenshot(page, "67-card-activity", { fullPage: true });
    assert.deepEqual(browser.errors, []);
  });
});

/**
 * In the page, on a chart's figure: its canvas's size, how many pixels are drawn at all, and how
 * many are (nearly) opaque in the colour of the CSS variable `colour` (a series').
 */
function canvasInk(figure, colour) {
  const canvas = figure.querySelector("canvas");
  if (!canvas || canvas.width === 0 || canvas.height === 0) return null;
  const { data } = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
  const hex = getComputedStyle(figure.querySelector(".plot")).getPropertyValue(colour).trim();
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  let inked = 0;
  let series = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (data[i + 3] === 0) continue;
    inked++;
    if (data[i + 3] > 128 && Math.abs(data[i] - r) + Math.abs(data[i + 1] - g) + Math.abs(data[i + 2] - b) < 60) series++;
  }
  return inked > 0 ? { width: canvas.width, height: canvas.height, inked, series, colour: hex } : null;
}
