// The resident's status page (/track): the tracking code comes from the fragment
// (/track#<code>, so it stays out of server logs) or is typed in. `GET /api/receipts/{code}`
// gives the stage and the steps so far (no staff names), drawn as a short progress bar and a
// timeline; it is fetched again every 10 seconds while the page is open (there is no public
// stream). Once resolved, the resident rates the outcome: `POST /api/receipts/{code}/rating`.

import { addStrings, t, lang, el, fill, api, ApiProblem, problemText, when, frame, categoryName, named, yesNo } from "./common.js";

addStrings({
  zh: {
    "track.title": "查询进度",
    "track.lead": "输入提交投诉时得到的查询码，查看办理进度；办结后可以对结果评价。",
    "track.token": "查询码",
    "track.token.placeholder": "粘贴或输入查询码",
    "track.submit": "查询",
    "track.error.empty": "请输入查询码",
    "track.error.unknown_receipt": "没有找到这个查询码对应的投诉，请检查是否完整复制。",
    "track.error.other": "暂时无法查询：{detail}",
    "track.now": "当前状态",
    "track.category": "问题类别",
    "track.description": "您反映的问题",
    "track.expected_by": "预计办结时间",
    "track.steps": "办理过程",
    "track.updated": "每 10 秒自动更新 · 上次更新 {time}",
    "track.update_failed": "自动更新失败，稍后重试：{detail}",
    "track.progress.received": "已提交",
    "track.progress.acknowledged": "已受理",
    "track.progress.handling": "办理中",
    "track.progress.resolved": "已办结",
    "track.stage.new": "待受理",
    "track.stage.received": "已提交，等待社区受理",
    "track.stage.acknowledged": "社区已受理",
    "track.stage.handling_locally": "社区正在办理",
    "track.stage.called_up": "已上报街道，等待协调",
    "track.stage.whistled": "街道已召集相关部门，正在办理",
    "track.stage.resolved": "已办结，请您评价",
    "track.stage.resolved_rated": "已办结，已评价",
    "track.stage.closed": "已办结",
    "track.stage.merged": "已与同一问题的其他投诉合并办理",
    // Event names as the resident reads them (second person, no staff terms); staff pages
    // name the same events more tersely (ticket.event.* in ticket.js), on purpose.
    "track.step.Received": "投诉已提交",
    "track.step.Acknowledged": "社区已受理并回复",
    "track.step.HandledLocally": "社区开始办理",
    "track.step.CalledUp": "社区已上报街道",
    "track.step.WhistleBlown": "街道吹哨，召集相关部门",
    "track.step.DepartmentReportedIn": "一个部门已报到",
    "track.step.DepartmentDeclined": "一个部门退回，街道重新派单",
    "track.step.ProgressNoted": "部门记录了办理进展",
    "track.step.DepartmentFinished": "一个部门已完成办理",
    "track.step.ExtensionRequested": "部门申请延期",
    "track.step.ExtensionApproved": "办理期限已延长",
    "track.step.ExtensionDenied": "延期申请未获批准",
    "track.step.Resolved": "已办结",
    "track.step.FeedbackRecorded": "已收到您的评价",
    "track.step.Reopened": "重新办理",
    "track.step.Closed": "已结案",
    "track.step.MergedInto": "已与同一问题的其他投诉合并",
    "track.step.MergedFrom": "同一问题的其他投诉已并入",
    "track.step.SupervisionOpened": "已启动督办",
    "track.step.SlaBreached": "办理超时，已督促",
    "track.step.SlaWarned": "时限提醒",
    "track.step.SlaPaused": "办理计时暂停",
    "track.step.SlaResumed": "办理计时恢复",
    "track.step.SourceUpdated": "来源系统更新了情况",
    "track.step.PersonalDataErased": "您的个人信息已删除",
    "track.rate.title": "请对办理结果评价",
    "track.rate.lead": "您的评价会计入对办理单位的考核。每次办结只能评价一次。",
    "track.rate.resolved": "问题已经解决",
    "track.rate.satisfied": "我对办理结果满意",
    "track.rate.score": "评分（选填，1 分最不满意，5 分最满意）",
    "track.rate.comment": "补充说明（选填）",
    "track.rate.comment.placeholder": "还有什么想告诉我们的",
    "track.rate.submit": "提交评价",
    "track.rate.failed": "评价未提交：{detail}",
    "track.rate.feedback_recorded": "这次办结您已经评价过了，每次办结只能评价一次。",
    "track.rate.not_resolved": "投诉还没有办结，办结后才能评价。",
    "track.rate.server": "服务器说明：{detail}",
    "track.rated.title": "感谢您的评价！",
    "track.rated.resolved": "问题是否解决",
    "track.rated.satisfied": "是否满意",
    "track.rated.score": "评分",
    "track.rated.comment": "补充说明",
    "track.score": "{score} 分",
  },
  en: {
    "track.title": "Track a complaint",
    "track.lead": "Enter the tracking code you were given when you filed the complaint to see how it is going; once it is resolved you can rate the outcome.",
    "track.token": "Tracking code",
    "track.token.placeholder": "Paste or type the code",
    "track.submit": "Look up",
    "track.error.empty": "Enter a tracking code",
    "track.error.unknown_receipt": "No complaint has this tracking code; check that you copied all of it.",
    "track.error.other": "It cannot be looked up now: {detail}",
    "track.now": "Where it stands",
    "track.category": "Category",
    "track.description": "What you reported",
    "track.expected_by": "Expected to be done by",
    "track.steps": "What has happened",
    "track.updated": "Updates every 10 seconds · last {time}",
    "track.update_failed": "Could not update; trying again shortly: {detail}",
    "track.progress.received": "Filed",
    "track.progress.acknowledged": "Accepted",
    "track.progress.handling": "In hand",
    "track.progress.resolved": "Resolved",
    "track.stage.new": "Waiting",
    "track.stage.received": "Filed, waiting for the community",
    "track.stage.acknowledged": "Accepted by the community",
    "track.stage.handling_locally": "The community is handling it",
    "track.stage.called_up": "Passed to the street office",
    "track.stage.whistled": "Departments summoned and working on it",
    "track.stage.resolved": "Resolved: please rate it",
    "track.stage.resolved_rated": "Resolved and rated",
    "track.stage.closed": "Done",
    "track.stage.merged": "Handled together with a report of the same problem",
    "track.step.Received": "Complaint filed",
    "track.step.Acknowledged": "The community accepted it and replied",
    "track.step.HandledLocally": "The community took it on",
    "track.step.CalledUp": "The community passed it to the street office",
    "track.step.WhistleBlown": "The street office summoned the departments",
    "track.step.DepartmentReportedIn": "A department reported in",
    "track.step.DepartmentDeclined": "A department sent it back; the street reassigns it",
    "track.step.ProgressNoted": "A department noted progress",
    "track.step.DepartmentFinished": "A department finished its part",
    "track.step.ExtensionRequested": "A department asked for more time",
    "track.step.ExtensionApproved": "The deadline was extended",
    "track.step.ExtensionDenied": "More time was refused",
    "track.step.Resolved": "Resolved",
    "track.step.FeedbackRecorded": "Your rating was received",
    "track.step.Reopened": "Reopened",
    "track.step.Closed": "Closed",
    "track.step.MergedInto": "Merged with a report of the same problem",
    "track.step.MergedFrom": "A report of the same problem was merged into it",
    "track.step.SupervisionOpened": "Supervision opened",
    "track.step.SlaBreached": "Overdue; the office was reminded",
    "track.step.SlaWarned": "Deadline reminder",
    "track.step.SlaPaused": "The clock was paused",
    "track.step.SlaResumed": "The clock runs again",
    "track.step.SourceUpdated": "The reporting system sent an update",
    "track.step.PersonalDataErased": "Your personal data was erased",
    "track.rate.title": "Rate the outcome",
    "track.rate.lead": "Your rating counts in how the offices are judged. Each resolution can be rated once.",
    "track.rate.resolved": "The problem is solved",
    "track.rate.satisfied": "I am satisfied with how it was handled",
    "track.rate.score": "Score (optional; 1 is very dissatisfied, 5 very satisfied)",
    "track.rate.comment": "Anything to add (optional)",
    "track.rate.comment.placeholder": "Anything else you would like to tell us",
    "track.rate.submit": "Send rating",
    "track.rate.failed": "The rating was not sent: {detail}",
    "track.rate.feedback_recorded": "You have already rated this resolution; each one can be rated once.",
    "track.rate.not_resolved": "It is not resolved yet; you can rate it once it is.",
    "track.rate.server": "The server says: {detail}",
    "track.rated.title": "Thank you for your rating!",
    "track.rated.resolved": "Solved",
    "track.rated.satisfied": "Satisfied",
    "track.rated.score": "Score",
    "track.rated.comment": "Comment",
    "track.score": "{score} of 5",
  },
});

