"""Leases: who is doing a long step of an attempt, and until when.

A long step (provisioning, grading) holds a *lease* on its attempt: an owner
(``WORKER_ID``, this process) and an expiry, renewed while the step runs
(``holding``). A worker killed mid-step leaves an expired lease that the next
sweep hands to another job; a duplicate job finds the lease held and does
nothing. Whatever a step writes at its end is guarded on still being the
lease holder, in the same transaction that moves the state, so a step whose
lease ran out and was taken over writes nothing.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from contextlib import contextmanager
from typing import Sequence

from sqlalchemy import or_, update

from ..models import Attempt

log = logging.getLogger(__name__)

WORKER_ID = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def claim(s, table, *where, states: Sequence[str], column: str = "state", to: str | None = None,
          lease: float | None = None, **values) -> bool:
    """Take one row for this worker: a guarded UPDATE that only one caller can
    win, however many try at once::

        UPDATE table SET column = to, lease_owner = me, lease_until = now + lease, **values
        WHERE *where AND column IN states AND (lease_owner = '' OR lease_until < now)

    ``lease`` (seconds) for a table with one (an attempt, while it is
    provisioned or graded); None for a row whose state alone says it is taken
    (a practice check, "Validate now"): the lease parts are then left out. ``to``
    None keeps the state. Returns whether this caller took the row; the
    caller's session commits it, with whatever belongs to the same step.

        >>> claim(s, Attempt, Attempt.id == 7, states=("submitted", "grading"),
        ...       to="grading", lease=60, progress="Grading")     # doctest: +SKIP
        True
    """
    state = getattr(table, column)
    cond = [*where, state.in_(tuple(states))]
    if to is not None:
        values[column] = to
    if lease is not None:
        now = time.time()
        cond.append(or_(table.lease_owner == "", table.lease_until < now))
        values.update(lease_owner=WORKER_ID, lease_until=now + lease)
    return s.execute(update(table).where(*cond).values(**values)).rowcount == 1


@contextmanager
def holding(ctx, attempt_id: int):
    """Renew our lease on ``attempt_id`` every third of its length while the body runs."""
    stop = threading.Event()

    def beat():
        while not stop.wait(ctx.lease / 3):
            try:
                with ctx.db.session() as s:
                    s.execute(update(Attempt).where(
                        Attempt.id == attempt_id, Attempt.lease_owner == WORKER_ID)
                        .values(lease_until=time.time() + ctx.lease))
            except Exception:  # a missed beat only shortens the lease
                log.exception("lease renewal for attempt %s", attempt_id)

    t = threading.Thread(target=beat, name=f"lease-{attempt_id}", daemon=True)
    t.start()
    try:
        yield
    finally:
        stop.set()
        t.join(timeout=5)


def owner_alive(owner: str) -> bool:
    """Is the worker ``host:pid:token`` still running? Unknown hosts count as alive
    (their rows age out instead)."""
    try:
        host, pid, _ = owner.split(":")
    except ValueError:
        return True
    if host != socket.gethostname() or owner == WORKER_ID:
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError):
        return True
    return True
