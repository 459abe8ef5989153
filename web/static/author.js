/* Authoring pages: the task editor (CodeMirror via window.ProctorEditor, live
   lint, save with conflict handling, Validate now), the exam builder, and the
   track/domain choice of the new-task and import forms. No page has inline
   script: the Content-Security-Policy allows script files of the portal only. */
(function () {
  "use strict";
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content;

  function api(method, url, body) {
    return fetch(url, {
      method: method, credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf, "Accept": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) { return { status: r.status, data: data }; });
    });
  }
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { if (k === "class") e.className = attrs[k]; else e.setAttribute(k, attrs[k]); });
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function $(id) { return document.getElementById(id); }

  /* ---------------------------------------------------------------- editor */
  function initEditor(page) {
    var FILES = ["task.yaml", "setup", "solution", "checks.py"];
    var langs = Object.assign({ statement: "markdown" }, page.languages);
    var editors = {}, version = page.version, dirty = false, syncing = false;
    var lintTimer = null, lintSeq = 0, lastChanged = null, saving = false;

    function current() {
      var files = {};
      FILES.forEach(function (f) { files[f] = editors[f].value(); });
      return files;
    }
    function setSaveState(text, cls) {
      var s = $("save-state"); s.textContent = text; s.className = "save-state small " + (cls || "muted");
    }
    function changed(name) {
      if (syncing) return;
      dirty = true; lastChanged = name;
      setSaveState("Unsaved changes", "warn-text");
      clearTimeout(lintTimer);
      lintTimer = setTimeout(function () { runLint(name); }, 450);
    }
    document.querySelectorAll(".editor-host").forEach(function (host) {
      var name = host.dataset.file;
      var doc = name === "statement" ? page.statement : page.files[name];
      editors[name] = window.ProctorEditor.create(host, { language: langs[name], doc: doc,
        onChange: function () { changed(name); } });
    });

    function showTab(name, line) {
      document.querySelectorAll(".editor-tab").forEach(function (t) { t.classList.toggle("active", t.dataset.file === name); t.setAttribute("aria-selected", t.dataset.file === name); });
      document.querySelectorAll(".editor-host").forEach(function (h) { h.hidden = h.dataset.file !== name; });
      var ed = editors[name];
      ed.view.requestMeasure();
      if (line) {
        var doc = ed.view.state.doc, n = Math.min(Math.max(line, 1), doc.lines);
        ed.view.dispatch({ selection: { anchor: doc.line(n).from }, scrollIntoView: true });
      }
      ed.focus();
    }
    document.querySelectorAll(".editor-tab").forEach(function (t) {
      t.addEventListener("click", function () { showTab(t.dataset.file); });
    });

    function showProblems(problems) {
      var by = {}; FILES.forEach(function (f) { by[f] = []; });
      (problems || []).forEach(function (p) { (by[p.file] || by["task.yaml"]).push(p); });
      FILES.forEach(function (f) {
        editors[f].setProblems(by[f]);
        var tab = document.querySelector('.editor-tab[data-file="' + f + '"] .count');
        tab.hidden = !by[f].length; tab.textContent = by[f].length;
      });
      var list = $("problems"); list.innerHTML = "";
      $("problem-count").textContent = (problems || []).length;
      $("problem-count").className = "count-chip" + ((problems || []).length ? " bad" : " good");
      if (!(problems || []).length) { list.appendChild(el("li", { "class": "none" }, "No problems: lint is clean.")); return; }
      problems.forEach(function (p) {
        var li = el("li"), a = el("button", { type: "button", "class": "problem-link" });
        a.appendChild(el("code", {}, p.file + (p.line ? ":" + p.line : "")));
        a.appendChild(document.createTextNode(" " + p.message));
        a.addEventListener("click", function () { showTab(p.file, p.line); });
        li.appendChild(a); list.appendChild(li);
      });
    }
    function showPreview(pv) {
      if (!pv) return;
      $("preview").innerHTML = pv.html;   // sanitized by the server (bleach), as on the exam page
      var note = $("preview-note"); note.hidden = !pv.note; note.textContent = pv.note || "";
      var params = Object.keys(pv.params || {}).map(function (k) { return k + "=" + pv.params[k]; }).join(", ");
      $("preview-params").textContent = params ? "(seed 1: " + params + ")" : "";
      var hints = $("preview-hints"); hints.innerHTML = "";
      (pv.hints || []).forEach(function (h, i) {
        var d = el("details", { "class": "hint" }); d.appendChild(el("summary", {}, "Hint " + (i + 1)));
        var div = el("div", { "class": "markdown" }); div.innerHTML = h; d.appendChild(div); hints.appendChild(d);
      });
    }
    function runLint(name) {
      var seq = ++lintSeq;
      $("lint-state").textContent = "Linting…";
      api("POST", page.urls.lint, { files: current(), statement: editors.statement.value(), changed: name })
        .then(function (r) {
          if (seq !== lintSeq) return;
          if (r.status !== 200) { $("lint-state").textContent = "Lint failed: " + (r.data.message || r.status); return; }
          syncing = true;
          try {
            if (r.data.task_yaml !== undefined) editors["task.yaml"].setValue(r.data.task_yaml);
            if (r.data.statement !== undefined && r.data.statement !== null && name !== "statement") editors.statement.setValue(r.data.statement);
          } finally { syncing = false; }
          showProblems(r.data.problems);
          showPreview(r.data.preview);
          var n = r.data.problems.length;
          $("lint-state").textContent = r.data.statement_error ? r.data.statement_error :
            (n ? n + " lint problem" + (n > 1 ? "s" : "") + " (" + new Date().toLocaleTimeString() + ")" : "Lint clean (" + new Date().toLocaleTimeString() + ")");
        });
    }

    /* save, with the version token; a 409 shows the other version */
    function save() {
      if (saving) return Promise.resolve(false);
      clearTimeout(lintTimer);
      saving = true; setSaveState("Saving…");
      var stmtFirst = lastChanged === "statement" ? api("POST", page.urls.lint, { files: current(), statement: editors.statement.value(), changed: "statement" })
        .then(function (r) { if (r.data.task_yaml !== undefined) { syncing = true; editors["task.yaml"].setValue(r.data.task_yaml); syncing = false; } }) : Promise.resolve();
      return stmtFirst.then(function () {
        return api("POST", page.urls.save, { files: current(), version: version });
      }).then(function (r) {
        saving = false;
        if (r.status === 409) { showConflict(r.data); setSaveState("Not saved: conflict", "bad-text"); return false; }
        if (r.status !== 200) { setSaveState("Not saved: " + (r.data.message || r.status), "bad-text"); return false; }
        version = r.data.version; dirty = false; lastChanged = null;
        setSaveState("Saved at " + r.data.at, "good-text");
        showProblems(r.data.problems);
        var badge = $("validation-badge"); badge.className = "vbadge v-stale"; badge.textContent = "edited since validated";
        return true;
      });
    }
    function showConflict(d) {
      $("conflict-message").textContent = d.message;
      var box = $("conflict-diff"); box.innerHTML = "";
      Object.keys(d.diff || {}).forEach(function (f) {
        box.appendChild(el("h3", {}, f));
        var pre = el("pre", { "class": "diff-view" });
        d.diff[f].split("\n").forEach(function (line) {
          var cls = line[0] === "+" && line.slice(0, 3) !== "+++" ? "add" : line[0] === "-" && line.slice(0, 3) !== "---" ? "del" : line.slice(0, 2) === "@@" ? "hunk" : "";
          pre.appendChild(el("span", { "class": cls }, line + "\n"));
        });
        box.appendChild(pre);
      });
      if (!Object.keys(d.diff || {}).length) box.appendChild(el("p", { "class": "muted" }, "Only the files' modes differ."));
      var modal = $("conflict"); modal.hidden = false;
      $("conflict-theirs").onclick = function () {
        syncing = true;
        FILES.forEach(function (f) { editors[f].setValue(d.current[f]); });
        syncing = false;
        version = d.version; dirty = false; modal.hidden = true;
        setSaveState("Loaded their version", "muted"); runLint("task.yaml");
      };
      $("conflict-mine").onclick = function () { version = d.version; modal.hidden = true; save(); };
      $("conflict-close").onclick = function () { modal.hidden = true; };
    }
    $("save-btn").addEventListener("click", save);
    document.addEventListener("keydown", function (e) {
      if ((e.ctrlKey || e.metaKey) && e.key === "s") { e.preventDefault(); save(); }
    });
    window.addEventListener("beforeunload", function (e) { if (dirty) { e.preventDefault(); e.returnValue = ""; } });
    var tryForm = $("try-form");
    if (tryForm) tryForm.addEventListener("submit", function (e) {
      if (!dirty) return;
      e.preventDefault();
      save().then(function (ok) { if (ok) { dirty = false; tryForm.submit(); } });
    });

    /* validate now: save first, then poll the log and the table */
    var polling = null;
    function renderTable(res) {
      var box = $("validation-table"); box.innerHTML = "";
      if (!res) return;
      if (res.error) box.appendChild(el("p", { "class": "fail" }, "Error: " + res.error));
      if (res.lint && res.lint.length) box.appendChild(el("p", { "class": "fail" }, res.lint.length + " lint problem(s): fix them first."));
      if (res.skipped) box.appendChild(el("p", { "class": "muted" }, "Not run live: " + res.skipped));
      if (res.checks && res.checks.length) {
        var seeds = res.seeds.map(function (s) { return s.seed; });
        var t = el("table", { "class": "table vtable" }), head = el("tr");
        head.appendChild(el("th", {}, "Check"));
        seeds.forEach(function (s) { head.appendChild(el("th", {}, "Seed " + s + ": setup → solution")); });
        var thead = el("thead"); thead.appendChild(head); t.appendChild(thead);
        var tb = el("tbody");
        res.checks.forEach(function (c) {
          var tr = el("tr"), td = el("td");
          td.appendChild(el("code", {}, c.id.split("::").pop())); td.appendChild(el("div", { "class": "muted small" }, c.description));
          tr.appendChild(td);
          seeds.forEach(function (s) {
            var cell = c.seeds[String(s)] || {};
            var cls = cell.ok ? "cell-ok" : "cell-bad";
            var x = el("td", { "class": cls });
            x.appendChild(el("span", { "class": "oc oc-" + (cell.setup || "none") }, cell.setup || "–"));
            x.appendChild(document.createTextNode(" → "));
            x.appendChild(el("span", { "class": "oc oc-" + (cell.solution || "none") }, cell.solution || "–"));
            tr.appendChild(x);
          });
          tb.appendChild(tr);
        });
        t.appendChild(tb); box.appendChild(t);
      }
      (res.violations || []).forEach(function (v) { box.appendChild(el("p", { "class": "violation" }, v)); });
      if (res.ok && !res.skipped) box.insertBefore(el("p", { "class": "verdict-line pass" }, "✓ Validation passed: every check fails after setup and passes after the solution."), box.firstChild);
      else if (res.checks || res.violations) box.insertBefore(el("p", { "class": "verdict-line fail" }, "✗ Validation failed."), box.firstChild);
    }
    function follow(id, url) {
      var offset = 0, log = $("validation-log");
      log.hidden = false; log.textContent = "";
      $("validate-btn").disabled = true;
      clearInterval(polling);
      function tick() {
        fetch(url + "?offset=" + offset, { credentials: "same-origin", headers: { Accept: "application/json" } })
          .then(function (r) { return r.json(); }).then(function (d) {
            if (d.log) { log.textContent += d.log; log.scrollTop = log.scrollHeight; }
            offset = d.offset;
            var st = $("validation-state");
            st.textContent = d.state; st.className = "vstate small vs-" + d.state;
            if (d.done) {
              clearInterval(polling); $("validate-btn").disabled = false;
              renderTable(d.result);
              var badge = $("validation-badge");
              badge.className = "vbadge v-" + d.state;
              badge.textContent = { passed: "validated", failed: "validation failed", error: "validation error" }[d.state] || d.state;
            }
          });
      }
      tick(); polling = setInterval(tick, 1000);
    }
    $("validate-btn").addEventListener("click", function () {
      (dirty ? save() : Promise.resolve(true)).then(function (ok) {
        if (!ok) return;
        $("validation-table").innerHTML = "";
        api("POST", page.urls.validate, {}).then(function (r) {
          if (r.status !== 202) { $("validation-state").textContent = "could not start: " + (r.data.message || r.status); return; }
          follow(r.data.id, r.data.url);
        });
      });
    });
    if (page.validation) follow(page.validation, page.urls.validation + page.validation);
    showProblems(page.problems);
  }

  /* ---------------------------------------------------------- exam builder */
  function initBuilder(page) {
    var form = $("exam-form"), chosen = {}, ex = page.exam;
    var tasksById = {}; page.tasks.forEach(function (t) { tasksById[t.id] = t; });
    function field(name) { return form.elements[name]; }
    function track() { return field("track").value; }
    function kind() { return form.querySelector('input[name="kind"]:checked').value; }
    function domainOf(t) { return t.domains[track()] || ""; }

    if (ex) {
      ["id", "title", "duration", "pass_mark", "nodes", "clusters", "description"].forEach(function (k) { if (ex[k] !== undefined) field(k).value = ex[k]; });
      field("hosts").checked = !!ex.hosts;
      field("id").readOnly = true;
      field("track").value = ex.track;
      form.querySelectorAll('input[name="modes"]').forEach(function (c) { c.checked = ex.modes.indexOf(c.value) >= 0; });
      if (ex.draw) {
        form.querySelector('input[name="kind"][value="draw"]').checked = true;
        field("count").value = ex.draw.count;
      }
      (ex.tasks || []).forEach(function (t) { var id = t.id.split("/").pop(); chosen[id] = t.weight; });
    }
    function domainInputs() {
      var box = $("draw-domains"); box.innerHTML = "";
      var cur = page.curricula[track()], custom = ex && ex.draw && typeof ex.draw.domains === "object" ? ex.draw.domains : null;
      Object.keys(cur).forEach(function (d) {
        var have = page.tasks.filter(function (t) { return t.tracks.indexOf(track()) >= 0 && domainOf(t) === d; }).length;
        var lab = el("label", { "class": "domain-weight" });
        lab.appendChild(el("span", {}, d));
        var inp = el("input", { type: "number", min: "0", max: "100", step: "1", "data-domain": d });
        inp.value = custom && custom[d] !== undefined ? custom[d] : cur[d];
        inp.addEventListener("input", update);
        lab.appendChild(inp);
        lab.appendChild(el("span", { "class": "muted small" }, have + " in bank"));
        box.appendChild(lab);
      });
    }
    function drawDomains() {
      var out = {}, same = true, cur = page.curricula[track()];
      $("draw-domains").querySelectorAll("input").forEach(function (i) { out[i.dataset.domain] = parseFloat(i.value) || 0; if (out[i.dataset.domain] !== cur[i.dataset.domain]) same = false; });
      return same ? "curriculum" : out;
    }
    function renderTasks() {
      var tb = $("bank-rows"); tb.innerHTML = "";
      var q = ($("task-search").value || "").toLowerCase();
      page.tasks.filter(function (t) { return t.tracks.indexOf(track()) >= 0; }).forEach(function (t) {
        if (q && (t.id + " " + t.title + " " + domainOf(t)).toLowerCase().indexOf(q) < 0 && !(t.id in chosen)) return;
        var tr = el("tr", { "class": t.id in chosen ? "chosen" : "" });
        var cb = el("input", { type: "checkbox", "aria-label": "include " + t.id, "data-task": t.id });
        cb.checked = t.id in chosen;
        cb.addEventListener("change", function () { if (cb.checked) chosen[t.id] = t.weight || 1; else delete chosen[t.id]; renderTasks(); update(); });
        var td0 = el("td"); td0.appendChild(cb); tr.appendChild(td0);
        var td1 = el("td"); td1.appendChild(el("div", {}, t.title)); td1.appendChild(el("code", { "class": "small muted" }, t.id)); tr.appendChild(td1);
        tr.appendChild(el("td", { "class": "small" }, domainOf(t)));
        var td3 = el("td"); td3.appendChild(el("span", { "class": "diff diff-" + t.difficulty }, t.difficulty)); tr.appendChild(td3);
        tr.appendChild(el("td", { "class": "num" }, t.minutes));
        var td5 = el("td", { "class": "num" });
        var w = el("input", { type: "number", min: "0.01", step: "any", "class": "weight-input", "aria-label": "weight of " + t.id });
        w.value = t.id in chosen ? chosen[t.id] : t.weight; w.disabled = !(t.id in chosen);
        w.addEventListener("input", function () { chosen[t.id] = parseFloat(w.value) || 0; update(); });
        td5.appendChild(w); tr.appendChild(td5);
        tb.appendChild(tr);
      });
    }
    function bars(box, rows) {
      box.innerHTML = "";
      rows.forEach(function (r) {
        var row = el("div", { "class": "cov-row" });
        row.appendChild(el("span", { "class": "cov-name" }, r.name));
        var bar = el("div", { "class": "bar" });
        var fill = el("span", { "class": "bar-fill " + (Math.abs(r.value - r.target) <= 5 ? "good" : "neutral") });
        fill.style.width = Math.min(100, r.value) + "%"; bar.appendChild(fill);
        var mark = el("span", { "class": "bar-pass", title: "curriculum " + r.target + "%" }); mark.style.left = r.target + "%"; bar.appendChild(mark);
        row.appendChild(bar);
        row.appendChild(el("span", { "class": "cov-val" }, Math.round(r.value) + "% / " + r.target + "%"));
        box.appendChild(row);
      });
    }
    function update() {
      var cur = page.curricula[track()], duration = parseFloat(field("duration").value) || 0;
      var minutes = 0, shares = {}, total = 0, count = 0;
      Object.keys(cur).forEach(function (d) { shares[d] = 0; });
      if (kind() === "fixed") {
        Object.keys(chosen).forEach(function (id) {
          var t = tasksById[id]; if (!t) return;
          minutes += t.minutes; count += 1; total += chosen[id];
          var d = domainOf(t); shares[d] = (shares[d] || 0) + chosen[id];
        });
        Object.keys(shares).forEach(function (d) { shares[d] = total ? 100 * shares[d] / total : 0; });
      } else {
        var dd = drawDomains(), w = dd === "curriculum" ? cur : dd, sum = 0;
        Object.keys(w).forEach(function (d) { sum += w[d]; });
        Object.keys(w).forEach(function (d) { shares[d] = sum ? 100 * w[d] / sum : 0; });
        count = parseInt(field("count").value, 10) || 0;
        var pool = page.tasks.filter(function (t) { return t.tracks.indexOf(track()) >= 0; });
        var mean = pool.length ? pool.reduce(function (a, t) { return a + t.minutes; }, 0) / pool.length : 0;
        minutes = Math.round(count * mean);
      }
      $("sum-count").textContent = count;
      $("sum-minutes").textContent = (kind() === "draw" ? "≈ " : "") + minutes;
      $("sum-duration").textContent = duration;
      var pct = duration ? Math.min(100, 100 * minutes / duration) : 0;
      var fill = $("time-fill"); fill.style.width = pct + "%";
      fill.className = "bar-fill " + (minutes > duration ? "bad" : minutes < duration * 0.6 ? "neutral" : "good");
      $("time-note").textContent = minutes > duration ? "The tasks need more time than the exam gives." :
        minutes < duration * 0.6 ? "Much shorter than the duration: add tasks or shorten the exam." : "A realistic fit.";
      bars($("coverage"), Object.keys(cur).map(function (d) { return { name: d, value: shares[d] || 0, target: cur[d] }; }));
      $("fixed-part").hidden = kind() !== "fixed"; $("draw-part").hidden = kind() !== "draw";
    }
    function payload() {
      var modes = []; form.querySelectorAll('input[name="modes"]:checked').forEach(function (c) { modes.push(c.value); });
      var p = { id: field("id").value.trim(), title: field("title").value, track: track(),
        duration: parseInt(field("duration").value, 10), pass_mark: parseFloat(field("pass_mark").value),
        nodes: field("nodes").value ? parseInt(field("nodes").value, 10) : null, hosts: field("hosts").checked,
        clusters: parseInt(field("clusters").value, 10) || 1, modes: modes, description: field("description").value, kind: kind() };
      if (kind() === "fixed") p.tasks = Object.keys(chosen).map(function (id) { return { id: id, weight: chosen[id] }; });
      else p.draw = { count: parseInt(field("count").value, 10), domains: drawDomains() };
      if (ex) p.replace_mtime = ex.mtime;
      return p;
    }
    form.addEventListener("input", function (e) { if (e.target.name !== "track") update(); });
    field("track").addEventListener("change", function () { chosen = {}; domainInputs(); renderTasks(); update(); });
    form.querySelectorAll('input[name="kind"]').forEach(function (r) { r.addEventListener("change", update); });
    $("task-search").addEventListener("input", renderTasks);
    $("suggest-btn").addEventListener("click", function () {
      var mix = {}; page.difficulties.forEach(function (d) { mix[d] = parseFloat(field("mix-" + d).value) || 0; });
      var dd = drawDomains();
      api("POST", page.urls.suggest, { track: track(), count: parseInt(field("count").value, 10) || 10,
        domains: dd === "curriculum" ? page.curricula[track()] : dd, mix: mix,
        clusters: parseInt(field("clusters").value, 10) || 1 }).then(function (r) {
        if (r.status !== 200) return;
        chosen = {}; r.data.tasks.forEach(function (t) { chosen[t.id] = t.weight; });
        form.querySelector('input[name="kind"][value="fixed"]').checked = true;
        renderTasks(); update();
        $("save-result").className = "muted"; $("save-result").textContent = "Suggested " + r.data.tasks.length + " tasks (seed " + r.data.seed + "): adjust, then save.";
      });
    });
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var out = $("save-result"); out.textContent = "Saving…"; out.className = "muted";
      api("POST", page.urls.save, payload()).then(function (r) {
        out.innerHTML = "";
        if (r.data.ok) {
          out.className = "flash flash-info";
          out.appendChild(document.createTextNode("Saved " + r.data.path + ". "));
          var a = el("a", { href: r.data.url }, "Open it in the catalog"); out.appendChild(a);
          if (ex) ex.mtime = r.data.mtime; else { ex = { mtime: r.data.mtime }; field("id").readOnly = true; }
        } else {
          out.className = "error-box";
          out.appendChild(el("strong", {}, "Not saved:"));
          var ul = el("ul"); (r.data.problems || [r.data.message || ("error " + r.status)]).forEach(function (p) { ul.appendChild(el("li", {}, p)); });
          out.appendChild(ul);
        }
      });
    });
    domainInputs(); renderTasks(); update();
  }

  /* ------------------------------------------- new task, import: track -> domains */
  // The domain list shows only the chosen track's curriculum domains.
  function initTrackDomain(track, domain) {
    function sync() {
      domain.querySelectorAll("optgroup").forEach(function (g) {
        var on = g.dataset.track === track.value; g.hidden = !on; g.disabled = !on;
      });
      var sel = domain.options[domain.selectedIndex];
      if (!sel || sel.dataset.track !== track.value) {
        var first = domain.querySelector('option[data-track="' + track.value + '"]');
        if (first) first.selected = true;
      }
    }
    track.addEventListener("change", sync); sync();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var p = $("author-page"); if (p) initEditor(JSON.parse(p.textContent));
    var b = $("builder-page"); if (b) initBuilder(JSON.parse(b.textContent));
    var t = $("new-track"), d = $("new-domain"); if (t && d) initTrackDomain(t, d);
  });
})();
