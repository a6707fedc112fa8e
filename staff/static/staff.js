// What every staff page shares: element lookup, the JSON API with the session's CSRF token, the
// login form, and zh-CN/English texts (the choice remembered per page in localStorage).
// Plain ES module, no build step: the pages import it from /staff/staff.js.

export const $ = (id) => document.getElementById(id);

export const session = { csrf: "", username: "", roles: [] };
let whenLoggedOut = () => {};

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
  Object.assign(session, { csrf: me.data.csrf, username: me.data.username, roles: me.data.roles || [] });
  return true;
}

/** Show the page's #login section instead of its #app. */
export function showLogin() { $("login").classList.remove("hidden"); $("app").classList.add("hidden"); }

/** Read the session and show #app (with the user's name in #who), or the login form; true when signed in. */
export async function signedIn() {
  if (!(await loadSession())) { showLogin(); return false; }
  $("who").textContent = session.username;
  $("login").classList.add("hidden"); $("app").classList.remove("hidden");
  return true;
}

/** Wire the page's #login-form: on success call ``start``; ``showLogin`` runs whenever the session ends. */
export function bindLogin(start, showLogin) {
  whenLoggedOut = showLogin;
  $("login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const res = await api("POST", "/api/login", { username: $("username").value, password: $("password").value });
    if (res.ok) { $("login-error").textContent = ""; start(); } else $("login-error").textContent = res.data.error;
  });
}

/** Texts in zh-CN (the page's own markup, plus ``zh`` for script-made text) and English (``en``). */
export function i18n(storageKey, en, zh) {
  let lang = localStorage.getItem(storageKey) || (navigator.language.startsWith("zh") ? "zh" : "en");
  const zhDefaults = {};
  const t = (key) => (lang === "en" ? en[key] : (zh[key] || zhDefaults[key])) || key;
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
    $("lang-switch").textContent = lang === "en" ? "中文" : "English";
  }
  function toggle() {
    lang = lang === "en" ? "zh" : "en";
    localStorage.setItem(storageKey, lang);
    apply();
  }
  return { t, apply, toggle, get lang() { return lang; } };
}
