// One ticket (/console/ticket?id=…), for any signed-in staff role: what it is, where, the
// resident's contact as the role may see it, the departments summoned, the SLA clocks drawn
// as bars (start to stop or now, the due time marked, coloured by outcome) with a table of
// the same, and the timeline of every event with its actor and time. Calls
// `GET /api/tickets/{id}`, `/timeline` and `/clocks`; a 404 means no such ticket or not in
// the caller's scope. There is no per-ticket stream, so it reloads every 30 seconds.

import {
  addStrings, t, lang, el, fill, api, ApiProblem, problemText, duration, when, countdown, frame, jurisdiction,
  categoryName, urgencyName, channelName, named, placeText, ticketHref, yesNo,
} from "./common.js";

addStrings({
  zh: {
    "ticket.title": "工单详情",
    "ticket.heading": "工单",
    "ticket.open": "打开工单",
    "ticket.open.placeholder": "输入工单编号",
    "ticket.no_id": "请提供工单编号。",
    "ticket.not_found": "没有找到这个工单，或者它不在您的辖区和职责范围内。",
    "ticket.load_failed": "无法加载工单：{detail}",
    "ticket.refresh": "刷新",
    "ticket.updated": "每 30 秒自动刷新 · 上次 {time}",
    "ticket.update_failed": "刷新失败，稍后重试：{detail}",
    "ticket.section.summary": "概况",
    "ticket.section.contact": "群众联系方式",
    "ticket.section.summonses": "召集的部门",
    "ticket.section.clocks": "时限",
    "ticket.section.timeline": "处理经过",
    "ticket.category": "类别",
    "ticket.urgency": "紧急程度",
    "ticket.channel": "来源渠道",
    "ticket.location": "地点",
    "ticket.description": "问题描述",
    "ticket.round": "办理轮次",
    "ticket.round.value": "第 {round} 轮",
    "ticket.paused": "办结计时",
    "ticket.paused.yes": "已暂停",
    "ticket.merged_into": "已并入",
    "ticket.contact.name": "姓名",
    "ticket.contact.phone": "电话",
    "ticket.contact.address": "地址",
    "ticket.contact.full": "完整显示（您的角色需要回访群众）",
    "ticket.contact.masked": "已脱敏显示",
    "ticket.contact.none": "群众未留联系方式。",
    "ticket.contact.erased": "群众的个人信息已于 {time} 删除。",
    "ticket.contact.erased_plain": "群众的个人信息已删除。",
    "ticket.contact.unreadable": "联系方式已加密，本服务无法读取。",
    "ticket.summons.department": "部门",
    "ticket.summons.state": "状态",
    "ticket.summons.liaison": "联络员",
    "ticket.summons.result": "结果",
    "ticket.summons.extension": "延期",
    "ticket.summons.lead": "牵头",
    "ticket.summons.none": "尚未召集部门。",
    "ticket.summons.state.summoned": "待报到",
    "ticket.summons.state.reported_in": "已报到",
    "ticket.summons.state.declined": "已退单",
    "ticket.summons.state.finished": "已办结",
    "ticket.summons.fixed": "已解决",
    "ticket.summons.not_fixed": "未能解决",
    "ticket.summons.extension_requested": "申请延至 {time}",
    "ticket.summons.extended_until": "已延至 {time}",
    "ticket.clock": "时限",
    "ticket.clock.department": "部门",
    "ticket.clock.started": "开始",
    "ticket.clock.due": "应完成",
    "ticket.clock.stopped": "结束 / 剩余",
    "ticket.clock.elapsed": "用时",
    "ticket.clock.status": "结果",
    "ticket.clock.left": "剩余",
    "ticket.clock.none": "暂无时限。",
    "ticket.clock.policy": "时限规则版本 {version}",
    "ticket.clock.now": "现在",
    "ticket.clock.due_mark": "应完成时间",
    "ticket.clock.view.time": "按时间",
    "ticket.clock.view.share": "按时限占比",
    "ticket.clock.no_due": "暂停中，无应完成时间",
    "ticket.clock.tip": "{name}\n{status}\n开始 {start}\n{end}\n应完成 {due}\n用时 {elapsed}",
    "ticket.clock.tip_stopped": "结束 {time}",
    "ticket.clock.tip_running": "仍在计时",
    "ticket.status.met": "按时",
    "ticket.status.running": "计时中",
    "ticket.status.breached": "已超时",
    "ticket.status.missed": "超时完成",
    "ticket.status.paused": "已暂停",
    "ticket.actor": "操作人：{actor}",
    "ticket.actor.resident": "群众",
    "ticket.actor.sla-engine": "时限监控（系统）",
    "ticket.actor.system": "系统",
    "ticket.actor.none": "未记录",
    // Event names in staff terms; the resident's status page words them for residents
    // (track.step.* in track.js), on purpose.
    "ticket.event.Received": "受理登记",
    "ticket.event.Acknowledged": "社区受理回应",
    "ticket.event.HandledLocally": "社区自行办理",
    "ticket.event.CalledUp": "社区呼叫街道",
    "ticket.event.WhistleBlown": "街道吹哨",
    "ticket.event.DepartmentReportedIn": "部门报到",
    "ticket.event.DepartmentDeclined": "部门退单",
    "ticket.event.ProgressNoted": "办理进展",
    "ticket.event.DepartmentFinished": "部门办结",
    "ticket.event.ExtensionRequested": "申请延期",
    "ticket.event.ExtensionApproved": "批准延期",
    "ticket.event.ExtensionDenied": "驳回延期",
    "ticket.event.Resolved": "办结",
    "ticket.event.FeedbackRecorded": "群众评价",
    "ticket.event.Reopened": "重办",
    "ticket.event.Closed": "关闭",
    "ticket.event.MergedInto": "并入其他工单",
    "ticket.event.MergedFrom": "合并重复工单",
    "ticket.event.SupervisionOpened": "启动督办",
    "ticket.event.SlaBreached": "超时",
    "ticket.event.SlaWarned": "时限预警",
    "ticket.event.SlaPaused": "暂停计时",
    "ticket.event.SlaResumed": "恢复计时",
    "ticket.event.SourceUpdated": "来源系统更新",
    "ticket.event.PersonalDataErased": "删除个人信息",
    "ticket.field.channel": "渠道",
    "ticket.field.category": "类别",
    "ticket.field.urgency": "紧急程度",
    "ticket.field.location": "地点",
    "ticket.field.description": "描述",
    "ticket.field.reply": "回复群众",
    "ticket.field.plan": "办理计划",
    "ticket.field.street": "街道",
    "ticket.field.reason": "理由",
    "ticket.field.departments": "召集部门",
    "ticket.field.lead": "牵头部门",
    "ticket.field.department": "部门",
    "ticket.field.liaison": "联络员",
    "ticket.field.note": "进展",
    "ticket.field.on_site": "到场",
    "ticket.field.fixed": "是否解决",
    "ticket.field.outcome": "办理结果",
    "ticket.field.until": "延至",
    "ticket.field.summary": "办结说明",
    "ticket.field.resolved": "问题解决",
    "ticket.field.satisfied": "满意",
    "ticket.field.score": "评分",
    "ticket.field.comment": "留言",
    "ticket.field.round": "轮次",
    "ticket.field.into": "并入工单",
    "ticket.field.from": "重复工单",
    "ticket.field.level": "督办级别",
    "ticket.field.clock": "时限",
    "ticket.field.due_at": "应完成",
    "ticket.field.percent": "已用",
    "ticket.field.cleared": "已消除",
    "ticket.field.policy_version": "规则版本",
    "ticket.level.street": "街道督办",
    "ticket.level.district": "区级督办",
    "ticket.close.feedback": "群众已评价",
    "ticket.close.no_feedback": "评价期满未反馈",
  },
  en: {
    "ticket.title": "Ticket",
    "ticket.heading": "Ticket",
    "ticket.open": "Open",
    "ticket.open.placeholder": "Ticket id",
    "ticket.no_id": "Give a ticket id.",
    "ticket.not_found": "There is no such ticket, or it is outside your scope.",
    "ticket.load_failed": "The ticket could not be loaded: {detail}",
    "ticket.refresh": "Refresh",
    "ticket.updated": "Refreshes every 30 seconds · last {time}",
    "ticket.update_failed": "Could not refresh; trying again shortly: {detail}",
    "ticket.section.summary": "Summary",
    "ticket.section.contact": "Resident's contact",
    "ticket.section.summonses": "Departments summoned",
    "ticket.section.clocks": "Clocks",
    "ticket.section.timeline": "Timeline",
    "ticket.category": "Category",
    "ticket.urgency": "Urgency",
    "ticket.channel": "Channel",
    "ticket.location": "Location",
    "ticket.description": "Description",
    "ticket.round": "Round",
    "ticket.round.value": "Round {round}",
    "ticket.paused": "Completion clock",
    "ticket.paused.yes": "Paused",
    "ticket.merged_into": "Merged into",
    "ticket.contact.name": "Name",
    "ticket.contact.phone": "Phone",
    "ticket.contact.address": "Address",
    "ticket.contact.full": "Shown in full (your role calls residents back)",
    "ticket.contact.masked": "Masked",
    "ticket.contact.none": "The resident left no contact.",
    "ticket.contact.erased": "The resident's personal data was erased on {time}.",
    "ticket.contact.erased_plain": "The resident's personal data was erased.",
    "ticket.contact.unreadable": "The contact is sealed under a key this service does not hold.",
    "ticket.summons.department": "Department",
    "ticket.summons.state": "State",
    "ticket.summons.liaison": "Liaison",
    "ticket.summons.result": "Result",
    "ticket.summons.extension": "Extension",
    "ticket.summons.lead": "lead",
    "ticket.summons.none": "No department summoned yet.",
    "ticket.summons.state.summoned": "Summoned",
    "ticket.summons.state.reported_in": "Reported in",
    "ticket.summons.state.declined": "Declined",
    "ticket.summons.state.finished": "Finished",
    "ticket.summons.fixed": "Fixed",
    "ticket.summons.not_fixed": "Not fixed",
    "ticket.summons.extension_requested": "Asked until {time}",
    "ticket.summons.extended_until": "Extended until {time}",
    "ticket.clock": "Clock",
    "ticket.clock.department": "Department",
    "ticket.clock.started": "Started",
    "ticket.clock.due": "Due",
    "ticket.clock.stopped": "Stopped / left",
    "ticket.clock.elapsed": "Took",
    "ticket.clock.status": "Outcome",
    "ticket.clock.left": "Left",
    "ticket.clock.none": "No clocks.",
    "ticket.clock.policy": "Timed under policy {version}",
    "ticket.clock.now": "now",
    "ticket.clock.due_mark": "Due time",
    "ticket.clock.view.time": "By time",
    "ticket.clock.view.share": "By share of allowed time",
    "ticket.clock.no_due": "Paused, no due time",
    "ticket.clock.tip": "{name}\n{status}\nStarted {start}\n{end}\nDue {due}\nTook {elapsed}",
    "ticket.clock.tip_stopped": "Stopped {time}",
    "ticket.clock.tip_running": "Still running",
    "ticket.status.met": "Met",
    "ticket.status.running": "Running",
    "ticket.status.breached": "Breached",
    "ticket.status.missed": "Met late",
    "ticket.status.paused": "Paused",
    "ticket.actor": "by {actor}",
    "ticket.actor.resident": "Resident",
    "ticket.actor.sla-engine": "SLA monitor (system)",
    "ticket.actor.system": "System",
    "ticket.actor.none": "not recorded",
    "ticket.event.Received": "Received",
    "ticket.event.Acknowledged": "Acknowledged by the community",
    "ticket.event.HandledLocally": "Handled by the community",
    "ticket.event.CalledUp": "Called up to the street",
    "ticket.event.WhistleBlown": "Whistle blown",
    "ticket.event.DepartmentReportedIn": "Department reported in",
    "ticket.event.DepartmentDeclined": "Department declined",
    "ticket.event.ProgressNoted": "Progress noted",
    "ticket.event.DepartmentFinished": "Department finished",
    "ticket.event.ExtensionRequested": "Extension requested",
    "ticket.event.ExtensionApproved": "Extension approved",
    "ticket.event.ExtensionDenied": "Extension denied",
    "ticket.event.Resolved": "Resolved",
    "ticket.event.FeedbackRecorded": "Resident's rating",
    "ticket.event.Reopened": "Reopened",
    "ticket.event.Closed": "Closed",
    "ticket.event.MergedInto": "Merged into another ticket",
    "ticket.event.MergedFrom": "Duplicate merged in",
    "ticket.event.SupervisionOpened": "Supervision opened",
    "ticket.event.SlaBreached": "Deadline missed",
    "ticket.event.SlaWarned": "Deadline warning",
    "ticket.event.SlaPaused": "Clock paused",
    "ticket.event.SlaResumed": "Clock resumed",
    "ticket.event.SourceUpdated": "Source system update",
    "ticket.event.PersonalDataErased": "Personal data erased",
    "ticket.field.channel": "Channel",
    "ticket.field.category": "Category",
    "ticket.field.urgency": "Urgency",
    "ticket.field.location": "Location",
    "ticket.field.description": "Description",
    "ticket.field.reply": "Reply to the resident",
    "ticket.field.plan": "Plan",
    "ticket.field.street": "Street",
    "ticket.field.reason": "Reason",
    "ticket.field.departments": "Summoned",
    "ticket.field.lead": "Lead",
    "ticket.field.department": "Department",
    "ticket.field.liaison": "Liaison",
    "ticket.field.note": "Note",
    "ticket.field.on_site": "On site",
    "ticket.field.fixed": "Fixed",
    "ticket.field.outcome": "Result",
    "ticket.field.until": "Until",
    "ticket.field.summary": "Summary",
    "ticket.field.resolved": "Solved",
    "ticket.field.satisfied": "Satisfied",
    "ticket.field.score": "Score",
    "ticket.field.comment": "Comment",
    "ticket.field.round": "Round",
    "ticket.field.into": "Into",
    "ticket.field.from": "Duplicate",
    "ticket.field.level": "Level",
    "ticket.field.clock": "Clock",
    "ticket.field.due_at": "Due",
    "ticket.field.percent": "Used",
    "ticket.field.cleared": "Cleared",
    "ticket.field.policy_version": "Policy",
    "ticket.level.street": "street",
    "ticket.level.district": "district",
    "ticket.close.feedback": "the resident rated it",
    "ticket.close.no_feedback": "no rating in time",
  },
});

