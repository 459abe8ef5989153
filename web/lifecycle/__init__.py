"""The attempt's life, step by step, each step safe to run twice.

The pages and the API call ``start`` and ``submit``; the worker runs
``provision``, ``grade``, ``check_task``, ``reap``, ``refill_pool`` and
``maintain``, and its ticker calls ``sweep`` every second. Every state change
is a guarded ``UPDATE … WHERE state = …`` (the states, and who moves them,
are drawn in ``web/models.py``); long steps hold a *lease* (owner + expiry,
renewed while the step runs) so that a worker killed mid-step leaves an
expired lease that the next sweep hands to another job, and a duplicate job
finds the lease held and does nothing (``lease.py``). Results are written
only by the lease holder, in the same transaction that moves the attempt to
``graded``: an attempt is graded once.

One module per concern, each a set of functions of a ``Context``
(``context.py``: the database, services, bank, configuration and queue):

- ``lease``      the lease: take it, hold it, is its owner alive
- ``paper``      an exam's paper for a seed, and the cluster it needs
- ``start``      start an attempt; retry or abandon one whose cluster failed
- ``provision``  the cluster, then every task's setup -> ``running``
- ``running``    time on task, and submit
- ``grading``    grade once; practice's check of one task
- ``reap``       destroy a finished attempt's sandbox (after any review window)
- ``review``     the practice review window: one cluster per candidate
- ``pool``       warm sandboxes prepared before anyone asks
- ``clock``      the worker's clock: sweep, recover, maintain

``Lifecycle`` is the one object the portal, the queue and the tests hold.
"""

from __future__ import annotations

from . import clock, grading, paper, pool, provision, reap, review, running, start
from .context import Context, Jobs, NoQueue
from .grading import error_result
from .lease import WORKER_ID, owner_alive
from .reap import kept_for_review
from .review import KeepRefused
from .start import StartError

__all__ = ["Lifecycle", "Jobs", "NoQueue", "StartError", "WORKER_ID", "owner_alive",
           "error_result", "kept_for_review", "KeepRefused"]


class Lifecycle:
    def __init__(self, db, services, bank_getter, config):
        self.ctx = Context(db, services, bank_getter, config)
        self.db, self.services, self.config = db, services, config

    # -- what it is wired to ----------------------------------------------------------
    @property
    def queue(self) -> Jobs:
        """The task queue the steps hand their jobs to (``web.queue.Queue``
        attaches itself); set it to None to drop jobs (``NoQueue``)."""
        return self.ctx.queue

    @queue.setter
    def queue(self, queue: Jobs | None) -> None:
        self.ctx.queue = NoQueue() if queue is None else queue

    @property
    def bank(self):
        return self.ctx.bank

    def use_bank(self, getter) -> None:
        """Take the bank from ``getter`` from now on: authoring passes one that
        reloads it when a task or exam is saved (``web.author``)."""
        self.ctx.bank_getter = getter

    @property
    def prefix(self) -> str:
        return self.ctx.prefix

    @property
    def lease(self) -> float:
        return self.ctx.lease

    def sandbox_name(self, attempt_id: int) -> str:
        return self.ctx.sandbox_name(attempt_id)

    def event(self, s, attempt_id, kind: str, detail: str = "") -> None:
        self.ctx.event(s, attempt_id, kind, detail)

    # -- the paper --------------------------------------------------------------------
    def needs_real_nodes(self, exam) -> bool:
        return paper.needs_real_nodes(self.ctx, exam)

    def unavailable(self, exam) -> str | None:
        return paper.unavailable(self.ctx, exam)

    def operator_how(self, exam) -> str:
        return paper.operator_how(self.ctx, exam)

    def cluster_nodes(self, exam) -> tuple[int, int]:
        return paper.cluster_nodes(self.ctx, exam)

    def paper(self, exam, seed: int):
        return paper.paper(self.ctx, exam, seed)

    def sandbox_spec(self, task_ids) -> dict:
        return paper.sandbox_spec(self.ctx, task_ids)

    # -- the pages and the API ----------------------------------------------------------
    def start(self, s, user, exam, mode: str):
        return start.start(self.ctx, s, user, exam, mode)

    def retry(self, s, attempt) -> bool:
        return start.retry(self.ctx, s, attempt)

    def abandon(self, s, attempt) -> bool:
        return start.abandon(self.ctx, s, attempt)

    def keep_for_review(self, s, attempt) -> float:
        return review.keep(self.ctx, s, attempt)

    def submit(self, s, attempt, auto: bool = False) -> bool:
        return running.submit(self.ctx, s, attempt, auto)

    def view_task(self, s, attempt, position: int) -> None:
        running.view_task(s, attempt, position)

    def task_presence(self, s, attempt, position: int, present: bool) -> bool:
        return running.task_presence(s, attempt, position, present)

    # -- the worker's jobs ----------------------------------------------------------------
    def provision(self, attempt_id: int) -> str:
        return provision.provision(self.ctx, attempt_id)

    def grade(self, attempt_id: int) -> str:
        return grading.grade(self.ctx, attempt_id)

    def check_task(self, attempt_id: int, position: int) -> str:
        return grading.check_task(self.ctx, attempt_id, position)

    def reap(self, attempt_id: int) -> str:
        return reap.reap(self.ctx, attempt_id)

    def pool_exams(self) -> list:
        return pool.pool_exams(self.ctx)

    def refill_pool(self) -> dict:
        return pool.refill_pool(self.ctx)

    # -- the worker's clock -----------------------------------------------------------------
    def sweep(self) -> dict:
        return clock.sweep(self.ctx)

    def recover(self) -> dict:
        return clock.recover(self.ctx)

    def maintain(self) -> dict:
        return clock.maintain(self.ctx)
