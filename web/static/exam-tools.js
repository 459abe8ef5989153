/* Exam tools on the task page, as a candidate of the real simulator expects:
   a resizable split between statement and terminal and the terminal's font
   size (both kept in localStorage, for every task and attempt), click-to-copy
   in the statement, a notepad kept on the server, and the signal that lets the
   server count time on task only while the page is in front with focus.
   Uses window.proctor (proctor.js) and the terminal's public surface,
   window.proctorTerminal (terminal.js). */
(function () {
  "use strict";
  var P = window.proctor;
  var ws = document.querySelector(".workspace");
  if (!P || !ws) return;

  function clamp(v, lo, hi) { return Math.min(hi, Math.max(lo, v)); }
  function post(url, fields) {
    var fd = new FormData();
    fd.append("csrf_token", P.csrf);
    Object.keys(fields).forEach(function (k) { fd.append(k, fields[k]); });
    return fd;
  }

  /* -- split between statement and terminal --------------------------------------- */
  var splitter = document.getElementById("splitter");
  var statement = document.getElementById("statement");
  var pane = document.querySelector(".terminal-pane");
  var SPLIT = { min: 20, max: 80, dflt: 48, key: "proctor.split" };
  function applySplit(pct) {
    pct = Math.round(clamp(Number(pct) || SPLIT.dflt, SPLIT.min, SPLIT.max) * 10) / 10;
    ws.style.setProperty("--stmt", pct + "fr");
    ws.style.setProperty("--term", (100 - pct) + "fr");
    splitter.setAttribute("aria-valuenow", String(Math.round(pct)));
    splitter.setAttribute("aria-valuetext", Math.round(pct) + "% statement, " +
                          Math.round(100 - pct) + "% terminal");
    ws.dataset.split = String(pct);
    return pct;
  }
  if (splitter && statement && pane) {
    var split = applySplit(P.stored(SPLIT.key, SPLIT.dflt));
    var drag = null;
    splitter.addEventListener("pointerdown", function (e) {
      if (e.button !== 0) return;
      e.preventDefault();
      splitter.setPointerCapture(e.pointerId);
      drag = { left: statement.getBoundingClientRect().left,
               width: statement.offsetWidth + pane.offsetWidth };
      splitter.classList.add("dragging");
      document.body.classList.add("resizing");
    });
    splitter.addEventListener("pointermove", function (e) {
      if (drag) split = applySplit(100 * (e.clientX - drag.left) / drag.width);
    });
    var endDrag = function () {
      if (!drag) return;
      drag = null;
      splitter.classList.remove("dragging");
      document.body.classList.remove("resizing");
      P.store(SPLIT.key, split);
    };
    splitter.addEventListener("pointerup", endDrag);
    splitter.addEventListener("pointercancel", endDrag);
    splitter.addEventListener("dblclick", function () { split = applySplit(SPLIT.dflt); P.store(SPLIT.key, split); });
    splitter.addEventListener("keydown", function (e) {
      var step = e.shiftKey ? 10 : 2, next = null;
      if (e.key === "ArrowLeft") next = split - step;
      else if (e.key === "ArrowRight") next = split + step;
      else if (e.key === "Home") next = SPLIT.min;
      else if (e.key === "End") next = SPLIT.max;
      else if (e.key === "Enter") next = SPLIT.dflt;
      if (next === null) return;
      e.preventDefault();
      e.stopPropagation();  // Shift+arrows also switch tasks elsewhere on the page
      split = applySplit(next);
      P.store(SPLIT.key, split);
    });
    // The terminal refits itself when its pane changes size (terminal.js observes it).
  }

  /* -- terminal font size --------------------------------------------------------------- */
  var FONT = { min: 10, max: 24, dflt: 14, key: "proctor.fontSize" };
  var fontOut = document.getElementById("font-size");
  function applyFont(px) {
    px = Math.round(clamp(Number(px) || FONT.dflt, FONT.min, FONT.max));
    if (fontOut) fontOut.textContent = px + " px";
    ws.dataset.fontSize = String(px);
    var T = window.proctorTerminal;
    if (T && typeof T.setFontSize === "function") {
      T.setFontSize(px);
    } else if (T && T.term) {
      T.term.options.fontSize = px;
      window.dispatchEvent(new Event("resize"));  // terminal.js refits on resize
    }
    document.dispatchEvent(new CustomEvent("proctor:terminal-font", { detail: { size: px } }));
    return px;
  }
  var font = applyFont(P.stored(FONT.key, FONT.dflt));
  function fontButton(id, delta) {
    var b = document.getElementById(id);
    if (!b) return;
    b.addEventListener("click", function (e) {
      font = applyFont(font + delta);
      P.store(FONT.key, font);
      var T = window.proctorTerminal;
      if (e.detail > 0 && T && T.term) T.term.focus();  // a mouse click: back to typing
    });
  }
  fontButton("font-smaller", -1);
  fontButton("font-larger", +1);

  /* -- click-to-copy in the statement ------------------------------------------------------ */
  var toast = document.getElementById("copy-toast");
  function fallbackCopy(text) {
    var active = document.activeElement, ta = document.createElement("textarea");
    ta.value = text;
    ta.setAttribute("readonly", "");
    ta.style.position = "fixed"; ta.style.top = "0"; ta.style.opacity = "0";
    document.body.appendChild(ta);
    ta.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    document.body.removeChild(ta);
    if (active && active.focus) active.focus();
    return ok ? Promise.resolve() : Promise.reject(new Error("copy refused"));
  }
  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).catch(function () { return fallbackCopy(text); });
    }
    return fallbackCopy(text);  // plain HTTP on a LAN address has no Clipboard API
  }
  function showToast(el, ok) {
    if (!toast) return;
    var r = el.getBoundingClientRect();
    toast.textContent = ok ? "Copied" : "Press Ctrl+C to copy";
    toast.classList.toggle("error", !ok);
    toast.style.left = (r.left + r.width / 2) + "px";
    toast.style.top = (r.top - 6) + "px";
    toast.hidden = false;
    clearTimeout(toast._hide);
    toast._hide = setTimeout(function () { toast.hidden = true; }, 1400);
  }
  function copyFrom(el, text) {
    copyText(text).then(function () {
      showToast(el, true);
      el.classList.add("copied");
      setTimeout(function () { el.classList.remove("copied"); }, 900);
    }, function () { showToast(el, false); });
  }
  // Inline code (names, values) copies on a click; a click that ends a selection
  // of part of it does not, so the candidate can still copy a part.
  document.querySelectorAll(".statement .markdown code").forEach(function (c) {
    if (c.closest("pre")) return;
    c.classList.add("copyable");
    c.tabIndex = 0;
    c.setAttribute("role", "button");
    c.title = "Click to copy";
    c.addEventListener("click", function () {
      var sel = window.getSelection();
      if (sel && !sel.isCollapsed && String(sel).trim()) return;
      copyFrom(c, c.textContent);
    });
    c.addEventListener("keydown", function (e) {
      if (e.key !== "Enter" && e.key !== " ") return;
      e.preventDefault();
      e.stopPropagation();
      copyFrom(c, c.textContent);
    });
  });
  // Blocks (commands, manifests) get a button; selecting inside them stays free.
  document.querySelectorAll(".statement pre").forEach(function (pre) {
    var wrap = document.createElement("div");
    wrap.className = "copy-wrap";
    pre.parentNode.insertBefore(wrap, pre);
    wrap.appendChild(pre);
    var b = document.createElement("button");
    b.type = "button";
    b.className = "btn small copy-btn";
    b.textContent = "Copy";
    b.setAttribute("aria-label", "Copy this block");
    b.addEventListener("click", function () {
      copyFrom(b, pre.textContent.replace(/\n$/, ""));  // no trailing newline: nothing runs by itself
    });
    wrap.appendChild(b);
  });

  /* -- the notepad, autosaved to the server -------------------------------------------------- */
  var pad = document.getElementById("notepad");
  var toggle = document.getElementById("notes-toggle");
  if (pad && toggle) {
    var text = document.getElementById("notepad-text");
    var statusEl = document.getElementById("notepad-status");
    var url = pad.dataset.url, saved = text.value, timer = null, busy = false;
    var setStatus = function (msg, error) {
      statusEl.textContent = msg;
      statusEl.classList.toggle("error", !!error);
      pad.dataset.state = error ? "error" : (msg === "Saved" ? "saved" : "");
    };
    var setOpen = function (open, focus) {
      pad.hidden = !open;
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
      P.store("proctor.notesOpen", !!open);
      if (open && focus) text.focus();
    };
    var save = function () {
      clearTimeout(timer);
      var value = text.value;
      if (value === saved) return;
      if (busy) { timer = setTimeout(save, 300); return; }  // one save at a time, in order
      busy = true;
      setStatus("Saving…");
      fetch(url, {
        method: "POST", body: post(url, { notes: value }), credentials: "same-origin",
        headers: { "Accept": "application/json", "X-Requested-With": "fetch", "X-CSRFToken": P.csrf }
      }).then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (j) {
          if (!r.ok) throw new Error(j.message || ("error " + r.status));
          saved = value;
          if (text.value === value) setStatus("Saved"); else save();
        });
      }).catch(function (err) {
        setStatus("Not saved: " + err.message, true);
      }).then(function () { busy = false; });
    };
    text.addEventListener("input", function () {
      setStatus("Editing…");
      clearTimeout(timer);
      timer = setTimeout(save, 700);
    });
    text.addEventListener("blur", save);
    text.addEventListener("keydown", function (e) {
      if (e.key === "Escape") { setOpen(false); toggle.focus(); }
    });
    toggle.addEventListener("click", function () { setOpen(pad.hidden, true); });
    pad.querySelector("[data-close-notes]").addEventListener("click", function () {
      setOpen(false);
      toggle.focus();
    });
    // Leaving the page (next task, reload, closing the tab) keeps what was typed.
    var flush = function () {
      if (text.value === saved || !navigator.sendBeacon) return;
      if (navigator.sendBeacon(url, post(url, { notes: text.value }))) saved = text.value;
    };
    window.addEventListener("pagehide", flush);
    document.addEventListener("visibilitychange", function () { if (document.hidden) flush(); });
    setOpen(P.stored("proctor.notesOpen", false), false);
  }

  /* -- time on task: tell the server when the page is in front with focus, or not ----------------
     The server keeps the clock (Lifecycle.task_presence) and takes only the fact,
     never a duration. Sent on load too: a page opened in the background, or a
     reload whose old page's last signal arrived after the new page's load. */
  var presenceUrl = ws.dataset.presenceUrl;
  if (presenceUrl && document.getElementById("countdown")) {
    var focused = document.hasFocus(), last = null;
    var signal = function (beacon) {
      var front = document.visibilityState === "visible" && focused;
      if (front === last) return;
      last = front;
      ws.dataset.inFront = front ? "1" : "0";
      var body = post(presenceUrl, { visible: front ? "1" : "0" });
      if (beacon && navigator.sendBeacon && navigator.sendBeacon(presenceUrl, body)) return;
      fetch(presenceUrl, { method: "POST", body: body, credentials: "same-origin", keepalive: true,
                           headers: { "Accept": "application/json", "X-CSRFToken": P.csrf } })
        .then(function (r) { if (r.ok) ws.dataset.presenceSent = front ? "1" : "0"; })
        .catch(function () { last = null; });
    };
    window.addEventListener("focus", function (e) { if (e.target === window) { focused = true; signal(); } });
    window.addEventListener("blur", function (e) { if (e.target === window) { focused = false; signal(); } });
    document.addEventListener("visibilitychange", function () { signal(document.hidden); });
    window.addEventListener("pagehide", function () { focused = false; signal(true); });
    window.addEventListener("pageshow", function (e) {
      if (e.persisted) { last = null; focused = document.hasFocus(); signal(); }
    });
    signal();
  }
})();
