"""The gvisor provider: kwok's control plane, and real nodes in gVisor boxes.

A sandbox with real containers a stranger may own, at a fraction of a core:

* the control plane is the kwok provider's (etcd, kube-apiserver,
  controller-manager, scheduler as confined local processes; ``controlplane``
  a simulated node, tainted as kubeadm leaves it);
* the workers are real nodes: kubelet, containerd and runc each, all in one
  gVisor sandbox (``box.py``), registered with this cluster's API server only;
* CoreDNS and metrics-server run on them (``addons.py``).

The API server reaches the box (``kubectl logs``, ``exec``, ``port-forward``,
``top``, webhooks and aggregated APIs by Service) only through its egress
proxy, which hands every address that is not its kwok-controller to the box's
dialer (``confinement.egress``): whatever a candidate names, the connection is
made inside the box, which has no network to anything else.

With one node, ``controlplane`` itself is real and untainted (as kind
leaves a one-node cluster); with more, ``controlplane`` is simulated and
tainted, and ``node01``, ``node02`` … are real.
"""

from __future__ import annotations

import hashlib
import resource
import time
from pathlib import Path

import yaml

from confinement.cgroup import SANDBOX_CPU_WEIGHT, Limits

from ..base import CreateFailed, Sandbox, remove_tree
from ..kwok import KwokProvider
from ..kwok.confinement import start_relay
from ..kwok.nodes import NODE_ANNOTATION
from . import addons
from .box import BOX_RUN, SERVICE_CIDR, Box, listed
from .image import BoxImage

CREATE_TIMEOUT = 150.0
# Host tasks of a gvisor sandbox: gVisor's systrap platform runs a host task
# for every thread in the box (an idle 2-node box and its control plane use
# about 210), and no pids limit inside the box holds a container back (gVisor
# counts a cgroup's own tasks, not its children's). So a pod forking without
# end stops here, after about 400 processes, and takes the candidate's own box
# down with it (the sandbox turns unhealthy); the host's pid_max (32768 by
# default) holds thirty such sandboxes.
BOX_PIDS = 1024


