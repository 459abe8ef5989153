// The exam terminal: xterm.js tabs in #terminal, each a websocket to a bash of its own in
// the attempt's one jail (same cluster, files and limits). Tab 0 always exists; "+" opens
// up to the server's maximum, "×" ends that tab's shell. A tab's connection opens when it
// is first shown and reconnects by itself; the shells keep running on the server, which
// paints each tab's current screen when it (re)attaches (web/terminal/screen.py).
(function () {
  "use strict";
  const host = document.getElementById("terminal");
  if (!host || !window.Terminal || host.dataset.live !== "1") return;
  const strip = document.getElementById("terminal-tabs");
  const addButton = document.getElementById("terminal-add");
  const base = (location.protocol === "https:" ? "wss://" : "ws://") + location.host +
    "/attempts/" + host.dataset.attempt + "/terminal";
  const tabs = new Map();
  let active = null, maxTabs = 4, leaving = false, fontSize = 14;

  host.innerHTML = "";
  host.classList.add("live");

  function status(t, text) {
    t.status = text;
    if (t !== active) return;
    host.dataset.status = text;
    const el = document.getElementById("terminal-status");
    if (el) el.textContent = text;
  }
  function send(t, obj) {
    if (t.ws && t.ws.readyState === WebSocket.OPEN) t.ws.send(JSON.stringify(obj));
  }
  function copy(text) {
    if (text && navigator.clipboard) navigator.clipboard.writeText(text).catch(function () {});
  }

  function makeTab(id) {
    if (tabs.has(id)) return tabs.get(id);
    const pane = document.createElement("div");
    pane.className = "term-pane";
    pane.hidden = true;
    host.appendChild(pane);
    const term = new window.Terminal({
      cursorBlink: true,
      fontFamily: 'ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace',
      fontSize: fontSize,
      scrollback: 5000,
      theme: { background: "#0f1720", foreground: "#e6edf3", cursor: "#7ee787" },
    });
    const fit = new window.FitAddon.FitAddon();
    term.loadAddon(fit);
    term.open(pane);
    const t = { id: id, pane: pane, term: term, fit: fit, ws: null, retry: 0,
                closing: false, ended: false, status: "idle", button: null };

    const button = document.createElement("div");
    button.className = "term-tab";
    button.setAttribute("role", "tab");
    button.dataset.tab = String(id);
    const label = document.createElement("span");
    label.textContent = "Terminal " + (id + 1);
    button.appendChild(label);
    if (id !== 0) {
      const close = document.createElement("button");
      close.type = "button";
      close.className = "term-close";
      close.textContent = "×";
      close.setAttribute("aria-label", "Close terminal " + (id + 1));
      close.title = "End this terminal's shell";
      close.addEventListener("click", function (e) { e.stopPropagation(); closeTab(t); });
      button.appendChild(close);
    }
    button.addEventListener("click", function () { show(t); });
    const after = Array.from(strip.querySelectorAll(".term-tab"))
      .find(function (b) { return Number(b.dataset.tab) > id; });
    strip.insertBefore(button, after || addButton);
    t.button = button;

    term.onData(function (d) { send(t, { i: d }); });
    term.onResize(function (size) { send(t, { r: [size.rows, size.cols] }); });
    // Copy: selecting text copies it (as in most terminals); Ctrl+Shift+C also does.
    // Paste: Ctrl+Shift+V or the browser's paste (xterm handles the paste event).
    term.onSelectionChange(function () { copy(term.getSelection()); });
    term.attachCustomKeyEventHandler(function (e) {
      if (e.type === "keydown" && e.ctrlKey && e.shiftKey && (e.key === "C" || e.key === "c")) {
        copy(term.getSelection());
        return false;
      }
      if (e.type === "keydown" && e.ctrlKey && e.shiftKey && (e.key === "V" || e.key === "v") &&
          navigator.clipboard && navigator.clipboard.readText) {
        navigator.clipboard.readText().then(function (x) { send(t, { i: x }); })
          .catch(function () {});
        return false;
      }
      return true;
    });
    tabs.set(id, t);
    updateStrip();
    return t;
  }

  function updateStrip() {
    strip.hidden = false;
    addButton.disabled = tabs.size >= maxTabs;
    addButton.title = tabs.size >= maxTabs ? "At most " + maxTabs + " terminals"
                                           : "Another terminal in the same cluster";
  }

  function connect(t) {
    status(t, t.retry ? "reconnecting" : "connecting");
    const ws = new WebSocket(base + "?tab=" + t.id);
    t.ws = ws;
    ws.binaryType = "arraybuffer";
    ws.onopen = function () {
      t.retry = 0;
      t.ended = false;
      send(t, { r: [t.term.rows, t.term.cols] });  // first: the server paints at this size
      status(t, "connected");
      if (t === active) t.term.focus();
    };
    ws.onmessage = function (ev) {
      if (typeof ev.data !== "string") {
        t.term.write(new Uint8Array(ev.data));
        return;
      }
      let msg = {};
      try { msg = JSON.parse(ev.data); } catch (e) { return; }
      if (msg.max) maxTabs = msg.max;
      if (Array.isArray(msg.tabs)) msg.tabs.forEach(function (id) { makeTab(id); });
      if (msg.ended) t.ended = true;
      updateStrip();
    };
    ws.onclose = function () {
      if (t.ws !== ws) return;
      t.ws = null;
      status(t, "disconnected");
      if (leaving || t.closing) return;
      if (t.ended && t.id !== 0) { removeTab(t); return; }  // `exit` in a tab closes it
      // 403 before the upgrade shows up as code 1006 at once; the page's own state
      // poll tells the candidate when the attempt is over, so just back off.
      const delay = t.ended ? 300 : Math.min(10000, 500 * Math.pow(2, t.retry++));
      setTimeout(function () { if (tabs.get(t.id) === t) connect(t); }, delay);
    };
  }

  function show(t) {
    active = t;
    tabs.forEach(function (x) {
      x.pane.hidden = x !== t;
      x.button.setAttribute("aria-selected", x === t ? "true" : "false");
    });
    t.fit.fit();
    status(t, t.status);
    if (!t.ws) connect(t);
    t.term.focus();
  }

  function removeTab(t) {
    tabs.delete(t.id);
    t.button.remove();
    t.pane.remove();
    t.term.dispose();
    if (active === t) show(tabs.get(0));
    updateStrip();
  }

  function closeTab(t) {
    if (t.id === 0) return;
    t.closing = true;
    send(t, { close: true });
    if (t.ws) t.ws.close();
    removeTab(t);
  }

  function openTab() {
    for (let id = 1; id < maxTabs; id++) {
      if (!tabs.has(id)) { const t = makeTab(id); show(t); return t; }
    }
    return null;
  }

  addButton.addEventListener("click", openTab);
  function refit() { if (active) active.fit.fit(); }
  window.addEventListener("resize", refit);
  new ResizeObserver(refit).observe(host);
  window.addEventListener("beforeunload", function () { leaving = true; });

  // The page's surface for the exam tools (font size) and the browser tests.
  window.proctorTerminal = {
    get term() { return active.term; },
    status: function () { return active.status; },
    tab: function () { return active.id; },
    tabs: function () { return Array.from(tabs.keys()).sort(); },
    select: function (id) { if (tabs.has(id)) show(tabs.get(id)); },
    open: function () { const t = openTab(); return t ? t.id : null; },
    close: function (id) { if (tabs.has(id)) closeTab(tabs.get(id)); },
    setFontSize: function (px) {
      fontSize = px;
      tabs.forEach(function (t) { t.term.options.fontSize = px; });
      refit();
    },
  };
  show(makeTab(0));
})();
