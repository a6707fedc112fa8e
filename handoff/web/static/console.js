// The agent console (/agent): my conversations, the queue, the transcript, reply, transfer, the
// customer's profile, canned replies, offline messages (留言) and, for supervisors, the overview.
import { $, api, bindLogin, i18n, listState, session, showListResult, showLogin as showShellLogin, signedIn } from "/staff/staff.js";

const EN = {
  title: "Agent console", online: "Online", paused: "Paused", offline: "Offline", login: "Log in",
  username: "User name", password: "Password", mine: "My conversations", queue: "Waiting",
  pick: "Pick a conversation", reply_placeholder: "Type a reply, Enter sends", send: "Send", close: "Close",
  accept: "Accept", decline: "Decline", offered: "offered", assigned: "yours", waited: "waited",
  customer: "Customer", notes: "Internal notes", note_placeholder: "Only agents see this", add: "Add",
  history: "Conversations", name: "Name", phone: "Phone", tier: "Tier", channels: "Channels", tags: "Tags",
  dedicated: "Dedicated agent", transfer: "Transfer", transfer_to: "Team, or @agent",
  transfer_note: "Note for whoever takes over", overview: "Supervisor view", waiting_n: "waiting",
  with_bot: "With the bot", take_over: "Take over", turns: "messages", ago: "ago",
  reply_placeholder: "Type a reply, Enter sends; / for canned replies", canned: "Canned replies",
  shortcut: "Shortcut", canned_text: "Reply text", personal: "Mine", canned_scope: "Scope", shared: "Shared", save: "Save",
  delete: "Delete", left: "Left messages", handle: "Handle", hours: "Business hours", team: "Team",
  open_now: "open", closed_now: "closed", saved: "Saved", complaints: "Complaint cases",
  case_escalated: "escalated", case_reopened: "reopened", complaint_open: "Record complaint",
  complaint_placeholder: "Record a complaint: the customer's problem", complaint_opened: "Case opened:",
  complaint_added: "Added to the open case", quality: "Quality", reports: "Reports",
  no_mine: "No conversations: accept one from the queue.", no_waiting: "Nobody is waiting.",
  no_bot: "Nobody is talking to the bot right now.", no_notes: "No internal notes yet.",
  no_history: "No other conversations.", no_canned: "No canned replies yet: add one below.",
};
const ZH = {
  accept: "接入", decline: "拒绝", offered: "待接入", assigned: "处理中", waited: "已等待",
  name: "姓名", phone: "电话", tier: "等级", channels: "渠道", tags: "标签", dedicated: "专属客服",
  waiting_n: "人排队", take_over: "接管", turns: "条消息", ago: "前", delete: "删除",
  handle: "处理", open_now: "上班中", closed_now: "已下班", saved: "已保存",
  case_escalated: "投诉已升级", case_reopened: "投诉被重新打开", complaint_opened: "已登记工单",
  complaint_added: "已补充到工单", no_mine: "暂无会话，可从排队中接入。", no_waiting: "暂无排队的客户。",
  no_bot: "暂无机器人接待中的会话。", no_notes: "暂无内部备注。", no_history: "暂无历史会话。",
  no_canned: "暂无快捷回复，可在下方添加。",
};
const texts = i18n(EN, ZH);
const t = texts.t;
let current = null, timer = null, watched = null, ws = null, wsRetry = 500, soonTimer = null;

// Live updates: the socket says that something changed; the API is then read as usual.
function soon() {
  if (soonTimer) return;
  soonTimer = setTimeout(() => { soonTimer = null; refresh(); }, 50);
}
function watch() {
  if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "watch", conversation: current }));
  watched = current;
}
function live() {
  ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/agent/ws");
  ws.onopen = () => { wsRetry = 500; watch(); };
  ws.onmessage = (message) => {
    const data = JSON.parse(message.data);
    if (data.type === "ready") document.body.dataset.live = "on";
    // Complaint cases live on their own page; the console only says that one needs attention.
    if (data.type === "case") {
      if (data.event === "escalated" || data.event === "reopened") $("case-alert").textContent = `${data.case} ${t("case_" + data.event)}`;
      return;
    }
    soon();
  };
  ws.onclose = () => {
    ws = null;
    document.body.dataset.live = "off";
    if (!$("app").classList.contains("hidden")) { setTimeout(live, wsRetry); wsRetry = Math.min(wsRetry * 2, 10000); }
  };
}

