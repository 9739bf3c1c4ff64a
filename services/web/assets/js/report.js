// The intake form (/report): a resident, a hotline operator, a grid worker or a community
// worker files a complaint. Category, location from the jurisdiction tree (district →
// street → community, plus the compound and building), urgency, description and contact;
// checked here before it is sent, then `POST /api/complaints`. The answer is a receipt
// with the tracking token and a link to /track#<token> (in the fragment, so the token never
// reaches a server log). Grid and community workers may only file for their own community,
// so it is chosen for them and locked. One column, large controls: grid workers use phones.

import {
  addStrings,
  t,
  lang,
  el,
  fill,
  toast,
  api,
  ApiProblem,
  problemText,
  token,
  frame,
  jurisdiction,
  scopeCode,
  CATEGORIES,
  URGENCIES,
  categoryName,
  channelName,
  ticketHref,
} from "./common.js";

addStrings({
  zh: {
    "report.title": "我要投诉",
    "report.lead": "请说明问题的类别、地点和具体情况。提交后您会得到一个查询码，凭它查询办理进度并评价。",
    "report.staff_lead": "您正以{role}身份代群众登记，渠道记为“{channel}”。",
    "report.locked": "网格员和社区工作者只能登记本社区（{community}）的问题。",
    "report.not_intake": "当前登录的角色（{role}）不能登记投诉。请退出登录后以群众身份提交，或使用热线、网格员、社区账号。",
    "report.section.what": "什么问题",
    "report.section.where": "在哪里",
    "report.section.who": "怎么联系您",
    "report.category": "问题类别",
    "report.category.choose": "请选择问题类别",
    "report.urgency": "紧急程度",
    "report.urgency.hint": "危及生命财产安全的急事请同时拨打 110、119 或 120。",
    // The form's own urgency wording: a resident choosing needs a plain word before the
    // term of art (一般（小事）); everywhere else the short names of common.js (小事) are shown.
    "report.urgency_option.minor": "一般（小事）",
    "report.urgency_option.major": "较大（大事）",
    "report.urgency_option.important": "重要（要事）",
    "report.urgency_option.urgent": "紧急（急事）",
    "report.district": "区（县、市）",
    "report.street": "街道",
    "report.community": "社区",
    "report.choose": "请选择",
    "report.choose_district_first": "请先选择区",
    "report.choose_street_first": "请先选择街道",
    "report.address": "详细地点",
    "report.address.placeholder": "小区、楼号或附近的标志性建筑，如“红旗里小区3号楼”",
    "report.description": "问题描述",
    "report.description.placeholder": "请写明发生了什么、持续多久、影响到谁",
    "report.description.count": "{count}/{max} 字",
    "report.contact_name": "联系人",
    "report.contact_name.placeholder": "如“李女士”",
    "report.contact_phone": "联系电话",
    "report.contact_phone.placeholder": "手机号或带区号的固定电话",
    "report.contact_address": "联系地址",
    "report.contact_address.placeholder": "需要上门时使用（选填）",
    "report.contact.hint": "联系方式选填，仅用于办理人员回访，加密保存，不会公开。",
    "report.optional": "（选填）",
    "report.required": "（必填）",
    "report.submit": "提交投诉",
    "report.sending": "正在提交…",
    "report.error.category": "请选择问题类别",
    "report.error.district": "请选择区",
    "report.error.street": "请选择街道",
    "report.error.community": "请选择社区",
    "report.error.description": "请描述问题",
    "report.error.description_short": "请再多写几个字，说明发生了什么",
    "report.error.too_long": "内容过长，请控制在 {max} 字以内",
    "report.error.phone": "请填写正确的电话号码：11 位手机号，或带区号的固定电话",
    "report.error.fix": "请先改正标出的内容。",
    "report.problem": "提交未成功：{text}",
    "report.problem.rate_limited": "提交过于频繁，请在 {time}后再试；情况紧急请拨打 12345 热线。",
    "report.problem.rate_limited_done": "现在可以重新提交了。",
    "report.problem.unknown_location": "所选社区不在辖区目录中，请重新选择。",
    "report.problem.out_of_scope": "您只能登记本社区的问题。",
    "report.problem.role_not_permitted": "当前登录的角色不能登记投诉。",
    "report.problem.invalid_text": "内容不符合要求，请检查后再提交。",
    "report.problem.invalid_body": "填写的内容无法识别，请检查后再提交。",
    "report.problem.detail": "服务器说明：{detail}",
    "report.receipt.title": "提交成功",
    "report.receipt.lead": "我们已收到您的投诉，社区将尽快受理。请保存下面的查询码，凭它查询进度并对办理结果评价。",
    "report.receipt.staff": "请把查询码告诉群众，便于其查询进度和评价。",
    "report.receipt.token": "查询码",
    "report.receipt.copy": "复制查询码",
    "report.receipt.copied": "已复制查询码",
    "report.receipt.copy_failed": "无法自动复制，请长按查询码手动复制。",
    "report.receipt.track": "查看办理进度",
    "report.receipt.ticket": "打开工单",
    "report.receipt.another": "再登记一件",
    "report.load_failed": "无法加载表单：{detail}",
  },
  en: {
    "report.title": "Report a problem",
    "report.lead": "Tell us what kind of problem it is, where, and what happened. You will get a tracking code to follow it and rate the outcome.",
    "report.staff_lead": "You are recording this for a resident as a {role}; the channel is recorded as “{channel}”.",
    "report.locked": "Grid and community workers file problems of their own community only ({community}).",
    "report.not_intake": "Your role ({role}) cannot file complaints. Sign out to file as a resident, or use a hotline, grid worker or community account.",
    "report.section.what": "What is wrong",
    "report.section.where": "Where",
    "report.section.who": "How to reach you",
    "report.category": "Category",
    "report.category.choose": "Choose a category",
    "report.urgency": "Urgency",
    "report.urgency.hint": "If life or property is in danger, also call 110, 119 or 120.",
    // The form's own urgency wording (see zh above).
    "report.urgency_option.minor": "Routine",
    "report.urgency_option.major": "Significant",
    "report.urgency_option.important": "Important",
    "report.urgency_option.urgent": "Urgent",
    "report.district": "District",
    "report.street": "Street",
    "report.community": "Community",
    "report.choose": "Choose",
    "report.choose_district_first": "Choose a district first",
    "report.choose_street_first": "Choose a street first",
    "report.address": "Exact place",
    "report.address.placeholder": "Compound, building or a landmark nearby",
    "report.description": "What happened",
    "report.description.placeholder": "What is wrong, for how long, and who is affected",
    "report.description.count": "{count}/{max} characters",
    "report.contact_name": "Name",
    "report.contact_name.placeholder": "e.g. Ms Li",
    "report.contact_phone": "Phone",
    "report.contact_phone.placeholder": "Mobile, or landline with area code",
    "report.contact_address": "Address",
    "report.contact_address.placeholder": "In case someone needs to visit (optional)",
    "report.contact.hint": "Contact details are optional, used only to call you back, stored encrypted and never published.",
    "report.optional": " (optional)",
    "report.required": " (required)",
    "report.submit": "Send",
    "report.sending": "Sending…",
    "report.error.category": "Choose a category",
    "report.error.district": "Choose a district",
    "report.error.street": "Choose a street",
    "report.error.community": "Choose a community",
    "report.error.description": "Describe the problem",
    "report.error.description_short": "Please write a few more words about what happened",
    "report.error.too_long": "Too long: at most {max} characters",
    "report.error.phone": "Enter a valid phone number: an 11-digit mobile, or a landline with its area code",
    "report.error.fix": "Please correct the marked fields first.",
    "report.problem": "Not sent: {text}",
    "report.problem.rate_limited": "Too many complaints in a short time: try again in {time}. If it is urgent, call the 12345 hotline.",
    "report.problem.rate_limited_done": "You can send it again now.",
    "report.problem.unknown_location": "That community is not in the jurisdiction list; choose again.",
    "report.problem.out_of_scope": "You can file problems of your own community only.",
    "report.problem.role_not_permitted": "Your role cannot file complaints.",
    "report.problem.invalid_text": "Some text is not acceptable; check it and send again.",
    "report.problem.invalid_body": "Some of the answers were not understood; check them and send again.",
    "report.problem.detail": "The server says: {detail}",
    "report.receipt.title": "Received",
    "report.receipt.lead": "We have your complaint; the community will take it up shortly. Keep the tracking code below to follow it and rate the outcome.",
    "report.receipt.staff": "Give the tracking code to the resident so they can follow and rate it.",
    "report.receipt.token": "Tracking code",
    "report.receipt.copy": "Copy the code",
    "report.receipt.copied": "Tracking code copied",
    "report.receipt.copy_failed": "Could not copy automatically; press and hold the code to copy it.",
    "report.receipt.track": "Follow its progress",
    "report.receipt.ticket": "Open the ticket",
    "report.receipt.another": "File another",
    "report.load_failed": "The form could not be loaded: {detail}",
  },
});

