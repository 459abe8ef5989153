"""The Kubernetes toolchain: every binary a sandbox needs, built locally.

This machine has no prebuilt Kubernetes and no registry, so Proctor builds
kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, etcd,
etcdctl, kwok and kwokctl from the Go module proxy with the machine's Go,
and the exam shell's other tools (``EXAM_TOOLS``: helm) from their own
modules into a cache of their own, beside the data tasks install
(``EXAM_ASSETS``: the Gateway API's CRDs).

Versions live in one place: ``go.mod``/``go.sum`` beside this file. The
binaries go to a cache directory keyed by those versions (and a digest of the
pins), so a second build with everything present only reads a manifest.

    >>> tc = Toolchain()
    >>> tc.build(progress=print)          # doctest: +SKIP
    >>> tc.binary("kubectl")              # doctest: +SKIP
    PosixPath('/root/.cache/proctor/toolchain/v1.36.3-1a2b3c4d/bin/kubectl')
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

MODULE_DIR = Path(__file__).resolve().parent
MIN_FREE_BYTES = 4 * 1024**3  # a cold build needs about 3 GB of Go build cache


class ToolchainError(Exception):
    """A toolchain problem a user can act on; ``log`` points at the details."""

    def __init__(self, message: str, log: Path | None = None):
        super().__init__(message)
        self.log = log

    def __str__(self) -> str:
        text = super().__str__()
        return f"{text} (log: {self.log})" if self.log else text


def _exec_name(package: str) -> str:
    """The file ``go build -o <dir>/`` writes for a main package: its last path
    element, or the one before a major-version element (``…/server/v3`` ->
    ``server``).

    >>> _exec_name("go.etcd.io/etcd/server/v3"), _exec_name("./cmd/proctor-netd")
    ('server', 'proctor-netd')
    """
    parts = package.rstrip("/").split("/")
    if len(parts) > 1 and re.fullmatch(r"v[2-9][0-9]*", parts[-1]):
        return parts[-2]
    return parts[-1]


@dataclass(frozen=True)
class Binary:
    name: str
    package: str
    stamp: str  # which version stamp its ldflags need: "kube", "etcd", "kwok", ""
    kind: bool = False  # only needed for kind node images (`build --with-kind`)

    @property
    def source(self) -> str:
        """What the binary is built from, as recorded in the manifest: the
        package, and for Proctor's own (``./cmd/…``) a digest of its source,
        so that a changed source is built again."""
        if not self.package.startswith("./"):
            return self.package
        h = hashlib.sha256()
        for f in sorted((MODULE_DIR / self.package).rglob("*.go")):
            h.update(f.name.encode() + f.read_bytes())
        return f"{self.package}@{h.hexdigest()[:12]}"


BINARIES = (
    Binary("etcd", "go.etcd.io/etcd/server/v3", "etcd"),
    Binary("etcdctl", "go.etcd.io/etcd/etcdctl/v3", "etcd"),
    Binary("kube-apiserver", "k8s.io/kubernetes/cmd/kube-apiserver", "kube"),
    Binary("kube-controller-manager", "k8s.io/kubernetes/cmd/kube-controller-manager", "kube"),
    Binary("kube-scheduler", "k8s.io/kubernetes/cmd/kube-scheduler", "kube"),
    Binary("kubectl", "k8s.io/kubernetes/cmd/kubectl", "kube"),
    Binary("kwok", "sigs.k8s.io/kwok/cmd/kwok", "kwok"),
    Binary("kwokctl", "sigs.k8s.io/kwok/cmd/kwokctl", "kwok"),
    # what runs on (or inside images on) a kind node
    Binary("kubelet", "k8s.io/kubernetes/cmd/kubelet", "kube", kind=True),
    Binary("kubeadm", "k8s.io/kubernetes/cmd/kubeadm", "kube", kind=True),
    Binary("kube-proxy", "k8s.io/kubernetes/cmd/kube-proxy", "kube", kind=True),
    Binary("etcdutl", "go.etcd.io/etcd/etcdutl/v3", "etcd", kind=True),
    Binary("proctor-netd", "./cmd/proctor-netd", "", kind=True),
    Binary("proctor-boxd", "./cmd/proctor-boxd", "", kind=True),
)


@dataclass(frozen=True)
class GoTool:
    """A tool from its own Go module, built with ``go install module@version``
    (its own go.mod decides its dependencies); ``ldflags`` may use {version}."""
    name: str
    module: str  # package path@version: the pin
    ldflags: str = ""

    @property
    def version(self) -> str:
        return self.module.rsplit("@", 1)[1]


# What the exam shell needs beyond Kubernetes. Pinned here, not in go.mod: these
# build from their own modules into a cache of their own (tools-<digest of this
# list>), so adding or bumping one never changes the Kubernetes binaries' key
# and never rebuilds them. Helm 3 is what the CKA/CKAD curricula and their
# practice material use; helm version reports the stamped release. v3.21.4,
# not v3.22.0: the Go module proxy serves 3.22.0 but it is not an approved release.
EXAM_TOOLS = (
    GoTool("helm", "helm.sh/helm/v3/cmd/helm@v3.21.4",
           "-X helm.sh/helm/v3/internal/version.version={version} "
           "-X helm.sh/helm/v3/internal/version.gitTreeState=clean"),
)
# What a candidate's shell has of all this, in /opt/proctor/bin (the jail's
# JailSpec.tools, from Toolchain.shell_tools); the instructions page says so.
SHELL_TOOLS = ("kubectl", "etcdctl", "helm")


@dataclass(frozen=True)
class ModuleFiles:
    """Files of a Go module (``pattern``, a glob inside it, in name order)
    joined into one YAML stream ``name``: data that tasks' setup scripts
    install, such as CRDs a cluster does not have. Setup and solution scripts
    find it through the variable ``env`` (grader.runner.script_env)."""
    name: str
    module: str  # path@version: the pin
    pattern: str
    env: str


# Data for tasks' setup, from Go modules, in a cache of its own (assets-<digest
# of this list>) like EXAM_TOOLS: pinning one never changes the Kubernetes
# binaries' key. The Gateway API's standard channel CRDs (GatewayClass,
# Gateway, HTTPRoute, GRPCRoute, ReferenceGrant, BackendTLSPolicy), for the
# Gateway API tasks: no Kubernetes release ships them.
EXAM_ASSETS = (
    ModuleFiles("gateway-api-crds.yaml", "sigs.k8s.io/gateway-api@v1.4.1",
                "config/crd/standard/*.yaml", "GATEWAY_API_CRDS"),
)

# go.mod requirement -> the name used in versions()
_PINNED = {
    "k8s.io/kubernetes": "kubernetes",
    "go.etcd.io/etcd/server/v3": "etcd",
    "sigs.k8s.io/kwok": "kwok",
}


def read_pins(go_mod: Path = MODULE_DIR / "go.mod") -> dict[str, str]:
    """Versions pinned in go.mod: ``{"kubernetes": "v1.36.3", "go": "1.26.0", ...}``."""
    text = go_mod.read_text()
    pins: dict[str, str] = {}
    m = re.search(r"^go (\S+)", text, re.M)
    if m:
        pins["go"] = m.group(1)
    for module, name in _PINNED.items():
        m = re.search(rf"^\s*{re.escape(module)} (v\S+)", text, re.M)
        if not m:
            raise ToolchainError(f"{go_mod}: no version pinned for {module}")
        pins[name] = m.group(1)
    return pins


@contextlib.contextmanager
def build_lock(folder: Path, name: str = ".build.lock"):
    """One build at a time of what is cached in ``folder`` (two `make test`
    runs, or a developer's build beside one, would tread on each other's
    temporary files and containers); the second waits, then finds it built."""
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / name, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def default_root() -> Path:
    """``$PROCTOR_TOOLCHAIN_DIR``, else ``$XDG_CACHE_HOME/proctor/toolchain``."""
    env = os.environ.get("PROCTOR_TOOLCHAIN_DIR")
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "proctor" / "toolchain"


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", text)[:3])


class Toolchain:
    """The binaries for the pinned versions, in ``root/<key>/bin``."""

    def __init__(self, root: Path | None = None):
        self.pins = read_pins()
        digest = hashlib.sha256(
            (MODULE_DIR / "go.mod").read_bytes() + (MODULE_DIR / "go.sum").read_bytes()
        ).hexdigest()[:8]
        self.key = f"{self.pins['kubernetes']}-{digest}"
        self.dir = (root or default_root()) / self.key
        self.bin_dir = self.dir / "bin"
        self.log = self.dir / "build.log"
        self.manifest = self.dir / "manifest.json"
        tools_key = hashlib.sha256(repr(EXAM_TOOLS).encode()).hexdigest()[:8]
        self.tools_dir = (root or default_root()) / f"tools-{tools_key}" / "bin"
        assets_key = hashlib.sha256(repr(EXAM_ASSETS).encode()).hexdigest()[:8]
        self.assets_dir = (root or default_root()) / f"assets-{assets_key}"

    # -- what is there -------------------------------------------------
    def binary(self, name: str) -> Path:
        """Path of one built binary; raises if the toolchain is not built."""
        path = self.bin_dir / name
        if not path.is_file():
            raise ToolchainError(
                f"{name} is not built for Kubernetes {self.pins['kubernetes']}; "
                "run `proctor toolchain build`"
            )
        return path

    def tool(self, name: str) -> Path:
        """Path of one of ``EXAM_TOOLS``, built; raises if it is not."""
        path = self.tools_dir / name
        if not path.is_file():
            raise ToolchainError(f"{name} is not built; run `proctor toolchain build`")
        return path

    def shell_tools(self) -> dict[str, Path]:
        """``SHELL_TOOLS``, built: what a candidate's shell has of the
        toolchain (``JailSpec.tools``); raises if one is not built."""
        return {name: self.binary(name) if name in {b.name for b in BINARIES} else self.tool(name)
                for name in SHELL_TOOLS}

    def assets(self) -> dict[str, Path]:
        """``{variable: path}`` of each of ``EXAM_ASSETS`` that is there."""
        return {a.env: self.assets_dir / a.name for a in EXAM_ASSETS
                if (self.assets_dir / a.name).is_file()}

    def missing(self, with_kind: bool = False) -> list[Binary]:
        """Binaries not yet built (or built for different pins)."""
        try:
            recorded = json.loads(self.manifest.read_text()).get("binaries", {})
        except (OSError, ValueError):
            recorded = {}
        return [
            b for b in BINARIES
            if (with_kind or not b.kind)
            and (recorded.get(b.name) != b.source or not (self.bin_dir / b.name).is_file())
        ]

    def incomplete(self) -> list[str]:
        """Names of what a portal with kwok sandboxes needs and is not built:
        the Kubernetes binaries and the exam tools (helm)."""
        return [b.name for b in self.missing()] + [
            t.name for t in EXAM_TOOLS if not (self.tools_dir / t.name).is_file()]

    def status(self) -> dict:
        """A JSON-able description for ``proctor toolchain status``."""
        return {
            "dir": str(self.dir),
            "versions": {k: v for k, v in self.pins.items() if k != "go"},
            "binaries": {
                b.name: (str(self.bin_dir / b.name) if (self.bin_dir / b.name).is_file() else None)
                for b in BINARIES
            },
            "tools": {t.name: (str(self.tools_dir / t.name) if (self.tools_dir / t.name).is_file()
                               else None) for t in EXAM_TOOLS},
            "assets": {a.name: (str(self.assets_dir / a.name)
                                if (self.assets_dir / a.name).is_file() else None)
                       for a in EXAM_ASSETS},
            "complete": not self.incomplete(),
        }

    # -- building ---------------------------------------------------------
    def build(self, progress: Callable[[str], None] = lambda s: None, force: bool = False,
              with_kind: bool = False) -> Path:
        """Build whatever is missing; return the bin directory.

        With everything present this reads one manifest and returns, so it is
        cheap enough to call at the start of every command that needs it.
        """
        wanted = [b for b in BINARIES if with_kind or not b.kind]
        if (not force and not self.missing(with_kind) and not self._tools_missing()
                and len(self.assets()) == len(EXAM_ASSETS)):
            return self.bin_dir
        with build_lock(self.dir.parent):
            todo = wanted if force else self.missing(with_kind)
            if todo:
                self._build_binaries(todo, progress)
            self._build_tools(progress, force)
            self._fetch_assets(progress, force)
        return self.bin_dir

    def _fetch_assets(self, progress: Callable[[str], None], force: bool) -> None:
        """Each of ``EXAM_ASSETS`` that is not there yet: ``go mod download``
        its module (checked against the checksum database like any module),
        then join its files into one, written whole or not at all."""
        todo = [a for a in EXAM_ASSETS if force or not (self.assets_dir / a.name).is_file()]
        if not todo:
            return
        go = self._check_go()
        self.assets_dir.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, GOWORK="off")
        for a in todo:
            progress(f"[exam assets] {a.name} ({a.module}) …")
            res = subprocess.run([go, "mod", "download", "-json", a.module], cwd=self.assets_dir,
                                 env=env, capture_output=True, text=True)
            try:
                folder = Path(json.loads(res.stdout)["Dir"])
            except (ValueError, KeyError, TypeError):
                folder = None
            files = sorted(folder.glob(a.pattern)) if folder else []
            if res.returncode != 0 or not files:
                why = (res.stderr or res.stdout).strip()[-300:] or f"no file matches {a.pattern}"
                raise ToolchainError(f"fetching {a.module} for {a.name} failed: {why}")
            tmp = self.assets_dir / f".{a.name}.tmp"
            tmp.write_text("".join(f"---\n# {f.name}\n{f.read_text().removeprefix('---').lstrip()}"
                                   for f in files))
            tmp.chmod(0o644)
            tmp.replace(self.assets_dir / a.name)

    def _tools_missing(self) -> bool:
        return any(not (self.tools_dir / t.name).is_file() for t in EXAM_TOOLS)

    def _build_tools(self, progress: Callable[[str], None], force: bool) -> None:
        """``go install`` each of ``EXAM_TOOLS`` that is not there yet."""
        todo = [t for t in EXAM_TOOLS if force or not (self.tools_dir / t.name).is_file()]
        if not todo:
            return
        go = self._check_go()
        self.tools_dir.mkdir(parents=True, exist_ok=True)
        self._check_disk()
        env = dict(os.environ, CGO_ENABLED="0", GOBIN=str(self.tools_dir), GOFLAGS="-trimpath",
                   GOWORK="off")
        log_path = self.tools_dir.parent / "build.log"
        with log_path.open("a") as log:
            for t in todo:
                started = time.monotonic()
                progress(f"[exam tools] {t.name} ({t.module}) …")
                cmd = [go, "install", "-ldflags=" + " ".join(
                    ["-s -w", t.ldflags.format(version=t.version)]), t.module]
                log.write(f"\n$ {' '.join(cmd)}\n")
                log.flush()
                res = subprocess.run(cmd, cwd=self.tools_dir.parent, env=env, stdout=log,
                                     stderr=subprocess.STDOUT)
                if res.returncode != 0:
                    raise ToolchainError(f"building {t.name} ({t.module}) failed", log_path)
                progress(f"[exam tools] {t.name} built in {time.monotonic() - started:.0f}s")

    def _build_binaries(self, todo: list[Binary], progress: Callable[[str], None]) -> None:
        """One ``go build`` for every binary in ``todo``: one action graph, so a
        package they share compiles once and one binary links while another's
        packages compile (one build after another left a core idle through
        each binary's last packages and link). Each main package gets its
        version stamp through a per-package ``-ldflags`` pattern."""
        go = self._check_go()
        self.bin_dir.mkdir(parents=True, exist_ok=True)
        self._check_disk()
        progress(
            f"Building {len(todo)} binaries for Kubernetes {self.pins['kubernetes']}, "
            f"etcd {self.pins['etcd']}, kwok {self.pins['kwok']} into {self.dir}"
        )
        progress(f"(a cold build takes 10-30 minutes on 2 cores; the log is {self.log})")
        stamps = self._stamps(go)
        env = dict(os.environ, CGO_ENABLED="0", GOWORK="off", GOFLAGS="-mod=readonly")
        started = time.monotonic()
        # one fixed folder (under the build lock): what a killed build left
        # there is replaced, not kept beside a new one
        tmp = self.bin_dir / ".build"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        try:
            cmd = [go, "build", "-trimpath", "-o", f"{tmp}/", "-ldflags=-s -w"]
            cmd += [f"-ldflags={b.package}=-s -w {stamps[b.stamp]}" for b in todo if b.stamp]
            cmd += [b.package for b in todo]
            with self.log.open("a") as log:
                log.write(f"\n$ {' '.join(cmd)}\n")
                log.flush()
                res = subprocess.run(cmd, cwd=MODULE_DIR, env=env, stdout=log,
                                     stderr=subprocess.STDOUT)
            if res.returncode != 0:
                self._check_disk()
                names = ", ".join(b.name for b in todo)
                raise ToolchainError(f"building {names} failed", self.log)
            for b in todo:
                (tmp / _exec_name(b.package)).replace(self.bin_dir / b.name)
                self._record(b)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        progress(f"{len(todo)} binaries built in {time.monotonic() - started:.0f}s")

    def _record(self, b: Binary) -> None:
        try:
            data = json.loads(self.manifest.read_text())
        except (OSError, ValueError):
            data = {"key": self.key, "versions": self.pins, "binaries": {}}
        data["binaries"][b.name] = b.source
        self.manifest.write_text(json.dumps(data, indent=2))

    def _check_go(self) -> str:
        go = shutil.which("go")
        if not go:
            raise ToolchainError(f"Go is not on PATH; install Go {self.pins['go']} or newer")
        out = subprocess.run([go, "env", "GOVERSION"], capture_output=True, text=True).stdout.strip()
        if _version_tuple(out) < _version_tuple(self.pins["go"]):
            raise ToolchainError(
                f"Go {out or 'of unknown version'} is too old; the pinned modules need "
                f"Go {self.pins['go']} or newer"
            )
        return go

    def _check_disk(self) -> None:
        free = shutil.disk_usage(self.dir if self.dir.exists() else self.dir.parent.parent).free
        if free < MIN_FREE_BYTES:
            raise ToolchainError(
                f"only {free // 1024**2} MB free under {self.dir}; a build needs about "
                f"{MIN_FREE_BYTES // 1024**3} GB", self.log if self.log.exists() else None,
            )

    def _stamps(self, go: str) -> dict[str, str]:
        """ldflags that make ``--version`` report the real releases."""
        kube = self.pins["kubernetes"]
        major, minor = kube.lstrip("v").split(".")[:2]
        build_date = self._release_time(go, f"k8s.io/kubernetes@{kube}")
        kube_flags = []
        for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
            kube_flags += [
                f"-X {pkg}.gitVersion={kube}",
                f"-X {pkg}.gitMajor={major}",
                f"-X {pkg}.gitMinor={minor}",
                f"-X {pkg}.gitTreeState=clean",
                f"-X {pkg}.buildDate={build_date}",
            ]
        etcd = self.pins["etcd"]
        kwok = self.pins["kwok"]
        return {
            "kube": " ".join(kube_flags),
            "etcd": f"-X go.etcd.io/etcd/api/v3/version.GitSHA={etcd}",
            "kwok": " ".join([
                f"-X sigs.k8s.io/kwok/pkg/consts.Version={kwok.lstrip('v')}",
                f"-X sigs.k8s.io/kwok/pkg/consts.KubeVersion={kube.lstrip('v')}",
                "-X sigs.k8s.io/kwok/pkg/consts.PreRelease=GA",
            ]),
        }

    def _release_time(self, go: str, module: str) -> str:
        res = subprocess.run([go, "list", "-m", "-json", module], cwd=MODULE_DIR,
                             capture_output=True, text=True, env=dict(os.environ, GOWORK="off"))
        try:
            return json.loads(res.stdout)["Time"].replace(".000", "")[:19] + "Z"
        except (ValueError, KeyError):
            return "1970-01-01T00:00:00Z"