function item(ticket, withActions) {
  const li = document.createElement("li");
  if (ticket.conversation === current) li.className = "selected";
  const head = document.createElement("div");
  const tier = document.createElement("span");
  tier.className = ticket.tier === "vip" ? "vip" : "muted";
  tier.textContent = ticket.tier.toUpperCase();
  const waited = document.createElement("span");
  waited.className = "waited";
  waited.textContent = `${t("waited")} ${ticket.waiting_seconds}s`;
  head.append(tier, " ", ticket.channel, " · ", waited);
  const first = document.createElement("div");
  first.className = "muted";
  first.textContent = ticket.first_message;
  li.append(head, first);
  li.dataset.conversation = ticket.conversation;
  if (withActions) {
    const state = document.createElement("div");
    state.className = "muted";
    state.textContent = t(ticket.status);
    li.append(state);
    if (ticket.status === "offered") {
      const accept = document.createElement("button");
      accept.type = "button"; accept.className = "accept"; accept.textContent = t("accept");
      accept.addEventListener("click", async (e) => {
        e.stopPropagation();
        const r = await api("POST", "/api/agent/accept", { conversation: ticket.conversation });
        if (r.ok) { current = ticket.conversation; refresh(); } else $("chat-error").textContent = r.data.error;
      });
      const decline = document.createElement("button");
      decline.type = "button"; decline.textContent = t("decline");
      decline.addEventListener("click", async (e) => { e.stopPropagation(); await api("POST", "/api/agent/decline", { conversation: ticket.conversation }); refresh(); });
      li.append(accept, decline);
    }
  }
  li.addEventListener("click", () => { current = ticket.conversation; refresh(); });
  return li;
}

// Lists are kept, not rebuilt: a refresh comes with every console event (several a second when busy),
// and a button replaced between an agent's mouse-down and mouse-up swallows the click.
function renderList(list, tickets, withActions) {
  const kept = new Map([...list.children].map((li) => [li.dataset.key, li]));
  const wanted = tickets.map((ticket) => {
    const key = [ticket.conversation, ticket.tier, withActions ? ticket.status : ""].join("|");
    let li = kept.get(key);
    if (li) {
      li.querySelector(".waited").textContent = `${t("waited")} ${ticket.waiting_seconds}s`;
      li.classList.toggle("selected", ticket.conversation === current);
    } else {
      li = item(ticket, withActions);
      li.dataset.key = key;
    }
    return li;
  });
  const unchanged = wanted.length === list.children.length && wanted.every((li, i) => list.children[i] === li);
  if (!unchanged) list.replaceChildren(...wanted);
}

async function refresh() {
  if (current !== watched) watch();
  const me = await api("GET", "/api/agent/me");
  if (me.status === 401) { showLogin(); return; }
  renderList($("mine"), me.data.conversations || [], true);
  showListResult("mine-state", me, me.data.conversations, t("no_mine"));
  const queue = await api("GET", "/api/agent/queue");
  renderList($("queue"), queue.data.waiting || [], false);
  showListResult("queue-state", queue, queue.data.waiting, t("no_waiting"));
  if (me.data.status) $("presence").value = me.data.status;
  const mine = (me.data.conversations || []).find((c) => c.conversation === current);
  const canReply = !!mine && mine.status === "assigned";
  $("reply").disabled = !canReply; $("send").disabled = !canReply; $("close").disabled = !canReply;
  for (const id of ["transfer-to", "transfer-note", "transfer"]) $(id).disabled = !canReply;
  for (const id of ["complaint-category", "complaint-severity", "complaint-description", "complaint-open"]) {
    $(id).disabled = !canReply || !$("complaint-category").options.length;
  }
  await showOverview();
  await showBotConversations();
  await showLeftMessages();
  if (current) {
    const tr = await api("GET", "/api/agent/conversations/" + encodeURIComponent(current));
    if (tr.ok) {
      $("chat-title").textContent = current;
      $("lines").replaceChildren(...tr.data.lines.map((line) => {
        const div = document.createElement("div");
        div.className = "line " + line.role;
        div.textContent = line.text;  // customer text is untrusted: never innerHTML
        return div;
      }));
      $("lines").scrollTop = $("lines").scrollHeight;
    }
    await showProfile();
  }
}

