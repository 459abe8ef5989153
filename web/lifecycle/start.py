"""Starting an attempt (the pages and the API), and what a candidate can do
with one whose cluster failed: retry it or abandon it."""

from __future__ import annotations

import json
import secrets
import time

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from grader.exam import ExamError, task_domain
from grader.hosts import host_names

from ..models import BLOCKING_STATES, Attempt, AttemptTask
from .paper import paper, paper_clusters
from .pool import destroy_warm, take_warm
from .review import close_windows


class StartError(Exception):
    """The attempt cannot start; the message is for the candidate."""


def start(ctx, s, user, exam, mode: str) -> Attempt:
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
    warm = take_warm(ctx, exam)
    seed = warm.seed if warm else secrets.randbits(31)
    try:
        tasks, nodes = paper(ctx, exam, seed)
    except (ValueError, ExamError) as exc:  # why this exam cannot run here
        if warm:
            destroy_warm(ctx, warm)
        raise StartError(f"{exam.title} is not available: {exc}") from None
    if warm and [t.id for t, _ in tasks] != warm.paper:
        # The bank or the exam changed since the sandbox was prepared.
        destroy_warm(ctx, warm)
        warm, seed = None, secrets.randbits(31)
        tasks, nodes = paper(ctx, exam, seed)
    duration = exam.duration * 60 if mode == "exam" else int(ctx.config["PRACTICE_MINUTES"]) * 60
    clusters, placed = paper_clusters(exam, tasks)
    attempt = Attempt(user_id=user.id, exam_id=exam.id, exam_title=exam.title,
                      track=exam.track, mode=mode, state="provisioning", seed=seed,
                      nodes=nodes, duration_s=duration, pass_mark=exam.pass_mark,
                      clusters=clusters,
                      created_at=t0, progress="Waiting for a worker", enqueued_at=time.time())
    hosts = host_names(exam.track, seed, len(tasks)) if exam.hosts else [""] * len(tasks)
    for i, ((task, weight), host, cluster) in enumerate(zip(tasks, hosts, placed), start=1):
        params = ctx.services.draw_params(task, seed)
        attempt.tasks.append(AttemptTask(
            position=i, task_id=task.id, title=task.title, host=host,
            cluster=cluster,
            domain=task_domain(task, exam.track), setup_ok=True if warm else None,
            weight=float(weight), params_json=json.dumps(params, sort_keys=True)))
    s.add(attempt)
    try:
        s.flush()
    except IntegrityError:  # a concurrent start of the same candidate won the race
        s.rollback()
        if warm:
            destroy_warm(ctx, warm)
        raise StartError("you already have an attempt in progress; finish or abandon "
                         "it first") from None
    ctx.event(s, attempt.id, "started", f"{exam.id} in {mode} mode by {user.username}")
    if warm:
        now = time.time()
        attempt.sandbox_name, attempt.sandbox = warm.name, warm.sandbox
        attempt.more_clusters = warm.more
        attempt.sandbox_state, attempt.from_pool = "ready", True
        attempt.state, attempt.progress = "running", ""
        attempt.ready_at, attempt.deadline_at, attempt.current_since = now, now + duration, now
        attempt.add_timing("start_to_running", now - t0)
        ctx.event(s, attempt.id, "sandbox", f"{warm.name} (warm pool, prepared for {exam.id})")
        ctx.event(s, attempt.id, "running", f"deadline in {duration}s")
    else:
        attempt.sandbox_name = ctx.sandbox_name(attempt.id)
    s.commit()
    # One cluster per candidate: a practice cluster kept for review goes now.
    close_windows(ctx, s, user.id, attempt.id)
    if warm:
        ctx.queue.refill()
    else:
        ctx.queue.provision(attempt.id)
    return attempt


def retry(ctx, s, attempt: Attempt) -> bool:
    """Provision an attempt in ``error`` again, from the start."""
    res = s.execute(update(Attempt).where(Attempt.id == attempt.id, Attempt.state == "error")
                    .values(state="provisioning", error="", progress="Retrying",
                            lease_owner="", lease_until=0, enqueued_at=time.time()))
    if res.rowcount != 1:
        return False
    s.execute(update(AttemptTask).where(AttemptTask.attempt_id == attempt.id)
              .values(setup_ok=None, setup_output=""))
    ctx.event(s, attempt.id, "retry")
    s.commit()
    ctx.queue.provision(attempt.id)
    return True


def abandon(ctx, s, attempt: Attempt) -> bool:
    """Give up an attempt in ``error``; its sandbox is reaped."""
    res = s.execute(update(Attempt).where(Attempt.id == attempt.id, Attempt.state == "error")
                    .values(state="abandoned", lease_owner="", lease_until=0))
    if res.rowcount != 1:
        return False
    ctx.event(s, attempt.id, "abandoned")
    s.commit()
    ctx.queue.reap(attempt.id)
    return True
