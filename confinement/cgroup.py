"""Cgroups and rlimits: what one sandbox, one grading or one candidate's
jail may take of the machine.

Many candidates' clusters share one machine, so one candidate must not be
able to take the memory, process slots or disk of the others: a flood of
objects makes kube-apiserver's watch cache grow, a fork bomb in a shell
takes every process slot. Each of them therefore runs in a cgroup of its own
(memory and pids limits; a cpu group, so that the scheduler shares the CPU
per cgroup rather than per process, with a quota where ``cpu_percent`` is
set) and under rlimits (``RLIMIT_FSIZE`` bounds every file it writes).
Processes join in their ``preexec_fn`` (:meth:`Cgroup.join`,
:func:`set_rlimits`); their children inherit both.

One class for the three users (``sandbox.kwok``'s components,
``grader.room``'s gradings, ``confinement.jail``'s shells), on cgroup v1
(one directory per controller, like this machine) and on v2 (one directory,
controllers enabled in the root's ``cgroup.subtree_control``).

    >>> cg = Cgroup("proctor-kwok-1a2b3c4d-exam-42")
    >>> cg.create(Limits())                                  # doctest: +SKIP
    >>> subprocess.Popen(argv, preexec_fn=cg.join)           # doctest: +SKIP
    >>> cg.destroy()        # kills what is left, removes it  # doctest: +SKIP
"""

from __future__ import annotations

import errno
import os
import resource
import signal
import time
from dataclasses import dataclass
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
V1_CONTROLLERS = ("memory", "pids", "cpu")
MiB = 1024**2

# Measured on a 2-core machine (bench/sandbox_start.py): an idle 3-node kwok
# sandbox is charged ~230-460 MB (cgroup / sum of resident sets) and runs ~45
# threads (every thread counts against pids.max), ~60 under the attack tests.
# 1 GiB leaves room for a busy exam; a candidate who floods their own cluster
# past it gets an OOM-killed component in their own cluster (the sandbox turns
# unhealthy), not a slow machine for everyone.
MEMORY_LIMIT = 1024 * MiB
PIDS_LIMIT = 512
# Bounds every file a component writes (its log, etcd's db and WAL files):
# above etcd's quota (sandbox.kwok.ETCD_QUOTA) with room for bbolt's growth.
FILE_SIZE_LIMIT = 1024 * MiB
# A sandbox's share of the CPU when it is short, against 100 for the portal,
# the candidates' shells and gradings: a cohort's clusters starting at once
# must not make everyone's typing wait (bench/load.py, 30 candidates: a
# keystroke's echo p95 71-73 ms at 100, 21-29 ms at 25).
SANDBOX_CPU_WEIGHT = 25


class CgroupError(OSError):
    """A cgroup could not be made, configured or removed; ``str()`` says which and why."""


@dataclass(frozen=True)
class Limits:
    memory_bytes: int = MEMORY_LIMIT
    pids: int = PIDS_LIMIT
    file_size: int = FILE_SIZE_LIMIT
    cpu_percent: int | None = None   # of one core; None: a fair share, no quota
    # the group's share of the CPU when the CPU is short, against 100 for any
    # other process or group (cgroup v2's cpu.weight; v1's cpu.shares is 10.24 x)
    cpu_weight: int | None = None


def cpu_shares(weight: int) -> int:
    """cgroup v1's ``cpu.shares`` (and Docker's ``--cpu-shares``) for a v2
    ``cpu.weight``: 100 is 1024."""
    return max(2, weight * 1024 // 100)


def set_rlimits(limits: Limits) -> None:
    """In a ``preexec_fn``: bound every file the process (and its children)
    writes, and write no core dumps (a core of kube-apiserver is gigabytes)."""
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_size, limits.file_size))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def cgroup_v2() -> bool:
    return (CGROUP_ROOT / "cgroup.controllers").exists()


def _parents() -> list[Path]:
    """Where cgroups are made: the v2 root, or each mounted v1 controller."""
    if cgroup_v2():
        return [CGROUP_ROOT]
    return [CGROUP_ROOT / c for c in V1_CONTROLLERS if (CGROUP_ROOT / c).is_dir()]


