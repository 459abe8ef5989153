"""The cgroup of one attempt's jail: memory, process-count and CPU limits.

On cgroup v2 it is one directory; on v1 one per controller (memory, pids,
cpu). The name comes from ``grader.identity.cgroup_name(prefix, attempt)``,
so two portals on one machine never share one. Everything the attempt runs
on the host joins it: the jail and the host ends of its tunnels, so a
candidate who opens connections in a loop spends their own process budget.

A cgroup is removed when its shell stops. One left by a crash (the portal
killed, the machine rebooted mid-way) is emptied and reused by the next
shell of that attempt, and ``sweep`` removes the empty ones of a portal when
it starts.
"""

from __future__ import annotations

import errno
import os
import re
import signal
import time
from pathlib import Path

BASE = Path("/sys/fs/cgroup")
V1_CONTROLLERS = ("memory", "pids", "cpu")
OPTIONAL = {"memory.swap.max", "cpu.max", "cpu.cfs_period_us", "cpu.cfs_quota_us"}


def v2() -> bool:
    return (BASE / "cgroup.controllers").exists()


def paths(name: str) -> list[Path]:
    """The directories of cgroup ``name``: one on v2, one per controller on v1."""
    if v2():
        return [BASE / name]
    return [BASE / c / name for c in V1_CONTROLLERS if (BASE / c).is_dir()]


class CgroupError(Exception):
    """A cgroup could not be made or limited; the message names it."""


class Cgroup:
    def __init__(self, name: str, memory_mb: int, max_pids: int, cpu_percent: int):
        self.name = name
        self.memory_mb, self.max_pids, self.cpu_percent = memory_mb, max_pids, cpu_percent
        self.dirs: list[Path] = []

    def make(self, empty_first: bool = True) -> None:
        """Create (or reuse) the cgroup and write its limits; ``empty_first``
        kills what a previous shell of the attempt left in it."""
        self.dirs = paths(self.name)
        if empty_first:
            self.kill()
        mem = self.memory_mb * 1024 ** 2
        quota = 1000 * self.cpu_percent
        if v2():
            _enable_controllers(BASE)
            limits = {"memory.max": mem, "memory.swap.max": 0, "pids.max": self.max_pids,
                      "cpu.max": f"{quota} 100000"}
        else:
            limits = {"memory.limit_in_bytes": mem, "pids.max": self.max_pids,
                      "cpu.cfs_period_us": 100000, "cpu.cfs_quota_us": quota}
        for d in self.dirs:
            try:
                d.mkdir(exist_ok=True)
                for f, v in limits.items():
                    if not v2() and f.split(".")[0] != d.parent.name:
                        continue  # v1: each controller's files in its own hierarchy
                    # swap accounting and CPU bandwidth are kernel options; the
                    # memory and pids limits are not optional
                    if (d / f).exists() or f not in OPTIONAL:
                        (d / f).write_text(str(v))
            except OSError as exc:
                raise CgroupError(f"cannot set limits in {d}: {exc}") from None

    def join(self, pid: int | None = None) -> None:
        """Move ``pid`` (default: the calling process) into every directory."""
        for d in self.dirs:
            (d / "cgroup.procs").write_text(str(pid or os.getpid()))

    def processes(self) -> list[int]:
        pids: set[int] = set()
        for d in self.dirs:
            try:
                pids |= {int(p) for p in (d / "cgroup.procs").read_text().split()}
            except OSError:
                pass
        return sorted(pids)

    def kill(self, timeout: float = 10) -> bool:
        """SIGKILL everything inside until nothing is left; True when empty.
        A fork bomb races the kill, so it repeats until the count reaches 0."""
        deadline = time.monotonic() + timeout
        while True:
            pids = self.processes()
            if not pids:
                return True
            if time.monotonic() > deadline:
                return False
            for d in self.dirs:
                if (d / "cgroup.kill").exists():
                    try:
                        (d / "cgroup.kill").write_text("1")
                    except OSError:
                        pass
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.02)

    def remove(self, timeout: float = 5) -> list[Path]:
        """Kill what is inside, then rmdir every directory (a dying task keeps
        it busy for a moment: retried until ``timeout``); returns what remains."""
        self.kill()
        deadline = time.monotonic() + timeout
        left = [d for d in self.dirs if d.exists()]
        while left:
            for d in list(left):
                try:
                    d.rmdir()
                    left.remove(d)
                except FileNotFoundError:
                    left.remove(d)
                except OSError as exc:
                    if exc.errno != errno.EBUSY or time.monotonic() > deadline:
                        return left
            if left:
                time.sleep(0.02)
        return []


def _enable_controllers(parent: Path) -> None:
    """cgroup v2: limits in a child need the controllers enabled in the parent."""
    try:
        wanted = set((parent / "cgroup.controllers").read_text().split()) & {
            "memory", "pids", "cpu"}
        enabled = set((parent / "cgroup.subtree_control").read_text().split())
        if wanted - enabled:
            (parent / "cgroup.subtree_control").write_text(
                " ".join("+" + c for c in sorted(wanted - enabled)))
    except OSError:
        pass  # the limits below then fail with a message that names the file


def sweep(prefix: str) -> list[str]:
    """Remove the empty cgroups of this portal's attempts (``proctor-<prefix>a<N>``),
    left by a crash; busy ones are left alone. Returns the names removed."""
    pattern = re.compile(rf"^proctor-{re.escape(prefix)}a\d+$")
    parents = [BASE] if v2() else [BASE / c for c in V1_CONTROLLERS]
    removed = set()
    for parent in parents:
        try:
            children = [d for d in parent.iterdir() if d.is_dir() and pattern.match(d.name)]
        except OSError:
            continue
        for d in children:
            try:
                d.rmdir()
                removed.add(d.name)
            except OSError:
                pass
    return sorted(removed)
