"""Confine a process tree to its own TCP ports with Landlock (Linux 6.7+).

A sandbox's processes (etcd, kube-apiserver, kube-controller-manager,
kube-scheduler, kwok-controller) serve a candidate who has cluster-admin and
raw etcd access, so every address they can be told to dial is hostile: a
node's kubelet port, a webhook URL, an etcd learner's peer URL. Landlock lets
an unprivileged process give up, for itself and every process it starts, the
right to ``connect()`` or ``bind()`` any TCP port not on a list. The kernel
enforces it, nothing in the cluster can undo it, and it is inherited across
fork and exec, so calling :func:`confine_tcp` just before exec'ing kwokctl
confines every component kwokctl starts.

Landlock's network rules name ports, not addresses; the ports are the
sandbox's own, which no other process on the machine can be listening on
while the sandbox is alive. Where the kernel is older (no Landlock ABI 4),
:func:`available` says why and the caller decides; the API server's own
egress rules (``confinement.egress``) still hold there.

    >>> abi_version() >= 4                       # doctest: +SKIP
    True
    >>> confine_tcp([6443, 2379])                # in a child, before exec  # doctest: +SKIP
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import struct

# Generic syscall numbers (the same on x86_64 and arm64).
_SYS_CREATE_RULESET, _SYS_ADD_RULE, _SYS_RESTRICT_SELF = 444, 445, 446
_CREATE_RULESET_VERSION = 1 << 0
_RULE_NET_PORT = 2
ACCESS_NET_BIND_TCP = 1 << 0
ACCESS_NET_CONNECT_TCP = 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0  # ABI 6: no abstract socket outside the domain
SCOPE_SIGNAL = 1 << 1                # ABI 6: no signal to a process outside the domain
_PR_SET_NO_NEW_PRIVS = 38
NET_ABI = 4     # first ABI with TCP bind/connect rules
SCOPE_ABI = 6   # first ABI with scopes

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.syscall.restype = ctypes.c_long


class LandlockError(OSError):
    """The kernel refused a Landlock call; ``str()`` names the call."""


def abi_version() -> int:
    """The kernel's Landlock ABI version, 0 where Landlock is absent or off."""
    res = _libc.syscall(_SYS_CREATE_RULESET, None, ctypes.c_size_t(0),
                        ctypes.c_uint32(_CREATE_RULESET_VERSION))
    return max(int(res), 0)


def available() -> str | None:
    """None when TCP port rules can be enforced here, else why not (one line)."""
    abi = abi_version()
    if abi == 0:
        return "the kernel has no Landlock (needs Linux 5.13+ with landlock in the lsm= list)"
    if abi < NET_ABI:
        return (f"the kernel's Landlock ABI is {abi}; TCP port rules need ABI {NET_ABI} "
                f"(Linux 6.7+); running {os.uname().release}")
    return None


def _check(res: int, what: str) -> int:
    if res < 0:
        err = ctypes.get_errno()
        raise LandlockError(err, f"{what}: {os.strerror(err)}")
    return res


def confine_tcp(ports, scope: bool = True) -> None:
    """Allow this process and its descendants to bind and connect TCP only on
    ``ports``; with ``scope`` (ABI 6+), also no signals to and no abstract
    Unix sockets of processes outside this process tree.

    Meant for a ``preexec_fn``: it sets ``no_new_privs`` and cannot be undone.
    Raises :class:`LandlockError` where the kernel cannot do it.
    """
    abi = abi_version()
    if abi < NET_ABI:
        raise LandlockError(0, available() or "Landlock TCP rules unavailable")
    scoped = (SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL) if scope and abi >= SCOPE_ABI else 0
    net = ACCESS_NET_BIND_TCP | ACCESS_NET_CONNECT_TCP
    # struct landlock_ruleset_attr { u64 handled_access_fs, handled_access_net, scoped; }
    # An older kernel accepts the shorter struct only.
    attr = struct.pack("=QQQ", 0, net, scoped) if abi >= SCOPE_ABI else struct.pack("=QQ", 0, net)
    buf = ctypes.create_string_buffer(attr, len(attr))
    fd = _check(_libc.syscall(_SYS_CREATE_RULESET, buf, ctypes.c_size_t(len(attr)),
                              ctypes.c_uint32(0)), "landlock_create_ruleset")
    try:
        for port in sorted({int(p) for p in ports}):
            # struct landlock_net_port_attr { u64 allowed_access; u64 port; } (packed)
            rule = ctypes.create_string_buffer(struct.pack("=QQ", net, port), 16)
            _check(_libc.syscall(_SYS_ADD_RULE, ctypes.c_int(fd), ctypes.c_int(_RULE_NET_PORT),
                                 rule, ctypes.c_uint32(0)), f"landlock_add_rule(port {port})")
        _check(_libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")
        _check(_libc.syscall(_SYS_RESTRICT_SELF, ctypes.c_int(fd), ctypes.c_uint32(0)),
               "landlock_restrict_self")
    finally:
        os.close(fd)
