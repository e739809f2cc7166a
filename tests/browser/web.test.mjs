// Browser tests of the status pages, the dashboard and the badges, against the `pharos run` that
// tests/e2e/test_web_browser.py started. PHAROS_WEB_EXPECT (JSON) says where it runs and what it
// should show; screenshots go to PHAROS_ARTIFACTS.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
const AXE_PATH = require.resolve("axe-core/axe.min.js");
const expect = JSON.parse(process.env.PHAROS_WEB_EXPECT);
const artifacts = process.env.PHAROS_ARTIFACTS;
const base = expect.base;
const statusUrl = `${base}/status/${expect.slug}`;

let context;
let profile;

before(async () => {
  profile = mkdtempSync(join(tmpdir(), "pharos-chromium-"));
  // A fresh profile, no network beyond loopback, nothing the browser does on its own.
  context = await chromium.launchPersistentContext(profile, {
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    viewport: { width: 1440, height: 900 },
    timezoneId: "UTC",
    locale: "en-GB",
  });
});

after(async () => {
  await context?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
});

// A page that records console errors and uncaught exceptions; check() fails on any.
async function open(url, { width = 1440, height = 900, expectStatus = 200 } = {}) {
  const page = await context.newPage();
  await page.setViewportSize({ width, height });
  const errors = [];
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(`console: ${message.text()}`);
  });
  page.on("pageerror", (error) => errors.push(`page error: ${error.message}`));
  const response = await page.goto(url, { waitUntil: "load" });
  assert.equal(response.status(), expectStatus, `GET ${url}`);
  page.assertNoErrors = () => assert.deepEqual(errors, [], `console errors on ${url}`);
  return page;
}

async function axe(page) {
  await page.addScriptTag({ path: AXE_PATH });
  const results = await page.evaluate(() =>
    window.axe.run(document, { resultTypes: ["violations"] }));
  const bad = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  const described = bad.map((v) => `${v.impact} ${v.id}: ${v.help} — ` +
    v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join("; "));
  assert.deepEqual(described, [], `axe-core on ${page.url()}`);
}

async function shot(page, name) {
  await page.screenshot({ path: join(artifacts, name), fullPage: true });
}

function component(page, name) {
  return page.locator(".component", { has: page.locator("h4", { hasText: new RegExp(`^${name}$`) }) });
}

