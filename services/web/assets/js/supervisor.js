// The supervisor's SLA dashboard (督办看板), scoped by the API to the supervisor's city,
// district or street: open tickets by stage (live over SSE), the 5-minute acknowledgement
// compliance, the three rates (响应率、解决率、满意率) and the other on-time rates, time per
// step, daily and monthly trends (ECharts), the at-risk and breached clocks with running
// countdowns, a strip of breaches as they happen, and the monthly ranking of streets and
// departments. Every figure drills down to the tickets behind it, and each ticket to its
// timeline. A time slider shows the whole board as it stood at a past moment.
import {
  addStrings,
  api,
  categoryName,
  countdown,
  duration,
  el,
  fill,
  frame,
  jurisdiction,
  lang,
  liveBadge,
  placeText,
  problemText,
  scopeCode,
  shortId,
  stream,
  t,
  ticketHref,
  toast,
  urgencyName,
  when,
} from "./common.js";

addStrings({
  zh: {
    "sup.title": "督办看板",
    "sup.scope.city": "全市",
    "sup.board_at": "数据时点 {at}",
    "sup.judged_by": "计时依据：{text}",
    "sup.load_failed": "看板加载失败：{detail}",
    "sup.asof.title": "时间回看",
    "sup.asof.live": "实时 · {at}",
    "sup.asof.past": "回看 · {at}",
    "sup.asof.now": "回到实时",
    "sup.asof.hint": "拖动滑块，查看看板在过去某一时刻的状态",
    "sup.asof.paused": "正在查看历史时点，实时推送暂不刷新看板",
    "sup.asof.start": "起：{at}",
    "sup.period": "统计口径",
    "sup.period.all": "累计",
    "sup.period.month": "本月",
    "sup.period.day": "当日",
    "sup.section.stages": "工单办理态势",
    "sup.section.kpi": "考核指标",
    "sup.section.trends": "趋势分析",
    "sup.section.clocks": "时限督办",
    "sup.section.ranking": "月度排名",
    "sup.open": "在办工单",
    "sup.open.sub": "累计接诉 {tickets} 件",
    "sup.ack": "5分钟受理达标率",
    "sup.rate.response": "响应率",
    "sup.rate.resolution": "解决率",
    "sup.rate.satisfaction": "满意率",
    "sup.rate.acknowledge_on_time": "按时受理率",
    "sup.rate.report_in_on_time": "按时报到率",
    "sup.rate.completion_on_time": "按时办结率",
    "sup.rate.return": "退单率",
    "sup.rate.redo": "重办率",
    "sup.rate.whistle": "吹哨率",
    "sup.ratio": "{n} / {d}",
    "sup.nothing_counted": "暂无可计数据",
    "sup.other_rates": "其他指标",
    "sup.hops": "环节用时",
    "sup.hop.name": "环节",
    "sup.hop.count": "次数",
    "sup.hop.p50": "中位用时",
    "sup.hop.p90": "90%用时",
    "sup.hop.acknowledge": "接诉 → 受理",
    "sup.hop.call_up_to_whistle": "上报 → 吹哨",
    "sup.hop.whistle_to_report_in": "吹哨 → 报到",
    "sup.hop.report_in_to_result": "报到 → 反馈结果",
    "sup.trend.subject": "统计对象",
    "sup.trend.all": "辖区全部",
    "sup.trend.district": "区县：{name}",
    "sup.trend.street": "街道：{name}",
    "sup.trend.department": "部门：{name}",
    "sup.trend.day": "日趋势",
    "sup.trend.month": "月趋势",
    "sup.trend.tickets": "工单数",
    "sup.trend.hint": "点击柱形或折线上的点，查看对应工单",
    "sup.trend.no_chart": "图表组件未能加载",
    "sup.at_risk": "临期预警",
    "sup.breached": "已超时",
    "sup.clock.which": "时限",
    "sup.clock.ticket": "工单",
    "sup.clock.where": "地点",
    "sup.clock.due": "到期时间",
    "sup.clock.left": "剩余 / 超时",
    "sup.clock.warned": "已用 {percent}%",
    "sup.filter.clock": "全部时限",
    "sup.filter.street": "全部街道",
    "sup.more": "显示全部（共 {n} 条）",
    "sup.no_clocks": "当前无此类工单",
    "sup.ranking.streets": "街道排名",
    "sup.ranking.departments": "部门排名",
    "sup.ranking.month": "月份",
    "sup.ranking.rank": "名次",
    "sup.ranking.street": "街道",
    "sup.ranking.department": "部门",
    "sup.ranking.score": "综合得分",
    "sup.ranking.tickets": "工单",
    "sup.ranking.summonses": "派单",
    "sup.ranking.unranked": "未排名",
    "sup.ranking.weights": "权重版本 {version}：{parts}",
    "sup.ranking.failed": "排名加载失败：{detail}",
    "sup.drill.met": "达标",
    "sup.drill.counted": "计入",
    "sup.drill.total": "共 {total} 件",
    "sup.drill.prev": "上一页",
    "sup.drill.next": "下一页",
    "sup.drill.page": "第 {page} / {pages} 页",
    "sup.drill.close": "关闭",
    "sup.drill.ticket": "工单",
    "sup.drill.received_at": "接诉时间",
    "sup.drill.category": "类别",
    "sup.drill.where": "地点",
    "sup.drill.stage": "当前环节",
    "sup.drill.departments": "部门",
    "sup.drill.count": "计次",
    "sup.drill.now_note": "此列表为工单当前状态，不随回看时点变化。",
    "sup.drill.failed": "明细查询失败：{detail}",
    "sup.drill.tickets": "工单数",
    "sup.drill.stage_title": "{stage}的工单",
    "sup.timeline": "时间线",
    "sup.timeline.back": "返回列表",
    "sup.timeline.open": "打开工单详情",
    "sup.timeline.title": "工单 {ticket} 时间线",
    "sup.alerts": "超时提醒",
    "sup.alert.text": "{clock}超时：{place}，工单 {ticket}",
    "sup.alert.dismiss": "知道了",
  },
  en: {
    "sup.title": "Supervision dashboard",
    "sup.scope.city": "Whole city",
    "sup.board_at": "Figures as of {at}",
    "sup.judged_by": "Timed by: {text}",
    "sup.load_failed": "The board could not be loaded: {detail}",
    "sup.asof.title": "Time travel",
    "sup.asof.live": "Live · {at}",
    "sup.asof.past": "As of {at}",
    "sup.asof.now": "Back to live",
    "sup.asof.hint": "Drag the slider to see the board as it stood at a past moment",
    "sup.asof.paused": "Showing a past moment: live updates do not redraw the board",
    "sup.asof.start": "From {at}",
    "sup.period": "Period",
    "sup.period.all": "All time",
    "sup.period.month": "This month",
    "sup.period.day": "That day",
    "sup.section.stages": "Tickets by stage",
    "sup.section.kpi": "Performance",
    "sup.section.trends": "Trends",
    "sup.section.clocks": "Deadlines",
    "sup.section.ranking": "Monthly ranking",
    "sup.open": "Open tickets",
    "sup.open.sub": "{tickets} received in all",
    "sup.ack": "Acknowledged within 5 minutes",
    "sup.rate.response": "Response rate",
    "sup.rate.resolution": "Resolution rate",
    "sup.rate.satisfaction": "Satisfaction rate",
    "sup.rate.acknowledge_on_time": "On-time acknowledgement",
    "sup.rate.report_in_on_time": "On-time report-in",
    "sup.rate.completion_on_time": "On-time completion",
    "sup.rate.return": "Return rate",
    "sup.rate.redo": "Redo rate",
    "sup.rate.whistle": "Whistle rate",
    "sup.ratio": "{n} of {d}",
    "sup.nothing_counted": "Nothing counted yet",
    "sup.other_rates": "Other rates",
    "sup.hops": "Time per step",
    "sup.hop.name": "Step",
    "sup.hop.count": "Count",
    "sup.hop.p50": "Median",
    "sup.hop.p90": "90th pct.",
    "sup.hop.acknowledge": "Received → acknowledged",
    "sup.hop.call_up_to_whistle": "Called up → whistle",
    "sup.hop.whistle_to_report_in": "Whistle → report-in",
    "sup.hop.report_in_to_result": "Report-in → result",
    "sup.trend.subject": "Subject",
    "sup.trend.all": "Everything in scope",
    "sup.trend.district": "District: {name}",
    "sup.trend.street": "Street: {name}",
    "sup.trend.department": "Department: {name}",
    "sup.trend.day": "By day",
    "sup.trend.month": "By month",
    "sup.trend.tickets": "Tickets",
    "sup.trend.hint": "Click a bar or a point to list its tickets",
    "sup.trend.no_chart": "The chart library could not be loaded",
    "sup.at_risk": "At risk",
    "sup.breached": "Breached",
    "sup.clock.which": "Clock",
    "sup.clock.ticket": "Ticket",
    "sup.clock.where": "Where",
    "sup.clock.due": "Due",
    "sup.clock.left": "Left / over",
    "sup.clock.warned": "{percent}% used",
    "sup.filter.clock": "All clocks",
    "sup.filter.street": "All streets",
    "sup.more": "Show all ({n})",
    "sup.no_clocks": "None at the moment",
    "sup.ranking.streets": "Streets",
    "sup.ranking.departments": "Departments",
    "sup.ranking.month": "Month",
    "sup.ranking.rank": "Rank",
    "sup.ranking.street": "Street",
    "sup.ranking.department": "Department",
    "sup.ranking.score": "Score",
    "sup.ranking.tickets": "Tickets",
    "sup.ranking.summonses": "Summonses",
    "sup.ranking.unranked": "Unranked",
    "sup.ranking.weights": "Weights {version}: {parts}",
    "sup.ranking.failed": "The ranking could not be loaded: {detail}",
    "sup.drill.met": "Met",
    "sup.drill.counted": "Counted",
    "sup.drill.total": "{total} tickets",
    "sup.drill.prev": "Previous",
    "sup.drill.next": "Next",
    "sup.drill.page": "Page {page} of {pages}",
    "sup.drill.close": "Close",
    "sup.drill.ticket": "Ticket",
    "sup.drill.received_at": "Received",
    "sup.drill.category": "Category",
    "sup.drill.where": "Where",
    "sup.drill.stage": "Stage now",
    "sup.drill.departments": "Departments",
    "sup.drill.count": "Times",
    "sup.drill.now_note": "This list shows the tickets as they stand now, not at the moment shown.",
    "sup.drill.failed": "The tickets could not be listed: {detail}",
    "sup.drill.tickets": "Tickets",
    "sup.drill.stage_title": "Tickets at stage: {stage}",
    "sup.timeline": "Timeline",
    "sup.timeline.back": "Back to the list",
    "sup.timeline.open": "Open the ticket",
    "sup.timeline.title": "Timeline of ticket {ticket}",
    "sup.alerts": "Breaches",
    "sup.alert.text": "{clock} deadline missed: {place}, ticket {ticket}",
    "sup.alert.dismiss": "Dismiss",
  },
});

