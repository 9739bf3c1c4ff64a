// Shared by every page: the API client, sign-in, live streams, countdowns, the language
// switch, a small DOM builder, and the names of the API's codes (stage, clock, category,
// urgency, channel) with small helpers for tickets and places. Pages are ES modules;
// nothing here touches innerHTML, so text from the API can never become markup.

const TOKEN_KEY = "whistle.token";
const LANG_KEY = "whistle.lang";

// ---------------------------------------------------------------- language

const strings = { zh: {}, en: {} };

/** Adds a page's strings: `{ zh: { key: "…" }, en: { key: "…" } }`. */
export function addStrings(more) {
  for (const lang of Object.keys(strings)) Object.assign(strings[lang], more[lang] || {});
}

/** The current language: `zh` (default) or `en`. */
export function lang() {
  const chosen = localStorage.getItem(LANG_KEY);
  return chosen === "en" ? "en" : "zh";
}

/** Switches the language and redraws the page. */
export function setLang(next) {
  localStorage.setItem(LANG_KEY, next === "en" ? "en" : "zh");
  location.reload();
}

/** The string for `key` in the current language, `{name}` replaced from `vars`. */
export function t(key, vars = {}) {
  const text = strings[lang()][key] ?? strings.zh[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in vars ? String(vars[name]) : `{${name}}`));
}

/** Fills every `[data-i18n]` element under `root` with its string. */
export function translate(root = document) {
  document.documentElement.lang = lang() === "zh" ? "zh-CN" : "en";
  for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const node of root.querySelectorAll("[data-i18n-placeholder]"))
    node.placeholder = t(node.dataset.i18nPlaceholder);
  for (const node of root.querySelectorAll("[data-i18n-title]")) node.title = t(node.dataset.i18nTitle);
}

addStrings({
  zh: {
    app: "街道吹哨、部门报到",
    "nav.home": "首页",
    "nav.report": "我要投诉",
    "nav.track": "查询进度",
    "nav.community": "社区",
    "nav.street": "街道",
    "nav.liaison": "部门报到",
    "nav.supervisor": "督办看板",
    "sign.in": "登录",
    "sign.out": "退出",
    "sign.as": "{subject}（{role} · {scope}）",
    "sign.required": "请先登录",
    "sign.wrong_role": "此页面需要以下角色之一：{roles}。当前角色：{role}。",
    "role.operator": "热线话务员",
    "role.grid_worker": "网格员",
    "role.community": "社区工作者",
    "role.street": "街道调度员",
    "role.liaison": "部门联络员",
    "role.supervisor": "督办人员",
    "role.integration": "外部系统",
    "live.on": "实时",
    "live.off": "连接中断，正在重连…",
    "due.left": "剩余 {time}",
    "due.over": "超时 {time}",
    "due.paused": "已暂停",
    "loading": "加载中…",
    "empty": "暂无",
    "retry": "重试",
    "error.network": "无法连接服务器，请检查网络后重试。",
    "error.generic": "操作失败：{detail}",
    "lang.other": "English",
    "stage.received": "待受理",
    "stage.acknowledged": "已受理",
    "stage.handled_locally": "社区办理",
    "stage.handling_locally": "社区办理",
    "stage.called_up": "已上报街道",
    "stage.whistled": "已吹哨",
    "stage.reopened": "重办",
    "stage.resolved": "已办结",
    "stage.closed": "已关闭",
    "stage.merged": "已合并",
    "clock.acknowledge": "受理",
    "clock.report_in": "报到",
    "clock.completion": "办结",
  },
  en: {
    app: "The street blows the whistle, the departments report in",
    "nav.home": "Home",
    "nav.report": "Report a problem",
    "nav.track": "Track a complaint",
    "nav.community": "Community",
    "nav.street": "Street",
    "nav.liaison": "Report-in",
    "nav.supervisor": "Supervision",
    "sign.in": "Sign in",
    "sign.out": "Sign out",
    "sign.as": "{subject} ({role} · {scope})",
    "sign.required": "Please sign in first",
    "sign.wrong_role": "This page is for: {roles}. You are signed in as: {role}.",
    "role.operator": "Hotline operator",
    "role.grid_worker": "Grid worker",
    "role.community": "Community worker",
    "role.street": "Street dispatcher",
    "role.liaison": "Department liaison",
    "role.supervisor": "Supervisor",
    "role.integration": "Integration",
    "live.on": "Live",
    "live.off": "Disconnected, reconnecting…",
    "due.left": "{time} left",
    "due.over": "{time} over",
    "due.paused": "Paused",
    "loading": "Loading…",
    "empty": "None",
    "retry": "Retry",
    "error.network": "The server cannot be reached; check the network and try again.",
    "error.generic": "That did not work: {detail}",
    "lang.other": "中文",
    "stage.received": "Received",
    "stage.acknowledged": "Acknowledged",
    "stage.handled_locally": "Handled locally",
    "stage.handling_locally": "Handled locally",
    "stage.called_up": "Called up",
    "stage.whistled": "Whistled",
    "stage.reopened": "Reopened",
    "stage.resolved": "Resolved",
    "stage.closed": "Closed",
    "stage.merged": "Merged",
    "clock.acknowledge": "Acknowledge",
    "clock.report_in": "Report-in",
    "clock.completion": "Completion",
  },
});