/** Roles that may file complaints while signed in (others get 403 from the API). */
const INTAKE_ROLES = ["operator", "grid_worker", "community"];
/** Roles tied to one community: the location is theirs, locked. */
const COMMUNITY_ROLES = ["grid_worker", "community"];
/** The channel the API records for each intake role (as `channel_of` in the API does). */
const CHANNEL_OF_ROLE = { operator: "hotline", grid_worker: "grid_worker", community: "walk_in" };
const LIMITS = { description: 4000, address: 200, contact: 200 };

const main = document.getElementById("main");
const principal = await frame({ title: "report.title" });
await start();

async function start() {
  fill(main, el("p", { class: "muted" }, t("loading")));
  try {
    const [places, categories] = await Promise.all([jurisdiction(), loadCategories()]);
    drawForm(places, categories);
  } catch (error) {
    fill(
      main,
      el("p", { class: "notice error", role: "alert" }, t("report.load_failed", { detail: problemText(error) })),
      el("button", { type: "button", onclick: start }, t("retry")),
    );
  }
}

/** The service list of the Open311 endpoint: `[{ code, name, hint }]`. */
async function loadCategories() {
  let services = [];
  try {
    services = await api("/open311/v2/services.json");
  } catch {
    // The codes are known: fall back to them with our own names.
  }
  const known = Array.isArray(services) && services.length ? services : CATEGORIES.map((code) => ({ service_code: code }));
  return known.map((s) => {
    const name = categoryName(s.service_code);
    return {
      code: s.service_code,
      name: name === s.service_code && s.service_name ? s.service_name : name,
      hint: lang() === "zh" ? s.description || "" : "",
    };
  });
}

