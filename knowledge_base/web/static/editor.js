// The knowledge-base editor (/kb): entries, tester, publish and versions, golden questions, inbox.
import { $, api, bindLogin, i18n, loadSession, session } from "/staff/staff.js";

const EN = {
  title: "Knowledge base", logout: "Log out", login: "Log in", username: "User name", password: "Password",
  entries: "Entries", search: "Search questions, answers or ids", all_locales: "All locales", new_entry: "New entry",
  import_export: "Import / export", merge: "Merge", replace: "Replace all", import: "Import", inbox: "Unanswered questions",
  editor: "Edit entry", locale: "Locale", category: "Category", question: "Standard question",
  alternatives: "Alternative phrasings (one per line)", answer: "Answer", enabled: "Enabled", save: "Save draft",
  delete: "Delete", tester: "Test: what would the bot answer", test_placeholder: "A customer's question",
  draft: "Draft", live: "Live", test: "Test", publish: "Publish", publish_message: "What changed",
  force: "Publish even if golden questions fail", versions: "Versions", golden: "Golden questions",
  golden_help: "One per line: question | expected entry id or escalate | locale (zh-CN/en)", calibrate: "Calibrate thresholds",
  diff: "Diff with draft", rollback: "Roll back", saved: "Saved", published: "Published version", imported: "Imported",
  band_answer: "Answer", band_suggest: "Suggest", band_escalate: "Escalate", live_marker: "live",
  more: "More settings", tags: "Tags (comma separated)", channel_answers: "Per-channel answers (one per line: channel: answer)",
  buttons: "Buttons (one per line: title | payload)", image: "Image URL", valid_from: "Valid from (ISO time)",
  valid_until: "Valid until", answer_threshold: "Answer threshold for this entry (empty: global)",
  suggest_threshold: "Suggest threshold for this entry (empty: global)", synonyms: "Synonyms",
  synonyms_help: "One per line: word = variant1, variant2 (used from the next publish)", add_phrasing: "Add as phrasing",
};
const ZH = {
  diff: "与草稿比较", rollback: "回滚", saved: "已保存", published: "已发布版本", imported: "已导入",
  band_answer: "直接回答", band_suggest: "推荐问题", band_escalate: "转人工/不知道", live_marker: "线上",
  add_phrasing: "加为相似问法",
};
const texts = i18n("kb-lang", EN, ZH);
const t = texts.t;

function showError(el, data) {
  el.className = "error";
  el.textContent = (data.error || "error") + (data.errors ? "\n" + data.errors.join("\n") : "")
    + (data.report ? "\n" + data.report.map((r) => `${r.text}: ${r.expected} → ${r.got}`).join("\n") : "");
}
function showOk(el, text) { el.className = "ok"; el.textContent = text; }
function showLogin() { $("login").classList.remove("hidden"); $("app").classList.add("hidden"); $("logout").classList.add("hidden"); }

async function start() {
  if (!(await loadSession())) { showLogin(); return; }
  $("who").textContent = session.username;
  $("login").classList.add("hidden"); $("app").classList.remove("hidden"); $("logout").classList.remove("hidden");
  await Promise.all([loadEntries(), loadVersions(), loadGolden(), loadInbox(), loadSynonyms()]);
}

