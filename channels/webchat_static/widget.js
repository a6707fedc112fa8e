/*
 * Customer-service chat widget. Embed with one tag:
 *   <script src="https://support.example.com/webchat/widget.js" data-title="在线客服" async></script>
 * Options (data-*): title, lang ("auto" | "zh" | "en"), color, open ("true" opens the panel at once),
 * greeting (the line shown in an empty chat), suggest (questions offered there, separated by "|").
 *
 * Plain JavaScript, no build step: a shadow root keeps the host page's CSS out, and every text is
 * set with textContent, so nothing a customer or agent types is ever parsed as HTML.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.__csWebchat) return;
  var server = new URL(script.src, location.href);
  var opts = script.dataset || {};
  var langOpt = (opts.lang || "auto").toLowerCase();
  var lang = langOpt === "auto" ? ((navigator.language || "zh").toLowerCase().indexOf("zh") === 0 ? "zh" : "en") : (langOpt === "en" ? "en" : "zh");
  var T = {
    zh: { title: "在线客服", placeholder: "请输入消息…", send: "发送", open: "打开客服聊天", close: "关闭",
          offline: "连接已断开，正在重连…", typing: "正在输入…", agent: "客服 {name} 为您服务", sending: "发送中", failed: "未发送",
          greeting: "您好！我是智能客服，退款、退货、发货、发票都可以问我；需要人工客服请说“转人工”。",
          suggest: ["退款多久到账", "怎么退货", "什么时候发货", "转人工"], suggestLabel: "您可以这样问" },
    en: { title: "Customer service", placeholder: "Type a message…", send: "Send", open: "Open chat", close: "Close",
          offline: "Connection lost, reconnecting…", typing: "typing…", agent: "{name} is helping you", sending: "sending", failed: "not sent",
          greeting: "Hi! I'm the virtual assistant: ask me about refunds, returns, shipping or invoices, or say \"talk to a human\".",
          suggest: ["How long does a refund take?", "How do I return an item?", "When will my order ship?", "Talk to a human"],
          suggestLabel: "Try asking" }
  }[lang];
  var suggestions = opts.suggest ? String(opts.suggest).split("|").map(function (q) { return q.trim(); }).filter(Boolean).slice(0, 6) : T.suggest;
  var color = /^#[0-9a-fA-F]{3,8}$/.test(opts.color || "") ? opts.color : "#0958d9"; // 5.9:1 on white (WCAG AA); a shop may pass its own data-color
  var storeKey = "cs-webchat:" + server.host + ":";
  function load(name, fallback) {
    try { var v = localStorage.getItem(storeKey + name); return v === null ? fallback : JSON.parse(v); } catch (e) { return fallback; }
  }
  function save(name, value) { try { localStorage.setItem(storeKey + name, JSON.stringify(value)); } catch (e) { /* private mode */ } }

  var host = document.createElement("div");
  host.id = "cs-webchat";
  var root = host.attachShadow({ mode: "open" });
  var style = document.createElement("style");
  style.textContent = [
    ":host{all:initial}",
    "*{box-sizing:border-box;font-family:-apple-system,'PingFang SC','Microsoft YaHei',sans-serif}",
    ".bubble{position:fixed;right:24px;bottom:24px;width:56px;height:56px;border-radius:50%;border:0;background:" + color + ";color:#fff;cursor:pointer;box-shadow:0 4px 12px rgba(0,0,0,.25);z-index:2147483646;display:flex;align-items:center;justify-content:center}",
    ".bubble svg{width:28px;height:28px;fill:currentColor}",
    "button:focus-visible,textarea:focus-visible{outline:3px solid #ffb020;outline-offset:2px}",
    ".welcome{background:#fff;border-radius:12px;padding:10px 12px;font-size:14px;line-height:1.5;color:#222;margin:4px 0 8px}",
    ".welcome .label{font-size:12px;color:#666;margin-top:8px}",
    ".welcome .buttons{margin-top:6px}",
    ".badge{position:absolute;top:-4px;right:-4px;min-width:20px;height:20px;border-radius:10px;background:#f5222d;color:#fff;font-size:12px;line-height:20px;padding:0 6px;display:none}",
    ".panel{position:fixed;right:24px;bottom:92px;width:360px;max-width:calc(100vw - 32px);height:520px;max-height:calc(100vh - 120px);background:#fff;border-radius:12px;box-shadow:0 8px 30px rgba(0,0,0,.25);display:none;flex-direction:column;overflow:hidden;z-index:2147483647}",
    ".panel.open{display:flex}",
    ".head{background:" + color + ";color:#fff;padding:12px 16px;display:flex;align-items:center;justify-content:space-between}",
    ".head .who{font-size:12px;opacity:.9}",
    ".head button{background:none;border:0;color:#fff;font-size:20px;cursor:pointer}",
    ".status{background:#fffbe6;color:#ad6800;font-size:12px;padding:4px 12px;display:none}",
    ".log{flex:1;overflow-y:auto;padding:12px;background:#f5f6f8}",
    ".msg{display:flex;margin:8px 0;align-items:flex-end}",
    ".msg .body{max-width:78%;padding:8px 12px;border-radius:12px;white-space:pre-wrap;word-break:break-word;font-size:14px;line-height:1.45;background:#fff;color:#222}",
    ".msg.customer{justify-content:flex-end}",
    ".msg.customer .body{background:" + color + ";color:#fff}",
    ".msg.customer.pending .body{opacity:.6}",
    ".avatar{width:28px;height:28px;border-radius:50%;background:#722ed1;color:#fff;font-size:13px;line-height:28px;text-align:center;margin-right:6px;flex:none}",
    ".buttons{margin-top:6px;display:flex;flex-wrap:wrap;gap:6px}",
    ".buttons button{border:1px solid " + color + ";background:#fff;color:" + color + ";border-radius:14px;padding:4px 10px;font-size:13px;cursor:pointer}",
    ".msg img{max-width:100%;border-radius:8px;margin-top:6px}",
    ".typing{font-size:12px;color:#5f6368;padding:0 14px 6px;display:none;background:#f5f6f8}",
    "form{display:flex;border-top:1px solid #eee}",
    "textarea{flex:1;border:0;padding:10px 12px;font-size:14px;resize:none;height:48px;outline:none}",
    "form button{border:0;background:" + color + ";color:#fff;padding:0 16px;font-size:14px;cursor:pointer}",
    // On a phone the open chat takes the whole screen, and the round button steps aside.
    "@media (max-width:480px){.panel.open{top:0;left:0;right:0;bottom:0;width:100%;max-width:none;height:100%;max-height:none;border-radius:0}.panel.open~.bubble{display:none}}"
  ].join("\n");
  root.appendChild(style);

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }
  // An SVG, not an emoji: a system without an emoji font showed the emoji as an empty box.
  function chatIcon() {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    var path = document.createElementNS(ns, "path");
    path.setAttribute("d", "M4 3h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2zm3 6.5a1.5 1.5 0 1 0 0 .01zm5 0a1.5 1.5 0 1 0 0 .01zm5 0a1.5 1.5 0 1 0 0 .01z");
    svg.appendChild(path);
    return svg;
  }
  var bubble = el("button", "bubble");
  bubble.type = "button";
  bubble.appendChild(chatIcon());
  bubble.setAttribute("aria-label", T.open);
  bubble.setAttribute("aria-expanded", "false");
  var badge = el("span", "badge", "0");
  bubble.appendChild(badge);
  var panel = el("div", "panel");
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-label", opts.title || T.title);
  var head = el("div", "head");
  var titles = el("div");
  titles.appendChild(el("div", "title", opts.title || T.title));
  var who = el("div", "who", "");
  titles.appendChild(who);
  var closeBtn = el("button", "close", "×");
  closeBtn.setAttribute("aria-label", T.close);
  head.appendChild(titles);
  head.appendChild(closeBtn);
  var status = el("div", "status", T.offline);
  var log = el("div", "log");
  log.setAttribute("aria-live", "polite");
  // What an empty chat shows: a greeting and questions to start with (not stored: nobody said it yet).
  var welcome = el("div", "welcome");
  welcome.appendChild(el("div", "", opts.greeting || T.greeting));
  if (suggestions.length) {
    welcome.appendChild(el("div", "label", T.suggestLabel));
    var offers = el("div", "buttons");
    suggestions.forEach(function (q) {
      var b = el("button", "", q);
      b.type = "button";
      b.addEventListener("click", function () { submit(q); input.focus(); });
      offers.appendChild(b);
    });
    welcome.appendChild(offers);
  }
  log.appendChild(welcome);
  var typing = el("div", "typing", T.typing);
  var form = el("form");
  var input = el("textarea");
  input.placeholder = T.placeholder;
  input.maxLength = 4000;
  var sendBtn = el("button", "send", T.send);
  sendBtn.type = "submit";
  form.appendChild(input);
  form.appendChild(sendBtn);
  [head, status, log, typing, form].forEach(function (n) { panel.appendChild(n); });
  root.appendChild(panel);
  root.appendChild(bubble);

  var unread = 0;
  var shown = {};        // server ids and client ids already on screen
  var pending = load("pending", []);  // customer messages not yet acknowledged, in order
  var visitor = load("visitor", "");
  var token = load("token", "");
  var lastId = "";       // newest server id shown on this page (a reload asks for the history again)
  var ws = null, ready = false, retry = 500, typingTimer = null;

  function setUnread(n) {
    unread = n;
    badge.textContent = String(n);
    badge.style.display = n > 0 ? "block" : "none";
  }
  function openPanel(open) {
    panel.classList.toggle("open", open);
    bubble.setAttribute("aria-expanded", String(open));
    if (open) { setUnread(0); input.focus(); log.scrollTop = log.scrollHeight; } else { bubble.focus(); }
  }
  bubble.addEventListener("click", function () { openPanel(!panel.classList.contains("open")); });
  closeBtn.addEventListener("click", function () { openPanel(false); });
  // Escape closes the open chat, wherever the focus is (a clicked suggestion may have taken it away).
  document.addEventListener("keydown", function (e) {
    if (e.key === "Escape" && panel.classList.contains("open")) openPanel(false);
  });

  function showTyping(on) {
    clearTimeout(typingTimer);
    typing.style.display = on ? "block" : "none";
    if (on) typingTimer = setTimeout(function () { showTyping(false); }, 10000);
  }

  // Messages are kept in time order, whatever order they arrive in.
  function place(node, at) {
    node.dataset.at = String(at || Date.now());
    var after = null;
    for (var i = log.children.length - 1; i >= 0; i--) {
      if (Number(log.children[i].dataset.at) <= Number(node.dataset.at)) { after = log.children[i]; break; }
    }
    if (after) after.after(node); else log.prepend(node);
    welcome.style.display = "none";
    log.scrollTop = log.scrollHeight;
  }

  function render(m) {
    var key = m.client_id || m.id;
    var existing = key ? root.querySelector('[data-key="' + CSS.escape(key) + '"]') : null;
    if (existing) { existing.classList.remove("pending"); return; }
    var row = el("div", "msg " + (m.role === "customer" ? "customer" : m.role === "agent" ? "agent" : "bot"));
    if (key) row.dataset.key = key;
    if (m.pending) row.classList.add("pending");
    if (m.role === "agent" && m.author) {
      row.appendChild(el("div", "avatar", m.author.charAt(0).toUpperCase()));
      who.textContent = T.agent.replace("{name}", m.author);
    }
    var body = el("div", "body", m.text || "");
    if (m.image && /^https?:\/\//.test(m.image)) {
      var img = document.createElement("img");
      img.src = m.image;
      img.alt = "";
      body.appendChild(img);
    }
    if (m.buttons && m.buttons.length) {
      var box = el("div", "buttons");
      m.buttons.forEach(function (b) {
        var btn = el("button", "", b.title);
        btn.type = "button";
        btn.addEventListener("click", function () { submit(b.payload, b.title); });
        box.appendChild(btn);
      });
      body.appendChild(box);
    }
    row.appendChild(body);
    place(row, m.at);
  }

  function newId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return Date.now().toString(36) + Math.random().toString(36).slice(2);
  }

  function transmit(p) {
    if (ws && ready && ws.readyState === WebSocket.OPEN) {
      ws.send(JSON.stringify({ type: "message", id: p.id, text: p.text, display: p.display || undefined }));
    }
  }

  function submit(text, display) {
    text = String(text || "").trim();
    if (!text) return;
    var p = { id: newId(), text: text, display: display || "", at: Date.now() };
    pending.push(p);
    save("pending", pending);
    render({ role: "customer", text: display || text, client_id: p.id, at: p.at, pending: true });
    showTyping(true);
    transmit(p);
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    submit(input.value);
    input.value = "";
  });
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); form.requestSubmit(); }
  });

  function onFrame(frame) {
    if (frame.type === "session") {
      if (frame.visitor !== visitor) { pending = []; save("pending", pending); }
      visitor = frame.visitor; token = frame.token;
      save("visitor", visitor); save("token", token);
    } else if (frame.type === "message") {
      lastId = frame.id;
      if (frame.client_id) shown[frame.client_id] = true;
      render(frame);
      if (frame.role !== "customer") {
        showTyping(false);
        if (!panel.classList.contains("open")) setUnread(unread + 1);
      }
    } else if (frame.type === "ready") {
      ready = true;
      retry = 500;
      status.style.display = "none";
      // Messages written while offline (or before a reload) go out now, once each, in order.
      pending.forEach(transmit);
    } else if (frame.type === "ack") {
      pending = pending.filter(function (p) { return p.id !== frame.id; });
      save("pending", pending);
      var row = root.querySelector('[data-key="' + CSS.escape(frame.id) + '"]');
      if (row) row.classList.remove("pending");
    } else if (frame.type === "error" && frame.id) {
      pending = pending.filter(function (p) { return p.id !== frame.id; });
      save("pending", pending);
      var bad = root.querySelector('[data-key="' + CSS.escape(frame.id) + '"] .body');
      if (bad) bad.title = T.failed + ": " + frame.error;
      showTyping(false);
    }
  }

  function connect() {
    var url = (server.protocol === "https:" ? "wss://" : "ws://") + server.host + "/webchat/ws";
    ready = false;
    ws = new WebSocket(url);
    ws.onopen = function () {
      ws.send(JSON.stringify({ type: "hello", visitor: visitor, token: token, last: lastId, language: lang }));
    };
    ws.onmessage = function (event) {
      try { onFrame(JSON.parse(event.data)); } catch (e) { /* a frame this version does not know */ }
    };
    ws.onclose = function () {
      ready = false;
      status.style.display = "block";
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 10000);
    };
  }

  pending.forEach(function (p) { render({ role: "customer", text: p.display || p.text, client_id: p.id, at: p.at, pending: true }); });
  window.__csWebchat = { open: function () { openPanel(true); } };
  (document.body || document.documentElement).appendChild(host);
  if (opts.open === "true") openPanel(true);
  connect();
})();