const POLL_MS = 10_000;
const PROGRESS = ["received", "acknowledged", "handling", "resolved"];
const PROGRESS_OF = {
  new: 0, received: 0, acknowledged: 1, handling_locally: 2, called_up: 2, whistled: 2, resolved: 3, closed: 3,
};

await frame({ title: "track.title" });

const main = document.getElementById("main");
const input = el("input", {
  type: "text", id: "track-token", "data-testid": "track-token", autocomplete: "off", autocapitalize: "off",
  spellcheck: "false", placeholder: t("track.token.placeholder"),
});
const inputError = el("p", { class: "field-error", "data-testid": "field-error", hidden: true });
const status = el("section", { "data-testid": "track-status", "aria-live": "polite" });
const rating = el("section", { "data-testid": "track-rating" });
const note = el("p", { class: "muted poll-note", "data-testid": "track-updated" });

/** What is shown now: the code, the last answer, a rating sent from this page. */
const state = { code: "", follow: null, rated: null, ratingKey: "", timer: null };

fill(
  main,
  el("h1", {}, t("track.title")),
  el("p", { class: "muted" }, t("track.lead")),
  el(
    "form",
    { class: "card track-form", "data-testid": "track-form", novalidate: true, onsubmit: onLookUp },
    el("label", { for: "track-token" }, t("track.token")),
    el("div", { class: "row" }, input,
      el("button", { type: "submit", class: "primary", "data-testid": "track-submit" }, t("track.submit"))),
    inputError,
  ),
  status,
  rating,
  note,
);

