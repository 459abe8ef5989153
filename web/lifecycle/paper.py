"""What an exam asks of this portal: its paper for a seed, and the cluster
that paper needs (nodes, real nodes, workers left unjoined)."""

from __future__ import annotations

from grader.exam import resolve_task


def needs_real_nodes(ctx, exam) -> bool:
    """Does a fixed paper name tasks that need real nodes (kind)?"""
    return not exam.is_draw and any(
        "nodes" in (getattr(resolve_task(ctx.bank.tasks, line.id), "requires", None) or ())
        for line in exam.tasks)


def unavailable(ctx, exam) -> str | None:
    """Why ``exam`` cannot start on this portal, or None."""
    if needs_real_nodes(ctx, exam) and "nodes" not in ctx.services.capabilities(True):
        return ("it needs real nodes (vm or kind sandboxes), which this portal has not enabled; "
                "an operator can set PROCTOR_VM_SANDBOXES=1 (see docs/vm.md) or, for trusted "
                "candidates, PROCTOR_KIND_SANDBOXES=1 (see docs/kind.md)")
    return None


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
