"""`ssh node01` in the candidate's jailed terminal, against real kind nodes.

The jail still has loopback only and no Docker socket; the node shell comes
through a per-node Unix socket whose host side runs a fixed `docker exec`.
"""

from __future__ import annotations

import os
import subprocess

import pytest

from confinement.jail import Jail
from web.terminal import jail_spec

pytestmark = [pytest.mark.nodes,
              pytest.mark.skipif(os.geteuid() != 0, reason="the jail is set up by root")]


@pytest.fixture
def jail(tmp_path, kind, kind_cluster):
    sb = kind_cluster
    j = Jail(jail_spec(sb, 4242, unjoined=["node02"],  # banner only: node02 is joined here
                       node_shells={n: kind.node_shell(sb, n) for n in sb.nodes}),
             tmp_path / "jails")
    j.prepare()
    yield j
    j.destroy()


def run(jail: Jail, script: str, timeout: float = 90) -> tuple[int, str]:
    p = jail.spawn(["bash", "-c", script], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out, _ = p.communicate(timeout=timeout)
    return p.returncode, out.decode()


def test_ssh_reaches_each_node_as_root_and_nothing_else(jail):
    rc, out = run(jail, "id -un; kubectl get nodes -o name | wc -l; "
                        "ssh node01 'hostname; id -u; systemctl is-active kubelet'; "
                        "ssh root@controlplane cat /etc/kubernetes/manifests/etcd.yaml | grep -c etcd; "
                        "ls /var/run/docker.sock 2>&1; ssh node09 true; echo rc=$?")
    lines = [line.strip() for line in out.splitlines()]
    assert lines[0] == "candidate" and lines[1] == "3", out
    assert lines[2:5] == ["node01", "0", "active"], out
    assert int(lines[5]) > 0, out
    assert "No such file or directory" in lines[6], "the jail sees the Docker socket"
    assert "Could not resolve hostname node09" in out and "controlplane, node01, node02" in out
    assert lines[-1] == "rc=1"


def test_the_banner_names_the_nodes_and_which_is_not_joined(jail):
    rc, out = run(jail, "grep -o 'Nodes: [^\\\\]*' /etc/bash.bashrc")
    assert out.strip() == "Nodes: controlplane, node01, node02 (not joined)", out


def test_a_node_shell_is_interactive(jail):
    """With a terminal: a login shell on the node with the exam prompt and size."""
    # typed after the prompt is up, as a person would
    rc, out = run(jail, "(sleep 4; printf 'stty size; hostname\\n'; sleep 2; printf 'exit\\n') | "
                        "script -qec 'stty rows 33 cols 101; ssh node02' /dev/null")
    assert "33 101" in out and "node02" in out, out
