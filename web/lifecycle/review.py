"""The practice review window: a finished practice attempt's cluster and
terminal kept for ``PRACTICE_REVIEW_MINUTES`` to compare with the solutions.

One rule keeps a candidate from hoarding clusters: **a candidate holds at
most one cluster**, their active attempt's or one kept for review. So

- a window opens only while none of the candidate's other attempts is active
  and no other window of theirs is open;
- a window opens once: asking again keeps the end it has (it never extends);
- starting an attempt closes the candidate's open window, and its cluster is
  reaped (``close_windows``, called by ``start`` after the new attempt is
  committed, so a window opened in the meantime is closed too).

Each is one guarded ``UPDATE``, safe against a concurrent start, a second
click and the reaper.
"""

from __future__ import annotations

import time

from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.orm import aliased

from ..models import BLOCKING_STATES, Attempt

OPENABLE = ("running", "submitted", "grading", "graded")


class KeepRefused(Exception):
    """The window cannot open; the message is for the candidate."""


def minutes(ctx) -> float:
    return float(ctx.config.get("PRACTICE_REVIEW_MINUTES", 30))


def _holds_another_cluster(attempt: Attempt, now: float):
    """SQL: the candidate has another active attempt or another open window."""
    other = aliased(Attempt)
    return exists().where(
        other.user_id == attempt.user_id, other.id != attempt.id,
        or_(other.state.in_(BLOCKING_STATES),
            and_(other.keep_until.is_not(None), other.keep_until > now,
                 other.sandbox_state == "ready")))


def keep(ctx, s, attempt: Attempt) -> float:
    """Open ``attempt``'s review window; returns its end (the same end when it
    is open already). Raises ``KeepRefused`` saying why it cannot open."""
    if attempt.mode != "practice":
        raise KeepRefused("Only a practice attempt's cluster can be kept for review.")
    now = time.time()
    res = s.execute(update(Attempt).where(
        Attempt.id == attempt.id, Attempt.mode == "practice", Attempt.state.in_(OPENABLE),
        Attempt.sandbox_state == "ready", Attempt.keep_until.is_(None),
        ~_holds_another_cluster(attempt, now))
        .values(keep_until=now + 60 * minutes(ctx)).execution_options(synchronize_session=False))
    s.commit()
    s.expire(attempt)
    if res.rowcount == 1:
        ctx.event(s, attempt.id, "kept", f"for review until {attempt.keep_until:.0f}")
        s.commit()
        return attempt.keep_until
    if attempt.keep_until is not None:
        if attempt.keep_until > now and attempt.sandbox_state == "ready":
            return attempt.keep_until  # open already: it keeps its end
        raise KeepRefused("This attempt's review window has closed; a window opens once.")
    if attempt.state not in OPENABLE or attempt.sandbox_state != "ready":
        raise KeepRefused("This attempt's cluster can no longer be kept: only a practice "
                          "attempt whose cluster still exists can be reviewed.")
    raise KeepRefused("You can keep one cluster at a time: finish your other attempt or "
                      "end its review first.")


def close_windows(ctx, s, user_id: int, except_id: int) -> list[int]:
    """End every open window of the candidate's attempts but ``except_id``
    and queue their reaping; returns their ids."""
    now = time.time()
    ids = list(s.scalars(select(Attempt.id).where(
        Attempt.user_id == user_id, Attempt.id != except_id,
        Attempt.keep_until.is_not(None), Attempt.keep_until > now)))
    if not ids:
        return []
    s.execute(update(Attempt).where(Attempt.id.in_(ids), Attempt.keep_until > now)
              .values(keep_until=now).execution_options(synchronize_session=False))
    for attempt_id in ids:
        ctx.event(s, attempt_id, "review ended", f"attempt {except_id} started")
    s.commit()
    for attempt_id in ids:
        ctx.queue.reap(attempt_id)
    return ids


def is_open(attempt: Attempt, now: float | None = None) -> bool:
    """Whether ``attempt``'s review window is open now: a graded practice
    attempt whose sandbox is still there, before its ``keep_until``."""
    now = time.time() if now is None else now
    return (attempt.mode == "practice" and attempt.state == "graded"
            and bool(attempt.sandbox) and attempt.sandbox_state == "ready"
            and attempt.keep_until is not None and now < attempt.keep_until)
