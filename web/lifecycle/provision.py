"""Provisioning: the attempt's clusters, then the setup of every task.

``provision`` takes the lease of a ``provisioning`` or ``setting_up``
attempt, reattaches to each healthy sandbox it recorded before a restart or
makes a new one (one per cluster of the exam: ``clusters: N``), runs the
setup of every task not set up yet on its own cluster, and moves the
attempt to ``running`` with its deadline. A failure moves it to ``error``
with a reason the candidate can read (and Retry).
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import update

from sandbox import Sandbox

from ..models import Attempt, AttemptTask
from .lease import WORKER_ID, claim, holding
from .paper import sandbox_spec

log = logging.getLogger(__name__)


def provision(ctx, attempt_id: int) -> str:
    with ctx.db.session() as s:
        if not claim(s, Attempt, Attempt.id == attempt_id, states=("provisioning", "setting_up"),
                     lease=ctx.lease):
            return "skipped"
    with holding(ctx, attempt_id):
        try:
            _provision(ctx, attempt_id)
        except Exception as exc:
            log.exception("attempt %s: provisioning failed", attempt_id)
            with ctx.db.session() as s:
                res = s.execute(update(Attempt).where(
                    Attempt.id == attempt_id, Attempt.lease_owner == WORKER_ID,
                    Attempt.state.in_(("provisioning", "setting_up")))
                    .values(state="error", error=str(exc) or exc.__class__.__name__,
                            progress="", lease_owner="", lease_until=0))
                if res.rowcount:
                    ctx.event(s, attempt_id, "error", str(exc))
            return "error"
    ctx.queue.refill()
    return "running"


def _progress(ctx, attempt_id: int, text: str) -> None:
    """What the waiting page says, written only while we hold the lease."""
    with ctx.db.session() as s:
        s.execute(update(Attempt).where(Attempt.id == attempt_id, Attempt.lease_owner == WORKER_ID)
                  .values(progress=text))


def _provision(ctx, attempt_id: int) -> None:
    with ctx.db.session() as s:
        a = s.get(Attempt, attempt_id)
        sandbox, nodes, name = a.sandbox, a.nodes, a.sandbox_name
        count = max(1, a.clusters or 1)
        # each cluster suits its own tasks (a join task's unjoined worker is
        # on its cluster only)
        specs = [sandbox_spec(ctx, (t.task_id for t in a.tasks if t.cluster == i))
                 for i in range(count)]
        more, more_names = a.more_clusters, a.cluster_names()[1:]
    t0 = time.time()
    if sandbox and ctx.services.sandbox_healthy(sandbox.name):
        from_pool = None  # reattached after a restart: keep what was recorded
    else:
        if sandbox:  # recorded but dead: start over on a fresh one
            ctx.destroy_quietly(sandbox.name)
        from_pool = False
        _progress(ctx, attempt_id, f"Creating your {nodes}-node cluster"
                  + (f" (1 of {count})" if count > 1 else ""))
        try:
            sandbox = ctx.services.create_sandbox(name, nodes, **specs[0])
        except Exception as exc:
            raise RuntimeError(f"your cluster did not come up: {exc}") from exc
    more = _more_clusters(ctx, attempt_id, more, more_names, nodes, specs[1:])
    with ctx.db.session() as s:
        a = s.get(Attempt, attempt_id)
        if a.lease_owner != WORKER_ID:
            raise RuntimeError("lost the lease while provisioning")
        a.sandbox, a.sandbox_name = sandbox, sandbox.name
        a.more_clusters = more
        a.sandbox_state = "ready"
        if from_pool is not None:
            a.from_pool = from_pool
        a.state = "setting_up"
        a.progress = "Setting up the tasks"
        a.add_timing("sandbox", time.time() - t0)
        todo = [(t.id, t.task_id, t.params, t.cluster) for t in a.tasks if not t.setup_ok]
        ctx.event(s, attempt_id, "sandbox", ", ".join([sandbox.name] + [m.name for m in more])
                  + f" ({'warm pool' if a.from_pool else 'created'}) in {time.time() - t0:.1f}s")
    _set_up(ctx, attempt_id, [sandbox, *more], todo)


def _more_clusters(ctx, attempt_id: int, recorded: list[Sandbox], names: list[str],
                   nodes: int, specs: list[dict]) -> list[Sandbox]:
    """Clusters 2..N of an attempt: each one recorded before (a restart) and
    still healthy is kept, any other is made again under its name."""
    out = []
    for i, name in enumerate(names):
        old = recorded[i] if i < len(recorded) else None
        if old is not None and old.name == name and ctx.services.sandbox_healthy(name):
            out.append(old)
            continue
        ctx.destroy_quietly(name)  # half-made before a restart, or dead
        _progress(ctx, attempt_id, f"Creating your {nodes}-node cluster "
                  f"({i + 2} of {len(names) + 1})")
        try:
            out.append(ctx.services.create_sandbox(name, nodes, **specs[i]))
        except Exception as exc:
            raise RuntimeError(f"your cluster {i + 2} did not come up: {exc}") from exc
    return out


def _set_up(ctx, attempt_id: int, clusters: list[Sandbox], todo) -> None:
    """Run the setups of ``todo`` (row id, task id, params, cluster), each on
    its task's cluster, then start the clock: ``running``."""
    t1 = time.time()
    failures = []
    groups: dict[int, list] = {}
    for row_id, task_id, params, cluster in todo:
        groups.setdefault(cluster, []).append((row_id, task_id, params))
    for cluster, group in sorted(groups.items()):
        if not 0 <= cluster < len(clusters):
            raise RuntimeError(f"task {group[0][1]} is on cluster {cluster + 1}, which this "
                               f"attempt does not have")
        for row_id, task_id, ok, output in run_setups(ctx, clusters[cluster], group):
            with ctx.db.session() as s:
                s.execute(update(AttemptTask).where(AttemptTask.id == row_id)
                          .values(setup_ok=ok, setup_output=output[-4000:]))
            if not ok:
                failures.append((task_id, output))
    if failures:
        task_id, output = failures[0]
        tail = "\n".join(output.strip().splitlines()[-5:])
        raise RuntimeError(f"setup of task {task_id} failed"
                           + (f" ({len(failures)} tasks failed)" if len(failures) > 1 else "")
                           + (f": {tail}" if tail else ""))
    now = time.time()
    with ctx.db.session() as s:
        a = s.get(Attempt, attempt_id)
        a.add_timing("setup", now - t1)
        a.add_timing("start_to_running", now - a.created_at)
        timings = a.timings_json
        res = s.execute(update(Attempt).where(
            Attempt.id == attempt_id, Attempt.state == "setting_up",
            Attempt.lease_owner == WORKER_ID).values(
            state="running", ready_at=now, deadline_at=now + a.duration_s, progress="",
            lease_owner="", lease_until=0, timings_json=timings, current_since=now))
        if res.rowcount != 1:
            raise RuntimeError("lost the lease while setting up")
        ctx.event(s, attempt_id, "running", f"deadline in {a.duration_s}s")


def run_setups(ctx, sandbox: Sandbox, todo):
    """Run setup of each ``(key, task id, params)``, a few at a time (tasks
    keep to their own namespaces); yields ``(key, task id, ok, output)``."""
    def setup(item):
        key, task_id, params = item
        task = ctx.bank.task(task_id)
        if task is None:
            return key, task_id, False, f"task {task_id!r} is no longer in the bank"
        try:
            ok, output = ctx.services.run_setup(task, sandbox, params)
        except Exception as exc:  # noqa: BLE001 - the task's failure, reported with the others
            ok, output = False, f"{exc.__class__.__name__}: {exc}"
        return key, task_id, ok, output

    workers = max(1, int(ctx.config["SETUP_PARALLEL"]))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        yield from pool.map(setup, todo)
