"""Statistics pages (per task, per exam and cohort, CSV) and the KillerCoda import."""

from __future__ import annotations

import calendar
import time

from flask import Response, abort, flash, redirect, render_template, request, url_for

from grader.curriculum import DIFFICULTIES, TRACKS

from ..db import db_session
from ..forms import EmptyForm
from . import bp, lock_dir, roots
from . import stats as st
from .files import NAME, write_files
from .importer import ImportError_, draft_files, read_scenario, suggested_id, unpack


def _date(value: str, end: bool = False) -> float | None:
    if not value:
        return None
    try:
        t = calendar.timegm(time.strptime(value, "%Y-%m-%d"))
    except ValueError:
        abort(400, f"dates are YYYY-MM-DD; found {value!r}")
    return t + 86400 if end else t


def cohort_from_args() -> st.Cohort:
    a = request.args
    users = tuple(u.strip() for u in a.get("users", "").replace("\n", ",").split(",") if u.strip())
    return st.Cohort(exam_id=a.get("exam", ""), mode=a.get("mode", ""), users=users,
                     prefix=a.get("prefix", "").strip(), since=_date(a.get("since", "")),
                     until=_date(a.get("until", ""), end=True))


@bp.route("/stats")
def stats():
    s = db_session()
    rows = st.task_stats(s)
    only_flagged = request.args.get("flagged") == "1"
    shown = [r for r in rows if r.flags] if only_flagged else rows
    return render_template("author/stats.html", rows=shown, total=len(rows),
                           flagged=sum(1 for r in rows if r.flags), only_flagged=only_flagged,
                           exams=st.by_exam(s), min_samples=st.MIN_SAMPLES)


@bp.route("/stats/tasks/<task_id>")
def task_stats(task_id: str):
    rows = st.task_stats(db_session(), task_id)
    if not rows:
        abort(404, f"no graded attempt has task {task_id!r} yet")
    return render_template("author/task_stats.html", t=rows[0], min_samples=st.MIN_SAMPLES)


@bp.route("/stats/exams")
def exam_stats():
    s = db_session()
    cohort = cohort_from_args()
    attempts = st.cohort_attempts(s, cohort)
    exam_ids = sorted({e["exam_id"] for e in st.by_exam(s)})
    return render_template("author/exam_stats.html", cohort=cohort, attempts=attempts,
                           summary=st.exam_summary(attempts), exam_ids=exam_ids, args=request.args)


@bp.route("/stats/exams.csv")
def exam_stats_csv():
    attempts = st.cohort_attempts(db_session(), cohort_from_args())
    name = request.args.get("exam") or "all-exams"
    return Response(st.attempts_csv(attempts), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="proctor-{name}-results.csv"'})


# -- import ---------------------------------------------------------------------------------

@bp.route("/import", methods=["GET", "POST"])
def import_scenario():
    form = EmptyForm()
    v = {"id": "", "track": "ckad", "domain": "", "difficulty": "medium"}
    problems: list[str] = []
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400, "The form expired or its CSRF token is missing; reload the page.")
        v.update({k: request.form.get(k, "").strip() for k in v})
        upload = request.files.get("scenario")
        if upload is None or not upload.filename:
            problems.append("choose the scenario: a .zip or .tar.gz of its folder, or its index.json")
        if v["track"] not in TRACKS:
            problems.append(f"track: one of {', '.join(TRACKS)}")
        elif v["domain"] not in TRACKS[v["track"]].domains:
            problems.append(f"domain: {v['domain']!r} is not a {v['track'].upper()} domain")
        if v["difficulty"] not in DIFFICULTIES:
            problems.append(f"difficulty: one of {', '.join(DIFFICULTIES)}")
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
