/* Proctor pages: countdown and its warnings, polling, flags, practice checks,
   keyboard. The countdown never trusts the client's wall clock: it counts down
   from the server's remaining seconds with performance.now() (monotonic) and
   re-reads the server's figure every 20 s. The exam tools (split, font size,
   notes, click-to-copy, time on task) are in exam-tools.js and use the
   helpers exported here as window.proctor. */
(function () {
  "use strict";
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  function getJSON(url) {
    return fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); });
  }
  function postForm(form) {
    return fetch(form.action, {
      method: "POST", body: new FormData(form), credentials: "same-origin",
      headers: { "Accept": "application/json", "X-Requested-With": "fetch", "X-CSRFToken": csrf }
    }).then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); });
  }
  function fmt(sec) {
    sec = Math.max(0, Math.floor(sec));
    var h = Math.floor(sec / 3600), m = Math.floor(sec % 3600 / 60), s = sec % 60;
    var mm = (m < 10 ? "0" : "") + m, ss = (s < 10 ? "0" : "") + s;
    return h ? h + ":" + mm + ":" + ss : mm + ":" + ss;
  }
  function stored(key, fallback) {  // localStorage may be off (private mode, policy)
    try { var v = window.localStorage.getItem(key); return v === null ? fallback : JSON.parse(v); }
    catch (e) { return fallback; }
  }
  function store(key, value) {
    try { window.localStorage.setItem(key, JSON.stringify(value)); } catch (e) { /* not kept */ }
  }
  window.proctor = { csrf: csrf, getJSON: getJSON, fmt: fmt, stored: stored, store: store };

  /* -- time warnings: once each per attempt, at the minutes left the page gives
     (web/present.py TIME_WARNINGS: 30, 15 and 5, as the real exam) --------------
     Remembered in localStorage, so a reload does not warn again; a page that
     loads already under a threshold it never warned about warns once, for the
     lowest threshold passed (not a stale 15 after the 5). The countdown's own
     colour says "under 15" / "under 5" at all times. */
  var warnBox = document.getElementById("time-warning");
  function timeWarnings(attemptId, byMinutes) {
    /* byMinutes: {"30": "advice", …} from the page (web/present.py TIME_WARNINGS) */
    var WARN_TEXT = {};
    Object.keys(byMinutes || {}).forEach(function (m) { WARN_TEXT[parseInt(m, 10) * 60] = byMinutes[m]; });
    var WARN_AT = Object.keys(WARN_TEXT).map(Number).sort(function (x, y) { return y - x; });
    var key = "proctor.warned." + attemptId, warned = stored(key, []);
    if (warnBox) warnBox.querySelector("[data-close-warning]").addEventListener("click", function () {
      warnBox.hidden = true;
    });
    return function (left) {
      if (!warnBox || left <= 0) return;
      var due = WARN_AT.filter(function (t) { return left <= t && warned.indexOf(t) < 0; });
      if (!due.length) return;
      var at = Math.min.apply(null, due);
      WARN_AT.forEach(function (t) { if (t >= at && warned.indexOf(t) < 0) warned.push(t); });
      store(key, warned);
      document.getElementById("time-warning-text").textContent = WARN_TEXT[at];
      warnBox.classList.toggle("critical", at === WARN_AT[WARN_AT.length - 1]);
      warnBox.dataset.threshold = String(at / 60);
      warnBox.hidden = false;
      clearTimeout(warnBox._hide);
      warnBox._hide = setTimeout(function () { warnBox.hidden = true; }, 30000);
    };
  }

  /* -- countdown (exam page) ---------------------------------------------- */
  var cd = document.getElementById("countdown");
  if (cd && cd.dataset.remaining !== undefined) {
    var value = document.getElementById("countdown-value");
    var endAt = performance.now() + parseFloat(cd.dataset.remaining) * 1000;
    var finished = false;
    var warn = timeWarnings(cd.dataset.attempt, JSON.parse(cd.dataset.warnings || "{}"));
    var tick = function () {
      var left = (endAt - performance.now()) / 1000;
      value.textContent = fmt(left);
      cd.classList.toggle("low", left <= 15 * 60 && left > 5 * 60);
      cd.classList.toggle("critical", left <= 5 * 60);
      cd.classList.toggle("final", left <= 60);
      cd.title = left <= 5 * 60 ? "Under 5 minutes left (kept by the server)"
        : left <= 15 * 60 ? "Under 15 minutes left (kept by the server)" : "Time left (kept by the server)";
      warn(left);
      if (left <= 0 && !finished) { finished = true; value.textContent = "time up"; waitForEnd(); }
    };
    var resync = function () {
      getJSON(cd.dataset.statusUrl).then(function (st) {
        if (st.state !== "running") { window.location = cd.dataset.attemptUrl; return; }
        if (st.remaining_seconds !== null) endAt = performance.now() + st.remaining_seconds * 1000;
      }).catch(function () {});
    };
    var waitForEnd = function () {
      getJSON(cd.dataset.statusUrl).then(function (st) {
        if (st.state !== "running") window.location = cd.dataset.attemptUrl;
        else setTimeout(waitForEnd, 1000);
      }).catch(function () { setTimeout(waitForEnd, 2000); });
    };
    tick();
    setInterval(tick, 250);
    setInterval(resync, 20000);
    document.addEventListener("visibilitychange", function () { if (!document.hidden) resync(); });
  } else if (cd) {
    setInterval(function () {
      getJSON(cd.dataset.statusUrl).then(function (st) {
        if (st.state !== "running") window.location = cd.dataset.attemptUrl;
      }).catch(function () {});
    }, 30000);
  }

  /* -- waiting page: follow the attempt's state --------------------------------- */
  var wait = document.getElementById("wait");
  if (wait && ["provisioning", "setting_up", "submitted", "grading"].indexOf(wait.dataset.state) >= 0) {
    var progress = document.getElementById("progress");
    var poll = function () {
      getJSON(wait.dataset.statusUrl).then(function (st) {
        if (st.state !== wait.dataset.state) { window.location.reload(); return; }
        if (progress && st.progress) progress.textContent = st.progress;
        setTimeout(poll, 700);
      }).catch(function () { setTimeout(poll, 2000); });
    };
    setTimeout(poll, 500);
  }

  /* -- confirmations ------------------------------------------------------------- */
  document.querySelectorAll("form[data-confirm]").forEach(function (f) {
    f.addEventListener("submit", function (e) {
      var flagged = document.querySelectorAll(".tasklist li.flagged").length;
      var msg = f.dataset.confirm + (f.id === "submit-form" && flagged ? "\n\n" + flagged + " task(s) are flagged for review." : "");
      if (!window.confirm(msg)) e.preventDefault();
    });
  });

  /* -- flag for review without a reload ------------------------------------------ */
  var flagForm = document.getElementById("flag-form");
  var ws = document.querySelector(".workspace");
  if (flagForm && ws) {
    flagForm.addEventListener("submit", function (e) {
      e.preventDefault();
      postForm(flagForm).then(function (r) {
        var btn = flagForm.querySelector("button");
        btn.classList.toggle("on", r.flagged);
        btn.setAttribute("aria-pressed", r.flagged ? "true" : "false");
        btn.querySelector("span").textContent = r.flagged ? "Flagged" : "Flag for review";
        var li = document.getElementById("nav-" + r.position);
        if (li) li.classList.toggle("flagged", r.flagged);
        var count = document.querySelector(".legend strong");
        if (count) count.textContent = document.querySelectorAll(".tasklist li.flagged").length;
      }).catch(function () { flagForm.submit(); });
    });
  }

  /* -- practice: check my work ------------------------------------------------------ */
  var check = document.getElementById("check");
  if (check) {
    var checkForm = document.getElementById("check-form");
    var statusEl = document.getElementById("check-status");
    var resultEl = document.getElementById("check-result");
    var pollCheck = function () {
      getJSON(check.dataset.url).then(function (r) {
        if (r.check_state === "done") {
          resultEl.innerHTML = r.html;  // rendered and escaped by the server
          statusEl.textContent = "Checked just now";
          checkForm.querySelector("button").disabled = false;
        } else { setTimeout(pollCheck, 700); }
      }).catch(function () { setTimeout(pollCheck, 2000); });
    };
    checkForm.addEventListener("submit", function (e) {
      e.preventDefault();
      checkForm.querySelector("button").disabled = true;
      statusEl.textContent = "Checking…";
      postForm(checkForm).then(pollCheck).catch(function () { checkForm.submit(); });
    });
    if (check.dataset.state === "pending" || check.dataset.state === "running") pollCheck();
  }

  /* -- keyboard ----------------------------------------------------------------------- */
  var help = document.getElementById("help");
  if (help) help.querySelector("[data-close]").addEventListener("click", function () { help.hidden = true; });
  // Single keys act only when the candidate is not typing: not in a field, the
  // notes or a terminal, and not while text is selected on the page (someone who
  // selected a name in the statement and types "k get nodes" meant the terminal).
  function typing(e) {
    var el = e.target, tag = (el.tagName || "").toLowerCase();
    if (tag === "input" || tag === "textarea" || tag === "select" || el.isContentEditable) return true;
    if (el.closest && el.closest("#terminal, .terminal-pane, .xterm, .notepad")) return true;
    var sel = window.getSelection && window.getSelection();
    return !!(sel && !sel.isCollapsed && String(sel).trim());
  }
  document.addEventListener("keydown", function (e) {
    if (!ws || e.ctrlKey || e.metaKey || e.altKey || e.isComposing) return;
    if (e.key === "Escape" && help && !help.hidden) { help.hidden = true; e.preventDefault(); return; }
    if (typing(e)) return;
    var pos = parseInt(ws.dataset.position, 10), count = parseInt(ws.dataset.count, 10);
    var go = function (p) {
      var a = document.querySelector("#nav-" + p + " a");
      if (a) window.location = a.href;
    };
    if (e.key === "n" || e.key === "ArrowRight" && e.shiftKey) go(Math.min(count, pos + 1));
    else if (e.key === "p" || e.key === "ArrowLeft" && e.shiftKey) go(Math.max(1, pos - 1));
    else if (/^[1-9]$/.test(e.key)) go(parseInt(e.key, 10));
    else if (e.key === "f" && flagForm) flagForm.requestSubmit();
    else if (e.key === "S" && e.shiftKey) document.getElementById("submit-form").requestSubmit();
    else if (e.key === "?" && help) help.hidden = !help.hidden;
    else if (e.key === "Escape" && help) help.hidden = true;
    else return;
    e.preventDefault();
  });
})();
