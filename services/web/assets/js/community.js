// The community workstation (社区工作台): the complaints the community holds, the ones
// waiting for an answer first, each with its 5-minute acknowledge countdown. A worker
// acknowledges with a reply to the resident, then handles the matter locally (and reports
// the fix, which resolves it) or calls it up to the street (社区呼叫). The resident's
// contact is shown as the API gives it. The queue follows its live stream.
import { addStrings, api, categoryName, channelName, el, placeText, shortId, t, when } from "./common.js";
import {
  ask,
  findClock,
  forgetTicket,
  muted,
  noteChange,
  openConsole,
  rowButton,
  textField,
  ticketClocks,
  ticketDetails,
  ticketLink,
  timer,
  urgencyBadge,
} from "./work.js";

addStrings({
  zh: {
    "community.title": "社区工作台",
    "community.intro": "居民诉求须在 5 分钟内受理回应；能办的就地办理，办不了的上报街道吹哨。",
    "community.empty": "暂无待处理的诉求。",
    "community.col.contact": "联系人",
    "community.col.received": "接收时间",
    "community.state.received": "待受理",
    "community.state.acknowledged": "已受理",
    "community.state.handling_locally": "社区办理中",
    "community.acknowledged_at": "受理时间：{time}",
    "community.via": "来源：{channel}",
    "community.contact.masked": "（已脱敏）",
    "community.contact.erased": "个人信息已删除",
    "community.contact.none": "未留联系方式",
    "community.contact.unreadable": "联系方式无法读取",
    "community.acknowledge": "受理",
    "community.handle_locally": "就地办理",
    "community.call_up": "上报街道",
    "community.resolve": "办结",
    "community.dialog.acknowledge": "受理并回复居民：{ticket}",
    "community.dialog.handle_locally": "就地办理：{ticket}",
    "community.dialog.call_up": "上报街道：{ticket}",
    "community.dialog.resolve": "办结：{ticket}",
    "community.field.reply": "回复居民的内容",
    "community.field.reply_default": "您好，您反映的问题社区已收到，我们会尽快处理并及时告知进展。",
    "community.field.plan": "办理计划",
    "community.field.call_up_reason": "上报理由（需要哪些部门协调）",
    "community.field.summary": "办理结果",
    "community.acknowledged": "已受理，回复已发送给居民。",
    "community.handling": "已转为社区就地办理。",
    "community.called_up": "已上报街道。",
    "community.resolved": "已办结。",
    "community.no_scope": "当前账号未绑定社区，无法查看诉求。",
  },
  en: {
    "community.title": "Community workstation",
    "community.intro": "Answer each complaint within 5 minutes; fix what the community can, call the street up for the rest.",
    "community.empty": "No complaints are waiting.",
    "community.col.contact": "Contact",
    "community.col.received": "Received",
    "community.state.received": "To acknowledge",
    "community.state.acknowledged": "Acknowledged",
    "community.state.handling_locally": "Handled locally",
    "community.acknowledged_at": "Acknowledged at {time}",
    "community.via": "Channel: {channel}",
    "community.contact.masked": "(masked)",
    "community.contact.erased": "Personal data erased",
    "community.contact.none": "No contact given",
    "community.contact.unreadable": "Contact cannot be read",
    "community.acknowledge": "Acknowledge",
    "community.handle_locally": "Handle locally",
    "community.call_up": "Call up the street",
    "community.resolve": "Resolve",
    "community.dialog.acknowledge": "Acknowledge and reply: {ticket}",
    "community.dialog.handle_locally": "Handle locally: {ticket}",
    "community.dialog.call_up": "Call up the street: {ticket}",
    "community.dialog.resolve": "Resolve: {ticket}",
    "community.field.reply": "Reply to the resident",
    "community.field.reply_default": "Hello, the community has your report; we will deal with it soon and keep you informed.",
    "community.field.plan": "Plan",
    "community.field.call_up_reason": "Why (which departments are needed)",
    "community.field.summary": "What was done",
    "community.acknowledged": "Acknowledged; the reply was sent to the resident.",
    "community.handling": "Now handled by the community.",
    "community.called_up": "Called up to the street.",
    "community.resolved": "Resolved.",
    "community.no_scope": "This account has no community: there is no queue to show.",
  },
});

const { principal, code: community, tree, queue } = await openConsole({
  prefix: "community",
  roles: ["community", "grid_worker"],
  columns: ["work.col.ticket", "work.col.matter", "work.col.place", "community.col.contact", "community.col.received", "work.col.due", "work.col.state", "work.col.actions"],
  queuePath: (code) => `/api/communities/${encodeURIComponent(code)}/queue`,
  build: buildRows,
});
const refresh = () => queue.refresh();

// ---------------------------------------------------------------- rows

/** The rows; each needs its ticket (for the contact), and its clocks once acknowledged. */
async function buildRows(entries) {
  for (const e of entries) noteChange(e.ticket, e.status);
  const extras = await Promise.all(
    entries.map((entry) =>
      Promise.all([
        ticketDetails(entry.ticket, 60000).catch(() => null),
        entry.status === "received" ? null : ticketClocks(entry.ticket).catch(() => null),
      ]),
    ),
  );
  return entries.map((entry, i) => row(entry, ...extras[i]));
}