// ---------------------------------------------------------------- vocabulary

const STAGES = ["received", "acknowledged", "handled_locally", "called_up", "whistled", "reopened", "resolved", "closed", "merged"];
const OPEN_STAGES = new Set(["received", "acknowledged", "handled_locally", "called_up", "whistled", "reopened"]);
const THREE_RATES = ["response", "resolution", "satisfaction"];
const OTHER_RATES = ["report_in_on_time", "completion_on_time", "return", "redo", "whistle"];
const LOWER_IS_BETTER = new Set(["return", "redo"]);
const HOPS = ["acknowledge", "call_up_to_whistle", "whistle_to_report_in", "report_in_to_result"];
const CLOCKS = ["acknowledge", "report_in", "completion"];
const TREND_COLORS = ["#9db4d6", "#1f5fbf", "#1a7f37", "#c27c0e"];
const PER_PAGE = 20;
const CLOCK_ROWS = 12;

/** A rate as a percentage: `100%`, `71.4%`, or `—` when nothing was counted. */
function percent(rate) {
  if (rate === null || rate === undefined) return "—";
  const value = rate * 100;
  return `${Number.isInteger(value) ? value : value.toFixed(1)}%`;
}

/** How a rate reads: `ok`, `warn` or `late`, by which way it is good. */
function rateTone(rate, name) {
  if (rate === null || rate === undefined) return "";
  if (LOWER_IS_BETTER.has(name)) return rate <= 0.05 ? "ok" : rate <= 0.15 ? "warn" : "late";
  if (name === "whistle") return "";
  return rate >= 0.95 ? "ok" : rate >= 0.85 ? "warn" : "late";
}

/** A table cell labelled for phones, where `table.stack` rows become cards. */
const cell = (labelKey, ...children) => el("td", { "data-label": labelKey ? t(labelKey) : null }, ...children);
/** A cell that leads its row (inline on phones, with no label). */
const lead = (...children) => el("td", { class: "lead" }, ...children);

// ---------------------------------------------------------------- time zone arithmetic

