// The street dispatcher's console (街道调度台): tickets waiting for the whistle, with the
// routing catalogue's suggestion ("建议派单：住建（牵头）、环卫"); declined summonses (退单)
// with the reason and who declined, to re-dispatch; departments' requests for more time
// (延期) to approve or deny; and merging a duplicate into the ticket that carries on.
// The dispatch queue and the street's extension requests each follow their live stream.
import { addStrings, api, categoryName, duration, el, fill, lang, placeText, shortId, stream, t, when } from "./common.js";
import {
  ask,
  findClock,
  forget,
  forgetTicket,
  memo,
  muted,
  noteChange,
  openConsole,
  rowButton,
  textField,
  ticketClocks,
  ticketDetails,
  ticketLink,
  ticketTimeline,
  timer,
  urgencyBadge,
} from "./work.js";

addStrings({
  zh: {
    "street.title": "街道调度台",
    "street.intro": "社区上报的诉求在此吹哨派单；部门退单后重新派单；审批部门的延期申请。",
    "street.empty": "暂无待派单或待审批的事项。",
    "street.col.waiting": "待办事项",
    "street.col.since": "等待时长",
    "street.waiting.confirm": "待确认派单",
    "street.waiting.declined": "{department} 退单",
    "street.waiting.no_candidate": "无可派部门，请指定",
    "street.waiting.extension": "{department} 申请延期",
    "street.declined_by": "退单人：{who}（{time}）",
    "street.declined_reason": "退单理由：{reason}",
    "street.suggestion": "建议派单：{list}",
    "street.suggestion_none": "目录无建议部门，请人工指定。",
    "street.lead_mark": "{name}（牵头）",
    "street.extension_until": "申请延期至：{time}",
    "street.extension_by": "申请人：{who}",
    "street.extension_reason": "理由：{reason}",
    "street.waited": "已等待 {time}",
    "street.whistle": "吹哨派单",
    "street.redispatch": "重新派单",
    "street.merge": "合并重复件",
    "street.approve": "同意延期",
    "street.deny": "不同意",
    "street.dialog.whistle": "吹哨派单：{ticket}",
    "street.dialog.redispatch": "重新派单：{ticket}",
    "street.dialog.approve": "同意延期：{ticket} · {department}",
    "street.dialog.deny": "不同意延期：{ticket} · {department}",
    "street.dialog.merge": "合并重复件：{ticket}",
    "street.field.departments": "派往部门",
    "street.field.departments_hint": "已按目录建议勾选，可调整。",
    "street.field.lead": "牵头部门",
    "street.field.reason": "派单说明（选填）",
    "street.field.approve_reason": "延期理由（将告知居民）",
    "street.field.deny_reason": "不同意的理由",
    "street.field.into": "合并到（继续办理的工单）",
    "street.field.merge_reason": "为何是同一事件",
    "street.dept.open": "（在办）",
    "street.dept.finished": "（已办结）",
    "street.dept.declined": "（曾退单）",
    "street.pick_one": "请至少选择一个部门。",
    "street.no_targets": "本街道暂无其他在办工单可合并。",
    "street.whistled": "已吹哨，部门将在 30 分钟内报到。",
    "street.approved": "已同意延期。",
    "street.denied": "已驳回延期申请。",
    "street.merged": "已合并。",
    "street.no_scope": "当前账号未绑定街道，无法查看派单队列。",
  },
  en: {
    "street.title": "Street dispatch",
    "street.intro": "Blow the whistle on what communities call up; re-dispatch what departments decline; approve their requests for more time.",
    "street.empty": "Nothing waits for dispatch or approval.",
    "street.col.waiting": "Waiting for",
    "street.col.since": "Waiting",
    "street.waiting.confirm": "Dispatch to confirm",
    "street.waiting.declined": "Declined by {department}",
    "street.waiting.no_candidate": "No department left: choose",
    "street.waiting.extension": "{department} asks for more time",
    "street.declined_by": "By {who} ({time})",
    "street.declined_reason": "Reason: {reason}",
    "street.suggestion": "Suggested: {list}",
    "street.suggestion_none": "The catalogue suggests no one: choose the departments.",
    "street.lead_mark": "{name} (lead)",
    "street.extension_until": "Until {time}",
    "street.extension_by": "Asked by {who}",
    "street.extension_reason": "Reason: {reason}",
    "street.waited": "Waiting {time}",
    "street.whistle": "Blow the whistle",
    "street.redispatch": "Re-dispatch",
    "street.merge": "Merge duplicate",
    "street.approve": "Approve",
    "street.deny": "Deny",
    "street.dialog.whistle": "Blow the whistle: {ticket}",
    "street.dialog.redispatch": "Re-dispatch: {ticket}",
    "street.dialog.approve": "Approve more time: {ticket} · {department}",
    "street.dialog.deny": "Deny more time: {ticket} · {department}",
    "street.dialog.merge": "Merge a duplicate: {ticket}",
    "street.field.departments": "Departments to summon",
    "street.field.departments_hint": "The catalogue's suggestion is ticked; change it if needed.",
    "street.field.lead": "Lead department",
    "street.field.reason": "Note (optional)",
    "street.field.approve_reason": "Reason for the extension (the resident is told)",
    "street.field.deny_reason": "Why not",
    "street.field.into": "Merge into (the ticket that carries on)",
    "street.field.merge_reason": "Why it is the same incident",
    "street.dept.open": "(at work)",
    "street.dept.finished": "(finished)",
    "street.dept.declined": "(declined before)",
    "street.pick_one": "Choose at least one department.",
    "street.no_targets": "No other open ticket of this street to merge into.",
    "street.whistled": "Whistle blown; the departments report in within 30 minutes.",
    "street.approved": "Extension approved.",
    "street.denied": "Extension denied.",
    "street.merged": "Merged.",
    "street.no_scope": "This account has no street: there is no queue to show.",
  },
});