async function showOverview() {
  const r = await api("GET", "/api/agent/overview");
  $("overview").classList.toggle("hidden", !r.ok);
  if (!r.ok) return;
  $("teams").replaceChildren(...Object.entries(r.data.teams).map(([team, q]) => {
    const li = document.createElement("li"); li.textContent = `${team}: ${q.waiting} ${t("waiting_n")}`; return li;
  }));
  $("agents").replaceChildren(...r.data.agents.map((a) => {
    const li = document.createElement("li");
    li.textContent = `${a.name} · ${t(a.status)} · ${a.load}/${a.capacity}`;
    return li;
  }));
}
async function showLeftMessages() {
  const r = await api("GET", "/api/agent/left-messages");
  const messages = r.ok ? r.data.messages : [];
  $("left-messages").classList.toggle("hidden", !messages.length);
  $("left-list").replaceChildren(...messages.map((m) => {
    const li = document.createElement("li");
    const head = document.createElement("div");
    const tier = document.createElement("span");
    tier.className = m.tier === "vip" ? "vip" : "muted";
    tier.textContent = m.tier.toUpperCase();
    head.append(tier, " ", m.channel, " · ", m.team, " · ", new Date(m.created_at).toLocaleString());
    const text = document.createElement("div");
    text.textContent = m.text;  // customer text: never innerHTML
    const handle = document.createElement("button");
    handle.type = "button"; handle.className = "handle"; handle.textContent = t("handle");
    handle.addEventListener("click", async () => {
      const res = await api("POST", `/api/agent/left-messages/${encodeURIComponent(m.id)}/claim`);
      if (res.ok) { current = m.conversation; $("chat-error").textContent = ""; refresh(); }
      else $("chat-error").textContent = res.data.error;
    });
    li.append(head, text, handle);
    return li;
  }));
}
// The bot's list costs a few reads per conversation: refresh it every 10 s, not on every event.
let botListAt = 0;
async function showBotConversations() {
  if (Date.now() - botListAt < 10000) return;
  botListAt = Date.now();
  const r = await api("GET", "/api/agent/bot-conversations");
  $("with-bot").classList.toggle("hidden", !r.ok && r.status === 403);
  showListResult("bot-list-state", r, r.data.conversations, t("no_bot"));
  if (!r.ok) return;
  $("bot-list").replaceChildren(...r.data.conversations.map((c) => {
    const li = document.createElement("li");
    const head = document.createElement("div");
    const tier = document.createElement("span");
    tier.className = c.tier === "vip" ? "vip" : "muted";
    tier.textContent = c.tier.toUpperCase();
    const ago = Math.max(0, Math.round((Date.now() - c.last_message_at) / 1000));
    head.append(tier, " ", c.channel, " · ", `${c.turns} ${t("turns")} · ${ago}s ${t("ago")}`);
    const last = document.createElement("div");
    last.className = "muted";
    last.textContent = c.last_message;  // customer text: never innerHTML
    const take = document.createElement("button");
    take.type = "button"; take.className = "take-over"; take.textContent = t("take_over");
    take.addEventListener("click", async () => {
      const res = await api("POST", `/api/agent/conversations/${encodeURIComponent(c.conversation)}/takeover`);
      if (res.ok) { current = c.conversation; $("chat-error").textContent = ""; refresh(); }
      else $("chat-error").textContent = res.data.error;
    });
    li.dataset.conversation = c.conversation;
    li.append(head, last, take);
    return li;
  }));
}
$("transfer-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const to = $("transfer-to").value.trim();
  if (!to || !current) return;
  const body = to.startsWith("@") ? { agent: to.slice(1) } : { team: to };
  body.note = $("transfer-note").value.trim();
  const r = await api("POST", `/api/agent/conversations/${encodeURIComponent(current)}/transfer`, body);
  if (r.ok) { $("transfer-to").value = ""; $("transfer-note").value = ""; $("chat-error").textContent = ""; refresh(); }
  else $("chat-error").textContent = r.data.error;
});

