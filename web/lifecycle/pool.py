"""The warm pool: sandboxes made before anyone asks, each with the paper of
a fresh seed already set up, so an attempt that takes one runs at once (it
adopts the seed). ``POOL_SIZE`` per pooled exam (``POOL_EXAMS``, default
every exam); ``refill_pool`` tops it up, ``take_warm`` hands one out."""

from __future__ import annotations

import json
import logging
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import delete, select, update

from grader.exam import ExamError
from sandbox import Sandbox

from ..models import PoolSandbox
from .lease import WORKER_ID
from .paper import paper, sandbox_spec
from .provision import run_setups

log = logging.getLogger(__name__)


@dataclass
class Warm:
    """A warm sandbox taken from the pool, and the paper set up on it."""
    name: str
    seed: int
    sandbox: Sandbox
    paper: list[str]   # task ids, in order


def take_warm(ctx, exam) -> Warm | None:
    """Claim a healthy sandbox prepared for ``exam``, if the pool has one."""
    while True:
        with ctx.db.session() as s:
            row = s.scalar(select(PoolSandbox).where(
                PoolSandbox.state == "ready", PoolSandbox.exam_id == exam.id)
                .order_by(PoolSandbox.created_at).limit(1))
            if row is None:
                return None
            res = s.execute(delete(PoolSandbox).where(PoolSandbox.id == row.id,
                                                      PoolSandbox.state == "ready"))
            if res.rowcount != 1:
                continue  # another start took it first
            warm = Warm(row.name, row.seed, row.sandbox, json.loads(row.paper_json or "[]"))
        if ctx.services.sandbox_healthy(warm.name):
            return warm
        ctx.destroy_quietly(warm.name)


def pool_exams(ctx) -> list:
    """The exams the pool prepares for: ``POOL_EXAMS``, else the catalogue;
    never an exam of several clusters (a warm sandbox is one cluster: such an
    attempt makes its clusters when it starts)."""
    wanted = [e.strip() for e in str(ctx.config.get("POOL_EXAMS") or "").split(",") if e.strip()]
    catalog = [e for e in ctx.bank.catalog() if getattr(e, "clusters", 1) == 1]
    return [e for e in catalog if e.id in wanted] if wanted else catalog


def refill_pool(ctx) -> dict:
    """Top up the warm pool: ``POOL_SIZE`` sandboxes per pooled exam, each
    with the paper of a fresh seed already set up."""
    size = int(ctx.config["POOL_SIZE"])
    out: dict = {}
    if size <= 0:
        return out
    for exam in pool_exams(ctx):
        if time.time() < ctx.pool_backoff.get(exam.id, 0):
            out[exam.id] = "backoff"
            continue
        while True:
            result = _prepare_one(ctx, exam, size)
            out.setdefault(exam.id, []).append(result)
            if result != "added":
                break
    return out


def _prepare_one(ctx, exam, size: int) -> str:
    seed = secrets.randbits(31)
    try:
        tasks, nodes = paper(ctx, exam, seed)
    except (ValueError, ExamError) as exc:
        log.warning("warm pool: %s has no paper: %s", exam.id, exc)
        return "failed"
    name = f"{ctx.prefix}w{secrets.token_hex(3)}"
    with ctx.db.session() as s:
        s.add(PoolSandbox(name=name, nodes=nodes, state="creating", created_at=time.time(),
                          exam_id=exam.id, seed=seed, owner=WORKER_ID,
                          paper_json=json.dumps([t.id for t, _ in tasks])))
    with ctx.db.session() as s:  # two refills at once: the later one backs off
        ids = s.scalars(select(PoolSandbox.id).where(
            PoolSandbox.exam_id == exam.id, PoolSandbox.state.in_(("creating", "ready")))
            .order_by(PoolSandbox.id)).all()
        mine = s.scalar(select(PoolSandbox.id).where(PoolSandbox.name == name))
        if ids.index(mine) >= size:
            s.execute(delete(PoolSandbox).where(PoolSandbox.id == mine))
            return "full"

    def drop(why: str) -> str:
        log.warning("warm pool: %s for %s: %s", name, exam.id, why)
        with ctx.db.session() as s:
            s.execute(delete(PoolSandbox).where(PoolSandbox.name == name))
        ctx.destroy_quietly(name)
        ctx.pool_backoff[exam.id] = time.time() + 300
        return "failed"

    try:
        sandbox = ctx.services.create_sandbox(
            name, nodes, **sandbox_spec(ctx, (t.id for t, _ in tasks)))
    except Exception as exc:  # noqa: BLE001 - whatever stops it, the pool drops it and backs off
        return drop(f"cluster did not come up: {exc}")
    todo = [(i, t.id, ctx.services.draw_params(t, seed)) for i, (t, _) in enumerate(tasks)]
    for _, task_id, ok, output in run_setups(ctx, sandbox, todo):
        if not ok:
            return drop(f"setup of {task_id} failed: {output[-300:]}")
    with ctx.db.session() as s:
        res = s.execute(update(PoolSandbox).where(PoolSandbox.name == name,
                                                  PoolSandbox.state == "creating")
                        .values(state="ready", sandbox_json=json.dumps(sandbox.to_dict())))
        if res.rowcount != 1:  # maintenance gave up on it meanwhile
            ctx.destroy_quietly(name)
            return "dropped"
    return "added"
