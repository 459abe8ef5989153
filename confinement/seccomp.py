"""The seccomp filter of the candidate's shell: what a shell never needs, denied.

bubblewrap loads a classic BPF program from a file descriptor (``--seccomp
FD``) and applies it, with ``no_new_privs``, just before it runs the jail's
command; every process of the jail inherits it and none can remove it. The
program is written here by hand (libseccomp's Python binding is a Debian
package the virtual environment cannot import), about as small as such a
filter gets. It denies, with ``EPERM``:

* new namespaces: ``unshare``, ``setns``, and ``clone`` with any
  ``CLONE_NEW*`` flag. ``clone3`` passes its flags in memory, which a filter
  cannot read, so it answers ``ENOSYS``: glibc and Go then fall back to
  ``clone``, whose flags are checked. A user namespace would otherwise hand
  the candidate a root that can mount, and the kernel's attack surface that
  comes with it;
* mounting: ``mount``, ``umount2``, ``pivot_root``, ``chroot`` and the new
  mount API (``open_tree``, ``move_mount``, ``fsopen``, ``fsconfig``,
  ``fsmount``, ``fspick``, ``mount_setattr``, ``open_tree_attr``);
* the kernel keyring (``keyctl``, ``add_key``, ``request_key``), ``bpf``,
  ``perf_event_open``, ``userfaultfd``, ``io_uring_*`` (its operations never
  pass through seccomp), module and kexec loading, ``syslog``, swap, quota,
  reboot, accounting, file handles and ``fanotify``;
* ``ptrace`` and its relatives (``process_vm_readv``/``writev``,
  ``pidfd_getfd``): a shell never needs them and strace is not installed;
* ``ioctl(TIOCSTI)`` and ``ioctl(TIOCLINUX)``, which push keystrokes into a
  terminal's input.

A system call of another ABI (i386 through ``int 0x80``, arm32) kills the
process; x32 calls on x86_64 answer ``ENOSYS``.

    >>> prog = program("x86_64")
    >>> len(prog) % 8, len(prog) // 8 < 100
    (0, True)
"""

from __future__ import annotations

import errno
import os
import platform
import struct

# seccomp return values
RET_KILL_PROCESS = 0x80000000
RET_ERRNO = 0x00050000
RET_ALLOW = 0x7FFF0000

# classic BPF opcodes (linux/filter.h)
LD_W_ABS = 0x20      # BPF_LD | BPF_W | BPF_ABS
JEQ_K = 0x15         # BPF_JMP | BPF_JEQ | BPF_K
JGE_K = 0x35         # BPF_JMP | BPF_JGE | BPF_K
JSET_K = 0x45        # BPF_JMP | BPF_JSET | BPF_K
RET_K = 0x06         # BPF_RET | BPF_K

# struct seccomp_data { int nr; u32 arch; u64 ip; u64 args[6]; }, little endian:
# the low 32 bits of args[i] are at 16 + 8 * i
OFF_NR, OFF_ARCH = 0, 4
OFF_ARG0, OFF_ARG1 = 16, 24

CLONE_NEW = (0x00000080    # CLONE_NEWTIME
             | 0x00020000  # CLONE_NEWNS
             | 0x02000000  # CLONE_NEWCGROUP
             | 0x04000000  # CLONE_NEWUTS
             | 0x08000000  # CLONE_NEWIPC
             | 0x10000000  # CLONE_NEWUSER
             | 0x20000000  # CLONE_NEWPID
             | 0x40000000)  # CLONE_NEWNET
TIOCSTI, TIOCLINUX = 0x5412, 0x541C
X32_SYSCALL_BIT = 0x40000000

# name -> number, from the kernel's syscall tables (x86_64: arch/x86/entry/
# syscalls/syscall_64.tbl; aarch64: include/uapi/asm-generic/unistd.h).
# Calls numbered 403 and above have one number on every architecture.
_COMMON_NEW = {"io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
               "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431,
               "fsmount": 432, "fspick": 433, "clone3": 435, "pidfd_getfd": 438,
               "mount_setattr": 442, "quotactl_fd": 443, "open_tree_attr": 467}
