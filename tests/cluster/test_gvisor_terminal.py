"""The candidate's jailed terminal on a gvisor sandbox: `ssh node01` reaches
the real node (crictl, the kubelet's files), `ssh controlplane` says why not,
and `kubectl exec -it` / `run --rm -it` work with a terminal, as typed in the
browser's."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from confinement.jail import Jail
from web.terminal import jail_spec

pytestmark = [pytest.mark.cluster, pytest.mark.containers,
              pytest.mark.skipif(os.geteuid() != 0, reason="the jail is set up by root")]


@pytest.fixture
def jail(tmp_path, gvisor, shared_gvisor):
    sb = shared_gvisor
    shells = {n: gvisor.node_shell(sb, n) for n in sb.nodes}
    j = Jail(jail_spec(sb, 4243, node_shells={n: a for n, a in shells.items() if a},
                       prefix=f"g{os.getpid()}-"),
             tmp_path / "jails")
    j.prepare()
    yield j
    j.destroy()


def run(jail: Jail, script: str, timeout: float = 120) -> str:
    p = jail.spawn(["bash", "-c", script], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out, _ = p.communicate(timeout=timeout)
    return out.decode(errors="replace")


def test_ssh_node01_is_the_real_node_and_controlplane_says_it_is_simulated(jail):
    out = run(jail, "ssh node01 'hostname; id -u; crictl ps -q | wc -l; "
                    "test -f /var/lib/kubelet/proctor-config.yaml && echo config'; "
                    "ssh controlplane true; echo rc=$?; ssh node09 true")
    lines = [line.strip() for line in out.splitlines()]
    assert lines[:2] == ["node01", "0"], out
    assert int(lines[2]) >= 1, f"no containers on node01 (CoreDNS runs there): {out}"
    assert lines[3] == "config", out
    assert "controlplane is simulated in this cluster" in out and "node01" in out, out
    assert "rc=1" in out, out
    assert "Could not resolve hostname node09" in out and "controlplane" in out, out


def test_exec_and_run_with_a_terminal(jail):
    """What the candidate types: a tty from `script`, as the browser's pty."""
    out = run(jail, "kubectl create namespace tty-t >/dev/null; "
                    "kubectl -n tty-t run sh --image=busybox:1.35 -- sleep 3600 >/dev/null; "
                    "kubectl -n tty-t wait --for=condition=Ready pod/sh --timeout=90s >/dev/null; "
                    "script -qec 'kubectl -n tty-t exec -it sh -- sh -c \"test -t 0 && echo TTY-IN-POD; "
                    "hostname\"' /dev/null; "
                    "script -qec 'kubectl -n tty-t run once --rm -it --restart=Never "
                    "--image=busybox:1.35 -- echo ONE-SHOT' /dev/null; "
                    "kubectl -n tty-t get pod once 2>&1; "
                    "kubectl delete namespace tty-t --wait=false >/dev/null", timeout=240)
    assert "TTY-IN-POD" in out and "\nsh" in out.replace("\r", ""), out
    assert "ONE-SHOT" in out, out
    assert 'pods "once" not found' in out, f"--rm left the pod: {out}"


def test_ssh_node01_is_interactive(jail):
    """With a terminal: a root shell on the node, with the terminal's size."""
    out = run(jail, "(sleep 4; printf 'stty size; hostname; test -t 0 && echo TTY-ON-NODE\\n'; sleep 3; printf 'exit\\n') | "
                    "script -qec 'stty rows 33 cols 101; ssh node01' /dev/null")
    assert "33 101" in out and "node01" in out and "TTY-ON-NODE" in out, out


def test_proctor_sandbox_ssh_finds_the_gvisor_sandbox_without_p(kwok_root, shared_gvisor):
    """`proctor sandbox ssh NAME node01 -- CMD` as an instructor trying a task,
    without naming the provider; a simulated node says which nodes are real."""
    exe = Path(sys.executable).parent / "proctor"
    env = {**os.environ, "PROCTOR_STATE_DIR": str(kwok_root)}
    res = subprocess.run([str(exe), "sandbox", "ssh", shared_gvisor.name, "node01", "--",
                          "cat", "/etc/hostname"], capture_output=True, text=True, env=env,
                         timeout=60)
    assert res.returncode == 0 and res.stdout.strip() == "node01", res.stderr
    res = subprocess.run([str(exe), "sandbox", "ssh", shared_gvisor.name, "controlplane"],
                         capture_output=True, text=True, env=env, timeout=60)
    assert res.returncode == 2, res
    assert (f"controlplane is simulated in gvisor sandbox {shared_gvisor.name} and has no "
            "shell; its real nodes are node01") in res.stderr
