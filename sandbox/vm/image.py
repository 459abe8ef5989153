"""The VM node image: the kind node image, plus a kernel and sshd, as a disk.

A VM node runs what a kind node runs, so the image starts from the kind node
image itself (``sandbox/nodeimage``: the debootstrap root filesystem, the
toolchain's and the Go tools' binaries, every preloaded image in containerd's
store) rather than from a copy of its recipe. On top of it one more Docker
stage adds what a container does not need and a machine does:

* Debian's cloud kernel (``linux-image-cloud-amd64``) with an initramfs
  that mounts the disk, udev to load the NIC and disk drivers, sshd;
* ``sandbox/vm/files/``: the unit that names the node and sets up its two
  NICs from the kernel command line, sshd's configuration (root by key
  only), the modules and sysctls the pod network needs.

The result is exported as a directory, written into an ext4 filesystem with
``mkfs.ext4 -d`` (no loop mount, no root needed for that step) and converted
to a qcow2 that is only ever a read-only backing file. The kernel and
initramfs sit beside it, since QEMU boots them directly (no bootloader).
Everything lives under ``~/.cache/proctor/vm/image-<kube>-<digest>/``, keyed
like the other stages by a digest of its inputs: the node image's key, the
packages added here, these files and this module.

    >>> VMImage().build(progress=print)          # doctest: +SKIP
    PosixPath('/root/.cache/proctor/vm/image-v1.36.3-0a1b2c3d4e')
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Callable

from ..nodeimage import NodeImage, _digest, check_docker
from ..toolchain import Toolchain, ToolchainError, default_root

HERE = Path(__file__).resolve().parent
FILES = HERE / "files"
# What a machine needs beyond a kind node (which is a container).
VM_PACKAGES = ("linux-image-cloud-amd64 initramfs-tools udev openssh-server").split()
# The node image masks these because a container must not run them; a VM needs them.
UNMASK = ("systemd-udevd.service systemd-udevd-kernel.socket systemd-udevd-control.socket "
          "systemd-modules-load.service").split()
# Timers that would wake an idle guest (costly under TCG) for nothing: there
# is no network to fetch packages from.
MASK = "apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer e2scrub_all.timer".split()
DISK_SIZE = "8G"   # the filesystem's size; the qcow2 holds only what is used
MKFS = ("-q", "-L", "proctor-root", "-E", "root_owner=0:0")


def dockerfile(base: str) -> str:
    """The one stage on top of the kind node image ``base``."""
    return f"""FROM {base}
RUN apt-get update -qq \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \\
    {' '.join(VM_PACKAGES)} \\
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /etc/ssh/ssh_host_*
COPY files/ /
RUN systemctl unmask {' '.join(UNMASK)} \\
 && systemctl disable proctor-dns && rm /etc/systemd/system/proctor-dns.service \\
 && systemctl enable proctor-vm-init ssh && systemctl mask {' '.join(MASK)} \\
 && truncate -s 0 /etc/machine-id && rm -f /var/lib/dbus/machine-id \\
 && ls /boot/vmlinuz-* /boot/initrd.img-*
