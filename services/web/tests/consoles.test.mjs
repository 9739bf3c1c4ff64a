// The consoles in headless Chromium against whistle with demo data: each console renders
// (and is saved as a screenshot), a complaint from the form reaches the supervisor's board
// and the right department's queue live, two liaisons race for one summons, and the time
// slider shows the board as it stood.
import assert from "node:assert/strict";
import { test } from "node:test";
import { DESKTOP, PHONE, assertClean, base, call, count, countReaches, open, shot } from "./harness.mjs";

/** How long a live view may take to show a change: the "within 2 s". */
const LIVE_MS = 2000;

/** Fills the open action dialog's fields (by test id), confirms, and waits for it to close. */
async function confirm(page, fields) {
  await page.waitForSelector("[data-testid='dialog'][open]");
  for (const [id, value] of Object.entries(fields)) await page.fill(`[data-testid='dialog'] [data-testid='${id}']`, value);
  await page.click("[data-testid='dialog'] [data-testid='confirm']");
  await page.waitForSelector("[data-testid='dialog'][open]", { state: "detached" }).catch(() => {});
  await page.waitForFunction(() => !document.querySelector("[data-testid='dialog'][open]"));
}

/** Waits until `check()` resolves true, checking every 100 ms for up to 20 s. */
async function until(check, what = "a condition") {
  for (let waited = 0; waited < 20000; waited += 100) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.fail(`timed out waiting for ${what}`);
}

const row = (ticket) => `[data-testid="queue-row"][data-ticket="${ticket}"]`;

test("each console renders with the demo data", async (t) => {
  const cases = [
    { name: "home", account: null, path: "/", ready: "main a[href='/report']" },
    { name: "sign-in", account: null, path: "/sign-in", ready: "[data-testid='demo-supervisor-city']" },
    { name: "report", account: null, path: "/report", ready: "[data-testid='report-form']" },
    { name: "report-phone", account: null, path: "/report", ready: "[data-testid='report-form']", viewport: PHONE },
    { name: "supervisor", account: "supervisor-city", path: "/console/supervisor", ready: "[data-testid='trend-day'] canvas" },
    { name: "supervisor-en", account: "supervisor-city", path: "/console/supervisor", ready: "[data-testid='trend-day'] canvas", lang: "en" },
    { name: "community", account: "community-hejianli", path: "/console/community", ready: "[data-testid='queue-row']" },
    { name: "street", account: "street-yangming", path: "/console/street", ready: "[data-testid='queue-row']" },
    { name: "liaison", account: "liaison-chengguan-qian", path: "/console/liaison", ready: "[data-testid='queue-row']" },
    { name: "liaison-phone", account: "liaison-chengguan-qian", path: "/console/liaison", ready: "[data-testid='queue-row']", viewport: PHONE },
  ];
  for (const c of cases) {
    await t.test(c.name, async () => {
      const page = await open(c.account, { lang: c.lang, viewport: c.viewport || DESKTOP });
      await page.goto(new URL(c.path, base).href);
      await page.waitForSelector(c.ready, { timeout: 10000 });
      const text = await page.textContent("body");
      if ((c.lang || "zh") === "zh") assert.match(text, /[\u4e00-\u9fff]/, `${c.name} reads in Chinese`);
      else assert.doesNotMatch(text, /退出|登录|督办看板/, `${c.name} has no Chinese chrome in English`);
      await shot(page, c.name);
      assertClean(page, c.name);
      await page.context().close();
    });
  }

  await t.test("ticket", async () => {
    const page = await open("liaison-chengguan-qian");
    await page.goto(new URL("/console/liaison", base).href);
    const ticket = await page.getAttribute("[data-testid='queue-row']", "data-ticket", { timeout: 10000 });
    await page.goto(new URL(`/console/ticket?id=${ticket}`, base).href);
    await page.waitForSelector("[data-testid='timeline-entry']", { timeout: 10000 });
    await page.waitForSelector("[data-testid='clock-chart'] canvas", { timeout: 10000 });
    assert.ok((await page.locator("[data-testid='timeline-entry']").count()) >= 4, "every event on the timeline");
    await shot(page, "ticket");
    assertClean(page, "ticket");
    await page.context().close();
  });

  await t.test("a page for another role says so", async () => {
    const page = await open("liaison-chengguan-qian");
    await page.goto(new URL("/console/supervisor", base).href);
    await page.waitForSelector("[data-testid='wrong-role']");
    await page.context().close();
  });
});

