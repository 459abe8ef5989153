"""The KillerCoda import page: a scenario (a .zip or .tar.gz of its folder, or
its index.json) becomes a draft task (``importer.py`` converts it)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from grader.curriculum import DIFFICULTIES, TRACKS

from ..forms import EmptyForm, require_form
from . import bp, lock_dir, placement_problems, roots
from .files import NAME, write_files
from .importer import ImportError_, draft_files, read_scenario, suggested_id, unpack


@bp.route("/import", methods=["GET", "POST"])
def import_scenario():
    form = EmptyForm()
    v = {"id": "", "track": "ckad", "domain": "", "difficulty": "medium"}
    problems: list[str] = []
    if request.method == "POST":
        require_form(form)
        v.update({k: request.form.get(k, "").strip() for k in v})
        upload = request.files.get("scenario")
        if upload is None or not upload.filename:
            problems.append("choose the scenario: a .zip or .tar.gz of its folder, or its index.json")
        problems += placement_problems(v["track"], v["domain"], v["difficulty"])
        scenario = None
        if not problems:
            try:
                scenario = read_scenario(unpack(upload.filename, upload.read()))
            except ImportError_ as exc:
                problems.append(str(exc))
        if scenario is not None:
            task_id = v["id"] or suggested_id(scenario)
            if not NAME.match(task_id):
                problems.append(f"id: lowercase letters, digits and '-'; found {task_id!r}")
            folder = roots()["drafts"] / v["track"] / task_id
            if folder.exists() or (roots()["bank"] / v["track"] / task_id).exists():
                problems.append(f"id: a task or draft {task_id!r} exists already; choose another id")
            if not problems:
                files = draft_files(scenario, task_id, v["track"], v["domain"], v["difficulty"])
                main = {k: files[k] for k in ("task.yaml", "setup", "solution", "checks.py")}
                write_files(folder, main, None, lock_dir())
                for rel, text in files.items():
                    if rel not in main:
                        f = folder / rel
                        f.parent.mkdir(parents=True, exist_ok=True)
                        f.write_text(text)
                        f.chmod(0o755)
                steps = len(scenario.steps)
                checks = sum(1 for k in files if k.startswith("verify/"))
                flash(f"Imported “{scenario.title}”: {steps} steps, {checks} verify scripts became "
                      "checks. Finish the draft (solution, params), validate it, then publish.", "info")
                return redirect(url_for("author.edit", kind="drafts", rel=f"{v['track']}/{task_id}"))
    return render_template("author/import.html", form=form, v=v, problems=problems, tracks=TRACKS,
                           difficulties=DIFFICULTIES)
