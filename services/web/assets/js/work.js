// What the three work consoles (community, street, liaison) share: the urgency badge and
// the short ticket link (the names of codes live in common.js), the queue table that
// follows a live stream, row buttons, countdowns with their test id, and the dialog that
// asks for a reason, a note or a result before an action and keeps itself open, with the
// API's answer, when the action fails.
import { act, addStrings, api, el, fill, frame, jurisdiction, liveBadge, problemText, scopeCode, shortId, stream, t, ticketHref, urgencyName, countdown } from "./common.js";

addStrings({
  zh: {
    "work.col.ticket": "工单",
    "work.col.matter": "事项",
    "work.col.place": "地点",
    "work.col.state": "状态",
    "work.col.due": "时限",
    "work.col.actions": "操作",
    "work.load_failed": "队列加载失败：{detail}",
    "work.confirm": "确定",
    "work.cancel": "取消",
    "work.required": "请填写“{label}”。",
    "work.refresh": "刷新",
    "work.lead": "牵头",
  },
  en: {
    "work.col.ticket": "Ticket",
    "work.col.matter": "Matter",
    "work.col.place": "Place",
    "work.col.state": "State",
    "work.col.due": "Deadline",
    "work.col.actions": "Actions",
    "work.load_failed": "The queue could not be loaded: {detail}",
    "work.confirm": "Confirm",
    "work.cancel": "Cancel",
    "work.required": "Please fill in “{label}”.",
    "work.refresh": "Refresh",
    "work.lead": "Lead",
  },
});

// ---------------------------------------------------------------- names

/** A badge for the urgency; urgent and important ones stand out. */
export function urgencyBadge(urgency) {
  const kind = urgency === "urgent" ? "late" : urgency === "important" ? "warn" : "";
  return el("span", { class: `badge ${kind}`.trim() }, urgencyName(urgency));
}

/** The "lead" (牵头) badge. */
export const leadBadge = () => el("span", { class: "badge ok" }, t("work.lead"));

/** The ticket's short id, linking to its page. */
export function ticketLink(id) {
  return el("a", { href: ticketHref(id), class: "ticket-id", title: id }, shortId(id));
}

/** A running countdown to `due`, marked for tests, with a clock's name before it. */
export function timer(due, { label, warnSeconds = 300, paused = false } = {}) {
  const clock = countdown(due, { warnSeconds, paused });
  clock.setAttribute("data-testid", "countdown");
  return el("span", { class: "timer" }, label ? el("span", { class: "muted" }, label, " ") : null, clock);
}

/** A small button of a row: `rowButton("liaison.claim", "claim", onClick, "primary")`. */
export function rowButton(key, testid, onclick, kind = "") {
  return el("button", { type: "button", class: kind || null, "data-testid": testid, onclick }, t(key));
}

/** A muted line of text, or nothing when `text` is empty. */
export function muted(text) {
  return text ? el("div", { class: "muted small" }, text) : null;
}

// ---------------------------------------------------------------- fetch memo

const memos = new Map();

/**
 * `fn()` once per `ttl` milliseconds for `key` (a ticket's details, say), so a live
 * stream that sends the queue every time anything changes does not fetch every row again.
 * A failed fetch is not kept.
 */
export function memo(key, ttl, fn) {
  const kept = memos.get(key);
  if (kept && Date.now() - kept.at < ttl) return kept.promise;
  const promise = fn();
  memos.set(key, { at: Date.now(), promise });
  promise.catch(() => memos.delete(key));
  return promise;
}

/** Forgets what was kept for keys starting with `prefix` (after an action on a ticket). */
export function forget(prefix) {
  for (const key of [...memos.keys()]) if (key.startsWith(prefix)) memos.delete(key);
}

/** A ticket as staff see it, kept for a while. */
export const ticketDetails = (id, ttl = 30000) => memo(`ticket:${id}`, ttl, () => api(`/api/tickets/${id}`));

/** A ticket's clocks, kept for a while. */
export const ticketClocks = (id, ttl = 30000) => memo(`clocks:${id}`, ttl, () => api(`/api/tickets/${id}/clocks`));

/** A ticket's timeline, kept for a while. */
export const ticketTimeline = (id, ttl = 30000) => memo(`timeline:${id}`, ttl, () => api(`/api/tickets/${id}/timeline`));

/** Forgets everything kept about a ticket. */
export function forgetTicket(id) {
  for (const kind of ["ticket", "clocks", "timeline"]) forget(`${kind}:${id}`);
}

const seen = new Map();

/**
 * Forgets what was kept about ticket `id` when `signature` (what the queue says of it)
 * differs from the last time: the queue changed, so its details did too.
 */
export function noteChange(id, signature) {
  const key = String(id);
  if (seen.has(key) && seen.get(key) !== signature) forgetTicket(key);
  seen.set(key, signature);
}

