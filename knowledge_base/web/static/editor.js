// The knowledge-base editor (/kb): entries, tester, publish and versions, golden questions, inbox.
import { $, api, bindLogin, i18n, showLogin, signedIn } from "/staff/staff.js";
import { loadEntryChoices, loadGolden, loadSynonyms, setUpGolden, showReport } from "/kb/static/golden.js";
import { PREVIEW_EN, PREVIEW_ZH, setUpPreview } from "/kb/static/preview.js";
import { BULK_EN, BULK_ZH, listShown, selectBox, setUpBulk } from "/kb/static/bulk.js";

const EN = {
  title: "Knowledge base", logout: "Log out", login: "Log in", username: "User name", password: "Password",
  entries: "Entries", search: "Search questions, answers or ids", all_locales: "All locales", new_entry: "New entry",
  import_export: "Import / export", inbox_empty: "Nothing unanswered: every question found an entry.",
  inbox_help: "Questions customers asked that no entry answered, most asked first: open one to start an entry, or add it as a phrasing of the open entry.", loading: "Loading…", explanation: "Why this answer", import_file: "File to import", import_mode: "Import mode",
  test_target: "Test against", merge: "Merge", replace: "Replace all", import: "Import", inbox: "Unanswered questions",
  editor: "Edit entry", locale: "Locale", category: "Category", question: "Standard question",
  alternatives: "Alternative phrasings (one per line)", answer: "Answer", enabled: "Enabled", save: "Save draft",
  delete: "Delete", tester: "Test: what would the bot answer", test_placeholder: "A customer's question",
  draft: "Draft", live: "Live", test: "Test", publish: "Publish", publish_message: "What changed",
  force: "Publish even if golden questions fail", versions: "Versions", golden: "Golden questions",
  golden_help: "Checked before every publish: each question must get its expected entry (or escalate), or the publish is refused.",
  calibrate: "Calibrate thresholds", question_col: "Customer question", expected: "Expected", expected_entry: "Expected entry (search by question or id)",
  should_escalate: "Should escalate", add_golden: "Add and save", no_golden: "No golden questions yet.", remove: "Remove",
  report: "Golden questions that fail", got: "Got", band: "Result", pick_entry: "Pick an entry from the list, or tick Should escalate.",
  need_question: "Type the customer's question.", word: "Word", variants: "Variants (comma separated)", actions: "Actions",
  no_synonyms: "No synonyms yet.", add_synonym: "Add a row", days7: "7 days", days30: "30 days", used_answer: "answered",
  used_suggest: "suggested", used_escalate: "escalated", last_used: "last used", no_entries: "No entries match.", load_error: "Could not load",
  diff: "Diff with draft", rollback: "Roll back", saved: "Saved", published: "Published version", imported: "Imported",
  band_answer: "Answer", band_suggest: "Suggest", band_escalate: "Escalate", live_marker: "live",
  more: "More settings", tags: "Tags (comma separated)", channel_answers: "Per-channel answers (one per line: channel: answer)",
  buttons: "Buttons (one per line: title | payload)", image: "Image URL", valid_from: "Valid from (ISO time)",
  valid_until: "Valid until", answer_threshold: "Answer threshold for this entry (empty: global)",
  suggest_threshold: "Suggest threshold for this entry (empty: global)", synonyms: "Synonyms",
  synonyms_help: "When a customer says a variant, it is matched as the word (from the next publish).", add_phrasing: "Add as phrasing",
};
const ZH = {
  inbox_empty: "没有未解决问题：客户的问题都找到了条目。", diff: "与草稿比较", rollback: "回滚", saved: "已保存", published: "已发布版本", imported: "已导入",
  band_answer: "直接回答", band_suggest: "推荐问题", band_escalate: "转人工/不知道", live_marker: "线上",
  add_phrasing: "加为相似问法", remove: "删除", days7: "近 7 天", days30: "近 30 天", used_answer: "回答",
  used_suggest: "推荐", used_escalate: "转人工", last_used: "最近使用", no_entries: "没有符合条件的条目。", load_error: "加载失败", got: "实际", band: "结果",
  pick_entry: "请从列表中选一个条目，或勾选“应转人工”。", need_question: "请输入客户问题。",
};
const texts = i18n({ ...EN, ...PREVIEW_EN, ...BULK_EN }, { ...ZH, ...PREVIEW_ZH, ...BULK_ZH });
const t = texts.t;

function showError(el, data) {
  el.className = "error";
  el.textContent = (data.error || "error") + (data.errors ? "\n" + data.errors.join("\n") : "")
    + (data.report ? "\n" + data.report.map((r) => `${r.text}: ${r.expected} → ${r.got}`).join("\n") : "");
}
function showOk(el, text) { el.className = "ok"; el.textContent = text; }

async function start() {
  if (!(await signedIn())) return;
  await Promise.all([loadEntries(), loadVersions(), loadGolden(), loadInbox(), loadSynonyms(), loadEntryChoices()]);
}

