"""The parts that keep a sandbox off the host, each on its own and for real:
the egress proxy, the Landlock port rules, the cgroup limits and their reaping.

No toolchain needed: real sockets, real processes, real cgroups.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from confinement import egress, landlock
from sandbox.kwok import KwokProvider
from confinement.cgroup import Limits

MiB = 1024**2


class Server:
    """A TCP server on 127.0.0.1 that echoes and records who connected."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self._echo, args=(conn,), daemon=True).start()

    @staticmethod
    def _echo(conn):
        with conn:
            while data := conn.recv(4096):
                conn.sendall(data)


@pytest.fixture
def servers():
    made = [Server(), Server()]
    yield made
    for s in made:
        s.sock.close()


@pytest.fixture
def proxy(tmp_path, servers):
    """The egress proxy, as a sandbox runs it, allowing only servers[0]."""
    sock = tmp_path / egress.SOCKET_NAME
    proc = subprocess.Popen([sys.executable, "-I", "-S", egress.__file__, "--socket", str(sock),
                             "--allow-port", str(servers[0].port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not sock.exists():
        assert proc.poll() is None and time.monotonic() < deadline, "the proxy did not start"
        time.sleep(0.01)
    yield sock
    proc.kill()
    proc.wait()


def connect(sock_path, target: str) -> tuple[str, socket.socket]:
    c = socket.socket(socket.AF_UNIX)
    c.settimeout(10)
    c.connect(str(sock_path))
    c.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = c.recv(1)
        if not chunk:
            break
        head += chunk
    return head.decode().split("\r\n")[0], c


def test_egress_proxy_allows_only_the_kwok_port(proxy, servers):
    allowed, other = servers
    for target in (f"localhost:{allowed.port}", f"127.0.0.1:{allowed.port}",
                   f"[::1]:{allowed.port}"):
        status, c = connect(proxy, target)
        assert status.startswith("HTTP/1.1 200"), f"CONNECT {target}: {status}"
        c.sendall(b"ping")
        assert c.recv(4) == b"ping"
        c.close()
    for target in (f"127.0.0.1:{other.port}", f"localhost:{other.port}",
                   f"127.0.0.2:{allowed.port}", f"10.0.0.1:{allowed.port}",
                   f"example.com:{allowed.port}", f"localhost.:{allowed.port}",
                   f"169.254.169.254:{allowed.port}"):
        status, c = connect(proxy, target)
        c.close()
        assert status.startswith("HTTP/1.1 403"), f"CONNECT {target} was not refused: {status}"
    c = socket.socket(socket.AF_UNIX)
    c.connect(str(proxy))
    c.sendall(f"GET http://127.0.0.1:{other.port}/ HTTP/1.1\r\n\r\n".encode())
    assert c.recv(12).startswith(b"HTTP/1.1 403"), "a plain HTTP proxy request was not refused"
    c.close()
    assert other.accepted == 0, "the egress proxy connected to a port it does not allow"
    assert proxy.stat().st_mode & 0o077 == 0, "the proxy's socket is open to others"


def test_egress_selector_sends_cluster_and_controlplane_traffic_to_the_proxy(tmp_path):
    text = egress.selector_config(tmp_path / "egress.yaml").read_text()
    assert "kind: EgressSelectorConfiguration" in text
    for name in ("cluster", "controlplane"):
        assert f"- name: {name}\n  connection: {{proxyProtocol: HTTPConnect, transport: " \
               f"{{uds: {{udsName: {egress.SOCKET_NAME}}}}}}}" in text, text
    assert "etcd" not in text


@pytest.mark.skipif(bool(landlock.available()), reason=str(landlock.available()))
def test_landlock_confines_a_process_tree_to_its_ports(servers):
    allowed, other = servers
    code = f"""
import socket, subprocess, sys
def attempt(port):
    s = socket.socket()
    try:
        s.connect(("127.0.0.1", port)); return "connected"
    except OSError as e:
        return e.strerror
# and a grandchild, started after the rules, is bound by them too
child = subprocess.run([sys.executable, "-c", "import socket; socket.create_connection(('127.0.0.1', {other.port}))"], capture_output=True, text=True)
import os
try:
    os.kill({os.getpid()}, 0); signalled = "signalled"
except OSError as e:
    signalled = e.strerror
print(attempt({allowed.port}), attempt({other.port}), "Permission denied" in child.stderr,
      signalled, sep="|")
"""
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30,
                         preexec_fn=lambda: landlock.confine_tcp([allowed.port]))
    # with Landlock ABI 6 it cannot signal a process outside its domain (the test)
    want = "Operation not permitted" if landlock.abi_version() >= landlock.SCOPE_ABI else "signalled"
    assert res.stdout.strip() == f"connected|Permission denied|True|{want}", res.stdout + res.stderr
    assert other.accepted == 0, "a confined process connected to a port outside its list"


def test_cgroup_limits_bind_and_reap_removes_orphans(tmp_path):
    prov = KwokProvider(root=tmp_path)
    cg = prov.cgroup("orphan")
    cg.create(Limits(memory_bytes=64 * MiB, pids=16))
    try:
        # pids: a fork bomb stops at the limit
        bomb = ("import os, time\nstarted = refused = 0\nfor _ in range(40):\n"
                "    try:\n        pid = os.fork()\n    except OSError:\n"
                "        refused += 1\n        continue\n"
                "    if pid == 0:\n        os.close(1); os.close(2); time.sleep(600); os._exit(0)\n"
                "    started += 1\nprint(started, refused)")
        res = subprocess.run([sys.executable, "-c", bomb], preexec_fn=cg.join,
                             capture_output=True, text=True, timeout=60)
        started, refused = map(int, res.stdout.split())
        assert started < 16 and refused > 0, \
            f"{started} of 40 forks succeeded in a cgroup with pids.max=16"
        for pid in cg.pids():
            os.kill(pid, signal.SIGKILL)
        # memory: a process that takes more than the limit is killed
        res = subprocess.run([sys.executable, "-c", "b = bytearray(256 * 1024 * 1024); "
                              "b[::4096] = b'x' * len(b[::4096]); print('survived')"],
                             preexec_fn=cg.join, capture_output=True, text=True, timeout=60)
        assert "survived" not in res.stdout and res.returncode == -signal.SIGKILL, \
            f"a process used 256 MiB in a cgroup limited to 64 MiB (exit {res.returncode})"
        # an orphan (no record, no cluster) with a process still in it is reaped
        sleeper = subprocess.Popen(["sleep", "600"], preexec_fn=cg.join)
        assert "orphan" in prov.reap(older_than=3600)
        assert sleeper.wait(10) == -signal.SIGKILL
        assert not cg.exists(), "reap left an orphan sandbox cgroup"
    finally:
        cg.destroy()
