// What every staff page shares: element lookup, the JSON API with the session's CSRF token, the
// login form, the app shell (navigation, who is signed in, language, log out) and zh-CN/English texts.
// The language is the user's: chosen once, it follows them to every staff page and browser.
// Plain ES modules, no build step: the pages import this from /staff/staff.js.

import { renderNav } from "/staff/shell.js";

export const $ = (id) => document.getElementById(id);

export const session = { csrf: "", username: "", roles: [], language: null };
let whenLoggedOut = () => {};
let texts = null; // the page's i18n(), which the shell's navigation and language switch follow

/** Call the API; a 401 (session gone) shows the page's login form. */
export async function api(method, path, body, raw) {
  const headers = {};
  if (method !== "GET") headers["X-CSRF-Token"] = session.csrf;
  let payload;
  if (raw !== undefined) { payload = raw; headers["Content-Type"] = "application/octet-stream"; }
  else if (body !== undefined) { payload = JSON.stringify(body); headers["Content-Type"] = "application/json"; }
  const response = await fetch(path, { method, headers, body: payload, credentials: "same-origin" });
  const data = await response.json().catch(() => ({}));
  if (response.status === 401 && path !== "/api/login") whenLoggedOut();
  return { ok: response.ok, status: response.status, data };
}

/** Read the signed-in session (user, roles, CSRF token); false when nobody is logged in. */
export async function loadSession() {
  const me = await api("GET", "/api/session");
  if (!me.ok) return false;
  Object.assign(session, {
    csrf: me.data.csrf, username: me.data.username, roles: me.data.roles || [], language: me.data.language,
  });
  if (texts) texts.follow(session.language);
  return true;
}

/** Show the page's #login section instead of its #app (and the navigation of nobody). */
export function showLogin() {
  $("login").classList.remove("hidden"); $("app").classList.add("hidden");
  $("logout")?.classList.add("hidden");
  Object.assign(session, { csrf: "", username: "", roles: [] });
  renderNav($("staff-nav"), [], texts ? texts.lang : "zh");
  $("who").textContent = "";
}

/** Read the session and show #app (with the user's name in #who), or the login form; true when signed in. */
export async function signedIn() {
  if (!(await loadSession())) { showLogin(); return false; }
  $("who").textContent = session.username;
  $("login").classList.add("hidden"); $("app").classList.remove("hidden");
  $("logout")?.classList.remove("hidden");
  renderNav($("staff-nav"), session.roles, texts ? texts.lang : "zh");
  return true;
}

/** Log out and show the login form (the page reloads, so no socket or timer of the user outlives them). */
async function logOut() {
  await api("POST", "/api/logout", {});
  location.reload();
}

/** Wire the page's #login-form: on success call ``start``; ``showLogin`` runs whenever the session ends. */
export function bindLogin(start, showLogin) {
  whenLoggedOut = showLogin;
  $("logout")?.addEventListener("click", logOut);
  $("login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const res = await api("POST", "/api/login", { username: $("username").value, password: $("password").value });
    if (res.ok) { $("login-error").textContent = ""; start(); } else $("login-error").textContent = res.data.error;
  });
}

/** Show what a list is doing in its state line (``#<id>``): "loading", "empty", "error" or "" (it has rows).

Every staff list says when it is loading, when there is nothing in it and when it could not be read: an
empty list and a failed request must not look the same to the person waiting on it. ``message`` replaces
the shared text (a list's own "nothing here", or the server's error).
*/
export function listState(id, state, message) {
  const line = $(id);
  line.classList.toggle("error", state === "error");
  line.classList.toggle("hidden", !state);
  const shared = { loading: "list_loading", empty: "list_empty", error: "list_error" }[state];
  const text = shared ? (texts ? texts.t(shared) : "") : "";
  const colon = texts && texts.lang === "en" ? ": " : "：";
  line.textContent = state === "error" && message ? `${text}${colon}${message}` : (message || text);
}

/** Set a list's state line from an API response: its error, ``emptyText`` when ``rows`` is empty, else none. */
export function showListResult(id, response, rows, emptyText) {
  if (!response.ok) listState(id, "error", response.data.error || String(response.status));
  else listState(id, rows && rows.length ? "" : "empty", emptyText);
}

/** Return a transcript line as staff read it: who spoke (in the page's language, with the agent's name), then the text. */
export function transcriptLine(line) {
  const role = texts ? texts.t(`role_${line.role}`) : line.role;
  return `${role}${line.author ? " " + line.author : ""}: ${line.text}`;
}

/** Texts in zh-CN (the page's own markup, plus ``zh`` for script-made text) and English (``en``).

The language is the signed-in user's choice (kept on the server), else this browser's last one, else
the browser's own; the switch in the header changes it for every staff page.
*/
export function i18n(pageEn, zh) {
  const en = { ...SHARED_EN, ...pageEn };
  const stored = localStorage.getItem(LANG_KEY);
  let lang = stored || (navigator.language.startsWith("zh") ? "zh" : "en");
  const zhDefaults = {};
  const listeners = [];
  const t = (key) => (lang === "en" ? en[key] : (zh[key] || SHARED_ZH[key] || zhDefaults[key])) || key;
  function apply() {
    document.documentElement.lang = lang === "en" ? "en" : "zh-CN";
    document.querySelectorAll("[data-i18n]").forEach((el) => {
      const key = el.dataset.i18n;
      if (!(key in zhDefaults)) zhDefaults[key] = el.textContent;
      el.textContent = t(key);
    });
    document.querySelectorAll("[data-i18n-placeholder]").forEach((el) => {
      const key = el.dataset.i18nPlaceholder;
      if (!(key in zhDefaults)) zhDefaults[key] = el.placeholder;
      el.placeholder = t(key);
    });
    document.querySelectorAll("[data-i18n-label]").forEach((el) => {
      const key = el.dataset.i18nLabel;
      if (!(key in zhDefaults)) zhDefaults[key] = el.getAttribute("aria-label");
      el.setAttribute("aria-label", t(key));
    });
    $("lang-switch").textContent = lang === "en" ? "中文" : "English";
    $("lang-switch").setAttribute("lang", lang === "en" ? "zh-CN" : "en");
    renderNav($("staff-nav"), session.roles, lang);
    listeners.forEach((listener) => listener(lang));
  }
  function set(next) {
    if (next === lang) return;
    lang = next;
    localStorage.setItem(LANG_KEY, lang);
    apply();
  }
  function toggle() {
    set(lang === "en" ? "zh" : "en");
    if (session.username) api("PUT", "/api/session/language", { language: lang });
  }
  texts = {
    t, apply, toggle,
    /** Take the user's stored choice (on sign-in), if they made one. */
    follow(chosen) { if (chosen) set(chosen); },
    /** Call ``listener(lang)`` after every change of language (to redraw script-made text). */
    onChange(listener) { listeners.push(listener); },
    get lang() { return lang; },
  };
  return texts;
}

const LANG_KEY = "staff-lang";
// The shell's and login form's texts in English (their zh-CN is each page's markup).
const SHARED_EN = {
  logout: "Log out", login: "Log in", username: "User name", password: "Password", presence: "My status",
  list_loading: "Loading…", list_empty: "Nothing here yet.", list_error: "Could not load this list",
  role_customer: "customer", role_bot: "bot", role_agent: "agent", role_system: "system",
};
// Script-made shared texts in zh-CN (lists' states).
const SHARED_ZH = {
  list_loading: "加载中…", list_empty: "暂无内容", list_error: "列表加载失败",
  role_customer: "客户", role_bot: "机器人", role_agent: "客服", role_system: "系统",
};
