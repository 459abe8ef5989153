"""Start one more program inside a running jail (a terminal tab after the first).

Run as root by ``jail.Jail.enter`` on the host's Python, as a file (like
``nodeshell.py``), with its instructions as JSON in ``$PROCTOR_ENTER``:

    {"pidfd": 5, "root": 6, "seccomp": 7, "argv": ["/usr/bin/setpriv", …], "env": {…}}

``pidfd`` refers to the jail's first process (bubblewrap's pid 1 there),
``root`` is its root directory opened from ``/proc``, ``seccomp`` the jail's
filter (``seccomp.program_fd``). It joins that process's mount, pid, network,
ipc, uts and cgroup namespaces in one ``setns`` (Linux 5.8+), takes its root,
forks (joining a pid namespace only counts for children), and the child loads
the seccomp filter and executes ``argv`` (``setpriv`` dropping to the
candidate, as in bubblewrap's own start) with exactly ``env``. The parent
stays on the host side to pass SIGHUP/SIGTERM on and to exit with the child's
status; the child dies with it (``PR_SET_PDEATHSIG``).
"""

import ctypes
import json
import os
import select
import signal
import sys
import time
from pathlib import Path

ENV = "PROCTOR_ENTER"
CLONE_NEWNS, CLONE_NEWCGROUP, CLONE_NEWUTS = 0x00020000, 0x02000000, 0x04000000
CLONE_NEWIPC, CLONE_NEWPID, CLONE_NEWNET = 0x08000000, 0x20000000, 0x40000000
NAMESPACES = (CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID
              | CLONE_NEWNET)
PR_SET_PDEATHSIG, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 1, 22, 2


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def _fail(what: str) -> None:
    err = ctypes.get_errno()
    sys.stderr.write(f"proctor: cannot enter the jail: {what}: {os.strerror(err)}\r\n")
    os._exit(126)


def _read_all(fd: int) -> bytes:
    data = b""
    while chunk := os.read(fd, 65536):
        data += chunk
    return data


def main() -> None:
    spec = json.loads(os.environ.pop(ENV))
    libc = ctypes.CDLL(None, use_errno=True)
    program = _read_all(spec["seccomp"])
    if libc.setns(spec["pidfd"], NAMESPACES) != 0:
        _fail("setns")
    os.fchdir(spec["root"])
    os.chroot(".")
    os.chdir("/")
    for fd in (spec["pidfd"], spec["root"], spec["seccomp"]):
        os.close(fd)
    child = os.fork()
    if child == 0:
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        buf = ctypes.create_string_buffer(program, len(program))
        prog = SockFprog(len(program) // 8, ctypes.cast(buf, ctypes.c_void_p))
        if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
            _fail("seccomp")
        os.execve(spec["argv"][0], spec["argv"], spec["env"])
    # The terminal's hangup (its tab closed) and the portal's TERM go to the
    # shell, which passes them on to its jobs.
    for sig in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda s, _f: os.kill(child, s))
    devnull = os.open("/dev/null", os.O_RDWR)
    for fd in (0, 1, 2):  # hold no end of the pty: the shell's exit is its end
        os.dup2(devnull, fd)
    while True:
        try:
            _, status = os.waitpid(child, 0)
            break
        except ChildProcessError:
            os._exit(0)
    os._exit(os.waitstatus_to_exitcode(status) & 0xFF)


# -- for the portal's side (jail.Jail.start and .enter) --------------------------------

def read_until(fd: int, end: bytes, timeout: float = 15) -> bytes:
    """What ``fd`` gives until ``end``, EOF or ``timeout`` seconds."""
    data, deadline = b"", time.monotonic() + timeout
    while end not in data:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            break
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
    return data


def pid_of(pidfd: int) -> int:
    """The pid a pidfd refers to (its ``Pid:`` line in /proc/self/fdinfo)."""
    for line in Path(f"/proc/self/fdinfo/{pidfd}").read_text().splitlines():
        if line.startswith("Pid:"):
            return int(line.split()[1])
    raise OSError("the kernel does not say which process a pidfd is (Linux 5.8+ needed)")


if __name__ == "__main__":
    main()