// ---------------------------------------------------------------- the form

/** Draws the empty form. */
function drawForm(places, categories) {
  const errors = new Map();
  const control = {};

  /** A labelled field with a hint and a place for its error. */
  const field = (name, labelKey, input, { required = false, hint = null, extra = null } = {}) => {
    const id = `f-${name}`;
    input.id = id;
    const error = el("p", { class: "field-error", "data-testid": "field-error", id: `${id}-error`, hidden: true });
    errors.set(name, { error, input });
    control[name] = input;
    return el(
      "div",
      { class: "field" },
      el("label", { for: id }, t(labelKey), el("span", { class: "req" }, t(required ? "report.required" : "report.optional"))),
      input,
      hint ? el("p", { class: "hint" }, hint) : null,
      extra,
      error,
    );
  };

  const categorySelect = el(
    "select",
    { name: "category", "data-testid": "category", required: true },
    el("option", { value: "" }, t("report.category.choose")),
    categories.map((c) => el("option", { value: c.code }, c.name)),
  );
  const categoryHint = el("p", { class: "hint", "aria-live": "polite" });
  categorySelect.addEventListener("change", () => {
    const chosen = categories.find((c) => c.code === categorySelect.value);
    categoryHint.textContent = chosen ? chosen.hint : "";
  });

  const urgencySelect = el(
    "select",
    { name: "urgency", "data-testid": "urgency" },
    URGENCIES.map((u) => el("option", { value: u }, t(`report.urgency_option.${u}`))),
  );

  const district = el("select", { name: "district", "data-testid": "district", required: true });
  const street = el("select", { name: "street", "data-testid": "street", required: true });
  const community = el("select", { name: "community", "data-testid": "community", required: true });
  const address = el("input", {
    name: "address", type: "text", "data-testid": "address", maxlength: LIMITS.address,
    placeholder: t("report.address.placeholder"), autocomplete: "off",
  });

  const description = el("textarea", {
    name: "description", "data-testid": "description", required: true, rows: 5,
    maxlength: LIMITS.description, placeholder: t("report.description.placeholder"),
  });
  const counter = el("p", { class: "hint counter" });
  const count = () => {
    counter.textContent = t("report.description.count", { count: description.value.trim().length, max: LIMITS.description });
  };
  description.addEventListener("input", count);
  count();

  const contactName = el("input", {
    name: "contact-name", type: "text", "data-testid": "contact-name", maxlength: LIMITS.contact,
    autocomplete: "name", placeholder: t("report.contact_name.placeholder"),
  });
  const contactPhone = el("input", {
    name: "contact-phone", type: "tel", "data-testid": "contact-phone", maxlength: 20,
    autocomplete: "tel", inputmode: "tel", placeholder: t("report.contact_phone.placeholder"),
  });
  const contactAddress = el("input", {
    name: "contact-address", type: "text", "data-testid": "contact-address", maxlength: LIMITS.contact,
    autocomplete: "street-address", placeholder: t("report.contact_address.placeholder"),
  });

  const lockNote = el("p", { class: "hint", "data-testid": "report-locked", hidden: true });
  const problem = el("div", { class: "form-problem", "data-testid": "form-problem", role: "alert", hidden: true });
  const submit = el("button", { type: "submit", class: "primary submit", "data-testid": "report-submit" }, t("report.submit"));

  const form = el(
    "form",
    { class: "card report", "data-testid": "report-form", novalidate: true },
    el("fieldset", {}, el("legend", {}, t("report.section.what")),
      field("category", "report.category", categorySelect, { required: true, extra: categoryHint }),
      field("urgency", "report.urgency", urgencySelect, { hint: t("report.urgency.hint") }),
      field("description", "report.description", description, { required: true, extra: counter })),
    el("fieldset", {}, el("legend", {}, t("report.section.where")),
      lockNote,
      field("district", "report.district", district, { required: true }),
      field("street", "report.street", street, { required: true }),
      field("community", "report.community", community, { required: true }),
      field("address", "report.address", address)),
    el("fieldset", {}, el("legend", {}, t("report.section.who")),
      el("p", { class: "hint" }, t("report.contact.hint")),
      field("contact-name", "report.contact_name", contactName),
      field("contact-phone", "report.contact_phone", contactPhone),
      field("contact-address", "report.contact_address", contactAddress)),
    problem,
    el("div", { class: "actions" }, submit),
  );

  const location = cascade(places, district, street, community);
  const locked = lockToScope(places, location);
  if (locked) {
    lockNote.textContent = t("report.locked", { community: places.name(locked) });
    lockNote.hidden = false;
  }

  // An error disappears as soon as its field is changed.
  for (const [name, { input }] of errors) {
    const clear = () => showError(errors, name, null);
    input.addEventListener("input", clear);
    input.addEventListener("change", clear);
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    await send({ control, errors, problem, submit });
  });

  fill(main, el("h1", {}, t("report.title")), intro(), form);
}