// Hotline operators take complaints in; they do not read tickets (the API answers 404).
const ROLES = ["grid_worker", "community", "street", "liaison", "supervisor"];
const REFRESH_MS = 30_000;
const STATUS_COLOURS = { met: "#1a7f37", running: "#1f5fbf", breached: "#c62828", missed: "#e07b39", paused: "#8a94a3" };
const DONE_STAGES = ["resolved", "closed"];

/**
 * What each event shows besides its name, actor and time: the fields of its payload, in
 * order. Each field is formatted by `FORMAT` below, or shown as text.
 */
const EVENT_FIELDS = {
  Received: ["channel", "category", "urgency", "location", "description"],
  Acknowledged: ["reply"],
  HandledLocally: ["plan"],
  CalledUp: ["street", "reason"],
  WhistleBlown: ["departments", "lead", "reason"],
  DepartmentReportedIn: ["department", "liaison"],
  DepartmentDeclined: ["department", "liaison", "reason"],
  ProgressNoted: ["department", "note", "on_site"],
  DepartmentFinished: ["department", "fixed", "outcome"],
  ExtensionRequested: ["department", "until", "reason"],
  ExtensionApproved: ["department", "until", "reason"],
  ExtensionDenied: ["department", "reason"],
  Resolved: ["summary"],
  FeedbackRecorded: ["resolved", "satisfied", "score", "comment"],
  Reopened: ["round", "reason"],
  Closed: ["reason"],
  MergedInto: ["into", "reason"],
  MergedFrom: ["from"],
  SupervisionOpened: ["level", "department", "reason"],
  SlaBreached: ["clock", "department", "due_at"],
  SlaWarned: ["clock", "department", "percent", "due_at"],
  SlaPaused: ["reason"],
  SlaResumed: ["reason"],
  SourceUpdated: ["note", "cleared"],
  PersonalDataErased: ["reason"],
};