// ---------------------------------------------------------------- shared vocabulary
// The names of the API's codes that every page shows: category, urgency, channel (and
// yes/no). One copy here; pages call `categoryName(code)` and the like.

/** The categories the API accepts, in its order (`GET /open311/v2/services.json`). */
export const CATEGORIES = [
  "water_power_pipes", "gas", "heating", "drains", "sanitation", "street_lighting",
  "public_security", "property_management", "parking", "noise", "building_safety", "other",
];

/** The urgency tiers, lowest first: 小事简议、大事细议、要事议妥、急事议决. */
export const URGENCIES = ["minor", "major", "important", "urgent"];

/** How a complaint reached us. */
export const CHANNELS = ["hotline", "walk_in", "grid_worker", "online", "external_system"];

addStrings({
  zh: {
    "category.water_power_pipes": "水电管网",
    "category.gas": "燃气",
    "category.heating": "供暖",
    "category.drains": "下水道",
    "category.sanitation": "环境卫生",
    "category.street_lighting": "背街小巷路灯",
    "category.public_security": "社会治安",
    "category.property_management": "物业管理",
    "category.parking": "车辆停放",
    "category.noise": "噪音扰民",
    "category.building_safety": "房屋安全",
    "category.other": "其他",
    "urgency.minor": "小事",
    "urgency.major": "大事",
    "urgency.important": "要事",
    "urgency.urgent": "急事",
    "channel.hotline": "12345热线",
    "channel.walk_in": "窗口受理",
    "channel.grid_worker": "网格员上报",
    "channel.online": "网上投诉",
    "channel.external_system": "外部系统",
    yes: "是",
    no: "否",
  },
  en: {
    "category.water_power_pipes": "Water, power and pipes",
    "category.gas": "Gas",
    "category.heating": "Heating",
    "category.drains": "Drains and flooding",
    "category.sanitation": "Sanitation and rubbish",
    "category.street_lighting": "Street lighting",
    "category.public_security": "Public security",
    "category.property_management": "Property management",
    "category.parking": "Parking",
    "category.noise": "Noise",
    "category.building_safety": "Building safety",
    "category.other": "Other",
    "urgency.minor": "Minor",
    "urgency.major": "Major",
    "urgency.important": "Important",
    "urgency.urgent": "Urgent",
    "channel.hotline": "12345 hotline",
    "channel.walk_in": "Walk-in counter",
    "channel.grid_worker": "Grid worker",
    "channel.online": "Online",
    "channel.external_system": "Another system",
    yes: "Yes",
    no: "No",
  },
});

/**
 * The string `prefix.code` (`named("stage", "whistled")` → 已吹哨), or the code itself when
 * there is none; `""` when there is no code.
 */