/** The calendar day (`YYYY-MM-DD`) of an instant in the board's time zone. */
function dayOf(iso, zone) {
  const options = { year: "numeric", month: "2-digit", day: "2-digit" };
  try {
    return new Intl.DateTimeFormat("en-CA", { ...options, timeZone: zone }).format(new Date(iso));
  } catch {
    return new Date(iso).toISOString().slice(0, 10);
  }
}

const monthOf = (iso, zone) => dayOf(iso, zone).slice(0, 7);

/** Every day from `first` to `last` (both `YYYY-MM-DD`), at most `limit` of the latest. */
function daysBetween(first, last, limit = 62) {
  const out = [];
  const end = Date.parse(`${last}T00:00:00Z`);
  for (let at = Math.max(Date.parse(`${first}T00:00:00Z`), end - (limit - 1) * 86400000); at <= end; at += 86400000)
    out.push(new Date(at).toISOString().slice(0, 10));
  return out;
}

/** Every month from `first` to `last` (both `YYYY-MM`). */
function monthsBetween(first, last) {
  const out = [];
  let [year, month] = first.split("-").map(Number);
  const [endYear, endMonth] = last.split("-").map(Number);
  while ((year < endYear || (year === endYear && month <= endMonth)) && out.length < 120) {
    out.push(`${year}-${String(month).padStart(2, "0")}`);
    month += 1;
    if (month > 12) [year, month] = [year + 1, 1];
  }
  return out;
}

/** A board period as the drill-down names it: `all`, `YYYY-MM` or `YYYY-MM-DD`. */
function periodKey(period) {
  if (period.kind === "month") return `${period.year}-${String(period.month).padStart(2, "0")}`;
  if (period.kind === "day") return period.date;
  return "all";
}

// ---------------------------------------------------------------- state

const state = {
  board: null,
  groups: new Map(), // "dimension|key|period" → figures
  live: true,
  asOf: null, // ISO instant while not live
  period: "all", // headline figures: all | month | day
  trend: "all|all", // "dimension|key"
  rankingMonth: "", // YYYY-MM, empty: the board's month
  clockFilter: { at_risk: { clock: "", street: "", all: false }, breached: { clock: "", street: "", all: false } },
};

const principal = await frame({ title: "sup.title", roles: ["supervisor"] });
const places = await jurisdiction();
const placeName = (code) => (code ? places.name(code) : "");
const whereName = (location = {}) => placeText(location, places) || placeName(location.district) || "—";

function scopeName() {
  const code = scopeCode(principal.scope);
  if (!code) return t("sup.scope.city");
  return placeName(code);
}

function subjectName(dimension, key) {
  if (dimension === "all") return t("sup.trend.all");
  if (dimension === "category") return categoryName(key);
  return placeName(key);
}

function periodName(key) {
  return key === "all" ? t("sup.period.all") : key;
}

// ---------------------------------------------------------------- page skeleton

const ui = buildPage();
const badge = ui.badge;

function buildPage() {
  const main = document.getElementById("main");
  main.classList.add("sup");
  const refs = {};

  refs.badge = liveBadge();
  refs.boardAt = el("span", { class: "board-at", "data-testid": "board-at" }, t("loading"));
  refs.error = el("div", { class: "notice error", hidden: true, role: "alert" });
  refs.alerts = el("div", { class: "sup-alerts", "data-testid": "alerts", hidden: true });

  // Time slider.
  refs.asOf = el("input", {
    type: "range",
    "data-testid": "as-of",
    "aria-label": t("sup.asof.title"),
    step: 1,
    oninput: () => sliderMoved(false),
    onchange: () => sliderMoved(true),
  });
  refs.asOfLabel = el("strong", { class: "asof-label", "data-testid": "as-of-label" });
  refs.asOfNow = el("button", { class: "primary", "data-testid": "as-of-now", onclick: backToLive }, t("sup.asof.now"));
  refs.asOfStart = el("span", { class: "muted asof-start" });
  refs.paused = el("span", { class: "badge warn", hidden: true }, t("sup.asof.paused"));
  refs.period = el(
    "select",
    { "aria-label": t("sup.period"), "data-testid": "period", onchange: () => ((state.period = refs.period.value), renderBoard()) },
    ["all", "month", "day"].map((p) => el("option", { value: p }, t(`sup.period.${p}`))),
  );
  refs.timeCard = el(
    "section",
    { class: "card sup-time" },
    el("div", { class: "asof-head" }, el("span", { class: "sup-kicker" }, t("sup.asof.title")), refs.asOfLabel, refs.paused),
    el("div", { class: "asof-track" }, refs.asOfStart, refs.asOf, refs.asOfNow),
    el(
      "div",
      { class: "asof-foot" },
      el("span", { class: "muted" }, t("sup.asof.hint")),
      el("label", { class: "inline" }, t("sup.period"), refs.period),
    ),
  );

  // Figures: open tickets and stages.
  refs.open = figure({ testid: "open-total", label: t("sup.open"), kind: "figure open-total" });
  refs.stages = {};
  for (const stage of STAGES)
    refs.stages[stage] = figure({
      testid: `stage-${stage}`,
      label: t(`stage.${stage}`),
      kind: `figure stage ${OPEN_STAGES.has(stage) ? "is-open" : "is-final"}`,
      onclick: () => openStageList(stage),
    });

  // Figures: compliance and the three rates.
  refs.ack = figure({ testid: "ack-compliance", label: t("sup.ack"), kind: "figure kpi", onclick: () => drillRate("all", "all", headlinePeriod(), "acknowledge_on_time", t("sup.ack")) });
  refs.rates = {};
  for (const rate of THREE_RATES)
    refs.rates[rate] = figure({ testid: `rate-${rate}`, label: t(`sup.rate.${rate}`), kind: "figure kpi", onclick: () => drillRate("all", "all", headlinePeriod(), rate) });
  refs.otherRates = {};
  for (const rate of OTHER_RATES)
    refs.otherRates[rate] = figure({ testid: `rate-${rate}`, label: t(`sup.rate.${rate}`), kind: "figure minor", onclick: () => drillRate("all", "all", headlinePeriod(), rate) });
  refs.hops = el("tbody");

  // Trends.
  refs.trendSubject = el("select", { "aria-label": t("sup.trend.subject"), "data-testid": "trend-subject", onchange: () => ((state.trend = refs.trendSubject.value), renderTrends()) });
  refs.trendDay = el("div", { class: "chart sup-chart", "data-testid": "trend-day" });
  refs.trendMonth = el("div", { class: "chart sup-chart", "data-testid": "trend-month" });

  // Clock lists.
  refs.clockLists = {};
  for (const kind of ["at_risk", "breached"]) refs.clockLists[kind] = clockListCard(kind);

  // Ranking.
  refs.rankingMonth = el("select", { "aria-label": t("sup.ranking.month"), "data-testid": "ranking-month", onchange: () => ((state.rankingMonth = refs.rankingMonth.value), loadRanking()) });
  refs.rankingStreets = el("div", { class: "sup-table", "data-testid": "ranking-streets" }, t("loading"));
  refs.rankingDepartments = el("div", { class: "sup-table", "data-testid": "ranking-departments" }, t("loading"));

  fill(
    main,
    el(
      "header",
      { class: "sup-head" },
      el("div", {}, el("h1", {}, t("sup.title")), el("div", { class: "muted" }, scopeName())),
      el("div", { class: "sup-head-right" }, refs.badge, refs.boardAt),
    ),
    refs.error,
    refs.alerts,
    refs.timeCard,
    sectionTitle("sup.section.stages"),
    el("section", { class: "sup-band" }, refs.open.node, el("div", { class: "sup-stages" }, STAGES.map((s) => refs.stages[s].node))),
    sectionTitle("sup.section.kpi"),
    el("section", { class: "sup-kpis" }, refs.ack.node, THREE_RATES.map((r) => refs.rates[r].node)),
    el(
      "section",
      { class: "sup-two" },
      el("div", { class: "card" }, el("h3", {}, t("sup.other_rates")), el("div", { class: "sup-minor" }, OTHER_RATES.map((r) => refs.otherRates[r].node))),
      el(
        "div",
        { class: "card" },
        el("h3", {}, t("sup.hops")),
        el(
          "div",
          { class: "sup-table" },
          el(
            "table",
            { class: "sup-hops", "data-testid": "hops" },
            el("thead", {}, el("tr", {}, ["sup.hop.name", "sup.hop.count", "sup.hop.p50", "sup.hop.p90"].map((k) => el("th", {}, t(k))))),
            refs.hops,
          ),
        ),
      ),
    ),
    el("div", { class: "sup-section-row" }, sectionTitle("sup.section.trends"), el("label", { class: "inline" }, t("sup.trend.subject"), refs.trendSubject)),
    el(
      "section",
      { class: "sup-two" },
      el("div", { class: "card" }, el("h3", {}, t("sup.trend.day")), refs.trendDay),
      el("div", { class: "card" }, el("h3", {}, t("sup.trend.month")), refs.trendMonth),
    ),
    el("p", { class: "muted small sup-hint" }, t("sup.trend.hint")),
    sectionTitle("sup.section.clocks"),
    el("section", { class: "sup-two" }, refs.clockLists.at_risk.node, refs.clockLists.breached.node),
    el("div", { class: "sup-section-row" }, sectionTitle("sup.section.ranking"), el("label", { class: "inline" }, t("sup.ranking.month"), refs.rankingMonth)),
    el(
      "section",
      { class: "sup-two" },
      el("div", { class: "card" }, el("h3", {}, t("sup.ranking.streets")), refs.rankingStreets),
      el("div", { class: "card" }, el("h3", {}, t("sup.ranking.departments")), refs.rankingDepartments),
    ),
  );
  return refs;
}

