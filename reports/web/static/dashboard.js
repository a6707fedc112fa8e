// The supervisor dashboard (/reports): live queues and cases, the period's figures beside the previous
// period, day-by-day trends as Apache ECharts charts (installed by `make ui`, never a CDN), scorecards.
import { $, api, bindLogin, i18n, listState, showListResult, showLogin, signedIn } from "/staff/staff.js";

const EN = {
  title: "Service dashboard", console: "Agent console", complaints: "Complaint cases", login: "Log in",
  username: "User name", password: "Password", live: "Right now", period: "Period", from: "From", to: "To",
  show: "Show", vs_previous: "compared with the period before", trends: "Trends", scorecards: "Agent scorecards",
  waiting: "Waiting", longest: "Longest wait", online: "Agents online", paused: "Paused", open_cases: "Open complaints",
  overdue_cases: "Overdue complaints", conversations: "Conversations", handed_over: "Handed over",
  escalation: "Escalation rate", human_frt: "Human first response", bot_frt: "Bot first response", csat: "CSAT",
  containment: "Containment", cost: "Cost", cost_per: "Cost per conversation", previous: "before", agent: "Agent",
  team_median: "team median", seconds: "s", volume: "Volume", frt: "First response (s)", f_conversations: "Conversations",
  f_first_response_seconds: "First response (s)", f_handling_seconds: "Handling (s)", f_csat_satisfied_share: "CSAT",
  f_ratings: "Ratings", f_complaints: "Complaints", f_transfers: "Transfers", f_quality_score: "Quality",
  f_online_seconds: "Online (s)", f_paused_seconds: "Paused (s)", f_utilisation: "Utilisation",
  heat: "Messages by weekday and hour", weekdays: "Mon,Tue,Wed,Thu,Fri,Sat,Sun", drill: "Conversations on",
  export: "Export", export_conversations: "Conversations", audit: "Audit log",
  resolution: "Resolution rate", reopen: "Reopen rate", aht: "Handling time (s)", aht_hours: "Handling in business hours (s)",
  csat_bot: "CSAT (bot)", csat_human: "CSAT (agents)", cost_resolved: "Cost per resolved", confirm: "Median time to confirm (s)",
};
const ZH = {
  waiting: "排队中", longest: "最长等待", online: "在线客服", paused: "暂停", open_cases: "未结投诉", overdue_cases: "超时投诉",
  conversations: "会话量", handed_over: "转人工", escalation: "转人工率", human_frt: "人工首响", bot_frt: "机器人首响",
  csat: "满意度", containment: "自助解决率", cost: "成本", cost_per: "单会话成本", previous: "上期", agent: "客服",
  team_median: "团队中位数", seconds: "秒", volume: "会话量", frt: "首次响应（秒）", f_conversations: "接待量",
  f_first_response_seconds: "首响（秒）", f_handling_seconds: "处理时长（秒）", f_csat_satisfied_share: "满意度",
  f_ratings: "评价数", f_complaints: "投诉", f_transfers: "转接", f_quality_score: "质检分",
  f_online_seconds: "在线时长（秒）", f_paused_seconds: "暂停时长（秒）", f_utilisation: "利用率",
  heat: "咨询量（星期 × 时段）", weekdays: "周一,周二,周三,周四,周五,周六,周日", drill: "会话明细",
  resolution: "解决率", reopen: "重开率", aht: "处理时长（秒）", aht_hours: "工作时间内处理时长（秒）",
  csat_bot: "满意度（机器人）", csat_human: "满意度（人工）", cost_resolved: "单次解决成本", confirm: "投诉确认中位时长（秒）",
};
// The drill-down's columns (the export's field names) as staff read them.
const COLUMNS = {
  conversation: ["Conversation", "会话"], channel: ["Channel", "渠道"], opened_at: ["Opened", "开始时间"],
  tier: ["Tier", "等级"], customer_messages: ["Customer messages", "客户消息"], bot_replies: ["Bot replies", "机器人回复"],
  kb_answered: ["KB answered", "知识库作答"], kb_suggested: ["KB suggested", "知识库推荐"],
  kb_escalated: ["KB had no answer", "知识库未命中"], handed_over: ["Handed over", "转人工"],
  handoff_reason: ["Why handed over", "转人工原因"], team: ["Team", "团队"], agent: ["Agent", "客服"],
  queue_wait_seconds: ["Queue wait (s)", "排队（秒）"], first_response_seconds: ["First response (s)", "首响（秒）"],
  handling_seconds: ["Handling (s)", "处理时长（秒）"], agent_replies: ["Agent replies", "客服回复"],
  transfers: ["Transfers", "转接"], closed_by: ["Closed by", "结束方"], rating: ["Rating", "评分"],
  complaints: ["Complaints", "投诉"], recontact: ["Came back", "再次咨询"],
};
for (const [name, [en, zh]] of Object.entries(COLUMNS)) { EN[`c_${name}`] = en; ZH[`c_${name}`] = zh; }
Object.assign(EN, { yes: "yes", no: "no", no_rows: "No conversations in this range." });
Object.assign(ZH, { yes: "是", no: "否", no_rows: "该范围内没有会话。" });
const texts = i18n(EN, ZH);
const t = texts.t;
const charts = {};
const iso = (d) => d.toISOString().slice(0, 10);
const pct = (v) => (v === null || v === undefined ? "—" : `${(v * 100).toFixed(1)}%`);
const num = (v) => (v === null || v === undefined ? "—" : String(Math.round(v * 10) / 10));

