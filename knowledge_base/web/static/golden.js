// The editor's forms for the matcher's checks: golden questions as a table (the expected entry picked
// from a search box over the entries, or "should escalate") and synonyms as rows. A publish that breaks
// a golden question is refused, and its report is drawn here as a table.
import { $, api } from "/staff/staff.js";

let golden = [];
let synonyms = [];
let kit = null; // { t, showOk, showError } from the editor

function cell(...children) { const td = document.createElement("td"); td.append(...children); return td; }
function button(label, onClick, aria) {
  const b = document.createElement("button");
  b.type = "button"; b.textContent = label;
  if (aria) b.setAttribute("aria-label", aria);
  b.addEventListener("click", onClick);
  return b;
}

/** Fill the search box's suggestions with every entry (id, its question and locale as the label). */
export async function loadEntryChoices() {
  const res = await api("GET", "/api/kb/entries");
  $("entry-choices").replaceChildren(...(res.data.entries || []).map((e) =>
    Object.assign(document.createElement("option"), { value: e.id, label: `${e.question} (${e.locale})` })));
}

function drawGolden() {
  const { t } = kit;
  $("golden-empty").classList.toggle("hidden", golden.length > 0);
  $("golden-table").classList.toggle("hidden", !golden.length);
  $("golden-table").tBodies[0].replaceChildren(...golden.map((g, i) => {
    const tr = document.createElement("tr");
    const expected = g.expected === "escalate" ? t("should_escalate") : g.expected;
    tr.append(cell(g.text), cell(expected), cell(g.locale),
      cell(button(t("remove"), () => { golden.splice(i, 1); drawGolden(); }, `${t("remove")} ${g.text}`)));
    return tr;
  }));
}

export async function loadGolden() {
  const res = await api("GET", "/api/kb/golden");
  golden = res.data.golden || [];
  drawGolden();
}

async function saveGolden() {
  const res = await api("PUT", "/api/kb/golden", { golden });
  if (res.ok) kit.showOk($("golden-result"), kit.t("saved")); else kit.showError($("golden-result"), res.data);
  return res.ok;
}

function addGolden(event) {
  event.preventDefault();
  const { t } = kit;
  const text = $("golden-question").value.trim();
  const escalate = $("golden-escalate").checked;
  const expected = escalate ? "escalate" : $("golden-expected").value.trim();
  const known = [...$("entry-choices").options].some((o) => o.value === expected);
  if (!text || (!escalate && !known)) {
    kit.showError($("golden-result"), { error: text ? t("pick_entry") : t("need_question") });
    (text ? $("golden-expected") : $("golden-question")).focus();
    return;
  }
  golden.push({ text, expected, locale: $("golden-locale").value });
  $("golden-question").value = ""; $("golden-expected").value = ""; $("golden-escalate").checked = false;
  $("golden-expected").disabled = false;
  drawGolden();
  saveGolden();
}

function drawSynonyms() {
  const { t } = kit;
  $("synonyms-table").tBodies[0].replaceChildren(...synonyms.map((row, i) => {
    const tr = document.createElement("tr");
    const word = Object.assign(document.createElement("input"), { type: "text", value: row.word });
    word.setAttribute("aria-label", `${t("word")} ${i + 1}`);
    word.addEventListener("input", () => { row.word = word.value; });
    const variants = Object.assign(document.createElement("input"), { type: "text", value: row.variants });
    variants.setAttribute("aria-label", `${t("variants")} ${i + 1}`);
    variants.addEventListener("input", () => { row.variants = variants.value; });
    tr.append(cell(word), cell(variants),
      cell(button(t("remove"), () => { synonyms.splice(i, 1); drawSynonyms(); }, `${t("remove")} ${row.word}`)));
    return tr;
  }));
  $("synonyms-empty").classList.toggle("hidden", synonyms.length > 0);
}

export async function loadSynonyms() {
  const res = await api("GET", "/api/kb/synonyms");
  synonyms = Object.entries(res.data.synonyms || {}).map(([word, v]) => ({ word, variants: v.join(", ") }));
  drawSynonyms();
}

async function saveSynonyms() {
  const groups = Object.fromEntries(synonyms.filter((r) => r.word.trim()).map((r) =>
    [r.word.trim(), r.variants.split(/[,，、]/).map((x) => x.trim()).filter(Boolean)]));
  const res = await api("PUT", "/api/kb/synonyms", { synonyms: groups });
  if (res.ok) kit.showOk($("synonyms-result"), kit.t("saved")); else kit.showError($("synonyms-result"), res.data);
}

/** Draw a refused publish's report: each golden question it breaks, what was expected and what came. */
export function showReport(report) {
  const { t } = kit;
  const table = $("publish-report");
  table.classList.toggle("hidden", !report || !report.length);
  table.tBodies[0].replaceChildren(...(report || []).map((r) => {
    const tr = document.createElement("tr");
    const named = (id) => (id === "escalate" ? t("should_escalate") : id);
    tr.append(cell(r.text), cell(named(r.expected)), cell(named(r.got)), cell(t("band_" + r.band)));
    return tr;
  }));
}

/** Wire the golden-question table and the synonym rows (``tools``: the editor's t, showOk, showError). */
export function setUpGolden(tools) {
  kit = tools;
  $("golden-add").addEventListener("submit", addGolden);
  $("golden-escalate").addEventListener("change", () => { $("golden-expected").disabled = $("golden-escalate").checked; });
  $("add-synonym").addEventListener("click", () => {
    synonyms.push({ word: "", variants: "" }); drawSynonyms();
    $("synonyms-table").tBodies[0].lastElementChild.querySelector("input").focus();
  });
  $("save-synonyms").addEventListener("click", saveSynonyms);
}