"""


def cache_root() -> Path:
    """``~/.cache/proctor/vm`` (beside the toolchain, moved with ``PROCTOR_TOOLCHAIN_DIR``)."""
    return default_root().parent / "vm"


class VMImage:
    """``disk.qcow2``, ``vmlinuz`` and ``initrd.img`` for VM nodes, built once."""

    def __init__(self, toolchain: Toolchain | None = None, node_image: NodeImage | None = None,
                 root: Path | None = None):
        self.node = node_image or NodeImage(toolchain)
        self.kube = self.node.kube
        self.key = _digest(self.node.key, dockerfile("BASE"), MKFS, DISK_SIZE, FILES)
        self.dir = (root or cache_root()) / f"image-{self.kube}-{self.key}"
        self.disk = self.dir / "disk.qcow2"
        self.kernel = self.dir / "vmlinuz"
        self.initrd = self.dir / "initrd.img"
        self.manifest = self.dir / "manifest.json"
        self.log = self.dir.parent / "build.log"

    def exists(self) -> bool:
        return self.manifest.is_file()

    def status(self) -> dict:
        return {"image": str(self.dir), "built": self.exists(), "kind_image": self.node.tag}

    def _run(self, cmd: list[str], what: str, **kw) -> subprocess.CompletedProcess:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("a") as log:
            log.write(f"\n$ {' '.join(map(str, cmd))}\n")
            log.flush()
            res = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, **kw)
        if res.returncode != 0:
            raise ToolchainError(f"{what} failed (exit {res.returncode})", self.log)
        return res

    def build(self, progress: Callable[[str], None] = lambda s: None,
              force: bool = False) -> Path:
        """Build what is missing (the kind node image first) and return the image folder."""
        if self.exists() and not force:
            return self.dir
        for tool in ("qemu-img", "mkfs.ext4"):
            if not shutil.which(tool):
                raise ToolchainError(f"{tool} is not installed (apt-get install qemu-utils "
                                     "e2fsprogs)")
        check_docker()
        self.node.build(progress=progress)
        started = time.monotonic()
        self.dir.parent.mkdir(parents=True, exist_ok=True)
        tag = f"proctor.local/vm-node:{self.key}"
        with tempfile.TemporaryDirectory(prefix="vm-image-", dir=self.dir.parent) as tmp:
            work = Path(tmp)
            ctx = work / "ctx"
            shutil.copytree(FILES, ctx / "files", symlinks=True)
            (ctx / "Dockerfile").write_text(dockerfile(self.node.tag))
            progress(f"[vm image] {tag}: the kind node image + {', '.join(VM_PACKAGES)} …")
            self._run(["docker", "build", "-q", "--force-rm", "-t", tag, str(ctx)], "VM node image")
            root = work / "root"
            root.mkdir()
            cid = subprocess.run(["docker", "create", tag, "/sbin/init"], capture_output=True,
                                 text=True, check=True).stdout.strip()
            try:
                export = subprocess.Popen(["docker", "export", cid], stdout=subprocess.PIPE)
                self._run(["tar", "-x", "--numeric-owner", "-C", str(root)], "unpacking the image",
                          stdin=export.stdout)
                export.wait()
            finally:
                subprocess.run(["docker", "rm", "-f", cid], capture_output=True)
            out = work / "image"
            out.mkdir()
            shutil.copy2(sorted((root / "boot").glob("vmlinuz-*"))[-1], out / "vmlinuz")
            shutil.copy2(sorted((root / "boot").glob("initrd.img-*"))[-1], out / "initrd.img")
            # Docker's placeholders: the guest writes its own at boot.
            for f in ("etc/hostname", "etc/hosts", "etc/resolv.conf"):
                (root / f).unlink(missing_ok=True)
                (root / f).write_text("")
            (root / ".dockerenv").unlink(missing_ok=True)
            progress("[vm image] writing the root filesystem (mkfs.ext4 -d) …")
            raw = work / "disk.raw"
            self._run(["mkfs.ext4", *MKFS, "-d", str(root), str(raw), DISK_SIZE], "mkfs.ext4")
            shutil.rmtree(root)
            self._run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(raw),
                       str(out / "disk.qcow2")], "qemu-img convert")
            raw.unlink()
            (out / "manifest.json").write_text(json.dumps({
                "key": self.key, "kubernetes": self.kube, "kind_image": self.node.tag,
                "packages": VM_PACKAGES, "built_at": time.time(),
                "images": self.node.component_images()}, indent=2))
            for f in out.iterdir():
                f.chmod(0o444)
            out.chmod(0o755)
            if self.dir.exists():
                shutil.rmtree(self.dir)
            os.replace(out, self.dir)
        subprocess.run(["docker", "rmi", tag], capture_output=True)
        progress(f"[vm image] {self.dir} in {time.monotonic() - started:.0f}s")
        return self.dir