function sectionTitle(key) {
  return el("h2", { class: "sup-section" }, t(key));
}

/** A figure tile; `set(value, sub, tone)` redraws it in place. */
function figure({ testid, label, kind, onclick }) {
  const value = el("div", { class: "value" }, "—");
  const sub = el("div", { class: "sub" });
  const bar = el("div", { class: "meter" }, el("span"));
  const node = el(onclick ? "button" : "div", { class: kind, "data-testid": testid, type: onclick ? "button" : null, onclick }, value, el("div", { class: "label" }, label), sub, bar);
  return {
    node,
    set(text, subText = "", { count, tone = "", share = null } = {}) {
      value.textContent = String(text);
      sub.textContent = subText;
      if (count !== undefined) node.dataset.count = String(count);
      node.classList.remove("ok", "warn", "late");
      if (tone) node.classList.add(tone);
      bar.hidden = share === null;
      bar.firstChild.style.width = `${Math.round((share || 0) * 100)}%`;
    },
  };
}

// ---------------------------------------------------------------- loading the board

let loadSeq = 0;
let loadAbort = null;
let refreshTimer = null;

/** Fetches the board (now, or as of the slider's instant) and redraws everything from it. */
async function loadBoard() {
  const seq = ++loadSeq;
  loadAbort?.abort();
  loadAbort = new AbortController();
  const asOf = state.live ? null : state.asOf;
  try {
    const board = await api("/api/sla/board", { query: { as_of: asOf }, signal: loadAbort.signal });
    if (seq !== loadSeq) return;
    state.board = board;
    state.groups = new Map(board.groups.map((g) => [`${g.dimension}|${g.key}|${periodKey(g.period)}`, g.figures]));
    ui.error.hidden = true;
    renderBoard();
    loadRanking();
  } catch (error) {
    if (error?.name === "AbortError" || seq !== loadSeq) return;
    fill(ui.error, t("sup.load_failed", { detail: problemText(error) }), " ", el("button", { class: "link", onclick: loadBoard }, t("retry")));
    ui.error.hidden = false;
  }
}

/** Refetches soon: several changes in a burst make one request. */
function scheduleRefresh() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => state.live && loadBoard(), 250);
}

function renderBoard() {
  const board = state.board;
  if (!board) return;
  ui.boardAt.dataset.at = board.at;
  ui.boardAt.textContent = t("sup.board_at", { at: when(board.at) });
  ui.boardAt.title = t("sup.judged_by", { text: board.judged_by });
  renderStages(board.stages, board.totals);
  renderRates();
  renderHops();
  renderClockList("at_risk", board.at_risk);
  renderClockList("breached", board.breached);
  renderTrendSubjects();
  renderTrends();
  renderRankingMonths();
}

function renderStages(stages, totals) {
  ui.open.set(totals.open, t("sup.open.sub", { tickets: totals.tickets }), { count: totals.open });
  for (const stage of STAGES) {
    const count = stages[stage] ?? 0;
    ui.stages[stage].set(count, "", { count, tone: stage === "received" && count > 0 ? "warn" : "" });
  }
}

/** The period the headline figures are of, as the drill-down names it. */
function headlinePeriod() {
  if (!state.board || state.period === "all") return "all";
  const { at, time_zone: zone } = state.board;
  return state.period === "month" ? monthOf(at, zone) : dayOf(at, zone);
}

function headlineFigures() {
  return state.groups.get(`all|all|${headlinePeriod()}`) || null;
}

