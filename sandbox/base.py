"""What every provider offers, and the errors it raises.

A provider makes sandboxes (one candidate's cluster each). The surface is
small on purpose, so the portal and the grader never care which one they got:

    provider.create("exam-42", nodes=3) -> Sandbox   # usable when it returns
    provider.get("exam-42") -> Sandbox | None
    provider.health("exam-42") -> Health
    provider.destroy("exam-42")                      # idempotent
    provider.list() -> [Sandbox]
    provider.reap(older_than=3600) -> [names]        # orphans after a crash
    provider.node_host(sandbox, "node01")            # testinfra host or None
    provider.node_shell(sandbox, "node01")           # argv of a shell there, or None
    provider.checkpoint(sandbox) -> checkpoint       # its state now, where provider.rewinds
    provider.rewind(sandbox, checkpoint)             # back to it (validate's fresh copies)
    provider.kubectl(sandbox, "get", "ns")           # the toolchain's kubectl against it
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlencode

NAME_RE = re.compile(r"^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$")
MAX_NODES = 50
# Where a sandbox whose etcd asks for client certificates keeps them: a folder
# beside its kubeconfig, laid out as kubeadm's /etc/kubernetes/pki
# (etcd/ca.crt, etcd/server.crt …; sandbox.kwok.pki makes one).
ETCD_PKI = "pki"
# In it, what a client of etcd needs: the CA, a client certificate and its key.
ETCD_CLIENT_FILES = ("etcd/ca.crt", "etcd/healthcheck-client.crt", "etcd/healthcheck-client.key")


class SandboxError(Exception):
    """Base of every sandbox error; ``str()`` is one line a user can act on."""


class InvalidName(SandboxError):
    def __init__(self, name: str):
        super().__init__(
            f"sandbox name {name!r} is invalid: use 1-40 lowercase letters, digits "
            "and '-', starting with a letter and not ending with '-'"
        )
        self.name = name


class InvalidOption(SandboxError):
    """An option such as ``nodes`` was out of range."""


class UnknownProvider(SandboxError):
    def __init__(self, name: str, known: list[str]):
        super().__init__(f"unknown sandbox provider {name!r}; known: {', '.join(known)}")
        self.name, self.known = name, known


class NameTaken(SandboxError):
    """The name is in use by a cluster Proctor did not make, or with other options."""


class NotFound(SandboxError):
    def __init__(self, name: str, provider: str):
        super().__init__(f"no {provider} sandbox named {name!r}")
        self.name, self.provider = name, provider


class CreateFailed(SandboxError):
    """The cluster did not become usable; ``log`` says why."""

    def __init__(self, message: str, log: Path | None = None):
        super().__init__(f"{message} (log: {log})" if log else message)
        self.log = log


def check_name(name: str) -> str:
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise InvalidName(str(name))
    return name


def check_nodes(nodes) -> int:
    try:
        n = int(nodes)
    except (TypeError, ValueError):
        raise InvalidOption(f"nodes must be a whole number, got {nodes!r}") from None
    if not 1 <= n <= MAX_NODES:
        raise InvalidOption(f"nodes must be between 1 and {MAX_NODES}, got {n}")
    return n


def node_names(count: int) -> list[str]:
    """Exam-style node names: ``controlplane``, ``node01``, ``node02`` …"""
    return ["controlplane"] + [f"node{i:02d}" for i in range(1, count)]


@dataclass
class Sandbox:
    """A plain record of one cluster; safe to serialise and pass between processes."""

    name: str
    provider: str
    kubeconfig: Path
    api_url: str
    nodes: list[str]
    workspace: Path
    created_at: float = field(default_factory=time.time)
    capabilities: frozenset[str] = frozenset({"api"})
    etcd_endpoint: str = ""  # e.g. "https://127.0.0.1:32379" where etcd is reachable
    unjoined: list[str] = field(default_factory=list)  # machines not yet joined (kind)
    # how many times slower than a native cluster this one answers (a VM
    # under TCG: 3); the grader stretches its time limits by it
    slowdown: float = 1.0

    @property
    def etcd_pki(self) -> Path | None:
        """The folder of credentials for :attr:`etcd_endpoint` (``etcd/ca.crt``,
        a client pair ``etcd/healthcheck-client.crt``/``.key`` …), or None
        where the sandbox has none (no reachable etcd, or one that asks for none)."""
        if not self.etcd_endpoint:
            return None
        folder = Path(self.kubeconfig).parent / ETCD_PKI
        return folder if (folder / "etcd" / "ca.crt").is_file() else None

    @property
    def url(self) -> str:
        """The one-string form, e.g. ``kwok://exam-42?nodes=3``."""
        return f"{self.provider}://{self.name}?{urlencode({'nodes': len(self.nodes)})}"

    def to_dict(self) -> dict:
        d = asdict(self)
        d.update(kubeconfig=str(self.kubeconfig), workspace=str(self.workspace),
                 capabilities=sorted(self.capabilities), url=self.url)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Sandbox":
        return cls(
            name=d["name"], provider=d["provider"], kubeconfig=Path(d["kubeconfig"]),
            api_url=d["api_url"], nodes=list(d["nodes"]), workspace=Path(d["workspace"]),
            created_at=float(d["created_at"]), capabilities=frozenset(d["capabilities"]),
            etcd_endpoint=d.get("etcd_endpoint", ""), unjoined=list(d.get("unjoined", [])),
            slowdown=float(d.get("slowdown", 1.0)),
        )


