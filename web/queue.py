"""The task queue (huey) and the worker's clock.

huey keeps jobs in SQLite in the instance folder by default (one machine) or
in Redis when ``PROCTOR_QUEUE_URL`` is ``redis://…`` (many machines); tests
run it in immediate mode (jobs run inline on enqueue). Job bodies live in
``web.lifecycle``; here they are only named and queued.

The deadline is not a huey periodic task: huey's crontab has minute
resolution, and an attempt must be submitted within 5 s of its deadline. The
worker runs a ``Ticker`` thread that calls ``Lifecycle.sweep`` every
``TICK_SECONDS`` (auto-submit, re-queue lost jobs) and queues ``maintain``
(reaping, pool refill) every minute. Every worker process runs one; the
guarded transitions make that safe.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Callable

from huey import MemoryHuey, PriorityRedisHuey, SqliteHuey

from .db import private_sqlite_file

log = logging.getLogger(__name__)

# Which queued job a free worker thread takes first: the one a candidate
# waits on and that takes the least time. A cohort that starts together
# queues thirty provisions (each tens of seconds on a busy machine); a
# practice check (seconds) queued behind them waited 87 s at the median
# (bench/load.py, 30 candidates, 4 worker threads), and a submitted exam
# waits for its results. Housekeeping comes last.
PRIORITY = {"check_task": 30, "grade": 20, "provision": 10,
            "reap": 0, "refill_pool": 0, "maintain": 0}


class Queue:
    def __init__(self, app, lifecycle):
        cfg = app.config
        url = cfg.get("QUEUE_URL") or ""
        if cfg.get("QUEUE_IMMEDIATE"):
            self.huey = MemoryHuey("proctor", immediate=True)
        elif url.startswith(("redis://", "rediss://", "unix://")):
            # priorities need Redis 5 or newer (a sorted set, ZPOPMIN)
            self.huey = PriorityRedisHuey("proctor", url=url)
        else:
            path = url[len("sqlite:///"):] if url.startswith("sqlite:///") else \
                os.path.join(app.instance_path, "queue.db")
            private_sqlite_file(Path(path))  # 0600, as the database
            self.huey = SqliteHuey("proctor", filename=path, timeout=30)
        self.lifecycle = lifecycle
        lifecycle.queue = self
        lc = lifecycle

        # Retries are off: every job is idempotent and the sweep re-queues
        # whatever a dead worker dropped, with the lease deciding who runs it.
        # The names are huey's: what a queued job is called on the wire.
        self._provision = self._task("provision")(lc.provision)
        self._grade = self._task("grade")(lc.grade)
        self._check = self._task("check_task")(lc.check_task)
        self._reap = self._task("reap")(lc.reap)
        self._refill = self._task("refill_pool")(lc.refill_pool)
        self._maintain = self._task("maintain")(lc.maintain)

    # The lifecycle's jobs (web.lifecycle.Jobs). Each returns immediately
    # (in immediate mode: after the job ran).
    def provision(self, attempt_id: int):
        return self._run(self._provision, attempt_id)

    def grade(self, attempt_id: int):
        return self._run(self._grade, attempt_id)

    def check_task(self, attempt_id: int, position: int):
        return self._run(self._check, attempt_id, position)

    def reap(self, attempt_id: int):
        return self._run(self._reap, attempt_id)

    def refill(self):
        return self._run(self._refill)

    def maintain(self):
        return self._run(self._maintain)

    def add(self, name: str, fn: Callable) -> Callable:
        """Make ``fn`` a job of this queue, called ``name`` in huey (every process
        that serves the app registers it, so any worker runs it); returns the
        function that queues it, as the methods above do."""
        task = self._task(name)(fn)
        return lambda *args: self._run(task, *args)

    def _task(self, name: str):
        """huey's decorator for the job ``name``, at its ``PRIORITY`` (0 for
        jobs added with ``add``)."""
        return self.huey.task(name=name, priority=PRIORITY.get(name, 0))

    def _run(self, task, *args):
        try:
            return task(*args)
        except Exception:
            # Immediate mode raises the job's error here; a queued job's error
            # is logged by the consumer. Neither may break the caller's request.
            log.exception("job %s%r", task.name, args)
            return None

    def consumer(self, workers: int):
        # An idle huey consumer backs off to polling every 10 s; a candidate
        # waiting for a cluster or for results must not wait for that.
        return self.huey.create_consumer(workers=workers, worker_type="thread",
                                         periodic=False, check_worker_health=True,
                                         initial_delay=0.05, backoff=1.15, max_delay=0.5)


class Ticker(threading.Thread):
    """Calls ``sweep`` every ``interval`` seconds and queues ``maintain`` every minute."""

    def __init__(self, lifecycle, interval: float = 1.0, maintain_every: float = 60.0):
        super().__init__(name="proctor-ticker", daemon=True)
        self.lifecycle, self.interval, self.maintain_every = lifecycle, interval, maintain_every
        self.stopped = threading.Event()

    def run(self) -> None:
        import time
        next_maintain = 0.0
        try:
            self.lifecycle.recover()
        except Exception:
            log.exception("recovering at start")
        while not self.stopped.wait(self.interval):
            try:
                self.lifecycle.sweep()
                if time.monotonic() >= next_maintain:
                    next_maintain = time.monotonic() + self.maintain_every
                    self.lifecycle.queue.maintain()
            except Exception:
                log.exception("sweep")

    def stop(self) -> None:
        self.stopped.set()