test("a complaint from the form shows on the board and in the department's queue within 2 s, and one of two racing liaisons wins", async (t) => {
  const supervisor = await open("supervisor-city");
  await supervisor.goto(new URL("/console/supervisor", base).href);
  await supervisor.waitForSelector("[data-testid='live'].on", { timeout: 10000 });
  await supervisor.waitForSelector("[data-testid='board-at'][data-at]", { timeout: 10000 });
  const before = await count(supervisor, "stage-received");

  const community = await open("community-hongqili");
  await community.goto(new URL("/console/community", base).href);
  await community.waitForSelector("[data-testid='live'].on", { timeout: 10000 });
  const wang = await open("liaison-zhujian-wang");
  await wang.goto(new URL("/console/liaison", base).href);
  await wang.waitForSelector("[data-testid='live'].on", { timeout: 10000 });
  const liu = await open("liaison-zhujian-liu");
  await liu.goto(new URL("/console/liaison", base).href);
  await liu.waitForSelector("[data-testid='live'].on", { timeout: 10000 });

  // A resident on a phone, not signed in.
  const resident = await open(null, { viewport: PHONE });
  await resident.goto(new URL("/report", base).href);
  const form = "[data-testid='report-form']";
  // Each place's list fills once the one above it is chosen.
  for (const [field, value] of [
    ["category", "drains"],
    ["district", "haigang"],
    ["street", "wenhualu"],
    ["community", "hongqili"],
  ]) {
    const select = `${form} [data-testid='${field}']`;
    await resident.waitForSelector(`${select} option[value='${value}']`, { state: "attached" });
    await resident.selectOption(select, value);
  }
  await resident.fill(`${form} [data-testid='description']`, "红旗里小区3号楼下水道堵塞，污水漫到路面");
  await resident.fill(`${form} [data-testid='contact-name']`, "王秀兰");
  await resident.fill(`${form} [data-testid='contact-phone']`, "13831234567");
  if (await resident.locator(`${form} [data-testid='address']`).count()) {
    await resident.fill(`${form} [data-testid='address']`, "红旗里小区3号楼");
  }
  await resident.click("[data-testid='report-submit']");
  const token = (await resident.textContent("[data-testid='receipt-token']", { timeout: 5000 })).trim();
  const submitted = Date.now();
  assert.ok(token.length > 20, `a tracking token: ${token}`);
  await shot(resident, "receipt-phone");

  await t.test("the supervisor's board counts it without a reload", async () => {
    await countReaches(supervisor, "stage-received", before + 1, LIVE_MS);
  });

  const followed = await call(null, "GET", `/api/receipts/${encodeURIComponent(token)}`);
  assert.equal(followed.status, 200, JSON.stringify(followed.body));
  const ticket = followed.body.ticket;

  await t.test("the community acknowledges and calls it up from its console", async () => {
    await community.waitForSelector(row(ticket), { timeout: LIVE_MS + (Date.now() - submitted) });
    await community.click(`${row(ticket)} [data-testid='acknowledge']`);
    await confirm(community, {}); // the standard reply, as offered
    await community.click(`${row(ticket)} [data-testid='call-up']`);
    await confirm(community, { reason: "需住建部门疏通管道" });
  });
  const calledUp = Date.now();

  await t.test("文化路街道 whistles 住建, whose liaisons see it within 2 s without a reload", async () => {
    await wang.waitForSelector(row(ticket), { timeout: LIVE_MS + 1000 });
    await liu.waitForSelector(row(ticket), { timeout: Math.max(500, LIVE_MS + 1000 - (Date.now() - calledUp)) });
    assert.ok(Date.now() - calledUp < LIVE_MS + 1000);
    await shot(wang, "liaison-new-summons");
  });

  await t.test("two liaisons claim at once: one wins, the other is told who", async () => {
    await Promise.all([
      wang.click(`${row(ticket)} [data-testid='claim']`),
      liu.click(`${row(ticket)} [data-testid='claim']`),
    ]);
    const told = await Promise.any(
      [wang, liu].map((page) =>
        page.waitForSelector(`[data-testid='claimed-by']`, { timeout: 5000 }).then(() => page),
      ),
    );
    const loser = told === wang ? "zhujian-wang" : "zhujian-liu";
    const winner = told === wang ? "zhujian-liu" : "zhujian-wang";
    const message = await told.textContent("[data-testid='claimed-by']");
    assert.ok(message.includes(winner), `the loser (${loser}) reads who won: ${message}`);
    const other = told === wang ? liu : wang;
    assert.equal(await other.locator("[data-testid='claimed-by']").count(), 0, "the winner sees no conflict");
    const seen = await call("supervisor-city", "GET", `/api/tickets/${ticket}`);
    assert.equal(seen.status, 200);
    assert.ok(JSON.stringify(seen.body).includes(winner), "the ticket records the winner's claim");
    assert.ok(!JSON.stringify(seen.body).includes(`"${loser}"`), "and no claim by the loser");
    await shot(told, "liaison-claimed-by-another");
  });

  await t.test("the resident follows it on the status page", async () => {
    await resident.goto(new URL(`/track#${token}`, base).href);
    await resident.waitForSelector("[data-testid='track-stage']", { timeout: 5000 });
    await shot(resident, "track-phone");
    assertClean(resident, "track");
  });

  for (const page of [supervisor, community, wang, liu, resident]) {
    assertClean(page, page.url(), { answered: [409] });
    await page.context().close();
  }
});