def etcdctl_env(endpoint: str, pki: Path | None) -> dict[str, str]:
    """The ``ETCDCTL_*`` variables with which etcdctl reaches ``endpoint``
    with the CA and client pair (``ETCD_CLIENT_FILES``) of the credentials
    folder ``pki``; only the endpoint where ``pki`` is None.

    >>> etcdctl_env("https://127.0.0.1:7", Path("/p"))["ETCDCTL_CERT"]
    '/p/etcd/healthcheck-client.crt'
    """
    env = {"ETCDCTL_ENDPOINTS": endpoint}
    if pki is not None:
        env.update({var: str(pki / rel) for var, rel in
                    zip(("ETCDCTL_CACERT", "ETCDCTL_CERT", "ETCDCTL_KEY"), ETCD_CLIENT_FILES)})
    return env


@dataclass
class Health:
    ok: bool
    detail: str  # "healthy", or what is wrong: "kube-apiserver (pid 123) is not running"


class Provider(ABC):
    name: str = ""
    capabilities: frozenset[str] = frozenset({"api"})
    # Whether ``destroy`` detaches every mount under a sandbox's workspace
    # (``unmount_under``) before removing it: only then may a shell mount
    # something there (the jail's disk image) that would otherwise outlive it.
    unmounts_workspace: bool = False

    @abstractmethod
    def create(self, name: str, nodes: int = 1, **options) -> Sandbox: ...

    @abstractmethod
    def get(self, name: str) -> Sandbox | None: ...

    @abstractmethod
    def health(self, name: str) -> Health: ...

    @abstractmethod
    def destroy(self, name: str) -> None: ...

    @abstractmethod
    def list(self, include_creating: bool = False) -> list[Sandbox]:
        """Ready sandboxes; with ``include_creating`` also those being made."""

    def reap(self, older_than: float, unhealthy: bool = True) -> list[str]:
        """Destroy sandboxes created more than ``older_than`` seconds ago, and
        (by default) any that are unhealthy, e.g. left half-dead by a crash."""
        now = time.time()
        reaped = []
        for sb in self.list():
            if now - sb.created_at > older_than or (unhealthy and not self.health(sb.name).ok):
                self.destroy(sb.name)
                reaped.append(sb.name)
        return reaped

    def node_host(self, sandbox: Sandbox, node: str):
        """A testinfra host for a node, or None where nodes are simulated."""
        return None

    # whether ``checkpoint`` and ``rewind`` work: not where a sandbox's state is more
    # than its etcd and workspace hold (containers, files on nodes)
    rewinds: bool = False

    def checkpoint(self, sandbox: Sandbox):
        """The sandbox's state now, for ``rewind`` (where ``rewinds``)."""
        raise NotImplementedError(f"{self.name} sandboxes cannot be rewound")

    def rewind(self, sandbox: Sandbox, checkpoint) -> None:
        """Bring ``sandbox`` back to ``checkpoint`` (from ``checkpoint``)."""
        raise NotImplementedError(f"{self.name} sandboxes cannot be rewound")

    def node_shell(self, sandbox: Sandbox, node: str, tty: bool = True) -> list[str] | None:
        """The host command that runs, as root on ``node``, the command appended
        to it (``bash -l``); None where nodes are simulated. The candidate's
        ``ssh node01`` (with a tty) and task scripts' ``on-node`` use it."""
        return None


