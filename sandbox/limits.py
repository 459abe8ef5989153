"""Per-sandbox resource limits: one cgroup per sandbox, plus rlimits.

Many candidates' clusters share one machine, so one candidate must not be
able to take the memory, process slots or disk of the others: a flood of
objects makes kube-apiserver's watch cache grow, a flood of requests makes
every component log. Each sandbox's processes therefore run in a cgroup of
their own (memory and pids limits, and a cpu group so the scheduler shares
the CPU per sandbox rather than per process), and with ``RLIMIT_FSIZE``
bounding every file they write. kwokctl joins the cgroup before it starts the
components (:meth:`Cgroup.join` and :func:`set_rlimits` in its ``preexec_fn``);
they inherit both.

Works on cgroup v1 (one directory per controller, like this machine) and on
cgroup v2 (one directory, controllers enabled in the root's
``cgroup.subtree_control``).

    >>> cg = Cgroup("proctor-kwok-1a2b3c4d-exam-42")
    >>> cg.create(Limits())                                  # doctest: +SKIP
    >>> subprocess.Popen(argv, preexec_fn=cg.join)           # doctest: +SKIP
    >>> cg.destroy()        # kills what is left, removes it  # doctest: +SKIP
"""

from __future__ import annotations

import os
import resource
import signal
import time
from dataclasses import dataclass
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
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


class LimitsError(OSError):
    """A cgroup could not be made or configured; ``str()`` says which and why."""


@dataclass(frozen=True)
class Limits:
    memory_bytes: int = MEMORY_LIMIT
    pids: int = PIDS_LIMIT
    file_size: int = FILE_SIZE_LIMIT


def set_rlimits(limits: Limits) -> None:
    """In a ``preexec_fn``: bound every file the process (and its children)
    writes, and write no core dumps (a core of kube-apiserver is gigabytes)."""
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_size, limits.file_size))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def cgroup_v2() -> bool:
    return (CGROUP_ROOT / "cgroup.controllers").exists()


class Cgroup:
    """One sandbox's cgroup: a directory per v1 controller, or one v2 directory."""

    V1_CONTROLLERS = ("memory", "pids", "cpu")

    def __init__(self, name: str):
        self.name = name
        if cgroup_v2():
            self.dirs = [CGROUP_ROOT / name]
        else:
            self.dirs = [CGROUP_ROOT / c / name for c in self.V1_CONTROLLERS
                         if (CGROUP_ROOT / c).is_dir()]

    # -- making it ------------------------------------------------------------
    def create(self, limits: Limits) -> None:
        """Make the cgroup (again, if it exists) and set its limits."""
        if cgroup_v2():
            self._enable_v2_controllers()
            d = self.dirs[0]
            self._mkdir(d)
            self._set(d / "memory.max", limits.memory_bytes)
            self._set(d / "memory.swap.max", 0, optional=True)
            self._set(d / "pids.max", limits.pids)
            return
        if not any(d.parent.name == "memory" for d in self.dirs):
            raise LimitsError(0, f"no memory controller mounted under {CGROUP_ROOT}")
        for d in self.dirs:
            self._mkdir(d)
            if d.parent.name == "memory":
                self._set(d / "memory.limit_in_bytes", limits.memory_bytes)
                # with swap accounting, swap must not be a way around the limit
                self._set(d / "memory.memsw.limit_in_bytes", limits.memory_bytes, optional=True)
            elif d.parent.name == "pids":
                self._set(d / "pids.max", limits.pids)

    def _enable_v2_controllers(self) -> None:
        ctl = CGROUP_ROOT / "cgroup.subtree_control"
        have = set(ctl.read_text().split())
        for c in ("memory", "pids", "cpu"):
            if c not in have:
                try:
                    ctl.write_text(f"+{c}")
                except OSError as exc:
                    if c != "cpu":
                        raise LimitsError(exc.errno, f"cannot enable the {c} controller in "
                                                     f"{ctl}: {exc.strerror}") from None

    @staticmethod
    def _mkdir(d: Path) -> None:
        try:
            d.mkdir(exist_ok=True)
        except OSError as exc:
            raise LimitsError(exc.errno, f"cannot make cgroup {d}: {exc.strerror}") from None

    @staticmethod
    def _set(path: Path, value, optional: bool = False) -> None:
        try:
            path.write_text(str(value))
        except OSError as exc:
            if optional and not path.exists():
                return
            raise LimitsError(exc.errno, f"cannot write {value} to {path}: {exc.strerror}") from None

    # -- joining it -------------------------------------------------------------
    def join(self, pid: int = 0) -> None:
        """Move ``pid`` (0: the calling process) into the cgroup; children follow."""
        for d in self.dirs:
            (d / "cgroup.procs").write_text(str(pid or os.getpid()))


    @classmethod
    def find(cls, prefix: str) -> list["Cgroup"]:
        """Every cgroup on the machine whose name starts with ``prefix``."""
        parents = [CGROUP_ROOT] if cgroup_v2() else \
            [CGROUP_ROOT / c for c in cls.V1_CONTROLLERS if (CGROUP_ROOT / c).is_dir()]
        names = set()
        for parent in parents:
            try:
                names |= {d.name for d in parent.iterdir() if d.is_dir() and d.name.startswith(prefix)}
            except OSError:
                pass
        return [cls(n) for n in sorted(names)]

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

    # -- removing it ----------------------------------------------------------------
    def destroy(self, timeout: float = 10.0) -> None:
        """Kill every process left in the cgroup, then remove it."""
        deadline = time.monotonic() + timeout
        while True:
            left = self.pids()
            if not left:
                break
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            if time.monotonic() > deadline:
                break
            time.sleep(0.02)
        for d in self.dirs:
            # A killed task leaves its cgroup a moment after it dies.
            while d.is_dir():
                try:
                    d.rmdir()
                except FileNotFoundError:
                    break
                except OSError as exc:
                    if time.monotonic() > deadline:
                        raise LimitsError(exc.errno, f"cannot remove cgroup {d}: "
                                                     f"{exc.strerror}") from None
                    time.sleep(0.02)
