// Settings (supervisors): each team's business hours as a weekly grid of time ranges, its holidays
// (imported from the State Council's notice or added by hand) and its 调休 working days. Saved as the
// schedule JSON the hours API keeps; the API's checks are the ones that count, and its errors are shown.
import { $, api, bindLogin, i18n, showLogin, signedIn } from "/staff/staff.js";
import { ROUTING_EN, ROUTING_ZH, loadRouting, setUpRouting } from "/agent/static/routing.js";

const EN = {
  title: "Settings", hours: "Business hours", loading: "Loading…", team: "Team", timezone: "Time zone",
  hours_help: "Outside a team's hours, customers who ask for a person are invited to leave a message; a team without hours is always open.",
  weekly: "Every week", day: "Day", ranges: "Opening hours", copy_monday: "Use Monday's hours Tuesday to Friday",
  holidays: "Holidays (closed all day)", import_holidays: "Import the State Council's holiday notice (.txt/.html, or holiday-cn .json)",
  date: "Date", name: "Name", actions: "Actions", no_holidays: "No holidays yet.", add_holiday: "Add a holiday",
  special: "Working days in lieu (open these hours)", no_special: "No working days in lieu.", add_special: "Add a working day",
  save: "Save", clear: "Remove hours (always open)", saved: "Saved", cleared: "Removed: always open",
  add_range: "+ Hours", remove: "Remove", closed: "Closed", from: "Opens", to: "Closes",
  open_now: "open now", closed_now: "closed, opens", closed_long: "closed", no_teams: "No team has hours yet: every team is always open.",
  imported: (off, work) => `Read ${off} holidays and ${work} working days in lieu: check them, then save.`,
  load_error: "Could not load the hours", need_team: "Name the team first.", first_day: "First day", last_day: "Last day",
  holiday: "Holiday", n_days: (n) => (n === 1 ? "1 day" : `${n} days`),
};
const ZH = {
  add_range: "+ 时段", remove: "删除", closed: "休息", from: "开始", to: "结束", saved: "已保存", cleared: "已删除，全天营业",
  open_now: "营业中", closed_now: "休息中，下次营业", closed_long: "休息中", no_teams: "还没有团队设置营业时间：所有团队全天营业。",
  imported: (off, work) => `读到 ${off} 个节假日、${work} 个调休上班日，请检查后保存。`,
  load_error: "营业时间加载失败", need_team: "请先填写团队。", holiday: "节假日", n_days: (n) => `共 ${n} 天`,
};
const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const DAY_NAMES = { zh: ["周一", "周二", "周三", "周四", "周五", "周六", "周日"], en: ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"] };
const texts = i18n({ ...EN, ...ROUTING_EN }, { ...ZH, ...ROUTING_ZH });
const t = texts.t;
let schedules = {}; // team → stored schedule
let shown = null; // the schedule the form shows (edited in place until saved)

function defaultSchedule() {
  const weekdays = Object.fromEntries(DAYS.map((d, i) => [d, i < 5 ? ["09:00-18:00"] : []]));
  return { timezone: "Asia/Shanghai", weekly: weekdays, holidays: {}, special: {} };
}

/** A schedule as the form edits it: holidays always {date: name}, ranges always lists. */
function normalised(schedule) {
  const s = JSON.parse(JSON.stringify(schedule || defaultSchedule()));
  if (Array.isArray(s.holidays)) s.holidays = Object.fromEntries(s.holidays.map((d) => [d, ""]));
  s.holidays = s.holidays || {}; s.special = s.special || {}; s.weekly = s.weekly || {};
  DAYS.forEach((d) => { s.weekly[d] = s.weekly[d] || []; });
  return s;
}

function button(label, onClick, cls = "") {
  const b = document.createElement("button");
  b.type = "button"; b.textContent = label; if (cls) b.className = cls;
  b.addEventListener("click", onClick);
  return b;
}

/** Editable time ranges (HH:MM-HH:MM) of one day; 24:00 shows as 00:00 in the closing field. */
function rangesEditor(ranges, label, redraw) {
  const box = document.createElement("div"); box.className = "ranges";
  ranges.forEach((range, i) => {
    const [from, to] = range.split("-");
    const span = document.createElement("span"); span.className = "range";
    const start = Object.assign(document.createElement("input"), { type: "time", value: from });
    const end = Object.assign(document.createElement("input"), { type: "time", value: to === "24:00" ? "00:00" : to });
    start.setAttribute("aria-label", `${label} ${t("from")} ${i + 1}`);
    end.setAttribute("aria-label", `${label} ${t("to")} ${i + 1}`);
    const update = () => { ranges[i] = `${start.value}-${end.value === "00:00" ? "24:00" : end.value}`; };
    start.addEventListener("change", update); end.addEventListener("change", update);
    const remove = button("×", () => { ranges.splice(i, 1); redraw(); }, "icon");
    remove.setAttribute("aria-label", `${t("remove")} ${label} ${from}-${to}`);
    span.append(start, "–", end, remove);
    box.append(span);
  });
  if (!ranges.length) box.append(Object.assign(document.createElement("span"), { className: "closed", textContent: t("closed") }));
  const add = button(t("add_range"), () => { ranges.push(ranges.length ? "13:00-18:00" : "09:00-18:00"); redraw(); });
  add.setAttribute("aria-label", `${t("add_range")} ${label}`);
  box.append(add);
  return box;
}

function cell(...children) { const td = document.createElement("td"); td.append(...children); return td; }

function drawWeekly() {
  const names = DAY_NAMES[texts.lang] || DAY_NAMES.zh;
  $("weekly").tBodies[0].replaceChildren(...DAYS.map((day, i) => {
    const tr = document.createElement("tr"); tr.dataset.day = day;
    const th = document.createElement("th"); th.scope = "row"; th.textContent = names[i];
    tr.append(th, cell(rangesEditor(shown.weekly[day], names[i], drawWeekly)));
    return tr;
  }));
}

function dateInput(value, label, onChange) {
  const input = Object.assign(document.createElement("input"), { type: "date", value, required: true });
  input.setAttribute("aria-label", label);
  input.addEventListener("change", () => onChange(input.value));
  return input;
}

/** Move a dated row to another date, keeping its value (a date edited in place). */
function redate(map, from, to) { if (to && to !== from && !(to in map)) { map[to] = map[from]; delete map[from]; } }

const DAY_MS = 86400000;
const addDays = (date, n) => new Date(Date.parse(date) + n * DAY_MS).toISOString().slice(0, 10);
function daysFrom(first, last) {
  const days = [];
  for (let d = first; d <= last && days.length < 366; d = addDays(d, 1)) days.push(d);
  return days;
}

/** Holidays as a supervisor thinks of them: runs of consecutive days with one name (春节 1/28–2/4). */
function holidayRuns() {
  const runs = [];
  for (const date of Object.keys(shown.holidays).sort()) {
    const name = shown.holidays[date], run = runs[runs.length - 1];
    if (run && run.name === name && addDays(run.last, 1) === date) run.last = date;
    else runs.push({ first: date, last: date, name });
  }
  return runs;
}

function setRun(old, first, last, name) {
  daysFrom(old.first, old.last).forEach((d) => { delete shown.holidays[d]; });
  if (first && last && first <= last) daysFrom(first, last).forEach((d) => { shown.holidays[d] = name; });
  drawHolidays();
}

function drawHolidays() {
  const runs = holidayRuns();
  $("holidays-empty").classList.toggle("hidden", runs.length > 0);
  $("holidays").classList.toggle("hidden", !runs.length);
  $("holidays").tBodies[0].replaceChildren(...runs.map((run) => {
    const tr = document.createElement("tr"); tr.dataset.date = run.first;
    const label = `${run.name || t("holiday")} ${run.first}`;
    const name = Object.assign(document.createElement("input"), { type: "text", value: run.name, maxLength: 40 });
    name.setAttribute("aria-label", `${t("name")} ${label}`);
    name.addEventListener("input", () => { daysFrom(run.first, run.last).forEach((d) => { shown.holidays[d] = name.value; }); });
    name.addEventListener("change", () => drawHolidays());
    const first = dateInput(run.first, `${t("first_day")} ${label}`, (v) => setRun(run, v, v > run.last ? v : run.last, run.name));
    const last = dateInput(run.last, `${t("last_day")} ${label}`, (v) => setRun(run, run.first, v, run.name));
    const days = Object.assign(document.createElement("span"), { className: "muted", textContent: t("n_days")(daysFrom(run.first, run.last).length) });
    const remove = button(t("remove"), () => setRun(run));
    remove.setAttribute("aria-label", `${t("remove")} ${label}`);
    tr.append(cell(first), cell(last, " ", days), cell(name), cell(remove));
    return tr;
  }));
}

function drawSpecial() {
  const dates = Object.keys(shown.special).sort();
  $("special-empty").classList.toggle("hidden", dates.length > 0);
  $("special").classList.toggle("hidden", !dates.length);
  $("special").tBodies[0].replaceChildren(...dates.map((date) => {
    const tr = document.createElement("tr"); tr.dataset.date = date;
    const remove = button(t("remove"), () => { delete shown.special[date]; drawSpecial(); });
    remove.setAttribute("aria-label", `${t("remove")} ${date}`);
    tr.append(cell(dateInput(date, `${t("date")} ${date}`, (v) => { redate(shown.special, date, v); drawSpecial(); })),
      cell(rangesEditor(shown.special[date], date, drawSpecial)), cell(remove));
    return tr;
  }));
}

function drawForm() {
  $("hours-timezone").value = shown.timezone || "Asia/Shanghai";
  drawWeekly(); drawHolidays(); drawSpecial();
}

function showTeam(team) {
  shown = normalised(schedules[team]);
  drawForm();
}

function drawTeams(teams) {
  $("team-names").replaceChildren(...Object.keys(teams).map((team) => Object.assign(document.createElement("option"), { value: team })));
  $("teams-state").textContent = Object.keys(teams).length ? "" : t("no_teams");
  $("teams-state").classList.toggle("hidden", Object.keys(teams).length > 0);
  $("teams-now").replaceChildren(...Object.entries(teams).map(([team, e]) => {
    const li = document.createElement("li");
    const state = document.createElement("span");
    state.className = e.open ? "open-now" : "closed-now";
    // In the team's own time zone, as customers and the team read their hours.
    const zone = { timeZone: (e.schedule && e.schedule.timezone) || "Asia/Shanghai", dateStyle: "medium", timeStyle: "short" };
    const next = e.next_open ? new Date(e.next_open).toLocaleString(texts.lang === "en" ? "en-GB" : "zh-CN", zone) : "";
    state.textContent = e.open ? t("open_now") : (next ? `${t("closed_now")} ${next}` : t("closed_long"));
    li.append(`${team}: `, state);
    return li;
  }));
}

async function loadHours(pick) {
  $("teams-state").classList.remove("hidden", "error");
  $("teams-state").textContent = t("loading");
  const r = await api("GET", "/api/agent/hours");
  if (!r.ok) { $("teams-state").classList.add("error"); $("teams-state").textContent = `${t("load_error")}: ${r.data.error || r.status}`; return; }
  schedules = Object.fromEntries(Object.entries(r.data.teams).map(([team, e]) => [team, e.schedule]));
  drawTeams(r.data.teams);
  if (pick !== undefined) return;
  const team = Object.keys(schedules)[0] || "support";
  $("hours-team").value = team;
  showTeam(team);
}

$("hours-team").addEventListener("change", () => { const team = $("hours-team").value.trim(); if (team in schedules) showTeam(team); });
$("hours-timezone").addEventListener("change", () => { shown.timezone = $("hours-timezone").value; });
$("copy-monday").addEventListener("click", () => { ["tue", "wed", "thu", "fri"].forEach((d) => { shown.weekly[d] = [...shown.weekly.mon]; }); drawWeekly(); });
$("add-holiday").addEventListener("click", () => {
  let day = new Date(); while (day.toISOString().slice(0, 10) in shown.holidays) day = new Date(day.getTime() + 86400000);
  shown.holidays[day.toISOString().slice(0, 10)] = ""; drawHolidays();
  $("holidays").querySelector(`tr[data-date="${day.toISOString().slice(0, 10)}"] input[type=date]`).focus();
});
$("add-special").addEventListener("click", () => {
  const today = new Date().toISOString().slice(0, 10);
  if (!(today in shown.special)) shown.special[today] = [...(shown.weekly.mon.length ? shown.weekly.mon : ["09:00-18:00"])];
  drawSpecial();
});
$("holiday-file").addEventListener("change", async () => {
  const file = $("holiday-file").files[0];
  if (!file) return;
  const r = await api("POST", "/api/agent/holiday-list", undefined, await file.arrayBuffer());
  $("import-result").className = r.ok ? "ok" : "error";
  if (!r.ok) { $("import-result").textContent = r.data.error; return; }
  // A 调休 working day opens with the team's usual weekday hours.
  const weekday = DAYS.slice(0, 5).map((d) => shown.weekly[d]).find((ranges) => ranges.length) || ["09:00-18:00"];
  const off = r.data.days.filter((d) => d.off), work = r.data.days.filter((d) => !d.off);
  off.forEach((d) => { shown.holidays[d.date] = d.name; delete shown.special[d.date]; });
  work.forEach((d) => { if (!(d.date in shown.special)) shown.special[d.date] = [...weekday]; });
  const say = t("imported"); $("import-result").textContent = typeof say === "function" ? say(off.length, work.length) : say;
  $("holiday-file").value = "";
  drawHolidays(); drawSpecial();
});
$("hours-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const team = $("hours-team").value.trim();
  $("hours-status").textContent = ""; $("hours-error").textContent = "";
  if (!team) { $("hours-error").textContent = t("need_team"); $("hours-team").focus(); return; }
  const r = await api("PUT", `/api/agent/hours/${encodeURIComponent(team)}`, shown);
  if (!r.ok) { $("hours-error").textContent = r.data.error; return; }
  $("hours-status").className = "ok";
  $("hours-status").textContent = `${t("saved")} ${new Date().toLocaleTimeString()}`;
  await loadHours(team);
});
$("hours-clear").addEventListener("click", async () => {
  const team = $("hours-team").value.trim();
  if (!team) return;
  const r = await api("DELETE", `/api/agent/hours/${encodeURIComponent(team)}`);
  $("hours-error").textContent = r.ok || r.status === 404 ? "" : r.data.error;
  $("hours-status").textContent = r.ok || r.status === 404 ? t("cleared") : "";
  await loadHours(team);
  shown = defaultSchedule(); drawForm();
});

async function start() { if (await signedIn()) await Promise.all([loadHours(), loadRouting()]); }
setUpRouting(texts);
$("lang-switch").addEventListener("click", () => { texts.toggle(); if (shown) drawForm(); loadHours(shown ? "" : undefined); });
bindLogin(start, showLogin);
texts.apply();
start();