export function named(prefix, code) {
  if (code === null || code === undefined || code === "") return "";
  const key = `${prefix}.${code}`;
  const text = t(key);
  return text === key ? String(code) : text;
}

/** The category's name (`drains` → 下水道), or the code. */
export const categoryName = (code) => named("category", code);

/** The urgency's name (`urgent` → 急事), or the code. */
export const urgencyName = (code) => named("urgency", code);

/** The channel's name (`hotline` → 12345热线), or the code. */
export const channelName = (code) => named("channel", code);

/** 是 or 否. */
export const yesNo = (value) => t(value ? "yes" : "no");

/** A ticket's short id: the first 8 characters of its UUID. */
export const shortId = (ticket) => String(ticket ?? "").slice(0, 8);

/** The staff page of a ticket. */
export const ticketHref = (ticket) => `/console/ticket?id=${encodeURIComponent(ticket)}`;

/**
 * Where, as text: "文化路街道 红旗里社区 · 红旗里小区 3号楼" (the administrative areas named
 * from the jurisdiction `tree`, then the grid and the resident's words). `district` and
 * `grid` add those; `street: false` leaves the street out.
 */
export function placeText(location, tree, { district = false, street = true, grid = false } = {}) {
  const loc = location || {};
  const area = [district && loc.district, street && loc.street, loc.community]
    .filter(Boolean)
    .map((code) => tree.name(code))
    .join(" ");
  return [area, grid ? loc.grid : null, loc.place].filter(Boolean).join(" · ");
}

// ---------------------------------------------------------------- DOM

/**
 * Builds an element: `el("button", { class: "primary", onclick: f, dataset: { id } }, "text", child)`.
 * Strings become text nodes; `null`, `undefined` and `false` children are skipped.
 */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") node.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (name === "class") node.className = value;
    else if (value === true) node.setAttribute(name, "");
    else node.setAttribute(name, String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces the children of `node`. */
export function fill(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

/** A short message at the bottom of the screen; `kind` is `ok` or `error`. */
export function toast(message, kind = "ok") {
  let box = document.getElementById("toasts");
  if (!box) {
    box = el("div", { id: "toasts", role: "status", "aria-live": "polite" });
    document.body.append(box);
  }
  const note = el("div", { class: `toast ${kind}` }, message);
  box.append(note);
  setTimeout(() => note.remove(), kind === "error" ? 8000 : 4000);
}

// ---------------------------------------------------------------- API

/** An answer of the API that is not a success: its problem document. */
export class ApiProblem extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.code = problem.code || "";
    this.title = problem.title || "";
    this.detail = problem.detail || "";
    this.problem = problem;
  }
}

/** The signed-in token, if any. */
export function token() {
  return localStorage.getItem(TOKEN_KEY);
}

function headers(extra = {}) {
  const all = { Accept: "application/json", ...extra };
  const current = token();
  if (current) all.Authorization = `Bearer ${current}`;
  return all;
}

/**
 * Calls the API: `api("/api/tickets", { query: { page: 2 } })`,
 * `api(path, { method: "POST", body: {...} })`. Resolves to the JSON answer (or `null`);
 * rejects with an `ApiProblem`, or a `TypeError` when the server cannot be reached.
 */
export async function api(path, { method = "GET", body, query, signal } = {}) {
  const url = new URL(path, location.origin);
  for (const [name, value] of Object.entries(query || {}))
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
  const init = { method, headers: headers(), signal };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  const response = await fetch(url, init);
  const text = await response.text();
  let json = null;
  if (text) {
    try {
      json = JSON.parse(text);
    } catch {
      json = { detail: text };
    }
  }
  if (!response.ok) {
    if (response.status === 401) signedOut();
    throw new ApiProblem(response.status, json || {});
  }
  return json;
}