await frame({ title: "ticket.title", roles: ROLES });

const main = document.getElementById("main");
const id = (new URLSearchParams(location.search).get("id") || "").trim();
/** The page's state: the jurisdiction tree, the chart, its view, the refresh timer. */
const view = { places: null, chart: null, mode: null, timer: null, last: null };

window.addEventListener("resize", () => view.chart?.resize());

if (!id) drawOpenForm(t("ticket.no_id"));
else await start();

// ---------------------------------------------------------------- loading

async function start() {
  fill(main, el("p", { class: "muted" }, t("loading")));
  try {
    view.places = await jurisdiction();
    const loaded = await load();
    draw(loaded);
    view.timer = setInterval(refresh, REFRESH_MS);
  } catch (error) {
    showFailure(error);
  }
}

async function load() {
  const base = `/api/tickets/${encodeURIComponent(id)}`;
  const [ticket, timeline, clocks] = await Promise.all([
    api(base),
    api(`${base}/timeline`),
    // A ticket just received has no clocks until the SLA engine has seen it: that is not
    // "no such ticket", only "no clocks yet".
    api(`${base}/clocks`).catch((error) => {
      if (error instanceof ApiProblem && error.code === "clocks_not_ready") return { clocks: [] };
      throw error;
    }),
  ]);
  return { ticket, timeline, clocks };
}

