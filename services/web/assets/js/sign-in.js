// Sign-in: paste a token signed by `whistle token`, or, when the service runs with demo
// data, pick one of the demo accounts.
import { addStrings, api, el, fill, frame, problemText, signIn, t, whoAmI } from "./common.js";

addStrings({
  zh: {
    "signin.title": "登录",
    "signin.token": "访问令牌",
    "signin.hint": "令牌由管理员用 whistle token 签发（如 whistle token --role liaison --scope department:zhujian）。",
    "signin.submit": "登录",
    "signin.bad": "令牌无效：{detail}",
    "signin.demo": "演示账号",
    "signin.demo_hint": "本服务运行在演示模式，可直接选择一个账号登录。",
  },
  en: {
    "signin.title": "Sign in",
    "signin.token": "Access token",
    "signin.hint": "Tokens are signed by an administrator with whistle token (e.g. whistle token --role liaison --scope department:zhujian).",
    "signin.submit": "Sign in",
    "signin.bad": "That token does not work: {detail}",
    "signin.demo": "Demo accounts",
    "signin.demo_hint": "This service runs with demo data: pick an account to sign in as.",
  },
});

const CONSOLE = {
  operator: "/report",
  grid_worker: "/console/community",
  community: "/console/community",
  street: "/console/street",
  liaison: "/console/liaison",
  supervisor: "/console/supervisor",
  integration: "/docs",
};

const main = document.getElementById("main");
await frame({ title: "signin.title" });

function next(principal) {
  const wanted = new URLSearchParams(location.search).get("next");
  if (wanted) {
    // Only a page of this site (browsers read `/\host` and `/%09/host` as another host,
    // so the parsed origin decides), and never the sign-in page itself.
    const url = new URL(wanted, location.origin);
    if (url.origin === location.origin && url.pathname !== "/sign-in") return url.pathname + url.search;
  }
  return CONSOLE[principal.role] || "/";
}

async function use(token, problemBox) {
  signIn(token);
  const principal = await whoAmI();
  if (!principal) {
    localStorage.removeItem("whistle.token");
    fill(problemBox, el("p", { class: "notice error", "data-testid": "sign-in-error" }, t("signin.bad", { detail: "401" })));
    return;
  }
  location.href = next(principal);
}

const problem = el("div");
const field = el("textarea", { id: "token", name: "token", rows: 4, autocomplete: "off", spellcheck: "false", "data-testid": "token" });
const form = el(
  "form",
  { class: "card", "data-testid": "sign-in" },
  el("label", { for: "token" }, t("signin.token")),
  field,
  el("p", { class: "hint muted" }, t("signin.hint")),
  problem,
  el("div", { class: "actions" }, el("button", { class: "primary", type: "submit" }, t("signin.submit"))),
);
form.addEventListener("submit", (event) => {
  event.preventDefault();
  if (field.value.trim()) use(field.value, problem);
});
const demo = el("section");
fill(main, el("h1", {}, t("signin.title")), form, demo);

try {
  const accounts = await api("/api/demo/accounts");
  fill(
    demo,
    el("h2", {}, t("signin.demo")),
    el("p", { class: "muted" }, t("signin.demo_hint")),
    el(
      "div",
      { class: "grid" },
      accounts.map((account) =>
        el(
          "button",
          {
            class: "figure",
            "data-testid": `demo-${account.name}`,
            onclick: async (event) => {
              event.currentTarget.disabled = true;
              try {
                const answer = await api(`/api/demo/accounts/${encodeURIComponent(account.name)}/sign-in`, { method: "POST" });
                await use(answer.token, problem);
              } catch (error) {
                fill(problem, el("p", { class: "notice error" }, problemText(error)));
              }
            },
          },
          el("div", { class: "label" }, t(`role.${account.role}`)),
          el("div", {}, account.label),
          el("div", { class: "muted" }, account.subject),
        ),
      ),
    ),
  );
} catch {
  // No demo accounts: a real deployment.
}
