"""The kind provider: real nodes as Docker containers, real pods inside.

``kind create cluster`` starts one container per node from Proctor's own node
image (``proctor toolchain build --with-kind``, see ``sandbox/nodeimage``);
kubeadm brings up the control plane from images preloaded in that image, so
nothing is pulled. Each sandbox gets its own Docker network, so one
candidate's nodes cannot reach another's.

Node names are the exam's: the node image's entrypoint renames kind's
``<name>-control-plane``/``<name>-worker``/``<name>-worker2`` containers'
hosts (and so their Kubernetes nodes) to ``controlplane``/``node01``/``node02``.

Options a task can ask for:

* ``nodes=N``: N nodes in all, the control plane included;
* ``unjoined=["node02"]``: these workers start as machines with the kubelet
  and kubeadm installed but not part of the cluster (``kubeadm reset`` after
  kind joined them), for the "join a node" task.

Checks reach a node through testinfra's docker backend (``node_host``), and
the candidate's terminal through ``ssh node01`` (see ``web/terminal``).

Layout under the state directory::

    kind/sandboxes/<name>/sandbox.json   Proctor's record
    kind/sandboxes/<name>/kind.yaml      the kind cluster configuration
    kind/sandboxes/<name>/kubeconfig     admin kubeconfig (https://127.0.0.1:<port>)
    kind/sandboxes/<name>/workspace/     the attempt's files
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import yaml

from confinement.cgroup import SANDBOX_CPU_WEIGHT, cpu_shares

from .base import (CreateFailed, InvalidOption, NameTaken, RecordedProvider, Sandbox,
                   check_name, state_dir)
from .toolchain import Toolchain, ToolchainError

CREATE_TIMEOUT = 300.0
KIND_LABEL = "io.x-k8s.kind.cluster"
NETWORK_PREFIX = "proctor-"


def container_name(cluster: str, node: str) -> str:
    """kind's container for an exam node name: node02 -> <cluster>-worker2."""
    if node == "controlplane":
        return f"{cluster}-control-plane"
    if node.startswith("node") and node[4:].isdigit():
        n = int(node[4:])
        return f"{cluster}-worker" + ("" if n == 1 else str(n))
    raise InvalidOption(f"no node named {node!r}; nodes are controlplane, node01, node02 …")