function cardEl(label, value, before) {
  const div = document.createElement("div");
  div.className = "card";
  const v = document.createElement("div"); v.className = "value"; v.textContent = value;
  const l = document.createElement("div"); l.className = "label"; l.textContent = label;
  div.append(v, l);
  if (before !== undefined) { const b = document.createElement("div"); b.className = "muted"; b.textContent = `${t("previous")} ${before}`; div.append(b); }
  return div;
}

const total = (row) => Object.values(row || {}).reduce((a, b) => a + b, 0);
const biggest = (row) => Math.max(0, ...Object.values(row || {}));

async function loadLive() {
  const r = await api("GET", "/api/reports/live");
  if (!r.ok) return;
  const d = r.data, agents = d.cs_agents || {};
  $("live").replaceChildren(
    cardEl(t("waiting"), String(total(d.cs_queue_waiting))),
    cardEl(t("longest"), `${Math.round(biggest(d.cs_queue_oldest_wait_seconds))}${t("seconds")}`),
    cardEl(t("online"), String(agents.online || 0)),
    cardEl(t("paused"), String(agents.paused || 0)),
    cardEl(t("open_cases"), String(total(d.cs_complaints_open))),
    cardEl(t("overdue_cases"), String(total(d.cs_complaints_overdue))),
  );
}

function keyFigures(f) {
  return [
    [t("conversations"), String(f.volume.conversations)],
    [t("handed_over"), String(f.volume.handed_over)],
    [t("escalation"), pct(f.containment.escalation_rate)],
    [t("human_frt"), num(f.human.first_response_seconds.mean)],
    [t("bot_frt"), num(f.bot.first_response_seconds.mean)],
    [t("csat"), pct(f.csat.satisfied_share)],
    [t("containment"), pct(f.containment.rate)],
    [t("resolution"), pct(f.resolution.rate)],
    [t("reopen"), pct(f.human.reopen_rate)],
    [t("aht"), num(f.human.handling_seconds.mean)],
    [t("aht_hours"), num(f.human.handling_in_hours_seconds.mean)],
    [t("csat_bot"), pct(f.csat.bot.satisfied_share)],
    [t("csat_human"), pct(f.csat.human.satisfied_share)],
    [t("cost"), `${num(f.cost.total)} ${f.cost.currency}`],
    [t("cost_per"), num(f.cost.per_conversation)],
    [t("cost_resolved"), num(f.cost.per_resolved_conversation)],
    [t("confirm"), num(f.complaints.median_seconds_to_confirm)],
  ];
}