class Cgroup:
    """One cgroup: a directory per v1 controller, or one v2 directory."""

    def __init__(self, name: str):
        self.name = name
        self.dirs = [parent / name for parent in _parents()]

    @classmethod
    def find(cls, prefix: str) -> list["Cgroup"]:
        """Every cgroup on the machine whose name starts with ``prefix``."""
        names = set()
        for parent in _parents():
            try:
                names |= {d.name for d in parent.iterdir() if d.is_dir() and d.name.startswith(prefix)}
            except OSError:
                pass
        return [cls(n) for n in sorted(names)]

    # -- making it ------------------------------------------------------------
    def create(self, limits: Limits, empty_first: bool = False) -> None:
        """Make the cgroup (or reuse it) and set its limits; ``empty_first``
        kills what a previous user of the same name left in it."""
        if empty_first:
            self.kill()
        if cgroup_v2():
            _enable_v2_controllers()
            d = self.dirs[0]
            _mkdir(d)
            _set(d / "memory.max", limits.memory_bytes)
            # swap must not be a way around the limit (where swap is accounted)
            _set(d / "memory.swap.max", 0, optional=True)
            _set(d / "pids.max", limits.pids)
            if limits.cpu_percent is not None:
                _set(d / "cpu.max", f"{1000 * limits.cpu_percent} 100000", optional=True)
            if limits.cpu_weight is not None:
                _set(d / "cpu.weight", limits.cpu_weight, optional=True)
            return
        if not any(d.parent.name == "memory" for d in self.dirs):
            raise CgroupError(0, f"no memory controller mounted under {CGROUP_ROOT}")
        for d in self.dirs:
            _mkdir(d)
            if d.parent.name == "memory":
                # with swap accounting, swap must not be a way around the limit;
                # v1 keeps memory <= memory+swap at every step, so a limit
                # that goes down is lowered first, one that goes up raised last
                mem, memsw = d / "memory.limit_in_bytes", d / "memory.memsw.limit_in_bytes"
                lowering = _read_int(mem, default=0) > limits.memory_bytes
                for f in ((mem, memsw) if lowering else (memsw, mem)):
                    _set(f, limits.memory_bytes, optional=f is memsw)
            elif d.parent.name == "pids":
                _set(d / "pids.max", limits.pids)
            elif d.parent.name == "cpu":
                if limits.cpu_percent is not None:
                    # CPU bandwidth is a kernel option
                    _set(d / "cpu.cfs_period_us", 100000, optional=True)
                    _set(d / "cpu.cfs_quota_us", 1000 * limits.cpu_percent, optional=True)
                if limits.cpu_weight is not None:
                    _set(d / "cpu.shares", cpu_shares(limits.cpu_weight), optional=True)

    # -- joining it -------------------------------------------------------------
    def join(self, pid: int = 0) -> None:
        """Move ``pid`` (0: the calling process) into the cgroup; children follow."""
        for d in self.dirs:
            (d / "cgroup.procs").write_text(str(pid or os.getpid()))

    # -- reading it ---------------------------------------------------------------
    def exists(self) -> bool:
        return any(d.is_dir() for d in self.dirs)

    def pids(self) -> set[int]:
        found: set[int] = set()
        for d in self.dirs:
            try:
                found |= {int(p) for p in (d / "cgroup.procs").read_text().split()}
            except OSError:
                pass
        return found

    def memory_bytes(self) -> int | None:
        """Memory charged to the cgroup now (page cache included)."""
        for d in self.dirs:
            for f in ("memory.current", "memory.usage_in_bytes"):
                try:
                    return int((d / f).read_text())
                except OSError:
                    continue
        return None

    # -- emptying and removing it ---------------------------------------------------
    def kill(self, timeout: float = 10.0) -> bool:
        """SIGKILL everything inside until nothing is left; True when empty.
        A fork bomb races the kill, so it repeats until the count reaches 0."""
        deadline = time.monotonic() + timeout
        while True:
            left = self.pids()
            if not left:
                return True
            if time.monotonic() > deadline:
                return False
            for d in self.dirs:
                try:
                    (d / "cgroup.kill").write_text("1")  # v2, since Linux 5.14
                except OSError:
                    pass
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.02)

    def remove(self, timeout: float = 10.0) -> list[Path]:
        """Kill what is inside, then remove every directory (a task that was
        just killed keeps it busy for a moment: retried until ``timeout``);
        returns the directories that remain."""
        deadline = time.monotonic() + timeout
        self.kill(timeout)
        left = [d for d in self.dirs if d.is_dir()]
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

    def destroy(self, timeout: float = 10.0) -> None:
        """``remove``, and a CgroupError naming what could not be removed."""
        left = self.remove(timeout)
        if left:
            raise CgroupError(errno.EBUSY, f"cannot remove cgroup {', '.join(map(str, left))}: "
                                           "a process in it would not die")


def sweep(prefix: str, pattern) -> list[str]:
    """Remove the empty cgroups whose name starts with ``prefix`` and matches
    ``pattern`` (a compiled regex), left by a crash; busy ones are left
    alone. Returns the names removed."""
    removed = set()
    for cg in Cgroup.find(prefix):
        if not pattern.match(cg.name):
            continue
        for d in cg.dirs:
            try:
                d.rmdir()
                removed.add(cg.name)
            except OSError:
                pass
    return sorted(removed)


def _enable_v2_controllers() -> None:
    """cgroup v2: limits in a child need the controllers enabled in the root
    (memory and pids are required; cpu is a fair share, nice to have)."""
    ctl = CGROUP_ROOT / "cgroup.subtree_control"
    have = set(ctl.read_text().split())
    for c in ("memory", "pids", "cpu"):
        if c not in have:
            try:
                ctl.write_text(f"+{c}")
            except OSError as exc:
                if c != "cpu":
                    raise CgroupError(exc.errno, f"cannot enable the {c} controller in "
                                                 f"{ctl}: {exc.strerror}") from None


def _read_int(path: Path, default: int) -> int:
    try:
        return int(path.read_text())
    except (OSError, ValueError):
        return default


def _mkdir(d: Path) -> None:
    try:
        d.mkdir(exist_ok=True)
    except OSError as exc:
        raise CgroupError(exc.errno, f"cannot make cgroup {d}: {exc.strerror}") from None


def _set(path: Path, value, optional: bool = False) -> None:
    try:
        path.write_text(str(value))
    except OSError as exc:
        if optional and not path.exists():
            return
        raise CgroupError(exc.errno, f"cannot write {value} to {path}: {exc.strerror}") from None
