"""A host per task (``hosts: true`` in the exam file, grader/hosts.py): each
task of an attempt gets its own host name, drawn per attempt and kept in the
database; the task page shows its ``ssh`` line, the API and the results say
the host, and the instructions explain the base host."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from grader.exam import ExamError, parse_exam
from confinement.identity import is_host_name
from grader.hosts import host_names
from tests.portal.helpers import attempt, start

HOSTS_EXAM = """
    title: Fake CKAD on hosts
    track: ckad
    duration: 120
    pass_mark: 66
    hosts: true
    tasks:
      - {id: ckad/svc-selector-fix, weight: 4}
      - {id: pod-security, weight: 4}
      - {id: deploy-rollout, weight: 2}
"""


@pytest.fixture
def hosts_exam(app):
    (Path(app.config["EXAMS_DIR"]) / "fake-hosts.yaml").write_text(textwrap.dedent(HOSTS_EXAM))
    with app.app_context():
        app.extensions["proctor.bank"]().reload()
    return "fake-hosts"


def test_host_names_are_the_tracks_distinct_and_the_same_for_a_seed():
    names = host_names("cka", seed=7, count=17)
    assert len(set(names)) == 17 and all(re.fullmatch(r"cka\d{6}", n) for n in names)
    assert host_names("cka", seed=7, count=17) == names
    assert host_names("cka", seed=8, count=17) != names
    assert all(is_host_name(n) for n in names)
    for bad in ("../etc", "cka00002", "cka000024/x", "CKA000024", ""):
        assert not is_host_name(bad), bad


def test_hosts_must_be_true_or_false():
    with pytest.raises(ExamError, match=r"hosts: expected true or false, found 'yes please'"):
        parse_exam({"title": "T", "track": "ckad", "duration": 60, "pass_mark": 50,
                    "hosts": "yes please", "draw": {"count": 2}}, "t")


def test_each_task_has_its_host_on_its_page_in_the_api_and_on_the_results(
        app, client, auth, hosts_exam):
    auth.login()
    aid = start(auth, hosts_exam)
    hosts = [t.host for t in attempt(app, aid).tasks]
    assert len(set(hosts)) == 3 and all(re.fullmatch(r"ckad\d{6}", h) for h in hosts), hosts
    for position, host in enumerate(hosts, start=1):
        page = client.get(f"/attempts/{aid}/tasks/{position}").get_data(as_text=True)
        line = re.search(r'id="task-host">(.*?)</div>', page, re.S)
        assert line and f"<code>ssh {host}</code>" in line.group(1), page[:2000]
        others = set(hosts) - {host}
        assert not any(o in line.group(1) for o in others)
    api = client.get(f"/api/v1/attempts/{aid}").json
    assert [t["host"] for t in api["tasks"]] == hosts
    auth.post(f"/attempts/{aid}/submit")
    results = client.get(f"/attempts/{aid}/results").get_data(as_text=True)
    for host in hosts:
        assert f"graded on host <code>{host}</code>" in results
    assert [t["host"] for t in client.get(f"/api/v1/attempts/{aid}/results").json["tasks"]] \
        == hosts


def test_an_exam_without_hosts_has_one_shell_and_no_ssh_line(app, client, auth):
    auth.login()
    aid = start(auth)  # fake-ckad
    assert [t.host for t in attempt(app, aid).tasks] == ["", "", ""]
    page = client.get(f"/attempts/{aid}/tasks/1").get_data(as_text=True)
    assert 'id="task-host"' not in page
    assert client.get(f"/api/v1/attempts/{aid}").json["tasks"][0]["host"] is None


def test_the_instructions_explain_the_base_host(client, auth, hosts_exam):
    auth.login()
    page = client.get(f"/exams/{hosts_exam}/instructions").get_data(as_text=True)
    assert 'id="task-hosts"' in page and "base host that has no cluster" in page
    assert 'id="carry-hosts"' in page
    assert 'id="several-clusters"' not in page and "share its cluster here" in page
    plain = client.get("/exams/fake-ckad/instructions").get_data(as_text=True)
    assert 'id="task-hosts"' not in plain and "One context." in plain


def test_the_jail_refuses_a_host_name_that_is_not_one_it_makes(tmp_path):
    """Host names become paths in the jail (/etc/proctor/hosts/<host>): a name
    grader.hosts did not make never gets that far."""
    from confinement import jailfiles
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("clusters: [{name: c, cluster: {server: 'https://x'}}]\n"
                          "users: [{name: u, user: {}}]\n")
    assert list(jailfiles.host_files(["cka000024"], [kubeconfig])) == ["/etc/proctor/hosts/cka000024"]
    for bad in ("../../etc/shadow", "cka000024/../x", ""):
        with pytest.raises(ValueError, match="not a host name"):
            jailfiles.host_files([bad], [kubeconfig])
    # a host of the second cluster reaches it at the jail's port for it
    two = jailfiles.host_files(["cka000024", "cka000031"], [kubeconfig, kubeconfig],
                               {"cka000024": 0, "cka000031": 1})
    assert "https://127.0.0.1:6443" in two["/etc/proctor/hosts/cka000024"][0]
    assert "https://127.0.0.1:6444" in two["/etc/proctor/hosts/cka000031"][0]
    with pytest.raises(ValueError, match="on cluster 3, which the jail does not reach"):
        jailfiles.host_files(["cka000024"], [kubeconfig], {"cka000024": 2})


CLUSTERS_EXAM = HOSTS_EXAM.replace("hosts: true", "hosts: true\n    clusters: 2").replace(
    "Fake CKAD on hosts", "Fake CKAD on two clusters")


@pytest.fixture
def clusters_exam(app):
    (Path(app.config["EXAMS_DIR"]) / "fake-clusters.yaml").write_text(
        textwrap.dedent(CLUSTERS_EXAM))
    with app.app_context():
        app.extensions["proctor.bank"]().reload()
    return "fake-clusters"


def test_clusters_need_hosts_and_have_a_bound():
    base = {"title": "T", "track": "ckad", "duration": 60, "pass_mark": 50, "draw": {"count": 4}}
    with pytest.raises(ExamError, match="clusters: 3 clusters need hosts: true"):
        parse_exam({**base, "clusters": 3}, "t")
    with pytest.raises(ExamError, match="clusters: expected a whole number from 1 to 8"):
        parse_exam({**base, "hosts": True, "clusters": 9}, "t")
    assert parse_exam({**base, "hosts": True, "clusters": 4}, "t").clusters == 4


def test_each_task_is_graded_on_its_own_cluster_and_a_wrong_host_is_named(
        app, client, auth, clusters_exam):
    """Three tasks over two clusters (1, 2, 1). Task 2 solved on its own
    cluster scores; task 1 solved on task 2's cluster scores nothing, and its
    failed checks say where the work was found. Reaping removes both."""
    auth.login()
    aid = start(auth, clusters_exam)
    a = attempt(app, aid)
    assert a.clusters == 2 and [t.cluster for t in a.tasks] == [0, 1, 0]
    second = a.more_clusters
    assert [sb.name for sb in second] == [a.sandbox_name + "-c2"]
    assert a.cluster(1).workspace != a.sandbox.workspace
    hosts = [t.host for t in a.tasks]
    api = client.get(f"/api/v1/attempts/{aid}").json
    assert api["clusters"] == 2 and [t["cluster"] for t in api["tasks"]] == [1, 2, 1]

    other = Path(second[0].workspace, "solved")
    (other / "pod-security").touch()       # task 2, on its own cluster
    (other / "svc-selector-fix").touch()   # task 1, on task 2's cluster: the wrong host
    auth.post(f"/attempts/{aid}/submit")
    res = client.get(f"/api/v1/attempts/{aid}/results").json
    task1, task2, task3 = res["tasks"]
    assert task2["percent"] == 100.0 and task3["percent"] == 0.0
    assert task1["percent"] == 0.0
    for check in task1["checks"]:
        assert check["outcome"] == "failed"
        assert check["message"].endswith(
            f"; it holds in the cluster of host {hosts[1]}, not in this task's "
            f"(host {hosts[0]}): was it solved on the wrong host?"), check["message"]
    # task 3 was solved nowhere: no hint
    assert not any("wrong host" in c["message"] for c in task3["checks"])
    page = client.get(f"/attempts/{aid}/results").get_data(as_text=True)
    assert f"graded on host <code>{hosts[1]}</code>, cluster 2 of 2" in page

    services = app.extensions["proctor.services"]
    with app.app_context():
        app.extensions["proctor.lifecycle"].reap(aid)
    assert not services.sandbox_healthy(a.sandbox_name)
    assert not services.sandbox_healthy(second[0].name)


def test_the_second_cluster_is_no_orphan_while_its_attempt_runs(app, auth, clusters_exam):
    auth.login()
    aid = start(auth, clusters_exam)
    a = attempt(app, aid)
    services = app.extensions["proctor.services"]
    rec = Path(a.more_clusters[0].workspace).parent / "sandbox.json"
    import json as json_
    import time as time_
    data = json_.loads(rec.read_text())
    data["created_at"] = time_.time() - 3600
    rec.write_text(json_.dumps(data))
    with app.app_context():
        out = app.extensions["proctor.lifecycle"].maintain()
    assert a.more_clusters[0].name not in out["orphans"]
    assert services.sandbox_healthy(a.more_clusters[0].name)


def test_the_instructions_say_work_on_the_wrong_host_does_not_count(client, auth, clusters_exam):
    auth.login()
    page = client.get(f"/exams/{clusters_exam}/instructions").get_data(as_text=True)
    assert 'id="several-clusters"' in page and "spread over 2 clusters" in page


def test_a_warm_entry_holds_every_cluster_set_up_with_its_own_tasks(app, auth, clusters_exam):
    """The pool prepares both clusters of the exam; the attempt that takes the
    entry runs at once on them, and a dead second cluster makes the entry
    unusable (dropped whole, the attempt made cold)."""
    from sqlalchemy import select

    from web.db import get_db
    from web.models import PoolSandbox
    app.config.update(POOL_SIZE=1, POOL_EXAMS=clusters_exam)
    lc = app.extensions["proctor.lifecycle"]
    services = app.extensions["proctor.services"]
    assert lc.refill_pool() == {clusters_exam: ["added", "full"]}
    with app.app_context(), get_db().session() as s:
        row = s.scalar(select(PoolSandbox))
        name, more = row.name, [m.name for m in row.more_clusters]
    assert more == [name + "-c2"] and services.sandbox_healthy(more[0])
    lc.queue.refill = lambda: None  # look at the claim before the pool is topped up
    auth.login()
    aid = start(auth, clusters_exam)
    a = attempt(app, aid)
    assert a.state == "running" and a.from_pool and a.sandbox_name == name
    assert [m.name for m in a.more_clusters] == more and a.cluster_names() == [name, *more]
    # the paper's own placement: task 2 on the second cluster, solved there
    Path(a.more_clusters[0].workspace, "solved", "pod-security").touch()
    auth.post(f"/attempts/{aid}/submit")
    assert [t.fraction for t in attempt(app, aid).tasks] == [0.0, 1.0, 0.0]

    del lc.queue.refill
    assert lc.refill_pool() == {clusters_exam: ["added", "full"]}
    with app.app_context(), get_db().session() as s:
        row = s.scalar(select(PoolSandbox))
        name2, more2 = row.name, row.more_clusters[0].name
    services.destroy_sandbox(more2)  # the second cluster died meanwhile
    lc.queue.refill = lambda: None
    aid2 = start(auth, clusters_exam)
    a2 = attempt(app, aid2)
    assert not a2.from_pool and a2.state == "running" and a2.sandbox_name != name2
    assert not services.sandbox_healthy(name2), "the rest of a broken entry is destroyed"


def test_a_half_made_entry_of_several_clusters_is_dropped_whole(app, clusters_exam):
    """A worker died while preparing both clusters of an entry, before it
    recorded the second: maintenance destroys both (the second by its name)."""
    import socket
    import time as time_

    from web.db import get_db
    from web.models import PoolSandbox
    lc = app.extensions["proctor.lifecycle"]
    services = app.extensions["proctor.services"]
    name = lc.prefix + "wdead"
    for n in (name, name + "-c2"):
        services.create_sandbox(n, 1)
    with app.app_context(), get_db().session() as s:
        s.add(PoolSandbox(name=name, nodes=1, state="creating", exam_id=clusters_exam,
                          paper_json='["svc-selector-fix", "pod-security", "deploy-rollout"]',
                          owner=f"{socket.gethostname()}:999999:abcdef", created_at=time_.time()))
    lc.maintain()
    assert not services.sandbox_healthy(name) and not services.sandbox_healthy(name + "-c2")


def test_tasks_on_real_nodes_never_share_a_cluster_with_api_tasks():
    """The ckad-mock's warm pool failed on most draws: an API task (a
    Deployment of nginx:1.27, written for simulated Pods that run any image)
    landed on the gVisor cluster of a container task, its Pods never left
    ImagePullBackOff, and its setup timed out. grader.hosts.placement keeps
    the two kinds apart while the paper has a cluster for each; etcd and
    node tasks stay on cluster 1."""
    from grader.exam import load_exams
    from grader.hosts import REAL, placement
    from tests.portal.test_exam_model import REPO, real_bank
    from web.lifecycle.paper import paper_clusters

    assert placement([["api"]] * 7, clusters=3) == [0, 1, 2, 0, 1, 2, 0]
    assert placement([["api", "containers"], ["api"], ["api"], ["api", "etcd"]], clusters=2) \
        == [1, 0, 0, 0], "an etcd task makes cluster 1 an API one"
    assert placement([["api", "containers"], ["api"], ["api"]], clusters=2) == [0, 1, 1], \
        "else cluster 1 is of task 1's kind"
    assert placement([["api"], ["api", "nodes"], ["api"], ["api", "containers"]], clusters=3) \
        == [2, 0, 2, 1], "a node task makes cluster 1 a real one, and had its turn there"
    assert placement([["api", "containers"], ["api"]], clusters=1) == [0, 0]

    bank = real_bank()
    exams, _ = load_exams(REPO / "exams", bank)
    every = {"api", "etcd", "containers", "nodes"}
    mixed = 0
    for exam_id in ("ckad-mock", "cka-mock"):
        exam = exams[exam_id]
        for seed in range(80):
            paper = exam.select(bank, seed, capabilities=every)
            count, placed = paper_clusters(exam, paper)
            kinds: dict[int, set[bool]] = {}
            for (task, _), cluster in zip(paper, placed):
                kinds.setdefault(cluster, set()).add(bool(REAL & set(task.requires)))
            mixed += any(len(k) > 1 for k in kinds.values())
            assert sorted(kinds) == list(range(count)), (exam_id, seed, placed)
            for cluster, k in kinds.items():
                forced_first = [t for (t, _), c in zip(paper, placed)
                                if c == cluster and {"etcd", "nodes"} & set(t.requires)]
                assert len(k) == 1 or (cluster == 0 and forced_first), \
                    (exam_id, seed, cluster, [(t.id, c) for (t, _), c in zip(paper, placed)])
    assert mixed < 80, "almost every paper mixes on cluster 1"


def test_the_wrong_host_probe_skips_a_cluster_without_the_tasks_namespace(monkeypatch):
    """A failed task is graded again on another cluster only where its
    namespace is (work on the wrong host made it there): an unsolved paper
    of four clusters was graded four times over (39-50 s to its results)."""
    from grader.results import CheckResult, TaskResult
    from web.lifecycle import grading
    from web.lifecycle.grading import Row

    def result(task_id, passed):
        return TaskResult(task_id, [CheckResult("c1", "it", 1.0, "passed" if passed else "failed",
                                                "not there", 0.1)])
    graded = []

    def run_grader(ctx, sandbox, rows):
        graded.append((sandbox, sorted(task_id for _, task_id, _ in rows)))
        return {row_id: result(task_id, True) for row_id, task_id, _ in rows}
    monkeypatch.setattr(grading, "run_grader", run_grader)

    class Services:
        def namespaces(self, sandbox):
            return {"c2": {"default", "shop"}, "c3": {"default"}, "c4": None}[sandbox]

    class Ctx:
        services = Services()
    rows = [Row(1, "in-shop", {"namespace": "shop"}, 0, "ckad000001"),
            Row(2, "no-namespace", {"port": 80}, 0, "ckad000002")]
    results = {1: result("in-shop", False), 2: result("no-namespace", False)}
    grading._found_elsewhere(Ctx(), ["c1", "c2", "c3", "c4"], rows, rows, results)
    assert graded == [("c2", ["in-shop", "no-namespace"]),   # shop is there
                      ("c3", ["no-namespace"]),               # shop is not: not graded
                      ("c4", ["in-shop", "no-namespace"])], graded  # it cannot say: graded
    assert "wrong host" in results[1].checks[0].message