window.addEventListener("hashchange", () => {
  const code = codeFrom(location.hash);
  if (code && code !== state.code) lookUp(code);
});
document.addEventListener("visibilitychange", () => {
  if (!document.hidden && state.code) refresh();
});

const first = codeFrom(location.hash);
if (first) await lookUp(first);
else input.focus();

// ---------------------------------------------------------------- looking up

/** The code in a fragment, or in whatever was pasted (a whole link works too). */
function codeFrom(text) {
  const raw = String(text || "").trim();
  const after = raw.includes("#") ? raw.slice(raw.lastIndexOf("#") + 1) : raw;
  try {
    return decodeURIComponent(after).trim();
  } catch {
    return after;
  }
}

function onLookUp(event) {
  event.preventDefault();
  const code = codeFrom(input.value);
  inputError.hidden = !!code;
  inputError.textContent = code ? "" : t("track.error.empty");
  input.classList.toggle("invalid", !code);
  if (code) lookUp(code);
}

/** Shows the complaint of `code`, and keeps it up to date. */
async function lookUp(code) {
  state.code = code;
  state.follow = null;
  state.rated = null;
  state.ratingKey = "";
  input.value = code;
  // The code lives in the fragment, never the query: it stays out of server logs.
  if (codeFrom(location.hash) !== code) history.replaceState(null, "", `#${encodeURIComponent(code)}`);
  clearInterval(state.timer);
  fill(status, el("p", { class: "muted" }, t("loading")));
  fill(rating);
  note.textContent = "";
  try {
    show(await api(`/api/receipts/${encodeURIComponent(code)}`));
    state.timer = setInterval(refresh, POLL_MS);
  } catch (error) {
    const text = error instanceof ApiProblem && (error.code === "unknown_receipt" || error.status === 404 || error.status === 400)
      ? t("track.error.unknown_receipt")
      : t("track.error.other", { detail: problemText(error) });
    fill(status, el("p", { class: "notice error", role: "alert", "data-testid": "track-error" }, text));
  }
}