const { code: street, tree, queue } = await openConsole({
  prefix: "street",
  roles: ["street"],
  columns: ["work.col.ticket", "work.col.matter", "work.col.place", "street.col.waiting", "street.col.since", "work.col.due", "work.col.actions"],
  queuePath: (code) => `/api/streets/${encodeURIComponent(code)}/dispatch-queue`,
  build: buildRows,
  onRefresh: () => refresh(),
});
/** The extension requests waiting for this street, as its live stream last sent them. */
let extensions = [];
/** How many times the live stream has sent the requests (see `followQueue`). */
let extensionsSent = 0;
const refresh = () => {
  forget("street:");
  return queue.refresh();
};
followExtensions();

// ---------------------------------------------------------------- data

/** The last event of `type` on a timeline for `department` (`{ at, actor, data }`). */
function lastEvent(timeline, type, department) {
  const found = (timeline || [])
    .filter((step) => step.event_type === type && step.event?.[type]?.department === department)
    .pop();
  return found ? { at: found.recorded_at, actor: found.actor, data: found.event[type] } : null;
}

/** The street's tickets at `stage`, kept briefly. */
function streetTickets(query, ttl = 10000) {
  const key = `street:${new URLSearchParams(query)}`;
  return memo(key, ttl, () => api("/api/tickets", { query: { street, per_page: 200, ...query } }));
}

function extensionsPath() {
  return `/api/streets/${encodeURIComponent(street)}/extension-requests`;
}

function showExtensions(requests) {
  extensions = requests || [];
  queue.redraw();
}

/** Reads the extension requests again (after an action), rather than wait for the stream. */
async function loadExtensions() {
  const before = extensionsSent;
  const requests = await api(extensionsPath()).catch(() => null);
  // A read that crossed a message of the stream may be older than it: the stream wins.
  if (requests && extensionsSent === before) showExtensions(requests);
}

/** Follows the street's extension requests: the rows redraw whenever they change. */
function followExtensions() {
  stream(`${extensionsPath()}/live`, (message) => {
    if (message.event === "extensions" && Array.isArray(message.data)) {
      extensionsSent += 1;
      showExtensions(message.data);
    }
  });
}

