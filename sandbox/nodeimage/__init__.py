"""The kind node image, built on this machine with no registry.

kind needs a node image (``kindest/node`` upstream) and every image that
``kubeadm init`` and the add-ons start. None can be pulled here, so Proctor
builds them all from pinned sources:

* a Debian bookworm root filesystem from ``debootstrap`` (systemd, runc, the
  CNI plugins, iptables) with containerd, crictl, kubelet, kubeadm and kubectl
  added from the toolchain and the Go module proxy;
* the control-plane images (kube-apiserver, kube-controller-manager,
  kube-scheduler, kube-proxy, etcd, CoreDNS, pause) under the exact names and
  tags kubeadm asks for, the pod network (``proctor-netd``), the storage
  provisioner, and the workload images tasks and candidates use (stand-ins
  for busybox, nginx, alpine, httpd and redis, ``workloads.py``); all
  preloaded into the node's containerd.

Every stage is keyed by a digest of its inputs and kept in Docker, so a
rebuild with nothing changed only checks that the final tag exists.

    >>> NodeImage().build(progress=print)      # doctest: +SKIP
    'proctor.local/node:v1.36.3-1a2b3c4d5e'
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..toolchain import BINARIES, Toolchain, ToolchainError, build_lock, default_root
from .workloads import STAND_INS, WORKLOAD_IMAGES, WORKLOAD_NAMES, dockerfile

HERE = Path(__file__).resolve().parent
FILES = HERE / "files"
IMAGES = HERE / "images"

SUITE = "bookworm"
MIRROR = os.environ.get("PROCTOR_DEBIAN_MIRROR", "http://deb.debian.org/debian")
PACKAGES = (
    "systemd systemd-sysv dbus iptables iproute2 runc containernetworking-plugins conntrack "
    "ethtool socat util-linux mount kmod procps ca-certificates bash-completion vim-tiny nano "
    "less curl jq libseccomp2 pigz ebtables iputils-ping dnsutils netcat-openbsd tzdata "
    "nginx-light"
).split()
# The busybox of every image that carries one: Debian trixie's static build.
# bookworm's (1.35) is built without wget's timeout, so `wget -T 2 …`, which
# candidates type from a pod every day, crashed (a segmentation fault) where
# the busybox image it stands in for answers. Pinned by file and digest, taken
# from the same mirror; static, so it needs nothing of the image around it.
BUSYBOX_DEB = ("pool/main/b/busybox/busybox-static_1.37.0-6+b9_amd64.deb",
               "598a3fd92bdafc34cd81196b2952ad36e910e47a4ecf162f8ce5e8e262598e53")
# services a container must not run
MASKED = (
    "getty.target console-getty.service systemd-udevd.service systemd-udevd-kernel.socket "
    "systemd-udevd-control.socket systemd-modules-load.service sys-kernel-debug.mount "
    "sys-kernel-tracing.mount sys-kernel-config.mount systemd-remount-fs.service "
    "nginx.service"
).split()


@dataclass(frozen=True)
class GoTool:
    name: str
    package: str  # go install path, version pinned
    tags: str = ""


TOOLS = (
    GoTool("kind", "sigs.k8s.io/kind@v0.33.0"),
    GoTool("crictl", "sigs.k8s.io/cri-tools/cmd/crictl@v1.37.0"),
    GoTool("containerd", "github.com/containerd/containerd/v2/cmd/containerd@v2.2.9", "no_btrfs"),
    GoTool("containerd-shim-runc-v2",
           "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2@v2.2.9"),
    GoTool("ctr", "github.com/containerd/containerd/v2/cmd/ctr@v2.2.9", "no_btrfs"),
    GoTool("local-path-provisioner", "github.com/rancher/local-path-provisioner@v0.0.30"),
    GoTool("coredns", "github.com/coredns/coredns@v1.14.2"),
)

KUBE_REGISTRY = "registry.k8s.io"
PAUSE_TAG = "3.10.2"       # kubeadm v1.36's constants.PauseVersion
COREDNS_TAG = "v1.14.2"    # kubeadm v1.36's constants.CoreDNSVersion


def _digest(*parts) -> str:
    h = hashlib.sha256()
    for p in parts:
        if isinstance(p, Path):
            if p.is_dir():
                for f in sorted(p.rglob("*")):
                    if f.is_file():
                        h.update(str(f.relative_to(p)).encode())
                        h.update(f.read_bytes())
            else:
                h.update(p.read_bytes())
        else:
            h.update(json.dumps(p, sort_keys=True, default=str).encode())
    return h.hexdigest()[:10]


class NodeImage:
    """``proctor.local/node:<kube version>-<digest of every input>``."""

    def __init__(self, toolchain: Toolchain | None = None, root: Path | None = None):
        self.toolchain = toolchain or Toolchain()
        self.kube = self.toolchain.pins["kubernetes"]
        self.etcd_tag = self.toolchain.pins["etcd"].lstrip("v") + "-0"
        self.dir = (root or default_root().parent / "nodeimage")
        self.tools_dir = self.dir / f"tools-{_digest([t.__dict__ for t in TOOLS])}"
        self.rootfs_key = _digest(SUITE, MIRROR, PACKAGES)
        self.rootfs_tag = f"proctor.local/node-rootfs:{SUITE}-{self.rootfs_key}"
        netd = next(b for b in BINARIES if b.name == "proctor-netd")
        self.key = _digest(self.toolchain.key, self.tools_dir.name, self.rootfs_key,
                           MASKED, HERE / "__init__.py", HERE / "workloads.py", FILES,
                           IMAGES, netd.source, BUSYBOX_DEB)
        self.tag = f"proctor.local/node:{self.kube}-{self.key}"
        self.log = self.dir / "build.log"

    # -- names ------------------------------------------------------------
    def component_images(self) -> dict[str, str]:
        """Role -> the image name kubeadm (or our manifests) will ask for."""
        r, k = KUBE_REGISTRY, self.kube
        return {
            "pause": f"{r}/pause:{PAUSE_TAG}",
            "kube-apiserver": f"{r}/kube-apiserver:{k}",
            "kube-controller-manager": f"{r}/kube-controller-manager:{k}",
            "kube-scheduler": f"{r}/kube-scheduler:{k}",
            "kube-proxy": f"{r}/kube-proxy:{k}",
            "etcd": f"{r}/etcd:{self.etcd_tag}",
            "coredns": f"{r}/coredns/coredns:{COREDNS_TAG}",
            "netd": f"proctor.local/netd:{self.key}",
            "local-path-provisioner": "proctor.local/local-path-provisioner:v0.0.30",
            **WORKLOAD_IMAGES,
        }

    def preloaded_images(self) -> tuple[str, ...]:
        """Every image name a node holds without pulling: the components and
        every tag of every workload stand-in (busybox:1.36 and busybox:latest
        alike), each once."""
        return tuple(dict.fromkeys([*self.component_images().values(), *WORKLOAD_NAMES]))

    def tool(self, name: str) -> Path:
        return self.tools_dir / "bin" / name

    # -- status -----------------------------------------------------------
    def exists(self) -> bool:
        return _docker_ok("image", "inspect", self.tag)

    def status(self) -> dict:
        return {"image": self.tag, "built": self.exists(), "kind": str(self.tool("kind")),
                "images": self.component_images()}

    # -- building -----------------------------------------------------------
    def build(self, progress: Callable[[str], None] = lambda s: None, force: bool = False) -> str:
        """Build what is missing and return the node image's tag."""
        check_docker()
        self.toolchain.build(progress=progress, with_kind=True)
        with build_lock(self.dir):
            return self._build(progress, force)

    def _build(self, progress, force: bool) -> str:
        if self.exists() and not force:
            self._build_tools(progress)
            return self.tag
        started = time.monotonic()
        # debootstrap mostly waits on the Debian mirror and the disk, the Go
        # tools on the cores: side by side (a cold build saves debootstrap's
        # minute and more)
        with ThreadPoolExecutor(1) as pool:
            rootfs = pool.submit(self._build_rootfs, progress, force)
            self._build_tools(progress)
            rootfs.result()
        with tempfile.TemporaryDirectory(prefix="proctor-nodeimage-") as tmp:
            work = Path(tmp)
            images_tar = self._build_component_images(work, progress)
            base = self._build_base(work, progress)
            self._preload(base, images_tar, progress)
        progress(f"node image {self.tag} built in {time.monotonic() - started:.0f}s")
        return self.tag

    def _run(self, cmd: list[str], what: str, **kw) -> subprocess.CompletedProcess:
        self.dir.mkdir(parents=True, exist_ok=True)
        with self.log.open("a") as log:
            log.write(f"\n$ {' '.join(map(str, cmd))}\n")
            log.flush()
            res = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, **kw)
        if res.returncode != 0:
            raise ToolchainError(f"{what} failed (exit {res.returncode})", self.log)
        return res

    def _build_tools(self, progress) -> None:
        bin_dir = self.tools_dir / "bin"
        todo = [t for t in TOOLS if not (bin_dir / t.name).is_file()]
        if not todo:
            return
        bin_dir.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, CGO_ENABLED="0", GOBIN=str(bin_dir), GOFLAGS="-trimpath",
                   GOWORK="off")
        for i, t in enumerate(todo, 1):
            started = time.monotonic()
            progress(f"[tools {i}/{len(todo)}] {t.name} ({t.package}) …")
            cmd = ["go", "install", "-ldflags=-s -w"]
            if t.tags:
                cmd.append(f"-tags={t.tags}")
            self._run(cmd + [t.package], f"building {t.name}", env=env, cwd=self.dir)
            progress(f"[tools {i}/{len(todo)}] {t.name} built in {time.monotonic() - started:.0f}s")

    def _build_rootfs(self, progress, force: bool) -> None:
        if _docker_ok("image", "inspect", self.rootfs_tag) and not force:
            return
        if not shutil.which("debootstrap"):
            raise ToolchainError("debootstrap is not installed (apt-get install debootstrap)")
        progress(f"[rootfs] debootstrap {SUITE} from {MIRROR} ({len(PACKAGES)} packages) …")
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="proctor-rootfs-", dir=self.dir) as tmp:
            root = Path(tmp) / "root"
            self._run(["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}",
                       SUITE, str(root), MIRROR], "debootstrap")
            # apt caches and logs are not part of an image
            for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):
                for f in (root / junk).glob("*"):
                    if f.is_file():
                        f.unlink()
            tar = subprocess.Popen(["tar", "-C", str(root), "--numeric-owner", "-c", "."],
                                   stdout=subprocess.PIPE)
            self._run(["docker", "import", "-", self.rootfs_tag], "docker import of the rootfs",
                      stdin=tar.stdout)
            tar.wait()
        progress(f"[rootfs] {self.rootfs_tag} in {time.monotonic() - started:.0f}s")

    def _context(self, work: Path, name: str, files: dict[str, Path], dockerfile: str) -> Path:
        ctx = work / name
        ctx.mkdir()
        for dest, src in files.items():
            shutil.copy2(src, ctx / dest)
        (ctx / "Dockerfile").write_text(dockerfile)
        return ctx

    def _build_component_images(self, work: Path, progress) -> Path:
        """docker build every preloaded image; docker save them into one tar."""
        names = self.component_images()
        tc = self.toolchain
        pause = work / "pause.bin"
        self._run(["gcc", "-static", "-Os", "-o", str(pause), str(IMAGES / "pause.c")],
                  "compiling pause")
        env_path = "ENV PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin\n"
        scratch = {
            "pause": ({"pause": pause},
                      "FROM scratch\nCOPY pause /pause\nUSER 65535:65535\nENTRYPOINT [\"/pause\"]\n"),
            "kube-apiserver": ({"bin": tc.binary("kube-apiserver")},
                               f"FROM scratch\n{env_path}COPY bin /usr/local/bin/kube-apiserver\n"),
            "kube-controller-manager": (
                {"bin": tc.binary("kube-controller-manager")},
                f"FROM scratch\n{env_path}COPY bin /usr/local/bin/kube-controller-manager\n"),
            "kube-scheduler": ({"bin": tc.binary("kube-scheduler")},
                               f"FROM scratch\n{env_path}COPY bin /usr/local/bin/kube-scheduler\n"),
            "etcd": ({"etcd": tc.binary("etcd"), "etcdctl": tc.binary("etcdctl"),
                      "etcdutl": tc.binary("etcdutl")},
                     f"FROM scratch\n{env_path}COPY etcd etcdctl etcdutl /usr/local/bin/\n"),
            "coredns": ({"coredns": self.tool("coredns")},
                        "FROM scratch\nCOPY coredns /coredns\nEXPOSE 53 53/udp\n"
                        "ENTRYPOINT [\"/coredns\"]\n"),
            "local-path-provisioner": (
                {"bin": self.tool("local-path-provisioner")},
                f"FROM scratch\n{env_path}COPY bin /usr/bin/local-path-provisioner\n"
                "ENTRYPOINT [\"local-path-provisioner\"]\n"),
        }
        # images that need a few programs from the rootfs, with their libraries
        collect = IMAGES / "collect"
        busybox = self._busybox(work)
        from_rootfs = {
            "kube-proxy": (
                {"bin": tc.binary("kube-proxy"), "collect": collect, "busybox": busybox},
                "/usr/sbin/xtables-nft-multi /usr/sbin/xtables-legacy-multi /usr/sbin/conntrack "
                "/usr/bin/busybox",
                "COPY bin /usr/local/bin/kube-proxy\n"),
            "netd": ({"bin": tc.binary("proctor-netd"), "collect": collect, "busybox": busybox},
                     "/usr/bin/busybox",
                     "COPY bin /usr/local/bin/proctor-netd\n"
                     "ENTRYPOINT [\"/usr/local/bin/proctor-netd\"]\n"),
        }
        for role, (files, text) in scratch.items():
            ctx = self._context(work, role, files, text)
            self._run(["docker", "build", "-q", "-t", names[role], str(ctx)], f"image {role}")
        for role, (files, programs, tail) in from_rootfs.items():
            text = (f"FROM {self.rootfs_tag} AS base\nCOPY collect /collect\n"
                    "COPY busybox /usr/bin/busybox\n"
                    f"RUN sh /collect /out {programs}\n"
                    f"FROM scratch\nCOPY --from=base /out/ /\n{env_path}{tail}")
            ctx = self._context(work, role, files, text)
            self._run(["docker", "build", "-q", "-t", names[role], str(ctx)], f"image {role}")
        for s in STAND_INS:
            ctx = self._context(work, s.role, {"collect": collect, "busybox": busybox},
                                dockerfile(s, self.rootfs_tag))
            if s.rootfs:
                shutil.copytree(s.rootfs, ctx / "rootfs", symlinks=True)
            self._run(["docker", "build", "-q", "-t", s.image, str(ctx)], f"image {s.role}")
            for alias in s.names[1:]:
                self._run(["docker", "tag", s.image, alias], f"tagging {alias}")
        progress(f"[images] {len(names)} images built")
        tar = work / "images.tar"
        self._run(["docker", "save", "-o", str(tar), *self.preloaded_images()], "docker save")
        return tar

    def _busybox(self, work: Path) -> Path:
        """``BUSYBOX_DEB``'s busybox binary, downloaded once and checked."""
        path, digest = BUSYBOX_DEB
        deb = self.dir / Path(path).name
        if not deb.is_file() or hashlib.sha256(deb.read_bytes()).hexdigest() != digest:
            import urllib.request
            tmp = deb.with_suffix(".part")
            with urllib.request.urlopen(f"{MIRROR}/{path}", timeout=120) as resp:
                tmp.write_bytes(resp.read())
            got = hashlib.sha256(tmp.read_bytes()).hexdigest()
            if got != digest:
                tmp.unlink()
                raise ToolchainError(f"{MIRROR}/{path} has SHA-256 {got}; expected {digest}")
            tmp.replace(deb)
        out = work / "busybox-deb"
        self._run(["dpkg-deb", "-x", str(deb), str(out)], "extracting busybox")
        return out / "usr/bin/busybox"

    def _build_base(self, work: Path, progress) -> str:
        """The rootfs plus our binaries and configuration, before preloading."""
        ctx = work / "node"
        shutil.copytree(FILES, ctx / "files", symlinks=True)
        bins = ctx / "bins"
        for sub, items in {
            "usr/bin": [self.toolchain.binary(n) for n in ("kubelet", "kubeadm", "kubectl")],
            "usr/local/bin": [self.tool(n) for n in
                              ("containerd", "containerd-shim-runc-v2", "ctr", "crictl")]
                             + [self.toolchain.binary(n) for n in ("etcdctl", "etcdutl")],
        }.items():
            (bins / sub).mkdir(parents=True)
            for b in items:
                shutil.copy2(b, bins / sub / b.name)
        (bins / "usr/local/sbin").mkdir(parents=True)
        shutil.copy2(runtime_wrapper_binary(), bins / "usr/local/sbin/proctor-runc")
        cni = (FILES / "kind/manifests/default-cni.yaml").read_text()
        (ctx / "files/kind/manifests/default-cni.yaml").write_text(
            cni.replace("@@NETD_TAG@@", self.key))
        (ctx / "files/kind/version").write_text(self.kube + "\n")
        (ctx / "files/kind/images.json").write_text(json.dumps(self.component_images(), indent=2))
        base = f"proctor.local/node-base:{self.key}"
        (ctx / "Dockerfile").write_text(f"""FROM {self.rootfs_tag}
COPY files/ /
COPY bins/ /
RUN systemctl enable containerd kubelet proctor-dns \\
 && systemctl mask {' '.join(MASKED)} \\
 && echo 'ReadKMsg=no' >> /etc/systemd/journald.conf \\
 && truncate -s 0 /etc/machine-id \\
 && mkdir -p /etc/cni/net.d /var/lib/kubelet /etc/kubernetes/manifests
ENV container=docker
STOPSIGNAL SIGRTMIN+3
ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]
""")
        self._run(["docker", "build", "-q", "-t", base, str(ctx)], "node base image")
        progress(f"[node] {base}")
        return base

    def _preload(self, base: str, images_tar: Path, progress) -> None:
        """Import the images into the node's containerd and commit the result.

        containerd runs on its own (no systemd) in a throwaway container; the
        images are imported without unpacking, since the node's /var is a
        fresh volume where the kubelet's first use unpacks them.
        """
        name = f"proctor-nodeimage-{self.key}"
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)
        self._run(["docker", "run", "-d", "--name", name, "--privileged", "--tmpfs", "/run",
                   "--tmpfs", "/tmp", "--entrypoint", "/usr/local/bin/containerd", base],
                  "starting containerd for preloading")
        try:
            deadline = time.monotonic() + 60
            while not _docker_ok("exec", name, "ctr", "version"):
                if time.monotonic() > deadline:
                    raise ToolchainError("containerd did not start in the preload container",
                                         self.log)
                time.sleep(0.5)
            with images_tar.open("rb") as f:
                self._run(["docker", "exec", "-i", name, "ctr", "-n", "k8s.io", "images",
                           "import", "--no-unpack", "--digests", "-"], "ctr images import",
                          stdin=f)
            out = subprocess.run(["docker", "exec", name, "ctr", "-n", "k8s.io", "images",
                                  "ls", "-q"], capture_output=True, text=True).stdout.split()
            absent = [i for i in self.preloaded_images() if i not in out]
            if absent:
                raise ToolchainError(f"preloading lost {', '.join(absent)}", self.log)
            subprocess.run(["docker", "stop", "-t", "10", name], capture_output=True)
            self._run(["docker", "commit",
                       "--change", 'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]',
                       "--change", "CMD []",
                       "--change", f"LABEL dev.proctor.node={self.kube}",
                       name, self.tag], "docker commit")
        finally:
            subprocess.run(["docker", "rm", "-f", name], capture_output=True)
        progress(f"[node] {len(self.component_images())} images preloaded into {self.tag}")