function chart(id, title, days, lines, format) {
  const el = $(id);
  charts[id] = charts[id] || window.echarts.init(el);
  charts[id].setOption({
    animation: false,
    title: { text: title, textStyle: { fontSize: 14 } },
    tooltip: { trigger: "axis" },
    legend: { top: 0, right: 0 },
    grid: { left: 48, right: 16, top: 40, bottom: 28 },
    xAxis: { type: "category", data: days.map((d) => d.day.slice(5)) },
    yAxis: { type: "value", axisLabel: format ? { formatter: format } : {} },
    series: lines.map(([name, pick, type]) => ({ name, type: type || "line", data: days.map((d) => pick(d.figures)) })),
  }, true);
}

async function loadPeriod() {
  const query = `from=${$("from").value}&to=${$("to").value}`;
  const r = await api("GET", `/api/reports/summary?${query}`);
  if (!r.ok) { $("range-error").textContent = r.data.error || ""; return; }
  $("range-error").textContent = "";
  for (const what of ["conversations", "scorecards"]) {
    for (const format of ["csv", "xlsx"]) $(`export-${what}-${format}`).href = `/api/reports/${what}?${query}&format=${format}`;
  }
  const now = keyFigures(r.data.figures), before = keyFigures(r.data.previous.figures);
  $("summary").replaceChildren(...now.map(([label, value], i) => cardEl(label, value, before[i][1])));
  const s = await api("GET", `/api/reports/series?${query}`);
  if (s.ok) {
    const days = s.data.days;
    const share = (v) => `${Math.round(v * 100)}%`;
    chart("chart-volume", t("volume"), days, [[t("conversations"), (f) => f.volume.conversations, "bar"], [t("handed_over"), (f) => f.volume.handed_over, "bar"]]);
    // Anywhere in a day's column, not only on its bars (small bars are hard to hit).
    const volume = charts["chart-volume"], zr = volume.getZr();
    zr.off("click");
    zr.on("click", (e) => {
      const point = [e.offsetX, e.offsetY];
      if (!volume.containPixel("grid", point)) return;
      const [index] = volume.convertFromPixel({ seriesIndex: 0 }, point);
      if (days[index]) drill(days[index].day);
    });
    chart("chart-frt", t("frt"), days, [[t("human_frt"), (f) => f.human.first_response_seconds.mean], [t("bot_frt"), (f) => f.bot.first_response_seconds.mean]]);
    chart("chart-csat", t("csat"), days, [[t("csat"), (f) => f.csat.satisfied_share]], share);
    chart("chart-containment", t("containment"), days, [[t("containment"), (f) => f.containment.rate]], share);
    chart("chart-cost", `${t("cost")} (${r.data.figures.cost.currency})`, days, [[t("cost"), (f) => f.cost.total, "bar"]]);
  }
  const h = await api("GET", `/api/reports/heatmap?${query}`);
  if (h.ok) heat(h.data.grid);
  const c = await api("GET", `/api/reports/scorecards?${query}`);
  if (c.ok) renderScorecards(c.data);
}

// Traffic by weekday (rows, Monday first) and local hour (columns): when customers write.
function heat(grid) {
  const el = $("chart-heat");
  charts["chart-heat"] = charts["chart-heat"] || window.echarts.init(el);
  const cells = grid.flatMap((hours, day) => hours.map((n, hour) => [hour, day, n]));
  charts["chart-heat"].setOption({
    animation: false,
    title: { text: t("heat"), textStyle: { fontSize: 14 } },
    tooltip: { position: "top" },
    grid: { left: 48, right: 16, top: 40, bottom: 80 },
    xAxis: { type: "category", data: [...Array(24).keys()].map(String), splitArea: { show: true } },
    yAxis: { type: "category", data: t("weekdays").split(","), splitArea: { show: true } },
    visualMap: { min: 0, max: Math.max(1, ...cells.map((c) => c[2])), calculable: true, orient: "horizontal", left: "center", bottom: 0, itemHeight: 120 },
    series: [{ name: t("heat"), type: "heatmap", data: cells, label: { show: false } }],
  }, true);
}

