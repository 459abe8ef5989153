"""``proctor validate``'s sandboxes used again (grader.reuse), on real kwok
sandboxes: the next unit gets the sandbox as its create left it, whatever
the last one did; a sandbox whose unit went wrong goes to no other."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.reuse import SandboxPool
from grader.task import load_task
from tests.cluster.test_kwok_rewind import kubectl

pytestmark = pytest.mark.cluster

TASK = Path(__file__).resolve().parent.parent / "fixtures" / "tasks" / "svc-endpoints-fixture"


def _names(kwok) -> set[str]:
    return {sb.name for sb in kwok.list(include_creating=True)}


def test_the_next_unit_gets_the_sandbox_as_it_was_made(kwok):
    task = load_task(TASK)
    pool = SandboxPool(kwok)
    said: list[str] = []
    try:
        sb = pool.take(task, said.append)
        made = set(kubectl(sb, "get", "namespaces", "-o", "name").split())
        nodes = kubectl(sb, "get", "nodes", "-o", "name")
        # a unit's setup, solution and variants: objects, a node changed, files
        kubectl(sb, "create", "namespace", "left-behind")
        kubectl(sb, "-n", "left-behind", "create", "deployment", "web", "--image=nginx")
        kubectl(sb, "cordon", "node01")
        (sb.workspace / "answer.txt").write_text("the last unit's answer\n")
        pool.give(sb, reusable=True)

        again = pool.take(task, said.append)
        assert again.name == sb.name, "a sandbox of the same shape is used again"
        assert any("rewound to as it was made" in line for line in said), said
        assert set(kubectl(again, "get", "namespaces", "-o", "name").split()) == made
        assert kubectl(again, "get", "nodes", "-o", "name") == nodes
        assert "true" not in kubectl(again, "get", "node", "node01",
                                     "-o", "jsonpath={.spec.unschedulable}")
        assert not list(again.workspace.iterdir()), "the workspace is empty again"
        # and it works as a new one does: a Deployment rolls out
        kubectl(again, "create", "namespace", "next")
        kubectl(again, "-n", "next", "create", "deployment", "api", "--image=nginx")
        kubectl(again, "-n", "next", "rollout", "status", "deployment/api", "--timeout=90s")

        # a unit that went wrong: its sandbox is destroyed, the next take makes another
        pool.give(again, reusable=False)
        assert again.name not in _names(kwok)
        other = pool.take(task, said.append)
        assert other.name != sb.name
        pool.give(other, reusable=True)
    finally:
        pool.close()
    assert not [n for n in _names(kwok) if n.startswith("val-")], "close destroys what it held"