def runtime_wrapper_binary() -> Path:
    """The capability-dropping runc wrapper, built on demand (sandbox/docker/runtime)."""
    src = HERE.parent / "docker" / "runtime"
    out = default_root().parent / "runtime" / f"proctor-runc-{_digest(src)}"
    if not out.is_file():
        out.parent.mkdir(parents=True, exist_ok=True)
        res = subprocess.run(["go", "build", "-trimpath", "-ldflags=-s -w", "-o", str(out), "."],
                             cwd=src, env=dict(os.environ, CGO_ENABLED="0", GOWORK="off"),
                             capture_output=True, text=True)
        if res.returncode != 0:
            raise ToolchainError(f"building proctor-runc failed: {res.stderr.strip()}")
    return out


def _docker_ok(*args: str) -> bool:
    return subprocess.run(["docker", *args], capture_output=True).returncode == 0


def check_docker() -> None:
    """Raise a clear error when no Docker engine answers."""
    if not shutil.which("docker"):
        raise ToolchainError("docker is not installed; run scripts/docker (or `make docker`)")
    res = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"],
                         capture_output=True, text=True)
    if res.returncode != 0:
        raise ToolchainError("no Docker engine answers on this machine: "
                             f"{res.stderr.strip().splitlines()[-1] if res.stderr.strip() else ''}"
                             "; start it with scripts/docker")
