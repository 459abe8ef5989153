"""Warm clusters: booted and initialised once, saved, restored per sandbox.

``kubeadm init`` in a TCG guest takes minutes, so no sandbox runs it. A
golden build does, once per VM image and acceleration, and saves every VM
at each step worth keeping (QMP ``migrate`` to a file, with the disk frozen
at the same moment):

==========================  =====================================================
variant                     what it is
==========================  =====================================================
``1``                       controlplane initialised, untainted (as kind does for
                            one node), pod network, storage, CoreDNS available
``2``                       the same control plane (tainted again), node01 joined
``3-node02-unjoined``       node01 joined; node02 booted, kubelet stopped, never
                            joined: the "join a node" task's machine
``3``                       node02 joined as well
==========================  =====================================================

The stages form one chain (each continues from the last), so the cluster is
initialised once for all four. Each save freezes each running node's disk
layer (``blockdev-snapshot-sync``: the layer becomes read-only, writes go to
a new one) while the VMs are stopped, then writes their RAM. A sandbox is a
new qcow2 layer per node over its frozen layer plus ``-incoming`` from its
state file.

The golden folder, ``~/.cache/proctor/vm/golden-<kube>-<digest>/``, is keyed
by the image's key, the acceleration (TCG and KVM states do not mix: the CPU
models differ) and the recipe below; it holds the build's SSH key (to reach
the restored nodes once, to replace it), the admin kubeconfig and a manifest
per variant. Nothing in it is written after the build.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..nodeimage import _digest
from .image import VMImage, cache_root
from .qemu import QEMU, TCG_CPU, detect_accel
from .recipe import (APPEND, CP_CPUS, CP_MEMORY_MB, PRIVATE_NET, PROBES, STAGES, TCG_DAEMONS,
                     TCG_ENV, TIMEOUTS, VARIANTS, WORKER_CPUS, WORKER_MEMORY_MB, kubeadm_config)


@dataclass
class Variant:
    """One saved cluster: per node its frozen disk layer and its state file."""

    name: str
    dir: Path
    manifest: dict

    @property
    def nodes(self) -> list[str]:
        return self.manifest["nodes"]

    @property
    def unjoined(self) -> list[str]:
        return self.manifest["unjoined"]

    def layer(self, node: str) -> Path:
        return self.dir.parent.parent / self.manifest["machines"][node]["layer"]

    def state(self, node: str) -> Path:
        return self.dir / self.manifest["machines"][node]["state"]

    def machine(self, node: str) -> dict:
        return self.manifest["machines"][node]


class Golden:
    """The golden clusters for one image and acceleration."""

    def __init__(self, image: VMImage | None = None, root: Path | None = None,
                 accel: str | None = None):
        self.image = image or VMImage()
        self.root = root or cache_root()
        self._accel = accel
        self.toolchain = self.image.node.toolchain

    @property
    def accel(self) -> str:
        """``kvm`` or ``tcg``; ``unknown`` (not kept) until the image is built."""
        if self._accel is None:
            accel = self.accel_info()["accel"]
            if accel == "unknown":
                return accel
            self._accel = accel
        return self._accel

    def accel_info(self) -> dict:
        """``detect_accel`` with the image's kernel; until the image is built
        there is no kernel to probe with, and nothing golden either."""
        if not self.image.exists():
            return {"accel": "unknown", "reason": "the VM image is not built yet "
                                                  "(scripts/bootstrap --with-vm builds it)"}
        if not shutil.which(QEMU):
            return {"accel": "unknown", "reason": f"{QEMU} is not installed "
                                                  "(scripts/bootstrap --with-vm installs it)"}
        return detect_accel(self.image.kernel, self.image.initrd, self.root / "accel.json")

    @property
    def key(self) -> str:
        return _digest(self.image.key, self.accel, TCG_CPU, APPEND, STAGES, TIMEOUTS, PROBES,
                       TCG_ENV, TCG_DAEMONS, CP_MEMORY_MB, WORKER_MEMORY_MB, CP_CPUS,
                       WORKER_CPUS, PRIVATE_NET,
                       kubeadm_config(self.image.kube, self.image.node.etcd_tag))

    @property
    def dir(self) -> Path:
        return self.root / f"golden-{self.image.kube}-{self.key}"

    def exists(self) -> bool:
        # no image, no golden clusters; and the key needs the accelerator,
        # whose probe boots the image's kernel
        return self.image.exists() and (self.dir / "manifest.json").is_file()

    def variant(self, nodes: int, unjoined=()) -> Variant | None:
        name = VARIANTS.get((nodes, tuple(sorted(unjoined))))
        if name is None or not self.exists():
            return None
        vdir = self.dir / "variants" / name
        return Variant(name, vdir, json.loads((vdir / "manifest.json").read_text()))

    def status(self) -> dict:
        return {"golden": str(self.dir), "built": self.exists(), "accel": self.accel_info(),
                "variants": sorted(VARIANTS.values())}

    # -- building ------------------------------------------------------------------
    def build(self, progress: Callable[[str], None] = lambda s: None, force: bool = False) -> Path:
        """Build the image if missing, then the golden chain (``build.Builder``)."""
        from .build import Builder
        if self.exists() and not force:
            return self.dir
        self.image.build(progress)  # first: the accelerator is probed with its kernel
        info = self.accel_info()
        progress(f"[golden] acceleration: {info['accel']} ({info['reason']})")
        builder = Builder(self, progress)
        try:
            builder.run()
        finally:
            builder.cleanup()
        return self.dir
