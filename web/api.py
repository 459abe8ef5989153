"""The JSON API, ``/api/v1`` (see docs/api.md).

Auth: ``Authorization: Bearer <token>`` (tokens from the account page or
``proctor users token``), or the browser session, in which case a request
that changes something must send the ``X-CSRFToken`` header.
"""

from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify, request
from flask_login import current_user
from flask_wtf.csrf import CSRFError, validate_csrf
from sqlalchemy import select
from wtforms.validators import ValidationError

from . import present
from .attempts import (NOTES_EDITABLE, NOTES_MAX_BYTES, NotesError, load_attempt, save_notes,
                       task_row)
from .db import db_session
from .lifecycle import StartError
from .models import Attempt
from .security import csrf

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)


@bp.before_request
def authenticate():
    if not current_user.is_authenticated:
        return jsonify(error="Unauthorized",
                       message="log in, or send Authorization: Bearer <token>"), 401
    if request.method not in ("GET", "HEAD", "OPTIONS") and not g.get("auth_via_token"):
        try:
            validate_csrf(request.headers.get("X-CSRFToken", ""))
        except (ValidationError, CSRFError) as exc:
            return jsonify(error="Bad request", message=f"CSRF check failed: {exc}"), 400
    return None


def lifecycle():
    return current_app.extensions["proctor.lifecycle"]


@bp.get("/exams")
def exams():
    return jsonify(exams=[{k: v for k, v in e.to_dict().items() if k != "tasks"}
                          for e in present.bank().catalog()])


@bp.get("/attempts")
def attempts():
    rows = db_session().scalars(select(Attempt).where(Attempt.user_id == current_user.id)
                                .order_by(Attempt.created_at.desc())).all()
    return jsonify(attempts=[present.status(a) for a in rows])


@bp.post("/attempts")
def start():
    body = request.get_json(silent=True) or {}
    exam_id, mode = body.get("exam"), body.get("mode", "exam")
    ex = present.bank().exam(exam_id) if isinstance(exam_id, str) else None
    if ex is None:
        return jsonify(error="Not found", message=f"no exam {exam_id!r}"), 404
    try:
        a = lifecycle().start(db_session(), current_user, ex, mode)
    except StartError as exc:
        return jsonify(error="Conflict", message=str(exc)), 409
    db_session().refresh(a)
    return jsonify(present.status(a)), 201


@bp.get("/attempts/<int:attempt_id>")
def status(attempt_id: int):
    return jsonify(present.status(load_attempt(attempt_id)))


@bp.get("/attempts/<int:attempt_id>/tasks/<int:position>")
def task(attempt_id: int, position: int):
    """The statement (and hints in practice) while running; nothing else."""
    a = load_attempt(attempt_id, owner_only=True)
    row = task_row(a, position)
    if a.state != "running":
        return jsonify(error="Conflict", message=f"attempt is {a.state}"), 409
    text = present.rendered(row)
    return jsonify(position=row.position, title=row.title, domain=row.domain,
                   weight=row.weight, flagged=row.flagged, statement=text["statement"],
                   hints=text["hints"] if a.mode == "practice" else [])


@bp.get("/attempts/<int:attempt_id>/notes")
def notes(attempt_id: int):
    """The candidate's notepad: their own attempts only, in any state."""
    a = load_attempt(attempt_id, owner_only=True)
    return jsonify(notes=a.notes or "", editable=a.state in NOTES_EDITABLE,
                   max_bytes=NOTES_MAX_BYTES)


@bp.put("/attempts/<int:attempt_id>/notes")
def save_notes_(attempt_id: int):
    """Replace the notepad: ``{"notes": "…"}``, at most 64 KiB of UTF-8, until graded."""
    a = load_attempt(attempt_id, owner_only=True)
    body = request.get_json(silent=True)
    try:
        return jsonify(save_notes(a, body.get("notes") if isinstance(body, dict) else None))
    except NotesError as exc:
        return exc.response()


@bp.post("/attempts/<int:attempt_id>/submit")
def submit(attempt_id: int):
    a = load_attempt(attempt_id, owner_only=True)
    s = db_session()
    if a.state != "running":
        return jsonify(error="Conflict", message=f"attempt is {a.state}, not running"), 409
    if not lifecycle().submit(s, a):
        s.refresh(a)
        if a.state == "running":
            lifecycle().submit(s, a, auto=True)
        return jsonify(error="Conflict", message="time is up: the attempt was submitted "
                       "automatically at the deadline"), 409
    s.refresh(a)
    return jsonify(present.status(a)), 202


@bp.get("/attempts/<int:attempt_id>/results")
def results(attempt_id: int):
    a = load_attempt(attempt_id)
    if a.state != "graded":
        return jsonify(error="Conflict", message=f"attempt is {a.state}; results come once "
                       "it is graded", state=a.state), 409
    return jsonify(present.results(a))
