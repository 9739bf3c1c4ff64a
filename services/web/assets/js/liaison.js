// The department liaison's console (部门报到): the department's open summonses by deadline,
// with the 30-minute report-in countdown until someone claims, then the completion
// countdown. A liaison claims (报到) in one click; when another liaison was first, the row
// says who. The holder notes progress, reports the result, asks for more time; a summons
// may be declined (退单) with a reason. The queue follows its live stream, and a toast
// tells of each new summons.
import { addStrings, api, ApiProblem, categoryName, el, placeText, problemText, shortId, stream, t, toast, when } from "./common.js";
import {
  ask,
  checkField,
  dateTimeField,
  findClock,
  forgetTicket,
  leadBadge,
  muted,
  noteChange,
  openConsole,
  rowButton,
  textField,
  ticketClocks,
  ticketLink,
  timer,
  urgencyBadge,
} from "./work.js";

addStrings({
  zh: {
    "liaison.title": "部门报到台",
    "liaison.intro": "街道吹哨后 30 分钟内报到；报到后及时反馈进展，办结后上报结果。",
    "liaison.empty": "本部门暂无待办的派单。",
    "liaison.col.summoned": "派单时间",
    "liaison.state.summoned": "待报到",
    "liaison.state.reported_in": "已报到",
    "liaison.state.working": "办理中",
    "liaison.by": "报到人：{who}",
    "liaison.you": "{who}（本人）",
    "liaison.at": "报到时间：{time}",
    "liaison.last_note": "最新进展：{note}",
    "liaison.extension_pending": "延期申请待街道审批（申请至 {time}）",
    "liaison.extended": "已批准延期至 {time}",
    "liaison.held_by_other": "由 {who} 负责办理",
    "liaison.claimed_by": "已被 {who} 报到",
    "liaison.claim": "报到",
    "liaison.decline": "退单",
    "liaison.progress": "反馈进展",
    "liaison.finish": "上报结果",
    "liaison.extension": "申请延期",
    "liaison.claimed": "报到成功，请尽快到场处置。",
    "liaison.declined": "已退单，街道将重新派单。",
    "liaison.progressed": "进展已记录。",
    "liaison.finished": "办理结果已上报。",
    "liaison.extension_sent": "延期申请已提交街道审批。",
    "liaison.dialog.decline": "退单：{ticket}",
    "liaison.dialog.decline_intro": "请说明退单理由（如不属本部门职责），街道将据此重新派单。",
    "liaison.dialog.progress": "反馈进展：{ticket}",
    "liaison.dialog.finish": "上报办理结果：{ticket}",
    "liaison.dialog.extension": "申请延期：{ticket}",
    "liaison.field.reason": "退单理由",
    "liaison.field.note": "进展情况",
    "liaison.field.on_site": "已到现场查看",
    "liaison.field.result": "办理结果",
    "liaison.field.fixed": "本部门负责的问题已解决",
    "liaison.field.until": "申请延期至",
    "liaison.field.until_hint": "当前时限：{time}",
    "liaison.field.extension_reason": "延期理由（将告知居民）",
    "liaison.notice.summoned": "新的派单：{category}，请在 30 分钟内报到。",
    "liaison.notice.summoned_plain": "新的派单 {ticket}，请在 30 分钟内报到。",
    "liaison.no_scope": "当前账号未绑定部门，无法查看派单。",
  },
  en: {
    "liaison.title": "Department report-in",
    "liaison.intro": "Report in within 30 minutes of the street's whistle; then note progress, and report the result when done.",
    "liaison.empty": "Nothing is waiting for this department.",
    "liaison.col.summoned": "Summoned",
    "liaison.state.summoned": "Waiting for report-in",
    "liaison.state.reported_in": "Reported in",
    "liaison.state.working": "In progress",
    "liaison.by": "By {who}",
    "liaison.you": "{who} (you)",
    "liaison.at": "At {time}",
    "liaison.last_note": "Latest: {note}",
    "liaison.extension_pending": "Extension to {time} awaits the street's approval",
    "liaison.extended": "Extended to {time}",
    "liaison.held_by_other": "Handled by {who}",
    "liaison.claimed_by": "Already claimed by {who}",
    "liaison.claim": "Report in",
    "liaison.decline": "Decline",
    "liaison.progress": "Note progress",
    "liaison.finish": "Report result",
    "liaison.extension": "Ask for more time",
    "liaison.claimed": "Reported in. Please get to the site soon.",
    "liaison.declined": "Declined; the street will re-dispatch.",
    "liaison.progressed": "Progress noted.",
    "liaison.finished": "Result reported.",
    "liaison.extension_sent": "Extension request sent to the street.",
    "liaison.dialog.decline": "Decline {ticket}",
    "liaison.dialog.decline_intro": "Say why (for example, not this department's duty); the street re-dispatches with it.",
    "liaison.dialog.progress": "Progress on {ticket}",
    "liaison.dialog.finish": "Result of {ticket}",
    "liaison.dialog.extension": "More time for {ticket}",
    "liaison.field.reason": "Reason",
    "liaison.field.note": "What happened",
    "liaison.field.on_site": "Visited the site",
    "liaison.field.result": "Result",
    "liaison.field.fixed": "This department's part is fixed",
    "liaison.field.until": "New deadline",
    "liaison.field.until_hint": "Current deadline: {time}",
    "liaison.field.extension_reason": "Why (the resident is told)",
    "liaison.notice.summoned": "New summons: {category}. Report in within 30 minutes.",
    "liaison.notice.summoned_plain": "New summons {ticket}. Report in within 30 minutes.",
    "liaison.no_scope": "This account has no department: there is no queue to show.",
  },
});

