"""Exam catalog, the attempt pages, results and history."""

from __future__ import annotations

import json
import time
from collections import defaultdict

from flask import (Blueprint, abort, current_app, flash, jsonify, redirect, render_template,
                   request, url_for)
from flask_login import current_user, login_required
from sqlalchemy import select, update
from werkzeug.http import HTTP_STATUS_CODES

from . import present
from .db import db_session
from .forms import EmptyForm, require_form
from .lifecycle import KeepRefused, StartError
from .lifecycle.grading import check_abandoned
from .models import Attempt, AttemptTask, User
from .terminal import review
from .formatting import domain_breakdown, domain_name, share

bp = Blueprint("attempts", __name__)


def lifecycle():
    return current_app.extensions["proctor.lifecycle"]


def load_attempt(attempt_id: int, owner_only: bool = False) -> Attempt:
    """The attempt if the current user may see it: its owner always, staff
    for viewing. Anyone else gets 404, not 403: ids are not confirmed."""
    a = db_session().get(Attempt, attempt_id)
    if a is None:
        abort(404)
    if a.user_id != current_user.id and (owner_only or not current_user.is_staff):
        abort(404)
    return a


def task_row(a: Attempt, position: int) -> AttemptTask:
    """Task ``position`` (1-based, as the pages number them) of attempt ``a``, or 404."""
    row = next((t for t in a.tasks if t.position == position), None)
    if row is None:
        abort(404)
    return row


def _xhr() -> bool:
    return request.headers.get("X-Requested-With") == "fetch" or \
        request.accept_mimetypes.best == "application/json"


# -- catalog ------------------------------------------------------------------------

@bp.route("/")
@login_required
def catalog():
    s = db_session()
    bank = present.bank()
    active = s.scalar(select(Attempt).where(
        Attempt.user_id == current_user.id,
        Attempt.state.in_(("provisioning", "setting_up", "running", "submitted", "grading", "error"))))
    recent = s.scalars(select(Attempt).where(Attempt.user_id == current_user.id)
                       .order_by(Attempt.created_at.desc()).limit(5)).all()
    lc = lifecycle()
    exams = bank.catalog()
    real_nodes = {e.id for e in exams if lc.needs_real_nodes(e)}
    return render_template("catalog.html", exams=exams, active=active, recent=recent,
                           real_nodes=real_nodes, nodes={e.id: lc.cluster_nodes(e) for e in exams},
                           unavailable={e.id: (lc.unavailable(e), lc.operator_how(e))
                                        for e in exams if lc.unavailable(e)},
                           problems=bank.problems if current_user.is_staff else [])


@bp.route("/exams/<exam_id>")
@login_required
def exam(exam_id: str):
    ex = present.exam(exam_id)
    domains = ex.draw_domains if ex.is_draw else {}
    tasks = []
    if not ex.is_draw:
        total = sum(t.weight for t in ex.tasks)
        for line in ex.tasks:
            task = present.bank().task(line.id)
            tasks.append({"title": task.title if task else line.id,
                          "domain": task.domain if task else "",
                          "share": share(line.weight, total)})
        by_domain: dict[str, float] = defaultdict(float)
        for t in tasks:
            by_domain[t["domain"]] += t["share"]
        domains = dict(by_domain)
    lc = lifecycle()
    now = time.time()
    reviewing = db_session().scalar(select(Attempt.id).where(
        Attempt.user_id == current_user.id, Attempt.keep_until > now,
        Attempt.sandbox_state == "ready"))
    return render_template("exam_detail.html", exam=ex, tasks=tasks, domains=domains,
                           real_nodes=lc.needs_real_nodes(ex), unavailable=lc.unavailable(ex),
                           operator_how=lc.operator_how(ex), nodes=lc.cluster_nodes(ex),
                           reviewing=reviewing, form=EmptyForm())


@bp.route("/exams/<exam_id>/start", methods=["POST"])
@login_required
def start(exam_id: str):
    require_form()
    ex = present.exam(exam_id)
    mode = request.form.get("mode", "exam")
    try:
        a = lifecycle().start(db_session(), current_user, ex, mode)
    except StartError as exc:
        flash(str(exc), "error")
        return redirect(url_for("attempts.exam", exam_id=exam_id))
    return redirect(url_for("attempts.attempt", attempt_id=a.id))


# -- the attempt ----------------------------------------------------------------------

@bp.route("/attempts/<int:attempt_id>")
@login_required
def attempt(attempt_id: int):
    """Where an attempt is now: preparing, running, grading, results or error.
    A reload lands here and resumes."""
    a = load_attempt(attempt_id)
    if a.state == "running" and a.user_id == current_user.id:
        return redirect(url_for("attempts.task", attempt_id=a.id,
                                position=a.current_position or 1))
    if a.state == "graded":
        return redirect(url_for("attempts.results", attempt_id=a.id))
    return render_template("attempt_wait.html", a=a, form=EmptyForm(),
                           status=present.status(a))