async function refresh() {
  if (document.hidden) return;
  try {
    draw(await load());
  } catch (error) {
    const note = document.querySelector("[data-testid=ticket-updated]");
    if (note) note.textContent = t("ticket.update_failed", { detail: problemText(error) });
  }
}

function showFailure(error) {
  clearInterval(view.timer);
  if (error instanceof ApiProblem && (error.status === 404 || error.code === "ticket_not_found")) {
    drawOpenForm(t("ticket.not_found"), "ticket-not-found");
    return;
  }
  fill(
    main,
    el("p", { class: "notice error", role: "alert", "data-testid": "ticket-error" }, t("ticket.load_failed", { detail: problemText(error) })),
    el("button", { type: "button", onclick: start }, t("retry")),
  );
}

/** A message and a field to open a ticket by its id. */
function drawOpenForm(message, testid = "ticket-no-id") {
  const input = el("input", { type: "text", name: "id", value: id, placeholder: t("ticket.open.placeholder"), "aria-label": t("ticket.open.placeholder") });
  fill(
    main,
    el("h1", {}, t("ticket.title")),
    el("p", { class: "notice error", role: "alert", "data-testid": testid }, message),
    el(
      "form",
      { class: "card open-ticket", method: "get", action: "/console/ticket" },
      input,
      el("button", { type: "submit", class: "primary" }, t("ticket.open")),
    ),
  );
}

