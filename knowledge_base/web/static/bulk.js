// Bulk actions on the entries list: tick entries (or all that the filter shows), then switch them on or
// off, move them to a category or delete them, in one request (one audit entry). Drafts only: customers
// see the change at the next publish.
import { $, api } from "/staff/staff.js";

export const BULK_EN = {
  bulk: "Bulk actions", select_all: "Select all shown", select: "Select", bulk_enable: "Enable", bulk_disable: "Disable",
  new_category: "New category", bulk_category: "Set category", bulk_delete: "Delete",
  selected: (n) => `${n} selected`, bulk_done: (n) => `${n} entries changed (publish to make it live)`,
  confirm_delete: (n) => `Delete ${n} entries from the draft?`, need_category: "Type the category first.",
};
export const BULK_ZH = {
  select: "选择",
  selected: (n) => `已选 ${n} 条`, bulk_done: (n) => `已修改 ${n} 条（发布后生效）`,
  confirm_delete: (n) => `从草稿中删除 ${n} 个条目？`, need_category: "请先填写分类。",
};
const chosen = new Map(); // "locale/id" → {locale, id}
let t = (key) => key;
let reload = async () => {};
const say = (key, ...args) => { const text = t(key); return typeof text === "function" ? text(...args) : text; };

function boxes() { return [...$("entries").querySelectorAll("input[data-entry]")]; }

function update() {
  const shown = boxes();
  $("bulk-count").textContent = chosen.size ? say("selected", chosen.size) : "";
  ["bulk-enable", "bulk-disable", "bulk-set-category", "bulk-delete"].forEach((id) => { $(id).disabled = !chosen.size; });
  $("select-all").checked = shown.length > 0 && shown.every((b) => b.checked);
}

/** The checkbox that selects ``entry`` in the list (kept ticked across reloads of the list). */
export function selectBox(entry) {
  const key = `${entry.locale}/${entry.id}`;
  const box = Object.assign(document.createElement("input"), { type: "checkbox", checked: chosen.has(key) });
  box.dataset.entry = key;
  box.setAttribute("aria-label", `${say("select")} ${entry.question} (${entry.id})`);
  box.addEventListener("change", () => {
    if (box.checked) chosen.set(key, { locale: entry.locale, id: entry.id }); else chosen.delete(key);
    update();
  });
  return box;
}

/** Forget ticked entries the list no longer shows (after a filter or a reload), then redraw the bar. */
export function listShown() {
  const shown = new Set(boxes().map((b) => b.dataset.entry));
  [...chosen.keys()].forEach((key) => { if (!shown.has(key)) chosen.delete(key); });
  update();
}

async function run(action, extra = {}) {
  const r = await api("POST", "/api/kb/entries/bulk", { action, entries: [...chosen.values()], ...extra });
  $("bulk-result").className = r.ok ? "ok" : "error";
  $("bulk-result").textContent = r.ok ? say("bulk_done", r.data.changed) : (r.data.error || String(r.status));
  if (r.ok) { if (action === "delete") chosen.clear(); await reload(); }
}

/** Wire the bulk bar; ``reloadEntries`` redraws the list after a change. */
export function setUpBulk(texts, reloadEntries) {
  t = texts.t; reload = reloadEntries;
  $("select-all").addEventListener("change", () => {
    const on = $("select-all").checked; // read once: each box's change redraws the bar
    boxes().forEach((b) => { if (b.checked !== on) { b.checked = on; b.dispatchEvent(new Event("change")); } });
  });
  $("bulk-enable").addEventListener("click", () => run("enable"));
  $("bulk-disable").addEventListener("click", () => run("disable"));
  $("bulk-set-category").addEventListener("click", () => {
    const category = $("bulk-category").value.trim();
    if (!category) { $("bulk-result").className = "error"; $("bulk-result").textContent = say("need_category"); $("bulk-category").focus(); return; }
    run("set_category", { category });
  });
  $("bulk-delete").addEventListener("click", () => { if (confirm(say("confirm_delete", chosen.size))) run("delete"); });
  update();
}