const { principal, code: department, tree, queue } = await openConsole({
  prefix: "liaison",
  roles: ["liaison"],
  columns: ["work.col.ticket", "work.col.matter", "work.col.place", "liaison.col.summoned", "work.col.due", "work.col.state", "work.col.actions"],
  queuePath: (code) => `/api/departments/${encodeURIComponent(code)}/queue`,
  build: buildRows,
});
const refresh = () => queue.refresh();

/** Who claimed first, by row (`ticket/department`), after this liaison's claim lost the race. */
const claimedBy = new Map();

followNotices();

// ---------------------------------------------------------------- rows

const keyOf = (entry) => `${entry.ticket}/${entry.department}`;

/** The rows of the queue; a claimed summons also needs its clocks (the completion due). */
async function buildRows(entries) {
  for (const e of entries) noteChange(e.ticket, JSON.stringify([e.status, e.liaison, e.last_note, e.extended_until, e.extension_requested]));
  const clocks = await Promise.all(
    entries.map((entry) => (entry.status === "reported_in" ? ticketClocks(entry.ticket, 15000).catch(() => null) : null)),
  );
  return entries.map((entry, i) => row(entry, clocks[i]));
}

function row(entry, clocks) {
  return el(
    "tr",
    { "data-testid": "queue-row", dataset: { ticket: entry.ticket, department: entry.department, status: entry.status } },
    el("td", {}, ticketLink(entry.ticket), " ", urgencyBadge(entry.urgency), entry.lead ? [" ", leadBadge()] : null),
    el("td", {}, el("strong", {}, categoryName(entry.category)), muted(entry.description)),
    el("td", {}, placeText(entry.location, tree)),
    el("td", {}, when(entry.summoned_at)),
    el("td", {}, deadline(entry, clocks)),
    el("td", {}, stateCell(entry)),
    el("td", {}, el("div", { class: "row-actions" }, buttons(entry))),
  );
}

/** Report-in countdown until claimed; then the completion countdown (or the extension). */
function deadline(entry, clocks) {
  if (entry.status === "summoned") return timer(entry.report_in_due, { label: t("clock.report_in"), warnSeconds: 600 });
  const clock = findClock(clocks, "completion", entry.department);
  const due = entry.extended_until || clock?.clock.due_at;
  if (!due) return el("span", { class: "muted" }, "—");
  return timer(due, { label: t("clock.completion"), warnSeconds: 4 * 3600, paused: Boolean(clock?.clock.paused) });
}

function stateCell(entry) {
  const lost = claimedBy.get(keyOf(entry));
  const notice = lost ? el("p", { class: "notice error claimed-by", "data-testid": "claimed-by" }, t("liaison.claimed_by", { who: lost })) : null;
  if (entry.status === "summoned") return [el("span", { class: "badge warn" }, t("liaison.state.summoned")), notice];
  const who = entry.liaison === principal.subject ? t("liaison.you", { who: entry.liaison }) : entry.liaison;
  const working = Boolean(entry.last_note);
  return [
    el("span", { class: "badge ok" }, t(working ? "liaison.state.working" : "liaison.state.reported_in")),
    el("div", { class: "small", "data-testid": "holder" }, t("liaison.by", { who: who || "—" })),
    entry.reported_in_at ? muted(t("liaison.at", { time: when(entry.reported_in_at) })) : null,
    entry.last_note ? el("div", { class: "small last-note" }, t("liaison.last_note", { note: entry.last_note })) : null,
    entry.extension_requested ? el("div", { class: "small warn-text" }, t("liaison.extension_pending", { time: when(entry.extension_requested) })) : null,
    entry.extended_until ? muted(t("liaison.extended", { time: when(entry.extended_until) })) : null,
    notice,
  ];
}

/** Only what this liaison can do to the summons as it stands. */
function buttons(entry) {
  if (entry.status === "summoned")
    return [
      rowButton("liaison.claim", "claim", (e) => claim(entry, e.currentTarget), "primary"),
      rowButton("liaison.decline", "decline", () => decline(entry)),
    ];
  if (entry.liaison !== principal.subject)
    return el("span", { class: "muted small" }, t("liaison.held_by_other", { who: entry.liaison || "—" }));
  return [
    rowButton("liaison.progress", "progress", () => progress(entry)),
    rowButton("liaison.finish", "finish", () => finish(entry), "primary"),
    entry.extension_requested ? null : rowButton("liaison.extension", "extension", () => extension(entry)),
    rowButton("liaison.decline", "decline", () => decline(entry), "danger"),
  ];
}

