"""The attempt's life, step by step, each step safe to run twice.

The pages and the API call ``start`` and ``submit``; the worker runs
``provision``, ``grade``, ``check_task``, ``reap``, ``refill_pool`` and
``maintain``, and its ticker calls ``sweep`` every second. Every state change
is a guarded ``UPDATE … WHERE state = …``; long steps hold a *lease* (owner +
expiry, renewed while the step runs) so that a worker killed mid-step leaves
an expired lease that the next sweep hands to another job, and a duplicate
job finds the lease held and does nothing. Results are written only by the
lease holder, in the same transaction that moves the attempt to ``graded``:
an attempt is graded once.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError

from grader.exam import task_domain
from grader.score import score, task_points

from .models import BLOCKING_STATES, FINAL_STATES, Attempt, AttemptTask, Event, PoolSandbox

log = logging.getLogger(__name__)

WORKER_ID = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
RESUBMIT_AFTER = 30.0   # a queued job not picked up in this long is enqueued again
ORPHAN_AGE = 180.0      # an unknown sandbox younger than this may be mid-create


class StartError(Exception):
    """The attempt cannot start; the message is for the candidate."""


class Lifecycle:
    def __init__(self, db, services, bank_getter, config):
        self.db = db
        self.services = services
        self._bank = bank_getter
        self.config = config
        self.queue = None          # set by web.queue once the task queue exists
        self.lease = float(config["LEASE_SECONDS"])
        self.prefix = config["SANDBOX_PREFIX"]
        self._pool_backoff: dict[str, float] = {}  # exam id -> no new warm sandbox before

    @property
    def bank(self):
        return self._bank()

    # -- helpers ---------------------------------------------------------------
    def event(self, s, attempt_id, kind: str, detail: str = "") -> None:
        s.add(Event(attempt_id=attempt_id, kind=kind, detail=detail[:4000], at=time.time()))

    def _enqueue(self, job: str, *args, **kwargs) -> None:
        if self.queue is None:
            log.warning("no task queue: %s%r not run", job, args)
            return
        getattr(self.queue, job)(*args, **kwargs)

    def _mark_enqueued(self, attempt_id: int) -> None:
        with self.db.session() as s:
            s.execute(update(Attempt).where(Attempt.id == attempt_id)
                      .values(enqueued_at=time.time()))

    def _claim(self, attempt_id: int, states: tuple[str, ...], new_state: str | None = None,
               extra: dict | None = None) -> bool:
        """Take the lease on an attempt in one of ``states`` whose lease is free or expired."""
        now = time.time()
        values = {"lease_owner": WORKER_ID, "lease_until": now + self.lease, **(extra or {})}
        if new_state:
            values["state"] = new_state
        with self.db.session() as s:
            res = s.execute(update(Attempt).where(
                Attempt.id == attempt_id, Attempt.state.in_(states),
                or_(Attempt.lease_owner == "", Attempt.lease_until < now)).values(**values))
            return res.rowcount == 1

    @contextmanager
    def _holding_lease(self, attempt_id: int):
        """Renew our lease every third of its length while the body runs."""
        stop = threading.Event()

        def beat():
            while not stop.wait(self.lease / 3):
                try:
                    with self.db.session() as s:
                        s.execute(update(Attempt).where(
                            Attempt.id == attempt_id, Attempt.lease_owner == WORKER_ID)
                            .values(lease_until=time.time() + self.lease))
                except Exception:  # a missed beat only shortens the lease
                    log.exception("lease renewal for attempt %s", attempt_id)

        t = threading.Thread(target=beat, name=f"lease-{attempt_id}", daemon=True)
        t.start()
        try:
            yield
        finally:
            stop.set()
            t.join(timeout=5)

    def _progress(self, attempt_id: int, text: str, **values) -> None:
        with self.db.session() as s:
            s.execute(update(Attempt).where(Attempt.id == attempt_id,
                                            Attempt.lease_owner == WORKER_ID)
                      .values(progress=text, **values))

    def needs_real_nodes(self, exam) -> bool:
        """Does a fixed paper name tasks that need real nodes (kind)?"""
        from grader.exam import resolve_task
        return not exam.is_draw and any(
            "nodes" in (getattr(resolve_task(self.bank.tasks, line.id), "requires", None) or ())
            for line in exam.tasks)

    def unavailable(self, exam) -> str | None:
        """Why ``exam`` cannot start on this portal, or None."""
        if self.needs_real_nodes(exam) and "nodes" not in self.services.capabilities(True):
            return ("it needs real nodes (kind sandboxes), which this portal has not enabled; "
                    "an operator can set PROCTOR_KIND_SANDBOXES=1 (see docs/kind.md)")
        return None

    def sandbox_spec(self, task_ids) -> dict:
        """``create_sandbox`` options for a paper: what its tasks require, and
        the workers that must start unjoined (a join task)."""
        requires, unjoined = set(), set()
        for tid in task_ids:
            task = self.bank.task(tid)
            if task is not None:
                requires |= set(getattr(task, "requires", None) or ())
                unjoined |= set(getattr(task, "unjoined", None) or ())
        spec = {"requires": sorted(requires)}
        if unjoined:
            spec["unjoined"] = sorted(unjoined)
        return spec

    def sandbox_name(self, attempt_id: int) -> str:
        return f"{self.prefix}a{attempt_id}"

    # -- start -------------------------------------------------------------------
    def paper(self, exam, seed: int):
        """The exam's tasks for ``seed`` and the node count they need.

        A draw takes only tasks the default clusters (kwok) can hold; a fixed
        paper may name tasks that need real nodes, and then runs on kind."""
        reason = self.unavailable(exam)
        if reason:
            raise ValueError(reason)
        paper = exam.select(self.bank.tasks, seed,
                            self.services.capabilities(real_nodes=not exam.is_draw))
        if not paper:
            raise ValueError("it has no tasks")
        # The cluster must suit every task of the paper (kwok nodes are cheap).
        nodes = max([exam.nodes] + [int(getattr(t, "nodes", 1) or 1) for t, _ in paper])
        return paper, nodes

    def start(self, s, user, exam, mode: str) -> Attempt:
        """Create the attempt and its paper. With a warm sandbox prepared for
        this exam the attempt runs at once; otherwise the worker makes one."""
        t0 = time.time()
        if mode not in exam.modes:
            raise StartError(f"{exam.title} cannot be taken in {mode} mode")
        active = s.scalar(select(Attempt).where(Attempt.user_id == user.id,
                                                Attempt.state.in_(BLOCKING_STATES)))
        if active is not None:
            raise StartError(f"you already have an attempt in progress (#{active.id}, "
                             f"{active.exam_title}); finish or abandon it first")
        warm = self._take_warm(exam)
        seed = warm["seed"] if warm else secrets.randbits(31)
        try:
            paper, nodes = self.paper(exam, seed)
        except Exception as exc:
            if warm:
                self._destroy_quietly(warm["name"])
            raise StartError(f"{exam.title} is not available: {exc}") from None
        if warm and [t.id for t, _ in paper] != warm["paper"]:
            # The bank or the exam changed since the sandbox was prepared.
            self._destroy_quietly(warm["name"])
            warm, seed = None, secrets.randbits(31)
            paper, nodes = self.paper(exam, seed)
        duration = exam.duration * 60 if mode == "exam" else int(self.config["PRACTICE_MINUTES"]) * 60
        attempt = Attempt(user_id=user.id, exam_id=exam.id, exam_title=exam.title,
                          track=exam.track, mode=mode, state="provisioning", seed=seed,
                          nodes=nodes, duration_s=duration, pass_mark=exam.pass_mark,
                          created_at=t0, progress="Waiting for a worker", enqueued_at=time.time())
        for i, (task, weight) in enumerate(paper, start=1):
            params = self.services.draw_params(task, seed)
            attempt.tasks.append(AttemptTask(
                position=i, task_id=task.id, title=task.title,
                domain=task_domain(task, exam.track), setup_ok=True if warm else None,
                weight=float(weight), params_json=json.dumps(params, sort_keys=True)))
        s.add(attempt)
        try:
            s.flush()
        except IntegrityError:  # a concurrent start of the same candidate won the race
            s.rollback()
            if warm:
                self._destroy_quietly(warm["name"])
            raise StartError("you already have an attempt in progress; finish or abandon "
                             "it first") from None
        self.event(s, attempt.id, "started", f"{exam.id} in {mode} mode by {user.username}")
        if warm:
            now = time.time()
            attempt.sandbox_name = warm["name"]
            attempt.sandbox_json = json.dumps(warm["sandbox"])
            attempt.sandbox_state, attempt.from_pool = "ready", True
            attempt.state, attempt.progress = "running", ""
            attempt.ready_at, attempt.deadline_at, attempt.current_since = now, now + duration, now
            attempt.add_timing("start_to_running", now - t0)
            self.event(s, attempt.id, "sandbox", f"{warm['name']} (warm pool, prepared for {exam.id})")
            self.event(s, attempt.id, "running", f"deadline in {duration}s")
        else:
            attempt.sandbox_name = self.sandbox_name(attempt.id)
        s.commit()
        if warm:
            self._enqueue("refill")
        else:
            self._enqueue("provision", attempt.id)
        return attempt

    def _take_warm(self, exam) -> dict | None:
        """Claim a healthy sandbox prepared for ``exam``, if the pool has one."""
        while True:
            with self.db.session() as s:
                row = s.scalar(select(PoolSandbox).where(
                    PoolSandbox.state == "ready", PoolSandbox.exam_id == exam.id)
                    .order_by(PoolSandbox.created_at).limit(1))
                if row is None:
                    return None
                res = s.execute(delete(PoolSandbox).where(PoolSandbox.id == row.id,
                                                          PoolSandbox.state == "ready"))
                if res.rowcount != 1:
                    continue  # another start took it first
                warm = {"name": row.name, "seed": row.seed, "sandbox": json.loads(row.sandbox_json),
                        "paper": json.loads(row.paper_json or "[]")}
            if self.services.sandbox_healthy(warm["name"]):
                return warm
            self._destroy_quietly(warm["name"])

    def retry(self, s, attempt: Attempt) -> bool:
        res = s.execute(update(Attempt).where(Attempt.id == attempt.id, Attempt.state == "error")
                        .values(state="provisioning", error="", progress="Retrying",
                                lease_owner="", lease_until=0, enqueued_at=time.time()))
        if res.rowcount != 1:
            return False
        s.execute(update(AttemptTask).where(AttemptTask.attempt_id == attempt.id)
                  .values(setup_ok=None, setup_output=""))
        self.event(s, attempt.id, "retry")
        s.commit()
        self._enqueue("provision", attempt.id)
        return True

    def abandon(self, s, attempt: Attempt) -> bool:
        res = s.execute(update(Attempt).where(Attempt.id == attempt.id, Attempt.state == "error")
                        .values(state="abandoned", lease_owner="", lease_until=0))
        if res.rowcount != 1:
            return False
        self.event(s, attempt.id, "abandoned")
        s.commit()
        self._enqueue("reap", attempt.id)
        return True

    # -- provision + setup ------------------------------------------------------
    def provision(self, attempt_id: int) -> str:
        if not self._claim(attempt_id, ("provisioning", "setting_up")):
            return "skipped"
        with self._holding_lease(attempt_id):
            try:
                self._provision(attempt_id)
            except Exception as exc:
                log.exception("attempt %s: provisioning failed", attempt_id)
                with self.db.session() as s:
                    res = s.execute(update(Attempt).where(
                        Attempt.id == attempt_id, Attempt.lease_owner == WORKER_ID,
                        Attempt.state.in_(("provisioning", "setting_up")))
                        .values(state="error", error=str(exc) or exc.__class__.__name__,
                                progress="", lease_owner="", lease_until=0))
                    if res.rowcount:
                        self.event(s, attempt_id, "error", str(exc))
                return "error"
        self._enqueue("refill")
        return "running"

    def _provision(self, attempt_id: int) -> None:
        with self.db.session() as s:
            a = s.get(Attempt, attempt_id)
            sandbox, nodes, name = a.sandbox, a.nodes, a.sandbox_name
            spec = self.sandbox_spec(t.task_id for t in a.tasks)
        t0 = time.time()
        if sandbox and self.services.sandbox_healthy(sandbox["name"]):
            from_pool = None  # reattached after a restart: keep what was recorded
        else:
            if sandbox:  # recorded but dead: start over on a fresh one
                self._destroy_quietly(sandbox["name"])
            from_pool = False
            self._progress(attempt_id, f"Creating your {nodes}-node cluster")
            try:
                sandbox = self.services.create_sandbox(name, nodes, **spec)
            except Exception as exc:
                raise RuntimeError(f"your cluster did not come up: {exc}") from None
        with self.db.session() as s:
            a = s.get(Attempt, attempt_id)
            if a.lease_owner != WORKER_ID:
                raise RuntimeError("lost the lease while provisioning")
            a.sandbox_json = json.dumps(sandbox)
            a.sandbox_name = sandbox["name"]
            a.sandbox_state = "ready"
            if from_pool is not None:
                a.from_pool = from_pool
            a.state = "setting_up"
            a.progress = "Setting up the tasks"
            a.add_timing("sandbox", time.time() - t0)
            todo = [(t.id, t.task_id, t.params) for t in a.tasks if not t.setup_ok]
            self.event(s, attempt_id, "sandbox", f"{sandbox['name']} "
                       f"({'warm pool' if a.from_pool else 'created'}) in {time.time() - t0:.1f}s")

        t1 = time.time()
        failures = []
        for row_id, task_id, ok, output in self._run_setups(sandbox, todo):
            with self.db.session() as s:
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
        with self.db.session() as s:
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
            self.event(s, attempt_id, "running", f"deadline in {a.duration_s}s")

    def _run_setups(self, sandbox: dict, todo):
        """Run setup of each ``(key, task id, params)``, a few at a time (tasks
        keep to their own namespaces); yields ``(key, task id, ok, output)``."""
        def setup(item):
            key, task_id, params = item
            task = self.bank.task(task_id)
            if task is None:
                return key, task_id, False, f"task {task_id!r} is no longer in the bank"
            try:
                ok, output = self.services.run_setup(task, sandbox, params)
            except Exception as exc:
                ok, output = False, f"{exc.__class__.__name__}: {exc}"
            return key, task_id, ok, output

        workers = max(1, int(self.config["SETUP_PARALLEL"]))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            yield from pool.map(setup, todo)

    # -- submit + grade ----------------------------------------------------------
    def submit(self, s, attempt: Attempt, auto: bool = False) -> bool:
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
        self._account_time(s, attempt, when)
        self.event(s, attempt.id, "submitted", "automatically at the deadline" if auto else "")
        s.commit()
        self._enqueue("grade", attempt.id)
        return True

    def _account_time(self, s, attempt: Attempt, now: float, position: int | None = None,
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

    def view_task(self, s, attempt: Attempt, position: int) -> None:
        """The candidate opened task ``position``: account the time on the previous
        one, and count this one from now (a page loads in front)."""
        if attempt.state != "running":
            return
        if attempt.current_position != position or attempt.current_since is None:
            self._account_time(s, attempt, time.time(), position)
            s.commit()

    def task_presence(self, s, attempt: Attempt, position: int, present: bool) -> bool:
        """The page of task ``position`` came to the front with focus (``present``),
        or went to the background, lost focus or closed: resume or pause that
        task's clock. The server takes the fact, never a duration, and a signal
        from a page that is no longer the current task pauses nothing. Returns
        whether the clock of ``position`` runs now."""
        if attempt.state != "running":
            return False
        is_current = attempt.current_position == position
        if present and not (is_current and attempt.current_since is not None):
            self._account_time(s, attempt, time.time(), position)
        elif not present and is_current and attempt.current_since is not None:
            self._account_time(s, attempt, time.time(), counting=False)
        s.commit()
        return attempt.current_position == position and attempt.current_since is not None

    def grade(self, attempt_id: int) -> str:
        now = time.time()
        with self.db.session() as s:
            res = s.execute(update(Attempt).where(
                Attempt.id == attempt_id,
                or_(Attempt.state == "submitted",
                    (Attempt.state == "grading") & (Attempt.lease_until < now)))
                .values(state="grading", lease_owner=WORKER_ID, lease_until=now + self.lease,
                        grade_runs=Attempt.grade_runs + 1, progress="Grading"))
            if res.rowcount != 1:
                return "skipped"
            self.event(s, attempt_id, "grading", WORKER_ID)
        with self._holding_lease(attempt_id):
            t0 = time.time()
            with self.db.session() as s:
                a = s.get(Attempt, attempt_id)
                rows = [(t.id, t.task_id, t.params) for t in a.tasks]
                sandbox = a.sandbox if a.sandbox_state == "ready" else None
            results = self._run_grader(sandbox, rows)
            duration = time.time() - t0
            with self.db.session() as s:
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
                    r = results[t.id]
                    t.result_json = json.dumps(r)
                    t.score, t.max_score = task_points(r)
                a.add_timing("grade", duration)
                a.add_timing("submit_to_results", time.time() - (a.submitted_at or t0))
                self.event(s, attempt_id, "graded", f"{sc.percent:.1f}% in {duration:.1f}s")
                if sc.held:
                    self.event(s, attempt_id, "review", "\n".join(sc.review))
        self._enqueue("reap", attempt_id)
        return "graded"

    def _run_grader(self, sandbox: dict | None, rows) -> dict[int, dict]:
        """Grade every task; what cannot be graded becomes an ``error`` result."""
        results: dict[int, dict] = {}
        pairs, ids = [], []
        for row_id, task_id, params in rows:
            task = self.bank.task(task_id)
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
                    out = self.services.grade(sandbox, pairs)
                    by_id = {r.get("task_id"): r for r in out}
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

    def check_task(self, attempt_id: int, position: int) -> str:
        """Practice: grade one task now and keep the feedback on the task."""
        with self.db.session() as s:
            res = s.execute(update(AttemptTask).where(
                AttemptTask.attempt_id == attempt_id, AttemptTask.position == position,
                AttemptTask.check_state == "pending").values(check_state="running"))
            if res.rowcount != 1:
                return "skipped"
            a = s.get(Attempt, attempt_id)
            t = next(t for t in a.tasks if t.position == position)
            row = (t.id, t.task_id, t.params)
            sandbox = a.sandbox if a.state == "running" and a.sandbox_state == "ready" else None
        result = self._run_grader(sandbox, [row])[row[0]]
        with self.db.session() as s:
            s.execute(update(AttemptTask).where(AttemptTask.id == row[0]).values(
                check_state="done", check_json=json.dumps(result), checked_at=time.time(),
                check_count=AttemptTask.check_count + 1))
        return "checked"

    # -- sandboxes --------------------------------------------------------------
    def _destroy_quietly(self, name: str) -> bool:
        try:
            self.services.destroy_sandbox(name)
            return True
        except Exception:
            log.exception("destroying sandbox %s", name)
            return False

    def reap(self, attempt_id: int) -> str:
        """Destroy a finished attempt's sandbox (its results are stored by now),
        unless its candidate keeps it for review: then ``maintain`` reaps it
        once the window has closed."""
        with self.db.session() as s:
            a = s.get(Attempt, attempt_id)
            if a is None or a.state not in FINAL_STATES or a.sandbox_state == "destroyed":
                return "skipped"
            if kept_for_review(a, time.time()):
                return "kept"
            name = (a.sandbox or {}).get("name") or a.sandbox_name
        if not self._destroy_quietly(name):
            return "failed"
        with self.db.session() as s:
            s.execute(update(Attempt).where(Attempt.id == attempt_id)
                      .values(sandbox_state="destroyed"))
            self.event(s, attempt_id, "reaped", name)
        return "reaped"

    def pool_exams(self) -> list:
        wanted = [e.strip() for e in str(self.config.get("POOL_EXAMS") or "").split(",") if e.strip()]
        catalog = self.bank.catalog()
        return [e for e in catalog if e.id in wanted] if wanted else catalog

    def refill_pool(self) -> dict:
        """Top up the warm pool: ``POOL_SIZE`` sandboxes per pooled exam, each
        with the paper of a fresh seed already set up."""
        size = int(self.config["POOL_SIZE"])
        out: dict = {}
        if size <= 0:
            return out
        for exam in self.pool_exams():
            if time.time() < self._pool_backoff.get(exam.id, 0):
                out[exam.id] = "backoff"
                continue
            while True:
                result = self._prepare_one(exam, size)
                out.setdefault(exam.id, []).append(result)
                if result != "added":
                    break
        return out

    def _prepare_one(self, exam, size: int) -> str:
        seed = secrets.randbits(31)
        try:
            paper, nodes = self.paper(exam, seed)
        except Exception as exc:
            log.warning("warm pool: %s has no paper: %s", exam.id, exc)
            return "failed"
        name = f"{self.prefix}w{secrets.token_hex(3)}"
        with self.db.session() as s:
            s.add(PoolSandbox(name=name, nodes=nodes, state="creating", created_at=time.time(),
                              exam_id=exam.id, seed=seed, owner=WORKER_ID,
                              paper_json=json.dumps([t.id for t, _ in paper])))
        with self.db.session() as s:  # two refills at once: the later one backs off
            ids = s.scalars(select(PoolSandbox.id).where(
                PoolSandbox.exam_id == exam.id, PoolSandbox.state.in_(("creating", "ready")))
                .order_by(PoolSandbox.id)).all()
            mine = s.scalar(select(PoolSandbox.id).where(PoolSandbox.name == name))
            if ids.index(mine) >= size:
                s.execute(delete(PoolSandbox).where(PoolSandbox.id == mine))
                return "full"

        def drop(why: str) -> str:
            log.warning("warm pool: %s for %s: %s", name, exam.id, why)
            with self.db.session() as s:
                s.execute(delete(PoolSandbox).where(PoolSandbox.name == name))
            self._destroy_quietly(name)
            self._pool_backoff[exam.id] = time.time() + 300
            return "failed"

        try:
            sandbox = self.services.create_sandbox(
                name, nodes, **self.sandbox_spec(t.id for t, _ in paper))
        except Exception as exc:
            return drop(f"cluster did not come up: {exc}")
        todo = [(i, t.id, self.services.draw_params(t, seed)) for i, (t, _) in enumerate(paper)]
        for _, task_id, ok, output in self._run_setups(sandbox, todo):
            if not ok:
                return drop(f"setup of {task_id} failed: {output[-300:]}")
        with self.db.session() as s:
            res = s.execute(update(PoolSandbox).where(PoolSandbox.name == name,
                                                      PoolSandbox.state == "creating")
                            .values(state="ready", sandbox_json=json.dumps(sandbox)))
            if res.rowcount != 1:  # maintenance gave up on it meanwhile
                self._destroy_quietly(name)
                return "dropped"
        return "added"

    # -- the worker's clock ------------------------------------------------------
    def sweep(self) -> dict:
        """Run every tick: auto-submit at the deadline, hand lost jobs to the queue."""
        now = time.time()
        done = {"submitted": [], "grade": [], "provision": []}
        with self.db.session() as s:
            overdue = s.scalars(select(Attempt).where(
                Attempt.state == "running", Attempt.deadline_at <= now)).all()
            for a in overdue:
                if self.submit(s, a, auto=True):
                    done["submitted"].append(a.id)
            lost_grades = s.scalars(select(Attempt.id).where(or_(
                (Attempt.state == "submitted") & (Attempt.enqueued_at < now - RESUBMIT_AFTER),
                (Attempt.state == "grading") & (Attempt.lease_until < now)))).all()
            lost_provisions = s.scalars(select(Attempt.id).where(
                Attempt.state.in_(("provisioning", "setting_up")),
                Attempt.lease_until < now, Attempt.enqueued_at < now - RESUBMIT_AFTER)).all()
        for aid in lost_grades:
            self._mark_enqueued(aid)
            self._enqueue("grade", aid)
            done["grade"].append(aid)
        for aid in lost_provisions:
            self._mark_enqueued(aid)
            self._enqueue("provision", aid)
            done["provision"].append(aid)
        return done

    def recover(self) -> dict:
        """At worker start: anything whose lease has run out is picked up now."""
        with self.db.session() as s:
            s.execute(update(Attempt).where(
                Attempt.state.in_(("provisioning", "setting_up", "submitted")),
                Attempt.lease_until < time.time()).values(enqueued_at=0))
        return self.sweep()

    def maintain(self) -> dict:
        """Every minute: destroy what nobody needs, top up the warm pool."""
        out = {"reaped": [], "orphans": []}
        now = time.time()
        with self.db.session() as s:
            finished = s.scalars(select(Attempt.id).where(
                Attempt.state.in_(FINAL_STATES), Attempt.sandbox_state == "ready")).all()
            pooled = {e.id for e in self.pool_exams()} if int(self.config["POOL_SIZE"]) > 0 else set()
            stale_pool = s.scalars(select(PoolSandbox.name).where(or_(
                (PoolSandbox.state == "creating") & (PoolSandbox.created_at < now - 2 * ORPHAN_AGE),
                PoolSandbox.exam_id.not_in(pooled) if pooled else PoolSandbox.id.is_not(None)))).all()
            stale_pool += [row.name for row in s.scalars(select(PoolSandbox).where(
                PoolSandbox.state == "creating")) if not owner_alive(row.owner)]
            s.execute(delete(PoolSandbox).where(PoolSandbox.name.in_(stale_pool)))
            known = set(s.scalars(select(Attempt.sandbox_name).where(
                Attempt.sandbox_state != "destroyed")).all())
            known |= set(s.scalars(select(PoolSandbox.name)).all())
        for aid in finished:
            if self.reap(aid) == "reaped":
                out["reaped"].append(aid)
        try:
            present = self.services.list_sandboxes()
        except Exception:
            log.exception("listing sandboxes")
            present = []
        for name, created in present:
            if name.startswith(self.prefix) and name not in known and now - created > ORPHAN_AGE:
                if self._destroy_quietly(name):
                    out["orphans"].append(name)
        for name in stale_pool:
            self._destroy_quietly(name)
        self._enqueue("refill")
        return out


def kept_for_review(attempt: Attempt, now: float) -> bool:
    """A practice attempt whose candidate keeps its cluster for review until
    ``keep_until`` (web/terminal/review.py): not reaped before then."""
    return attempt.mode == "practice" and attempt.keep_until is not None \
        and now < attempt.keep_until


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


def error_result(task_id: str, message: str) -> dict:
    return {"task_id": task_id, "score": 0, "max_score": 0, "duration": 0.0,
            "error": message, "checks": []}
