"""`ssh node01` in the candidate's jailed terminal, against real VM nodes.

The jail has loopback only, no SSH key and no ssh client of its own; each
node is a Unix socket whose host side runs the provider's fixed command
(OpenSSH with the sandbox's key to that node's 127.0.0.1 forward)."""

from __future__ import annotations

import os
import subprocess

import pytest

from confinement.jail import Jail
from web.terminal import jail_spec

pytestmark = [pytest.mark.vm,
              pytest.mark.skipif(os.geteuid() != 0, reason="the jail is set up by root")]


@pytest.fixture(scope="module")
def two(vm):
    name = f"vm2-{os.getpid()}"
    sb = vm.create(name, nodes=2)
    yield sb
    vm.destroy(name)


@pytest.fixture
def jail(tmp_path, vm, two):
    j = Jail(jail_spec(two, 4343, node_shells={n: vm.node_shell(two, n) for n in two.nodes}),
             tmp_path / "jails")
    j.prepare()
    yield j
    j.destroy()


def run(jail: Jail, script: str, timeout: float = 180) -> tuple[int, str]:
    p = jail.spawn(["bash", "-c", script], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out, _ = p.communicate(timeout=timeout)
    return p.returncode, out.decode()


def test_ssh_reaches_the_vm_as_root_and_nothing_else(jail, vm, two):
    key = vm._record_dir(two.name) / "id_ed25519"
    rc, out = run(jail, "id -un; kubectl get nodes -o name | wc -l; "
                        "ssh node01 'hostname; id -u; systemctl is-active kubelet; "
                        "cat /sys/class/dmi/id/sys_vendor; ip -4 -o addr show eth1'; "
                        f"ls {key} 2>&1; ssh node09 true; echo rc=$?")
    lines = [line.strip() for line in out.splitlines()]
    assert lines[0] == "candidate" and lines[1] == "2", out
    assert lines[2:6] == ["node01", "0", "active", "QEMU"], out
    assert "10.10.0.11/24" in lines[6], out
    assert "No such file or directory" in lines[7], "the jail sees the sandbox's SSH key"
    assert "Could not resolve hostname node09" in out and "controlplane, node01" in out
    assert lines[-1] == "rc=1"


def test_a_command_with_quotes_arrives_as_typed(jail):
    rc, out = run(jail, """ssh controlplane sh -c "'echo \\"a  b\\"; echo \\$(hostname)'" """)
    assert out.splitlines()[-2:] == ["a  b", "controlplane"], out


def test_a_node_shell_is_interactive(jail):
    """With a terminal: a login shell on the node with the exam prompt and size."""
    rc, out = run(jail, "(sleep 8; printf 'stty size; hostname\\n'; sleep 4; printf 'exit\\n') | "
                        "script -qec 'stty rows 33 cols 101; ssh node01' /dev/null")
    assert "33 101" in out and "node01" in out, out
