"""The exam's tools still work in the hardened jail (seccomp, private /tmp,
disk image, relays as the candidate): driven through a real pty, as the
browser terminal drives them."""

from __future__ import annotations

import os
import queue
import signal
import time

import psutil
import pytest

from web.terminal.shells import Shell

pytestmark = [pytest.mark.cluster,
              pytest.mark.skipif(os.geteuid() != 0, reason="the jail is set up by root")]


@pytest.fixture
def shell(open_shell):
    # node01's "node shell" is a plain host shell here (kind's is `docker exec`):
    # enough to prove the relay from the jail's `ssh` to the host and back
    return open_shell(31, "tools", nodes=2,
                      node_shells={"node01": ["env", "-i", "PATH=/usr/bin:/bin"]})


class Screen:
    def __init__(self, shell: Shell):
        self.shell = shell
        backlog, self.q = shell.attach()
        self.text = backlog.decode(errors="replace")

    def expect(self, marker: str, timeout: float = 30) -> str:
        """Wait until ``marker`` is on the screen; return what came before it."""
        deadline = time.monotonic() + timeout
        while marker not in self.text:
            try:
                data = self.q.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                data = b""
            if data is None or time.monotonic() > deadline:
                raise AssertionError(f"{marker!r} never appeared; the screen:\n{self.text[-3000:]}")
            self.text += data.decode(errors="replace")
        before, _, self.text = self.text.partition(marker)
        return before

    def run(self, command: str, timeout: float = 30) -> str:
        """Type ``command``; return its output (up to an end marker it prints)."""
        self.shell.write(f"{command}; echo END-$((40+2))\r".encode())
        self.expect("END-$((40+2))", timeout)  # the echo of what was typed
        return self.expect("END-42", timeout)


def running(shell: Shell, cmdline: list[str]) -> bool:
    for pid in shell.jail.processes():
        try:
            if psutil.Process(pid).cmdline() == cmdline:
                return True
        except psutil.Error:
            pass
    return False


def test_kubectl_vim_nano_less_python_ssh_and_job_control_work(shell):
    s = Screen(shell)
    s.expect("candidate@exam")
    assert "node/node01" in s.run("k get nodes -o name"), "kubectl (alias k)"
    s.run("vim -es -c 'normal ihello from vim' -c 'wq' ~/v.txt")
    assert "hello from vim" in s.run("cat ~/v.txt"), "vim"
    assert "GNU nano" in s.run("nano --version"), "nano"
    assert "localhost exam" in s.run("less -FX /etc/hosts"), "less"
    assert "42" in s.run("python3 -c 'print(6 * 7)'"), "python3"
    out = s.run("ssh node01 hostname 2>/dev/null")
    assert os.uname().nodename in out.split(), \
        f"ssh node01 did not reach its node's shell command through the relay: {out}"
    assert "Could not resolve hostname node09" in s.run("ssh node09 true"), "ssh to no node"
    # etcd as on the exam: TLS through the tunnel, kubeadm's certificate files
    pki = "/etc/kubernetes/pki/etcd"
    out = s.run(f"etcdctl --endpoints https://127.0.0.1:2379 --cacert {pki}/ca.crt "
                f"--cert {pki}/server.crt --key {pki}/server.key snapshot save /tmp/e.db 2>&1")
    assert "Snapshot saved at /tmp/e.db" in out, f"etcdctl snapshot save through its tunnel: {out}"
    # job control: a background job, then Ctrl-C of a foreground one
    out = s.run("sleep 300 & jobs")
    assert "Running" in out and "sleep 300" in out, f"bash job control: {out}"
    s.expect("candidate@exam")  # the prompt after that command
    ctrl_c_ends_the_foreground_job(shell, s)
    s.run("kill %1; wait")
    assert not running(shell, ["sleep", "300"]), "kill %1 did not end the background job"


def ctrl_c_ends_the_foreground_job(shell: Shell, s: Screen) -> None:
    shell.write(b"sleep 301\r")
    deadline = time.monotonic() + 30
    while not running(shell, ["sleep", "301"]) and time.monotonic() < deadline:
        time.sleep(0.02)
    shell.write(b"\x03")
    s.expect("candidate@exam")  # Ctrl-C reached the foreground job: the prompt is back
    assert not running(shell, ["sleep", "301"]), "Ctrl-C did not end the foreground job"


@pytest.fixture
def shell_of_a_background_portal(open_shell):
    """A shell started by a portal that ignores SIGINT and SIGQUIT, as one
    started in the background by a non-interactive shell does."""
    saved = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGQUIT)}
    try:
        yield open_shell(32, "tools-bg")
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def test_ctrl_c_works_however_the_portal_was_started(shell_of_a_background_portal):
    shell = shell_of_a_background_portal
    s = Screen(shell)
    s.expect("candidate@exam", timeout=120)
    ctrl_c_ends_the_foreground_job(shell, s)


def test_helm_installs_a_chart_into_the_candidates_cluster(shell):
    """helm is in the exam shell, with completion; no repository needed: a chart
    made with `helm create` installs into the candidate's own cluster (kwok: the
    release is deployed, its pods are simulated)."""
    s = Screen(shell)
    assert 'Version:"v3.' in s.run("helm version")
    assert "complete -o default -F __start_helm helm" in s.run("complete -p helm")
    s.run("cd /tmp && helm create mychart >/dev/null")
    out = s.run("helm install web ./mychart --namespace default 2>&1; "
                "helm list -o json; kubectl get deploy -l app.kubernetes.io/instance=web -o name",
                timeout=90)
    assert "STATUS: deployed" in out and '"status":"deployed"' in out, out
    assert "deployment.apps/web-mychart" in out, out
