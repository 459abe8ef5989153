"""What keeps a kwok sandbox's processes to themselves: its cgroup (memory,
processes), rlimits, Landlock (its own TCP ports only) and the API server's
egress proxy (``confinement.egress``). See docs/security.md, "The cluster cannot
be turned against the host".
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

from confinement import egress, landlock
from confinement.cgroup import Cgroup, CgroupError, Limits, set_rlimits

from ..base import CreateFailed


def confinement(cgroup: Cgroup, limits: Limits, record: dict):
    """Make the sandbox's cgroup; return ``confine(ports)``, which gives a
    ``preexec_fn`` that puts a process into that cgroup, sets its rlimits
    and confines it (and what it starts) to ``ports``.

    What this kernel cannot do is written to ``record["confinement"]``,
    not raised: the API server's egress rules hold without it.
    """
    notes: dict = {}
    try:
        cgroup.create(limits)
        notes["cgroup"] = {"dirs": [str(d) for d in cgroup.dirs],
                           "memory_bytes": limits.memory_bytes,
                           "pids": limits.pids}
    except CgroupError as exc:
        cgroup = None
        notes["cgroup"] = f"unavailable: {exc}"
    why_not = landlock.available()
    notes["landlock"] = "tcp: own ports only" if why_not is None else f"unavailable: {why_not}"
    notes["file_size_bytes"] = limits.file_size
    record["confinement"] = notes

    def confine(ports, file_size: int | None = None):
        """``file_size`` replaces the limits' (``resource.RLIM_INFINITY``: none)."""
        ports = list(ports)
        own = limits if file_size is None else replace(limits, file_size=file_size)

        def preexec():
            if cgroup is not None:
                cgroup.join()
            set_rlimits(own)
            if why_not is None:
                landlock.confine_tcp(ports)
        return preexec
    return confine

def start_egress(name: str, cluster: Path, kwok_port: int, confine, log: Path,
                 routes: dict[str, str] | None = None) -> None:
    """Start the API server's egress proxy (confinement.egress), confined like
    the components and allowed to reach only the kwok-controller (and, with
    ``routes``, ``{cidr: dial socket}``, the dialers of the sandbox's boxes)."""
    sock = cluster / egress.SOCKET_NAME
    boxes = [arg for cidr, dial in (routes or {}).items() for arg in ("--box", f"{cidr}={dial}")]
    with (cluster / "logs" / "egress.log").open("a") as out:
        proc = subprocess.Popen(
            [sys.executable, "-I", "-S", egress.__file__, "--socket", str(sock),
             "--allow-port", str(kwok_port), *boxes],
            stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True,
            preexec_fn=confine([kwok_port]))
    _wait_for(sock, proc, f"the egress proxy of sandbox {name!r}",
              cluster / "logs" / "egress.log", log)


def start_relay(sock: Path, port: int, confine, out_log: Path, log: Path) -> None:
    """Relay the Unix socket ``sock`` (root's, 0600) to ``port`` on the host's
    loopback, and nowhere else: socat, confined like the components (its
    Landlock rules allow that one port)."""
    sock.unlink(missing_ok=True)
    with out_log.open("a") as out:
        proc = subprocess.Popen(
            ["socat", f"UNIX-LISTEN:{sock},fork,mode=0600,unlink-early",
             f"TCP:127.0.0.1:{port}"],
            stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True,
            preexec_fn=confine([port]))
    _wait_for(sock, proc, f"the relay {sock.name} to port {port}", out_log, log)


def _wait_for(sock: Path, proc: subprocess.Popen, what: str, out_log: Path, log: Path) -> None:
    deadline = time.monotonic() + 10
    while not sock.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise CreateFailed(f"{what} did not start (see {out_log})", log)
        time.sleep(0.01)
