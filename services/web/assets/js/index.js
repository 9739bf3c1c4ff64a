// The home page: what residents can do, the consoles for staff, and where the API is.
import { addStrings, el, fill, frame, t } from "./common.js";

addStrings({
  zh: {
    "home.title": "首页",
    "home.public": "市民与热线",
    "home.report": "我要投诉：说明问题与地点，拿到查询码",
    "home.track": "查询进度：凭查询码查看办理情况并评价",
    "home.staff": "工作人员",
    "home.community": "社区工作台：受理（5分钟内）、就地办理或上报街道",
    "home.street": "街道调度台：吹哨派单、改派退单、审批延期",
    "home.liaison": "部门报到台：30分钟内报到、反馈进展与结果",
    "home.supervisor": "督办看板：实时工单、超时预警、三率与排名",
    "home.sign_in": "工作人员请先登录",
    "home.developers": "开发与运维",
    "home.docs": "API 文档",
    "home.about": "服务状态与辖区目录",
  },
  en: {
    "home.title": "Home",
    "home.public": "Residents and hotline",
    "home.report": "Report a problem: what and where, and get a tracking code",
    "home.track": "Track a complaint: follow it with its code, and rate the result",
    "home.staff": "Staff",
    "home.community": "Community console: acknowledge within 5 minutes, handle locally or call up",
    "home.street": "Street console: blow the whistle, re-dispatch, approve extensions",
    "home.liaison": "Department report-in: report in within 30 minutes, progress and result",
    "home.supervisor": "Supervision: live tickets, deadlines, the three rates and rankings",
    "home.sign_in": "Staff sign in first",
    "home.developers": "Developers and operations",
    "home.docs": "API documentation",
    "home.about": "Service status and the jurisdiction",
  },
});

const main = document.getElementById("main");
const principal = await frame({ title: "home.title" });
const link = (href, key) => el("li", {}, el("a", { href }, t(key)));
fill(
  main,
  el("h1", {}, t("app")),
  el("section", { class: "card" }, el("h2", {}, t("home.public")), el("ul", {}, link("/report", "home.report"), link("/track", "home.track"))),
  el(
    "section",
    { class: "card" },
    el("h2", {}, t("home.staff")),
    principal ? null : el("p", {}, el("a", { class: "button primary", href: "/sign-in" }, t("home.sign_in"))),
    el(
      "ul",
      {},
      link("/console/community", "home.community"),
      link("/console/street", "home.street"),
      link("/console/liaison", "home.liaison"),
      link("/console/supervisor", "home.supervisor"),
    ),
  ),
  el(
    "section",
    { class: "card" },
    el("h2", {}, t("home.developers")),
    el("ul", {}, link("/docs", "home.docs"), link("/about", "home.about")),
  ),
);
