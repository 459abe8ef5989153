"""Escapes from the candidate's jail, tried for real and refused.

These run bubblewrap for real (as root, like the portal) against real kwok
sandboxes: the jail must reach its own API server and nothing else.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from confinement.jail import Jail
from web.terminal import jail_spec

pytestmark = [pytest.mark.cluster,
              pytest.mark.skipif(os.geteuid() != 0, reason="the jail is set up by root")]


@pytest.fixture(scope="module")
def two_sandboxes(kwok):
    a = kwok.create("jail-a", nodes=2)
    b = kwok.create("jail-b", nodes=1)
    yield a, b
    kwok.destroy("jail-a")
    kwok.destroy("jail-b")


@pytest.fixture
def jails(tmp_path, two_sandboxes, jail_prefix):
    a, b = two_sandboxes
    made = []

    def make(sb, attempt, **limits):
        j = Jail(jail_spec(sb, attempt, prefix=jail_prefix, **limits), tmp_path / "jails")
        j.prepare()
        made.append(j)
        return j

    yield make
    for j in made:
        j.destroy()


# etcd's certificates in the jail, where kubeadm keeps them (and the exam's commands name them)
ETCD_TLS = ("--cacert /etc/kubernetes/pki/etcd/ca.crt --cert /etc/kubernetes/pki/etcd/server.crt "
            "--key /etc/kubernetes/pki/etcd/server.key")


def run(jail: Jail, script: str, timeout: float = 60) -> tuple[int, str]:
    p = jail.spawn(["bash", "-c", script], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out, _ = p.communicate(timeout=timeout)
    return p.returncode, out.decode()


def test_the_jail_reaches_its_own_cluster_as_an_unprivileged_candidate(jails, two_sandboxes):
    a, _ = two_sandboxes
    jail = jails(a, 101)
    rc, out = run(jail, "id -un; grep CapEff /proc/self/status; kubectl get nodes -o name; "
                        "kubectl config view -o jsonpath='{.clusters[0].cluster.server}'; echo; "
                        f"etcdctl {ETCD_TLS} endpoint health 2>&1 | tail -1; "
                        "echo 42 > /opt/answers/q1.txt; "
                        f"etcdctl --endpoints={a.etcd_endpoint} {ETCD_TLS} endpoint health 2>&1 "
                        "| tail -1")
    assert rc == 0, out
    lines = out.splitlines()
    assert lines[0] == "candidate"
    assert lines[1].split()[1] == "0000000000000000", "the shell has capabilities"
    assert lines[2:4] == ["node/controlplane", "node/node01"]
    assert lines[4] == "https://127.0.0.1:6443"
    assert "is healthy" in lines[5]
    # the endpoint a task's setup recorded from the host side works inside too
    assert "is healthy" in lines[6] and a.etcd_endpoint.removeprefix("https://") in lines[6]
    # the grader reads answer files from the sandbox's workspace
    assert (a.workspace / "answers" / "q1.txt").read_text() == "42\n"


def test_portal_files_task_bank_and_other_attempts_are_invisible(jails, two_sandboxes, tmp_path):
    a, b = two_sandboxes
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "proctor.sqlite").write_text("secret")
    other = jails(b, 202)
    jail = jails(a, 201)
    repo = Path(__file__).resolve().parents[2]
    targets = [instance / "proctor.sqlite", b.kubeconfig, other.home / ".kube" / "config",
               repo / "tasks", repo / "web", Path.home(), Path("/root"), Path("/proc/1/root/etc")]
    tasks = sorted((repo / "tasks").glob("*/*/solution"))
    if tasks:
        targets += [tasks[0], tasks[0].with_name("checks.py")]
    script = "; ".join(f"cat {t} >/dev/null 2>&1 && echo LEAK {t}; ls {t} >/dev/null 2>&1 && echo "
                       f"LEAK {t}" for t in targets)
    rc, out = run(jail, script + "; true")
    assert "LEAK" not in out, out


def test_host_processes_are_invisible(jails, two_sandboxes):
    rc, out = run(jails(two_sandboxes[0], 301), "ps -eo comm --no-headers")
    names = out.split()
    assert "kube-apiserver" not in names and "etcd" not in names and "python3" not in names
    assert len(names) < 10, names


def test_nothing_outside_the_workspace_is_writable(jails, two_sandboxes):
    rc, out = run(jails(two_sandboxes[0], 401), "for d in / /usr /usr/local/bin /etc /opt "
                  "/home /run/proctor; do touch $d/x 2>/dev/null && echo WROTE $d; done; "
                  "echo mine > ~/notes.txt && echo home-ok; echo t > /tmp/jail-tmp-marker")
    assert "WROTE" not in out, out
    assert "home-ok" in out
    assert not Path("/tmp/jail-tmp-marker").exists(), "the jail's /tmp is the host's"


def test_other_sandboxes_and_host_services_are_unreachable(jails, two_sandboxes):
    a, b = two_sandboxes
    b_api = int(b.api_url.rsplit(":", 1)[1])
    b_etcd = int(b.etcd_endpoint.rsplit(":", 1)[1])
    script = "; ".join(f"(exec 3<>/dev/tcp/127.0.0.1/{p}) 2>/dev/null && echo OPEN {p}"
                       for p in (b_api, b_etcd, 22, 8000, 2375))
    rc, out = run(jails(a, 501), script + "; true")
    assert "OPEN" not in out, out
    # and the other cluster's API through the tunnel is simply ours, not theirs
    rc, out = run(jails(a, 502), f"kubectl --server https://127.0.0.1:{b_api} get nodes 2>&1")
    assert rc != 0


def test_a_fork_bomb_stays_inside_and_dies_with_the_jail(jails, two_sandboxes):
    jail = jails(two_sandboxes[0], 601, max_pids=64)
    p = jail.spawn(["bash", "-c", "bomb() { bomb | bomb & }; bomb; sleep 30"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(3)
    inside = jail.processes()
    assert 0 < len(inside) <= 64, f"{len(inside)} processes in the jail"
    bomb = [proc for proc in map(_process, inside) if proc is not None]
    # the host still forks freely
    assert subprocess.run(["true"]).returncode == 0
    jail.stop()
    p.wait(10)
    # the same processes, not others that took their pids since (pid_max may
    # be 32768, which a fork bomb and a busy host go through in seconds)
    assert not [proc.pid for proc in bomb if _running(proc)]


def _process(pid: int) -> psutil.Process | None:
    try:
        return psutil.Process(pid)
    except psutil.NoSuchProcess:
        return None


def _running(proc: psutil.Process) -> bool:
    """Still running, not a zombie; psutil compares the creation time too."""
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_memory_is_limited(jails, two_sandboxes):
    jail = jails(two_sandboxes[0], 701, memory_mb=128)
    rc, out = run(jail, "python3 -c \"b = bytearray(512 * 1024 * 1024); print('ALLOCATED')\"")
    assert "ALLOCATED" not in out and rc != 0, (rc, out)