// Drill-down: a click on a day of the volume chart lists that day's conversations, a click on an agent
// in the scorecards lists the period's conversations of that agent (user ids masked).
async function drill(day, agent) {
  const range = agent ? `from=${$("from").value}&to=${$("to").value}&agent=${encodeURIComponent(agent.id)}` : `from=${day}&to=${day}`;
  $("drill").classList.remove("hidden");
  listState("drill-state", "loading");
  const r = await api("GET", `/api/reports/conversations?${range}&format=json`);
  showListResult("drill-state", r, r.data.rows, t("no_rows"));
  if (!r.ok) return;
  const what = agent ? `${agent.name} ${$("from").value} – ${$("to").value}` : day;
  $("drill-title").textContent = `${t("drill")} ${what} · ${r.data.rows.length}`;
  const head = document.createElement("tr");
  for (const c of r.data.columns) {
    const th = document.createElement("th");
    th.textContent = COLUMNS[c] ? t(`c_${c}`) : c;
    head.append(th);
  }
  $("drill-head").replaceChildren(head);
  $("drill-rows").replaceChildren(...r.data.rows.map((cells) => {
    const tr = document.createElement("tr");
    for (const v of cells) {
      const td = document.createElement("td");
      td.textContent = v === true ? t("yes") : v === false ? t("no") : v === null || v === "" ? "—" : String(v);
      tr.append(td);
    }
    return tr;
  }));
}

function renderScorecards(data) {
  const head = document.createElement("tr");
  for (const label of [t("agent"), ...data.figures.map((f) => t("f_" + f))]) { const th = document.createElement("th"); th.textContent = label; head.append(th); }
  $("scorecard-head").replaceChildren(head);
  $("scorecards").replaceChildren(...data.agents.map((row) => {
    const tr = document.createElement("tr");
    const who = document.createElement("td");
    const link = document.createElement("button");
    link.type = "button"; link.className = "link"; link.textContent = `${row.name} · ${row.team}`;
    link.addEventListener("click", () => drill(null, { id: row.agent, name: row.name }));
    who.append(link); tr.append(who);
    for (const f of data.figures) {
      const td = document.createElement("td");
      const show = f === "csat_satisfied_share" || f === "utilisation" ? pct : num;
      td.textContent = show(row.figures[f]);
      const median = document.createElement("div"); median.className = "median";
      median.textContent = `${t("team_median")} ${show(row.team_median[f])}`;
      td.append(median); tr.append(td);
    }
    return tr;
  }));
}

async function start() {
  if (!(await signedIn())) return;
  if (!$("to").value) {
    // "Today" is the reports' day (their time zone), which the server knows, not the browser's.
    const today = await api("GET", "/api/reports/summary");
    if (!today.ok) return;
    $("to").value = today.data.to;
    $("from").value = iso(new Date(Date.parse(today.data.to + "T00:00:00Z") - 13 * 86400000));
  }
  await loadLive();
  await loadPeriod();
}

$("range").addEventListener("submit", (e) => { e.preventDefault(); loadPeriod(); });
$("lang-switch").addEventListener("click", () => { texts.toggle(); start(); });
window.addEventListener("resize", () => Object.values(charts).forEach((c) => c.resize()));
bindLogin(start, showLogin);
texts.apply();
start();
setInterval(() => { if (!$("app").classList.contains("hidden")) loadLive(); }, 10000);