/** The lines above the form: what to do, and who is filing. */
function intro() {
  const lines = [el("p", { class: "muted" }, t("report.lead"))];
  if (principal && INTAKE_ROLES.includes(principal.role)) {
    lines.push(
      el("p", { class: "notice", "data-testid": "report-staff" },
        t("report.staff_lead", { role: t(`role.${principal.role}`), channel: channelName(CHANNEL_OF_ROLE[principal.role]) })),
    );
  } else if (principal) {
    lines.push(
      el("p", { class: "notice error", "data-testid": "report-not-intake" },
        t("report.not_intake", { role: t(`role.${principal.role}`) })),
    );
  }
  return lines;
}

/** Wires the three location selects: each choice fills the next one. */
function cascade(places, district, street, community) {
  const options = (select, list, placeholderKey) => {
    fill(select, el("option", { value: "" }, t(placeholderKey)), list.map((p) => el("option", { value: p.code }, p.name)));
    select.disabled = list.length === 0;
  };
  const streetsOf = (code) => places.streets.filter((s) => s.parent === code);
  const communitiesOf = (code) => places.communities.filter((c) => c.parent === code);

  const onDistrict = () => {
    options(street, district.value ? streetsOf(district.value) : [], district.value ? "report.choose" : "report.choose_district_first");
    onStreet();
  };
  const onStreet = () => {
    options(community, street.value ? communitiesOf(street.value) : [], street.value ? "report.choose" : "report.choose_street_first");
  };
  options(district, places.districts, "report.choose");
  district.disabled = false;
  onDistrict();
  district.addEventListener("change", onDistrict);
  street.addEventListener("change", onStreet);

  /** Selects a community and the street and district above it. */
  const choose = (communityCode) => {
    const place = places.communities.find((c) => c.code === communityCode);
    const parent = place && places.streets.find((s) => s.code === place.parent);
    if (!place || !parent) return false;
    district.value = parent.parent;
    onDistrict();
    street.value = parent.code;
    onStreet();
    community.value = place.code;
    return true;
  };
  return { district, street, community, choose };
}