function setRate(tile, ratio, name) {
  const r = ratio || { numerator: 0, denominator: 0, rate: null };
  const sub = r.denominator ? t("sup.ratio", { n: r.numerator, d: r.denominator }) : t("sup.nothing_counted");
  tile.set(percent(r.rate), sub, { tone: rateTone(r.rate, name), share: r.rate ?? 0 });
  tile.node.dataset.numerator = String(r.numerator);
  tile.node.dataset.denominator = String(r.denominator);
}

function renderRates() {
  const figures = headlineFigures();
  const ack = state.period === "all" ? state.board.acknowledge_compliance : figures?.acknowledge_on_time;
  setRate(ui.ack, ack, "acknowledge_on_time");
  for (const rate of THREE_RATES) setRate(ui.rates[rate], figures?.[rate], rate);
  for (const rate of OTHER_RATES) setRate(ui.otherRates[rate], figures?.[rate], rate);
}

function renderHops() {
  const hops = headlineFigures()?.hops || {};
  const seconds = (value) => (value === null || value === undefined ? "—" : duration(value));
  fill(
    ui.hops,
    HOPS.map((hop) => {
      const times = hops[hop] || { count: 0 };
      return el(
        "tr",
        { class: times.count ? "clickable" : null, dataset: { hop }, onclick: times.count ? () => drillHop(hop) : null },
        el("td", {}, t(`sup.hop.${hop}`)),
        el("td", {}, String(times.count)),
        el("td", {}, seconds(times.p50_seconds)),
        el("td", {}, seconds(times.p90_seconds)),
      );
    }),
  );
}

// ---------------------------------------------------------------- live

/** The board's headline figures from the live stream: drawn at once, the rest refetched. */
function applyLive(data) {
  if (!state.live || !data || !data.stages) return;
  renderStages(data.stages, data.totals);
  if (state.period === "all" && data.acknowledge_compliance) setRate(ui.ack, data.acknowledge_compliance, "acknowledge_on_time");
  ui.clockLists.at_risk.count.textContent = String(data.at_risk ?? "");
  ui.clockLists.breached.count.textContent = String(data.breached ?? "");
  scheduleRefresh();
}

stream(
  "/api/sla/board/live",
  ({ event, data }) => event === "board" && applyLive(data),
  (on) => badge.set(on),
);

stream("/api/sla/alerts", ({ event, data }) => event === "breach" && showBreach(data));

/** A breach as it happens: a line in the alert strip, a toast, and a fresh board. */
function showBreach(alert) {
  if (!alert || !alert.ticket) return;
  const text = t("sup.alert.text", {
    clock: t(`clock.${alert.clock}`) + (alert.department ? `（${placeName(alert.department)}）` : ""),
    place: [placeName(alert.district), placeName(alert.street)].filter(Boolean).join(" · "),
    ticket: shortId(alert.ticket),
  });
  const item = el(
    "div",
    { class: "sup-alert", "data-testid": "alert", dataset: { ticket: alert.ticket } },
    el("strong", {}, "⚠ ", text),
    alert.action ? el("span", { class: "muted" }, alert.action) : null,
    el("span", { class: "muted" }, when(alert.due_at || alert.at)),
    el("a", { href: ticketHref(alert.ticket) }, t("sup.timeline.open")),
    el("button", { class: "link", onclick: () => dismissAlert(item) }, t("sup.alert.dismiss")),
  );
  ui.alerts.prepend(item);
  while (ui.alerts.children.length > 5) ui.alerts.lastChild.remove();
  ui.alerts.hidden = false;
  toast(text, "error");
  if (state.live) scheduleRefresh();
}

function dismissAlert(item) {
  item.remove();
  ui.alerts.hidden = ui.alerts.children.length === 0;
}

// ---------------------------------------------------------------- the time slider

const MINUTE = 60000;
let sliderTimer = null;

async function setUpSlider() {
  let start = Date.now() - 7 * 86400000;
  try {
    const first = await api("/api/tickets", { query: { per_page: 1 } });
    if (first.total > 0) {
      const oldest = await api("/api/tickets", { query: { per_page: 1, page: first.total } });
      const received = Date.parse(oldest.items[0]?.received_at);
      if (!Number.isNaN(received)) start = received;
    }
  } catch {
    // Seven days back will do.
  }
  ui.asOf.min = String(Math.floor(start / MINUTE));
  ui.asOfStart.textContent = t("sup.asof.start", { at: when(new Date(start).toISOString()) });
  stretchSlider();
  setInterval(stretchSlider, 15000);
}

/** Keeps the right end of the slider at now (and the thumb there while live). */
function stretchSlider() {
  const now = Math.ceil(Date.now() / MINUTE);
  ui.asOf.max = String(now);
  if (state.live) ui.asOf.value = String(now);
  showAsOf();
}

function showAsOf() {
  const live = state.live;
  ui.asOfLabel.textContent = live
    ? t("sup.asof.live", { at: when(new Date().toISOString()) })
    : t("sup.asof.past", { at: when(state.asOf) });
  ui.asOfLabel.dataset.live = String(live);
  ui.asOfNow.disabled = live;
  ui.paused.hidden = live;
  ui.timeCard.classList.toggle("past", !live);
}

function sliderMoved(settled) {
  const value = Number(ui.asOf.value);
  const live = value >= Number(ui.asOf.max);
  state.live = live;
  state.asOf = live ? null : new Date(value * MINUTE).toISOString();
  showAsOf();
  clearTimeout(sliderTimer);
  sliderTimer = setTimeout(loadBoard, settled ? 0 : 300);
}

function backToLive() {
  state.live = true;
  state.asOf = null;
  stretchSlider();
  loadBoard();
}

// ---------------------------------------------------------------- trends (ECharts)

const charts = new Set();

/** The chart of a container: made once, reused on every redraw (never leaked). */
function chartOf(node) {
  if (!window.echarts) return null;
  let chart = window.echarts.getInstanceByDom(node);
  if (!chart) {
    chart = window.echarts.init(node, null, { renderer: "canvas" });
    charts.add(chart);
    new ResizeObserver(() => chart.resize()).observe(node);
  }
  return chart;
}

window.addEventListener("resize", () => charts.forEach((chart) => chart.resize()));
window.addEventListener("pagehide", () => charts.forEach((chart) => chart.dispose()));

function renderTrendSubjects() {
  const options = [["all|all", t("sup.trend.all")]];
  for (const dimension of ["district", "street", "department"]) {
    const keys = new Set();
    for (const g of state.board.groups) if (g.dimension === dimension && g.period.kind === "all") keys.add(g.key);
    for (const key of [...keys].sort())
      options.push([`${dimension}|${key}`, t(`sup.trend.${dimension}`, { name: placeName(key) })]);
  }
  if (!options.some(([value]) => value === state.trend)) state.trend = "all|all";
  fill(ui.trendSubject, options.map(([value, label]) => el("option", { value, selected: value === state.trend }, label)));
}

