// Complaint cases (/agent/complaints): the list with filters and SLA countdowns, one case with its
// history, transcript and customer, and the actions (take, note, resolve, reassign, escalate).
// Case events (escalated, reopened, confirmed...) arrive on the console's socket as they happen.
import { $, api, bindLogin, i18n, listState, session, showListResult, transcriptLine, showLogin as showShellLogin, signedIn } from "/staff/staff.js";

const EN = {
  title: "Complaint cases", console: "Agent console", quality: "Quality", login: "Log in", username: "User name", password: "Password",
  cases: "Cases", scope: "Scope", scope_team: "My teams", scope_mine: "Mine", status: "Status", severity: "Severity",
  category: "Category", any: "All", overdue_only: "Overdue only", case_id: "Case", owner: "Owner", due: "Due",
  description: "Description", empty: "No cases match", pick: "Pick a case", take: "Take", escalate: "Escalate",
  resolve: "Mark resolved", resolve_placeholder: "What was done (the customer sees this)", reassign: "Reassign",
  reassign_placeholder: "Give to (user name)", note_placeholder: "Internal note (staff only)", add_note: "Add note",
  history: "History", customer: "Customer", transcript: "Conversation",
  open: "Open", in_progress: "In progress", resolved: "Awaiting customer", confirmed: "Confirmed",
  reopened: "Reopened", closed_unconfirmed: "Closed, unconfirmed", left: "left", late: "overdue by",
  respond_by: "Respond by", resolve_by: "Resolve by", opened_at: "Opened", team: "Team", channel: "Channel",
  level: "Escalation", unowned: "(team pool)", name: "Name", tier: "Tier", phone: "Phone",
  ev_escalated: "escalated", ev_reassigned: "reassigned", ev_reopened: "reopened by the customer",
  ev_confirmed: "confirmed by the customer", ev_closed_unconfirmed: "closed without an answer",
  lvl_at_risk: "at risk", lvl_overdue: "overdue", lvl_reassigned: "reassigned", minutes: "min", hours: "h", days: "d",
  a_opened: "Opened", a_complained_again: "Complained again", a_in_progress: "Taken", a_note: "Note",
  a_resolved: "Marked resolved", a_confirmed: "Customer confirmed", a_reopened: "Customer says not solved",
  a_closed_unconfirmed: "Closed without an answer", a_reassigned: "Reassigned",
  "a_escalated:at_risk": "Escalated (at risk), told", "a_escalated:overdue": "Escalated (overdue), told",
  "a_escalated:reassigned": "Escalated, reassigned", actor_bot: "bot", actor_system: "system",
  actor_customer: "customer", actor_rating: "rating", actor_bench: "bench",
};
const ZH = {
  empty: "没有符合条件的工单", open: "待处理", in_progress: "处理中", resolved: "待客户确认", confirmed: "已确认", reopened: "已重新打开",
  closed_unconfirmed: "未确认关闭", left: "剩余", late: "已超时", respond_by: "响应时限", resolve_by: "解决时限",
  opened_at: "登记时间", team: "团队", channel: "渠道", level: "升级级别", unowned: "（团队待领）", name: "姓名",
  tier: "等级", phone: "电话", ev_escalated: "已升级", ev_reassigned: "已转派", ev_reopened: "客户反馈未解决，已重新打开",
  ev_confirmed: "客户已确认解决", ev_closed_unconfirmed: "客户未答复，已关闭", lvl_at_risk: "即将超时",
  lvl_overdue: "已超时", lvl_reassigned: "已转派主管", minutes: "分", hours: "小时", days: "天",
  a_opened: "登记", a_complained_again: "再次投诉", a_in_progress: "接手处理", a_note: "备注",
  a_resolved: "标记已处理", a_confirmed: "客户确认已解决", a_reopened: "客户反馈未解决", a_closed_unconfirmed: "客户未答复，关闭",
  a_reassigned: "转派", "a_escalated:at_risk": "升级（即将超时），已通知", "a_escalated:overdue": "升级（已超时），已通知",
  "a_escalated:reassigned": "升级，转派", actor_bot: "机器人", actor_system: "系统", actor_customer: "客户",
  actor_rating: "满意度评价", actor_bench: "测试",
};
const STATUSES = ["open", "in_progress", "reopened", "resolved"];
const texts = i18n(EN, ZH);
const t = texts.t;
let cases = [], current = null, skew = 0, ws = null, wsRetry = 500, timer = null, soonTimer = null;