async function loadEntries() {
  const params = new URLSearchParams({ q: $("search").value, locale: $("filter-locale").value, category: $("filter-category").value });
  const res = await api("GET", "/api/kb/entries?" + params);
  const list = $("entries"); list.replaceChildren();
  for (const entry of res.data.entries || []) {
    const li = document.createElement("li");
    li.textContent = `${entry.question}`;
    const meta = document.createElement("div"); meta.className = "muted";
    meta.textContent = `${entry.id} · ${entry.locale}${entry.enabled ? "" : " · off"}`;
    li.append(meta);
    li.addEventListener("click", () => fillForm(entry));
    list.append(li);
  }
}
function fillForm(entry) {
  $("f-id").value = entry.id || ""; $("f-locale").value = entry.locale || "zh-CN";
  $("f-category").value = entry.category || ""; $("f-question").value = entry.question || "";
  $("f-alternatives").value = (entry.alternatives || []).join("\n"); $("f-answer").value = entry.answer || "";
  $("f-enabled").checked = entry.enabled !== false;
  $("f-tags").value = (entry.tags || []).join(", ");
  $("f-channel-answers").value = Object.entries(entry.channel_answers || {}).map(([k, v]) => `${k}: ${v}`).join("\n");
  $("f-buttons").value = (entry.buttons || []).map((b) => `${b.title} | ${b.payload}`).join("\n");
  $("f-image").value = entry.image_url || ""; $("f-from").value = entry.valid_from || ""; $("f-until").value = entry.valid_until || "";
  $("f-answer-th").value = entry.answer_threshold ?? ""; $("f-suggest-th").value = entry.suggest_threshold ?? "";
}
function lines(id) { return $(id).value.split("\n").map((s) => s.trim()).filter(Boolean); }
$("entry-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const entry = {
    id: $("f-id").value.trim(), locale: $("f-locale").value, category: $("f-category").value,
    question: $("f-question").value, alternatives: $("f-alternatives").value.split("\n").filter((s) => s.trim()),
    answer: $("f-answer").value, enabled: $("f-enabled").checked,
    tags: $("f-tags").value.split(/[,，]/).map((s) => s.trim()).filter(Boolean),
    channel_answers: Object.fromEntries(lines("f-channel-answers").map((l) => { const i = l.indexOf(":"); return [l.slice(0, i).trim(), l.slice(i + 1).trim()]; })),
    buttons: lines("f-buttons").map((l) => { const [title, payload] = l.split("|").map((x) => (x || "").trim()); return { title, payload: payload || title }; }),
    image_url: $("f-image").value.trim(), valid_from: $("f-from").value.trim(), valid_until: $("f-until").value.trim(),
    answer_threshold: $("f-answer-th").value.trim(), suggest_threshold: $("f-suggest-th").value.trim(),
  };
  const res = await api("POST", "/api/kb/entries", entry);
  if (res.ok) { showOk($("entry-result"), t("saved")); loadEntries(); } else showError($("entry-result"), res.data);
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
  if (res.ok) { showOk($("publish-result"), `${t("published")} ${res.data.version}`); loadVersions(); }
  else showError($("publish-result"), res.data);
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

async function loadGolden() {
  const res = await api("GET", "/api/kb/golden");
  $("golden").value = (res.data.golden || []).map((g) => `${g.text} | ${g.expected} | ${g.locale}`).join("\n");
}
$("save-golden").addEventListener("click", async () => {
  const golden = $("golden").value.split("\n").filter((l) => l.trim()).map((line) => {
    const [text, expected, locale] = line.split("|").map((s) => (s || "").trim());
    return { text, expected, locale: locale || "zh-CN" };
  });
  const res = await api("PUT", "/api/kb/golden", { golden });
  if (res.ok) showOk($("golden-result"), t("saved")); else showError($("golden-result"), res.data);
});
$("calibrate").addEventListener("click", async () => {
  const res = await api("POST", "/api/kb/calibrate", { locale: $("test-locale").value });
  if (res.ok) showOk($("golden-result"), JSON.stringify(res.data)); else showError($("golden-result"), res.data);
});

async function loadInbox() {
  const res = await api("GET", "/api/kb/inbox");
  const list = $("inbox"); list.replaceChildren();
  for (const item of res.data.inbox || []) {
    const li = document.createElement("li");
    li.textContent = `${item.text || item.key} ×${item.count}`;
    li.title = item.source || "";
    li.addEventListener("click", () => { fillForm({ question: item.text, locale: item.locale }); $("test-question").value = item.text; });
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

async function loadSynonyms() {
  const res = await api("GET", "/api/kb/synonyms");
  $("synonyms").value = Object.entries(res.data.synonyms || {}).map(([k, v]) => `${k} = ${v.join(", ")}`).join("\n");
}
$("save-synonyms").addEventListener("click", async () => {
  const synonyms = Object.fromEntries(lines("synonyms").map((l) => {
    const [word, rest] = l.split("=");
    return [(word || "").trim(), (rest || "").split(/[,，]/).map((x) => x.trim()).filter(Boolean)];
  }));
  const res = await api("PUT", "/api/kb/synonyms", { synonyms });
  if (res.ok) showOk($("synonyms-result"), t("saved")); else showError($("synonyms-result"), res.data);
});

$("import").addEventListener("click", async () => {
  const file = $("import-file").files[0];
  if (!file) return;
  const ext = file.name.split(".").pop().toLowerCase().replace("yml", "yaml");
  const res = await api("POST", `/api/kb/import?format=${ext}&mode=${$("import-mode").value}`, undefined, await file.arrayBuffer());
  if (res.ok) { showOk($("import-result"), `${t("imported")} ${res.data.imported}`); loadEntries(); } else showError($("import-result"), res.data);
});

$("logout").addEventListener("click", async () => { await api("POST", "/api/logout", {}); showLogin(); });
$("lang-switch").addEventListener("click", () => { texts.toggle(); loadVersions(); });
bindLogin(start, showLogin);
texts.apply();
start();