@bp.route("/attempts/<int:attempt_id>/tasks/<int:position>")
@login_required
def task(attempt_id: int, position: int):
    a = load_attempt(attempt_id, owner_only=True)
    if a.state != "running":
        return redirect(url_for("attempts.attempt", attempt_id=a.id))
    row = task_row(a, position)
    lifecycle().view_task(db_session(), a, position)
    text = present.rendered(row)
    practice = a.mode == "practice"
    return render_template(
        "exam.html", a=a, t=row, statement=text["statement"],
        hints=text["hints"] if practice else [],
        solution=present.solution(row) if practice and row.solution_revealed else None,
        explanation=present.explanation(row) if practice and row.solution_revealed else "",
        check=row.check if practice else None,
        remaining=a.remaining(), time_warnings=present.TIME_WARNINGS,
        form=EmptyForm(), status=present.status(a))


@bp.route("/attempts/<int:attempt_id>/tasks/<int:position>/flag", methods=["POST"])
@login_required
def flag(attempt_id: int, position: int):
    require_form()
    a = load_attempt(attempt_id, owner_only=True)
    if a.state != "running":
        abort(409, "This attempt is not running.")
    row = task_row(a, position)
    row.flagged = not row.flagged
    db_session().commit()
    if _xhr():
        return jsonify(position=position, flagged=row.flagged)
    return redirect(url_for("attempts.task", attempt_id=a.id, position=position))


@bp.route("/attempts/<int:attempt_id>/tasks/<int:position>/presence", methods=["POST"])
@login_required
def presence(attempt_id: int, position: int):
    """The task page came to the front with focus (``visible=1``) or left it
    (``visible=0``): the server pauses or resumes the task's clock
    (``Lifecycle.task_presence``). Sent by the page's script, also as a beacon
    when the page closes."""
    require_form()
    a = load_attempt(attempt_id, owner_only=True)
    if a.state != "running":
        abort(409, "This attempt is not running.")
    task_row(a, position)
    counting = lifecycle().task_presence(db_session(), a, position,
                                         request.form.get("visible") == "1")
    return jsonify(position=position, counting=counting)


# -- the notepad -------------------------------------------------------------------------

NOTES_MAX_BYTES = 64 * 1024
NOTES_EDITABLE = ("running", "submitted", "grading")  # a last autosave may follow Submit


class NotesError(Exception):
    """The notes cannot be saved: ``code`` is the HTTP status, the message is for
    the candidate."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code

    def response(self):
        """The JSON error, as the API's other errors look (docs/api.md)."""
        return jsonify(error=HTTP_STATUS_CODES[self.code], message=str(self)), self.code


def save_notes(a: Attempt, text) -> dict:
    """Store the candidate's notepad of attempt ``a`` (its owner only: callers
    load it with ``owner_only``). Until the attempt is graded; afterwards the
    notes are read-only on the results page."""
    if not isinstance(text, str):
        raise NotesError(400, "notes must be text")
    text = text.replace("\r\n", "\n")  # a form sends a textarea's line ends as CRLF
    size = len(text.encode("utf-8"))
    if size > NOTES_MAX_BYTES:
        raise NotesError(413, f"the notepad holds at most {NOTES_MAX_BYTES // 1024} KiB; this "
                              f"text is {size / 1024:.1f} KiB, so it was not saved")
    s = db_session()
    res = s.execute(update(Attempt).where(Attempt.id == a.id, Attempt.state.in_(NOTES_EDITABLE))
                    .values(notes=text).execution_options(synchronize_session=False))
    s.commit()
    if res.rowcount != 1:
        raise NotesError(409, f"the attempt is {a.state}: its notes can be read, not changed")
    return {"bytes": size, "max_bytes": NOTES_MAX_BYTES, "saved_at": time.time()}


@bp.route("/attempts/<int:attempt_id>/notes", methods=["POST"])
@login_required
def notes(attempt_id: int):
    """Autosave of the exam page's notepad (form field ``notes``, CSRF token)."""
    require_form()
    a = load_attempt(attempt_id, owner_only=True)
    try:
        return jsonify(save_notes(a, request.form.get("notes", "")))
    except NotesError as exc:
        return exc.response()


def _practice_tool(attempt_id: int, position: int, exam_mode: str) -> tuple[Attempt, AttemptTask]:
    """A practice tool's post (check my work, show the solution): the owner's
    running practice attempt and its task ``position``; in exam mode a 403
    that says ``exam_mode``."""
    require_form()
    a = load_attempt(attempt_id, owner_only=True)
    if a.mode != "practice":
        abort(403, exam_mode)
    if a.state != "running":
        abort(409, "This attempt is not running.")
    return a, task_row(a, position)


@bp.route("/attempts/<int:attempt_id>/tasks/<int:position>/check", methods=["POST"])
@login_required
def check(attempt_id: int, position: int):
    """Practice only: grade this one task now."""
    a, row = _practice_tool(attempt_id, position,
                            "Checking a task before the end is for practice mode only.")
    if row.check_state not in ("pending", "running") or check_abandoned(row):
        row.check_state = "pending"
        db_session().commit()
        current_app.extensions["proctor.queue"].check_task(a.id, position)
    if _xhr():
        db_session().refresh(row)
        return jsonify(position=position, check_state=row.check_state)
    return redirect(url_for("attempts.task", attempt_id=a.id, position=position) + "#check")