test("the time slider shows the board as it stood", async () => {
  const page = await open("supervisor-city");
  await page.goto(new URL("/console/supervisor", base).href);
  await page.waitForSelector("[data-testid='board-at'][data-at]");
  // The slider starts at the oldest ticket once the page has found it.
  await page.waitForSelector("[data-testid='as-of'][min]", { state: "attached" });
  const liveAt = await page.getAttribute("[data-testid='board-at']", "data-at");
  const liveTotal = await count(page, "open-total");
  await page.locator("[data-testid='as-of']").evaluate((slider) => {
    slider.value = slider.min;
    slider.dispatchEvent(new Event("input", { bubbles: true }));
    slider.dispatchEvent(new Event("change", { bubbles: true }));
  });
  const pastAt = await page.waitForFunction(
    (before) => {
      const at = document.querySelector("[data-testid='board-at']")?.getAttribute("data-at");
      return at && at !== before && new Date(at) < new Date(before) ? at : false;
    },
    liveAt,
    { timeout: 10000 },
  );
  const past = await pastAt.jsonValue();
  const pastTotal = await count(page, "open-total");
  assert.notEqual(pastTotal, liveTotal, `the board of ${past} differs from now's`);
  const asOfLabel = await page.textContent("[data-testid='as-of-label']");
  assert.ok(asOfLabel.trim().length > 0);
  await shot(page, "supervisor-as-of");
  await page.click("[data-testid='as-of-now']");
  await page.waitForFunction(
    (before) => {
      const at = document.querySelector("[data-testid='board-at']")?.getAttribute("data-at");
      return at && new Date(at) > new Date(before);
    },
    past,
    { timeout: 10000 },
  );
  assert.equal(await count(page, "open-total"), liveTotal, "back to now");
  assertClean(page, "time slider");
  await page.context().close();
});

