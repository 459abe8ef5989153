"""Grading: a submitted attempt, once; and practice's "check my work" on one task.

Results are written only by the lease holder, in the same transaction that
moves the attempt to ``graded``: an attempt is graded once, however many
workers tried. What cannot be graded (a task gone from the bank, a cluster
gone, a grader that failed) becomes an ``error`` result that scores zero
and holds the attempt for an instructor's review (``grader.score``).

A practice check has no lease: its row says ``running`` and, in
``checked_at``, since when. A check running longer than ``STALE_CHECK``
(its worker was killed) is abandoned: the next click on "Check my work"
queues it again and the first worker to claim it runs it.
"""

from __future__ import annotations

import json
import logging
import time
from typing import NamedTuple

from sqlalchemy import or_, update

from grader.results import TaskResult
from grader.score import score
from sandbox import Sandbox

from ..models import Attempt, AttemptTask
from .lease import WORKER_ID, claim, holding

log = logging.getLogger(__name__)

# far beyond one task's grading (start-up allowance + its checks' limits)
STALE_CHECK = 600.0


def check_abandoned(row: AttemptTask, now: float | None = None) -> bool:
    """Whether a practice check stuck in ``running`` was left by a dead worker."""
    return row.check_state == "running" and \
        (row.checked_at or 0) < (now or time.time()) - STALE_CHECK


def grade(ctx, attempt_id: int) -> str:
    with ctx.db.session() as s:
        if not claim(s, Attempt, Attempt.id == attempt_id, states=("submitted", "grading"),
                     to="grading", lease=ctx.lease, grade_runs=Attempt.grade_runs + 1,
                     progress="Grading"):
            return "skipped"
        ctx.event(s, attempt_id, "grading", WORKER_ID)
    with holding(ctx, attempt_id):
        t0 = time.time()
        with ctx.db.session() as s:
            a = s.get(Attempt, attempt_id)
            rows = [Row.of(t) for t in a.tasks]
            clusters = _clusters(a, a.sandbox_state == "ready")
        results = grade_rows(ctx, clusters, rows)
        duration = time.time() - t0
        with ctx.db.session() as s:
            a = s.get(Attempt, attempt_id)
            sc = score([(t.weight, results[t.id]) for t in a.tasks], a.pass_mark)
            res = s.execute(update(Attempt).where(
                Attempt.id == attempt_id, Attempt.state == "grading",
                Attempt.lease_owner == WORKER_ID).values(
                state="graded", graded_at=time.time(), score=sc.percent, passed=sc.passed,
                review="\n".join(sc.review), lease_owner="", lease_until=0, progress=""))
            if res.rowcount != 1:
                s.rollback()  # another worker took over after our lease ran out
                return "lost"
            for t in a.tasks:
                t.result = results[t.id]
            a.add_timing("grade", duration)
            a.add_timing("submit_to_results", time.time() - (a.submitted_at or t0))
            ctx.event(s, attempt_id, "graded", f"{sc.percent:.1f}% in {duration:.1f}s")
            if sc.held:
                ctx.event(s, attempt_id, "review", "\n".join(sc.review))
    ctx.queue.reap(attempt_id)
    return "graded"


def check_task(ctx, attempt_id: int, position: int) -> str:
    """Practice: grade one task now and keep the feedback on the task."""
    with ctx.db.session() as s:
        stale = time.time() - STALE_CHECK
        if not claim(s, AttemptTask, AttemptTask.attempt_id == attempt_id,
                     AttemptTask.position == position,
                     or_(AttemptTask.check_state == "pending", AttemptTask.checked_at < stale),
                     column="check_state", states=("pending", "running"), to="running",
                     checked_at=time.time()):
            return "skipped"
        a = s.get(Attempt, attempt_id)
        t = next(t for t in a.tasks if t.position == position)
        row, others = Row.of(t), [Row.of(o) for o in a.tasks if o.id != t.id]
        clusters = _clusters(a, a.state == "running" and a.sandbox_state == "ready")
    result = grade_rows(ctx, clusters, [row], others=others)[row.id]
    with ctx.db.session() as s:
        s.execute(update(AttemptTask).where(AttemptTask.id == row.id).values(
            check_state="done", check_json=json.dumps(result.to_dict()), checked_at=time.time(),
            check_count=AttemptTask.check_count + 1))
    return "checked"


class Row(NamedTuple):
    """A task of an attempt, as grading needs it."""
    id: int
    task_id: str
    params: dict
    cluster: int = 0   # 0-based (grader/hosts.py)
    host: str = ""

    @classmethod
    def of(cls, t: AttemptTask) -> "Row":
        return cls(t.id, t.task_id, t.params, t.cluster, t.host)