/** The running clock called `name` (for `department` if it has its own), from `/clocks`. */
export function findClock(clocks, name, department = null) {
  const list = (clocks?.clocks || []).filter((c) => c.clock.clock === name && c.status !== "met" && !c.clock.stopped_at);
  return list.find((c) => c.clock.department === department) || list.find((c) => !c.clock.department) || null;
}

// ---------------------------------------------------------------- the queue

/**
 * The queue table: `data-testid=queue` around a `table.stack`, or the `empty` note.
 * `columns` are string keys of the header; `draw(rows)` puts the `tr`s in.
 */
export function queueView({ columns, emptyKey }) {
  const body = el("tbody");
  const table = el("table", { class: "stack queue" }, el("thead", {}, el("tr", {}, columns.map((key) => el("th", {}, t(key))))), body);
  const empty = el("p", { class: "notice", "data-testid": "empty" }, t(emptyKey));
  const problem = el("p", { class: "notice error", hidden: true, "data-testid": "queue-problem" });
  const loading = el("p", { class: "muted" }, t("loading"));
  const node = el("div", { class: "queue-box", "data-testid": "queue" }, problem, loading);
  return {
    node,
    draw(rows) {
      problem.hidden = true;
      fill(body, rows);
      fill(node, problem, rows.length ? table : empty);
    },
    /** Says what went wrong above what is shown (the last good queue stays). */
    fail(error) {
      problem.hidden = false;
      problem.textContent = t("work.load_failed", { detail: problemText(error) });
      loading.remove();
    },
  };
}

/**
 * Follows a queue: loads `path`, then redraws on every message of `path + "/live"`.
 * `build(entries)` (async) turns the queue into rows; a later message wins over an
 * earlier one still being built. Returns `{ badge, refresh }`: `refresh()` loads the
 * queue again (after an action) and resolves to its entries.
 */
export function followQueue({ path, view, build }) {
  const badge = liveBadge();
  let generation = 0;
  let latest = [];

  async function show(entries) {
    const mine = ++generation;
    latest = entries;
    try {
      const rows = await build(entries);
      if (mine === generation) view.draw(rows);
    } catch (error) {
      if (mine === generation) view.fail(error);
    }
  }

  // How many times the live stream has sent the queue. A read that crossed a message of
  // the stream may be older than it, so it is not shown: were it newer, the stream sends
  // it within a second anyway, since it differs from what the stream last sent.
  let sent = 0;

  async function refresh() {
    const before = sent;
    try {
      const entries = (await api(path)) || [];
      if (sent !== before) return latest;
      await show(entries);
      return entries;
    } catch (error) {
      view.fail(error);
      return latest;
    }
  }

  stream(
    `${path}/live`,
    (message) => {
      if (message.event === "queue" && Array.isArray(message.data)) {
        sent += 1;
        show(message.data);
      }
    },
    (on) => badge.set(on),
  );
  refresh();
  return { badge, refresh, redraw: () => show(latest), entries: () => latest };
}

/**
 * Opens a work console: the frame for `roles`, then the queue of the signed-in person's
 * own community, street or department (`queuePath(code)`), followed live and drawn by
 * `build`, under the heading `<prefix>.title` and the line `<prefix>.intro`. An account
 * with no such scope reads `<prefix>.no_scope`, and the promise never resolves. Resolves
 * to `{ principal, code, tree, queue }`; `build` runs only after it has. The heading's
 * refresh button calls `onRefresh`, or reads the queue again.
 */
export async function openConsole({ prefix, roles, columns, queuePath, build, onRefresh = null }) {
  const main = document.getElementById("main");
  const principal = await frame({ title: `${prefix}.title`, roles });
  const code = scopeCode(principal.scope);
  const tree = await jurisdiction();
  if (!code) {
    main.replaceChildren(el("p", { class: "notice error" }, t(`${prefix}.no_scope`)));
    return new Promise(() => {});
  }
  const view = queueView({ columns, emptyKey: `${prefix}.empty` });
  // The page's own names (its code, the tree) exist only once this has resolved and the
  // page has gone on: its rows are built after that.
  let open = null;
  const ready = new Promise((resolve) => (open = resolve));
  const queue = followQueue({ path: queuePath(code), view, build: async (entries) => (await ready, build(entries)) });
  main.replaceChildren(
    heading(`${prefix}.title`, principal.scope_name || tree.name(code), queue.badge, () => (onRefresh ? onRefresh() : queue.refresh())),
    el("p", { class: "muted" }, t(`${prefix}.intro`)),
    view.node,
  );
  setTimeout(open);
  return { principal, code, tree, queue };
}