// The API explains every refusal in English (`detail`); a Chinese page says the same in
// Chinese for the refusals people meet at work, keyed by the problem's stable `code`.
const PROBLEMS_ZH = {
  ticket_not_found: "找不到该工单，或它不在您的管辖范围内。",
  out_of_scope: "这不在您的管辖范围内。",
  role_not_permitted: "您的角色不能进行此操作。",
  missing_credentials: "请先登录。",
  invalid_token: "登录已失效，请重新登录。",
  token_expired: "登录已过期，请重新登录。",
  already_claimed: "该派单已被 {holder} 报到。",
  not_holder: "该派单由 {holder} 负责，只有报到人可以操作。",
  not_claimed: "请先报到，再反馈进展或结果。",
  already_acknowledged: "该工单已受理。",
  not_acknowledged: "请先受理该工单。",
  wrong_stage: "工单当前所处环节不能进行此操作，请刷新后查看。",
  ticket_closed: "工单已关闭。",
  ticket_merged: "该工单已合并到另一张工单。",
  ticket_busy: "工单正被他人同时处理，请刷新后重试。",
  no_departments: "请至少选择一个部门。",
  duplicate_department: "同一部门不能重复选择。",
  already_summoned: "该部门已在召集之列。",
  lead_not_summoned: "牵头部门必须是被召集的部门之一。",
  not_summoned: "该部门未被召集。",
  summons_declined: "该部门已退单。",
  already_finished: "该部门已反馈结果。",
  extension_pending: "已有延期申请在等待街道审批。",
  no_extension_pending: "没有待审批的延期申请。",
  extension_not_in_future: "延期时间必须晚于当前时限。",
  departments_outstanding: "还有部门未反馈结果，暂不能办结。",
  summons_open: "还有未完成的派单。",
  self_merge: "不能把工单合并到它自己。",
  already_supervised: "本轮已在督办中。",
  no_suggestion: "路由目录没有建议部门，请手动选择。",
  not_resolved: "工单办结后才能评价。",
  feedback_recorded: "这次办结已经评价过了。",
  rate_limited: "提交过于频繁，请稍后再试，或拨打 12345 热线。",
  invalid_phone: "联系电话不正确，请填写手机号或带区号的固定电话，也可不填。",
  unknown_location: "地点不在辖区目录中，请重新选择。",
  invalid_text: "内容含有无法识别的字符，或过长，请修改后再提交。",
  unavailable: "系统暂时无法连接数据库或消息服务，未做任何更改，请稍后重试。",
  outcome_unknown: "操作已发出但未确认，请先查看工单经过，再决定是否重试。",
  internal: "系统出错，已记录，请稍后重试。",
};

/** What to tell the user about a failed call: in Chinese when the page is. */
export function problemText(error) {
  if (!(error instanceof ApiProblem)) return t("error.network");
  const zh = lang() === "zh" && PROBLEMS_ZH[error.code];
  if (zh) return zh.replace("{holder}", error.problem.holder || "");
  return error.detail || error.title || `HTTP ${error.status}`;
}

/**
 * Runs `action` (an async function) for a button: disables it meanwhile, shows a toast on
 * success (`done`, if given) or the problem's detail on failure. Resolves to the result,
 * or `undefined` on failure.
 */