// The case lists' answer carries the configured categories and severities: fill the pickers once.
async function loadComplaintChoices() {
  const r = await api("GET", "/api/agent/complaints?limit=1");
  if (!r.ok) return;
  for (const [id, values] of [["complaint-category", r.data.categories], ["complaint-severity", r.data.severities]]) {
    $(id).replaceChildren(...values.map((value) => { const o = document.createElement("option"); o.value = o.textContent = value; return o; }));
  }
}
$("complaint-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const description = $("complaint-description").value.trim();
  if (!description || !current) return;
  const body = { conversation: current, description, category: $("complaint-category").value, severity: $("complaint-severity").value };
  const r = await api("POST", "/api/agent/complaints", body);
  if (r.ok) {
    $("complaint-description").value = ""; $("chat-error").textContent = "";
    $("complaint-status").textContent = `${t(r.status === 201 ? "complaint_opened" : "complaint_added")} ${r.data.id}`;
  } else $("chat-error").textContent = r.data.error;
});

let profileId = null;
async function showProfile() {
  const r = await api("GET", `/api/agent/conversations/${encodeURIComponent(current)}/profile`);
  $("note").disabled = $("add-note").disabled = !r.ok;
  if (!r.ok) {
    profileId = null; $("profile-fields").replaceChildren(); $("notes").replaceChildren(); $("history").replaceChildren();
    showListResult("notes-state", r); listState("history-state", "");
    return;
  }
  const p = r.data.profile;
  profileId = p.id;
  const rows = [["name", p.name || "—"], ["phone", p.phone || "—"], ["tier", p.tier.toUpperCase()],
    ["channels", [...new Set(p.identities.map((i) => i.split(":")[0]))].join(", ")],
    ["tags", p.tags.join(", ") || "—"], ["dedicated", p.dedicated_agent || "—"]];
  $("profile-fields").replaceChildren(...rows.flatMap(([k, v]) => {
    const dt = document.createElement("dt"); dt.textContent = t(k);
    const dd = document.createElement("dd"); dd.textContent = v;  // customer data: text only
    if (k === "tier" && p.tier === "vip") dd.className = "vip";
    return [dt, dd];
  }));
  $("notes").replaceChildren(...r.data.notes.map((n) => {
    const div = document.createElement("div"); div.textContent = `${n.author}: ${n.text}`; return div;
  }));
  showListResult("notes-state", r, r.data.notes, t("no_notes"));
  $("history").replaceChildren(...r.data.conversations.map((c) => {
    const li = document.createElement("li"); li.textContent = c; if (c === current) li.className = "selected";
    li.addEventListener("click", () => { current = c; refresh(); });
    return li;
  }));
  showListResult("history-state", r, r.data.conversations, t("no_history"));
}
$("note-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const text = $("note").value.trim();
  if (!text || !profileId) return;
  const r = await api("POST", `/api/agent/profiles/${encodeURIComponent(profileId)}/notes`, { text });
  if (r.ok) { $("note").value = ""; showProfile(); } else $("chat-error").textContent = r.data.error;
});

