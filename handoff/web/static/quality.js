// Quality inspection (/agent/quality): inspectors pick a sampled conversation, read it and score it
// against the checklist, and keep the checklist itself; every agent reads their own reviews.
import { $, api, bindLogin, i18n, session, showListResult, showLogin, signedIn, transcriptLine } from "/staff/staff.js";

const EN = {
  title: "Quality inspection", console: "Agent console", complaints: "Complaint cases", login: "Log in",
  username: "User name", password: "Password", samples: "Waiting for review", no_samples: "Nothing to review",
  pick: "Pick a conversation", score: "Score", criterion: "Criterion", weight: "Weight", points: "Points (0-5)",
  remark: "Remark", overall: "Overall comment", submit: "Submit score", checklist: "Checklist",
  description: "Description", add_row: "Add a criterion", save: "Save checklist", mine: "My reviews",
  random: "random sample", low_rating: "low rating", complaint: "complaint", saved: "Saved", scored: "Score",
  average: "Average", reviews_n: "reviews", by: "by", none_yet: "No reviews yet",
};
const ZH = {
  random: "随机抽检", low_rating: "差评", complaint: "投诉", saved: "已保存", scored: "得分", average: "平均分",
  reviews_n: "次质检", by: "质检员", none_yet: "暂无质检结果", no_samples: "没有待质检的会话",
};
const texts = i18n(EN, ZH);
const t = texts.t;
let current = null, checklist = [];
const when = (stamp) => new Date(stamp * 1000).toLocaleString(texts.lang === "en" ? "en-GB" : "zh-CN");

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

function input(type, value, label) {
  const node = document.createElement("input");
  node.type = type; node.value = value; node.setAttribute("aria-label", label);
  return node;
}

async function loadSamples() {
  const r = await api("GET", "/api/quality/samples");
  showListResult("samples-state", r, r.data.samples, t("no_samples"));
  if (!r.ok) return;
  $("samples").replaceChildren(...r.data.samples.map((s) => {
    const li = el("li");
    li.tabIndex = 0;
    li.dataset.conversation = s.conversation;
    li.classList.toggle("selected", s.conversation === current);
    li.append(el("div", s.conversation), el("div", `${s.agent} · ${t(s.reason)} · ${when(s.at)}`, "muted"));
    const pick = () => { current = s.conversation; loadSamples(); showSample(); };
    li.addEventListener("click", pick);
    li.addEventListener("keydown", (e) => { if (e.key === "Enter") pick(); });
    return li;
  }));
}

async function showSample() {
  $("sample-title").textContent = current;
  const r = await api("GET", `/api/quality/samples/${encodeURIComponent(current)}`);
  if (!r.ok) return;
  $("lines").replaceChildren(...r.data.lines.map((line) => el("div", transcriptLine(line), line.role)));
  $("submit-score").disabled = false;
  $("score-result").textContent = ""; $("score-error").textContent = "";
}

function renderScoreForm() {
  $("criteria").replaceChildren(...checklist.map((c) => {
    const tr = el("tr");
    tr.dataset.criterion = c.id;
    const name = el("td", c.name);
    if (c.description) name.append(el("div", c.description, "muted"));
    const points = input("number", "5", c.name);
    points.min = "0"; points.max = "5"; points.step = "1"; points.className = "points";
    const remark = input("text", "", `${c.name} ${t("remark")}`);
    remark.className = "remark";
    const cells = [name, el("td", String(c.weight)), el("td"), el("td")];
    cells[2].append(points); cells[3].append(remark);
    tr.append(...cells);
    return tr;
  }));
}

function checklistRow(c) {
  const tr = el("tr");
  const fields = [input("text", c.id, "ID"), input("text", c.name, t("criterion")), input("number", String(c.weight), t("weight")), input("text", c.description || "", t("description"))];
  for (const f of fields) { const td = el("td"); td.append(f); tr.append(td); }
  return tr;
}

async function loadChecklist() {
  const r = await api("GET", "/api/quality/checklist");
  if (!r.ok) return;
  checklist = r.data.criteria;
  renderScoreForm();
  $("checklist").replaceChildren(...checklist.map(checklistRow));
}

async function loadMine() {
  const r = await api("GET", "/api/quality/reviews/mine");
  if (!r.ok) return;
  $("my-average").textContent = r.data.count ? `${t("average")} ${r.data.average} · ${r.data.count} ${t("reviews_n")}` : t("none_yet");
  $("my-reviews").replaceChildren(...r.data.reviews.map((review) => {
    const div = el("div", undefined, "review");
    div.append(el("div", `${review.conversation} · ${t("scored")} ${review.total} · ${t(review.reason)} · ${t("by")} ${review.reviewer} · ${when(review.at)}`));
    for (const c of review.checklist) {
      const remark = review.comments[c.id] ? ` — ${review.comments[c.id]}` : "";
      div.append(el("div", `${c.name}: ${review.scores[c.id]}/5${remark}`, "muted"));
    }
    if (review.comment) div.append(el("div", review.comment));
    return div;
  }));
}

$("score-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  if (!current) return;
  const scores = {}, comments = {};
  for (const tr of $("criteria").children) {
    scores[tr.dataset.criterion] = Number(tr.querySelector(".points").value);
    const remark = tr.querySelector(".remark").value.trim();
    if (remark) comments[tr.dataset.criterion] = remark;
  }
  const r = await api("POST", "/api/quality/reviews", { conversation: current, scores, comments, comment: $("overall").value.trim() });
  if (r.ok) {
    $("score-result").textContent = `${t("scored")} ${r.data.total}`;
    $("score-error").textContent = ""; $("overall").value = ""; $("submit-score").disabled = true;
    renderScoreForm(); loadSamples();
  } else $("score-error").textContent = r.data.error;
});
$("add-criterion").addEventListener("click", () => $("checklist").append(checklistRow({ id: "", name: "", weight: 0 })));
$("checklist-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const criteria = [...$("checklist").children].map((tr) => {
    const [id, name, weight, description] = [...tr.querySelectorAll("input")].map((f) => f.value.trim());
    return { id, name, weight: Number(weight), description };
  }).filter((c) => c.id || c.name);
  const r = await api("PUT", "/api/quality/checklist", { criteria });
  $("checklist-status").textContent = r.ok ? t("saved") : r.data.error;
  if (r.ok) loadChecklist();
});

async function start() {
  if (!(await signedIn())) return;
  const inspector = ["quality", "supervisor", "admin"].some((role) => session.roles.includes(role));
  document.querySelectorAll(".inspector").forEach((node) => node.classList.toggle("hidden", !inspector));
  $("app").classList.toggle("agent-only", !inspector);
  if (inspector) { await loadChecklist(); await loadSamples(); }
  await loadMine();
}

$("lang-switch").addEventListener("click", () => { texts.toggle(); start(); });
bindLogin(start, showLogin);
texts.apply();
start();