function row(entry, ticket, clocks) {
  return el(
    "tr",
    { "data-testid": "queue-row", dataset: { ticket: entry.ticket, status: entry.status } },
    el("td", {}, ticketLink(entry.ticket), " ", urgencyBadge(entry.urgency)),
    el("td", {}, el("strong", {}, categoryName(entry.category)), muted(entry.description)),
    el("td", {}, placeText(entry.location, tree, { street: false })),
    el("td", {}, contact(ticket?.contact)),
    el("td", {}, when(entry.received_at), muted(t("community.via", { channel: channelName(entry.channel) }))),
    el("td", {}, deadline(entry, clocks)),
    el("td", {}, stateCell(entry)),
    el("td", {}, el("div", { class: "row-actions" }, buttons(entry))),
  );
}

/** The resident's contact as the API shows it to this role: in full, masked or erased. */
function contact(c) {
  if (!c) return el("span", { class: "muted" }, "—");
  if (c.shown === "erased" || c.shown === "none" || c.shown === "unreadable")
    return el("span", { class: "muted small" }, t(`community.contact.${c.shown}`));
  const phone = c.phone
    ? c.shown === "full"
      ? el("a", { href: `tel:${c.phone.replace(/[^\d+]/g, "")}` }, c.phone)
      : c.phone
    : null;
  return el(
    "div",
    { class: "contact", "data-testid": "contact" },
    c.name ? el("div", {}, c.name) : null,
    phone ? el("div", {}, phone) : null,
    c.address ? muted(c.address) : null,
    c.shown === "masked" ? muted(t("community.contact.masked")) : null,
  );
}

/** The 5-minute acknowledge countdown; once acknowledged, the completion clock. */
function deadline(entry, clocks) {
  if (entry.status === "received") return timer(entry.acknowledge_due, { label: t("clock.acknowledge"), warnSeconds: 120 });
  const clock = findClock(clocks, "completion");
  if (!clock) return el("span", { class: "muted" }, "—");
  return timer(clock.clock.due_at, { label: t("clock.completion"), warnSeconds: 4 * 3600, paused: clock.clock.paused });
}

function stateCell(entry) {
  const kind = entry.status === "received" ? "warn" : entry.status === "handling_locally" ? "ok" : "";
  return [
    el("span", { class: `badge ${kind}`.trim() }, t(`community.state.${entry.status}`)),
    entry.acknowledged_at ? muted(t("community.acknowledged_at", { time: when(entry.acknowledged_at) })) : null,
  ];
}

/** What the ticket's stage allows: acknowledge first; handle locally once acknowledged; call up until fixed. */
function buttons(entry) {
  switch (entry.status) {
    case "received":
      return [
        rowButton("community.acknowledge", "acknowledge", () => acknowledge(entry), "primary"),
        rowButton("community.call_up", "call-up", () => callUp(entry)),
      ];
    case "acknowledged":
      return [
        rowButton("community.handle_locally", "handle-locally", () => handleLocally(entry), "primary"),
        rowButton("community.call_up", "call-up", () => callUp(entry)),
      ];
    case "handling_locally":
      return [
        rowButton("community.resolve", "resolve", () => resolve(entry), "primary"),
        rowButton("community.call_up", "call-up", () => callUp(entry)),
      ];
    default:
      return null;
  }
}

// ---------------------------------------------------------------- actions

/** Asks, runs `action` on the ticket with the answer, and reloads the queue. */
async function command(entry, { title, field, action, done, body }) {
  const result = await ask({
    title,
    fields: [field],
    done,
    run: (values) => api(`/api/tickets/${entry.ticket}/${action}`, { method: "POST", body: body(values) }),
  });
  if (result) {
    forgetTicket(entry.ticket);
    await refresh();
  }
}

function acknowledge(entry) {
  return command(entry, {
    title: t("community.dialog.acknowledge", { ticket: shortId(entry.ticket) }),
    field: textField({ name: "reply", label: t("community.field.reply"), value: t("community.field.reply_default") }),
    action: "acknowledge",
    done: t("community.acknowledged"),
    body: ({ reply }) => ({ reply }),
  });
}

function handleLocally(entry) {
  return command(entry, {
    title: t("community.dialog.handle_locally", { ticket: shortId(entry.ticket) }),
    field: textField({ name: "reason", label: t("community.field.plan") }),
    action: "handle-locally",
    done: t("community.handling"),
    body: ({ reason }) => ({ reason }),
  });
}

function callUp(entry) {
  return command(entry, {
    title: t("community.dialog.call_up", { ticket: shortId(entry.ticket) }),
    field: textField({ name: "reason", label: t("community.field.call_up_reason") }),
    action: "call-up",
    done: t("community.called_up"),
    body: ({ reason }) => ({ reason }),
  });
}

function resolve(entry) {
  return command(entry, {
    title: t("community.dialog.resolve", { ticket: shortId(entry.ticket) }),
    field: textField({ name: "reason", label: t("community.field.summary") }),
    action: "resolve",
    done: t("community.resolved"),
    body: ({ reason }) => ({ reason }),
  });
}