test("a figure drills down to the tickets behind it, and on to one ticket's timeline", async () => {
  const page = await open("supervisor-city");
  await page.goto(new URL("/console/supervisor", base).href);
  const figure = "[data-testid='rate-response']";
  await page.waitForSelector(`${figure}[data-denominator]`);
  const counted = Number(await page.getAttribute(figure, "data-denominator"));
  assert.ok(counted > 0, "the demo has acknowledge clocks to count");
  await page.click(figure);
  await page.waitForSelector("[data-testid='drill'] [data-testid='drill-row']");
  // The list first shows the tickets counted: as many as the figure's denominator.
  await page.waitForFunction(
    (wanted) => document.querySelectorAll("[data-testid='drill'] [data-testid='drill-row']").length === wanted,
    counted,
    { timeout: 5000 },
  );
  await shot(page, "supervisor-drill");
  const ticket = await page.getAttribute("[data-testid='drill'] [data-testid='drill-row']", "data-ticket");
  await page.goto(new URL(`/console/ticket?id=${ticket}`, base).href);
  await page.waitForSelector("[data-testid='timeline-entry']");
  assert.match(await page.textContent("[data-testid='timeline']"), /[\u4e00-\u9fff]/);
  assertClean(page, "drill-down");
  await page.context().close();
});

test("a department's request for more time reaches the street live, and the street approves it", async () => {
  // A ticket 住建 holds, made through the API.
  const filed = await call(null, "POST", "/api/complaints", {
    category: "drains",
    community: "hongqili",
    description: "红旗里小区5号楼化粪池满溢",
  });
  assert.equal(filed.status, 201, JSON.stringify(filed.body));
  const ticket = filed.body.ticket;
  // As a worker would: act once the ticket is in the community's queue.
  await until(
    async () => JSON.stringify((await call("community-hongqili", "GET", "/api/communities/hongqili/queue")).body).includes(ticket),
    "the ticket in 红旗里's queue",
  );
  for (const [step, body] of [
    ["acknowledge", { reply: "已收到，马上安排" }],
    ["call-up", { reason: "需住建清掏" }],
  ]) {
    const done = await call("community-hongqili", "POST", `/api/tickets/${ticket}/${step}`, body);
    assert.equal(done.status, 200, `${step}: ${JSON.stringify(done.body)}`);
  }
  const summons = `/api/tickets/${ticket}/summons/zhujian`;
  await until(
    async () => JSON.stringify((await call("liaison-zhujian-wang", "GET", "/api/departments/zhujian/queue")).body).includes(ticket),
    "the summons in 住建's queue",
  );
  const claimed = await call("liaison-zhujian-wang", "POST", `${summons}/claim`);
  assert.equal(claimed.status, 200, JSON.stringify(claimed.body));

  const page = await open("street-wenhualu");
  await page.goto(new URL("/console/street", base).href);
  await page.waitForSelector("[data-testid='live'].on");
  const later = new Date(Date.now() + 20 * 86400000).toISOString();
  const asked = await call("liaison-zhujian-wang", "POST", `${summons}/extension`, { until: later, reason: "需协调物业停水后施工" });
  assert.equal(asked.status, 200, JSON.stringify(asked.body));
  const request = `[data-testid='queue-row'][data-ticket='${ticket}'][data-kind='extension']`;
  await page.waitForSelector(request, { timeout: LIVE_MS + 1000 });
  assert.match(await page.textContent(request), /需协调物业停水后施工/);
  await shot(page, "street-extension");
  await page.click(`${request} [data-testid='approve-extension']`);
  await confirm(page, {});
  await page.waitForSelector(request, { state: "detached", timeout: 5000 });
  const seen = await call("supervisor-city", "GET", `/api/tickets/${ticket}`);
  const zhujian = seen.body.summonses.find((s) => s.department === "zhujian");
  assert.ok(zhujian.extended_until, `the deadline moved: ${JSON.stringify(zhujian)}`);
  assertClean(page, "extension");
  await page.context().close();
});

test("sign-in returns only to a page of this site", async () => {
  for (const next of ["/\\evil.example/x", "/%09/evil.example", "//evil.example", "/console/liaison"]) {
    const page = await open(null);
    await page.goto(new URL(`/sign-in?next=${encodeURIComponent(next)}`, base).href);
    await page.click("[data-testid='demo-supervisor-city']");
    await page.waitForURL((url) => !url.pathname.startsWith("/sign-in"));
    const landed = new URL(page.url());
    assert.equal(landed.origin, new URL(base).origin, `next=${next} stays on this site`);
    if (next === "/console/liaison") assert.equal(landed.pathname, "/console/liaison");
    await page.context().close();
  }
});