export async function act(button, action, done) {
  if (button) button.disabled = true;
  try {
    const result = await action();
    if (done) toast(done, "ok");
    return result;
  } catch (error) {
    toast(t("error.generic", { detail: problemText(error) }), "error");
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}

// ---------------------------------------------------------------- live streams

/**
 * Follows a server-sent event stream of the API with the caller's token (EventSource
 * cannot send one): `onEvent({ event, data, id })`, with `data` parsed as JSON when it is.
 * Reconnects after a drop, with a growing pause, and reports `onState(true|false)`.
 * Returns a function that stops it.
 */
export function stream(path, onEvent, onState = () => {}) {
  const stop = new AbortController();
  let pause = 500;
  (async () => {
    while (!stop.signal.aborted) {
      try {
        const response = await fetch(new URL(path, location.origin), {
          headers: headers({ Accept: "text/event-stream" }),
          signal: stop.signal,
        });
        if (response.status === 401) {
          signedOut();
          onState(false);
          return;
        }
        if (response.status === 403) {
          // Not this caller's to follow: asking again will not change that.
          onState(false);
          return;
        }
        if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
        onState(true);
        pause = 500;
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value.replace(/\r\n?/g, "\n");
          let end;
          while ((end = buffer.indexOf("\n\n")) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const message = { event: "message", data: "", id: null };
            const data = [];
            for (const line of block.split("\n")) {
              if (!line || line.startsWith(":")) continue;
              const colon = line.indexOf(":");
              const field = colon < 0 ? line : line.slice(0, colon);
              const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
              if (field === "event") message.event = text;
              else if (field === "data") data.push(text);
              else if (field === "id") message.id = text;
            }
            if (!data.length) continue;
            message.data = data.join("\n");
            try {
              message.data = JSON.parse(message.data);
            } catch {
              // Not JSON: the text as sent.
            }
            onEvent(message);
          }
        }
      } catch (error) {
        if (stop.signal.aborted) return;
      }
      onState(false);
      await new Promise((resolve) => setTimeout(resolve, pause));
      pause = Math.min(pause * 2, 15000);
    }
  })();
  return () => stop.abort();
}

/** A small "live" badge that follows a stream's state. */
export function liveBadge() {
  const badge = el("span", { class: "live off", "data-testid": "live" }, t("live.off"));
  badge.set = (on) => {
    badge.className = on ? "live on" : "live off";
    badge.textContent = on ? t("live.on") : t("live.off");
  };
  return badge;
}

// ---------------------------------------------------------------- time