function renderTrends() {
  const board = state.board;
  const [dimension, key] = state.trend.split("|");
  const zone = board.time_zone;
  const lastDay = dayOf(board.at, zone);
  const ofSubject = board.groups.filter((g) => g.dimension === dimension && g.key === key);
  const dates = ofSubject.filter((g) => g.period.kind === "day").map((g) => g.period.date).sort();
  const months = ofSubject.filter((g) => g.period.kind === "month").map((g) => periodKey(g.period)).sort();
  // At least a fortnight of days, so one busy day does not fill the chart.
  const fortnightAgo = dayOf(new Date(Date.parse(board.at) - 13 * 86400000).toISOString(), zone);
  const firstDay = dates[0] && dates[0] < fortnightAgo ? dates[0] : fortnightAgo;
  drawTrend(ui.trendDay, dimension, key, daysBetween(firstDay, lastDay), (d) => d.slice(5));
  drawTrend(ui.trendMonth, dimension, key, monthsBetween(months[0] || monthOf(board.at, zone), monthOf(board.at, zone)), (m) => m);
}

function drawTrend(node, dimension, key, periods, short) {
  const chart = chartOf(node);
  if (!chart) {
    fill(node, el("p", { class: "notice error" }, t("sup.trend.no_chart")));
    return;
  }
  const figures = periods.map((p) => state.groups.get(`${dimension}|${key}|${p}`));
  const rateSeries = THREE_RATES.map((rate) => ({
    name: t(`sup.rate.${rate}`),
    type: "line",
    smooth: true,
    symbolSize: 7,
    connectNulls: true,
    data: figures.map((f) => (f?.[rate]?.rate === null || f?.[rate]?.rate === undefined ? null : Math.round(f[rate].rate * 1000) / 10)),
    tooltip: { valueFormatter: (v) => (v === null || v === undefined ? "—" : `${v}%`) },
  }));
  chart.setOption(
    {
      color: TREND_COLORS,
      animationDuration: 300,
      textStyle: { fontFamily: getComputedStyle(document.body).fontFamily },
      tooltip: { trigger: "axis" },
      legend: { top: 0, itemWidth: 14, itemHeight: 8 },
      grid: { left: 8, right: 8, top: 36, bottom: 8, containLabel: true },
      xAxis: { type: "category", data: periods.map(short), axisTick: { alignWithLabel: true } },
      yAxis: [
        { type: "value", min: 0, max: 100, axisLabel: { formatter: "{value}%" }, splitLine: { lineStyle: { type: "dashed" } } },
        { type: "value", minInterval: 1, splitLine: { show: false } },
      ],
      series: [
        { name: t("sup.trend.tickets"), type: "bar", yAxisIndex: 1, barMaxWidth: 26, data: figures.map((f) => f?.tickets ?? 0), itemStyle: { borderRadius: [3, 3, 0, 0] } },
        ...rateSeries,
      ],
    },
    { notMerge: true },
  );
  chart.off("click");
  chart.on("click", (params) => {
    const period = periods[params.dataIndex];
    if (!period || !state.groups.get(`${dimension}|${key}|${period}`)) return;
    if (params.seriesIndex === 0) drillTickets(dimension, key, period);
    else drillRate(dimension, key, period, THREE_RATES[params.seriesIndex - 1]);
  });
}

// ---------------------------------------------------------------- at-risk and breached

function clockListCard(kind) {
  const count = el("span", { class: `badge ${kind === "breached" ? "late" : "warn"}` });
  const filters = state.clockFilter[kind];
  const clock = el(
    "select",
    { "aria-label": t("sup.clock.which"), onchange: () => ((filters.clock = clock.value), renderClockList(kind, state.board[kind])) },
    el("option", { value: "" }, t("sup.filter.clock")),
    CLOCKS.map((c) => el("option", { value: c }, t(`clock.${c}`))),
  );
  const street = el("select", { "aria-label": t("sup.ranking.street"), onchange: () => ((filters.street = street.value), renderClockList(kind, state.board[kind])) });
  const body = el("div", { class: "sup-table", "data-testid": kind === "at_risk" ? "at-risk" : "breached" }, t("loading"));
  const node = el(
    "div",
    { class: `card sup-clocks ${kind}` },
    el("div", { class: "card-head" }, el("h3", {}, t(`sup.${kind}`), " ", count), el("div", { class: "filters" }, clock, street)),
    body,
  );
  return { node, body, count, street };
}

function renderClockList(kind, rows) {
  const list = ui.clockLists[kind];
  const filters = state.clockFilter[kind];
  list.count.textContent = String(rows.length);
  // Street choices: the streets that have such clocks now.
  const streets = [...new Set(rows.map((r) => r.street))].sort();
  if (filters.street && !streets.includes(filters.street)) streets.push(filters.street);
  fill(list.street, el("option", { value: "" }, t("sup.filter.street")), streets.map((s) => el("option", { value: s, selected: s === filters.street }, placeName(s))));
  const shown = rows.filter((r) => (!filters.clock || r.clock === filters.clock) && (!filters.street || r.street === filters.street));
  if (!shown.length) {
    fill(list.body, el("p", { class: "muted empty" }, t("sup.no_clocks")));
    return;
  }
  const visible = filters.all ? shown : shown.slice(0, CLOCK_ROWS);
  fill(
    list.body,
    el(
      "table",
      { class: "stack" },
      el("thead", {}, el("tr", {}, ["sup.clock.which", "sup.clock.ticket", "sup.clock.where", "sup.clock.due", "sup.clock.left"].map((k) => el("th", {}, t(k))))),
      el("tbody", {}, visible.map((row) => clockRow(kind, row))),
    ),
    shown.length > visible.length
      ? el("button", { class: "link more", onclick: () => ((filters.all = true), renderClockList(kind, rows)) }, t("sup.more", { n: shown.length }))
      : null,
  );
}

function clockRow(kind, row) {
  const due = row.due_at || row.due;
  return el(
    "tr",
    { class: "clickable", "data-testid": "clock-row", dataset: { ticket: row.ticket, clock: row.clock }, onclick: (e) => e.target.closest("a") || openTimeline(row.ticket) },
    lead(el("strong", {}, t(`clock.${row.clock}`)), row.department ? el("span", { class: "muted dept" }, placeName(row.department)) : null),
    lead(el("a", { href: ticketHref(row.ticket), class: "mono" }, shortId(row.ticket)), " ", el("span", { class: "muted" }, categoryName(row.category) || "—")),
    cell("sup.clock.where", [placeName(row.street), placeName(row.community)].filter(Boolean).join(" · ")),
    cell("sup.clock.due", when(due)),
    cell(
      "sup.clock.left",
      remaining(due, kind),
      row.warned_percent !== null && row.warned_percent !== undefined ? el("div", { class: "muted" }, t("sup.clock.warned", { percent: row.warned_percent })) : null,
    ),
  );
}