SYSCALLS = {
    "x86_64": {"ioctl": 16, "clone": 56, "ptrace": 101, "syslog": 103, "uselib": 134,
               "pivot_root": 155, "_sysctl": 156, "chroot": 161, "acct": 163, "mount": 165,
               "umount2": 166, "swapon": 167, "swapoff": 168, "reboot": 169, "iopl": 172,
               "ioperm": 173, "create_module": 174, "init_module": 175, "delete_module": 176,
               "quotactl": 179, "lookup_dcookie": 212, "kexec_load": 246, "add_key": 248,
               "request_key": 249, "keyctl": 250, "unshare": 272, "perf_event_open": 298,
               "fanotify_init": 300, "name_to_handle_at": 303, "open_by_handle_at": 304,
               "setns": 308, "process_vm_readv": 310, "process_vm_writev": 311,
               "finit_module": 313, "kexec_file_load": 320, "bpf": 321, "userfaultfd": 323,
               **_COMMON_NEW},
    "aarch64": {"lookup_dcookie": 18, "ioctl": 29, "umount2": 39, "mount": 40,
                "pivot_root": 41, "chroot": 51, "quotactl": 60, "acct": 89, "unshare": 97,
                "kexec_load": 104, "init_module": 105, "delete_module": 106, "syslog": 116,
                "ptrace": 117, "reboot": 142, "add_key": 217, "request_key": 218,
                "keyctl": 219, "clone": 220, "swapon": 224, "swapoff": 225,
                "perf_event_open": 241, "fanotify_init": 262, "name_to_handle_at": 264,
                "open_by_handle_at": 265, "setns": 268, "process_vm_readv": 270,
                "process_vm_writev": 271, "finit_module": 273, "bpf": 280, "userfaultfd": 282,
                "kexec_file_load": 294, **_COMMON_NEW},
}
AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}

# Denied outright (EPERM). clone, clone3 and ioctl are judged by their arguments.
DENIED = (
    "unshare", "setns",
    "mount", "umount2", "pivot_root", "chroot", "open_tree", "move_mount", "fsopen",
    "fsconfig", "fsmount", "fspick", "mount_setattr", "open_tree_attr",
    "keyctl", "add_key", "request_key",
    "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd",
    "bpf", "perf_event_open", "userfaultfd", "io_uring_setup", "io_uring_enter",
    "io_uring_register",
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
    "create_module", "uselib", "_sysctl", "iopl", "ioperm",
    "syslog", "swapon", "swapoff", "reboot", "acct", "quotactl", "quotactl_fd",
    "lookup_dcookie", "name_to_handle_at", "open_by_handle_at", "fanotify_init",
)


class UnsupportedArch(Exception):
    """No syscall table for this machine; the message names it."""


def _assemble(code: list[tuple]) -> bytes:
    """``(op, jt, jf, k)`` rows, where jt/jf may name a label (a ``str`` row)."""
    labels, rows = {}, []
    for item in code:
        if isinstance(item, str):
            labels[item] = len(rows)
        else:
            rows.append(item)
    out = bytearray()
    for i, (op, jt, jf, k) in enumerate(rows):
        jumps = [labels[j] - i - 1 if isinstance(j, str) else j for j in (jt, jf)]
        if not all(0 <= j <= 255 for j in jumps):
            raise ValueError(f"jump out of range at instruction {i}: {jumps}")
        out += struct.pack("<HBBI", op, jumps[0], jumps[1], k)
    return bytes(out)


def program(machine: str | None = None) -> bytes:
    """The filter for ``machine`` (default: this one) as bytes for ``--seccomp FD``."""
    machine = machine or platform.machine()
    if machine not in SYSCALLS:
        raise UnsupportedArch(f"no seccomp syscall table for {machine!r} "
                              f"(known: {', '.join(SYSCALLS)})")
    nr = SYSCALLS[machine]
    code: list = [
        (LD_W_ABS, 0, 0, OFF_ARCH),
        (JEQ_K, 1, 0, AUDIT_ARCH[machine]),
        (RET_K, 0, 0, RET_KILL_PROCESS),
        (LD_W_ABS, 0, 0, OFF_NR),
    ]
    if machine == "x86_64":
        code.append((JGE_K, "enosys", 0, X32_SYSCALL_BIT))
    code += [
        (JEQ_K, "clone", 0, nr["clone"]),
        (JEQ_K, "enosys", 0, nr["clone3"]),
        (JEQ_K, "ioctl", 0, nr["ioctl"]),
    ]
    code += [(JEQ_K, "eperm", 0, nr[name]) for name in DENIED if name in nr]
    code += [
        (RET_K, 0, 0, RET_ALLOW),
        "clone",
        (LD_W_ABS, 0, 0, OFF_ARG0),
        (JSET_K, "eperm", 0, CLONE_NEW),
        (RET_K, 0, 0, RET_ALLOW),
        "ioctl",
        (LD_W_ABS, 0, 0, OFF_ARG1),
        (JEQ_K, "eperm", 0, TIOCSTI),
        (JEQ_K, "eperm", 0, TIOCLINUX),
        (RET_K, 0, 0, RET_ALLOW),
        "eperm",
        (RET_K, 0, 0, RET_ERRNO | errno.EPERM),
        "enosys",
        (RET_K, 0, 0, RET_ERRNO | errno.ENOSYS),
    ]
    return _assemble(code)


def program_fd(machine: str | None = None) -> int:
    """A memfd holding ``program()``, positioned at its start (bwrap reads it)."""
    fd = os.memfd_create("proctor-seccomp", 0)
    os.write(fd, program(machine))
    os.lseek(fd, 0, os.SEEK_SET)
    return fd