// ---------------------------------------------------------------- drawing

function draw({ ticket, timeline, clocks }) {
  view.last = { ticket, timeline, clocks };
  const chartBox = el("div", { class: "chart clock-chart", "data-testid": "clock-chart", role: "img", "aria-label": t("ticket.section.clocks") });
  fill(
    main,
    header(ticket),
    el(
      "div",
      { class: "grid" },
      summaryCard(ticket),
      el("div", {}, contactCard(ticket.contact), summonsCard(ticket.summonses || [])),
    ),
    clocksCard(clocks, chartBox),
    timelineCard(timeline),
  );
  drawChart(chartBox, clocks);
}

function header(ticket) {
  const done = DONE_STAGES.includes(ticket.stage);
  const refresh = el("button", { type: "button", "data-testid": "ticket-refresh" }, t("ticket.refresh"));
  refresh.addEventListener("click", async () => {
    refresh.disabled = true;
    try {
      draw(await load());
    } catch (error) {
      showFailure(error);
    } finally {
      refresh.disabled = false;
    }
  });
  return el(
    "div",
    { class: "ticket-head" },
    el("h1", {}, t("ticket.heading"), " ", el("span", { class: "id", "data-testid": "ticket-id" }, ticket.id)),
    el(
      "span",
      { class: `badge stage-badge${done ? " done" : ""}${ticket.stage === "merged" ? " merged" : ""}`, "data-testid": "ticket-stage", dataset: { stage: ticket.stage } },
      named("stage", ticket.stage),
    ),
    ticket.paused ? el("span", { class: "badge warn" }, t("ticket.paused.yes")) : null,
    el("span", { class: "muted poll-note", "data-testid": "ticket-updated" },
      t("ticket.updated", { time: new Date().toLocaleTimeString(lang() === "zh" ? "zh-CN" : "en-GB") })),
    refresh,
  );
}

/** Where, in full: district, street, community, grid and the resident's words. */
function placeFull(location) {
  return location ? placeText(location, view.places, { district: true, grid: true }) : "";
}

function facts(pairs) {
  return el(
    "dl",
    { class: "facts" },
    pairs.filter(([, value]) => value !== null && value !== undefined && value !== "").map(([label, value]) => [el("dt", {}, label), el("dd", {}, value)]),
  );
}

function summaryCard(ticket) {
  return el(
    "section",
    { class: "card", "data-testid": "ticket-summary" },
    el("h2", {}, t("ticket.section.summary")),
    facts([
      [t("ticket.category"), categoryName(ticket.category)],
      [t("ticket.urgency"), urgencyName(ticket.urgency)],
      [t("ticket.channel"), channelName(ticket.channel)],
      [t("ticket.location"), placeFull(ticket.location)],
      [t("ticket.description"), ticket.description],
      [t("ticket.round"), ticket.round > 1 ? t("ticket.round.value", { round: ticket.round }) : null],
      [t("ticket.paused"), ticket.paused ? t("ticket.paused.yes") : null],
      [t("ticket.merged_into"), ticket.merged_into ? ticketLink(ticket.merged_into) : null],
    ]),
  );
}

function ticketLink(ticketId) {
  return el("a", { href: ticketHref(ticketId) }, String(ticketId));
}

