"""The vm provider: real nodes as QEMU virtual machines (see docs/vm.md).

    image.py    the node disk: the kind node image + a kernel and sshd, as qcow2
    qemu.py     one QEMU process: its command line, QMP, acceleration probe
    hub.py      the sandbox's private L2 switch (a hub on a Unix socket)
    recipe.py   what a golden cluster is: sizes, addresses, kubeadm's configuration
    golden.py   the warm clusters: booted, initialised, saved once
    provider.py VMProvider: sandboxes restored from a golden cluster
"""

from .provider import VMProvider

__all__ = ["VMProvider"]
