// npsc's web pages in headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core).
// Started by service/tests/browser.rs, which serves a seeded database and passes in the
// environment: NPSC_BASE_URL, NPSC_ADMIN_TOKEN, NPSC_READER_TOKEN, NPSC_BAD_TABLE,
// NPSC_GOOD_TABLE, NPSC_SCREENSHOTS, NPSC_CHROMIUM. Every number on a page is compared with the
// API's answer for the same question.
import { after, before, beforeEach, test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { chromium } from "playwright-core";

const env = (name) => {
  const value = process.env[name];
  assert.ok(value, `${name} is set (run through cargo test -p service --test browser)`);
  return value;
};
const BASE = env("NPSC_BASE_URL");
const ADMIN = env("NPSC_ADMIN_TOKEN");
const READER = env("NPSC_READER_TOKEN");
const SHOTS = env("NPSC_SCREENSHOTS");

let browser;
let context;
let page;
let problems = [];

before(async () => {
  browser = await chromium.launch({
    executablePath: process.env.NPSC_CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  context = await browser.newContext({ viewport: { width: 1400, height: 900 }, locale: "zh-CN" });
  page = await context.newPage();
  // Any script error or refused resource (a CSP violation among them) fails the test.
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error" && !expectedConsoleError(m.text())) problems.push(`console: ${m.text()}`);
  });
  // A request cut short by the page navigating away is not a failure of the page.
  page.on("requestfailed", (r) => {
    const error = r.failure()?.errorText || "";
    if (error !== "net::ERR_ABORTED") problems.push(`request failed: ${r.url()} ${error}`);
  });
  page.on("request", (r) => {
    if (!r.url().startsWith(BASE) && !r.url().startsWith("data:")) problems.push(`left the origin: ${r.url()}`);
  });
});

// The API's 4xx answers that a scenario provokes on purpose show up as console errors.
let expectedStatuses = [];
function expectedConsoleError(text) {
  return expectedStatuses.some((s) => text.includes(`status of ${s}`));
}

after(async () => {
  await browser?.close();
});

// A test that failed half-way leaves its problems behind: each test starts clean.
beforeEach(() => {
  problems = [];
  expectedStatuses = [];
});

async function noProblems() {
  const seen = problems;
  problems = [];
  assert.deepEqual(seen, [], "no script error, refused resource or foreign request");
}

async function api(pathAndQuery, token, init = {}) {
  const headers = { Accept: "application/json", ...(init.headers || {}) };
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(BASE + pathAndQuery, { ...init, headers });
  const body = await response.json();
  return { status: response.status, body };
}

async function open(url) {
  await page.goto(BASE + url);
  await page.waitForSelector("body[data-ready=true]");
}

async function shot(name) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

const show = (v) => (v === null || v === undefined || v === "" ? "—" : String(v));

/** The cells of a table row, by data-field. */
async function cells(row) {
  return row.$$eval("[data-field]", (tds) => Object.fromEntries(tds.map((td) => [td.dataset.field, td.textContent])));
}

test("the index lists every edition with the API's names, statuses and row counts", async () => {
  await open("/");
  const { status, body: editions } = await api("/api/v1/editions");
  assert.equal(status, 200);
  assert.ok(editions.length >= 2);
  const rows = await page.$$("table.editions tbody tr");
  assert.equal(rows.length, editions.length, "one row per edition the API lists (no draft anonymously)");
  for (const e of editions) {
    const row = await page.$(`tr[data-edition="${e.name}"]`);
    assert.ok(row, `${e.name} is listed`);
    const c = await cells(row);
    assert.equal(c.name, e.name);
    assert.equal(c.row_count, String(e.row_count));
    assert.equal(c.effective_from, show(e.effective_from));
    assert.equal(c.revision_note, show(e.revision_note));
    assert.equal(await row.$eval("[data-status]", (b) => b.dataset.status), e.status);
  }
  assert.equal(await page.title(), "系数版本 Editions · npsc");
  assert.match(await page.textContent("h1"), /^系数版本 Editions/);
  await shot("index");
  await noProblems();
});

test("the edition page filtered by industry and pollutant shows exactly the API's rows, cell by cell", async () => {
  await open("/sets/npsc1-excerpt/editions/1");
  await page.fill("#f-industry", "4430");
  await page.fill("#f-pollutant", "SO2");
  await Promise.all([page.waitForURL(/industry=4430/), page.click("#apply")]);
  await page.waitForSelector("body[data-ready=true]");
  const url = new URL(page.url());
  assert.equal(url.searchParams.get("industry"), "4430");
  assert.equal(url.searchParams.get("pollutant"), "SO2");
  assert.equal(url.searchParams.get("product"), null, "empty filters are left out");

  const { body } = await api("/api/v1/sets/npsc1-excerpt/editions/1/coefficients?industry=4430&pollutant=SO2&per_page=100");
  assert.equal(body.total, 6);
  assert.equal(await page.getAttribute("#total", "data-total"), String(body.total));
  const rows = await page.$$("table.coefficients tbody tr");
  assert.equal(rows.length, body.rows.length);
  for (const [i, expected] of body.rows.entries()) {
    const c = await cells(rows[i]);
    assert.equal(c.row, `${expected.table}:${expected.row}`);
    for (const field of Object.keys(c).filter((f) => f !== "row")) {
      assert.equal(c[field], show(expected[field]), `row ${i} ${field}`);
    }
    assert.equal(Object.keys(c).length, 12);
  }
  // Numbers exactly as the API renders them.
  assert.equal(await rows[0].$eval("[data-field=generation_coefficient]", (td) => td.textContent), "16S");
  assert.equal(await page.textContent("#row-count"), String(body.edition.row_count));
  await shot("edition-filtered");
  await noProblems();
});

test("the edition page pages through an industry division like the API", async () => {
  await open("/sets/npsc1-excerpt/editions/2?industry=13&per_page=25");
  const first = await api("/api/v1/sets/npsc1-excerpt/editions/2/coefficients?industry=13&per_page=25&page=1");
  const second = await api("/api/v1/sets/npsc1-excerpt/editions/2/coefficients?industry=13&per_page=25&page=2");
  assert.equal(first.body.total, 30);
  assert.equal((await page.$$("table.coefficients tbody tr")).length, 25);
  await Promise.all([page.waitForURL(/page=2/), page.click("a[rel=next]")]);
  await page.waitForSelector("body[data-ready=true]");
  const rows = await page.$$("table.coefficients tbody tr");
  assert.equal(rows.length, second.body.rows.length);
  assert.equal(rows.length, 5);
  for (const [i, expected] of second.body.rows.entries()) {
    const c = await cells(rows[i]);
    assert.equal(c.product, expected.product);
    assert.equal(c.emission_coefficient, show(expected.emission_coefficient));
    assert.equal(c.treatment, expected.treatment);
  }
  assert.ok(await page.$("a[rel=prev]"));
  assert.equal(await page.$("a[rel=next]"), null);
  await noProblems();
});

test("a filter the API refuses shows the API's message", async () => {
  expectedStatuses = [400];
  await open("/sets/npsc1-excerpt/editions/1?pollutant=CO2x");
  const { status, body } = await api("/api/v1/sets/npsc1-excerpt/editions/1/coefficients?pollutant=CO2x&per_page=100&page=1");
  assert.equal(status, 400);
  assert.equal(await page.getAttribute(".error", "data-status"), "400");
  assert.equal(await page.textContent(".error .error-message"), body.message);
  assert.equal(await page.inputValue("#f-pollutant"), "CO2x", "the form stays to correct it");
  expectedStatuses = [];
  await noProblems();
});

test("the diff page shows the API's counts and changed values", async () => {
  // From the index's link: the newest edition against the one before it.
  await open("/");
  await Promise.all([page.waitForURL(/\/diff\?/), page.click('section[data-set="npsc1-excerpt"] a.button')]);
  await page.waitForSelector("body[data-ready=true]");
  assert.equal(new URL(page.url()).search, "?from=1&to=2");
  const { status, body: diff } = await api("/api/v1/sets/npsc1-excerpt/diff?from=1&to=2");
  assert.equal(status, 200);
  const expected = {
    unchanged: diff.unchanged,
    changed: diff.changed.length,
    added: diff.added.length,
    removed: diff.removed.length,
    renamed: diff.renamed.length,
  };
  assert.deepEqual([expected.changed, expected.added, expected.removed], [2, 1, 1], "the seeded revision");
  for (const [key, count] of Object.entries(expected)) {
    assert.equal(await page.textContent(`[data-count=${key}] dd`), String(count), key);
  }
  const rows = await page.$$("#changed tbody tr");
  const fields = diff.changed.flatMap((c) => c.fields.map((f) => ({ key: c.key, ...f })));
  assert.equal(rows.length, fields.length);
  for (const [i, f] of fields.entries()) {
    const c = await cells(rows[i]);
    assert.equal(c.field, f.field);
    assert.equal(c.old, show(f.old));
    assert.equal(c.new, show(f.new));
    assert.equal(c.relative, show(f.relative));
  }
  const shownOld = await page.$$eval("#changed td[data-field=old]", (tds) => tds.map((td) => td.textContent));
  assert.ok(shownOld.includes("2.94") && shownOld.includes("15"), shownOld.join());
  assert.deepEqual(await page.$$eval("#added li", (l) => l.map((x) => x.textContent)), diff.added);
  assert.deepEqual(await page.$$eval("#removed li", (l) => l.map((x) => x.textContent)), diff.removed);
  await shot("diff");

  // Choosing other editions in the form: back to the same edition, nothing changed.
  await page.selectOption("#f-from", "2");
  await Promise.all([page.waitForURL(/from=2/), page.click("#chooser button")]);
  await page.waitForSelector("body[data-ready=true]");
  const same = await api("/api/v1/sets/npsc1-excerpt/diff?from=2&to=2");
  assert.equal(await page.textContent("[data-count=unchanged] dd"), String(same.body.unchanged));
  assert.equal(await page.textContent("[data-count=changed] dd"), "0");
  await noProblems();
});

test("runs need a token: anonymously the runs page shows the API's 401 and where to enter one", async () => {
  expectedStatuses = [401];
  await open("/runs");
  const { status, body } = await api("/api/v1/runs");
  assert.equal(status, 401);
  assert.equal(await page.getAttribute(".error", "data-status"), "401");
  assert.equal(await page.textContent(".error .error-message"), body.message);
  assert.equal(await page.getAttribute(".error a.token-link", "href"), "/publish#token-form");
  await noProblems();
});

test("the runs page lists the API's runs with their editions and counts", async () => {
  await saveToken(READER);
  await open("/runs");
  const { body: runs } = await api("/api/v1/runs", READER);
  assert.ok(runs.length >= 1);
  assert.equal((await page.$$("table.runs tbody tr")).length, runs.length);
  for (const run of runs) {
    const c = await cells(await page.$(`tr[data-run="${run.id}"]`));
    assert.equal(c.id, `#${run.id}`);
    assert.equal(c.edition, run.edition.name);
    assert.equal(c.region_level, run.region_level);
    for (const k of ["rows_read", "rows_accounted", "rows_excluded", "rows_unaccounted"]) {
      assert.equal(c[k], String(run.counts[k]), k);
    }
  }
  await shot("runs");
  await noProblems();
});

/** The bars of the chart: region key, API value and drawn height. */
async function bars() {
  return page.$$eval("#chart rect.bar", (rects) =>
    rects.map((r) => ({ key: r.dataset.key, value: r.dataset.value, height: Number(r.getAttribute("height")) })),
  );
}

/** One bar per region of the chosen lines, heights proportional to the values. */
async function checkChart(lines) {
  const chart = await page.$eval("#chart", (c) => ({ ...c.dataset }));
  const chosen = lines.filter(
    (l) => l.pollutant_code === chart.pollutant && String(l.year) === chart.year && (l.industry_code ?? "—") === chart.industry,
  );
  assert.ok(chosen.length >= 2, `several regions for ${JSON.stringify(chart)}`);
  const drawn = await bars();
  assert.equal(drawn.length, chosen.length, "one bar per region");
  assert.equal(new Set(drawn.map((b) => b.key)).size, drawn.length, "regions are distinct");
  const values = chosen.map((l) => Number(l[chart.measure]));
  const max = Math.max(...values);
  const tallest = Math.max(...drawn.map((b) => b.height));
  assert.ok(tallest > 100, `the chart is visible: ${tallest}px`);
  for (const [i, l] of chosen.entries()) {
    assert.equal(drawn[i].key, l.region_code ?? "—");
    assert.equal(drawn[i].value, l[chart.measure], "the API's string");
    const expected = values[i] / max;
    assert.ok(Math.abs(drawn[i].height / tallest - expected) < 1e-9, `${l.region_code}: ${drawn[i].height}/${tallest} vs ${expected}`);
  }
  const labels = await page.$$eval("#chart text.value", (t) => t.map((x) => x.textContent));
  assert.deepEqual(labels, chosen.map((l) => l[chart.measure]));
  return chart;
}

async function checkTable(lines) {
  const rows = await page.$$("#totals tbody tr");
  assert.equal(rows.length, lines.length, "one row per line of the API");
  for (const [i, l] of lines.entries()) {
    const c = await cells(rows[i]);
    for (const field of ["year", "region_code", "region_name", "pollutant", "unit", "generated", "emitted", "rows", "flagged_rows"]) {
      assert.equal(c[field], show(l[field]), `line ${i} ${field}`);
    }
  }
}

test("the run page's table equals the run's totals and its chart has one bar per region", async () => {
  const id = env("NPSC_RUN_ID");
  await open(`/runs/${id}`);
  const { status, body } = await api(`/api/v1/runs/${id}/totals`, READER);
  assert.equal(status, 200);
  await checkTable(body.totals);
  const first = await checkChart(body.totals);
  assert.equal(first.measure, "emitted");
  await shot("run");
  // Another pollutant, year and measure.
  const other = body.totals.find((l) => l.pollutant_code !== first.pollutant && l.year !== Number(first.year));
  await page.selectOption("#c-pollutant_code", other.pollutant_code);
  await page.selectOption("#c-year", String(other.year));
  await page.selectOption("#c-measure", "generated");
  const second = await checkChart(body.totals);
  assert.deepEqual([second.pollutant, second.year, second.measure], [other.pollutant_code, String(other.year), "generated"]);
  await noProblems();
});

test("the run page at prefecture level shows the API's statistics", async () => {
  const id = env("NPSC_RUN_ID");
  await open(`/runs/${id}`);
  await Promise.all([page.waitForURL(/region_level=prefecture/), page.selectOption("#c-region_level", "prefecture")]);
  await page.waitForSelector("body[data-ready=true]");
  const { status, body } = await api(`/api/v1/statistics?run=${id}&region_level=prefecture`, READER);
  assert.equal(status, 200);
  assert.equal(body.region_level, "prefecture");
  await checkTable(body.lines);
  await checkChart(body.lines);
  await shot("run-prefecture");
  await (await page.$("#chart")).screenshot({ path: path.join(SHOTS, "run-prefecture-chart.png") });
  await noProblems();
});

async function saveToken(token) {
  await open("/publish");
  await page.fill("#token", token);
  await page.click("#save-token");
  await page.waitForFunction(() => document.getElementById("who").textContent.startsWith("已输入令牌"));
}

async function upload(set, file) {
  await page.fill("#set", set);
  await page.fill("#provenance", "browser test upload");
  await page.fill("#effective_from", "2024-03-15");
  await page.setInputFiles("#file", file);
  await page.click("#upload");
}

test("publish: a bad table lists every located issue the API reports, nothing is stored", async () => {
  expectedStatuses = [422];
  await saveToken(ADMIN);
  // The token stays for this tab.
  await page.reload();
  await page.waitForSelector("body[data-ready=true]");
  assert.equal(await page.inputValue("#token"), ADMIN);
  await upload("browser-bad", env("NPSC_BAD_TABLE"));
  await page.waitForSelector("#validation");
  const form = new FormData();
  const { readFile } = await import("node:fs/promises");
  form.append("file", new Blob([await readFile(env("NPSC_BAD_TABLE"))], { type: "text/csv" }), "bad-coefficients.csv");
  const { status, body } = await api("/api/v1/sets/browser-bad/drafts?provenance=x", ADMIN, { method: "POST", body: form });
  assert.equal(status, 422);
  assert.ok(body.details.length >= 3, JSON.stringify(body));
  const rows = await page.$$("#validation tr.issue");
  assert.equal(rows.length, body.details.length, "every located issue is listed");
  for (const [i, d] of body.details.entries()) {
    const c = await cells(rows[i]);
    assert.equal(c.code, d.code);
    assert.equal(c.row, show(d.row));
    assert.equal(c.column, show(d.column));
    assert.equal(c.value, show(d.value));
    assert.equal(c.message, d.message);
  }
  assert.equal(await page.textContent("#validation .error-message"), body.message);
  await shot("publish-issues");
  const listed = await api("/api/v1/editions?set=browser-bad", ADMIN);
  assert.deepEqual(listed.body, []);
  expectedStatuses = [];
  await noProblems();
});

test("publish: a good table becomes a draft, is published with a note and the index shows it", async () => {
  await saveToken(ADMIN);
  // The seeded draft npsc1-excerpt@3 is listed for the token.
  await page.waitForSelector('#drafts .draft[data-edition="npsc1-excerpt@3"]');
  await upload("browser-test", env("NPSC_GOOD_TABLE"));
  const card = await page.waitForSelector('#report .draft[data-edition="browser-test@1"]');
  const draft = await api("/api/v1/sets/browser-test/editions/1", ADMIN);
  assert.equal(draft.body.status, "draft");
  assert.match(await card.textContent(), new RegExp(`${draft.body.row_count} 行 rows`));
  await shot("publish-draft");
  await card.$eval("textarea", (t) => {
    t.value = "browser test: first edition";
  });
  await card.$eval("button[type=submit]", (b) => b.click());
  await page.waitForSelector('#published[data-edition="browser-test@1"]');
  assert.equal(await card.$eval("[data-status]", (b) => b.dataset.status), "published");
  const published = await api("/api/v1/sets/browser-test/editions/1");
  assert.equal(published.body.status, "published");
  assert.equal(published.body.revision_note, "browser test: first edition");
  assert.equal(published.body.published_by, "provincial office");
  await shot("publish-done");

  await open("/");
  const row = await page.$('tr[data-edition="browser-test@1"]');
  assert.ok(row, "the index lists the new edition");
  const c = await cells(row);
  assert.equal(await row.$eval("[data-status]", (b) => b.dataset.status), "published");
  assert.equal(c.revision_note, "browser test: first edition");
  assert.equal(c.row_count, String(published.body.row_count));
  await noProblems();
});

test("publish: a reader's token gets the API's 403 message", async () => {
  expectedStatuses = [403];
  await saveToken(READER);
  await upload("browser-reader", env("NPSC_GOOD_TABLE"));
  await page.waitForSelector("#report .error[data-status='403']");
  const form = new FormData();
  const { readFile } = await import("node:fs/promises");
  form.append("file", new Blob([await readFile(env("NPSC_GOOD_TABLE"))], { type: "text/csv" }), "coefficients.csv");
  const { status, body } = await api("/api/v1/sets/browser-reader/drafts?provenance=x", READER, { method: "POST", body: form });
  assert.equal(status, 403);
  assert.equal(await page.textContent("#report .error .error-message"), body.message);
  assert.match(await page.textContent("#report .error .hint"), /权限不足/);
  await shot("publish-forbidden");
  // Forget the token: the tab is anonymous again.
  await page.click("#token-form button.secondary");
  assert.equal(await page.textContent("#who"), "匿名 Anonymous");
  expectedStatuses = [];
  await noProblems();
});