const nowSeconds = () => Date.now() / 1000 + skew;

function span(seconds) {
  const m = Math.max(0, Math.round(seconds / 60));
  if (m < 60) return `${m}${t("minutes")}`;
  if (m < 48 * 60) return `${Math.floor(m / 60)}${t("hours")}${m % 60}${t("minutes")}`;
  return `${Math.floor(m / 1440)}${t("days")}${Math.floor((m % 1440) / 60)}${t("hours")}`;
}

// The countdown to the deadline the case works toward: the response one until it is taken.
function countdown(el, c) {
  const due = c.status === "open" ? c.respond_by : c.resolve_by;
  const left = due - nowSeconds();
  const used = (nowSeconds() - c.opened_at) / Math.max(1, c.resolve_by - c.opened_at);
  el.textContent = c.status === "resolved" ? "—" : left >= 0 ? `${t("left")} ${span(left)}` : `${t("late")} ${span(-left)}`;
  el.className = "countdown " + (c.status === "resolved" ? "" : left < 0 ? "overdue" : used >= 0.8 ? "at-risk" : "");
}

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function row(c) {
  const tr = document.createElement("tr");
  tr.dataset.case = c.id;
  tr.tabIndex = 0;
  tr.classList.toggle("selected", c.id === current);
  const severity = cell("");
  const badge = document.createElement("span");
  badge.className = `badge sev-${c.severity}`;
  badge.textContent = c.severity;
  severity.append(badge);
  const due = cell("");
  const clock = document.createElement("span");
  countdown(clock, c);
  due.append(clock);
  tr.append(cell(c.id), cell(t(c.status)), severity, cell(c.category), cell(c.owner || `${c.team} ${t("unowned")}`),
    due, cell(c.description, "desc"));
  const pick = () => { current = c.id; renderList(); showCase(); };
  tr.addEventListener("click", pick);
  tr.addEventListener("keydown", (e) => { if (e.key === "Enter") pick(); });
  return tr;
}

function renderList() {
  $("cases").replaceChildren(...cases.map(row));
  listState("cases-state", cases.length ? "" : "empty", t("empty"));
}

function fillSelect(id, values, label) {
  const select = $(id);
  if (select.options.length > 1) return;
  for (const value of values) {
    const option = document.createElement("option");
    option.value = value; option.textContent = label ? label(value) : value;
    select.append(option);
  }
}

async function loadList() {
  const query = new URLSearchParams();
  if ($("f-scope").value === "mine") query.set("mine", "1");
  for (const [id, name] of [["f-status", "status"], ["f-severity", "severity"], ["f-category", "category"]]) {
    if ($(id).value) query.set(name, $(id).value);
  }
  if ($("f-overdue").checked) query.set("overdue", "1");
  const r = await api("GET", `/api/agent/complaints?${query}`);
  showListResult("cases-state", r, r.data.cases, t("empty"));
  if (!r.ok) return;
  skew = r.data.now - Date.now() / 1000;
  fillSelect("f-severity", r.data.severities);
  fillSelect("f-category", r.data.categories);
  cases = r.data.cases;
  renderList();
}

function field(dl, label, value) {
  const dt = document.createElement("dt");
  dt.textContent = label;
  const dd = document.createElement("dd");
  dd.textContent = value;
  dl.append(dt, dd);
}

const when = (stamp) => new Date(stamp * 1000).toLocaleString(texts.lang === "en" ? "en-GB" : "zh-CN");

