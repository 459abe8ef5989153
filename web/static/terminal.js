// The exam terminal: xterm.js in #terminal, a websocket to the attempt's jailed shell.
// Reconnects by itself after a dropped connection; the shell keeps running on the
// server and the recent screen is replayed on reattach.
(function () {
  "use strict";
  const host = document.getElementById("terminal");
  if (!host || !window.Terminal || host.dataset.live !== "1") return;

  const term = new window.Terminal({
    cursorBlink: true,
    fontFamily: 'ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace',
    fontSize: 14,
    scrollback: 5000,
    theme: { background: "#0f1720", foreground: "#e6edf3", cursor: "#7ee787" },
  });
  const fit = new window.FitAddon.FitAddon();
  term.loadAddon(fit);
  host.innerHTML = "";
  term.open(host);
  fit.fit();
  host.classList.add("live");

  const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host +
    "/attempts/" + host.dataset.attempt + "/terminal";
  let ws = null, retry = 0, closedForGood = false, first = true;

  function send(obj) {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(obj));
  }
  function status(text) {
    host.dataset.status = text;
    const el = document.getElementById("terminal-status");
    if (el) el.textContent = text;
  }

  function connect() {
    status(first ? "connecting" : "reconnecting");
    ws = new WebSocket(url);
    ws.binaryType = "arraybuffer";
    ws.onopen = function () {
      retry = 0;
      if (!first) term.reset();  // the server replays the recent screen
      first = false;
      status("connected");
      send({ r: [term.rows, term.cols] });
      term.focus();
    };
    ws.onmessage = function (ev) {
      term.write(typeof ev.data === "string" ? ev.data : new Uint8Array(ev.data));
    };
    ws.onclose = function (ev) {
      status("disconnected");
      if (closedForGood) return;
      // 403 before the upgrade shows up as code 1006 at once; the page's own state
      // poll tells the candidate when the attempt is over, so just back off.
      const delay = Math.min(10000, 500 * Math.pow(2, retry++));
      setTimeout(connect, delay);
    };
  }

  term.onData(function (d) { send({ i: d }); });
  term.onResize(function (size) { send({ r: [size.rows, size.cols] }); });
  window.addEventListener("resize", function () { fit.fit(); });
  new ResizeObserver(function () { fit.fit(); }).observe(host);

  // Copy: selecting text copies it (as in most terminals); Ctrl+Shift+C also does.
  // Paste: Ctrl+Shift+V or the browser's paste (xterm handles the paste event).
  term.onSelectionChange(function () {
    const sel = term.getSelection();
    if (sel && navigator.clipboard) navigator.clipboard.writeText(sel).catch(function () {});
  });
  term.attachCustomKeyEventHandler(function (e) {
    if (e.type === "keydown" && e.ctrlKey && e.shiftKey && (e.key === "C" || e.key === "c")) {
      const sel = term.getSelection();
      if (sel && navigator.clipboard) navigator.clipboard.writeText(sel);
      return false;
    }
    if (e.type === "keydown" && e.ctrlKey && e.shiftKey && (e.key === "V" || e.key === "v")) {
      if (navigator.clipboard && navigator.clipboard.readText) {
        navigator.clipboard.readText().then(function (t) { send({ i: t }); }).catch(function () {});
        return false;
      }
    }
    return true;
  });

  window.addEventListener("beforeunload", function () { closedForGood = true; });
  window.proctorTerminal = { term: term, status: function () { return host.dataset.status; } };
  connect();
})();