/** The 10-second poll: redraws on success, keeps what is shown on failure. */
async function refresh() {
  if (!state.code || document.hidden) return;
  const code = state.code;
  try {
    const follow = await api(`/api/receipts/${encodeURIComponent(code)}`);
    if (code === state.code) show(follow);
  } catch (error) {
    note.textContent = t("track.update_failed", { detail: problemText(error) });
  }
}

function show(follow) {
  state.follow = follow;
  drawStatus(follow);
  drawRating(follow);
  note.textContent = t("track.updated", { time: new Date().toLocaleTimeString(lang() === "zh" ? "zh-CN" : "en-GB") });
}

// ---------------------------------------------------------------- status

function stageName(follow) {
  const rated = follow.stage === "resolved" && !follow.can_rate && Boolean(follow.rating || state.rated);
  const key = `track.stage.${rated ? "resolved_rated" : follow.stage}`;
  const name = t(key);
  if (name !== key) return name;
  return lang() === "zh" && follow.stage_zh ? follow.stage_zh : follow.stage;
}

function drawStatus(follow) {
  const done = ["resolved", "closed", "merged"].includes(follow.stage);
  const steps = follow.steps || [];
  fill(
    status,
    el(
      "div",
      { class: "card" },
      el("p", { class: "muted" }, t("track.now")),
      el("p", { class: `stage-now ${done ? "done" : "open"}`, "data-testid": "track-stage", dataset: { stage: follow.stage } }, stageName(follow)),
      progress(follow.stage),
      el(
        "dl",
        { class: "facts" },
        el("dt", {}, t("track.category")),
        el("dd", { "data-testid": "track-category" }, categoryName(follow.category)),
        el("dt", {}, t("track.description")),
        el("dd", {}, follow.description),
        follow.expected_by && !done ? [el("dt", {}, t("track.expected_by")), el("dd", { "data-testid": "track-expected" }, when(follow.expected_by))] : null,
      ),
    ),
    el(
      "div",
      { class: "card" },
      el("h2", {}, t("track.steps")),
      el(
        "ol",
        { class: "timeline", "data-testid": "track-steps" },
        steps.map((step, i) =>
          el(
            "li",
            { class: i === steps.length - 1 ? "latest" : null, "data-testid": "track-step", dataset: { what: step.what } },
            el("time", { datetime: step.at, title: new Date(step.at).toLocaleString() }, when(step.at)),
            el("span", { class: "what" }, stepName(step.what)),
            step.told ? el("p", { class: "told", "data-testid": "track-told" }, step.told) : null,
          ),
        ),
      ),
    ),
  );
}

function stepName(what) {
  return named("track.step", what);
}

/** Filed → accepted → in hand → resolved, with the current one marked. */
function progress(stage) {
  const at = PROGRESS_OF[stage];
  if (at === undefined) return null;
  return el(
    "ol",
    { class: "progress", "aria-label": t("track.now") },
    PROGRESS.map((step, i) =>
      el(
        "li",
        { class: i < at ? "passed" : i === at ? "current" : null, "aria-current": i === at ? "step" : null },
        t(`track.progress.${step}`),
      ),
    ),
  );
}

// ---------------------------------------------------------------- rating

/**
 * The rating part: the rating the API holds for this resolution, or the form while it can
 * be rated. It is redrawn only when what it should show changes, so the 10-second poll
 * never wipes a form being filled in.
 */