def _clusters(a: Attempt, ready: bool) -> list[Sandbox | None]:
    """Every cluster of attempt ``a`` (None where it is gone or not ``ready``)."""
    return [a.cluster(i) if ready else None for i in range(max(1, a.clusters or 1))]


def grade_rows(ctx, clusters: list[Sandbox | None], rows: list[Row],
               others: list[Row] = ()) -> dict[int, TaskResult]:
    """Grade each task of ``rows`` on its own cluster. With several clusters,
    a check that fails there but holds on another cluster says so, naming that
    cluster's hosts (``others``: the attempt's other tasks, for their hosts):
    the candidate solved it on the wrong host. Only the message changes; the
    check stays failed."""
    results: dict[int, TaskResult] = {}
    by_cluster: dict[int, list[Row]] = {}
    for row in rows:
        by_cluster.setdefault(row.cluster, []).append(row)
    for i, group in sorted(by_cluster.items()):
        sandbox = clusters[i] if 0 <= i < len(clusters) else None
        results.update(run_grader(ctx, sandbox, [(r.id, r.task_id, r.params) for r in group]))
    if len(clusters) > 1:
        try:
            _found_elsewhere(ctx, clusters, rows, [*rows, *others], results)
        except Exception:  # noqa: BLE001 - a hint only: the grade stands without it
            log.exception("looking for tasks solved on another cluster")
    return results


def _found_elsewhere(ctx, clusters, rows: list[Row], every: list[Row],
                     results: dict[int, TaskResult]) -> None:
    hosts: dict[int, list[str]] = {}
    for r in every:
        if r.host:
            hosts.setdefault(r.cluster, []).append(r.host)
    failed = [r for r in rows if not results[r.id].error
              and any(c.outcome == "failed" for c in results[r.id].checks)]
    for j, sandbox in enumerate(clusters):
        probe = [r for r in failed if r.cluster != j]
        if sandbox is None or not probe:
            continue
        # Work done on the wrong host made the task's namespace there: a task
        # whose namespace a cluster lacks was not done on it, which one listing
        # tells instead of a grading (an unsolved paper of four clusters
        # was graded four times over).
        present = ctx.services.namespaces(sandbox)
        if present is not None:
            probe = [r for r in probe if r.params.get("namespace") in (None, *present)]
        if not probe:
            continue
        there = run_grader(ctx, sandbox, [(r.id, r.task_id, r.params) for r in probe])
        for r in probe:
            if there[r.id].score <= results[r.id].score:
                continue  # not more of the task there: a check that holds alone proves nothing
            held = {c.id for c in there[r.id].checks if c.passed}
            where = ", ".join(sorted(hosts.get(j, []))) or f"cluster {j + 1}"
            for c in results[r.id].checks:
                if c.outcome == "failed" and c.id in held and "; it holds in the cluster" not in c.message:
                    c.message = (f"{c.message}; it holds in the cluster of host {where}, not in "
                                 f"this task's (host {r.host or 'of the task'}): was it solved on "
                                 "the wrong host?")


def run_grader(ctx, sandbox: Sandbox | None, rows) -> dict[int, TaskResult]:
    """Grade every ``(row id, task id, params)``; what cannot be graded becomes
    an ``error`` result. Returns row id -> result."""
    results: dict[int, TaskResult] = {}
    pairs, ids = [], []
    for row_id, task_id, params in rows:
        task = ctx.bank.task(task_id)
        if task is None:
            results[row_id] = error_result(task_id, f"task {task_id!r} is no longer in the bank")
        else:
            pairs.append((task, params))
            ids.append((row_id, task_id))
    if pairs:
        # An unhealthy cluster is still graded: what cannot be read fails
        # (never a free point), and the API survey says why.
        problem = None
        if sandbox is None:
            problem = "the attempt's cluster is gone; it could not be graded"
        if problem is None:
            try:
                out = ctx.services.grade(sandbox, pairs)
                by_id = {r.task_id: r for r in out}
                for (row_id, task_id), (task, _) in zip(ids, pairs):
                    results[row_id] = by_id.get(task.id) or error_result(
                        task_id, "the grader returned no result for this task")
            except Exception as exc:
                log.exception("grading failed")
                problem = f"the grader failed: {exc}"
        if problem is not None:
            for row_id, task_id in ids:
                results[row_id] = error_result(task_id, problem)
    return results


def error_result(task_id: str, message: str) -> TaskResult:
    """A task that could not be graded: no check ran, it scores zero of its weight."""
    return TaskResult(task_id, error=message)
