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

from sqlalchemy import or_, update

from ..models import Attempt

log = logging.getLogger(__name__)

WORKER_ID = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def claim_attempt(ctx, attempt_id: int, states: tuple[str, ...]) -> bool:
    """Take the lease on an attempt in one of ``states`` whose lease is free or expired."""
    now = time.time()
    with ctx.db.session() as s:
        res = s.execute(update(Attempt).where(
            Attempt.id == attempt_id, Attempt.state.in_(states),
            or_(Attempt.lease_owner == "", Attempt.lease_until < now))
            .values(lease_owner=WORKER_ID, lease_until=now + ctx.lease))
        return res.rowcount == 1


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