/** The dispatch queue's rows, then the extension requests. */
async function buildRows(entries) {
  for (const e of entries) noteChange(e.ticket, JSON.stringify(e.waiting));
  const waiting = extensions;
  const details = await Promise.all([
    ...entries.map((entry) =>
      Promise.all([
        ticketClocks(entry.ticket).catch(() => null),
        entry.waiting?.kind === "declined" ? ticketTimeline(entry.ticket).catch(() => null) : null,
      ]),
    ),
  ]);
  const extensionClocks = await Promise.all(waiting.map((x) => ticketClocks(x.ticket).catch(() => null)));
  return [
    ...entries.map((entry, i) => dispatchRow(entry, ...details[i])),
    ...waiting.map((x, i) => extensionRow(x, extensionClocks[i])),
  ];
}

// ---------------------------------------------------------------- rows

const deptName = (code) => tree.name(code);

/** "住建（牵头）、环卫". */
function suggestionText(suggestion) {
  return suggestion.departments
    .map((d) => (d === suggestion.lead ? t("street.lead_mark", { name: deptName(d) }) : deptName(d)))
    .join(lang() === "zh" ? "、" : ", ");
}

function commonCells(ticketId, category, description, urgency, location) {
  return [
    el("td", {}, ticketLink(ticketId), " ", urgencyBadge(urgency)),
    el("td", {}, el("strong", {}, categoryName(category)), muted(description)),
    el("td", {}, placeText(location, tree, { street: false })),
  ];
}

function completionTimer(clocks, department = null, extendedUntil = null) {
  const clock = findClock(clocks, "completion", department);
  const due = extendedUntil || clock?.clock.due_at;
  if (!due) return el("span", { class: "muted" }, "—");
  return timer(due, { label: t("clock.completion"), warnSeconds: 4 * 3600, paused: Boolean(clock?.clock.paused) });
}

function waitedCell(since) {
  const secs = (Date.now() - new Date(since).getTime()) / 1000;
  return [el("div", {}, t("street.waited", { time: duration(secs) })), muted(when(since))];
}

function dispatchRow(entry, clocks, timeline) {
  const kind = entry.waiting?.kind || "confirm";
  const decliner = entry.waiting?.department;
  const declined = kind === "declined" ? lastEvent(timeline, "DepartmentDeclined", decliner) : null;
  const waiting = [
    el(
      "span",
      { class: `badge ${kind === "declined" ? "late" : "warn"}`, "data-testid": "waiting" },
      kind === "declined" ? t("street.waiting.declined", { department: deptName(decliner) }) : t(`street.waiting.${kind}`),
    ),
    declined?.data?.reason ? el("div", { class: "small", "data-testid": "decline-reason" }, t("street.declined_reason", { reason: declined.data.reason })) : null,
    declined ? muted(t("street.declined_by", { who: declined.data?.liaison || declined.actor || "—", time: when(declined.at) })) : null,
    entry.suggestion
      ? el("p", { class: "suggestion", "data-testid": "suggestion" }, t("street.suggestion", { list: suggestionText(entry.suggestion) }))
      : el("p", { class: "small warn-text" }, t("street.suggestion_none")),
    muted(entry.note),
  ];
  const main = kind === "declined"
    ? rowButton("street.redispatch", "redispatch", () => whistle(entry, true), "primary")
    : rowButton("street.whistle", "whistle", () => whistle(entry, false), "primary");
  return el(
    "tr",
    { "data-testid": "queue-row", dataset: { ticket: entry.ticket, kind } },
    commonCells(entry.ticket, entry.category, entry.description, entry.urgency, entry.location),
    el("td", {}, waiting),
    el("td", {}, waitedCell(entry.since)),
    el("td", {}, completionTimer(clocks)),
    el("td", {}, el("div", { class: "row-actions" }, main, rowButton("street.merge", "merge", () => merge(entry)))),
  );
}