function contactCard(contact) {
  const shown = contact?.shown || "none";
  let body;
  if (shown === "full" || shown === "masked") {
    body = [
      el("p", { class: "hint" }, t(`ticket.contact.${shown}`)),
      facts([
        [t("ticket.contact.name"), contact.name],
        [t("ticket.contact.phone"), contact.phone ? phoneNode(contact.phone, shown === "full") : null],
        [t("ticket.contact.address"), contact.address],
      ]),
    ];
  } else if (shown === "erased") {
    body = el("p", { class: "muted" }, contact.erased_at ? t("ticket.contact.erased", { time: when(contact.erased_at) }) : t("ticket.contact.erased_plain"));
  } else {
    body = el("p", { class: "muted" }, named("ticket.contact", shown));
  }
  return el("section", { class: "card", "data-testid": "ticket-contact", dataset: { shown } }, el("h2", {}, t("ticket.section.contact")), body);
}

/** A phone number; in full, a tap calls it (staff on phones call residents back). */
function phoneNode(phone, full) {
  return full ? el("a", { href: `tel:${phone.replace(/[^\d+]/g, "")}` }, phone) : phone;
}

function summonsCard(summonses) {
  const rows = summonses.map((s) =>
    el(
      "tr",
      { "data-testid": "summons-row" },
      el("td", {}, view.places.name(s.department), s.lead ? [" ", el("span", { class: "badge" }, t("ticket.summons.lead"))] : null),
      el("td", { "data-label": t("ticket.summons.state") }, named("ticket.summons.state", s.state)),
      el("td", { "data-label": t("ticket.summons.liaison") }, s.liaison || "—"),
      el("td", { "data-label": t("ticket.summons.result") }, s.fixed === true ? t("ticket.summons.fixed") : s.fixed === false ? t("ticket.summons.not_fixed") : "—"),
      el(
        "td",
        { "data-label": t("ticket.summons.extension") },
        s.extended_until ? t("ticket.summons.extended_until", { time: when(s.extended_until) }) : null,
        s.extension_requested ? t("ticket.summons.extension_requested", { time: when(s.extension_requested) }) : null,
        !s.extended_until && !s.extension_requested ? "—" : null,
      ),
    ),
  );
  return el(
    "section",
    { class: "card", "data-testid": "ticket-summonses" },
    el("h2", {}, t("ticket.section.summonses")),
    rows.length
      ? el(
          "table",
          { class: "stack labelled" },
          el("thead", {}, el("tr", {}, ["department", "state", "liaison", "result", "extension"].map((k) => el("th", {}, t(`ticket.summons.${k}`))))),
          el("tbody", {}, rows),
        )
      : el("p", { class: "muted" }, t("ticket.summons.none")),
  );
}

// ---------------------------------------------------------------- clocks

/** The clocks of the answer as rows: name, times in ms, status. */
function clockRows(answer) {
  const now = Date.parse(answer.at) || Date.now();
  return (answer.clocks || []).map(({ clock, status }) => {
    const start = Date.parse(clock.started_at);
    const stopped = clock.stopped_at ? Date.parse(clock.stopped_at) : null;
    const due = clock.due_at ? Date.parse(clock.due_at) : null;
    const name = clock.department ? `${named("clock", clock.clock)} · ${view.places.name(clock.department)}` : named("clock", clock.clock);
    return { clock, status, name, start, end: stopped ?? now, stopped, due, now };
  });
}

function clocksCard(answer, chartBox) {
  const rows = clockRows(answer);
  view.mode ??= defaultMode(rows);
  const toggle = el(
    "div",
    { class: "segmented", role: "group" },
    ["time", "share"].map((mode) => {
      const button = el("button", { type: "button", "aria-pressed": String(view.mode === mode), "data-testid": `clock-view-${mode}` }, t(`ticket.clock.view.${mode}`));
      button.addEventListener("click", () => {
        view.mode = mode;
        for (const b of button.parentNode.children) b.setAttribute("aria-pressed", String(b === button));
        drawChart(chartBox, answer);
      });
      return button;
    }),
  );
  return el(
    "section",
    { class: "card", "data-testid": "ticket-clocks" },
    el("div", { class: "toolbar" }, el("h2", {}, t("ticket.section.clocks")), toggle,
      answer.policy_version ? el("span", { class: "muted" }, t("ticket.clock.policy", { version: answer.policy_version })) : null),
    rows.length ? [chartBox, legend()] : el("p", { class: "muted" }, t("ticket.clock.none")),
    rows.length ? clockTable(rows) : null,
  );
}

function legend() {
  return el(
    "ul",
    { class: "legend", "aria-hidden": "true" },
    Object.keys(STATUS_COLOURS).map((status) => el("li", {}, el("i", { class: `swatch-${status}` }), t(`ticket.status.${status}`))),
    el("li", { class: "due" }, el("i"), t("ticket.clock.due_mark")),
  );
}

