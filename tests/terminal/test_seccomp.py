"""The jail's seccomp program, loaded into a real child process (no root, no
cluster needed): what it denies fails, what a shell does still works."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from confinement import seccomp

pytestmark = pytest.mark.skipif(platform.machine() != "x86_64",
                                reason="the probe below uses x86_64 syscall numbers")

PROBE = r"""
import ctypes, errno, os, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
prog = open(sys.argv[1], "rb").read()
buf = ctypes.create_string_buffer(prog)
fprog = struct.pack("HxxxxxxQ", len(prog) // 8, ctypes.addressof(buf))
fbuf = ctypes.create_string_buffer(fprog)
assert libc.prctl(38, 1, 0, 0, 0) == 0                     # PR_SET_NO_NEW_PRIVS
assert libc.prctl(22, 2, ctypes.c_void_p(ctypes.addressof(fbuf)), 0, 0) == 0  # FILTER
def call(name, nr, *args):
    r = libc.syscall(nr, *[ctypes.c_long(a) for a in args])
    print(name, "OK" if r >= 0 else errno.errorcode.get(ctypes.get_errno()))
call("unshare", 272, 0x10000000)
call("clone-newuser", 56, 0x10000000 | 17, 0, 0, 0, 0)
call("clone3", 435, 0, 0)
call("keyctl", 250, 0, -3, 0, 0, 0)
call("ioctl-tiocsti-high-bits", 16, 0, 0x100005412, 0)
call("x32-getpid", 0x40000000 | 39)
call("getpid", 39)
pid = os.fork()
if pid == 0:
    os._exit(7)
print("fork", "OK" if os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 7 else "BROKEN")
print("exec", "OK" if os.system("true") == 0 else "BROKEN")
"""


def test_the_program_is_well_formed():
    prog = seccomp.program("x86_64")
    assert len(prog) % 8 == 0 and len(prog) // 8 < 256
    assert seccomp.program("aarch64") != prog
    with pytest.raises(seccomp.UnsupportedArch, match="riscv64"):
        seccomp.program("riscv64")


def test_a_process_under_the_filter(tmp_path):
    path = tmp_path / "prog"
    path.write_bytes(seccomp.program("x86_64"))
    res = subprocess.run([sys.executable, "-c", PROBE, str(path)], capture_output=True,
                         text=True, timeout=30)
    results = dict(line.split(" ", 1) for line in res.stdout.splitlines())
    assert results == {"unshare": "EPERM", "clone-newuser": "EPERM", "clone3": "ENOSYS",
                       "keyctl": "EPERM", "ioctl-tiocsti-high-bits": "EPERM",
                       "x32-getpid": "ENOSYS", "getpid": "OK", "fork": "OK", "exec": "OK"}, \
        res.stdout + res.stderr