let usage = {};
/** "7 days: answered 3 · suggested 1 · escalated 0" for an entry (window 0: 7 days, 1: 30 days). */
function usageText(entry, window) {
  const u = usage[`${entry.locale}/${entry.id}`];
  const n = (band) => (u ? u[band][window] : 0);
  return `${t(window ? "days30" : "days7")}: ${t("used_answer")} ${n("answer")} · ${t("used_suggest")} ${n("suggest")} · ${t("used_escalate")} ${n("escalate")}`;
}
function showUsage(entry) {
  const u = usage[`${entry.locale}/${entry.id}`];
  $("entry-usage").textContent = entry.id
    ? `${usageText(entry, 0)}；${usageText(entry, 1)}；${t("last_used")} ${u && u.last_used ? u.last_used : "—"}` : "";
}

async function loadEntries() {
  const params = new URLSearchParams({ q: $("search").value, locale: $("filter-locale").value, category: $("filter-category").value });
  const [res, used] = await Promise.all([api("GET", "/api/kb/entries?" + params), api("GET", "/api/kb/usage")]);
  usage = used.ok ? used.data.usage : {};
  const list = $("entries"); list.replaceChildren();
  const entries = res.data.entries || [];
  $("entries-state").textContent = res.ok ? (entries.length ? "" : t("no_entries")) : `${t("load_error")}: ${res.data.error || res.status}`;
  $("entries-state").classList.toggle("error", !res.ok);
  for (const entry of entries) {
    // A button, not a clickable row: keyboard and screen-reader users open entries too.
    const li = document.createElement("li");
    const open = document.createElement("button"); open.type = "button"; open.className = "entry-link";
    open.dataset.entry = `${entry.locale}/${entry.id}`;
    const meta = document.createElement("span"); meta.className = "muted";
    meta.textContent = `${entry.id} · ${entry.locale}${entry.enabled ? "" : " · off"} · ${usageText(entry, 0)}`;
    open.append(entry.question, meta);
    open.addEventListener("click", () => fillForm(entry));
    li.append(selectBox(entry), open);
    list.append(li);
  }
  listShown();
}
function fillForm(entry) {
  showUsage(entry);
  $("f-id").value = entry.id || ""; $("f-locale").value = entry.locale || "zh-CN";
  $("f-category").value = entry.category || ""; $("f-question").value = entry.question || "";
  $("f-alternatives").value = (entry.alternatives || []).join("\n"); $("f-answer").value = entry.answer || "";
  $("f-enabled").checked = entry.enabled !== false;
  $("f-tags").value = (entry.tags || []).join(", ");
  $("f-channel-answers").value = Object.entries(entry.channel_answers || {}).map(([k, v]) => `${k}: ${v}`).join("\n");
  $("f-buttons").value = (entry.buttons || []).map((b) => `${b.title} | ${b.payload}`).join("\n");
  $("f-image").value = entry.image_url || ""; $("f-from").value = entry.valid_from || ""; $("f-until").value = entry.valid_until || "";
  $("f-answer-th").value = entry.answer_threshold ?? ""; $("f-suggest-th").value = entry.suggest_threshold ?? "";
  previewSoon();
}
function lines(id) { return $(id).value.split("\n").map((s) => s.trim()).filter(Boolean); }
/** The entry the form shows, as the API takes it. */
function formEntry() {
  return {
    id: $("f-id").value.trim(), locale: $("f-locale").value, category: $("f-category").value,
    question: $("f-question").value, alternatives: $("f-alternatives").value.split("\n").filter((s) => s.trim()),
    answer: $("f-answer").value, enabled: $("f-enabled").checked,
    tags: $("f-tags").value.split(/[,，]/).map((s) => s.trim()).filter(Boolean),
    channel_answers: Object.fromEntries(lines("f-channel-answers").map((l) => { const i = l.indexOf(":"); return [l.slice(0, i).trim(), l.slice(i + 1).trim()]; })),
    buttons: lines("f-buttons").map((l) => { const [title, payload] = l.split("|").map((x) => (x || "").trim()); return { title, payload: payload || title }; }),
    image_url: $("f-image").value.trim(), valid_from: $("f-from").value.trim(), valid_until: $("f-until").value.trim(),
    answer_threshold: $("f-answer-th").value.trim(), suggest_threshold: $("f-suggest-th").value.trim(),
  };
}
$("entry-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const res = await api("POST", "/api/kb/entries", formEntry());
  if (res.ok) { showOk($("entry-result"), t("saved")); loadEntries(); loadEntryChoices(); } else showError($("entry-result"), res.data);
});
$("delete-entry").addEventListener("click", async () => {
  const res = await api("DELETE", `/api/kb/entries/${encodeURIComponent($("f-locale").value)}/${encodeURIComponent($("f-id").value)}`);
  if (res.ok) { showOk($("entry-result"), "✓"); loadEntries(); } else showError($("entry-result"), res.data);
});
$("new-entry").addEventListener("click", () => fillForm({ locale: texts.lang === "en" ? "en" : "zh-CN" }));
$("search").addEventListener("input", loadEntries);
$("filter-locale").addEventListener("change", loadEntries);
$("filter-category").addEventListener("input", loadEntries);