function clockTable(rows) {
  return el(
    "table",
    { class: "stack labelled", "data-testid": "clock-table" },
    el("thead", {}, el("tr", {}, ["ticket.clock", "ticket.clock.started", "ticket.clock.due", "ticket.clock.stopped", "ticket.clock.elapsed", "ticket.clock.status"].map((k) => el("th", {}, t(k))))),
    el(
      "tbody",
      {},
      rows.map((row) =>
        el(
          "tr",
          { "data-testid": "clock-row", dataset: { clock: row.clock.clock, status: row.status } },
          el("td", { class: "name" }, row.name),
          el("td", { "data-label": t("ticket.clock.started") }, when(row.clock.started_at)),
          el("td", { "data-label": t("ticket.clock.due") }, row.due ? when(row.clock.due_at) : t("ticket.clock.no_due")),
          el("td", { "data-label": t("ticket.clock.stopped") }, row.stopped ? when(row.clock.stopped_at) : row.due && !row.clock.paused ? countdown(row.clock.due_at, { warnSeconds: warnSeconds(row) }) : "—"),
          el("td", { "data-label": t("ticket.clock.elapsed") }, duration((row.end - row.start) / 1000)),
          el("td", { "data-label": t("ticket.clock.status") }, el("span", { class: `badge status-${row.status}` }, named("ticket.status", row.status))),
        ),
      ),
    ),
  );
}

/** A countdown warns at the clock's last warning share (75 %), or in its last quarter. */
function warnSeconds(row) {
  const last = (row.clock.warn_at || []).at(-1);
  if (last && row.due) return Math.max(0, (row.due - Date.parse(last[1])) / 1000);
  return row.due ? (row.due - row.start) / 4000 : 300;
}

/**
 * By time, unless the clocks differ so much in length (5 minutes to acknowledge, 15 days to
 * complete) that the short ones would be slivers: then by share of the allowed time.
 */
function defaultMode(rows) {
  const times = rows.flatMap((r) => [r.start, r.end, r.due].filter(Number.isFinite));
  const span = Math.max(...times) - Math.min(...times);
  const shortest = Math.min(...rows.map((r) => Math.max(r.end, r.due ?? r.end) - r.start));
  return rows.length > 1 && span > 0 && shortest / span < 0.02 ? "share" : "time";
}

/** The share of its allowed time a clock used, in percent; null without a due time. */
function share(row) {
  if (!row.due || row.due <= row.start) return null;
  return ((row.end - row.start) / (row.due - row.start)) * 100;
}

function drawChart(box, answer) {
  if (typeof echarts === "undefined" || !box.isConnected) return;
  const rows = clockRows(answer);
  if (!rows.length) return;
  view.chart?.dispose();
  view.chart = echarts.init(box, null, { locale: lang() === "zh" ? "ZH" : "EN" });
  view.chart.setOption(chartOption(rows, view.mode, box.clientWidth));
}

function chartOption(rows, mode, width) {
  const byTime = mode === "time";
  const data = rows.map((row, i) => {
    const used = share(row);
    const value = byTime ? [i, row.start, row.end, row.due ?? NaN] : [i, 0, used ?? 0, row.due ? 100 : NaN];
    return { value, itemStyle: { color: STATUS_COLOURS[row.status] || STATUS_COLOURS.running } };
  });
  const now = rows[0].now;
  return {
    animation: false,
    // The grid box holds the axis labels too (ECharts 6's replacement for containLabel).
    grid: { left: 8, right: 28, top: 24, bottom: byTime ? 30 : 8, outerBoundsMode: "same", outerBoundsContain: "axisLabel" },
    tooltip: { trigger: "item", renderMode: "richText", formatter: (p) => tip(rows[p.dataIndex]) },
    xAxis: byTime
      ? { type: "time", axisLabel: { hideOverlap: true } }
      : { type: "value", min: 0, axisLabel: { formatter: "{value}%" } },
    yAxis: {
      type: "category", inverse: true, data: rows.map((r) => r.name), axisTick: { show: false },
      axisLabel: { width: Math.max(60, Math.min(160, width * 0.28)), overflow: "break" },
    },
    // Zoom with the wheel or a pinch; by time, a slider too, as the clocks can differ a lot.
    dataZoom: [
      { type: "inside", xAxisIndex: 0, filterMode: "weakFilter" },
      byTime ? { type: "slider", xAxisIndex: 0, filterMode: "weakFilter", height: 16, bottom: 4, showDetail: false } : null,
    ].filter(Boolean),
    series: [
      {
        type: "custom",
        renderItem: renderClock,
        encode: { x: [1, 2, 3], y: 0 },
        data,
        markLine: byTime
          ? {
              silent: true, symbol: "none",
              lineStyle: { type: "dashed", color: "#5f6b7a" },
              label: { formatter: t("ticket.clock.now"), position: "start" },
              data: [{ xAxis: now }],
            }
          : undefined,
      },
    ],
  };
}

