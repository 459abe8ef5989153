"""The catalogue and an exam's page as a first-time candidate reads them:
counts in words that agree with the number, the cluster the attempt really
gets, and nothing meant for the operator."""

from __future__ import annotations

import textwrap
from pathlib import Path

from tests.portal.fakes import TASKS, FakeTask
from tests.portal.helpers import AuthActions, attempt, start

ONE_TASK = """
    title: One task
    track: ckad
    duration: 20
    pass_mark: 66
    nodes: 1
    tasks:
      - {id: svc-selector-fix, weight: 1}
"""
NEEDS_NODES = """
    title: Node work
    track: cka
    duration: 30
    pass_mark: 66
    tasks:
      - {id: join-node, weight: 1}
"""


def reload_bank(app, **exams):
    for name, text in exams.items():
        (Path(app.config["EXAMS_DIR"]) / f"{name}.yaml").write_text(textwrap.dedent(text))
    with app.app_context():
        app.extensions["proctor.bank"]().reload()


def test_a_count_of_one_is_singular(app, client, auth):
    reload_bank(app, **{"one-task": ONE_TASK})
    auth.login()
    page = client.get("/").get_data(as_text=True)
    assert "1 task ·" in page and "1 tasks" not in page
    assert "3 tasks ·" in page  # the three-task paper stays plural


def test_the_cluster_shown_is_the_cluster_the_attempt_gets(app, client, auth):
    """``nodes: 1`` in the exam file is a minimum: its tasks ask for 3, and the
    attempt gets 3. The catalogue said "1-node cluster"."""
    auth.login()
    page = client.get("/").get_data(as_text=True)
    assert "cluster of 3 nodes" in page and "1-node" not in page
    assert "3 nodes" in client.get("/exams/fake-ckad").get_data(as_text=True)
    aid = start(auth, exam="fake-ckad", mode="practice")
    assert attempt(app, aid).nodes == 3


def test_candidates_see_no_operator_instructions(app, client, monkeypatch):
    monkeypatch.setattr("tests.portal.fakes.TASKS", TASKS + [
        FakeTask("join-node", "Join node01", "Cluster Architecture, Installation and Configuration",
                 tracks=["cka"], requires=["api", "nodes"])])
    reload_bank(app, **{"node-work": NEEDS_NODES})
    candidate = AuthActions(client)
    candidate.login("alice")
    for url in ("/", "/exams/node-work"):
        page = client.get(url).get_data(as_text=True)
        assert "needs real nodes, which this portal does not offer" in page, url
        assert "PROCTOR_" not in page and "docs/" not in page, url
    candidate.logout()
    AuthActions(client).login("ines")
    assert "PROCTOR_VM_SANDBOXES=1" in client.get("/exams/node-work").get_data(as_text=True)


def test_task_shares_add_up_to_one_hundred(app, client, auth):
    """Three tasks of one weight each: 34 + 33 + 33, never 33 × 3 = 99."""
    reload_bank(app, **{"thirds": ONE_TASK.replace("One task", "Thirds").replace(
        "      - {id: svc-selector-fix, weight: 1}",
        "      - {id: svc-selector-fix, weight: 1}\n      - {id: pod-security, weight: 1}\n"
        "      - {id: deploy-rollout, weight: 1}")})
    auth.login()
    aid = start(auth, exam="thirds", mode="practice")
    page = client.get(f"/attempts/{aid}/tasks/1").get_data(as_text=True)
    import re
    shown = [int(n) for n in re.findall(r'class="weight" title="Share of the exam">(\d+)%', page)]
    assert sorted(shown) == [33, 33, 34], shown
