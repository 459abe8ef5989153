// The exam terminal: xterm.js tabs in #terminal, each a websocket to a bash of its own in
// the attempt's one jail (same cluster, files and limits). Tab 0 always exists; "+" opens
// up to the server's maximum, "×" ends that tab's shell. A tab's connection opens when it
// is first shown and reconnects by itself; the shells keep running on the server, which
// paints each tab's current screen when it (re)attaches (web/terminal/screen.py). A tab
// shows in one window at a time: opened in another, it waits here for a key
// (web/terminal/connections.py). The terminal never grows past the largest screen the
// server keeps (the first frame's "size").
(function () {
  "use strict";
  const host = document.getElementById("terminal");
  if (!host || !window.Terminal || host.dataset.live !== "1") return;
  const strip = document.getElementById("terminal-tabs");
  const addButton = document.getElementById("terminal-add");
  const base = (location.protocol === "https:" ? "wss://" : "ws://") + location.host +
    "/attempts/" + host.dataset.attempt + "/terminal";
  const tabs = new Map();
  const REPLACED = 4001;  // close code: a newer connection took this tab
  let active = null, maxTabs = 4, leaving = false, fontSize = 14;
  let limits = null;  // [rows, cols, cells]: the largest screen the server keeps

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
                closing: false, ended: false, parked: false, failed: null,
                status: "idle", button: null };

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

    term.onData(function (d) {
      if (t.parked) { connect(t); return; }  // the key that takes the tab back
      send(t, { i: d });
    });
    term.onResize(function (size) { send(t, { r: [size.rows, size.cols] }); });
    // Copy: selecting text copies it (as in most terminals); Ctrl+Shift+C also does.
    // Paste: Ctrl+Shift+V, Ctrl+V or the menu are the browser's paste, which xterm
    // handles (a bracketed paste when the shell asked for one); xterm must not take
    // Ctrl+Shift+V for a key of its own (^V), nor may it be pasted here a second time.
    term.onSelectionChange(function () { copy(term.getSelection()); });
    term.attachCustomKeyEventHandler(function (e) {
      if (e.type !== "keydown" || !e.ctrlKey || !e.shiftKey) return true;
      if (e.key === "C" || e.key === "c") {
        copy(term.getSelection());
        return false;
      }
      return !(e.key === "V" || e.key === "v");
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

  function fitTab(t) {
    const d = t.fit.proposeDimensions();
    if (!d || isNaN(d.cols) || isNaN(d.rows)) return;
    let cols = d.cols, rows = d.rows;
    if (limits) {
      cols = Math.min(cols, limits[1]);
      rows = Math.max(1, Math.min(rows, limits[0], Math.floor(limits[2] / cols)));
    }
    if (cols !== t.term.cols || rows !== t.term.rows) t.term.resize(cols, rows);
  }

  function connect(t) {
    t.parked = false;
    status(t, t.retry ? "reconnecting" : "connecting");
    const ws = new WebSocket(base + "?tab=" + t.id);
    t.ws = ws;
    ws.binaryType = "arraybuffer";
    ws.onopen = function () {
      t.ended = false;
      t.failed = null;
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
      if ("tab" in msg) t.retry = 0;  // attached to the shell
      if (msg.max) maxTabs = msg.max;
      if (Array.isArray(msg.size)) { limits = msg.size; fitTab(t); }
      if (Array.isArray(msg.tabs)) msg.tabs.forEach(function (id) { makeTab(id); });
      if (msg.ended) t.ended = true;
      if (msg.error) t.failed = String(msg.error);
      updateStrip();
    };
    ws.onclose = function (ev) {
      if (t.ws !== ws) return;
      t.ws = null;
      status(t, "disconnected");
      if (leaving || t.closing) return;
      if (ev.code === REPLACED) {  // not back by itself: two windows would take turns
        t.parked = true;
        status(t, "elsewhere");
        t.term.write("\r\n\x1b[33m[this terminal was opened in another window; " +
                     "press a key to use it here]\x1b[0m\r\n");
        return;
      }
      if (t.ended && t.id !== 0) { removeTab(t); return; }  // `exit` in a tab closes it
      // 403 or 429 before the upgrade show up as code 1006 at once; the page's own
      // state poll tells the candidate when the attempt is over, so just back off.
      // A shell that could not start is tried again, more slowly.
      const first = t.failed ? 2000 : 500, most = t.failed ? 60000 : 10000;
      const delay = t.ended ? 300 : Math.min(most, first * Math.pow(2, t.retry++));
      if (t.failed) {
        status(t, "failed");
        t.term.write("\r\n\x1b[31mThe terminal could not start: " + t.failed + "\x1b[0m\r\n" +
                     "Trying again in " + Math.round(delay / 1000) + " s.\r\n");
      }
      setTimeout(function () { if (tabs.get(t.id) === t && !t.ws) connect(t); }, delay);
    };
  }

  function show(t) {
    active = t;
    tabs.forEach(function (x) {
      x.pane.hidden = x !== t;
      x.button.setAttribute("aria-selected", x === t ? "true" : "false");
    });
    fitTab(t);
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
  function refit() { if (active) fitTab(active); }
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