$("test").addEventListener("click", async () => {
  const res = await api("POST", "/api/kb/test", { question: $("test-question").value, locale: $("test-locale").value, target: $("test-target").value });
  const out = $("test-result"); out.replaceChildren();
  if (!res.ok) { showError(out, res.data); $("test-explain").textContent = ""; return; }
  out.className = "";
  const band = document.createElement("span"); band.className = "band-" + res.data.band; band.textContent = t("band_" + res.data.band);
  const text = document.createElement("div");
  text.textContent = res.data.answer || (res.data.suggestions || []).join(" / ") || "";
  out.append(band, text);
  $("test-explain").textContent = JSON.stringify(res.data.explanation, null, 2);
});

$("publish").addEventListener("click", async () => {
  const res = await api("POST", "/api/kb/publish", { message: $("publish-message").value, force: $("publish-force").checked });
  showReport(res.ok ? [] : res.data.report);
  if (res.ok) { showOk($("publish-result"), `${t("published")} ${res.data.version}`); loadVersions(); }
  else showError($("publish-result"), { error: res.data.error });
});

async function loadVersions() {
  const res = await api("GET", "/api/kb/versions");
  const list = $("versions"); list.replaceChildren();
  for (const v of res.data.versions || []) {
    const li = document.createElement("li");
    const when = new Date(v.published_at * 1000).toLocaleString();
    li.textContent = `#${v.version} ${v.author} · ${when} · ${v.message}${v.version === res.data.live ? " (" + t("live_marker") + ")" : ""}`;
    const diff = document.createElement("button"); diff.type = "button"; diff.textContent = t("diff");
    diff.addEventListener("click", async (e) => { e.stopPropagation(); const d = await api("GET", `/api/kb/diff?from=${v.version}`); $("diff").textContent = JSON.stringify(d.data, null, 2); });
    const back = document.createElement("button"); back.type = "button"; back.textContent = t("rollback");
    back.dataset.version = v.version; back.className = "rollback";
    back.addEventListener("click", async (e) => {
      e.stopPropagation();
      const r = await api("POST", "/api/kb/rollback", { version: v.version });
      if (r.ok) { showOk($("publish-result"), `${t("published")} ${r.data.version}`); loadVersions(); loadEntries(); }
      else showError($("publish-result"), r.data);
    });
    li.append(" ", diff, back);
    list.append(li);
  }
}

$("calibrate").addEventListener("click", async () => {
  const res = await api("POST", "/api/kb/calibrate", { locale: $("test-locale").value });
  if (res.ok) showOk($("golden-result"), JSON.stringify(res.data)); else showError($("golden-result"), res.data);
});

async function loadInbox() {
  const res = await api("GET", "/api/kb/inbox");
  const list = $("inbox"); list.replaceChildren();
  const inbox = res.data.inbox || [];
  $("inbox-state").classList.toggle("error", !res.ok);
  $("inbox-state").textContent = res.ok ? (inbox.length ? "" : t("inbox_empty")) : `${t("load_error")}: ${res.data.error || res.status}`;
  for (const item of inbox) {
    const li = document.createElement("li");
    const open = document.createElement("button"); open.type = "button"; open.className = "entry-link";
    open.textContent = `${item.text || item.key} ×${item.count}`;
    open.title = item.source || "";
    open.addEventListener("click", () => { fillForm({ question: item.text, locale: item.locale }); $("test-question").value = item.text; });
    li.append(open);
    const add = document.createElement("button"); add.type = "button"; add.textContent = t("add_phrasing");
    add.addEventListener("click", async (e) => {
      // Append to the entry open in the editor, then save it and drop the question from the inbox.
      e.stopPropagation();
      if (!$("f-id").value) return;
      $("f-alternatives").value = ($("f-alternatives").value.trim() + "\n" + item.text).trim();
      $("entry-form").requestSubmit();
      await api("POST", "/api/kb/inbox/dismiss", { key: item.key });
      loadInbox();
    });
    li.append(" ", add);
    list.append(li);
  }
}

$("import").addEventListener("click", async () => {
  const file = $("import-file").files[0];
  if (!file) return;
  const ext = file.name.split(".").pop().toLowerCase().replace("yml", "yaml");
  const res = await api("POST", `/api/kb/import?format=${ext}&mode=${$("import-mode").value}`, undefined, await file.arrayBuffer());
  if (res.ok) { showOk($("import-result"), `${t("imported")} ${res.data.imported}`); loadEntries(); } else showError($("import-result"), res.data);
});

$("lang-switch").addEventListener("click", () => { texts.toggle(); loadVersions(); });
setUpGolden({ t, showOk, showError });
const previewSoon = setUpPreview(formEntry, texts);
setUpBulk(texts, loadEntries);
bindLogin(start, showLogin);
texts.apply();
start();