/** A running countdown while live; the time left (or over) at the board's instant otherwise. */
function remaining(due, kind) {
  if (state.live) return countdown(due, { warnSeconds: kind === "at_risk" ? 1e9 : 300 });
  const left = (Date.parse(due) - Date.parse(state.board.at)) / 1000;
  const late = left < 0;
  return el(
    "span",
    { class: `countdown ${late ? "late" : "warn"}` },
    late ? t("due.over", { time: duration(-left) }) : t("due.left", { time: duration(left) }),
  );
}

// ---------------------------------------------------------------- ranking

let rankingSeq = 0;

function renderRankingMonths() {
  const board = state.board;
  const current = monthOf(board.at, board.time_zone);
  const months = new Set([current]);
  for (const g of board.groups) if (g.dimension === "all" && g.period.kind === "month") months.add(periodKey(g.period));
  const list = [...months].sort().reverse();
  if (!state.rankingMonth || !list.includes(state.rankingMonth)) state.rankingMonth = current;
  fill(ui.rankingMonth, list.map((m) => el("option", { value: m, selected: m === state.rankingMonth }, m)));
}

async function loadRanking() {
  const seq = ++rankingSeq;
  try {
    const ranking = await api("/api/sla/ranking", { query: { month: state.rankingMonth, as_of: state.live ? null : state.asOf } });
    if (seq !== rankingSeq) return;
    const month = `${ranking.year}-${String(ranking.month).padStart(2, "0")}`;
    fill(ui.rankingStreets, rankingTable("street", ranking.streets, month, ranking.version));
    fill(ui.rankingDepartments, rankingTable("department", ranking.departments, month, ranking.version));
  } catch (error) {
    if (seq !== rankingSeq) return;
    const text = t("sup.ranking.failed", { detail: problemText(error) });
    fill(ui.rankingStreets, el("p", { class: "notice error" }, text));
    fill(ui.rankingDepartments, el("p", { class: "notice error" }, text));
  }
}

/** The rates a ranking weighs, with their weights, in the order the API gives them. */
function rankingParts(rows) {
  const parts = new Map();
  for (const row of rows) for (const part of row.parts || []) if (!parts.has(part.rate)) parts.set(part.rate, part.weight);
  return [...parts];
}

function rankingTable(dimension, rows, month, version) {
  if (!rows.length) return el("p", { class: "muted empty" }, t("empty"));
  const parts = rankingParts(rows);
  const rateCell = (row, rate) => {
    const ratio = row.parts.find((p) => p.rate === rate)?.ratio;
    if (!ratio || !ratio.denominator) return cell(`sup.rate.${rate}`, el("span", { class: "muted" }, "—"));
    return cell(
      `sup.rate.${rate}`,
      el(
        "button",
        { class: `link rate ${rateTone(ratio.rate, rate)}`, onclick: () => drillRate(dimension, row.key, month, rate) },
        percent(ratio.rate),
        el("small", {}, ` ${ratio.numerator}/${ratio.denominator}`),
      ),
    );
  };
  const countFigure = dimension === "department" ? "summonses" : "tickets";
  const table = el(
    "table",
    { class: "stack sup-ranking" },
    el(
      "thead",
      {},
      el(
        "tr",
        {},
        el("th", {}, t("sup.ranking.rank")),
        el("th", {}, t(`sup.ranking.${dimension}`)),
        el("th", {}, t("sup.ranking.score")),
        parts.map(([rate]) => el("th", {}, t(`sup.rate.${rate}`))),
        el("th", {}, t(`sup.ranking.${countFigure}`)),
      ),
    ),
    el(
      "tbody",
      {},
      rows.map((row) =>
        el(
          "tr",
          { "data-testid": "ranking-row", dataset: { key: row.key, rank: row.rank ?? "" } },
          lead(el("span", { class: `rank ${row.rank ? `rank-${row.rank <= 3 ? row.rank : "n"}` : ""}` }, row.rank ? String(row.rank) : "—")),
          lead(el("strong", {}, placeName(row.key))),
          cell(
            "sup.ranking.score",
            row.score === null || row.score === undefined
              ? el("span", { class: "badge", title: row.unranked || "" }, t("sup.ranking.unranked"))
              : el(
                  "span",
                  { class: "score" },
                  el("span", { class: "score-bar", style: `width:${(Math.max(0, Math.min(100, row.score)) * 0.025).toFixed(2)}rem` }),
                  el("b", {}, String(Math.round(row.score * 10) / 10)),
                ),
          ),
          parts.map(([rate]) => rateCell(row, rate)),
          cell(`sup.ranking.${countFigure}`, el("button", { class: "link", onclick: () => drillTickets(dimension, row.key, month, countFigure) }, String(row[countFigure] ?? 0))),
        ),
      ),
    ),
  );
  const weights = parts.map(([rate, weight]) => `${t(`sup.rate.${rate}`)} ${Math.round(weight * 100)}%`).join(lang() === "zh" ? "、" : ", ");
  return [table, el("p", { class: "muted small" }, t("sup.ranking.weights", { version, parts: weights }))];
}

// ---------------------------------------------------------------- drill-down

function drillQuery(dimension, key, period, figure) {
  return (page) =>
    api("/api/sla/drill", {
      query: { dimension, key, period, figure, as_of: state.live ? null : state.asOf, page, per_page: PER_PAGE },
    });
}

function drillTickets(dimension, key, period, figure = "tickets") {
  openList({
    title: `${t(figure === "summonses" ? "sup.ranking.summonses" : "sup.drill.tickets")} · ${subjectName(dimension, key)} · ${periodName(period)}`,
    choices: [{ label: null, load: drillQuery(dimension, key, period, figure) }],
  });
}

function drillRate(dimension, key, period, rate, label = t(`sup.rate.${rate}`)) {
  openList({
    title: `${label} · ${subjectName(dimension, key)} · ${periodName(period)}`,
    choices: [
      { label: t("sup.drill.counted"), load: drillQuery(dimension, key, period, `denominator:${rate}`) },
      { label: t("sup.drill.met"), load: drillQuery(dimension, key, period, `numerator:${rate}`) },
    ],
  });
}

function drillHop(hop) {
  const period = headlinePeriod();
  openList({
    title: `${t(`sup.hop.${hop}`)} · ${subjectName("all", "all")} · ${periodName(period)}`,
    choices: [{ label: null, load: drillQuery("all", "all", period, `hop:${hop}`) }],
  });
}

