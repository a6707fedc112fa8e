// The routing settings form (supervisors): tier boosts, auto-assign teams, offer timeout and KB misses.
// The browser checks ranges first so a typo is named at once; the API's checks are the ones that count,
// and its error names the field, which is marked on the form.
import { $, api } from "/staff/staff.js";

export const ROUTING_EN = {
  routing: "Handoff and assignment", routing_help: "Applies on every instance within a second; every change is written to the audit log.",
  boosts: "Queue priority: a tier's wait counts this many seconds longer", tier_vip: "VIP", tier_regular: "Regular", tier_new: "New",
  auto_assign: "Teams assigned automatically (the agent does not accept)", add_team: "Add a team", add: "Add",
  offer_timeout: "Seconds an agent has to accept an offer (5–600)", kb_misses: "Knowledge-base misses in a row before a handoff (0: never)",
  reset_defaults: "Back to defaults", defaults_in_force: "The deployment's defaults are in force.",
  changed: (by, at) => `Last changed by ${by} at ${at}.`, default_is: (v) => `default ${v}`, no_teams_known: "No teams yet.",
  invalid: "Check the marked field.", routing_saved: "Saved: in force now", routing_reset: "Back to the defaults",
};
export const ROUTING_ZH = {
  defaults_in_force: "当前使用部署时的默认设置。", changed: (by, at) => `最后由 ${by} 于 ${at} 修改。`,
  default_is: (v) => `默认 ${v}`, no_teams_known: "还没有团队。", invalid: "请检查标出的项。",
  routing_saved: "已保存，立即生效", routing_reset: "已恢复默认",
};
const NUMBERS = {
  "tier_boost_seconds.vip": "boost-vip", "tier_boost_seconds.regular": "boost-regular", "tier_boost_seconds.new": "boost-new",
  offer_timeout_seconds: "offer-timeout", kb_misses_to_handoff: "kb-misses",
};
let shown = null; // the last answer of the API: policy, defaults, teams, who changed it
let t = (key) => key;

const say = (key, ...args) => { const text = t(key); return typeof text === "function" ? text(...args) : text; };

function valueOf(policy, name) {
  const [top, sub] = name.split(".");
  return sub ? policy[top][sub] : policy[top];
}

function teamBox(team, checked) {
  const label = document.createElement("label");
  const box = Object.assign(document.createElement("input"), { type: "checkbox", value: team, checked });
  box.dataset.team = team;
  label.append(box, ` ${team}`);
  return label;
}

function draw() {
  const { policy, defaults } = shown;
  Object.entries(NUMBERS).forEach(([name, id]) => {
    const input = $(id);
    input.value = valueOf(policy, name);
    input.removeAttribute("aria-invalid");
    let hint = input.nextElementSibling;
    if (!hint || !hint.classList.contains("default")) {
      hint = Object.assign(document.createElement("span"), { className: "default" });
      input.after(hint);
    }
    hint.textContent = say("default_is", valueOf(defaults, name));
  });
  const teams = [...new Set([...shown.teams, ...policy.auto_assign_teams])].sort();
  $("auto-teams").replaceChildren(...(teams.length
    ? teams.map((team) => teamBox(team, policy.auto_assign_teams.includes(team)))
    : [Object.assign(document.createElement("span"), { className: "muted", textContent: say("no_teams_known") })]));
  const at = shown.changed_at_ms ? new Date(shown.changed_at_ms).toLocaleString(document.documentElement.lang) : "";
  $("routing-changed").textContent = shown.changed_by ? say("changed", shown.changed_by, at) : say("defaults_in_force");
}

function read() {
  const number = (id) => (($(id).value.trim() === "") ? NaN : Number($(id).value));
  return {
    tier_boost_seconds: { vip: number("boost-vip"), regular: number("boost-regular"), new: number("boost-new") },
    auto_assign_teams: [...$("auto-teams").querySelectorAll("input[data-team]:checked")].map((b) => b.value),
    offer_timeout_seconds: number("offer-timeout"),
    kb_misses_to_handoff: number("kb-misses"),
  };
}

/** Mark the first field the browser finds out of range; true when every field is in range. */
function checked() {
  for (const id of Object.values(NUMBERS)) {
    const input = $(id);
    const ok = input.checkValidity() && input.value.trim() !== "";
    input.setAttribute("aria-invalid", ok ? "false" : "true");
    if (!ok) { $("routing-error").textContent = `${say("invalid")} ${input.labels[0].textContent}`; input.focus(); return false; }
  }
  return true;
}

function showResult(r, okText) {
  $("routing-status").textContent = ""; $("routing-error").textContent = "";
  if (!r.ok) {
    const id = NUMBERS[r.data.field];
    if (id) { $(id).setAttribute("aria-invalid", "true"); $(id).focus(); }
    $("routing-error").textContent = r.data.error || String(r.status);
    return;
  }
  shown = r.data; draw();
  $("routing-status").className = "ok";
  $("routing-status").textContent = say(okText);
}

/** Load the policy in force into the form (or say why not). */
export async function loadRouting() {
  const state = $("routing-state");
  state.classList.remove("hidden", "error"); state.textContent = say("loading");
  const r = await api("GET", "/api/agent/routing");
  if (!r.ok) { state.classList.add("error"); state.textContent = `${say("load_error")}: ${r.data.error || r.status}`; return; }
  shown = r.data; state.classList.add("hidden");
  $("routing-form").classList.remove("hidden");
  draw();
}

/** Wire the form once; ``texts`` is the page's i18n (its t() holds ROUTING_EN/ROUTING_ZH). */
export function setUpRouting(texts) {
  t = texts.t;
  texts.onChange(() => { if (shown) draw(); });
  $("routing-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("routing-error").textContent = ""; $("routing-status").textContent = "";
    if (!checked()) return;
    showResult(await api("PUT", "/api/agent/routing", read()), "routing_saved");
  });
  $("routing-reset").addEventListener("click", async () => {
    const r = await api("DELETE", "/api/agent/routing");
    if (r.status === 404) { await loadRouting(); return; }
    showResult(r, "routing_reset");
  });
  $("auto-add-button").addEventListener("click", () => {
    const team = $("auto-add").value.trim();
    if (!team || !shown) return;
    if (!shown.teams.includes(team)) shown.teams.push(team);
    const policy = read();
    if (!policy.auto_assign_teams.includes(team)) policy.auto_assign_teams.push(team);
    shown = { ...shown, policy: { ...shown.policy, auto_assign_teams: policy.auto_assign_teams } };
    const numbers = Object.fromEntries(Object.values(NUMBERS).map((id) => [id, $(id).value]));
    draw();
    Object.entries(numbers).forEach(([id, value]) => { $(id).value = value; });
    $("auto-add").value = "";
  });
}
