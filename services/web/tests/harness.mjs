// What every browser test shares: one headless Chromium, pages signed in as a demo account,
// screenshots, and a watch on every page's errors (a console error fails the test).
import assert from "node:assert/strict";
import { after } from "node:test";
import { chromium } from "playwright-core";

export const base = process.env.WHISTLE_URL;
assert.ok(base, "WHISTLE_URL names the whistle under test");

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM,
  args: ["--no-sandbox", "--disable-dev-shm-usage"],
});
after(() => browser.close());

export const DESKTOP = { width: 1440, height: 900 };
export const PHONE = { width: 375, height: 740 };

/**
 * A new page in a browser context of its own (its own storage, so its own sign-in), in
 * `lang`, signed in as the demo account `account` (none: anonymous). Console errors and
 * uncaught exceptions are collected in `page.problems`.
 */
export async function open(account, { lang = "zh", viewport = DESKTOP } = {}) {
  const context = await browser.newContext({ viewport, locale: lang === "zh" ? "zh-CN" : "en-US" });
  const page = await context.newPage();
  page.problems = [];
  page.on("pageerror", (error) => page.problems.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error") page.problems.push(`console error: ${message.text()}`);
  });
  await page.goto(`${base}/sign-in`);
  await page.evaluate((chosen) => localStorage.setItem("whistle.lang", chosen), lang);
  if (account) {
    await page.reload();
    await page.click(`[data-testid="demo-${account}"]`);
    await page.waitForURL((url) => !url.pathname.startsWith("/sign-in"));
  }
  return page;
}

/**
 * Fails when the page logged an error or threw. `answered` lists HTTP statuses the test
 * provoked on purpose (a lost claim's 409): Chromium logs those too.
 */
export function assertClean(page, what, { answered = [] } = {}) {
  const expected = answered.map((status) => `the server responded with a status of ${status} `);
  const problems = page.problems.filter((p) => !expected.some((e) => p.includes(e)));
  assert.deepEqual(problems, [], `${what}: no console errors`);
}

/**
 * Lets a page finish drawing before a screenshot: its fonts loaded and ECharts' entry
 * animation over. (Live pages keep their event streams open, so the network never idles.)
 */
export async function settle(page) {
  await page.evaluate(() => document.fonts.ready);
  await page.waitForTimeout(1200);
}

/** Saves a screenshot of the whole page, once drawn, to the screenshots folder. */
export async function shot(page, name) {
  await settle(page);
  await page.screenshot({ path: `${process.env.SCREENSHOTS}/${name}.png`, fullPage: true });
}

/** The number in `[data-testid=<id>]`'s `data-count`. */
export async function count(page, id) {
  const value = await page.getAttribute(`[data-testid="${id}"]`, "data-count");
  assert.notEqual(value, null, `${id} has a data-count`);
  return Number(value);
}

/** Waits up to `ms` for `[data-testid=<id>]`'s count to reach at least `least`; returns it. */
export async function countReaches(page, id, least, ms) {
  const handle = await page.waitForFunction(
    ([selector, wanted]) => {
      const node = document.querySelector(selector);
      const value = node ? Number(node.getAttribute("data-count")) : NaN;
      return value >= wanted ? value : false;
    },
    [`[data-testid="${id}"]`, least],
    { timeout: ms },
  );
  return handle.jsonValue();
}

/** Calls the API as the demo account `account` (none: anonymous). */
export async function call(account, method, path, body) {
  const headers = { "Content-Type": "application/json" };
  if (account) {
    const signed = await fetch(`${base}/api/demo/accounts/${account}/sign-in`, { method: "POST" });
    assert.equal(signed.status, 200, `demo account ${account}`);
    headers.Authorization = `Bearer ${(await signed.json()).token}`;
  }
  const response = await fetch(`${base}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}