describe("status page", () => {
  test("banner, components, uptime bars and their tooltips", async () => {
    const page = await open(statusUrl);
    assert.equal((await page.locator(".banner h2").textContent()).trim(), expect.banner);
    assert.equal(await page.title(), "Example Shop status");
    for (const [name, state] of Object.entries(expect.components)) {
      const row = component(page, name);
      assert.equal(await row.count(), 1, `one component named ${name}`);
      assert.equal((await row.locator(".component-head > .state").textContent()).trim(), state,
        `state of ${name}`);
      assert.equal(await row.locator(".bar i").count(), 90, `90 days in ${name}'s bar`);
    }
    // Groups in the page's order.
    assert.deepEqual(await page.locator(".group > h3").allTextContents(),
      ["Storefront", "Billing", "Retired"]);

    // The history: the day with failed checks, and today.
    const website = component(page, "Website");
    const cells = website.locator(".bar i");
    const days = await cells.evaluateAll((spans) => spans.map((s) => s.dataset.tip || s.title));
    const failedDate = new Date(`${expect.failedDay}T00:00:00Z`).toLocaleDateString("en-GB",
      { day: "numeric", month: "short", year: "numeric", timeZone: "UTC" });
    const failed = days.findIndex((tip) => tip.startsWith(failedDate));
    assert.ok(failed >= 0, `a cell for ${failedDate} among ${days.slice(-10).join(" | ")}`);
    assert.match(days[failed], /62\.5% uptime/);
    assert.match(days[failed], /3 failed checks/);
    assert.equal(await cells.nth(failed).getAttribute("class"), "dg");
    assert.equal(await cells.nth(failed - 1).getAttribute("class"), "up");
    assert.match(days[89], /100% uptime/);
    assert.equal(await cells.nth(0).getAttribute("class"), "nd");
    assert.match(days[0], /no data/);

    // The tooltip shows on hover (the script replaces the title by its own tooltip).
    await cells.nth(failed).hover();
    const tip = website.locator(".tip");
    await tip.waitFor({ state: "visible" });
    assert.match(await tip.textContent(), /3 failed checks/);
    // And on keyboard focus, moved with the arrow keys.
    await website.locator(".bar").focus();
    assert.match(await tip.textContent(), /100% uptime/);
    await page.keyboard.press("ArrowLeft");
    assert.equal(await website.locator(".bar i.current").count(), 1);

    // Checkout's incident today makes its last cell red; the bar's text alternative says so.
    const checkout = component(page, "Checkout");
    assert.equal(await checkout.locator(".bar i").last().getAttribute("class"), "dn");
    assert.match(await checkout.locator(".bar").getAttribute("aria-label"), /Days with incidents/);
    // A sparkline of response times where there are some.
    assert.equal(await component(page, "Search").locator("svg.sparkline").count() +
      await component(page, "Search").locator(".metrics span").count() > 0, true);

    await shot(page, "status-page-1440.png");
    page.assertNoErrors();
    await page.close();
  });

  test("active and resolved incidents with their timeline", async () => {
    const page = await open(statusUrl);
    const active = page.locator("section[aria-labelledby=active-title] article.incident");
    assert.equal(await active.count(), 1);
    assert.match(await active.locator("h3").textContent(), new RegExp(`${expect.activeIncident} is unavailable`));
    assert.match(await active.locator(".pill").textContent(), /Ongoing/);
    assert.ok(await active.locator(".timeline li").count() >= 1);
    const past = page.locator("section[aria-labelledby=past-title] article.incident");
    assert.equal(await past.count(), 1);
    assert.match(await past.locator("h3").textContent(), new RegExp(`${expect.resolvedIncident} was unavailable`));
    const entries = await past.locator(".timeline li").allTextContents();
    assert.equal(entries.length, 2, entries.join(" | "));
    // The alert store's timeline (state changes as recorded), or the page's own summary of an
    // incident without one.
    assert.match(entries[0], /started failing|Down \(failing in/);
    assert.match(entries[1], /Resolved|Up\b/);
    // Times are shown in the reader's time zone, with the UTC time kept as a title.
    assert.match(await past.locator("time").first().getAttribute("title"), /UTC$/);
    page.assertNoErrors();
    await page.close();
  });

  test("a phone shows the last 30 days", async () => {
    const page = await open(statusUrl, { width: 390, height: 844 });
    const visible = await component(page, "Website").locator(".bar i")
      .evaluateAll((spans) => spans.filter((s) => s.offsetParent !== null).length);
    assert.equal(visible, 30);
    assert.equal(await page.evaluate(() => document.documentElement.scrollWidth), 390,
      "nothing wider than the screen");
    await shot(page, "status-page-390.png");
    page.assertNoErrors();
    await page.close();
  });

  test("works without JavaScript (times in UTC, tooltips as titles)", async () => {
    const page = await context.newPage();
    await page.route("**/assets/pharos.js*", (route) => route.abort());
    await page.goto(statusUrl);
    assert.equal((await page.locator(".banner h2").textContent()).trim(), expect.banner);
    assert.match(await page.locator(".banner time").textContent(), /UTC$/);
    assert.match(await page.locator("[data-time-zone]").textContent(), /UTC/);
    const title = await component(page, "Website").locator(".bar i").last().getAttribute("title");
    assert.match(title, /100% uptime/);
    await page.close();
  });

  test("accessibility: no serious or critical axe-core violation", async () => {
    const page = await open(statusUrl);
    await axe(page);
    const phone = await open(statusUrl, { width: 390, height: 844 });
    await axe(phone);
    await page.close();
    await phone.close();
  });

  test("JSON and feeds", async () => {
    const page = await open(statusUrl);
    const json = await (await page.request.get(`${base}/api/v1/status/${expect.slug}`)).json();
    assert.equal(json.status, "partial_outage");
    assert.equal(json.components.length, Object.keys(expect.components).length);
    for (const component of json.components) assert.equal(component.uptimeDays.length, 90);
    const rss = await page.request.get(`${statusUrl}/feed.rss`);
    assert.equal(rss.status(), 200);
    assert.match(rss.headers()["content-type"], /rss\+xml/);
    const parsed = await page.evaluate((text) => {
      const doc = new DOMParser().parseFromString(text, "application/xml");
      return { error: doc.querySelector("parsererror") !== null,
               items: [...doc.querySelectorAll("item > title")].map((t) => t.textContent) };
    }, await rss.text());
    assert.equal(parsed.error, false);
    assert.equal(parsed.items.length, 2);
    await page.close();
  });

  test("an unknown page is a 404 page, not an error", async () => {
    const page = await context.newPage();
    const response = await page.goto(`${base}/status/no-such-page`);
    assert.equal(response.status(), 404);
    assert.match(await page.locator("h1").textContent(), /No such status page/);
    assert.match(response.headers()["content-type"], /text\/html/);
    await page.close();
  });
});

describe("dashboard", () => {
  test("every monitor, sortable and filterable", async () => {
    const page = await open(`${base}/ui/`);
    const rows = page.locator("#monitors tbody tr");
    assert.equal(await rows.count(), expect.monitors);
    // Default order: worst state first.
    assert.equal(await rows.first().getAttribute("data-state"), "Down");

    // Sort by name: a click on the header, then again for descending.
    await page.locator("th[data-column=name] a").click();
    await page.waitForURL(/sort=name/);
    const names = await page.locator("#monitors tbody td.name a").allTextContents();
    assert.deepEqual(names, [...names].sort());
    assert.equal(await page.locator("th[data-column=name]").getAttribute("aria-sort"), "ascending");
    await page.locator("th[data-column=name] a").click();
    await page.waitForURL(/dir=desc/);
    const reversed = await page.locator("#monitors tbody td.name a").allTextContents();
    assert.deepEqual(reversed, [...names].sort().reverse());

    // Filter by state (the script submits the form on change) and by text.
    await page.selectOption("#f-state", "Down");
    await page.waitForURL(/state=Down/);
    assert.deepEqual(await page.locator("#monitors tbody td.name a").allTextContents(), ["checkout"]);
    await page.goto(`${base}/ui/?q=pay`);
    assert.deepEqual(await page.locator("#monitors tbody td.name a").allTextContents(), ["payments"]);
    // Paging on the server.
    await page.goto(`${base}/ui/?per_page=2&sort=name`);
    assert.equal(await rows.count(), 2);
    assert.match(await page.locator(".pager").textContent(), /Page 1 of 3/);
    await page.locator(".pager a[rel=next]").click();
    await page.waitForURL(/page=2/);
    assert.equal(await rows.count(), 2);

    await page.goto(`${base}/ui/`);
    await shot(page, "dashboard-1440.png");
    await axe(page);
    page.assertNoErrors();
    await page.close();
  });

  test("a monitor's charts, results and incidents", async () => {
    const page = await open(`${base}/ui/monitors/shop/homepage`);
    const charts = page.locator("svg.chart");
    assert.equal(await charts.count(), 2);
    assert.ok(await charts.nth(0).locator("polyline, circle").count() >= 1, "a line per region");
    assert.ok(await charts.nth(1).locator("polygon").count() >= 1, "stacked phase areas");
    assert.deepEqual(await page.locator(".chart-legend").nth(1).locator("li").allTextContents(),
      ["DNS", "Connect", "TLS", "First byte", "Transfer"]);
    assert.match(await charts.nth(0).locator("desc").textContent(), /local: median/);
    await shot(page, "monitor-1440.png");
    await axe(page);
    // 30 days: the history delivered through the probe API.
    await page.goto(`${base}/ui/monitors/shop/homepage?window=30d`);
    assert.ok(await page.locator("svg.chart").nth(0).locator("polyline, circle").count() > 10);

    // A failing monitor lists its failed assertions and its incident.
    await page.goto(`${base}/ui/monitors/shop/checkout`);
    const failed = page.locator("#results tbody tr[data-outcome=down]").first();
    assert.match(await failed.textContent(), /statusCode/);
    assert.match(await failed.textContent(), /503/);
    assert.equal(await page.locator("article.incident").count(), 1);
    page.assertNoErrors();

    const missing = await page.goto(`${base}/ui/monitors/shop/nope`);
    assert.equal(missing.status(), 404);
    await page.close();
  });
});

describe("badges", () => {
  test("parse as SVG and say the state and figures", async () => {
    const page = await open(`${base}/ui/`);
    const read = async (path) => {
      const response = await page.request.get(`${base}${path}`);
      assert.match(response.headers()["content-type"], /^image\/svg\+xml/);
      assert.match(response.headers()["cache-control"], /max-age=60/);
      return page.evaluate((text) => {
        const doc = new DOMParser().parseFromString(text, "image/svg+xml");
        return { error: doc.querySelector("parsererror") !== null,
                 root: doc.documentElement.nodeName,
                 texts: [...doc.querySelectorAll("text:not([aria-hidden])")].map((t) => t.textContent) };
      }, await response.text());
    };
    assert.deepEqual(await read("/badge/shop/homepage/status.svg"),
      { error: false, root: "svg", texts: ["status", "up"] });
    assert.deepEqual(await read("/badge/shop/checkout/status.svg"),
      { error: false, root: "svg", texts: ["status", "down"] });
    const uptime = await read("/badge/shop/homepage/uptime.svg?window=7d");
    assert.equal(uptime.texts[0], "uptime 7d");
    assert.match(uptime.texts[1], /^\d+(\.\d+)?%$/);
    const latency = await read("/badge/shop/search/latency.svg");
    assert.equal(latency.texts[0], "response time");
    assert.match(latency.texts[1], /^\d+(\.\d)? ms$/);
    const missing = await page.request.get(`${base}/badge/shop/nope/status.svg`);
    assert.equal(missing.status(), 404);
    await page.close();
  });
});
