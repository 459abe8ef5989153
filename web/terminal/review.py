"""The practice review window's pages: the cluster and the terminal stay after results.

A candidate who finished a practice attempt may keep its cluster and terminal
for ``PRACTICE_REVIEW_MINUTES`` (default 30) to compare their work with the
reference solutions. Grading is over by then: the score is stored and nothing
done in the window changes it. The window is ``attempts.keep_until``, and its
rules (it opens once; a candidate holds one cluster at a time, so a new
start closes it) live in ``web/lifecycle/review.py``; the worker's reap
leaves the sandbox alone until then, the terminal's guard admits the
attempt's owner until then, and the shell reaper ends the shells at that moment.

``POST /attempts/<id>/review`` (form with the CSRF token) opens the window:
for the owner's practice attempt that is running (the finish dialog's "keep
my cluster for review"), submitted, being graded, or graded with its sandbox
still there. ``GET /attempts/<id>/review`` is the review page: the terminal,
the time left, and the way back to the results.
"""

from __future__ import annotations

import time

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from ..lifecycle.review import is_open, minutes as _minutes

bp = Blueprint("review", __name__)
__all__ = ["bp", "is_open", "minutes"]


def minutes() -> float:
    return _minutes(current_app)


def _own(attempt_id: int):
    from ..db import db_session
    from ..models import Attempt
    a = db_session().get(Attempt, attempt_id)
    if a is None or a.user_id != current_user.id:
        abort(404)
    return a


@bp.route("/attempts/<int:attempt_id>/review", methods=["POST"])
@login_required
def open_window(attempt_id: int):
    from ..db import db_session
    from ..forms import require_form
    from ..lifecycle import KeepRefused
    require_form()
    a = _own(attempt_id)
    try:
        current_app.extensions["proctor.lifecycle"].keep_for_review(db_session(), a)
    except KeepRefused as exc:
        flash(str(exc), "error")
        return redirect(url_for("attempts.attempt", attempt_id=a.id))
    if a.state == "graded":
        return redirect(url_for("review.page", attempt_id=a.id))
    return ("", 204)


@bp.route("/attempts/<int:attempt_id>/review")
@login_required
def page(attempt_id: int):
    from ..forms import EmptyForm
    a = _own(attempt_id)
    if not is_open(a):
        flash("The review window of this attempt is closed; its cluster is gone.", "info")
        return redirect(url_for("attempts.attempt", attempt_id=a.id))
    return render_template("review.html", a=a, until=a.keep_until,
                           left=max(0, int(a.keep_until - time.time())), form=EmptyForm())
