"""What an exam asks of this portal: its paper for a seed, and the cluster
that paper needs (nodes, real nodes, workers left unjoined)."""

from __future__ import annotations

from grader.exam import resolve_task
from grader.hosts import placement


def needs_real_nodes(ctx, exam) -> bool:
    """Does a fixed paper name tasks that need real nodes (kind)?"""
    return not exam.is_draw and any(
        "nodes" in (getattr(resolve_task(ctx.bank.tasks, line.id), "requires", None) or ())
        for line in exam.tasks)


# What an operator does about an exam this portal cannot run (shown to staff only).
OPERATOR_HOW = {
    "nodes": "set PROCTOR_VM_SANDBOXES=1 (docs/vm.md) or, for trusted candidates, "
             "PROCTOR_KIND_SANDBOXES=1 (docs/kind.md)",
    "containers": "run scripts/bootstrap, which builds the box image of gvisor sandboxes "
                  "(docs/containers.md), and keep PROCTOR_CONTAINER_SANDBOXES on",
}
WHAT = {"nodes": "real nodes", "containers": "real containers"}


def needs(ctx, exam) -> set[str]:
    """What a fixed paper's tasks require of its cluster (a draw takes only
    tasks this portal can run, so it needs nothing beyond them)."""
    if exam.is_draw:
        return set()
    return {cap for line in exam.tasks
            for cap in getattr(resolve_task(ctx.bank.tasks, line.id), "requires", None) or ()}


def missing(ctx, exam) -> list[str]:
    """What ``exam`` needs that no provider of this portal offers."""
    return sorted(needs(ctx, exam) - set(ctx.services.capabilities(True)))


def unavailable(ctx, exam) -> str | None:
    """Why ``exam`` cannot start on this portal, in a candidate's words, or None
    (``operator_how`` says what an operator does about it)."""
    lacking = missing(ctx, exam)
    if not lacking:
        return None
    return "it needs " + " and ".join(WHAT.get(c, c) for c in lacking) + \
        ", which this portal does not offer"


def operator_how(ctx, exam) -> str:
    """What an operator does to offer ``exam`` (for staff), or ""."""
    return "; ".join(OPERATOR_HOW[c] for c in missing(ctx, exam) if c in OPERATOR_HOW)


def cluster_nodes(ctx, exam) -> tuple[int, int]:
    """The fewest and most nodes an attempt's cluster may have: the exam's
    ``nodes`` is a minimum, and the cluster suits every task of the paper
    (most tasks ask for 3). For a draw, over the tasks it may draw."""
    if exam.is_draw:
        offered = set(ctx.services.capabilities(False))
        pool = [t for t in ctx.bank.tasks.values() if exam.track in getattr(t, "tracks", ())
                and set(getattr(t, "requires", None) or ()) <= offered]
    else:
        pool = [resolve_task(ctx.bank.tasks, line.id) for line in exam.tasks]
    counts = [int(getattr(t, "nodes", 1) or 1) for t in pool if t is not None] or [1]
    if not exam.is_draw:
        counts = [max(counts)]
    return max(exam.nodes, min(counts)), max(exam.nodes, max(counts))


def paper(ctx, exam, seed: int):
    """The exam's tasks for ``seed`` and the node count they need.

    A draw takes only tasks the default clusters (kwok) can hold; a fixed
    paper may name tasks that need real nodes, and then runs on kind."""
    reason = unavailable(ctx, exam)
    if reason:
        raise ValueError(reason)
    tasks = exam.select(ctx.bank.tasks, seed,
                        ctx.services.capabilities(real_nodes=not exam.is_draw))
    if not tasks:
        raise ValueError("it has no tasks")
    # The cluster must suit every task of the paper (kwok nodes are cheap).
    nodes = max([exam.nodes] + [int(getattr(t, "nodes", 1) or 1) for t, _ in tasks])
    return tasks, nodes


def paper_clusters(exam, tasks) -> tuple[int, list[int]]:
    """How many clusters a paper of ``tasks`` (``[(task, weight), …]``) has,
    and each task's (0-based, grader/hosts.py's rule)."""
    count = max(1, min(getattr(exam, "clusters", 1), len(tasks)))
    return count, placement([getattr(t, "requires", None) or () for t, _ in tasks], count)


def sandbox_spec(ctx, task_ids) -> dict:
    """``create_sandbox`` options for a paper: what its tasks require, and
    the workers that must start unjoined (a join task)."""
    requires, unjoined = set(), set()
    for tid in task_ids:
        task = ctx.bank.task(tid)
        if task is not None:
            requires |= set(getattr(task, "requires", None) or ())
            unjoined |= set(getattr(task, "unjoined", None) or ())
    spec = {"requires": sorted(requires)}
    if unjoined:
        spec["unjoined"] = sorted(unjoined)
    return spec
