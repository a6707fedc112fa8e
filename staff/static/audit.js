// The audit log (/admin/audit): who read or changed what, searched by person, action, target and days.
// Admins only; searching it is itself written to the log.
import { $, api, bindLogin, i18n, listState, showLogin, signedIn } from "/staff/staff.js";

const ACTIONS = [
  "transcript_viewed", "profile_viewed", "profile_changed", "profiles_merged", "case_viewed",
  "left_messages_viewed", "bot_conversations_viewed", "satisfaction_viewed", "conversation_taken_over",
  "conversations_exported", "scorecards_viewed", "kb_published", "kb_rolled_back", "kb_imported",
  "kb_exported", "kb_thresholds_changed", "kb_inbox_viewed", "hours_changed", "hours_removed",
  "quality_checklist_changed", "user_saved", "user_removed", "audit_searched",
];
const EN = {
  title: "Audit log", console: "Agent console", reports: "Service dashboard", login: "Log in",
  username: "User name", password: "Password", actor: "Who", action: "Action", target: "Target (any part)", target_col: "Target",
  from: "From", to: "To", search: "Search", when: "When", detail: "Detail", address: "Address",
  entries: "entries", admins_only: "The audit log is for admins.", no_entries: "No entries match.",
};
const ZH = { entries: "条记录", admins_only: "审计日志仅管理员可查看。", no_entries: "没有符合条件的记录。" };
const texts = i18n(EN, ZH);
const t = texts.t;

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

async function search() {
  const params = new URLSearchParams();
  for (const [key, id] of [["actor", "f-actor"], ["action", "f-action"], ["target", "f-target"], ["from", "f-from"], ["to", "f-to"]]) {
    if ($(id).value.trim()) params.set(key, $(id).value.trim());
  }
  listState("entries-state", "loading");
  const r = await api("GET", `/api/audit?${params}`);
  if (!r.ok) {
    $("error").textContent = r.status === 403 ? t("admins_only") : r.data.error || "";
    listState("entries-state", "error", $("error").textContent || String(r.status));
    return;
  }
  $("error").textContent = "";
  listState("entries-state", r.data.entries.length ? "" : "empty", t("no_entries"));
  $("count").textContent = `${r.data.entries.length} ${t("entries")}`;
  const locale = texts.lang === "en" ? "en-GB" : "zh-CN";
  $("entries").replaceChildren(...r.data.entries.map((e) => {
    const tr = document.createElement("tr");
    tr.append(
      cell(new Date(e.at * 1000).toLocaleString(locale)), cell(e.actor), cell(e.action), cell(e.target),
      cell(JSON.stringify(e.detail), "detail"), cell(e.address),
    );
    return tr;
  }));
}

async function start() {
  if (await signedIn()) await search();
}

$("actions").replaceChildren(...ACTIONS.map((a) => { const o = document.createElement("option"); o.value = a; return o; }));
$("filters").addEventListener("submit", (e) => { e.preventDefault(); search(); });
$("lang-switch").addEventListener("click", () => { texts.toggle(); search(); });
bindLogin(start, showLogin);
texts.apply();
start();