function openStageList(stage) {
  openList({
    title: t("sup.drill.stage_title", { stage: t(`stage.${stage}`) }),
    note: state.live ? null : t("sup.drill.now_note"),
    choices: [{ label: null, load: (page) => api("/api/tickets", { query: { stage, page, per_page: PER_PAGE } }) }],
  });
}

/**
 * The drill-down dialog: a paged list of tickets (with a choice of lists, e.g. counted or
 * met), each row linking to the ticket and opening its timeline in place.
 */
function openList({ title, note = null, choices }) {
  const dialog = drillDialog(title);
  let choice = 0;
  let page = 1;
  const tabs = el("div", { class: "sup-tabs", role: "tablist" });
  const body = el("div", { class: "sup-drill-body" });
  const pager = el("div", { class: "sup-pager" });
  const list = el("div", {}, note ? el("p", { class: "notice" }, note) : null, tabs, body, pager);
  dialog.content.append(list);

  const drawTabs = () =>
    fill(
      tabs,
      choices.length > 1
        ? choices.map((c, i) =>
            el("button", { class: i === choice ? "primary" : null, role: "tab", "aria-selected": String(i === choice), onclick: () => ((choice = i), (page = 1), drawTabs(), load()) }, c.label),
          )
        : null,
    );

  async function load() {
    fill(body, el("p", { class: "muted" }, t("loading")));
    fill(pager);
    try {
      const answer = await choices[choice].load(page);
      drawRows(answer);
    } catch (error) {
      fill(body, el("p", { class: "notice error" }, t("sup.drill.failed", { detail: problemText(error) })));
    }
  }

  function drawRows(answer) {
    const items = answer.items || [];
    const withCount = items.some((item) => item.count !== undefined && item.count !== 1);
    fill(
      body,
      items.length
        ? el(
            "table",
            { class: "stack sup-drill" },
            el(
              "thead",
              {},
              el(
                "tr",
                {},
                ["sup.drill.ticket", "sup.drill.received_at", "sup.drill.category", "sup.drill.where", "sup.drill.stage", "sup.drill.departments"].map((k) => el("th", {}, t(k))),
                withCount ? el("th", {}, t("sup.drill.count")) : null,
                el("th", {}),
              ),
            ),
            el("tbody", {}, items.map((item) => drillRow(item, withCount, () => showTimeline(item.ticket, list, dialog)))),
          )
        : el("p", { class: "muted empty" }, t("empty")),
    );
    const pages = Math.max(1, Math.ceil((answer.total || 0) / (answer.per_page || PER_PAGE)));
    fill(
      pager,
      el("span", { class: "muted" }, t("sup.drill.total", { total: answer.total ?? items.length })),
      pages > 1
        ? [
            el("button", { disabled: page <= 1, onclick: () => ((page -= 1), load()) }, t("sup.drill.prev")),
            el("span", {}, t("sup.drill.page", { page, pages })),
            el("button", { disabled: page >= pages, onclick: () => ((page += 1), load()) }, t("sup.drill.next")),
          ]
        : null,
    );
  }

  drawTabs();
  load();
}

function drillRow(item, withCount, onTimeline) {
  return el(
    "tr",
    { "data-testid": "drill-row", dataset: { ticket: item.ticket } },
    lead(el("a", { href: ticketHref(item.ticket), class: "mono" }, shortId(item.ticket))),
    cell("sup.drill.received_at", when(item.received_at)),
    cell("sup.drill.category", categoryName(item.category) || "—", item.urgency ? el("span", { class: `badge urgency-${item.urgency}` }, urgencyName(item.urgency)) : null),
    cell("sup.drill.where", whereName(item.location)),
    cell("sup.drill.stage", item.stage ? t(`stage.${item.stage}`) : "—"),
    cell("sup.drill.departments", (item.departments || []).map(placeName).join("、") || "—"),
    withCount ? cell("sup.drill.count", String(item.count ?? 1)) : null,
    lead(el("button", { class: "link", onclick: onTimeline }, t("sup.timeline"))),
  );
}

/** A dialog (`data-testid=drill`) that removes itself when closed. */
function drillDialog(title) {
  document.querySelector("dialog.sup-dialog")?.close();
  const content = el("div", { class: "sup-dialog-content" });
  const dialog = el(
    "dialog",
    { class: "sup-dialog", "data-testid": "drill", "aria-label": title },
    el("div", { class: "sup-dialog-head" }, el("h2", {}, title), el("button", { class: "link", "data-testid": "drill-close", onclick: () => dialog.close() }, t("sup.drill.close"))),
    content,
  );
  dialog.addEventListener("close", () => dialog.remove());
  dialog.addEventListener("click", (e) => e.target === dialog && dialog.close());
  document.body.append(dialog);
  dialog.showModal();
  dialog.content = content;
  return dialog;
}

/** One ticket's timeline, from an at-risk or breached row. */
function openTimeline(ticket) {
  const dialog = drillDialog(t("sup.timeline.title", { ticket: shortId(ticket) }));
  showTimeline(ticket, null, dialog);
}

/** Shows a ticket's timeline in the dialog, in place of `list` (kept to go back to). */
async function showTimeline(ticket, list, dialog) {
  const panel = el("div", { class: "sup-timeline", "data-testid": "timeline" }, el("p", { class: "muted" }, t("loading")));
  const back = () => {
    panel.remove();
    list.hidden = false;
  };
  if (list) list.hidden = true;
  dialog.content.append(panel);
  try {
    const steps = await api(`/api/tickets/${encodeURIComponent(ticket)}/timeline`);
    fill(
      panel,
      el(
        "div",
        { class: "actions" },
        list ? el("button", { onclick: back }, t("sup.timeline.back")) : null,
        el("a", { class: "button primary", href: ticketHref(ticket) }, t("sup.timeline.open")),
      ),
      el("h3", {}, t("sup.timeline.title", { ticket: shortId(ticket) })),
      el(
        "ol",
        { class: "timeline" },
        steps.map((step) =>
          el("li", {}, el("div", { class: "muted" }, when(step.recorded_at), " · ", step.actor || ""), el("div", {}, step.summary || step.event_type)),
        ),
      ),
    );
  } catch (error) {
    fill(
      panel,
      list ? el("button", { onclick: back }, t("sup.timeline.back")) : null,
      el("p", { class: "notice error" }, t("sup.drill.failed", { detail: problemText(error) })),
    );
  }
}

// ---------------------------------------------------------------- start

showAsOf();
await setUpSlider();
await loadBoard();
// Clocks cross into "at risk" with time alone: a fresh board every minute keeps it honest.
setInterval(() => state.live && loadBoard(), 60000);