function extensionRow(request, clocks) {
  const d = request.department;
  return el(
    "tr",
    { "data-testid": "queue-row", dataset: { ticket: request.ticket, department: d, kind: "extension" } },
    commonCells(request.ticket, request.category, request.description, request.urgency, request.location),
    el(
      "td",
      {},
      el("span", { class: "badge warn", "data-testid": "waiting" }, t("street.waiting.extension", { department: deptName(d) })),
      el("div", { class: "small" }, t("street.extension_until", { time: when(request.until) })),
      el("div", { class: "small" }, t("street.extension_reason", { reason: request.reason })),
      muted(t("street.extension_by", { who: request.liaison })),
    ),
    el("td", {}, waitedCell(request.requested_at)),
    el("td", {}, completionTimer(clocks, d)),
    el(
      "td",
      {},
      el(
        "div",
        { class: "row-actions" },
        rowButton("street.approve", "approve-extension", () => decideExtension(request, true), "primary"),
        rowButton("street.deny", "deny-extension", () => decideExtension(request, false), "danger"),
      ),
    ),
  );
}

// ---------------------------------------------------------------- the department picker

/**
 * Ticks for every department (the suggestion ticked; those at work or finished on the
 * ticket can't be summoned again) and the lead among those ticked or at work.
 */
function departmentPicker(suggestion, summonses) {
  const stateOf = new Map((summonses || []).map((s) => [s.department, s.state]));
  const open = (d) => ["summoned", "reported_in"].includes(stateOf.get(d));
  const currentLead = (summonses || []).find((s) => s.lead && open(s.department))?.department;
  const suggested = new Set(suggestion?.departments || []);
  const boxes = tree.departments.map((dept) => {
    const state = stateOf.get(dept.code);
    const taken = open(dept.code) || state === "finished";
    const input = el("input", { type: "checkbox", value: dept.code, "data-testid": `dept-${dept.code}`, disabled: taken, onchange: syncLead });
    input.checked = !taken && suggested.has(dept.code);
    const mark = open(dept.code) ? "street.dept.open" : state === "finished" ? "street.dept.finished" : state === "declined" ? "street.dept.declined" : null;
    const label = el(
      "label",
      { class: [taken ? "taken" : "", suggested.has(dept.code) ? "suggested" : ""].join(" ").trim() || null },
      input,
      dept.name,
      mark ? el("span", { class: "muted small" }, t(mark)) : null,
    );
    return { input, label, code: dept.code };
  });
  const lead = el("select", { "data-testid": "lead", name: "lead" });

  function ticked() {
    return boxes.filter((b) => b.input.checked && !b.input.disabled).map((b) => b.code);
  }

  function syncLead() {
    const wanted = lead.value || suggestion?.lead || currentLead;
    const choices = [...new Set([...ticked(), ...boxes.filter((b) => open(b.code)).map((b) => b.code)])];
    fill(lead, choices.map((code) => el("option", { value: code }, deptName(code))));
    if (choices.includes(wanted)) lead.value = wanted;
    else if (currentLead && choices.includes(currentLead)) lead.value = currentLead;
  }
  syncLead();
  if (suggestion?.lead && [...lead.options].some((o) => o.value === suggestion.lead)) lead.value = suggestion.lead;

  return {
    node: el(
      "div",
      { class: "field" },
      el("label", {}, t("street.field.departments")),
      suggestion ? el("div", { class: "hint" }, t("street.field.departments_hint")) : null,
      el("div", { class: "dept-picker", "data-testid": "departments" }, boxes.map((b) => b.label)),
      el("label", { for: "street-lead" }, t("street.field.lead")),
      Object.assign(lead, { id: "street-lead" }),
    ),
    name: "pick",
    value: () => ({ departments: ticked(), lead: lead.value }),
    invalid: () => (ticked().length ? null : t("street.pick_one")),
  };
}

const sameSet = (a, b) => a.length === b.length && a.every((x) => b.includes(x));

