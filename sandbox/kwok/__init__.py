"""The kwok provider: real control plane as local processes, simulated nodes.

``kwokctl --runtime binary`` starts etcd, kube-apiserver,
kube-controller-manager, kube-scheduler and kwok-controller from the local
toolchain (never a download), bound to 127.0.0.1. Proctor then registers the
exam's nodes (``controlplane``, ``node01`` …) as Node objects that kwok keeps
Ready and whose pods it walks through their lifecycle.

Security: the candidate has cluster-admin and raw etcd access, so everything
the cluster can be told to do is hostile input (docs/security.md):

* kwok can serve ``exec``/``attach``/``port-forward``/``logs`` by running
  commands *on the host*. Those features only act on Exec/Attach/PortForward
  rules from its config or CRDs it was started to watch; Proctor gives it
  none and enables no CRDs, so ``kubectl exec`` is refused and a candidate
  cannot add a rule (a CRD of the same name is ignored).
* The API server dials only through ``confinement.egress``, which allows its own
  kwok-controller and nothing else (node addresses, pod IPs, endpoints,
  webhook URLs all stay inside).
* Every process of the sandbox may bind and connect only the sandbox's own
  TCP ports (``confinement.landlock``; etcd members a candidate adds are never
  dialled), runs in a cgroup with memory and pids limits and with a file
  size limit (``confinement.cgroup``), and etcd has a small quota (ETCD_QUOTA).
* Its ports on the host's loopback are open to every local process, so each
  asks for credentials of this sandbox alone or serves nothing (``flags``):
  etcd speaks TLS and wants a client certificate of the sandbox's own CA
  (``pki``), the API server wants kwokctl's per-cluster credentials, the
  controller-manager and scheduler open no port.

Layout under the state directory (``$PROCTOR_STATE_DIR``, default
``~/.local/share/proctor``)::

    kwok/clusters/<name>/        kwokctl's own workdir for the cluster
    kwok/clusters/<name>/egress.sock  the API server's only way out (confinement.egress)
    sandboxes/<name>/sandbox.json  Proctor's record (written before kwokctl runs)
    sandboxes/<name>/kwokctl.yaml  this cluster's kwokctl configuration (its ports)
    sandboxes/<name>/kubeconfig    admin kubeconfig for this cluster only
    sandboxes/<name>/pki/          etcd's credentials, as kubeadm lays them out (pki.make_etcd)
    sandboxes/<name>/workspace/    the attempt's files, readable by the grader
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import psutil
import yaml

from confinement import egress
from confinement.cgroup import SANDBOX_CPU_WEIGHT, Cgroup, Limits

from ..base import (ETCD_PKI, CreateFailed, NameTaken, RecordedProvider, Sandbox, check_name,
                    node_names, state_dir)
from .. import kubeapi
from ..toolchain import Toolchain
from . import pki
from .confinement import confinement, start_egress
from .flags import components_patches, kwok_configuration
from .host import free_ports, listening_ports, machine_lock, wait_gone
from .nodes import node_manifest
from .rewind import (Checkpoint, RewindFailed, check_owner, restore_checkpoint, save_checkpoint,
                     settle)

CREATE_TIMEOUT = 90.0
# Memory: an exam cluster is small and mostly idle, so its Go processes can
# collect garbage more eagerly (measured: ~540 -> ~490 MB PSS per sandbox,
# bench/sandbox_start.py). The components inherit kwokctl's env. No
# GOMEMLIMIT: the API server's live heap outgrows any small limit once a
# cluster has held a few objects (a helm chart, a CRD, a validation's many
# tasks), and below it Go collects without pause: 84 % of its CPU went to
# the collector in `proctor validate`, and the kwok part of the bank proved
# 16-20 % slower; with GOGC alone the idle PSS is the same (494 vs 488 MB).
COMPONENT_ENV = {"GOGC": "40"}
# etcd's quota (kwokctl's default is 8Gi). An exam cluster holds a few
# hundred objects (a few MB); a candidate who floods it hits NOSPACE in their
# own cluster, which then refuses writes until compacted, defragmented and
# disarmed, and never fills the host's disk. Snapshots of it stay small.
ETCD_QUOTA = "256Mi"
# Every port kwokctl asks for; Proctor picks them, so that the sandbox can be
# confined to them before kwokctl starts anything.
COMPONENT_PORTS = ("kubeApiserverPort", "etcdPort", "etcdPeerPort",
                   "kubeControllerManagerPort", "kubeSchedulerPort", "kwokControllerPort")
# The components that remember more than etcd holds: stopped while a rewind
# writes etcd, started again after (sandbox.kwok.rewind). None elects a leader.
CONTROLLERS = ("kube-controller-manager", "kube-scheduler", "kwok-controller")
# The ones a component binds (the controller-manager and scheduler open none,
# see flags.py): the only TCP ports the sandbox's processes may use.
LISTENING_PORTS = ("kubeApiserverPort", "etcdPort", "etcdPeerPort", "kwokControllerPort")


class KwokProvider(RecordedProvider):
    name = "kwok"
    capabilities = frozenset({"api", "etcd"})
    create_timeout = CREATE_TIMEOUT
    workdir = ""  # a subclass keeps its clusters and records apart (sandbox.gvisor)
    # whether kubelets register nodes (gvisor's boxes), or only Proctor (``_add_nodes``)
    kubelets_register = False

    def __init__(self, root: Path | None = None, toolchain: Toolchain | None = None,
                 limits: Limits | None = None, etcd_quota: str = ETCD_QUOTA):
        self.root = root or state_dir()
        self.toolchain = toolchain or Toolchain()
        base = self.root / self.workdir if self.workdir else self.root
        self.kwok_workdir = base / "kwok"
        self.records = base / "sandboxes"
        self.limits = limits or Limits(cpu_weight=SANDBOX_CPU_WEIGHT)
        self.etcd_quota = etcd_quota

    # -- paths -------------------------------------------------------------
    def _cluster_dir(self, name: str) -> Path:
        return self.kwok_workdir / "clusters" / name

    def cgroup(self, name: str) -> Cgroup:
        """The sandbox's cgroup; its name is unique per state directory, so two
        portals (or test runs) with sandboxes of the same name never share one."""
        return Cgroup(self._cgroup_prefix() + name)

    def _cgroup_prefix(self) -> str:
        tag = hashlib.sha256(str(self.records.resolve()).encode()).hexdigest()[:8]
        return f"proctor-{self.name}-{tag}-"

    def reap(self, older_than: float, unhealthy: bool = True) -> list[str]:
        """As ``RecordedProvider.reap``, plus cgroups of this state directory
        whose sandbox has no record and no cluster left (removed by hand, or a
        crash in the middle of a destroy): what still runs in them is killed."""
        reaped = super().reap(older_than, unhealthy)
        prefix = self._cgroup_prefix()
        for cg in Cgroup.find(prefix):
            name = cg.name[len(prefix):]
            if not self._record_dir(name).exists() and not self._cluster_dir(name).exists():
                cg.destroy()
                reaped.append(name)
        return reaped

    # -- kwokctl -------------------------------------------------------------
    def _config_file(self, path: Path | None = None, patches: list[dict] | None = None,
                     **extra) -> Path:
        """The kwokctl configuration: local binaries, loopback, no CRDs, no
        profiling in kwok-controller (plus ``extra`` options, e.g. one
        cluster's ports, and one cluster's ``patches`` of its components'
        flags, ``flags.components_patches``)."""
        tc = self.toolchain
        path = path or self.root / "kwokctl.yaml"
        options = {
            "runtime": "binary",
            "bindAddress": "127.0.0.1",
            "kubeApiserverBinary": str(tc.binary("kube-apiserver")),
            "kubeControllerManagerBinary": str(tc.binary("kube-controller-manager")),
            "kubeSchedulerBinary": str(tc.binary("kube-scheduler")),
            "kwokControllerBinary": str(tc.binary("kwok")),
            "etcdBinary": str(tc.binary("etcd")),
            "etcdctlBinary": str(tc.binary("etcdctl")),
            "kubectlBinary": str(tc.binary("kubectl")),
            "kubeVersion": tc.pins["kubernetes"],
            "etcdVersion": tc.pins["etcd"].lstrip("v"),
            "enableCRDs": [],
            "quietPull": True,
            "etcdQuotaBackendSize": self.etcd_quota,
            **extra,
        }
        doc = {"apiVersion": "config.kwok.x-k8s.io/v1alpha1", "kind": "KwokctlConfiguration",
               "options": options, **({"componentsPatches": patches} if patches else {})}
        text = yaml.safe_dump_all([doc, kwok_configuration()], sort_keys=True)
        self.root.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
        return path

    def _kwokctl(self, *args: str, log: Path | None = None, timeout: float = CREATE_TIMEOUT,
                 check: bool = True, config: Path | None = None,
                 preexec=None) -> subprocess.CompletedProcess:
        # kwokctl runs the first `kubectl` on PATH before its configured one:
        # ours goes first, so no other kubectl (or download) is ever used.
        env = dict(os.environ, **COMPONENT_ENV, KWOK_WORKDIR=str(self.kwok_workdir),
                   PATH=f"{self.toolchain.bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
        cmd = [str(self.toolchain.binary("kwokctl")), "--config",
               str(config or self._config_file()), *args]
        try:
            if log is not None:
                with log.open("a") as fh:
                    fh.write(f"$ {' '.join(cmd)}\n")
                    fh.flush()
                    res = subprocess.run(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT,
                                         timeout=timeout, stdin=subprocess.DEVNULL,
                                         preexec_fn=preexec)
            else:
                res = subprocess.run(cmd, env=env, capture_output=True, text=True,
                                     timeout=timeout, stdin=subprocess.DEVNULL, preexec_fn=preexec)
        except subprocess.SubprocessError as exc:
            if isinstance(exc, subprocess.TimeoutExpired):
                raise
            # preexec_fn failed: joining the cgroup or the Landlock call
            raise CreateFailed(f"kwokctl {args[0]} could not be confined: {exc}", log) from None
        if check and res.returncode != 0:
            raise CreateFailed(f"kwokctl {args[0]} {args[1] if len(args) > 1 else ''} failed "
                               f"(exit {res.returncode})", log)
        return res

    # -- rewinding (validate's fresh copies of a post-setup cluster) ---------------------
    rewinds = True

    def checkpoint(self, sandbox: Sandbox) -> Checkpoint:
        """Its etcd keys and workspace now (``sandbox.kwok.rewind``)."""
        if not self.rewinds:  # a subclass with more state than that (sandbox.gvisor)
            return super().checkpoint(sandbox)
        return save_checkpoint(sandbox, self._record_dir(sandbox.name) / "checkpoints")

    def rewind(self, sandbox: Sandbox, checkpoint: Checkpoint) -> None:
        if not self.rewinds:
            return super().rewind(sandbox, checkpoint)
        check_owner(sandbox, checkpoint)
        with self._controllers_stopped(sandbox.name):
            restore_checkpoint(sandbox, checkpoint)
        settle(sandbox)

    @contextlib.contextmanager
    def _controllers_stopped(self, name: str):
        """``CONTROLLERS`` stopped, then started again as they were: the same
        command line, environment and folder, confined as at create, their output
        to the same log, and the pid files kwokctl stops them by."""
        cluster = self._cluster_dir(name)
        stopped = []
        for comp in CONTROLLERS:
            pidfile = cluster / "pids" / f"{comp}.pid"
            try:
                proc = psutil.Process(int(pidfile.read_text().strip()))
                argv, env, cwd = proc.cmdline(), proc.environ(), proc.cwd()
            except (OSError, ValueError, psutil.Error) as exc:
                raise RewindFailed(f"sandbox {name!r}: its {comp} is not running ({exc})") from None
            if not argv or not argv[0].startswith(f"{cluster}/"):
                raise RewindFailed(f"sandbox {name!r}: pid file {pidfile} names {argv[:1]}, "
                                   f"not its {comp}")
            proc.terminate()
            stopped.append((comp, pidfile, argv, env, cwd, proc))
        for proc in wait_gone([s[-1] for s in stopped], timeout=10):
            proc.kill()
        try:
            yield
        finally:
            ports = self._ports(name)
            confine = confinement(self.cgroup(name), self.limits, {})
            for comp, pidfile, argv, env, cwd, old in stopped:
                if comp == "kwok-controller":
                    argv = pod_cidr_after(argv)
                with (cluster / "logs" / f"{comp}.log").open("a") as out:
                    # setsid -f: an orphan, as kwokctl leaves its components
                    subprocess.run(["setsid", "-f", *argv], env=env, cwd=cwd,
                                   stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                   preexec_fn=confine(ports[p] for p in LISTENING_PORTS),
                                   check=True, timeout=30)
                pidfile.write_text(str(self._started(name, argv, old.pid)))

    def _started(self, name: str, argv: list[str], old: int, timeout: float = 10) -> int:
        """The pid of the process of ``name`` running ``argv`` that is not ``old``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for proc in self.processes(name):
                try:
                    if proc.pid != old and proc.cmdline() == argv:
                        return proc.pid
                except psutil.Error:
                    continue
            time.sleep(0.05)
        raise RewindFailed(f"sandbox {name!r}: {Path(argv[0]).name} did not start again")

    def _ports(self, name: str) -> dict[str, int]:
        """The ports Proctor chose for the sandbox's components (its kwokctl.yaml)."""
        config = next(yaml.safe_load_all((self._record_dir(name) / "kwokctl.yaml").read_text()))
        return {p: int(config["options"][p]) for p in COMPONENT_PORTS}

    # -- what a subclass changes (sandbox.gvisor) ---------------------------------------
    def _kwokctl_options(self) -> dict:
        """kwokctl options beyond the ones every kwok sandbox has."""
        return {}

    def _patches(self, pki, ports: dict, selector: Path, cluster: Path) -> list[dict]:
        """The components' flags (``flags.components_patches``), and no taint on
        a new node: Proctor registers kwok's nodes, which kwok reports Ready
        from the start; admission's not-ready taint would keep every Pod off
        them until the controller-manager has started and taken it off again
        (1-2 s of every create here)."""
        patches = components_patches(pki, ports, selector)
        if not self.kubelets_register:
            next(p for p in patches if p["name"] == "kube-apiserver")["extraArgs"].append(
                {"key": "disable-admission-plugins", "value": "TaintNodesByCondition",
                 "override": False})
        return patches

    def _egress_routes(self, name: str, nodes: list[str]) -> dict[str, str]:
        """``{cidr: box dial socket}`` for the egress proxy; kwok has no boxes."""
        return {}

    def _before_control_plane(self, name: str, record: dict, ports: dict, confine,
                              log: Path) -> None:
        """What may start while the control plane does (its ports are chosen)."""

    def _finish(self, sandbox: Sandbox, log: Path) -> None:
        """What follows once nodes are Ready and the API serves."""

    def _stop_extra(self, name: str) -> None:
        """What to stop before the control plane goes."""

    def _failure_parts(self, name: str) -> list[tuple[str, str]]:
        """``(heading, text)`` that explain a failed create: the components' logs."""
        return [(f"last lines of {c.name}",
                 "\n".join(c.read_text(errors="replace").splitlines()[-40:]))
                for c in sorted((self._cluster_dir(name) / "logs").glob("*.log"))]

    # -- the interface ---------------------------------------------------------
    options_hint = ": its nodes are simulated (unjoined workers need real nodes: -p kind)"

    def _made_elsewhere(self, name: str) -> str | None:
        if self._cluster_dir(name).exists():
            return (f"a kwok cluster named {name!r} exists that Proctor did not create "
                    f"({self._cluster_dir(name)}); remove it or pick another name")
        return None

    def create(self, name: str, nodes: int = 1, **options) -> Sandbox:
        names, _, ready = self._start_create(name, nodes, options=options)
        if ready is not None:
            return ready
        nodes = len(names)
        try:
            return self._create(name, nodes)
        except CreateFailed as first:
            # kwokctl picks free ports at random and binds them a moment later;
            # with many sandboxes starting at once two can pick the same one.
            # One fresh try hides that race; a second failure is real.
            try:
                return self._create(name, nodes)
            except CreateFailed as second:
                raise second from first

    def _create(self, name: str, nodes: int) -> Sandbox:
        rec = self._record_dir(name)
        (rec / "workspace").mkdir(parents=True, exist_ok=True)
        record = {"name": name, "provider": self.name, "state": "creating",
                  "kubeconfig": str(rec / "kubeconfig"), "api_url": "",
                  "nodes": node_names(nodes), "workspace": str(rec / "workspace"),
                  "created_at": time.time(), "capabilities": sorted(self.capabilities)}
        self._write(name, record)
        log = rec / "create.log"
        try:
            # kwokctl picks "unused" ports by probing them, then binds them a
            # moment later, so two creates at once pick the same ports (and a
            # controller of one cluster then talks to another's API server).
            # One create at a time on this machine, until its API answers.
            with machine_lock():
                ports = dict(zip(COMPONENT_PORTS, free_ports(len(COMPONENT_PORTS))))
                etcd_pki = pki.make_etcd(rec / ETCD_PKI)
                options = self._kwokctl_options()
                pki.make_api(self._cluster_dir(name) / "pki", options.get("kubeApiserverCertSANs", []))
                selector = egress.selector_config(self.root / "egress-selector.yaml")
                config = self._config_file(
                    rec / "kwokctl.yaml",
                    patches=self._patches(etcd_pki, ports, selector, self._cluster_dir(name)),
                    **ports, **options)
                confine = confinement(self.cgroup(name), self.limits, record)
                self._write(name, record)
                self._before_control_plane(name, record, ports, confine, log)
                self._kwokctl("create", "cluster", "--name", name, "--kubeconfig", "",
                              "--timeout", f"{int(CREATE_TIMEOUT)}s", log=log, config=config,
                              preexec=confine(ports[p] for p in LISTENING_PORTS))
                start_egress(name, self._cluster_dir(name), ports["kwokControllerPort"], confine,
                             log, self._egress_routes(name, record["nodes"]))
                kubeconfig = self._kwokctl("get", "kubeconfig", "--name", name).stdout
                (rec / "kubeconfig").write_text(kubeconfig)
                (rec / "kubeconfig").chmod(0o600)
                record["api_url"] = yaml.safe_load(kubeconfig)["clusters"][0]["cluster"]["server"]
                record["etcd_endpoint"] = f"https://127.0.0.1:{ports['etcdPort']}"
                sandbox = Sandbox.from_dict(record)
                self._add_nodes(sandbox, log, ports, confine)
            self._wait_usable(sandbox, log)
            self._finish(sandbox, log)
        except BaseException as exc:
            # Leave nothing behind on failure or Ctrl-C; keep the log for the error.
            kept = self._keep_failure(name, [("", log.read_text() if log.exists() else ""),
                                             *self._failure_parts(name)])
            self.destroy(name)
            if isinstance(exc, CreateFailed):
                raise CreateFailed(str(exc).split(" (log:")[0], kept) from None
            if isinstance(exc, (subprocess.TimeoutExpired, TimeoutError)):
                raise CreateFailed(f"sandbox {name!r} did not become usable in time", kept) from None
            raise
        record["state"] = "ready"
        self._write(name, record)
        return Sandbox.from_dict(record)

    def _add_nodes(self, sandbox: Sandbox, log: Path, ports: dict | None = None, confine=None,
                   only: list[str] | None = None) -> None:
        """Register the simulated nodes (``only`` these, if given)."""
        tainted = len(sandbox.nodes) > 1
        todo = [("/api/v1/nodes",
                 node_manifest(n, self.toolchain.pins["kubernetes"], n == "controlplane", tainted))
                for n in sandbox.nodes if only is None or n in only]
        # The controller-manager would make this a few seconds later; making it
        # now lets the sandbox be usable (pods admitted) as soon as nodes are Ready.
        todo.append(("/api/v1/namespaces/default/serviceaccounts",
                     {"apiVersion": "v1", "kind": "ServiceAccount",
                      "metadata": {"name": "default", "namespace": "default"}}))
        api = kubeapi.client(sandbox)
        deadline = time.monotonic() + 30
        while todo:
            path, body = todo[0]
            try:
                status, answer = kubeapi.request(api, "POST", path, body)
            except OSError as exc:
                status, answer = 0, str(exc)
            if status in (201, 409):  # 409: made already, by an earlier try
                todo.pop(0)
            elif time.monotonic() > deadline:
                problem = answer.get("message") if isinstance(answer, dict) else answer
                raise CreateFailed(f"could not register {body['metadata']['name']!r}: "
                                   f"{status} {str(problem)[:200]}", log)
            else:
                time.sleep(0.1)

    def _wait_usable(self, sandbox: Sandbox, log: Path, timeout: float = 120) -> None:
        """Nodes Ready and untainted, the default ServiceAccount present (pods
        need it) and every post-start hook of the API server done."""
        api = kubeapi.client(sandbox)
        deadline = time.monotonic() + timeout
        want = set(sandbox.nodes)
        ready: set[str] = set()
        has_sa, failing = False, ["not asked yet"]
        while time.monotonic() < deadline:
            try:
                if ready != want:
                    ready = kubeapi.ready_nodes(kubeapi.request(api, "GET", "/api/v1/nodes")[1])
                if ready == want and not has_sa:
                    has_sa = kubeapi.request(
                        api, "GET", "/api/v1/namespaces/default/serviceaccounts/default")[0] == 200
                if has_sa:
                    failing = kubeapi.readyz_failing(api)
                    if not failing:
                        return
            except OSError:
                pass
            time.sleep(0.05)
        last = (f"ready nodes {sorted(ready)} of {sorted(want)}, default ServiceAccount "
                f"{'present' if has_sa else 'missing'}, readyz failing {', '.join(failing)}")
        with log.open("a") as fh:
            fh.write(f"not usable after {timeout}s: {last}\n")
        raise CreateFailed(f"sandbox {sandbox.name!r} not usable after {timeout:.0f}s: {last}", log)

    def processes(self, name: str) -> list[psutil.Process]:
        """Every process that belongs to this cluster: in its cgroup, or with
        its workdir on the command line (after a crash, or without cgroups)."""
        marker = str(self._cluster_dir(name)) + "/"
        found = {}
        for proc in psutil.process_iter(["cmdline"]):
            try:
                if any(marker in arg for arg in proc.info["cmdline"] or ()):
                    found[proc.pid] = proc
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        for pid in self.cgroup(name).pids() - set(found):
            try:
                found[pid] = psutil.Process(pid)
            except psutil.NoSuchProcess:
                pass
        return list(found.values())

    def _parts_down(self, rec: dict) -> str | None:
        names = {"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler",
                 "kwok-controller"}
        running = set()
        for p in self.processes(rec["name"]):
            try:
                argv = p.cmdline()
                running.add("egress proxy" if egress.__file__ in argv else Path(argv[0]).name)
            except (psutil.NoSuchProcess, IndexError):
                pass
        if "confinement" in rec:  # sandboxes made before the egress proxy have none
            names.add("egress proxy")
        missing = sorted(names - running)
        return f"{', '.join(missing)} not running" if missing else None

    def destroy(self, name: str) -> None:
        check_name(name)
        rec = self._read(name)
        cluster = self._cluster_dir(name)
        if rec is None and not self._record_dir(name).exists():
            if cluster.exists():
                raise NameTaken(f"kwok cluster {name!r} was not created by Proctor; "
                                f"not touching {cluster}")
            return
        self._stop_extra(name)
        ports = listening_ports(self.processes(name))
        if cluster.exists():
            self._kwokctl("delete", "cluster", "--name", name, check=False, timeout=60)
        # kwokctl leaves nothing when its processes are healthy; after a crash
        # or a half-made create, make sure of it ourselves.
        procs = self.processes(name)
        for p in procs:
            try:
                p.send_signal(signal.SIGTERM)
            except psutil.NoSuchProcess:
                pass
        alive = wait_gone(procs, timeout=5)
        for p in alive:
            try:
                p.kill()
            except psutil.NoSuchProcess:
                pass
        wait_gone(alive, timeout=5)
        self.cgroup(name).destroy()
        # A killed process's listening sockets close a moment after it dies;
        # return only when the ports are free for the next sandbox.
        deadline = time.monotonic() + 10
        while ports and time.monotonic() < deadline:
            ports &= {c.laddr.port for c in psutil.net_connections(kind="inet")
                      if c.status == psutil.CONN_LISTEN}
            if ports:
                time.sleep(0.05)
        shutil.rmtree(cluster, ignore_errors=True)
        self._remove_record(name)


def pod_cidr_after(argv: list[str]) -> list[str]:
    """kwok-controller's command line with the next Pod CIDR of its own.

    kwok v0.8.0 marks a Pod's IP as taken only when one of its stages patches
    the Pod, so a kwok-controller started again next to running Pods hands out
    their IPs a second time. After each rewind it takes Pod IPs from a range no
    Pod of the checkpoint has: 10.1.0.0/24, 10.2.0.0/24, … (the first create's
    is 10.0.0.0/24; 10.96.0.0/12 holds the Services)."""
    flag = "--cidr="
    now = next((a for a in argv if a.startswith(flag)), "")
    try:
        used = int(now[len(flag):].split(".")[1])
    except (IndexError, ValueError):
        used = 0
    following = used % 95 + 1  # 1 … 95, never the Services' 96 … 111
    return [a for a in argv if not a.startswith(flag)] + [f"{flag}10.{following}.0.0/24"]
