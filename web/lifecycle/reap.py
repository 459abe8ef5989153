"""Reaping: a finished attempt's sandbox is destroyed once its results are
stored, unless its candidate keeps it for the practice review window
(``web/terminal/review.py``); then ``maintain`` reaps it when the window closes."""

from __future__ import annotations

import time

from sqlalchemy import update

from ..models import FINAL_STATES, Attempt


def reap(ctx, attempt_id: int) -> str:
    """Destroy a finished attempt's sandbox (its results are stored by now),
    unless its candidate keeps it for review: then ``maintain`` reaps it
    once the window has closed."""
    with ctx.db.session() as s:
        a = s.get(Attempt, attempt_id)
        if a is None or a.state not in FINAL_STATES or a.sandbox_state == "destroyed":
            return "skipped"
        if kept_for_review(a, time.time()):
            return "kept"
        names = a.cluster_names()
    # every cluster, each tried once; the next maintain tries again what failed
    failed = [name for name in names if not ctx.destroy_quietly(name)]
    if failed:
        return "failed"
    with ctx.db.session() as s:
        s.execute(update(Attempt).where(Attempt.id == attempt_id)
                  .values(sandbox_state="destroyed"))
        ctx.event(s, attempt_id, "reaped", ", ".join(names))
    return "reaped"


def kept_for_review(attempt: Attempt, now: float) -> bool:
    """A practice attempt whose candidate keeps its cluster for review until
    ``keep_until`` (web/terminal/review.py): not reaped before then."""
    return attempt.mode == "practice" and attempt.keep_until is not None \
        and now < attempt.keep_until