class GvisorProvider(KwokProvider):
    name = "gvisor"
    capabilities = frozenset({"api", "etcd", "containers"})
    create_timeout = CREATE_TIMEOUT
    workdir = "gvisor"
    kubelets_register = True  # the boxes' kubelets; admission taints their nodes until Ready

    def __init__(self, root: Path | None = None, toolchain=None, limits=None,
                 image: BoxImage | None = None):
        super().__init__(root=root, toolchain=toolchain,
                         limits=limits or Limits(pids=BOX_PIDS, cpu_weight=SANDBOX_CPU_WEIGHT))
        self.image = image or BoxImage(self.toolchain)
        tag = hashlib.sha256(str(self.records.resolve()).encode()).hexdigest()[:8]
        self.box_run = BOX_RUN / tag
        self.runsc_root = BOX_RUN / "runsc"
        # every box of the machine is in one runsc state folder: ids name this state folder
        self.box_prefix = f"proctor-{tag}-"

    rewinds = False  # a box's containers and node files are state that etcd does not hold

    # -- the nodes -------------------------------------------------------------------
    @staticmethod
    def real_nodes(nodes: list[str]) -> list[str]:
        """The nodes that are real: the only node, or every worker."""
        return nodes[:1] if len(nodes) == 1 else nodes[1:]

    def box(self, name: str, nodes: list[str]) -> Box:
        """The gVisor sandbox of ``name``'s real nodes."""
        return Box(self.image.runsc(), self.image.dir, self.runsc_root, self.box_run / name,
                   name, self.real_nodes(nodes), self.box_prefix)

    def _box_of(self, rec: dict) -> Box:
        return self.box(rec["name"], list(rec.get("nodes") or []))

    # -- the control plane, as kwok's with these changes ----------------------------------
    def _kwokctl_options(self) -> dict:
        # the kubernetes Service's address, which pods dial and whose
        # certificate they check
        return {"kubeApiserverCertSANs": [SERVICE_CIDR.rsplit(".", 2)[0] + ".0.1"]}

    def _patches(self, pki, ports, selector, cluster: Path) -> list[dict]:
        patches = super()._patches(pki, ports, selector, cluster)
        pki_dir = cluster / "pki"
        extra = {
            "kube-apiserver": [
                ("service-cluster-ip-range", SERVICE_CIDR),
                # the boxes' kubelets by address, which the egress proxy routes
                ("kubelet-preferred-address-types", "InternalIP,Hostname"),
                # aggregated APIs (metrics-server) verify the API server as a front proxy
                # (kwokctl's admin certificate is its proxy client certificate too)
                ("requestheader-client-ca-file", pki_dir / "ca.crt"),
                ("requestheader-allowed-names", "kwok-admin"),
                ("requestheader-username-headers", "X-Remote-User"),
                ("requestheader-group-headers", "X-Remote-Group"),
                ("requestheader-extra-headers-prefix", "X-Remote-Extra-"),
            ],
            # kwok plays only the simulated nodes; the boxes' kubelets are real
            "kwok-controller": [
                ("manage-all-nodes", "false", True),
                ("manage-nodes-with-annotation-selector", f"{NODE_ANNOTATION}=fake"),
            ],
        }
        by_name = {p["name"]: p for p in patches}
        for component, args in extra.items():
            patch = by_name.setdefault(component, {"name": component, "extraArgs": []})
            if patch not in patches:
                patches.append(patch)
            for key, value, *override in args:
                patch["extraArgs"].append({"key": key, "value": str(value),
                                           "override": bool(override and override[0])})
        return patches

    def _egress_routes(self, name: str, nodes: list[str]) -> dict[str, str]:
        """Every address inside the sandbox's box -> its dial socket: its
        nodes' addresses and pod ranges, and the Services it proxies."""
        box = self.box(name, nodes)
        routes = {SERVICE_CIDR: str(box.dial_socket)}
        for ip, cidr in box.addresses().values():
            routes[f"{ip}/32"] = routes[cidr] = str(box.dial_socket)
        return routes

    def _before_control_plane(self, name: str, record: dict, ports: dict, confine,
                              log: Path) -> None:
        """The box boots while kwokctl starts the control plane: the relay to
        the API server's port (chosen already), then the box itself, waited
        for in ``_add_nodes`` (the two took 3 s and 3-4 s one after the other)."""
        if not self.image.exists():
            raise CreateFailed(f"gvisor's box image is not built ({self.image.dir}); run "
                               "`proctor toolchain build --with-gvisor` (docs/containers.md)")
        logs = self._cluster_dir(name) / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        box = self.box(name, record["nodes"])
        box.prepare()
        start_relay(box.api_socket, ports["kubeApiserverPort"], confine, logs / "relay-api.log",
                    log)
        # no file size limit: gVisor keeps the box's memory in a (sparse) file
        # that grows with what its pods allocate, and a limit on it killed the
        # whole box when a pod forked a few hundred times. The sandbox's cgroup
        # bounds that memory; the box writes no other host file but its host
        # folder's tmpfs.
        box.start(preexec=confine([], file_size=resource.RLIM_INFINITY), log=log, wait=False)

    def _add_nodes(self, sandbox: Sandbox, log: Path, ports: dict, confine) -> None:
        """The simulated nodes as kwok's; each box's credentials, with which its
        kubelet registers its node; the add-ons, scheduled once it has."""
        real = set(self.real_nodes(sandbox.nodes))
        super()._add_nodes(sandbox, log, only=[n for n in sandbox.nodes if n not in real])
        kubeconfig = yaml.safe_load(Path(sandbox.kubeconfig).read_text())
        kubeconfig["clusters"][0]["cluster"]["server"] = "https://127.0.0.1:6443"
        box = self.box(sandbox.name, sandbox.nodes)
        box.wait_served(log)  # it booted while the control plane started
        box.give_credentials(yaml.safe_dump(kubeconfig))
        res = self.kubectl(sandbox, "apply", "-f", "-", input=addons.manifests(self.image.images()),
                           timeout=60)
        if res.returncode != 0:
            with log.open("a") as fh:
                fh.write(res.stdout + res.stderr)
            raise CreateFailed(f"the add-ons of sandbox {sandbox.name!r} were refused: "
                               f"{res.stderr.strip()[:200]}", log)

    def _finish(self, sandbox: Sandbox, log: Path) -> None:
        """The cluster's DNS answers before the sandbox is usable."""
        deadline = time.monotonic() + 60
        while True:
            res = self.kubectl(sandbox, "-n", "kube-system", "get", "pods", "-l",
                               "k8s-app=kube-dns", "-o",
                               "jsonpath={.items[*].status.conditions[?(@.type==\"Ready\")].status}")
            if res.returncode == 0 and "True" in res.stdout.split():
                return
            if time.monotonic() > deadline:
                raise CreateFailed(f"CoreDNS of sandbox {sandbox.name!r} not ready after 60s", log)
            time.sleep(0.2)

    def _failure_parts(self, name: str) -> list[tuple[str, str]]:
        parts = super()._failure_parts(name)
        box = self._box_of(self._read(name) or {"name": name})
        if box.state():
            parts.append((f"the box of {', '.join(box.nodes)}", box.logs()))
        return parts

    def _stop_extra(self, name: str) -> None:
        """The sandbox's box, which runsc knows by the sandbox's name (also
        after a crash between starting it and writing the record)."""
        if self.image.tools_dir.joinpath("runsc").is_file():
            box = self._box_of(self._read(name) or {"name": name})
            if box.id in listed(self.image.runsc(), self.runsc_root):
                box.delete()
        remove_tree(self.box_run / name)  # its host folder is a tmpfs
        try:
            self.box_run.rmdir()  # the last sandbox of this state folder
        except OSError:
            pass

    def reap(self, older_than: float, unhealthy: bool = True) -> list[str]:
        """As the kwok provider's, plus boxes of this state folder whose
        sandbox has no record left (a crash in the middle of a destroy)."""
        reaped = super().reap(older_than, unhealthy)
        if self.image.tools_dir.joinpath("runsc").is_file():
            for box_id in listed(self.image.runsc(), self.runsc_root):
                name = box_id[len(self.box_prefix):]
                if box_id.startswith(self.box_prefix) and not self._record_dir(name).exists():
                    self._stop_extra(name)
                    reaped.append(name)
        return reaped

    def _parts_down(self, rec: dict) -> str | None:
        problem = super()._parts_down(rec)
        if problem:
            return problem
        box = self._box_of(rec)
        return None if box.running() else \
            f"the gVisor sandbox of {', '.join(box.nodes)} is not running"

    def node_shell(self, sandbox: Sandbox, node: str, tty: bool = True) -> list[str] | None:
        """``runsc exec`` into the node's box, for ``ssh node01``; None for a
        simulated node."""
        box = self.box(sandbox.name, sandbox.nodes)
        return box.exec_argv(node, tty) if node in box.nodes else None
