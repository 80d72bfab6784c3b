// Opens the HTML statement as a person would: Debian's chromium, headless,
// through playwright-core, with every network request refused and recorded.
// Checks that the totals the page shows equal the chargeback CSV's, that every
// cost center of the CSV has its section (and a link to it), that nothing
// outside the file was requested, and saves a full-page screenshot and the
// page printed to PDF beside it.
//
// usage: node statement.mjs OUT_DIR YYYY-MM SCREENSHOT.png
// CHROMIUM names the browser binary (default /usr/bin/chromium).
import { chromium } from "playwright-core";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const [outDir, month, screenshot] = process.argv.slice(2);
if (!outDir || !month || !screenshot) {
  console.error("usage: node statement.mjs OUT_DIR YYYY-MM SCREENSHOT.png");
  process.exit(2);
}
const fail = (msg) => {
  console.error(`statement (browser): ${msg}`);
  process.exitCode = 1;
};

// The chargeback CSV: RFC 4180 fields, spreadsheet-escaped text kept as is.
function parseCsv(text) {
  const rows = [];
  let row = [], field = "", quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++; }
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") { row.push(field); field = ""; }
    else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      row.push(field); rows.push(row); row = []; field = "";
    } else field += c;
  }
  if (field !== "" || row.length) { row.push(field); rows.push(row); }
  const [header, ...body] = rows.filter((r) => r.length > 1);
  return body.map((r) => Object.fromEntries(header.map((h, i) => [h, r[i]])));
}

// Exact decimal sums as integers of micro-units (costs have six decimals).
const micros = (s) => {
  const [whole, frac = ""] = s.split(".");
  const sign = whole.startsWith("-") ? -1n : 1n;
  return sign * (BigInt(whole.replace("-", "")) * 1000000n + BigInt((frac + "000000").slice(0, 6)));
};
const unescape = (s) => (s.startsWith("'") && /^'[=+\-@\t\r]/.test(s) ? s.slice(1) : s);

const lines = parseCsv(readFileSync(join(outDir, `chargeback-${month}.csv`), "utf8"));
const want = new Map();
for (const l of lines) {
  if (l.cost && l.currency) want.set(l.currency, (want.get(l.currency) ?? 0n) + micros(l.cost));
}
const centers = new Set(lines.map((l) => unescape(l.cost_center)));

const page_url = pathToFileURL(resolve(outDir, `statement-${month}.html`)).href;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox"],
});
try {
  const context = await browser.newContext({ offline: true, viewport: { width: 1280, height: 900 } });
  const requested = [];
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (url === page_url) return route.continue();
    requested.push(url);
    return route.abort();
  });
  const page = await context.newPage();
  // The page's own policy blocks loads before they become requests; a refusal
  // still means the page tried, so it fails the test too.
  page.on("console", (msg) => {
    if (/Content Security Policy|Refused to/i.test(msg.text())) requested.push(`blocked: ${msg.text()}`);
  });
  page.on("request", (req) => {
    if (req.url() !== page_url && !requested.includes(req.url())) requested.push(req.url());
  });
  const response = await page.goto(page_url, { waitUntil: "load" });
  if (!response || !response.ok()) fail(`could not open ${page_url}`);

  const totals = await page.$$eval("[data-total]", (els) =>
    els.map((e) => [e.getAttribute("data-currency"), e.getAttribute("data-total"), e.querySelector(".value")?.textContent ?? ""]));
  const got = new Map(totals.map(([cur, exact]) => [cur, micros(exact)]));
  if (got.size !== want.size || [...want].some(([cur, v]) => got.get(cur) !== v)) {
    fail(`page totals ${JSON.stringify(totals)} differ from the chargeback CSV's ${JSON.stringify([...want].map(([c, v]) => [c, String(v)]))}`);
  }
  for (const [cur, , shown] of totals) {
    // The visible figure is the same amount for people: grouped, to the cent.
    const cents = (got.get(cur) + 5000n) / 10000n; // half up is enough to read; the exact value is data-total
    const plain = shown.replace(/[^0-9.-]/g, "");
    if (Math.abs(Number(plain) * 100 - Number(cents)) > 1) fail(`shown total ${shown} is not ${cents} cents`);
  }
  const sections = await page.$$eval("section.cost-center", (els) =>
    els.map((e) => [e.id, e.querySelector("h2")?.textContent ?? "", e.getBoundingClientRect().height > 0]));
  const named = new Set(sections.map(([, h]) => h.replace(/^Cost center /, "")));
  for (const c of centers) if (!named.has(c)) fail(`no section for cost center ${c}`);
  for (const [id, , visible] of sections) {
    if (!visible) fail(`section ${id} is not shown`);
    const links = await page.locator(`a[href="#${id}"]`).count();
    if (links === 0) fail(`nothing links to section ${id}`);
  }
  if ((await page.locator("svg").count()) < 3) fail("the charts are missing");
  if (requested.length) fail(`the page requested ${requested.join(", ")}`);
  await page.screenshot({ path: screenshot, fullPage: true });
  // It prints: the PDF a reader would save, beside the screenshot.
  const pdf = await page.pdf({ path: screenshot.replace(/\.png$/, "") + ".pdf", format: "A4", printBackground: true });
  if (pdf.length < 10000) fail(`the printed PDF is only ${pdf.length} bytes`);
  if (!process.exitCode) console.log(`statement (browser): ok (${sections.length} cost center sections, totals ${totals.map(([c, v]) => `${v} ${c}`).join(", ")}, screenshot ${screenshot})`);
} finally {
  await browser.close();
}
