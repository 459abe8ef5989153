"""The warm pool: sandboxes made before anyone asks, each with the paper of
a fresh seed already set up, so an attempt that takes one runs at once (it
adopts the seed). ``POOL_SIZE`` per pooled exam (``POOL_EXAMS``, default
every exam); ``refill_pool`` tops it up, ``take_warm`` hands one out. An
entry of an exam of several clusters holds them all, each set up with its
own tasks, named as the attempt will name them (``grader.hosts.cluster_names``)."""

from __future__ import annotations

import json
import logging
import secrets
import time
from dataclasses import dataclass, field

from sqlalchemy import delete, select, update

from grader.exam import ExamError
from grader.hosts import cluster_names
from sandbox import Sandbox

from ..models import PoolSandbox
from .lease import WORKER_ID
from .paper import paper, paper_clusters, sandbox_spec
from .provision import run_setups

log = logging.getLogger(__name__)


@dataclass
class Warm:
    """A warm sandbox taken from the pool, and the paper set up on it."""
    name: str
    seed: int
    sandbox: Sandbox
    paper: list[str]   # task ids, in order
    more: list[Sandbox] = field(default_factory=list)  # clusters 2..N

    @property
    def names(self) -> list[str]:
        return [self.name, *(m.name for m in self.more)]


def pool_names(ctx, row: PoolSandbox) -> list[str]:
    """Every sandbox name of a pool entry: the clusters it recorded and those
    its exam gives it (a prepare that died may have made some unrecorded)."""
    exam = ctx.bank.exam(row.exam_id)
    count = min(getattr(exam, "clusters", 1), len(json.loads(row.paper_json or "[]"))) \
        if exam is not None else 1
    names = cluster_names(row.name, max(1, count))
    return names + [m.name for m in row.more_clusters if m.name not in names]


def destroy_warm(ctx, warm: Warm) -> None:
    """Destroy every cluster of a warm entry nobody will use."""
    for name in warm.names:
        ctx.destroy_quietly(name)


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
            warm = Warm(row.name, row.seed, row.sandbox, json.loads(row.paper_json or "[]"),
                        row.more_clusters)
        if all(ctx.services.sandbox_healthy(n) for n in warm.names):
            return warm
        destroy_warm(ctx, warm)


def pool_exams(ctx) -> list:
    """The exams the pool prepares for: ``POOL_EXAMS``, else the catalogue."""
    wanted = [e.strip() for e in str(ctx.config.get("POOL_EXAMS") or "").split(",") if e.strip()]
    catalog = ctx.bank.catalog()
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

    count, placed = paper_clusters(exam, tasks)
    names = cluster_names(name, count)

    def drop(why: str) -> str:
        log.warning("warm pool: %s for %s: %s", name, exam.id, why)
        with ctx.db.session() as s:
            s.execute(delete(PoolSandbox).where(PoolSandbox.name == name))
        for n in names:
            ctx.destroy_quietly(n)
        ctx.pool_backoff[exam.id] = time.time() + 300
        return "failed"

    clusters = []
    for c, cluster_name in enumerate(names):
        its = [(i, t) for i, ((t, _), at) in enumerate(zip(tasks, placed)) if at == c]
        try:
            sandbox = ctx.services.create_sandbox(cluster_name, nodes,
                                                  **sandbox_spec(ctx, (t.id for _, t in its)))
        except Exception as exc:  # noqa: BLE001 - whatever stops it, the pool drops it and backs off
            return drop(f"cluster {cluster_name} did not come up: {exc}")
        clusters.append(sandbox)
        todo = [(i, t.id, ctx.services.draw_params(t, seed)) for i, t in its]
        for _, task_id, ok, output in run_setups(ctx, sandbox, todo):
            if not ok:
                return drop(f"setup of {task_id} failed: {output[-300:]}")
    with ctx.db.session() as s:
        res = s.execute(update(PoolSandbox).where(PoolSandbox.name == name,
                                                  PoolSandbox.state == "creating")
                        .values(state="ready", sandbox_json=json.dumps(clusters[0].to_dict()),
                                more_clusters_json=json.dumps(
                                    [sb.to_dict() for sb in clusters[1:]])))
        if res.rowcount != 1:  # maintenance gave up on it meanwhile
            for n in names:
                ctx.destroy_quietly(n)
            return "dropped"
    return "added"
