"""The statistics pages: per task (with the checks that fail most), per exam
and cohort, and a cohort's results as CSV. The numbers come from
``stats.py``; here they are only asked for and shown."""

from __future__ import annotations

import calendar
import time

from flask import Response, abort, render_template, request

from ..db import db_session
from . import bp
from . import stats as st


def _date(value: str, end: bool = False) -> float | None:
    if not value:
        return None
    try:
        t = calendar.timegm(time.strptime(value, "%Y-%m-%d"))
    except ValueError:
        abort(400, f"dates are YYYY-MM-DD; found {value!r}")
    return t + 86400 if end else t


# Which attempts the numbers come from. Exam attempts by default: in practice
# a candidate checks their work, reads hints and reveals solutions, so mixing
# the two makes every task look easier than it is under exam conditions.
MODES = {"exam": "exam attempts", "practice": "practice attempts", "any": "exam and practice attempts"}


def mode_from_args() -> str:
    """The ``mode`` argument ("exam" when absent) as a filter ("" for any)."""
    mode = request.args.get("mode") or "exam"
    if mode not in MODES:
        abort(400, f"mode is one of {', '.join(MODES)}; found {mode!r}")
    return "" if mode == "any" else mode


def cohort_from_args() -> st.Cohort:
    a = request.args
    users = tuple(u.strip() for u in a.get("users", "").replace("\n", ",").split(",") if u.strip())
    return st.Cohort(exam_id=a.get("exam", ""), mode=mode_from_args(), users=users,
                     prefix=a.get("prefix", "").strip(), since=_date(a.get("since", "")),
                     until=_date(a.get("until", ""), end=True))


@bp.route("/stats")
def stats():
    s = db_session()
    mode = mode_from_args()
    rows = st.task_stats(s, mode=mode)
    only_flagged = request.args.get("flagged") == "1"
    shown = [r for r in rows if r.flags] if only_flagged else rows
    return render_template("author/stats.html", rows=shown, total=len(rows),
                           flagged=sum(1 for r in rows if r.flags), only_flagged=only_flagged,
                           exams=st.by_exam(s, mode), min_samples=st.MIN_SAMPLES,
                           mode=mode or "any", modes=MODES)


@bp.route("/stats/tasks/<task_id>")
def task_stats(task_id: str):
    mode = mode_from_args()
    rows = st.task_stats(db_session(), task_id, mode=mode)
    if not rows:
        abort(404, f"no graded {MODES[mode or 'any']} have task {task_id!r} yet")
    return render_template("author/task_stats.html", t=rows[0], min_samples=st.MIN_SAMPLES,
                           mode=mode or "any", modes=MODES)


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
