"""While an attempt runs: the time spent on each task, and the submit that ends it.

Time on task is counted by the server: the attempt has one open interval
(``current_position`` since ``current_since``); opening a task page, or its
page coming back to the front, closes the open interval into that task's
``seconds_spent`` and opens the next. The page sends facts (opened, went
away, came back), never durations.
"""

from __future__ import annotations

import time

from sqlalchemy import or_, update

from ..models import Attempt, AttemptTask


def submit(ctx, s, attempt: Attempt, auto: bool = False) -> bool:
    """Move a running attempt to ``submitted``. A candidate's submit after
    the deadline is refused (the server's clock decides); the deadline
    sweep submits with ``auto=True`` instead."""
    now = time.time()
    cond = [Attempt.id == attempt.id, Attempt.state == "running"]
    if not auto:
        cond.append(or_(Attempt.deadline_at.is_(None), Attempt.deadline_at > now))
    when = now if not auto else min(now, attempt.deadline_at or now)
    res = s.execute(update(Attempt).where(*cond).values(
        state="submitted", submitted_at=when, auto_submitted=auto, enqueued_at=now))
    if res.rowcount != 1:
        s.rollback()
        return False
    s.refresh(attempt)
    _account_time(s, attempt, when)
    ctx.event(s, attempt.id, "submitted", "automatically at the deadline" if auto else "")
    s.commit()
    ctx.queue.grade(attempt.id)
    return True


def _account_time(s, attempt: Attempt, now: float, position: int | None = None,
                  counting: bool = True) -> bool:
    """Close the current task's open interval, adding it to that task's time,
    and open the next: on ``position`` (default: the same task) from ``now``,
    or none while the candidate is away (``counting=False``).

    An interval starts at a server time while running and counts up to the
    deadline at most, so the total stays within the attempt's running
    time whatever the page sends. The move is one UPDATE guarded on the
    (position, since) pair just read, so when two requests race (a closing
    tab's last signal and the next page's load) one of them counts the
    interval and the other, finding the pair changed, does nothing."""
    pos, since = attempt.current_position, attempt.current_since
    res = s.execute(update(Attempt).where(
        Attempt.id == attempt.id,
        Attempt.current_position.is_(None) if pos is None else Attempt.current_position == pos,
        Attempt.current_since.is_(None) if since is None else Attempt.current_since == since)
        .values(current_position=pos if position is None else position,
                current_since=now if counting else None)
        .execution_options(synchronize_session=False))
    s.expire(attempt, ["current_position", "current_since"])
    if res.rowcount != 1:
        return False
    if pos and since:
        end = min(now, attempt.deadline_at) if attempt.deadline_at else now
        spent = max(0.0, end - since)
        s.execute(update(AttemptTask).where(
            AttemptTask.attempt_id == attempt.id, AttemptTask.position == pos)
            .values(seconds_spent=AttemptTask.seconds_spent + spent))
    return True


def view_task(s, attempt: Attempt, position: int) -> None:
    """The candidate opened task ``position``: account the time on the previous
    one, and count this one from now (a page loads in front)."""
    if attempt.state != "running":
        return
    if attempt.current_position != position or attempt.current_since is None:
        _account_time(s, attempt, time.time(), position)
        s.commit()


def task_presence(s, attempt: Attempt, position: int, present: bool) -> bool:
    """The page of task ``position`` came to the front with focus (``present``),
    or went to the background, lost focus or closed: resume or pause that
    task's clock. The server takes the fact, never a duration, and a signal
    from a page that is no longer the current task pauses nothing. Returns
    whether the clock of ``position`` runs now."""
    if attempt.state != "running":
        return False
    is_current = attempt.current_position == position
    if present and not (is_current and attempt.current_since is not None):
        _account_time(s, attempt, time.time(), position)
    elif not present and is_current and attempt.current_since is not None:
        _account_time(s, attempt, time.time(), counting=False)
    s.commit()
    return attempt.current_position == position and attempt.current_since is not None
