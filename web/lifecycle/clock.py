"""The worker's clock (``web.queue.Ticker``): every tick ``sweep`` submits
at the deadline and hands lost jobs back to the queue; at worker start
``recover`` picks up what a dead worker left; every minute ``maintain``
destroys what nobody needs and tops up the warm pool."""

from __future__ import annotations

import logging
import time

from sqlalchemy import delete, or_, select, update

from ..models import FINAL_STATES, Attempt, PoolSandbox
from .lease import owner_alive
from .pool import pool_exams, pool_names
from .reap import reap
from .running import submit

log = logging.getLogger(__name__)

RESUBMIT_AFTER = 30.0   # a queued job not picked up in this long is enqueued again
ORPHAN_AGE = 180.0      # an unknown sandbox younger than this may be mid-create


def sweep(ctx) -> dict:
    """Run every tick: auto-submit at the deadline, hand lost jobs to the queue."""
    now = time.time()
    done = {"submitted": [], "grade": [], "provision": []}
    with ctx.db.session() as s:
        overdue = s.scalars(select(Attempt).where(
            Attempt.state == "running", Attempt.deadline_at <= now)).all()
        for a in overdue:
            if submit(ctx, s, a, auto=True):
                done["submitted"].append(a.id)
        lost_grades = s.scalars(select(Attempt.id).where(or_(
            (Attempt.state == "submitted") & (Attempt.enqueued_at < now - RESUBMIT_AFTER),
            (Attempt.state == "grading") & (Attempt.lease_until < now)))).all()
        lost_provisions = s.scalars(select(Attempt.id).where(
            Attempt.state.in_(("provisioning", "setting_up")),
            Attempt.lease_until < now, Attempt.enqueued_at < now - RESUBMIT_AFTER)).all()
    for aid in lost_grades:
        _mark_enqueued(ctx, aid)
        ctx.queue.grade(aid)
        done["grade"].append(aid)
    for aid in lost_provisions:
        _mark_enqueued(ctx, aid)
        ctx.queue.provision(aid)
        done["provision"].append(aid)
    return done


def _mark_enqueued(ctx, attempt_id: int) -> None:
    with ctx.db.session() as s:
        s.execute(update(Attempt).where(Attempt.id == attempt_id).values(enqueued_at=time.time()))


def recover(ctx) -> dict:
    """At worker start: anything whose lease has run out is picked up now."""
    with ctx.db.session() as s:
        s.execute(update(Attempt).where(
            Attempt.state.in_(("provisioning", "setting_up", "submitted")),
            Attempt.lease_until < time.time()).values(enqueued_at=0))
    return sweep(ctx)


def maintain(ctx) -> dict:
    """Every minute: destroy what nobody needs, top up the warm pool."""
    out = {"reaped": [], "orphans": []}
    now = time.time()
    with ctx.db.session() as s:
        finished = s.scalars(select(Attempt.id).where(
            Attempt.state.in_(FINAL_STATES), Attempt.sandbox_state == "ready")).all()
        pooled = {e.id for e in pool_exams(ctx)} if int(ctx.config["POOL_SIZE"]) > 0 else set()
        stale_pool = s.scalars(select(PoolSandbox.name).where(or_(
            (PoolSandbox.state == "creating") & (PoolSandbox.created_at < now - 2 * ORPHAN_AGE),
            PoolSandbox.exam_id.not_in(pooled) if pooled else PoolSandbox.id.is_not(None)))).all()
        stale_pool += [row.name for row in s.scalars(select(PoolSandbox).where(
            PoolSandbox.state == "creating")) if not owner_alive(row.owner)]
        # every cluster of a stale entry: those it recorded, and those a
        # prepare that died may have made before recording them
        stale_names = [n for row in s.scalars(select(PoolSandbox).where(
            PoolSandbox.name.in_(stale_pool))) for n in pool_names(ctx, row)]
        s.execute(delete(PoolSandbox).where(PoolSandbox.name.in_(stale_pool)))
        known = {name for a in s.scalars(select(Attempt).where(
            Attempt.sandbox_state != "destroyed")) for name in a.cluster_names()}
        known |= {n for row in s.scalars(select(PoolSandbox)) for n in pool_names(ctx, row)}
    for aid in finished:
        if reap(ctx, aid) == "reaped":
            out["reaped"].append(aid)
    try:
        present = ctx.services.list_sandboxes()
    except Exception:
        log.exception("listing sandboxes")
        present = []
    for name, created in present:
        if name.startswith(ctx.prefix) and name not in known and now - created > ORPHAN_AGE:
            if ctx.destroy_quietly(name):
                out["orphans"].append(name)
    for name in stale_names:
        ctx.destroy_quietly(name)
    ctx.queue.refill()
    return out
