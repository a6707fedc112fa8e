// The answer preview: the entry being edited as each channel's customer would see it. The server builds
// it with each channel adapter's own rendering (POST /api/kb/preview); nothing is saved.
import { $, api } from "/staff/staff.js";

export const PREVIEW_EN = {
  preview: "Preview by channel", preview_help: "What customers see for this answer, with buttons as each app shows them.",
  preview_empty: "Type an answer to see the preview.", preview_error: "No preview",
  ch_wechat: "WeChat Official Account", ch_wecom: "WeCom customer service", ch_telegram: "Telegram", ch_webchat: "Web chat widget",
  preview_image: "Image", menu_hint: "tap a line to send it",
};
export const PREVIEW_ZH = {
  preview_empty: "填写答案后显示预览。", preview_error: "无法预览",
  ch_wechat: "微信公众号", ch_wecom: "企业微信客服", ch_telegram: "Telegram", ch_webchat: "网页聊天",
  menu_hint: "点击一行即发送", preview_image: "图片",
};
const el = (tag, cls, text) => { const e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined) e.textContent = text; return e; };

function bubble(shown, t) {
  const box = el("div", `bubble ${shown.layout || ""}`.trim());
  if (shown.image_url) box.append(el("div", "image", `${t("preview_image")}: ${shown.image_url}`));
  if (shown.text) box.append(el("div", "text", shown.text));
  if (shown.buttons.length) {
    const buttons = el(shown.layout === "lines" ? "ol" : "div", `buttons ${shown.layout}`);
    shown.buttons.forEach((title) => buttons.append(el(shown.layout === "lines" ? "li" : "span", "button", title)));
    box.append(buttons);
    if (shown.layout === "lines") box.append(el("div", "hint", t("menu_hint")));
  }
  return box;
}

function draw(channels, t) {
  $("preview").replaceChildren(...Object.entries(channels).map(([name, messages]) => {
    const column = el("figure", `phone ch-${name}`);
    column.setAttribute("aria-label", t(`ch_${name}`));
    column.append(el("figcaption", "", t(`ch_${name}`)), ...messages.map((m) => bubble(m, t)));
    return column;
  }));
}

/** Wire the preview to the entry form; return the function that redraws it soon (after typing stops). */
export function setUpPreview(formEntry, texts) {
  const t = texts.t;
  let timer = null, last = null;
  async function redraw() {
    const entry = formEntry();
    const state = $("preview-state");
    if (!entry.answer.trim()) { $("preview").replaceChildren(); state.textContent = t("preview_empty"); return; }
    // The preview needs an entry the API accepts; an unsaved one has no id or question yet.
    const r = await api("POST", "/api/kb/preview", { ...entry, id: entry.id || "preview", question: entry.question || "?" });
    if (!r.ok) { $("preview").replaceChildren(); state.textContent = `${t("preview_error")}: ${r.data.error || r.status}`; return; }
    state.textContent = "";
    last = r.data.channels;
    draw(last, t);
  }
  const soon = () => { clearTimeout(timer); timer = setTimeout(redraw, 300); };
  $("entry-form").addEventListener("input", soon);
  texts.onChange(() => { if (last) draw(last, t); });
  return soon;
}