class KindProvider(RecordedProvider):
    name = "kind"
    capabilities = frozenset({"api", "nodes"})
    create_timeout = CREATE_TIMEOUT

    def __init__(self, root: Path | None = None, toolchain: Toolchain | None = None,
                 image=None):
        from .nodeimage import NodeImage
        self.root = (root or state_dir()) / "kind"
        self.records = self.root / "sandboxes"
        self.toolchain = toolchain or Toolchain()
        self.image = image or NodeImage(self.toolchain)

    # -- helpers -------------------------------------------------------------
    def _env(self, name: str) -> dict:
        return dict(os.environ, KIND_EXPERIMENTAL_PROVIDER="docker",
                    KIND_EXPERIMENTAL_DOCKER_NETWORK=NETWORK_PREFIX + name)

    def _kind(self, *args: str, name: str, log: Path | None = None,
              timeout: float = CREATE_TIMEOUT) -> subprocess.CompletedProcess:
        kind = self.image.tool("kind")
        if not kind.is_file():
            raise CreateFailed("kind is not built; run `proctor toolchain build --with-kind`")
        cmd = [str(kind), *args]
        if log is None:
            return subprocess.run(cmd, env=self._env(name), capture_output=True, text=True,
                                  timeout=timeout, stdin=subprocess.DEVNULL)
        with log.open("a") as fh:
            fh.write(f"$ {' '.join(cmd)}\n")
            fh.flush()
            return subprocess.run(cmd, env=self._env(name), stdout=fh, stderr=subprocess.STDOUT,
                                  timeout=timeout, stdin=subprocess.DEVNULL, text=True)

    def _containers(self, name: str) -> list[str]:
        res = subprocess.run(["docker", "ps", "-a", "--filter", f"label={KIND_LABEL}={name}",
                              "--format", "{{.Names}}"], capture_output=True, text=True)
        return sorted(res.stdout.split())

    @staticmethod
    def _journal(container: str) -> str:
        """The last lines of a node's kubelet and containerd (for a failed create)."""
        res = subprocess.run(["docker", "exec", container, "journalctl", "--no-pager",
                              "-n", "60", "-u", "kubelet", "-u", "containerd"],
                             capture_output=True, text=True)
        return res.stdout + res.stderr

    def node_exec(self, sandbox: Sandbox, node: str, *cmd: str, input: str | None = None,
                  timeout: float = 120) -> subprocess.CompletedProcess:
        """Run a command as root on a node (for setup scripts and the provider itself)."""
        return subprocess.run(["docker", "exec", "-i", container_name(sandbox.name, node), *cmd],
                              input=input, capture_output=True, text=True, timeout=timeout)

    @staticmethod
    def cluster_config(name: str, nodes: int) -> dict:
        """kind's configuration: API on loopback, cgroup v1 allowed, our etcd tag."""
        return {
            "kind": "Cluster",
            "apiVersion": "kind.x-k8s.io/v1alpha4",
            "name": name,
            "networking": {"apiServerAddress": "127.0.0.1", "apiServerPort": 0},
            "nodes": [{"role": "control-plane"}] + [{"role": "worker"}] * (nodes - 1),
            "kubeadmConfigPatches": [
                # The toolchain's etcd is what the node image preloads.
                yaml.safe_dump({"kind": "ClusterConfiguration", "etcd": {"local": {
                    "imageTag": "__ETCD_TAG__"}}}),
                # cgroupfs: the node's containerd runs runc without systemd cgroups.
                # failCgroupV1: hosts like this one still run cgroup v1, which
                # kubelets since v1.35 refuse unless told.
                # resolvConf: written by the node's entrypoint; the node's own
                # (Docker's 127.0.0.11) would make CoreDNS forward to itself.
                yaml.safe_dump({"kind": "KubeletConfiguration", "cgroupDriver": "cgroupfs",
                                "failCgroupV1": False,
                                "resolvConf": "/etc/proctor/pod-resolv.conf"}),
            ],
        }

    # -- the interface ---------------------------------------------------------
    def create(self, name: str, nodes: int = 1, unjoined=(), **options) -> Sandbox:
        names, unjoined, ready = self._start_create(name, nodes, unjoined, options)
        if ready is not None:
            return ready
        if not self.image.exists():
            raise CreateFailed(f"the kind node image {self.image.tag} is not built; run "
                               "`proctor toolchain build --with-kind`")
        return self._create(name, names, unjoined)

    def _made_elsewhere(self, name: str) -> str | None:
        if self._containers(name):
            return (f"a kind cluster named {name!r} exists that Proctor did not create; "
                    f"delete it (kind delete cluster --name {name}) or pick another name")
        return None

    def _create(self, name: str, names: list[str], unjoined: list[str]) -> Sandbox:
        rec = self._record_dir(name)
        (rec / "workspace").mkdir(parents=True, exist_ok=True)
        record = {"name": name, "provider": self.name, "state": "creating",
                  "kubeconfig": str(rec / "kubeconfig"), "api_url": "", "nodes": names,
                  "unjoined": unjoined, "workspace": str(rec / "workspace"),
                  "created_at": time.time(), "capabilities": sorted(self.capabilities),
                  "image": self.image.tag}
        self._write(name, record)
        log = rec / "create.log"
        config = yaml.safe_dump(self.cluster_config(name, len(names))).replace(
            "__ETCD_TAG__", self.image.etcd_tag)
        (rec / "kind.yaml").write_text(config)
        try:
            res = self._kind("create", "cluster", "--name", name, "--image", self.image.tag,
                             "--config", str(rec / "kind.yaml"), "--kubeconfig",
                             str(rec / "kubeconfig"), "--retain", name=name, log=log)
            if res.returncode != 0:
                raise CreateFailed(f"kind create cluster {name} failed (exit {res.returncode})",
                                   log)
            (rec / "kubeconfig").chmod(0o600)
            self._weigh(name, log)
            kubeconfig = yaml.safe_load((rec / "kubeconfig").read_text())
            record["api_url"] = kubeconfig["clusters"][0]["cluster"]["server"]
            sandbox = Sandbox.from_dict(record)
            for node in unjoined:
                self._unjoin(sandbox, node, log)
            self._wait_nodes_usable(sandbox, [n for n in names if n not in unjoined], log,
                                    timeout=180, interval=1)
        except BaseException as exc:
            kept = self._keep_failure(name, [
                ("", log.read_text() if log.exists() else ""),
                *((f"{ctr}: last lines of kubelet and containerd", self._journal(ctr))
                  for ctr in self._containers(name))])
            self.destroy(name)
            if isinstance(exc, CreateFailed):
                raise CreateFailed(str(exc).split(" (log:")[0], kept) from None
            if isinstance(exc, subprocess.TimeoutExpired):
                raise CreateFailed(f"sandbox {name!r} did not become usable in time", kept) from None
            raise
        record["state"] = "ready"
        self._write(name, record)
        return Sandbox.from_dict(record)

    def _weigh(self, name: str, log: Path) -> None:
        """The node containers' share of the CPU when it is short, as a kwok
        sandbox's (``SANDBOX_CPU_WEIGHT`` against 100 for the portal and the shells).
        kind sets no CPU options when it makes them, so from here on: their
        ``kubeadm init`` has the default weight. Like the cpu cgroup of a kwok
        sandbox, nice to have: a Docker that cannot is noted in the log."""
        res = subprocess.run(["docker", "update", f"--cpu-shares={cpu_shares(SANDBOX_CPU_WEIGHT)}",
                              *self._containers(name)], capture_output=True, text=True)
        if res.returncode != 0:
            with log.open("a") as fh:
                fh.write(f"the nodes keep Docker's default CPU weight: docker update "
                         f"--cpu-shares failed: {res.stderr.strip()}\n")

    def _unjoin(self, sandbox: Sandbox, node: str, log: Path) -> None:
        """Make a joined worker a machine that has yet to join."""
        steps = [
            ("kubeadm", "reset", "--force"),
            ("sh", "-c", "rm -rf /etc/cni/net.d/* /var/lib/kubelet/* /etc/kubernetes/kubelet.conf; "
                         "systemctl stop kubelet; ip link delete cni0 2>/dev/null; true"),
        ]
        for cmd in steps:
            res = self.node_exec(sandbox, node, *cmd)
            with log.open("a") as fh:
                fh.write(f"[{node}] $ {' '.join(cmd)}\n{res.stdout}{res.stderr}")
            if res.returncode != 0:
                raise CreateFailed(f"could not un-join {node}: {' '.join(cmd)} exited "
                                   f"{res.returncode}", log)
        res = self.kubectl(sandbox, "delete", "node", node, "--ignore-not-found")
        if res.returncode != 0:
            raise CreateFailed(f"could not delete node {node}: {res.stderr.strip()}", log)

    def _parts_down(self, rec: dict) -> str | None:
        res = subprocess.run(["docker", "inspect", "--format", "{{.Name}} {{.State.Status}}",
                              *[container_name(rec["name"], n) for n in rec["nodes"]]],
                             capture_output=True, text=True)
        down = [line.split()[0].lstrip("/") for line in res.stdout.splitlines()
                if not line.endswith(" running")]
        if res.returncode != 0 or down:
            return f"node containers not running: {', '.join(down) or res.stderr.strip()}"
        return None

    def destroy(self, name: str) -> None:
        check_name(name)
        rec = self._read(name)
        if rec is None and not self._record_dir(name).exists():
            if self._containers(name):
                raise NameTaken(f"kind cluster {name!r} was not created by Proctor; not touching it")
            return
        if self._containers(name):
            self._kind("delete", "cluster", "--name", name, name=name, timeout=120)
        # kind removes its containers and their anonymous /var volumes; after a
        # crash make sure of it, then drop the sandbox's own network.
        left = self._containers(name)
        if left:
            subprocess.run(["docker", "rm", "-f", "-v", *left], capture_output=True)
        subprocess.run(["docker", "network", "rm", NETWORK_PREFIX + name], capture_output=True)
        self._remove_record(name)


    def node_shell(self, sandbox: Sandbox, node: str, tty: bool = True) -> list[str]:
        tty_args = ["-it", "-e", "TERM=xterm-256color"] if tty else ["-i"]
        return ["docker", "exec", *tty_args, "-w", "/root", container_name(sandbox.name, node)]

    def node_host(self, sandbox: Sandbox, node: str):
        """A testinfra host running commands as root on the node's container."""
        import testinfra
        if node not in sandbox.nodes:
            raise InvalidOption(f"sandbox {sandbox.name} has no node {node!r} "
                                f"(it has {', '.join(sandbox.nodes)})")
        return testinfra.get_host(f"docker://{container_name(sandbox.name, node)}")


def node_image_status() -> dict:
    """For ``proctor toolchain status``: is the kind node image built?"""
    from .nodeimage import NodeImage
    try:
        return NodeImage().status()
    except (ToolchainError, OSError) as exc:
        return {"error": str(exc)}
