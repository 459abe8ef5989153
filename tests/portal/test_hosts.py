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
from grader.hosts import host_names, is_host_name
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
    plain = client.get("/exams/fake-ckad/instructions").get_data(as_text=True)
    assert 'id="task-hosts"' not in plain and "One context." in plain


def test_the_jail_refuses_a_host_name_that_is_not_one_it_makes(tmp_path):
    """Host names become paths in the jail (/etc/proctor/hosts/<host>): a name
    grader.hosts did not make never gets that far."""
    from web.terminal import jailfiles
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("clusters: [{name: c, cluster: {server: 'https://x'}}]\n"
                          "users: [{name: u, user: {}}]\n")
    assert list(jailfiles.host_files(["cka000024"], kubeconfig)) == ["/etc/proctor/hosts/cka000024"]
    for bad in ("../../etc/shadow", "cka000024/../x", ""):
        with pytest.raises(ValueError, match="not a host name"):
            jailfiles.host_files([bad], kubeconfig)
