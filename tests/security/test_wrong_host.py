"""Work done on the wrong host never scores: the wrong-host probe, attacked for real.

With several clusters in an attempt, a check that fails on its task's own
cluster is graded again on the attempt's other clusters, and where it holds
there its message says so (``web.lifecycle.grading._found_elsewhere``). The
probe reads clusters the candidate controls, with cluster-admin, through the
real grader; two real kwok sandboxes stand for two hosts. The candidate
solves the task on the other host, then turns that host's cluster against
the probe; the grade of the task's own cluster must be what it was without
the probe, each time.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from grader.runner import run_script
from grader.task import load_task
from web.lifecycle.grading import Row, grade_rows
from web.services import RealServices

pytestmark = [pytest.mark.cluster,
              pytest.mark.skipif(os.geteuid() != 0, reason="the grader drops root: run as root")]

REPO = Path(__file__).resolve().parents[2]
TASK = load_task(REPO / "tasks" / "ckad" / "svc-selector-fix")
PARAMS = TASK.draw_params(1)
OWN, WRONG = "ckad000001", "ckad000002"


class Bank:
    def task(self, task_id):
        return TASK if task_id == TASK.id else None


class Ctx:
    bank = Bank()
    services = RealServices({"PROVIDER": "kwok", "TASKS_DIR": REPO / "tasks"})


@pytest.fixture(scope="module")
def hosts(kwok):
    """The task's own cluster, set up and left unsolved; the other host's
    cluster, where the candidate set it up and solved it."""
    own, wrong = kwok.create("sec-own-host", nodes=2), kwok.create("sec-wrong-host", nodes=2)
    for sb in (own, wrong):
        assert run_script(TASK, "setup", sb, PARAMS).ok
    assert run_script(TASK, "solution", wrong, PARAMS).ok
    yield own, wrong
    for name in ("sec-own-host", "sec-wrong-host"):
        kwok.destroy(name)


def graded(clusters):
    rows = [Row(1, TASK.id, PARAMS, 0, OWN)]
    others = [Row(2, "another-task", {}, 1, WRONG)]
    return grade_rows(Ctx(), clusters, rows, others)[1]


def outcomes(result):
    return [(c.id, c.outcome, c.points) for c in result.checks]


def test_work_on_the_wrong_host_scores_nothing_and_is_named(hosts):
    own, wrong = hosts
    alone = graded([own])
    probed = graded([own, wrong])
    assert alone.score == probed.score == 0, (alone.checks, probed.checks)
    assert outcomes(probed) == outcomes(alone)
    named = [c for c in probed.checks if f"holds in the cluster of host {WRONG}" in c.message]
    assert named, [c.message for c in probed.checks]
    assert all(c.outcome == "failed" for c in named)


def test_a_broken_cluster_on_the_wrong_host_changes_no_grade(kwok, hosts):
    """The candidate stops the other host's API server before grading: the
    probe meets errors, the task's own grade stands, without a hint."""
    own, wrong = hosts
    alone = graded([own])
    pid = int((kwok._cluster_dir(wrong.name) / "pids" / "kube-apiserver.pid").read_text())
    os.kill(pid, 9)
    probed = graded([own, wrong])
    assert outcomes(probed) == outcomes(alone)
    assert [c.message for c in probed.checks] == [c.message for c in alone.checks]