// ---------------------------------------------------------------- actions

/** After an action: what was kept about the ticket is stale; load the queue again. */
async function reload(ticketId) {
  forgetTicket(ticketId);
  await Promise.all([refresh(), loadExtensions()]);
}

/**
 * Blows the whistle (or re-dispatches a declined summons). Left as the catalogue
 * suggests, the whistle names no departments, so the catalogue's own reasoning is
 * recorded; any change names them.
 */
async function whistle(entry, again) {
  const ticket = await ticketDetails(entry.ticket, 0).catch(() => null);
  const picker = departmentPicker(entry.suggestion, ticket?.summonses);
  const result = await ask({
    title: t(again ? "street.dialog.redispatch" : "street.dialog.whistle", { ticket: shortId(entry.ticket) }),
    intro: entry.suggestion ? el("p", { class: "suggestion" }, t("street.suggestion", { list: suggestionText(entry.suggestion) })) : null,
    fields: [picker, textField({ name: "reason", label: t("street.field.reason"), required: false, multiline: false })],
    confirmKey: again ? "street.redispatch" : "street.whistle",
    done: t("street.whistled"),
    run: ({ pick, reason }) => {
      const s = entry.suggestion;
      const asSuggested = s && sameSet(pick.departments, s.departments) && pick.lead === s.lead;
      const body = asSuggested ? {} : { departments: pick.departments, lead: pick.lead };
      if (reason) body.reason = reason;
      return api(`/api/tickets/${entry.ticket}/whistle`, { method: "POST", body });
    },
  });
  if (result) await reload(entry.ticket);
}

/**
 * Approves or denies a request for more time. An approval's reason is what the resident
 * is told, so it starts as the department's own reason.
 */
async function decideExtension(request, approve) {
  const { ticket, department } = request;
  const result = await ask({
    title: t(approve ? "street.dialog.approve" : "street.dialog.deny", { ticket: shortId(ticket), department: deptName(department) }),
    fields: [
      textField({
        name: "reason",
        label: t(approve ? "street.field.approve_reason" : "street.field.deny_reason"),
        value: approve ? request.reason : "",
      }),
    ],
    confirmKey: approve ? "street.approve" : "street.deny",
    danger: !approve,
    done: t(approve ? "street.approved" : "street.denied"),
    run: ({ reason }) =>
      api(`/api/tickets/${ticket}/summons/${encodeURIComponent(department)}/extension/${approve ? "approve" : "deny"}`, {
        method: "POST",
        body: { reason },
      }),
  });
  if (result) await reload(ticket);
}

/** Merges a duplicate into another open ticket of the street. */
async function merge(entry) {
  const page = await streetTickets({}).catch(() => null);
  const closed = ["resolved", "closed", "merged"];
  const targets = (page?.items || []).filter((item) => item.ticket !== entry.ticket && !closed.includes(item.stage));
  const into = el(
    "select",
    { name: "into", "data-testid": "into", id: "street-into" },
    targets.map((item) =>
      el("option", { value: item.ticket }, `${shortId(item.ticket)} · ${categoryName(item.category)} · ${placeText(item.location, tree, { street: false })}`),
    ),
  );
  const intoField = {
    node: el("div", { class: "field" }, el("label", { for: "street-into" }, t("street.field.into")), targets.length ? into : el("p", { class: "muted" }, t("street.no_targets"))),
    name: "into",
    input: into,
    value: () => into.value,
    invalid: () => (into.value ? null : t("street.no_targets")),
  };
  const result = await ask({
    title: t("street.dialog.merge", { ticket: shortId(entry.ticket) }),
    fields: [intoField, textField({ name: "reason", label: t("street.field.merge_reason") })],
    confirmKey: "street.merge",
    done: t("street.merged"),
    run: ({ into: target, reason }) => api(`/api/tickets/${entry.ticket}/merge`, { method: "POST", body: { into: target, reason } }),
  });
  if (result) await reload(entry.ticket);
}