/** A duration in seconds as `1:05:09`, `4:32` or `2天3时`. */
export function duration(seconds) {
  const s = Math.max(0, Math.floor(Math.abs(seconds)));
  const days = Math.floor(s / 86400);
  const hours = Math.floor((s % 86400) / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  const two = (n) => String(n).padStart(2, "0");
  if (days > 0) return lang() === "zh" ? `${days}天${hours}时` : `${days}d ${hours}h`;
  if (hours > 0) return `${hours}:${two(minutes)}:${two(rest)}`;
  return `${minutes}:${two(rest)}`;
}

/** An instant in the reader's local time: `2026-03-11 08:05`. */
export function when(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  const two = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}`;
}

/**
 * A running countdown to `due` (an RFC 3339 instant): "剩余 4:32", then "超时 0:12".
 * It turns `warn` in its last `warnSeconds` and `late` once due. Every countdown on the
 * page ticks together, once a second. `paused: true` shows it stopped.
 */
export function countdown(due, { warnSeconds = 300, paused = false } = {}) {
  const node = el("span", { class: "countdown", "data-due": due, "data-warn": warnSeconds });
  if (paused) {
    node.classList.add("paused");
    node.textContent = t("due.paused");
    return node;
  }
  tick(node, Date.now());
  return node;
}

function tick(node, now) {
  const left = (new Date(node.dataset.due).getTime() - now) / 1000;
  const late = left < 0;
  node.textContent = late ? t("due.over", { time: duration(-left) }) : t("due.left", { time: duration(left) });
  node.classList.toggle("late", late);
  node.classList.toggle("warn", !late && left <= Number(node.dataset.warn));
}

setInterval(() => {
  const now = Date.now();
  for (const node of document.querySelectorAll(".countdown[data-due]:not(.paused)")) tick(node, now);
}, 1000);

// ---------------------------------------------------------------- who is signed in

let me = null;

/** The signed-in principal (`{ subject, role, scope, scope_name }`), or `null`. */
export async function whoAmI() {
  if (me || !token()) return me;
  try {
    me = await api("/api/me");
  } catch {
    me = null;
  }
  return me;
}

/** Keeps `token` for the API calls of every page. */
export function signIn(newToken) {
  localStorage.setItem(TOKEN_KEY, newToken.trim());
  me = null;
}

/** Forgets the token and goes to the home page. */
export function signOut() {
  localStorage.removeItem(TOKEN_KEY);
  me = null;
  location.href = "/";
}

/** Whether this page is for signed-in staff only (set by `frame({ roles })`). */
let staffOnly = false;

/**
 * The token expired or was revoked: forget it, and on a staff page go to sign-in and
 * come back. Public pages (the form, the status page) carry on without it.
 */
function signedOut() {
  if (!token()) return;
  localStorage.removeItem(TOKEN_KEY);
  me = null;
  if (staffOnly) goToSignIn();
}

/** To sign-in, then back to this page. Never with the fragment: a tracking code lives there. */
function goToSignIn() {
  if (location.pathname === "/sign-in") return;
  const next = location.pathname + location.search;
  location.href = `/sign-in?next=${encodeURIComponent(next)}`;
}

/** The part of a scope after `kind:` (`department:zhujian` → `zhujian`). */
export function scopeCode(scope) {
  const colon = String(scope || "").indexOf(":");
  return colon < 0 ? "" : scope.slice(colon + 1);
}

// ---------------------------------------------------------------- the jurisdiction tree

let tree = null;

/** `/api/jurisdiction`, once per page, with `name(code)` for any code in it. */
export async function jurisdiction() {
  if (!tree) {
    const data = await api("/api/jurisdiction");
    const names = new Map();
    for (const list of [data.districts, data.streets, data.communities, data.departments])
      for (const place of list) names.set(place.code, place.name);
    tree = { ...data, name: (code) => names.get(code) || code };
  }
  return tree;
}

// ---------------------------------------------------------------- page frame

const NAV = [
  ["/", "nav.home", null],
  ["/report", "nav.report", null],
  ["/track", "nav.track", null],
  ["/console/community", "nav.community", ["community", "grid_worker"]],
  ["/console/street", "nav.street", ["street"]],
  ["/console/liaison", "nav.liaison", ["liaison"]],
  ["/console/supervisor", "nav.supervisor", ["supervisor"]],
];

/**
 * Draws the page's frame (title bar, navigation, language switch, who is signed in) and
 * fills the `[data-i18n]` texts. With `roles`, the page is for signed-in staff of those
 * roles: anyone else is sent to sign in, or told which role the page is for (and the
 * promise never resolves, so the page draws nothing more). Resolves to the principal.
 */
export async function frame({ title, roles = null } = {}) {
  const principal = await whoAmI();
  const bar = el(
    "header",
    { class: "bar" },
    el("a", { class: "brand", href: "/" }, "whistle", el("small", {}, t("app"))),
    el(
      "nav",
      {},
      NAV.filter(([, , allowed]) => !allowed || (principal && allowed.includes(principal.role))).map(([href, key]) =>
        el("a", { href, class: location.pathname === href ? "here" : null }, t(key)),
      ),
    ),
    el(
      "div",
      { class: "who" },
      el("button", { class: "link", "data-testid": "lang", onclick: () => setLang(lang() === "zh" ? "en" : "zh") }, t("lang.other")),
      principal
        ? [
            el(
              "span",
              { "data-testid": "signed-in-as" },
              t("sign.as", {
                subject: principal.subject,
                role: t(`role.${principal.role}`),
                scope: principal.scope_name || principal.scope,
              }),
            ),
            el("button", { class: "link", onclick: signOut }, t("sign.out")),
          ]
        : el("a", { href: `/sign-in?next=${encodeURIComponent(location.pathname + location.search)}` }, t("sign.in")),
    ),
  );
  document.body.prepend(bar);
  if (title) document.title = `${t(title)} · whistle`;
  translate();
  if (roles) {
    staffOnly = true;
    if (!principal) {
      goToSignIn();
      return new Promise(() => {});
    }
    if (!roles.includes(principal.role)) {
      const main = document.querySelector("main") || document.body;
      fill(
        main,
        el(
          "p",
          { class: "notice error", "data-testid": "wrong-role" },
          t("sign.wrong_role", { roles: roles.map((r) => t(`role.${r}`)).join("、"), role: t(`role.${principal.role}`) }),
        ),
      );
      return new Promise(() => {});
    }
  }
  return principal;
}