/** Grid and community workers: their own community, chosen and locked. Returns its code. */
function lockToScope(places, location) {
  if (!principal || !COMMUNITY_ROLES.includes(principal.role)) return null;
  const code = scopeCode(principal.scope);
  if (!location.choose(code)) return null;
  for (const select of [location.district, location.street, location.community]) {
    select.disabled = true;
    select.classList.add("locked");
  }
  return code;
}

// ---------------------------------------------------------------- checking and sending

/** The form's values, trimmed. */
function valuesOf(control) {
  const value = (name) => control[name].value.trim();
  return {
    category: value("category"),
    urgency: value("urgency"),
    district: value("district"),
    street: value("street"),
    community: value("community"),
    address: value("address"),
    description: value("description"),
    name: value("contact-name"),
    phone: value("contact-phone"),
    contactAddress: value("contact-address"),
  };
}

/** A mainland mobile (11 digits, optional +86) or a landline with its area code and extension. */
function phoneLooksRight(phone) {
  const digits = phone.replace(/[\s()（）-]/g, "");
  return /^(\+?86)?1[3-9]\d{9}$/.test(digits) || /^0\d{2,3}\d{7,8}(#?\d{1,6})?$/.test(digits);
}

/** What is wrong with the values, field by field: `{ field: message }`. */
function check(values) {
  const wrong = {};
  if (!values.category) wrong.category = t("report.error.category");
  // Only the first empty level of the location: the ones below it cannot be chosen yet.
  if (!values.district) wrong.district = t("report.error.district");
  else if (!values.street) wrong.street = t("report.error.street");
  else if (!values.community) wrong.community = t("report.error.community");
  if (!values.description) wrong.description = t("report.error.description");
  else if (values.description.length < 4) wrong.description = t("report.error.description_short");
  else if (values.description.length > LIMITS.description)
    wrong.description = t("report.error.too_long", { max: LIMITS.description });
  if (values.address.length > LIMITS.address) wrong.address = t("report.error.too_long", { max: LIMITS.address });
  if (values.phone && !phoneLooksRight(values.phone)) wrong["contact-phone"] = t("report.error.phone");
  return wrong;
}

function showError(errors, name, message) {
  const entry = errors.get(name);
  if (!entry) return;
  entry.error.textContent = message || "";
  entry.error.hidden = !message;
  entry.input.classList.toggle("invalid", Boolean(message));
  if (message) entry.input.setAttribute("aria-describedby", entry.error.id);
  else entry.input.removeAttribute("aria-describedby");
  if (message) entry.input.setAttribute("aria-invalid", "true");
  else entry.input.removeAttribute("aria-invalid");
}

/** The body of `POST /api/complaints`. */
function bodyOf(values) {
  const contact = {
    name: values.name || null,
    phone: values.phone ? values.phone.replace(/\s/g, "") : null,
    address: values.contactAddress || null,
  };
  const anyContact = contact.name || contact.phone || contact.address;
  return {
    category: values.category,
    community: values.community,
    description: values.description,
    urgency: values.urgency || null,
    place: values.address || null,
    contact: anyContact ? contact : null,
  };
}

async function send({ control, errors, problem, submit }) {
  const values = valuesOf(control);
  const wrong = check(values);
  for (const name of errors.keys()) showError(errors, name, wrong[name]);
  const first = Object.keys(wrong)[0];
  if (first) {
    showProblem(problem, [t("report.error.fix")]);
    control[first].focus();
    return;
  }
  showProblem(problem, null);
  submit.disabled = true;
  submit.textContent = t("report.sending");
  try {
    const receipt = await submitComplaint(bodyOf(values));
    drawReceipt(receipt);
  } catch (error) {
    explain(error, { errors, problem, submit });
  } finally {
    if (!submit.dataset.waiting) submit.disabled = false;
    submit.textContent = t("report.submit");
  }
}

/**
 * `POST /api/complaints`, with the token when signed in. Not `api()`: a 429's
 * `Retry-After` header says when to try again, and `api()` does not pass headers on.
 */
async function submitComplaint(body) {
  const headers = { Accept: "application/json", "Content-Type": "application/json" };
  const current = token();
  if (current) headers.Authorization = `Bearer ${current}`;
  const response = await fetch("/api/complaints", { method: "POST", headers, body: JSON.stringify(body) });
  let json = {};
  try {
    json = await response.json();
  } catch {
    // An empty or non-JSON answer: the status says enough.
  }
  if (!response.ok) {
    const problem = new ApiProblem(response.status, json || {});
    problem.retryAfter = Number(response.headers.get("Retry-After")) || null;
    throw problem;
  }
  return json;
}

/** Shows a failed submission: next to its field when we know which, and above the button. */
function explain(error, { errors, problem, submit }) {
  if (!(error instanceof ApiProblem)) {
    showProblem(problem, [t("report.problem", { text: problemText(error) })]);
    return;
  }
  if (error.code === "rate_limited" || error.status === 429) {
    waitBeforeRetry(error, problem, submit);
    return;
  }
  const field = fieldOf(error);
  const known = t(`report.problem.${error.code}`);
  const text = known === `report.problem.${error.code}` ? problemText(error) : known;
  if (field) showError(errors, field, text);
  showProblem(problem, [
    t("report.problem", { text }),
    text !== error.detail && error.detail ? t("report.problem.detail", { detail: error.detail }) : null,
  ]);
}

/** Which field a problem of the API is about, read from its code or its detail. */
function fieldOf(error) {
  if (error.code === "unknown_location" || error.code === "out_of_scope") return "community";
  if (error.code === "invalid_phone") return "contact-phone";
  const detail = error.detail || "";
  const match = /(?:^|: )(category|urgency|description|place|community|phone|name|address)\b/.exec(detail);
  if (!match) return null;
  return { place: "address", phone: "contact-phone", name: "contact-name", address: "contact-address" }[match[1]] || match[1];
}

/** 429: says when to try again, counting down, and holds the button until then. */
function waitBeforeRetry(error, problem, submit) {
  const until = Date.now() + (error.retryAfter || secondsIn(error.detail) || 30) * 1000;
  submit.dataset.waiting = "1";
  submit.disabled = true;
  const line = el("span", { "data-testid": "retry-after" });
  showProblem(problem, [line]);
  const tickOnce = () => {
    const left = Math.ceil((until - Date.now()) / 1000);
    if (left <= 0) {
      clearInterval(timer);
      delete submit.dataset.waiting;
      submit.disabled = false;
      problem.classList.replace("error", "ok");
      line.textContent = t("report.problem.rate_limited_done");
      return;
    }
    line.textContent = t("report.problem.rate_limited", { time: lang() === "zh" ? `${left} 秒` : `${left} s` });
  };
  const timer = setInterval(tickOnce, 1000);
  tickOnce();
}

/** The seconds in a detail such as "wait 7 s": the fallback when Retry-After is missing. */
function secondsIn(detail) {
  const match = /(\d+)\s*s\b/.exec(detail || "");
  return match ? Number(match[1]) : null;
}

function showProblem(box, lines) {
  const shown = (lines || []).filter(Boolean);
  box.className = "form-problem notice error";
  fill(box, shown.map((line) => el("p", {}, line)));
  box.hidden = shown.length === 0;
}

// ---------------------------------------------------------------- the receipt

function drawReceipt(receipt) {
  const code = receipt.receipt_token;
  const staff = principal && INTAKE_ROLES.includes(principal.role);
  const copy = el("button", { type: "button", class: "copy", "data-testid": "receipt-copy" }, t("report.receipt.copy"));
  copy.addEventListener("click", () => copyText(code));
  const tokenNode = el("code", { class: "token", "data-testid": "receipt-token", tabindex: "0" }, code);
  fill(
    main,
    el("h1", {}, t("report.title")),
    el(
      "section",
      { class: "card receipt", "data-testid": "receipt", role: "status" },
      el("h2", {}, t("report.receipt.title")),
      el("p", {}, t(staff ? "report.receipt.staff" : "report.receipt.lead")),
      el("p", { class: "muted token-label" }, t("report.receipt.token")),
      tokenNode,
      el(
        "div",
        { class: "actions" },
        copy,
        el("a", { class: "button primary", href: `/track#${encodeURIComponent(code)}`, "data-testid": "track-link" }, t("report.receipt.track")),
        // Operators may file but not read tickets (the API answers 404), so only the
        // community's own staff get a link to the ticket.
        principal && COMMUNITY_ROLES.includes(principal.role) && receipt.ticket
          ? el("a", { class: "button", href: ticketHref(receipt.ticket), "data-testid": "ticket-link" }, t("report.receipt.ticket"))
          : null,
        el("button", { type: "button", class: "link", "data-testid": "report-another", onclick: () => start() }, t("report.receipt.another")),
      ),
    ),
  );
  tokenNode.focus();
}

async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    toast(t("report.receipt.copied"), "ok");
  } catch {
    // No clipboard API (a plain-http page on a phone): select the code for a manual copy.
    const node = document.querySelector("[data-testid=receipt-token]");
    const range = document.createRange();
    range.selectNodeContents(node);
    const selection = getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    toast(t("report.receipt.copy_failed"), "error");
  }
}