/** The page's heading with the live badge and a refresh button beside it. */
export function heading(titleKey, scopeName, badge, refresh) {
  return el(
    "div",
    { class: "toolbar work-head" },
    el("h1", {}, t(titleKey), scopeName ? el("small", { class: "muted" }, " · ", scopeName) : null),
    badge,
    el("button", { type: "button", class: "link", onclick: refresh }, t("work.refresh")),
  );
}

// ---------------------------------------------------------------- the dialog

let fieldCount = 0;

/** A field's box: its label, the input, and a hint below. */
function labelled(label, input, hint) {
  input.id = `work-field-${++fieldCount}`;
  return el("div", { class: "field" }, el("label", { for: input.id }, label), input, hint ? el("div", { class: "hint" }, hint) : null);
}

/** A text field: `multiline` for a textarea. */
export function textField({ name, label, testid, value = "", required = true, multiline = true, hint, placeholder }) {
  const input = multiline
    ? el("textarea", { name, "data-testid": testid || name, rows: 3, placeholder, maxlength: 2000 })
    : el("input", { type: "text", name, "data-testid": testid || name, placeholder });
  input.value = value;
  return {
    node: labelled(label, input, hint),
    name,
    input,
    value: () => input.value.trim(),
    invalid: () => (required && !input.value.trim() ? t("work.required", { label }) : null),
  };
}

/** A checkbox. */
export function checkField({ name, label, testid, checked = false }) {
  const input = el("input", { type: "checkbox", name, "data-testid": testid || name });
  input.checked = checked;
  return {
    node: el("div", { class: "field" }, el("label", { class: "check" }, input, " ", label)),
    name,
    input,
    value: () => input.checked,
    invalid: () => null,
  };
}

/** A local date and time, given back as an RFC 3339 instant. */
export function dateTimeField({ name, label, testid, value, hint }) {
  const two = (n) => String(n).padStart(2, "0");
  const local = (d) => `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}T${two(d.getHours())}:${two(d.getMinutes())}`;
  const input = el("input", { type: "datetime-local", name, "data-testid": testid || name });
  if (value) input.value = local(new Date(value));
  return {
    node: labelled(label, input, hint),
    name,
    input,
    value: () => (input.value ? new Date(input.value).toISOString() : ""),
    invalid: () => (input.value && !Number.isNaN(new Date(input.value).getTime()) ? null : t("work.required", { label })),
  };
}

/**
 * Asks before an action: a modal dialog with `fields` (from the field makers above, or
 * any `{ node, name, value(), invalid() }`) and a `confirm` button. On confirm,
 * `run(values)` is called (through `act()`, so a failure shows the API's detail); the
 * dialog closes when it succeeds and stays open, with the detail inside, when it fails.
 * Resolves to `run`'s result, or `undefined` when cancelled.
 */
export function ask({ title, intro, fields = [], confirmKey = "work.confirm", danger = false, run, done }) {
  return new Promise((resolve) => {
    const problem = el("p", { class: "notice error", hidden: true, "data-testid": "dialog-problem" });
    const confirm = el("button", { type: "submit", class: danger ? "danger" : "primary", "data-testid": "confirm" }, t(confirmKey));
    const cancel = el("button", { type: "button", "data-testid": "cancel", onclick: () => finish(undefined) }, t("work.cancel"));
    const form = el(
      "form",
      { novalidate: true, onsubmit: submit },
      el("h2", {}, title),
      intro ? (intro instanceof Node ? intro : el("p", { class: "muted" }, intro)) : null,
      fields.map((f) => f.node),
      problem,
      el("div", { class: "actions" }, confirm, cancel),
    );
    const dialog = el("dialog", { class: "work-dialog", "data-testid": "dialog" }, form);
    dialog.addEventListener("cancel", (event) => {
      event.preventDefault();
      finish(undefined);
    });
    document.body.append(dialog);
    dialog.showModal();
    const first = fields.find((f) => f.input && f.input.type !== "checkbox");
    if (first) first.input.focus();

    let settled = false;
    function finish(result) {
      if (settled) return;
      settled = true;
      dialog.close();
      dialog.remove();
      resolve(result);
    }

    async function submit(event) {
      event.preventDefault();
      const wrong = fields.map((f) => f.invalid()).find(Boolean);
      if (wrong) return say(wrong);
      problem.hidden = true;
      const values = Object.fromEntries(fields.filter((f) => f.name).map((f) => [f.name, f.value()]));
      let failure = null;
      cancel.disabled = true;
      const result = await act(
        confirm,
        async () => {
          try {
            return { value: await run(values) };
          } catch (error) {
            failure = error;
            throw error;
          }
        },
        done,
      );
      cancel.disabled = false;
      if (result) finish(result.value ?? true);
      else say(t("error.generic", { detail: problemText(failure) }));
    }

    function say(text) {
      problem.textContent = text;
      problem.hidden = false;
    }
  });
}
