"""A host per task in a real jail on a real kwok cluster: the terminal opens on
the base host with no cluster; ``ssh <host>`` gives a shell with the host's
name, a home of its own and the cluster; ``exit`` comes back; nodes are
reached from a task's host only."""

from __future__ import annotations

import os

import pytest


from .test_jail_tools import Screen

pytestmark = [pytest.mark.cluster,
              pytest.mark.skipif(os.geteuid() != 0, reason="the jail is set up by root")]

HOSTS = ["cka000024", "cka000031"]


@pytest.fixture
def shell(open_shell):
    return open_shell(33, "hosts", nodes=2, hosts=HOSTS,
                      node_shells={"node01": ["env", "-i", "PATH=/usr/bin:/bin"]})


def test_ssh_to_a_task_host_and_back(shell):
    s = Screen(shell)
    banner = s.expect("candidate@exam", timeout=120)
    assert "This is the base host, with no cluster" in banner
    # the base host: no cluster, no kubeconfig; an alias of its own
    out = s.run("kubectl get ns 2>&1 | tail -1; ls ~/.kube 2>&1; alias base-only=true")
    assert "kube-system" not in out and "No such file or directory" in out, out
    out = s.run("ssh node01 hostname 2>&1")
    assert "this is the base host; the hosts are cka000024, cka000031" in out, out

    # a task's host: its name, its cluster, its own home without the base's alias
    shell.write(b"ssh cka000024\r")
    banner = s.expect("candidate@cka000024", timeout=60)
    assert "Host cka000024: kubectl reaches this task's cluster" in banner, banner
    out = s.run("hostname; echo $HOME; kubectl get ns kube-system -o name; "
                "alias base-only 2>&1 | tail -1; echo on-host > mine.txt")
    lines = [line.rsplit("\r", 1)[-1] for line in out.split("\r\n")]  # after ESC[?2004l\r
    for line in ("cka000024", "/home/candidate/.hosts/cka000024", "namespace/kube-system",
                 "bash: alias: base-only: not found"):
        assert line in lines, (line, out)
    # the nodes are reached from here (node01's "shell" is a host command here)
    assert os.uname().nodename in s.run("ssh node01 hostname 2>/dev/null").split()
    shell.write(b"exit\r")
    s.expect("candidate@exam", timeout=30)
    out = s.run("cat mine.txt 2>&1; echo $PROCTOR_HOST; kubectl get ns 2>&1 | tail -1")
    assert "No such file or directory" in out and "kube-system" not in out, out

    # one command on the other host, as `ssh host command` does
    out = s.run("ssh cka000031 'hostname; kubectl config current-context'")
    assert "cka000031\r\nexam" in out, out


@pytest.fixture
def two_clusters_shell(open_shell):
    return open_shell(34, "hosts-one", more=["hosts-two"], hosts=HOSTS,
                      host_clusters={HOSTS[0]: 0, HOSTS[1]: 1})


def test_each_host_reaches_its_own_cluster(two_clusters_shell):
    """Two hosts on two clusters: what one host creates, the other does not see."""
    s = Screen(two_clusters_shell)
    s.expect("candidate@exam", timeout=120)
    out = s.run(f"ssh {HOSTS[0]} 'kubectl create namespace made-on-one' 2>&1")
    assert "namespace/made-on-one created" in out, out
    out = s.run(f"ssh {HOSTS[1]} 'kubectl get namespace made-on-one' 2>&1")
    assert 'namespaces "made-on-one" not found' in out, out
    out = s.run(f"ssh {HOSTS[0]} 'kubectl get namespace made-on-one -o name' 2>&1")
    assert "namespace/made-on-one" in out, out
    out = s.run(f"ssh {HOSTS[1]} 'kubectl config view --minify "
                "-o jsonpath={.clusters[0].cluster.server}'")
    assert "https://127.0.0.1:6444" in out, out
