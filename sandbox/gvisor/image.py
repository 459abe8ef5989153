"""The box image: the root filesystem every gVisor node boots, built once.

A box is one real node of a sandbox with real containers: kubelet,
containerd and runc in a gVisor sandbox (``box.py``). All boxes boot the
same root filesystem, a folder on the host that gVisor's gofer serves
read-only; each box writes into a layer of its own in its own memory
(``--overlay2=root:memory``), so a box costs only what it changes and the
image's pages are shared through the host's page cache.

It is the kind node image (``sandbox.nodeimage``: Debian, containerd,
runc, the kubelet, the CNI plugins) exported to a folder, with:

* the images a box runs, imported into its containerd *unpacked*
  (``BOX_IMAGES``, plus metrics-server, built here from its Go module). gVisor
  mounts an overlay only with its upper layer on a tmpfs, so the unpacked
  layers are moved to ``/var/lib/proctor-layers`` and the box's init links
  them into a tmpfs snapshotter folder at boot;
* proctor-boxd (``sandbox/toolchain/cmd/proctor-boxd``), the CNI plugin and
  the init of ``files/``.

The folder, ``~/.cache/proctor/gvisor/rootfs-<kube>-<digest>/``, is keyed by
every input; runsc and metrics-server are built into
``~/.cache/proctor/gvisor/tools-<digest>/`` from the Go module proxy.

    >>> BoxImage().build(progress=print)     # doctest: +SKIP
    PosixPath('/root/.cache/proctor/gvisor/rootfs-v1.36.3-1a2b3c4d5e')
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
from ..nodeimage.workloads import STAND_INS, WORKLOAD_NAMES
from ..toolchain import BINARIES, GoTool, Toolchain, ToolchainError, build_lock, default_root

HERE = Path(__file__).resolve().parent
FILES = HERE / "files"

# Built with CGO off: runsc re-executes itself inside the empty root it
# makes, where no dynamic loader exists ("fork/exec /proc/self/exe: no such
# file or directory" from a cgo build).
TOOLS = (
    GoTool("runsc", "gvisor.dev/gvisor/runsc@v0.0.0-20260905035102-160fafc42237"),
    GoTool("metrics-server", "sigs.k8s.io/metrics-server/cmd/metrics-server@v0.8.0",
           "-X sigs.k8s.io/metrics-server/pkg/version.gitVersion=v0.8.0"),
)
METRICS_SERVER = "registry.k8s.io/metrics-server/metrics-server:v0.8.0"
# What a box's containerd holds, unpacked: the pod sandbox, the cluster's
# DNS and metrics, and what tasks and candidates run (roles of
# NodeImage.component_images, or image names).
BOX_IMAGES = ("pause", "coredns", "local-path-provisioner", METRICS_SERVER,
              *(s.role for s in STAND_INS))


def cache_root() -> Path:
    return default_root().parent / "gvisor"


class BoxImage:
    """The box root filesystem for the toolchain's Kubernetes version."""

    def __init__(self, toolchain: Toolchain | None = None, node_image: NodeImage | None = None,
                 root: Path | None = None):
        self.node = node_image or NodeImage(toolchain)
        self.toolchain = self.node.toolchain
        self.kube = self.node.kube
        base = root or cache_root()
        self.tools_dir = base / f"tools-{_digest(repr(TOOLS))}" / "bin"
        boxd = next(b for b in BINARIES if b.name == "proctor-boxd")
        self.key = _digest(self.node.key, repr(TOOLS), BOX_IMAGES, FILES, HERE / "image.py",
                           self.toolchain.key, boxd.source)
        self.dir = base / f"rootfs-{self.kube}-{self.key}"
        self.manifest = self.dir.with_name(self.dir.name + ".json")
        self.log = base / "build.log"

    def runsc(self) -> Path:
        """The runsc binary; raises if it is not built."""
        return self.tool("runsc")

    def tool(self, name: str) -> Path:
        path = self.tools_dir / name
        if not path.is_file():
            raise ToolchainError(f"{name} is not built; run `proctor toolchain build --with-gvisor`")
        return path

    def exists(self) -> bool:
        return self.manifest.is_file() and self.dir.is_dir() and \
            all((self.tools_dir / t.name).is_file() for t in TOOLS)

    def status(self) -> dict:
        return {"rootfs": str(self.dir), "built": self.exists(), "runsc": str(self.tools_dir /
                "runsc"), "images": list(self.images().values())}

    def images(self) -> dict[str, str]:
        """Role (or name) -> the image name a box holds."""
        names = self.node.component_images()
        return {r: names.get(r, r) for r in BOX_IMAGES}

    # -- building ---------------------------------------------------------------
    def build(self, progress: Callable[[str], None] = lambda s: None, force: bool = False) -> Path:
        """Build what is missing (the kind node image first); return the rootfs folder."""
        if self.exists() and not force:
            return self.dir
        check_docker()
        self.node.build(progress=progress)
        with build_lock(self.dir.parent):
            if self.exists() and not force:  # built by another process while this one waited
                return self.dir
            return self._build(progress)

    def _build(self, progress) -> Path:
        self._build_tools(progress)
        started = time.monotonic()
        self.dir.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="rootfs-", dir=self.dir.parent) as tmp:
            work = Path(tmp)
            self._metrics_server_image(work)
            rootfs = work / "rootfs"
            self._export(rootfs, progress)
            self._unpack_images(work, rootfs, progress)
            self._add_files(rootfs)
            if self.dir.exists():
                shutil.rmtree(self.dir)
            rootfs.rename(self.dir)
        self.manifest.write_text(json.dumps({
            "key": self.key, "node_image": self.node.tag, "images": self.images(),
            "built_at": time.time()}, indent=2))
        self._prune()
        progress(f"[box] {self.dir} in {time.monotonic() - started:.0f}s")
        return self.dir

    def _prune(self) -> None:
        """Remove the root filesystems of older keys (each is most of a GB),
        but any a box on this machine still runs from (its bundle names it)."""
        from .box import bundles_root_paths
        in_use = bundles_root_paths()
        for d in self.dir.parent.glob("rootfs-*"):
            if d.is_dir() and d != self.dir and str(d) not in in_use:
                shutil.rmtree(d, ignore_errors=True)
                d.with_name(d.name + ".json").unlink(missing_ok=True)

    def _run(self, cmd: list, what: str, **kw) -> subprocess.CompletedProcess:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("a") as log:
            log.write(f"\n$ {' '.join(map(str, cmd))}\n")
            log.flush()
            res = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, **kw)
        if res.returncode != 0:
            raise ToolchainError(f"{what} failed (exit {res.returncode})", self.log)
        return res

    def _build_tools(self, progress) -> None:
        todo = [t for t in TOOLS if not (self.tools_dir / t.name).is_file()]
        if not todo:
            return
        self.tools_dir.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, CGO_ENABLED="0", GOBIN=str(self.tools_dir), GOFLAGS="-trimpath",
                   GOWORK="off")
        for t in todo:
            started = time.monotonic()
            progress(f"[box tools] {t.name} ({t.module}) …")
            flags = " ".join(["-s -w", t.ldflags.format(version=t.version)])
            self._run(["go", "install", f"-ldflags={flags}", t.module], f"building {t.name}",
                      env=env, cwd=self.tools_dir.parent)
            progress(f"[box tools] {t.name} built in {time.monotonic() - started:.0f}s")

    def _metrics_server_image(self, work: Path) -> None:
        """metrics-server as the image its upstream manifests name, from our build."""
        ctx = work / "metrics-server"
        ctx.mkdir()
        shutil.copy2(self.tool("metrics-server"), ctx / "metrics-server")
        (ctx / "Dockerfile").write_text(
            "FROM scratch\nCOPY metrics-server /metrics-server\nUSER 65534:65534\n"
            "ENTRYPOINT [\"/metrics-server\"]\n")
        self._run(["docker", "build", "-q", "-t", METRICS_SERVER, str(ctx)], "metrics-server image")

    def _export(self, rootfs: Path, progress) -> None:
        """The kind node image's files, without its containerd store."""
        progress(f"[box] exporting {self.node.tag} …")
        res = subprocess.run(["docker", "create", self.node.tag], capture_output=True, text=True)
        if res.returncode != 0:
            raise ToolchainError(f"docker create {self.node.tag} failed: {res.stderr.strip()}")
        cid = res.stdout.strip()
        try:
            rootfs.mkdir()
            export = subprocess.Popen(["docker", "export", cid], stdout=subprocess.PIPE)
            self._run(["tar", "-C", str(rootfs), "--numeric-owner", "-xf", "-"], "docker export",
                      stdin=export.stdout)
            export.wait()
        finally:
            subprocess.run(["docker", "rm", "-f", cid], capture_output=True)
        shutil.rmtree(rootfs / "var/lib/containerd", ignore_errors=True)

    def _unpack_images(self, work: Path, rootfs: Path, progress) -> None:
        """A containerd store with ``BOX_IMAGES`` imported and unpacked
        (overlayfs snapshotter), made by the node image's own containerd on
        a host folder, then laid out for the box's init."""
        # every tag of a workload image too: `--image=busybox` means busybox:latest
        names = list(dict.fromkeys([*self.images().values(), *WORKLOAD_NAMES]))
        store = work / "containerd"
        store.mkdir()
        tar = work / "images.tar"
        self._run(["docker", "save", "-o", str(tar), *names], "docker save")
        name = f"proctor-box-unpack-{self.key}"
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)
        self._run(["docker", "run", "-d", "--name", name, "--privileged", "--tmpfs", "/run",
                   "-v", f"{store}:/var/lib/containerd", "--entrypoint",
                   "/usr/local/bin/containerd", self.node.tag], "starting containerd to unpack")
        try:
            deadline = time.monotonic() + 60
            while subprocess.run(["docker", "exec", name, "ctr", "version"],
                                 capture_output=True).returncode != 0:
                if time.monotonic() > deadline:
                    raise ToolchainError("containerd did not start to unpack the box images",
                                         self.log)
                time.sleep(0.5)
            progress(f"[box] unpacking {len(names)} images …")
            with tar.open("rb") as f:
                self._run(["docker", "exec", "-i", name, "ctr", "-n", "k8s.io", "images",
                           "import", "--local", "--snapshotter", "overlayfs", "--digests",
                           "--discard-unpacked-layers", "-"], "ctr images import", stdin=f)
            out = subprocess.run(["docker", "exec", name, "ctr", "-n", "k8s.io", "images", "ls",
                                  "-q"], capture_output=True, text=True).stdout.split()
            absent = [n for n in names if n not in out]
            if absent:
                raise ToolchainError(f"unpacking lost {', '.join(absent)}", self.log)
            subprocess.run(["docker", "stop", "-t", "10", name], capture_output=True)
        finally:
            subprocess.run(["docker", "rm", "-f", name], capture_output=True)
        # the store goes in; its unpacked layers go where the box's init links them from
        dest = rootfs / "var/lib/containerd"
        shutil.move(str(store), str(dest))
        snap = dest / "io.containerd.snapshotter.v1.overlayfs"
        layers = rootfs / "var/lib/proctor-layers"
        layers.mkdir()
        shutil.move(str(snap / "snapshots"), str(layers / "snapshots"))
        shutil.move(str(snap / "metadata.db"), str(layers / "metadata.db"))

    def _add_files(self, rootfs: Path) -> None:
        shutil.copytree(FILES, rootfs, symlinks=True, dirs_exist_ok=True)
        shutil.copy2(self.toolchain.binary("proctor-boxd"), rootfs / "usr/local/bin/proctor-boxd")