// Canned replies: "/" in the reply box opens the matches; ↑/↓ choose, Tab or Enter inserts, Esc closes.
let canned = [], cannedActive = 0, supervisor = false;
async function loadCanned() {
  const r = await api("GET", "/api/agent/canned");
  canned = r.ok ? r.data.replies : [];
  showListResult("canned-state", r, canned, t("no_canned"));
  $("canned-list").replaceChildren(...canned.map((c) => {
    const li = document.createElement("li");
    const head = document.createElement("div");
    head.textContent = `/${c.shortcut} · ${t(c.scope)}`;
    const text = document.createElement("div");
    text.className = "muted"; text.textContent = c.text;
    li.append(head, text);
    if (c.scope === "personal" || supervisor) {
      const del = document.createElement("button");
      del.type = "button"; del.textContent = t("delete");
      del.addEventListener("click", async () => {
        await api("DELETE", `/api/agent/canned/${c.scope}/${encodeURIComponent(c.shortcut)}`); loadCanned();
      });
      li.append(del);
    }
    return li;
  }));
}
function cannedMatches() {
  const value = $("reply").value;
  if (!value.startsWith("/")) return [];
  const q = value.slice(1).toLowerCase();
  const byShortcut = canned.filter((c) => c.shortcut.toLowerCase().startsWith(q));
  const byText = canned.filter((c) => !byShortcut.includes(c) && q && c.text.toLowerCase().includes(q));
  return [...byShortcut, ...byText].slice(0, 8);
}
function showCannedMenu() {
  const matches = cannedMatches();
  const menu = $("canned-menu");
  menu.classList.toggle("hidden", !matches.length);
  cannedActive = Math.min(cannedActive, Math.max(0, matches.length - 1));
  menu.replaceChildren(...matches.map((c, i) => {
    const li = document.createElement("li");
    li.setAttribute("role", "option");
    if (i === cannedActive) li.className = "active";
    li.textContent = `/${c.shortcut}  ${c.text}`;
    li.addEventListener("mousedown", (e) => { e.preventDefault(); insertCanned(c); });
    return li;
  }));
}
function insertCanned(c) {
  $("reply").value = c.text; $("canned-menu").classList.add("hidden"); $("reply").focus();
}
$("reply").addEventListener("input", () => { cannedActive = 0; showCannedMenu(); });
$("reply").addEventListener("blur", () => $("canned-menu").classList.add("hidden"));
$("reply").addEventListener("keydown", (e) => {
  const matches = cannedMatches();
  if (!matches.length || $("canned-menu").classList.contains("hidden")) return;
  if (e.key === "ArrowDown" || e.key === "ArrowUp") {
    e.preventDefault();
    cannedActive = (cannedActive + (e.key === "ArrowDown" ? 1 : matches.length - 1)) % matches.length;
    showCannedMenu();
  } else if (e.key === "Tab" || e.key === "Enter") {
    e.preventDefault(); insertCanned(matches[cannedActive]);
  } else if (e.key === "Escape") {
    $("canned-menu").classList.add("hidden");
  }
});
$("canned-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const shortcut = $("canned-shortcut").value.trim().replace(/^\//, "");
  const text = $("canned-text").value.trim();
  if (!shortcut || !text) return;
  const r = await api("PUT", `/api/agent/canned/${$("canned-scope").value}/${encodeURIComponent(shortcut)}`, { text });
  if (r.ok) { $("canned-shortcut").value = ""; $("canned-text").value = ""; $("chat-error").textContent = ""; loadCanned(); }
  else $("chat-error").textContent = r.data.error;
});

function showLogin() {
  showShellLogin(); $("presence").classList.add("hidden");
  if (timer) clearInterval(timer);
}
async function start() {
  if (!(await signedIn())) { showLogin(); return; }
  supervisor = session.roles.includes("supervisor");
  $("canned-scope").classList.toggle("hidden", !supervisor);
  $("presence").classList.remove("hidden");
  await loadComplaintChoices();
  await refresh();
  await loadCanned();
  live();
  // A slow poll as a safety net (it also keeps presence alive while the socket reconnects).
  // One poll, even when the page's own start and a login both got here.
  if (timer) clearInterval(timer);
  timer = setInterval(refresh, 5000);
}

$("presence").addEventListener("change", async () => { await api("POST", "/api/agent/status", { status: $("presence").value }); refresh(); });
$("reply-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const text = $("reply").value.trim();
  if (!text || !current) return;
  const r = await api("POST", `/api/agent/conversations/${encodeURIComponent(current)}/messages`, { text });
  if (r.ok) { $("reply").value = ""; $("chat-error").textContent = ""; refresh(); } else $("chat-error").textContent = r.data.error;
});
$("close").addEventListener("click", async () => {
  const r = await api("POST", `/api/agent/conversations/${encodeURIComponent(current)}/close`);
  if (r.ok) { current = null; $("lines").replaceChildren(); $("chat-title").textContent = t("pick"); refresh(); }
  else $("chat-error").textContent = r.data.error;
});
$("lang-switch").addEventListener("click", () => { texts.toggle(); refresh(); });
bindLogin(start, showLogin);
texts.apply();
start();
