""""Validate now" of a node task on kind: the same algorithm as `proctor
validate`, so the task's sandbox options (node02 left unjoined for the join
task) reach the cluster. Its copy in the portal once left them out."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.task import load_task

pytestmark = pytest.mark.nodes
REPO = Path(__file__).resolve().parents[2]


def test_validate_now_of_the_join_task_on_kind(kind, tmp_path):
    from web.author.jobs import validate_task
    lines: list[str] = []
    result = validate_task(REPO / "tasks" / "cka" / "node-join", [kind], lines.append)
    log = "\n".join(lines)
    assert "(unjoined=['node02'])" in log, log[:2000]
    assert result["ok"] and not result["violations"], log[-4000:]
    task = load_task(REPO / "tasks" / "cka" / "node-join")  # its zone choice: seeds 1 and 3
    assert [s["seed"] for s in result["seeds"]] == task.proving_seeds(2)
    assert kind.list() == [], "Validate now left a sandbox behind"