def unmount_under(path: Path) -> list[str]:
    """Detach every mount at or below ``path`` (deepest first), so that removing
    ``path`` removes files, not what is mounted there: the terminal jail
    loop-mounts each attempt's disk image in its workspace. A lazy unmount
    (MNT_DETACH) succeeds even while a process still uses the mount; the loop
    device frees itself (autoclear) when the last user is gone. Returns the
    mount points it detached; without the privilege to unmount, nothing."""
    import ctypes
    MNT_DETACH, UMOUNT_NOFOLLOW = 2, 8
    real = os.path.realpath(path)
    libc = ctypes.CDLL(None, use_errno=True)
    detached: list[str] = []
    for _ in range(16):  # mounts stacked on one point come off one per round
        try:
            with open("/proc/self/mountinfo") as f:
                points = [re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)),
                                 line.split()[4]) for line in f]
        except OSError:
            return detached
        under = sorted({p for p in points if p == real or p.startswith(real.rstrip("/") + "/")},
                       key=lambda p: p.count("/"), reverse=True)
        if not under:
            break
        progress = False
        for point in under:
            if libc.umount2(point.encode(), MNT_DETACH | UMOUNT_NOFOLLOW) == 0:
                detached.append(point)
                progress = True
        if not progress:
            break
    return detached


def remove_tree(path: Path) -> None:
    """``rm -rf path``, after detaching whatever is mounted below it."""
    unmount_under(path)
    shutil.rmtree(path, ignore_errors=True)


def state_dir() -> Path:
    """``$PROCTOR_STATE_DIR``, else ``$XDG_DATA_HOME/proctor``."""
    env = os.environ.get("PROCTOR_STATE_DIR")
    if env:
        return Path(env).expanduser()
    data = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data) / "proctor"