@bp.route("/attempts/<int:attempt_id>/tasks/<int:position>/check", methods=["GET"])
@login_required
def check_status(attempt_id: int, position: int):
    a = load_attempt(attempt_id, owner_only=True)
    if a.mode != "practice":
        abort(403)
    row = task_row(a, position)
    result = row.check
    return jsonify(position=position, check_state=row.check_state,
                   result=result.to_dict() if result else None,
                   html=render_template("_check.html", check=result, t=row)
                   if row.check_state == "done" else "")


@bp.route("/attempts/<int:attempt_id>/tasks/<int:position>/reveal", methods=["POST"])
@login_required
def reveal(attempt_id: int, position: int):
    """Practice only: show the reference solution of one task."""
    a, row = _practice_tool(attempt_id, position,
                            "Solutions are shown after the exam, on the results page.")
    row.solution_revealed = True
    db_session().commit()
    return redirect(url_for("attempts.task", attempt_id=a.id, position=position) + "#solution")


@bp.route("/attempts/<int:attempt_id>/submit", methods=["POST"])
@login_required
def submit(attempt_id: int):
    require_form()
    a = load_attempt(attempt_id, owner_only=True)
    s = db_session()
    if a.state != "running":
        abort(409, "This attempt is not running any more.")
    if a.mode == "practice" and request.form.get("keep_for_review"):
        # before the submit: grading queues the reap at once
        try:
            lifecycle().keep_for_review(s, a)
        except KeepRefused as exc:
            flash(str(exc), "error")
    if not lifecycle().submit(s, a):
        # The server's clock says the time is up: the candidate's submit is
        # refused and the attempt is submitted as of its deadline instead.
        s.refresh(a)
        if a.state == "running":
            lifecycle().submit(s, a, auto=True)
        abort(409, "Time is up: the attempt was submitted automatically at the deadline.")
    return redirect(url_for("attempts.attempt", attempt_id=a.id))


@bp.route("/attempts/<int:attempt_id>/retry", methods=["POST"])
@login_required
def retry(attempt_id: int):
    require_form()
    a = load_attempt(attempt_id, owner_only=True)
    if not lifecycle().retry(db_session(), a):
        abort(409, "Only an attempt whose cluster failed can be retried.")
    return redirect(url_for("attempts.attempt", attempt_id=a.id))


@bp.route("/attempts/<int:attempt_id>/abandon", methods=["POST"])
@login_required
def abandon(attempt_id: int):
    require_form()
    a = load_attempt(attempt_id, owner_only=True)
    if not lifecycle().abandon(db_session(), a):
        abort(409, "Only an attempt whose cluster failed can be abandoned.")
    flash("Attempt abandoned.", "info")
    return redirect(url_for("attempts.catalog"))


@bp.route("/attempts/<int:attempt_id>/results")
@login_required
def results(attempt_id: int):
    a = load_attempt(attempt_id)
    if a.state != "graded":
        return redirect(url_for("attempts.attempt", attempt_id=a.id))
    mine = a.user_id == current_user.id
    return render_template("results.html", a=a, r=present.results(a), form=EmptyForm(),
                           review_open=mine and review.is_open(a),
                           can_keep=mine and a.mode == "practice" and a.sandbox_state == "ready"
                           and a.keep_until is None
                           and not review.is_open(a), review_minutes=int(review.minutes()))


# -- history ---------------------------------------------------------------------------

def history_data(user: User) -> dict:
    s = db_session()
    attempts = s.scalars(select(Attempt).where(Attempt.user_id == user.id)
                         .order_by(Attempt.created_at)).all()
    graded = [a for a in attempts if a.state == "graded"]
    acc: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for a in graded:
        for d in domain_breakdown(a):
            acc[d["domain"]][0] += d["percent"] * d["weight"]
            acc[d["domain"]][1] += d["weight"]
    domains = sorted(({"domain": k, "name": domain_name(k), "percent": round(v[0] / v[1], 1)}
                      for k, v in acc.items() if v[1]), key=lambda d: d["percent"])
    trend = [{"id": a.id, "score": a.score, "passed": bool(a.passed), "exam": a.exam_id,
              "mode": a.mode, "at": a.graded_at, "pass_mark": a.pass_mark} for a in graded]
    return {"attempts": list(reversed(attempts)), "trend": trend, "domains": domains,
            "weakest": domains[:3]}


@bp.route("/history")
@login_required
def history():
    return render_template("history.html", user=current_user, **history_data(current_user))


@bp.route("/users/<username>/history")
@login_required
def user_history(username: str):
    if not current_user.is_staff and username != current_user.username:
        abort(404)
    user = db_session().scalar(select(User).where(User.username == username))
    if user is None:
        abort(404)
    return render_template("history.html", user=user, **history_data(user))


@bp.app_template_filter("tojson_compact")
def tojson_compact(value):
    return json.dumps(value, separators=(",", ":"))