/** One clock: a bar from start to stop (or now), and a black tick at its due time. */
function renderClock(params, chartApi) {
  const row = chartApi.value(0);
  const from = chartApi.coord([chartApi.value(1), row]);
  const to = chartApi.coord([chartApi.value(2), row]);
  const height = chartApi.size([0, 1])[1] * 0.5;
  const area = params.coordSys;
  const bar = echarts.graphic.clipRectByRect(
    { x: from[0], y: from[1] - height / 2, width: Math.max(to[0] - from[0], 3), height },
    { x: area.x, y: area.y, width: area.width, height: area.height },
  );
  const children = [];
  if (bar) children.push({ type: "rect", shape: bar, style: chartApi.style() });
  const due = chartApi.value(3);
  if (Number.isFinite(due)) {
    const at = chartApi.coord([due, row]);
    if (at[0] >= area.x && at[0] <= area.x + area.width)
      children.push({
        type: "line",
        shape: { x1: at[0], y1: at[1] - height * 0.9, x2: at[0], y2: at[1] + height * 0.9 },
        style: { stroke: "#1d2430", lineWidth: 2 },
      });
  }
  return { type: "group", children };
}

/** A tooltip in plain text (rich-text mode: nothing from the API becomes HTML). */
function tip(row) {
  return t("ticket.clock.tip", {
    name: row.name,
    status: named("ticket.status", row.status),
    start: when(row.clock.started_at),
    end: row.stopped ? t("ticket.clock.tip_stopped", { time: when(row.clock.stopped_at) }) : t("ticket.clock.tip_running"),
    due: row.due ? when(row.clock.due_at) : "—",
    elapsed: duration((row.end - row.start) / 1000),
  });
}

// ---------------------------------------------------------------- timeline

function timelineCard(events) {
  return el(
    "section",
    { class: "card", "data-testid": "ticket-timeline" },
    el("h2", {}, t("ticket.section.timeline")),
    el("ol", { class: "timeline events", "data-testid": "timeline" }, events.map(timelineEntry)),
  );
}

function timelineEntry(entry) {
  const type = entry.event_type;
  const payload = entry.event?.[type] ?? {};
  const fields = EVENT_FIELDS[type];
  const details = fields
    ? fields.map((name) => [t(`ticket.field.${name}`), format(name, payload[name], type)])
    : [["", entry.summary]];
  const kind = type.startsWith("SlaBreached") ? "sla" : type === "SlaWarned" ? "sla-warn" : entry.actor === "resident" ? "resident" : null;
  return el(
    "li",
    { class: kind, "data-testid": "timeline-entry", dataset: { type, version: entry.version } },
    el(
      "div",
      { class: "head" },
      el("time", { datetime: entry.recorded_at, title: new Date(entry.recorded_at).toLocaleString() }, when(entry.recorded_at)),
      el("span", { class: "what" }, named("ticket.event", type)),
      el("span", { class: "actor", "data-testid": "timeline-actor" }, t("ticket.actor", { actor: actorName(entry.actor) })),
      el("span", { class: "version" }, `#${entry.version}`),
    ),
    facts(details),
  );
}

function actorName(actor) {
  if (!actor) return t("ticket.actor.none");
  return named("ticket.actor", actor);
}

/** One field of an event, as text (or a node). Unknown shapes fall back to their JSON. */
function format(name, value, type) {
  if (value === null || value === undefined || value === "") return null;
  const places = view.places;
  switch (name) {
    case "channel": return channelName(value);
    case "category": return categoryName(value);
    case "urgency": return urgencyName(value);
    case "location": return placeFull(value);
    case "street": case "department": case "lead": return places.name(value);
    case "departments": return value.map((d) => places.name(d)).join("、");
    case "until": case "due_at": return when(value);
    case "on_site": case "fixed": case "resolved": case "satisfied": case "cleared":
      return yesNo(value);
    case "clock": return named("clock", value);
    case "level": return named("ticket.level", value);
    case "percent": return `${value}%`;
    case "into": case "from": return ticketLink(value);
    case "reason": return type === "Closed" ? named("ticket.close", value) : String(value);
    default: return typeof value === "object" ? JSON.stringify(value) : String(value);
  }
}
