// The audit log (/admin/audit): who read or changed what, searched by person, action, target and days.
// Admins only; searching it is itself written to the log.
import { $, api, bindLogin, i18n, listState, showLogin, signedIn } from "/staff/staff.js";

const EN = {
  title: "Audit log", console: "Agent console", reports: "Service dashboard", login: "Log in",
  username: "User name", password: "Password", actor: "Who", action: "Action", target: "Target (any part)", target_col: "Target",
  from: "From", to: "To", search: "Search", when: "When", detail: "Detail", address: "Address",
  entries: "entries", admins_only: "The audit log is for admins.", no_entries: "No entries match.",
};
const ZH = { entries: "条记录", admins_only: "审计日志仅管理员可查看。", no_entries: "没有符合条件的记录。" };
// What each action is called on the page (the stored code stays in the cell's title and in the filter).
const ACTION_NAMES = {
  transcript_viewed: ["Read a transcript", "查看会话记录"], profile_viewed: ["Read a profile", "查看客户资料"],
  profile_changed: ["Changed a profile", "修改客户资料"], profiles_merged: ["Merged profiles", "合并客户资料"],
  case_viewed: ["Read a complaint case", "查看投诉工单"], left_messages_viewed: ["Read left messages", "查看留言"],
  bot_conversations_viewed: ["Listed bot conversations", "查看机器人会话"],
  satisfaction_viewed: ["Read satisfaction", "查看满意度"], conversation_taken_over: ["Took over a conversation", "接管会话"],
  conversations_exported: ["Exported conversations", "导出会话"], scorecards_viewed: ["Read scorecards", "查看客服绩效"],
  kb_published: ["Published the KB", "发布知识库"], kb_rolled_back: ["Rolled the KB back", "回滚知识库"],
  kb_imported: ["Imported into the KB", "导入知识库"], kb_exported: ["Exported the KB", "导出知识库"],
  kb_thresholds_changed: ["Changed KB thresholds", "修改知识库阈值"], kb_inbox_viewed: ["Read unanswered questions", "查看未解决问题"],
  hours_changed: ["Changed business hours", "修改营业时间"], hours_removed: ["Removed business hours", "删除营业时间"],
  quality_checklist_changed: ["Changed the QA checklist", "修改质检项"], user_saved: ["Saved a user", "保存用户"],
  user_removed: ["Removed a user", "删除用户"], audit_searched: ["Searched the audit log", "查询审计日志"],
  routing_changed: ["Changed routing settings", "修改分配设置"], routing_reset: ["Reset routing settings", "恢复默认分配设置"],
  kb_bulk_changed: ["Changed KB entries in bulk", "批量修改知识库条目"], customer_erased: ["Erased a customer's data", "删除客户数据"],
};
const texts = i18n(EN, ZH);
const actionName = (code) => (ACTION_NAMES[code] ? ACTION_NAMES[code][texts.lang === "en" ? 0 : 1] : code);
const t = texts.t;

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function named(action) {
  const td = cell(actionName(action));
  td.title = action;
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
      cell(new Date(e.at * 1000).toLocaleString(locale)), cell(e.actor), named(e.action), cell(e.target),
      cell(JSON.stringify(e.detail), "detail"), cell(e.address),
    );
    return tr;
  }));
}

async function start() {
  if (await signedIn()) await search();
}

$("actions").replaceChildren(...Object.keys(ACTION_NAMES).map((a) => {
  const o = document.createElement("option"); o.value = a; o.label = actionName(a); return o;
}));
$("filters").addEventListener("submit", (e) => { e.preventDefault(); search(); });
$("lang-switch").addEventListener("click", () => { texts.toggle(); search(); });
bindLogin(start, showLogin);
texts.apply();
start();
