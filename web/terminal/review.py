"""The practice review window: the cluster and the terminal stay after results.

A candidate who finished a practice attempt may keep its cluster and terminal
for ``PRACTICE_REVIEW_MINUTES`` (default 30) to compare their work with the
reference solutions. Grading is over by then: the score is stored and nothing
done in the window changes it. The window is ``attempts.keep_until``; the
worker's reap leaves the sandbox alone until then (``Lifecycle.reap``), the
terminal's guard admits the attempt's owner until then, and the shell reaper
ends the shells at that moment.

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
from sqlalchemy import update

bp = Blueprint("review", __name__)
OPENABLE = ("running", "submitted", "grading", "graded")


def minutes() -> float:
    return float(current_app.config.get("PRACTICE_REVIEW_MINUTES", 30))


def is_open(attempt, now: float | None = None) -> bool:
    """Whether ``attempt``'s review window is open now: a graded practice
    attempt whose sandbox is still there, before its ``keep_until``."""
    now = time.time() if now is None else now
    return (attempt.mode == "practice" and attempt.state == "graded"
            and bool(attempt.sandbox) and attempt.sandbox_state == "ready"
            and attempt.keep_until is not None and now < attempt.keep_until)


def keep_for_review(s, attempt) -> float | None:
    """Open (or extend to a full window) the review window of ``attempt``;
    returns its end, or None when it cannot be opened (not practice, not
    finished, its sandbox gone). One guarded UPDATE: the reaper may be there."""
    from ..models import Attempt
    if attempt.mode != "practice" or attempt.state not in OPENABLE:
        return None
    until = time.time() + 60 * minutes()
    res = s.execute(update(Attempt).where(
        Attempt.id == attempt.id, Attempt.mode == "practice", Attempt.state.in_(OPENABLE),
        Attempt.sandbox_state == "ready").values(keep_until=until)
        .execution_options(synchronize_session=False))
    s.commit()
    s.expire(attempt, ["keep_until"])
    return until if res.rowcount == 1 else None


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
    require_form()
    a = _own(attempt_id)
    if keep_for_review(db_session(), a) is None:
        flash("This attempt's cluster can no longer be kept: only a practice attempt "
              "whose cluster still exists can be reviewed.", "error")
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