async function showCase() {
  if (!current) return;
  const r = await api("GET", `/api/agent/complaints/${current}`);
  if (!r.ok) { $("case-error").textContent = r.data.error || ""; return; }
  const c = r.data;
  $("case-body").classList.remove("hidden");
  $("case-title").textContent = `${c.id} · ${t(c.status)}`;
  const dl = $("case-fields");
  dl.replaceChildren();
  field(dl, t("severity"), c.severity); field(dl, t("category"), c.category);
  field(dl, t("team"), c.team); field(dl, t("owner"), c.owner || t("unowned"));
  field(dl, t("channel"), c.channel); field(dl, t("opened_at"), when(c.opened_at));
  field(dl, t("respond_by"), when(c.respond_by)); field(dl, t("resolve_by"), when(c.resolve_by));
  const clock = document.createElement("span");
  countdown(clock, c);
  field(dl, t("due"), ""); dl.lastChild.append(clock);
  field(dl, t("level"), c.level ? t(["lvl_at_risk", "lvl_overdue", "lvl_reassigned"][c.level - 1]) : "—");
  $("case-description").textContent = c.description;
  const mine = c.owner === session.username, supervisor = session.roles.includes("supervisor");
  const working = STATUSES.includes(c.status) && c.status !== "resolved";
  $("take").disabled = !working || mine;
  $("escalate").disabled = !working || c.level >= 3 || !(mine || supervisor);
  $("resolve").disabled = !working || !(mine || supervisor);
  $("reassign-form").classList.toggle("hidden", !supervisor);
  $("history").replaceChildren(...c.history.map((h) => {
    const li = document.createElement("li");
    const actor = h.actor.startsWith("agent:") ? h.actor.slice(6) : t("actor_" + h.actor).replace(/^actor_/, "");
    const action = t("a_" + h.action).replace(/^a_/, "");
    li.dataset.action = h.action;
    li.textContent = `${when(h.at)}  ${actor}  ${action}${h.detail ? " " + h.detail : ""}`;
    return li;
  }));
  const conv = await api("GET", `/api/agent/complaints/${current}/conversation`);
  if (conv.ok) {
    const p = $("profile");
    p.replaceChildren();
    field(p, t("name"), conv.data.profile.name || "—"); field(p, t("tier"), conv.data.profile.tier || "—");
    field(p, t("phone"), conv.data.profile.phone || "—");
    $("lines").replaceChildren(...conv.data.lines.map((line) => {
      const div = document.createElement("div");
      div.className = line.role;
      div.textContent = transcriptLine(line);
      return div;
    }));
  }
}

async function act(path, body) {
  const r = await api("POST", `/api/agent/complaints/${current}/${path}`, body);
  $("case-error").textContent = r.ok ? "" : r.data.error;
  await refresh();
  return r.ok;
}

function toast(event) {
  const colon = texts.lang === "en" ? ": " : "：";
  const what = event.event === "escalated" ? `${t("ev_escalated")}${colon}${t("lvl_" + event.level)}` : t("ev_" + event.event);
  if (what.startsWith("ev_")) return;
  $("toast").textContent = `${event.case} ${what}`;
  setTimeout(() => { if ($("toast").textContent.startsWith(event.case)) $("toast").textContent = ""; }, 8000);
}

function soon() {
  if (soonTimer) return;
  soonTimer = setTimeout(() => { soonTimer = null; refresh(); }, 50);
}

function live() {
  ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/agent/ws");
  ws.onopen = () => { wsRetry = 500; };
  ws.onmessage = (message) => {
    const data = JSON.parse(message.data);
    // Subscribed: re-read once, for what happened while the socket was away.
    if (data.type === "ready") { document.body.dataset.live = "on"; soon(); }
    if (data.type === "case") { toast(data); soon(); }
  };
  ws.onclose = () => {
    ws = null;
    document.body.dataset.live = "off";
    if (!$("app").classList.contains("hidden")) { setTimeout(live, wsRetry); wsRetry = Math.min(wsRetry * 2, 10000); }
  };
}

async function refresh() {
  await loadList();
  await showCase();
}

function tick() {
  for (const tr of $("cases").children) {
    const c = cases.find((x) => x.id === tr.dataset.case);
    if (c) countdown(tr.querySelector(".countdown"), c);
  }
}

function showLogin() {
  showShellLogin();
  if (timer) clearInterval(timer);
}

async function start() {
  if (!(await signedIn())) { showLogin(); return; }
  fillSelect("f-status", [...STATUSES], t);
  await refresh();
  if (!ws) live();
  if (timer) clearInterval(timer);
  let ticks = 0;
  // Countdowns move each second; a slow re-read covers a socket that is reconnecting.
  timer = setInterval(() => { ticks += 1; if (ticks % 30 === 0) refresh(); else tick(); }, 1000);
}

$("filters").addEventListener("change", refresh);
$("take").addEventListener("click", () => act("take"));
$("escalate").addEventListener("click", () => act("escalate"));
$("resolve-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  if (await act("resolve", { detail: $("resolve-detail").value.trim() })) $("resolve-detail").value = "";
});
$("reassign-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  if (await act("reassign", { owner: $("reassign-owner").value.trim() })) $("reassign-owner").value = "";
});
$("note-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const text = $("note").value.trim();
  if (text && (await act("notes", { text }))) $("note").value = "";
});
$("lang-switch").addEventListener("click", () => { texts.toggle(); refresh(); });
bindLogin(start, showLogin);
texts.apply();
start();