// ---------------------------------------------------------------- actions

const summonsPath = (entry, action) =>
  `/api/tickets/${entry.ticket}/summons/${encodeURIComponent(entry.department)}/${action}`;

/** Reloads the queue after an action on `entry`'s ticket. */
async function reload(entry) {
  forgetTicket(entry.ticket);
  return refresh();
}

/**
 * 报到 in one click. When another liaison was first (409 `already_claimed`), the row says
 * who: the problem names the holder, and the queue as it now stands confirms it.
 */
async function claim(entry, button) {
  button.disabled = true;
  const key = keyOf(entry);
  let lost = null;
  try {
    await api(summonsPath(entry, "claim"), { method: "POST" });
    claimedBy.delete(key);
    toast(t("liaison.claimed"), "ok");
  } catch (error) {
    if (error instanceof ApiProblem && error.code === "already_claimed") lost = holderIn(error) || "?";
    else toast(t("error.generic", { detail: problemText(error) }), "error");
  } finally {
    button.disabled = false;
  }
  if (lost) claimedBy.set(key, lost);
  const entries = await reload(entry);
  if (!lost) return;
  const now = entries.find((e) => keyOf(e) === key);
  if (now?.liaison && now.liaison !== lost) {
    claimedBy.set(key, now.liaison);
    lost = now.liaison;
    await refresh();
  }
  toast(t("liaison.claimed_by", { who: lost }), "error");
}

/** The holder an `already_claimed` problem names. */
function holderIn(problem) {
  return problem.problem?.holder || null;
}

function decline(entry) {
  return ask({
    title: t("liaison.dialog.decline", { ticket: shortId(entry.ticket) }),
    intro: t("liaison.dialog.decline_intro"),
    fields: [textField({ name: "reason", label: t("liaison.field.reason") })],
    confirmKey: "liaison.decline",
    danger: true,
    done: t("liaison.declined"),
    run: ({ reason }) => api(summonsPath(entry, "decline"), { method: "POST", body: { reason } }),
  }).then((done) => done && reload(entry));
}

function progress(entry) {
  return ask({
    title: t("liaison.dialog.progress", { ticket: shortId(entry.ticket) }),
    fields: [
      textField({ name: "note", label: t("liaison.field.note") }),
      checkField({ name: "on_site", label: t("liaison.field.on_site"), testid: "on-site" }),
    ],
    done: t("liaison.progressed"),
    run: ({ note, on_site }) => api(summonsPath(entry, "progress"), { method: "POST", body: { note, on_site } }),
  }).then((done) => done && reload(entry));
}

function finish(entry) {
  return ask({
    title: t("liaison.dialog.finish", { ticket: shortId(entry.ticket) }),
    fields: [
      textField({ name: "outcome", label: t("liaison.field.result"), testid: "result" }),
      checkField({ name: "fixed", label: t("liaison.field.fixed"), checked: true }),
    ],
    done: t("liaison.finished"),
    run: ({ outcome, fixed }) => api(summonsPath(entry, "finish"), { method: "POST", body: { fixed, outcome } }),
  }).then((done) => done && reload(entry));
}

async function extension(entry) {
  const clocks = await ticketClocks(entry.ticket).catch(() => null);
  const current = entry.extended_until || findClock(clocks, "completion", entry.department)?.clock.due_at || null;
  const base = Math.max(Date.now(), current ? new Date(current).getTime() : 0);
  return ask({
    title: t("liaison.dialog.extension", { ticket: shortId(entry.ticket) }),
    fields: [
      dateTimeField({
        name: "until",
        label: t("liaison.field.until"),
        value: new Date(base + 24 * 3600 * 1000).toISOString(),
        hint: current ? t("liaison.field.until_hint", { time: when(current) }) : null,
      }),
      textField({ name: "reason", label: t("liaison.field.extension_reason") }),
    ],
    done: t("liaison.extension_sent"),
    run: ({ until, reason }) => api(summonsPath(entry, "extension"), { method: "POST", body: { until, reason } }),
  }).then((done) => done && reload(entry));
}

// ---------------------------------------------------------------- notices

/** A toast for each new summons; any notice makes the ticket's details stale. */
function followNotices() {
  stream(`/api/departments/${encodeURIComponent(department)}/notices`, async (message) => {
    const notice = message.data && typeof message.data === "object" ? message.data : {};
    if (notice.ticket) forgetTicket(notice.ticket);
    if (message.event !== "summoned") return;
    const entries = await refresh();
    const known = entries.find((e) => e.ticket === notice.ticket);
    toast(
      known
        ? t("liaison.notice.summoned", { category: categoryName(known.category) })
        : t("liaison.notice.summoned_plain", { ticket: shortId(notice.ticket || "") }),
      "ok",
    );
  });
}
