"""The host side of kwok sandboxes: one create at a time, free ports, and
processes that must be gone before a sandbox is.

kwokctl's components are plain host processes bound to 127.0.0.1; these are
the small things a provider of such processes needs, kept apart from the
provider's own steps.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import tempfile
import time
from pathlib import Path

import psutil


@contextlib.contextmanager
def machine_lock():
    """An exclusive lock shared by every Proctor process on this machine.

    As root it lives in /run/proctor, which only root can write: a lock in the
    world-writable temporary folder could be held by any local user to block
    every create (or be a link planted there)."""
    if os.geteuid() == 0:
        folder = Path("/run/proctor")
        folder.mkdir(mode=0o755, exist_ok=True)
    else:
        folder = Path(tempfile.gettempdir())
    fd = os.open(folder / f"kwokctl-create-{os.geteuid()}.lock",
                 os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def free_ports(count: int) -> list[int]:
    """Ports free on 127.0.0.1 now (bound together, so all different)."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def wait_gone(procs: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Wait until every process has exited; returns those still alive. A zombie
    counts as gone: the components are orphans, and when init reaps them is
    up to init (a second or two on some hosts). Our own children (the egress
    proxy) are reaped here."""
    deadline = time.monotonic() + timeout
    alive = list(procs)
    while alive:
        still = []
        for p in alive:
            try:
                p.wait(timeout=0)  # reaps it if it is our child and has exited
            except psutil.TimeoutExpired:
                try:
                    if p.status() != psutil.STATUS_ZOMBIE:
                        still.append(p)
                except psutil.NoSuchProcess:
                    pass
            except psutil.NoSuchProcess:
                pass
        alive = still
        if not alive or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    return alive


def listening_ports(procs: list[psutil.Process]) -> set[int]:
    ports = set()
    for p in procs:
        try:
            ports |= {c.laddr.port for c in p.net_connections(kind="inet")
                      if c.status == psutil.CONN_LISTEN}
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return ports