function drawRating(follow) {
  // A rating sent from this page shows until the API has it; once the ticket is reopened
  // and resolved again, the new round can be rated.
  if (follow.can_rate) state.rated = null;
  const given = follow.rating || state.rated;
  const key = given ? `rated:${JSON.stringify(given)}` : follow.can_rate ? "form" : "none";
  if (key === state.ratingKey) return;
  state.ratingKey = key;
  if (given) fill(rating, ratedBox(given));
  else if (follow.can_rate) fill(rating, ratingForm());
  else fill(rating);
}

/** The rating form. */
function ratingForm() {
  const resolved = el("input", { type: "checkbox", name: "resolved", "data-testid": "rate-resolved" });
  const satisfied = el("input", { type: "checkbox", name: "satisfied", "data-testid": "rate-satisfied" });
  const comment = el("textarea", {
    id: "rate-comment", name: "comment", rows: 3, maxlength: 4000, "data-testid": "rate-comment",
    placeholder: t("track.rate.comment.placeholder"),
  });
  const stars = el(
    "div",
    { class: "stars", role: "radiogroup", "aria-labelledby": "rate-score-label", "data-testid": "rate-score" },
    [1, 2, 3, 4, 5].map((n) =>
      el("label", {}, el("input", { type: "radio", name: "score", value: n, "data-testid": `rate-score-${n}` }), el("span", {}, String(n))),
    ),
  );
  const problem = el("div", { class: "notice error", role: "alert", "data-testid": "rate-error", hidden: true });
  const submit = el("button", { type: "submit", class: "primary", "data-testid": "rate-submit" }, t("track.rate.submit"));
  const form = el(
    "form",
    { class: "card rating", "data-testid": "rating-form", novalidate: true },
    el("h2", {}, t("track.rate.title")),
    el("p", { class: "hint" }, t("track.rate.lead")),
    el("label", { class: "choice" }, resolved, t("track.rate.resolved")),
    el("label", { class: "choice" }, satisfied, t("track.rate.satisfied")),
    el("p", { class: "label", id: "rate-score-label" }, t("track.rate.score")),
    stars,
    el("label", { for: "rate-comment" }, t("track.rate.comment")),
    comment,
    problem,
    el("div", { class: "actions" }, submit),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const chosen = form.querySelector("input[name=score]:checked");
    const body = {
      resolved: resolved.checked,
      satisfied: satisfied.checked,
      score: chosen ? Number(chosen.value) : null,
      comment: comment.value.trim() || null,
    };
    await sendRating(body, { submit, problem });
  });
  return form;
}

async function sendRating(body, { submit, problem }) {
  submit.disabled = true;
  problem.hidden = true;
  try {
    const follow = await api(`/api/receipts/${encodeURIComponent(state.code)}/rating`, { method: "POST", body });
    state.rated = body;
    show(follow);
  } catch (error) {
    const lines = [t("track.rate.failed", { detail: problemText(error) })];
    if (error instanceof ApiProblem) {
      const known = t(`track.rate.${error.code}`);
      if (known !== `track.rate.${error.code}`) lines.splice(0, 1, known, t("track.rate.server", { detail: error.detail }));
    }
    fill(problem, lines.map((line) => el("p", {}, line)));
    problem.hidden = false;
  } finally {
    submit.disabled = false;
  }
}

function ratedBox(body) {
  return el(
    "div",
    { class: "card notice ok", "data-testid": "rated", role: "status" },
    el("h2", {}, t("track.rated.title")),
    el(
      "dl",
      { class: "facts" },
      el("dt", {}, t("track.rated.resolved")), el("dd", { "data-testid": "rated-resolved" }, yesNo(body.resolved)),
      el("dt", {}, t("track.rated.satisfied")), el("dd", { "data-testid": "rated-satisfied" }, yesNo(body.satisfied)),
      body.score ? [el("dt", {}, t("track.rated.score")), el("dd", {}, t("track.score", { score: body.score }))] : null,
      body.comment ? [el("dt", {}, t("track.rated.comment")), el("dd", {}, body.comment)] : null,
    ),
  );
}
