"""The host ends of a jail's tunnels.

Inside the jail, 127.0.0.1:6443 (and etcd's ports) lead to Unix sockets in
the jail's ``/run/proctor``; here, socat listens on each and relays to *this*
sandbox's port on the host's loopback, one child per connection, as the
candidate's uid and in the jail's cgroup (at most 32 at once). For sandboxes
with real nodes, ``nodes/<node>.sock`` runs the provider's fixed shell
command for that node on a fresh pty (``nodeshell``), as root: it talks to
Docker or SSH, and the candidate chooses only what runs inside the node.

``JailError`` and ``tool`` live here, the lowest module of the jail, and
``jail`` re-exports the error.
"""

from __future__ import annotations

import ctypes
import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from . import nodeshell
from .jailfiles import api_sock


class JailError(Exception):
    """The jail could not be set up; the message says which part and why."""


def tool(name: str, package: str) -> str:
    """The path of a host tool the jail needs, or a JailError naming its package."""
    path = shutil.which(name)
    if not path:
        raise JailError(f"{name} is not installed; the bootstrap installs Debian's "
                        f"'{package}' package")
    return path


def start(spec, run_dir: Path, cgroup) -> list[subprocess.Popen]:
    """Start the relays of ``spec``'s jail into ``run_dir``; returns them once
    every socket is there."""
    procs: list[subprocess.Popen] = []
    uid = spec.uid
    targets = {api_sock(i): host_port(yaml.safe_load(kc.read_text())["clusters"][0]
                                      ["cluster"]["server"])
               for i, kc in enumerate([spec.kubeconfig, *spec.more_kubeconfigs])}
    if spec.etcd_endpoint:
        targets["etcd.sock"] = host_port(spec.etcd_endpoint)
    for sock, (host, port) in targets.items():
        procs.append(_relay(run_dir, cgroup, uid,
                            f"{sock},fork,max-children=32,setgid={uid},setuid={uid}",
                            f"TCP:{host}:{port}"))
    socks = list(targets)
    nodes_dir = run_dir / "nodes"
    shutil.rmtree(nodes_dir, ignore_errors=True)
    if spec.node_shells:
        nodes_dir.mkdir(mode=0o755)
    for node, argv in spec.node_shells.items():
        sock = f"nodes/{node}.sock"
        host = " ".join([sys.executable, nodeshell.__file__, node])
        procs.append(_relay(run_dir, cgroup, uid, f"{sock},fork,max-children=8",
                            f"EXEC:{host},pty,setsid,ctty,raw,echo=0,stderr",
                            env={nodeshell.ARGV_ENV: json.dumps(argv)}))
        socks.append(sock)
    for node in spec.nodes if spec.node_shells else ():
        if node not in spec.node_shells:  # `ssh controlplane` on gvisor: say why not
            (nodes_dir / f"{node}.simulated").touch(mode=0o644)
    deadline = time.monotonic() + 5
    while not all((run_dir / s).exists() for s in socks):
        if time.monotonic() > deadline:
            raise JailError(f"tunnel sockets did not appear in {run_dir}")
        time.sleep(0.01)
    return procs


def _relay(run_dir: Path, cgroup, uid: int, listen: str, remote: str,
           env: dict[str, str] | None = None) -> subprocess.Popen:
    """socat from the Unix socket ``run_dir/<listen>`` (owned by the jail's
    uid) to ``remote``, in the jail's cgroup. It runs in run_dir with a
    relative path: a socket path is limited to 107 bytes."""
    sock = listen.split(",", 1)[0]
    (run_dir / sock).unlink(missing_ok=True)

    def preexec():
        die_with_parent()
        cgroup.join()

    return subprocess.Popen(
        [tool("socat", "socat"), f"UNIX-LISTEN:{listen},mode=0600,user={uid}", remote], cwd=run_dir,
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True, preexec_fn=preexec, env={"PATH": "/usr/bin:/bin", **(env or {})})


def die_with_parent(sig: int = signal.SIGTERM) -> None:
    """The process ends when the portal does (shells are forked from a thread
    that lives as long as the process, so the 'parent died' signal means it)."""
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, sig)


def host_port(url: str) -> tuple[str, int]:
    """``("127.0.0.1", 6443)`` of a URL on this machine's loopback; anything
    else is refused (a tunnel never leads off the host's loopback)."""
    hostport = url.split("://", 1)[-1].split("/", 1)[0]
    host, _, port = hostport.rpartition(":")
    if host not in ("127.0.0.1", "localhost"):
        raise JailError(f"tunnel target {url} is not on this machine's loopback")
    return host, int(port)
