"""Six hosts on three real kwok clusters, and a portal restart in the middle
of the attempt (issue 20): `proctor run` starts the attempt, is stopped, and
a new `proctor run` on the same instance takes it over. Through the new
portal's terminal (its websocket, as xterm.js drives it) every host still
reaches its own cluster, where each task was set up; the candidate solves
task 1 on its host and does task 2 on task 1's host by mistake; grading
reads each task's own cluster, so task 2 fails with a message that names
where its work was found; afterwards every cluster is gone."""

from __future__ import annotations

import re

import pytest

from sandbox.kwok import KwokProvider
from tests.portal_client import PortalClient
from tests.waiting import wait_for

from .e2e_portal import destroy_sandboxes, run_portal

pytestmark = pytest.mark.cluster

PAPER = "ckad-three-clusters"  # tests/e2e/papers/: six tasks, clusters 1 2 3 1 2 3


def namespace_of(client: PortalClient, attempt_id: int, position: int) -> str:
    """The namespace a task's statement names (its first ``namespace `x```)."""
    html = client.get(f"/attempts/{attempt_id}/tasks/{position}")[1]
    return re.search(r"namespace <code>([^<]+)</code>", html, re.I).group(1)


def test_six_hosts_on_three_clusters_survive_a_portal_restart(tmp_path):
    root = tmp_path / "portal"
    root.mkdir()
    try:
        with run_portal(root, "restart-portal-1.log", keep_sandboxes=True,
                        PROCTOR_POOL_SIZE="0") as p:
            client = PortalClient(p["base"], timeout=300).login("candidate", p["passwords"]["candidate"])
            url, _ = client.post(f"/exams/{PAPER}/start", {"mode": "exam"}, csrf_from=f"/exams/{PAPER}")
            aid = int(re.search(r"/attempts/(\d+)", url).group(1))
            before = client.wait_state(aid, ("running",), timeout=600)
            assert before["state"] == "running", before
        hosts = [t["host"] for t in before["tasks"]]
        assert before["clusters"] == 3 and [t["cluster"] for t in before["tasks"]] == [1, 2, 3, 1, 2, 3]
        assert len(set(hosts)) == 6 and all(re.fullmatch(r"ckad\d{6}", h) for h in hosts), hosts

        with run_portal(root, "restart-portal-2.log", PROCTOR_POOL_SIZE="0") as p:
            client = PortalClient(p["base"], timeout=300).login("candidate", p["passwords"]["candidate"])
            after = client.api(f"/attempts/{aid}")
            assert after["state"] == "running"
            assert [(t["host"], t["cluster"]) for t in after["tasks"]] == \
                [(t["host"], t["cluster"]) for t in before["tasks"]]
            ns = [namespace_of(client, aid, i) for i in range(1, 7)]

            term = client.terminal(aid)
            term.read_until("candidate@exam", timeout=120)
            # task 1's host: its own setup is there, and that of task 4 (same
            # cluster); task 1 is solved as its statement asks
            term.type(f"ssh {hosts[0]}\n")
            term.read_until(f"candidate@{hosts[0]}")
            term.type(f"hostname; kubectl get ns {ns[0]} {ns[3]} -o name; echo OK-$((40+2))\n")
            out = term.read_until("OK-42")
            assert hosts[0] in out and f"namespace/{ns[0]}" in out and f"namespace/{ns[3]}" in out, out
            term.type(f"kubectl -n {ns[0]} patch svc web -p "
                      """'{"spec":{"selector":{"app":"web","tier":"frontend"}}}'\n""")
            term.read_until("service/web patched")
            # task 2 done here too, on the wrong host: its namespace is not
            # on this cluster, so the candidate makes it
            job = ("apiVersion: batch/v1\nkind: Job\nmetadata: {name: report}\nspec:\n"
                   "  completions: 1\n  parallelism: 1\n  backoffLimit: 2\n  template:\n"
                   "    spec:\n      restartPolicy: Never\n      containers:\n"
                   "      - {name: report, image: 'busybox:1.36', command: [sh, -c, echo report done]}\n")
            term.type(f"kubectl create ns {ns[1]} && kubectl -n {ns[1]} apply -f - <<'EOF'\n{job}EOF\n")
            term.read_until("job.batch/report created", timeout=60)
            term.type("exit\n")
            term.read_until("candidate@exam")
            # task 5's host is on task 2's cluster: task 2's setup is there,
            # and nothing of task 1's cluster
            term.type(f"ssh {hosts[4]}\n")
            term.read_until(f"candidate@{hosts[4]}")
            term.type(f"kubectl get ns {ns[1]} {ns[4]} -o name; kubectl get -n {ns[0]} svc web 2>&1 "
                      "| tail -1; echo OK-$((40+3))\n")
            out = term.read_until("OK-43")
            assert f"namespace/{ns[1]}" in out and f"namespace/{ns[4]}" in out, out
            if ns[0] not in (ns[1], ns[4]):
                assert "NotFound" in out or "not found" in out, out
            term.close()

            client.post(f"/attempts/{aid}/submit", csrf_from=f"/attempts/{aid}/tasks/1")
            graded = client.wait_state(aid, ("graded",), timeout=300)
            assert graded["state"] == "graded", graded
            res = client.api(f"/attempts/{aid}/results")
            first, second, *rest = res["tasks"]
            assert first["percent"] == 100.0, first["checks"]
            where = ", ".join(sorted([hosts[0], hosts[3]]))
            wrong = [c for c in second["checks"] if "wrong host" in c["message"]]
            assert second["percent"] < 100.0 and wrong, second["checks"]
            for check in wrong:
                assert check["outcome"] == "failed"
                assert check["message"].endswith(
                    f"; it holds in the cluster of host {where}, not in this task's "
                    f"(host {hosts[1]}): was it solved on the wrong host?"), check["message"]
            for task in rest:
                assert task["percent"] < 100.0
                assert not any("wrong host" in c["message"] for c in task["checks"]), task["checks"]
            assert [t["host"] for t in res["tasks"]] == hosts
            # results kept, then all three clusters reaped
            kwok = KwokProvider(root=root / "state")
            wait_for("every cluster of the graded attempt reaped",
                     lambda: not kwok.list(include_creating=True), timeout=120)
    finally:
        destroy_sandboxes(root / "state")
