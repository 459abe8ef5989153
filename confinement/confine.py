"""Confine a process before it runs a task's code against a candidate's cluster.

A task's ``setup``, ``solution`` and ``checks.py`` read what a candidate
made: objects in their cluster, files in their answers folder. They must do
it as nobody in particular. ``enter(spec)``, called by root in a fresh child
process, gives that process:

* a mount namespace of its own whose root is an empty tmpfs holding only
  what ``spec`` lists: the system's ``/usr``, the Python that runs the
  grader, the toolchain, the grading folder, the attempt's answers folder and
  the task files it needs (never a solution while the candidate could still
  use it, never the instance folder, the state folder or another sandbox);
* a ``/proc`` that shows only its own processes (``hidepid``);
* the sandbox's grader uid and gid (``confinement.identity.grader_uid``), no
  supplementary groups, no capabilities, ``no_new_privs``, and rlimits.

Only the standard library is used: ``python confine.py SPEC.json -- ARGV…``
confines itself, then execs ARGV (how scripts are started), and the grading
fork server calls ``enter`` in the child it forks.

The spec is a plain dict (JSON)::

    {"uid": 3141592653, "root": "/tmp/proctor-grade-x/.root", "cwd": "/tmp/proctor-grade-x",
     "ro": ["/usr", …], "rw": ["/tmp/proctor-grade-x"], "hide": ["/…/task/solution"],
     "files": {"/etc/passwd": "…"}, "rlimits": {"nproc": 1024},
     "cgroup": ["/sys/fs/cgroup/memory/proctor-grade-x", …]}
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import sys

CLONE_NEWNS = 0x00020000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 0x1, 0x2, 0x4, 0x8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 0x20, 0x1000, 0x4000, 0x40000
PR_SET_NO_NEW_PRIVS = 38

# What every confined process sees of the system, read-only.
SYSTEM = ["/usr", "/etc/alternatives", "/etc/ld.so.cache", "/etc/localtime",
          "/etc/nsswitch.conf", "/etc/hosts", "/etc/ssl/certs", "/etc/bash.bashrc",
          "/etc/profile",
          "/etc/ssl/openssl.cnf"]  # `openssl req` in a task's setup reads it (public, no keys)
DEVICES = ["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom"]
# Enough for pytest with the kubernetes client and kubectl; not enough for a candidate
# who fills their cluster with big objects to push the host into swapping.
RLIMITS = {"nproc": 1024, "fsize": 1 << 30, "core": 0, "nofile": 4096, "data": 2 << 30}

_libc = ctypes.CDLL(None, use_errno=True)


class ConfineError(OSError):
    """The confinement could not be made; the message names the step."""


def available() -> bool:
    """Only root can confine (and only root needs to)."""
    return os.geteuid() == 0


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise ConfineError(err, f"{what}: {os.strerror(err)}")


def _mount(src: str | None, dst: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    enc = lambda v: v.encode() if v is not None else None  # noqa: E731
    _check(_libc.mount(enc(src), enc(dst), enc(fstype), ctypes.c_ulong(flags), enc(data)),
           f"mount {src or fstype} on {dst}")


def _make(target: str, like: str) -> None:
    """An empty directory or file at ``target`` (in the new root) to mount ``like`` on."""
    os.makedirs(os.path.dirname(target), mode=0o755, exist_ok=True)
    if os.path.isdir(like):
        os.makedirs(target, mode=0o755, exist_ok=True)
    elif not os.path.exists(target):
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT, 0o644))


def _bind(root: str, path: str, writable: bool) -> None:
    target = root + path
    _make(target, path)
    _mount(path, target, None, MS_BIND)   # not recursive: nothing mounted below comes along
    flags = MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NODEV | (0 if writable else MS_RDONLY)
    _mount(None, target, None, flags)


def _system_links(root: str) -> None:
    """``/bin``, ``/lib`` … as on the host (links into /usr on a merged-/usr system)."""
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        host = "/" + name
        if os.path.islink(host):
            os.symlink(os.readlink(host), root + host)
        elif os.path.isdir(host):
            _bind(root, host, writable=False)


def enter(spec: dict) -> None:
    """Confine the calling process (root, single-threaded) as ``spec`` says."""
    root = spec["root"]
    uid = int(spec["uid"])
    gid = int(spec.get("gid", uid))
    for directory in spec.get("cgroup", ()):  # first: what follows is charged to it
        with open(os.path.join(directory, "cgroup.procs"), "w") as fh:
            fh.write(str(os.getpid()))
    _check(_libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)   # nothing we mount leaks back to the host
    _mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=8m")
    _system_links(root)
    os.makedirs(root + "/tmp")   # first: the grading folder may be bound inside it
    _mount("tmpfs", root + "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=64m")
    binds = [(p, False) for p in SYSTEM + list(spec.get("ro", ()))]
    binds += [(p, True) for p in spec.get("rw", ())]
    # parents before children, so a folder's bind does not hide a file bound inside it
    for path, writable in sorted(binds, key=lambda b: b[0].rstrip("/").count("/")):
        if os.path.lexists(path):
            _bind(root, os.path.normpath(path), writable)
    for path in spec.get("hide", ()):
        target = root + os.path.normpath(path)
        if os.path.isdir(target):
            _mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV | MS_RDONLY, "size=4k,mode=0555")
        elif os.path.exists(target):
            _mount("/dev/null", target, None, MS_BIND)
    for dev in DEVICES:
        _make(root + dev, dev)
        _mount(dev, root + dev, None, MS_BIND)
    os.makedirs(root + "/proc", mode=0o555, exist_ok=True)
    for option in ("hidepid=invisible", "hidepid=2"):   # per-mount since Linux 5.8
        try:
            _mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, option)
            break
        except ConfineError:
            continue
    files = {"/etc/passwd": f"root:x:0:0:root:/root:/usr/sbin/nologin\n"
                            f"grader:x:{uid}:{gid}:grader:/tmp:/usr/sbin/nologin\n",
             "/etc/group": f"root:x:0:\ngrader:x:{gid}:\n", **spec.get("files", {})}
    for path, text in files.items():
        os.makedirs(os.path.dirname(root + path), mode=0o755, exist_ok=True)
        with open(root + path, "w") as fh:
            fh.write(text)
    os.chdir(root)
    os.chroot(".")
    os.chdir(spec.get("cwd") or "/")
    # Drop everything: groups, then gid, then uid (which clears the capabilities).
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")
    for name, value in {**RLIMITS, **spec.get("rlimits", {})}.items():
        limit = getattr(resource, f"RLIMIT_{name.upper()}")
        soft, hard = resource.getrlimit(limit)
        value = min(value, hard) if hard != resource.RLIM_INFINITY else value
        resource.setrlimit(limit, (value, value))
    os.umask(0o022)


def main(argv: list[str]) -> None:
    """``confine.py SPEC.json -- ARGV…``: confine, then exec ARGV."""
    if len(argv) < 3 or argv[1] != "--":
        sys.exit("usage: confine.py SPEC.json -- COMMAND [ARG…]")
    with open(argv[0]) as fh:
        spec = json.load(fh)
    try:
        enter(spec)
    except OSError as exc:
        sys.exit(f"proctor: cannot confine {argv[2]}: {exc}")
    try:
        os.execve(argv[2], argv[2:], dict(os.environ))
    except OSError as exc:
        sys.exit(f"proctor: cannot run {argv[2]}: {exc.strerror}")


if __name__ == "__main__":
    main(sys.argv[1:])