class RecordedProvider(Provider):
    """A provider that keeps one ``sandbox.json`` per sandbox under ``records``.

    Each provider has its own records directory, so one never lists, reaps or
    destroys another's sandboxes.
    """

    root: Path
    records: Path
    unmounts_workspace = True  # _remove_record: remove_tree unmounts first
    toolchain = None          # sandbox.toolchain.Toolchain, for kubectl
    create_timeout = 90.0     # a create older than twice this that never got ready is dead

    options_hint = ""  # what "<provider> sandboxes take no options" adds

    def _record_dir(self, name: str) -> Path:
        return self.records / name

    def _start_create(self, name: str, nodes: int, unjoined=(), options: dict | None = None
                      ) -> tuple[list[str], list[str], "Sandbox | None"]:
        """What every ``create`` does first: check the name, the nodes, the
        unjoined workers and that no other option is given. A sandbox of the
        same name made the same way, ready and healthy, is returned as it is;
        one half-made or crashed is destroyed; one made another way is
        refused (NameTaken), and so is a cluster of that name that Proctor
        did not make (``_made_elsewhere``). Returns the node names, the
        unjoined workers, and the sandbox to return at once (or None)."""
        check_name(name)
        names = node_names(check_nodes(nodes))
        if options:
            raise InvalidOption(f"{self.name} sandboxes take no options {sorted(options)}"
                                f"{self.options_hint}")
        unjoined = sorted(set([unjoined] if isinstance(unjoined, str) else unjoined))
        for n in unjoined:
            if n not in names or n == "controlplane":
                raise InvalidOption(f"unjoined node {n!r} is not a worker of a {len(names)}-node "
                                    f"sandbox ({', '.join(names[1:]) or 'none'})")
        existing = self._read(name)
        if existing is None:
            elsewhere = self._made_elsewhere(name)
            if elsewhere:
                raise NameTaken(elsewhere)
            return names, unjoined, None
        had = (existing.get("nodes", []), existing.get("unjoined", []))
        if had != (names, unjoined):
            def way(nodes_, unjoined_):
                return f"{len(nodes_)} nodes" + (f" ({', '.join(unjoined_)} unjoined)" if unjoined_ else "")
            raise NameTaken(f"sandbox {name!r} already exists with {way(*had)}, not {way(names, unjoined)}")
        if existing.get("state") == "ready" and self.health(name).ok:
            return names, unjoined, Sandbox.from_dict(existing)
        self.destroy(name)  # half-made or crashed: start over
        return names, unjoined, None

    def _made_elsewhere(self, name: str) -> str | None:
        """Why ``name`` is taken by a cluster Proctor did not make, if it is."""
        return None

    def _remove_record(self, name: str) -> None:
        """Remove a sandbox's record folder, workspace included (and unmounted)."""
        remove_tree(self._record_dir(name))

    def _read(self, name: str) -> dict | None:
        try:
            return json.loads((self._record_dir(name) / "sandbox.json").read_text())
        except (OSError, ValueError):
            return None

    def _keep_failure(self, name: str, parts) -> Path:
        """Keep what explains a failed create in ``failed/<name>-<time>.log``
        (the sandbox itself is destroyed); ``parts`` are ``(heading, text)``
        pairs, a heading of "" for text kept as it is. Returns the file."""
        kept = self.root / "failed" / f"{name}-{int(time.time())}.log"
        kept.parent.mkdir(parents=True, exist_ok=True)
        with kept.open("w") as out:
            for heading, text in parts:
                out.write(f"\n--- {heading} ---\n{text}" if heading else text)
        return kept

    def _write(self, name: str, record: dict) -> None:
        path = self._record_dir(name) / "sandbox.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(record, indent=2))
        tmp.replace(path)

    def get(self, name: str) -> Sandbox | None:
        rec = self._read(name)
        return Sandbox.from_dict(rec) if rec and rec.get("state") == "ready" else None

    def list(self, include_creating: bool = False) -> list[Sandbox]:
        out = []
        if self.records.is_dir():
            for d in sorted(self.records.iterdir()):
                rec = self._read(d.name)
                if rec is not None and (include_creating or rec.get("state") == "ready"):
                    out.append(Sandbox.from_dict(rec))
        return out

    def kubectl(self, sandbox: Sandbox, *args: str, input: str | None = None,
                timeout: float = 30) -> subprocess.CompletedProcess:
        """The toolchain's kubectl against one sandbox (never a kubectl on PATH)."""
        cmd = [str(self.toolchain.binary("kubectl")), "--kubeconfig", str(sandbox.kubeconfig),
               *args]
        return subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout)

    def health(self, name: str) -> Health:
        """Ready in its record, every part running (``_parts_down``), and the
        API server's /readyz passing."""
        rec = self._read(name)
        if rec is None:
            return Health(False, f"no sandbox named {name!r}")
        if rec.get("state") != "ready":
            return Health(False, f"sandbox {name!r} is {rec.get('state')}")
        problem = self._parts_down(rec)
        if problem:
            return Health(False, problem)
        try:
            self._readyz(Sandbox.from_dict(rec))
        except (OSError, subprocess.TimeoutExpired) as exc:
            return Health(False, f"API server at {rec['api_url']} does not answer: {exc}")
        return Health(True, "healthy")

    @abstractmethod
    def _parts_down(self, rec: dict) -> str | None:
        """What of the sandbox's processes or containers is not running, or None."""

    def _readyz(self, sandbox: Sandbox) -> None:
        res = self.kubectl(sandbox, "get", "--raw=/readyz?verbose", "--request-timeout=3s",
                           timeout=5)
        if res.returncode != 0:
            from .kubeapi import failing_checks
            failing = failing_checks(res.stdout)
            raise OSError("readyz failing: " + ", ".join(failing) if failing
                          else (res.stderr.strip().splitlines() or ["no answer"])[-1])

    def _wait_nodes_usable(self, sandbox: Sandbox, joined: list[str], log: Path,
                           timeout: float, interval: float) -> None:
        """For clusters of real nodes: the ``joined`` nodes Ready without
        start-up taints, CoreDNS available, the default ServiceAccount there
        (``kubeapi.wait_usable``); else CreateFailed with what is still
        missing, also written to ``log``."""
        from .kubeapi import wait_usable
        state = wait_usable(lambda *a: self.kubectl(sandbox, *a), set(joined), timeout, interval)
        if state:
            with log.open("a") as fh:
                fh.write(f"not usable after {timeout:.0f}s: {state}\n")
            raise CreateFailed(f"sandbox {sandbox.name!r} not usable after {timeout:.0f}s: {state}",
                               log)

    def destroy_all(self) -> list[str]:
        """Destroy every sandbox of this provider, ready or half-made; returns
        their names (for tear-downs of a whole state root)."""
        names = [sb.name for sb in self.list(include_creating=True)]
        for name in names:
            self.destroy(name)
        return names

    def reap(self, older_than: float, unhealthy: bool = True) -> list[str]:
        """As ``Provider.reap``, plus creates that died half-way, and record
        directories whose sandbox.json never got written (a crash between
        mkdir and write)."""
        reaped = super().reap(older_than, unhealthy)
        for sb in self.list(include_creating=True):
            if sb.name not in reaped and time.time() - sb.created_at > 2 * self.create_timeout \
                    and self.get(sb.name) is None:
                self.destroy(sb.name)
                reaped.append(sb.name)
        if self.records.is_dir():
            for d in self.records.iterdir():
                if d.is_dir() and self._read(d.name) is None:
                    self.destroy(d.name)
                    remove_tree(d)
                    reaped.append(d.name)
        return reaped
