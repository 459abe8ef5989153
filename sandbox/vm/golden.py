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

import base64
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable


from ..nodeimage import _digest
from ..toolchain import ToolchainError
from .image import VMImage, cache_root
from .qemu import Machine, Qemu, QemuError, detect_accel, free_port, kill_pid, tail
from .ssh import Node
from .recipe import (APPEND, CP_CPUS, CP_MEMORY_MB, PRIVATE_NET, PROBES, STAGES, TIMEOUTS,
                     VARIANTS, WORKER_CPUS, WORKER_MEMORY_MB, cpus, join_config, kubeadm_config,
                     kubeadm_patches, memory_mb, node_index, node_ip, usable_state)


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
        if self._accel is None:
            self._accel = self.accel_info()["accel"]
        return self._accel

    def accel_info(self) -> dict:
        return detect_accel(self.image.kernel, self.image.initrd, self.root / "accel.json")

    @property
    def key(self) -> str:
        return _digest(self.image.key, self.accel, APPEND, STAGES, TIMEOUTS, PROBES, CP_MEMORY_MB,
                       WORKER_MEMORY_MB, CP_CPUS, WORKER_CPUS, PRIVATE_NET,
                       kubeadm_config(self.image.kube, self.image.node.etcd_tag))

    @property
    def dir(self) -> Path:
        return self.root / f"golden-{self.image.kube}-{self.key}"

    def exists(self) -> bool:
        return (self.dir / "manifest.json").is_file()

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
        if self.exists() and not force:
            return self.dir
        self.image.build(progress)
        info = self.accel_info()
        progress(f"[golden] acceleration: {info['accel']} ({info['reason']})")
        builder = _Builder(self, progress)
        try:
            builder.run()
        finally:
            builder.cleanup()
        return self.dir


class _Builder:
    """One golden build: boots, kubeadm, saves; see ``Golden``."""

    def __init__(self, golden: Golden, progress):
        self.g = golden
        self.say = progress
        self.work = golden.dir.with_name(golden.dir.name + ".building")
        self.vms: dict[str, Qemu] = {}
        self.nodes: dict[str, Node] = {}
        self.layers: dict[str, int] = {}
        self.host_keys: dict[str, str] = {}
        self.hub: subprocess.Popen | None = None
        self.started = time.monotonic()

    def log(self, text: str) -> None:
        with (self.work / "build.log").open("a") as f:
            f.write(text.rstrip("\n") + "\n")

    def step(self, text: str) -> None:
        self.log(f"== {text}")
        self.say(f"[golden {time.monotonic() - self.started:4.0f}s] {text}")

    def run(self) -> None:
        self._kill_leftovers()
        shutil.rmtree(self.work, ignore_errors=True)
        (self.work / "variants").mkdir(parents=True)
        (self.work / "nodes").mkdir()
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "proctor-golden",
                        "-f", str(self.work / "id_ed25519")], check=True)
        self.hub = subprocess.Popen([sys.executable, "-I", str(Path(__file__).with_name("hub.py")),
                                     str(self.work / "hub.sock")], start_new_session=True)
        self._pids()
        _wait_for(lambda: (self.work / "hub.sock").exists(), 10, "the private switch")

        self.step("booting controlplane")
        cp = self.boot("controlplane")
        kube, etcd_tag = self.g.image.kube, self.g.image.node.etcd_tag
        cp.write("/root/kubeadm.yaml", kubeadm_config(kube, etcd_tag))
        self.step("kubeadm init (minutes with TCG)")
        self.kubeadm_init(cp)
        self.admin = cp.read("/etc/kubernetes/admin.conf")
        self.sh(cp, "kubectl --kubeconfig /etc/kubernetes/admin.conf apply "
                    "-f /kind/manifests/default-cni.yaml -f /kind/manifests/default-storage.yaml",
                600)
        # one node: workloads run on the control plane, as kind does it
        self.sh(cp, "kubectl --kubeconfig /etc/kubernetes/admin.conf taint nodes controlplane "
                    "node-role.kubernetes.io/control-plane:NoSchedule-", 300)
        self.wait_usable(["controlplane"])
        self.save("1", ["controlplane"], [])

        self.sh(cp, "kubectl --kubeconfig /etc/kubernetes/admin.conf taint nodes controlplane "
                    "node-role.kubernetes.io/control-plane:NoSchedule --overwrite", 300)
        self.step("booting node01")
        self.boot("node01")
        self.join("node01")
        self.wait_usable(["controlplane", "node01"])
        self.save("2", ["controlplane", "node01"], [])

        self.step("booting node02 (to stay unjoined)")
        n2 = self.boot("node02")
        self.sh(n2, "systemctl stop kubelet", 300)
        self.save("3-node02-unjoined", ["controlplane", "node01", "node02"], ["node02"])

        self.join("node02")
        self.wait_usable(["controlplane", "node01", "node02"])
        self.save("3", ["controlplane", "node01", "node02"], [])
        self.finish()

    # -- steps ---------------------------------------------------------------------
    def boot(self, node: str) -> Node:
        ndir = self.work / "nodes" / node
        ndir.mkdir(parents=True)
        layer = ndir / "layer-0.qcow2"
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2",
                        "-b", str(self.g.image.disk), str(layer)], check=True)
        self.layers[node] = 0
        key = base64.b64encode((self.work / "id_ed25519.pub").read_bytes().strip()).decode()
        i = node_index(node)
        machine = Machine(node=node, index=i, accel=self.g.accel, cpus=cpus(node),
                          memory_mb=memory_mb(node), kernel=self.g.image.kernel,
                          initrd=self.g.image.initrd,
                          append=APPEND.format(node=node, ip=node_ip(i), key=key),
                          disk=layer, qmp=ndir / "qmp.sock", hub=self.work / "hub.sock",
                          ssh_port=free_port(), api_port=free_port() if i == 0 else None,
                          serial=ndir / "console.log")
        vm = Qemu(machine, ndir / "qemu.log").start()
        self.vms[node] = vm
        self._pids()
        n = Node(node, "127.0.0.1", machine.ssh_port, self.work / "id_ed25519", known_hosts=None)
        try:
            n.wait(timeout=900, alive=vm.alive)
        except TimeoutError as exc:
            raise ToolchainError(f"{node} did not answer SSH: {exc}; console: "
                                 f"{tail(ndir / 'console.log')}", self.work / "build.log")
        self.nodes[node] = n
        self.host_keys[node] = " ".join(n.read("/etc/ssh/ssh_host_ed25519_key.pub").split()[:2])
        return n

    def sh(self, node: Node, command: str, timeout: float) -> str:
        self.log(f"[{node.name}] $ {command}")
        rc, out, err = node.run(command, timeout=timeout)
        self.log(out + err)
        if rc != 0:
            raise ToolchainError(f"golden build: `{command}` on {node.name} exited {rc}: "
                                 f"{(err or out).strip().splitlines()[-3:]}", self.work / "build.log")
        return out

    def kubeadm_init(self, cp: Node) -> None:
        """``kubeadm init`` phase by phase. Some of its requests carry a fixed
        10 s timeout (the admin user's ClusterRoleBinding), which an API
        server in a TCG guest on a busy host can miss; so the phases that
        talk to the API run once it answers, and again if they fail (each
        is idempotent)."""
        config = "--config /root/kubeadm.yaml"
        self.sh(cp, "mkdir -p /root/kubeadm-patches", 60)
        for fname, text in kubeadm_patches().items():
            cp.write(f"/root/kubeadm-patches/{fname}", text)
        # The API server first, alone: the controller manager and the scheduler
        # retrying against it take the CPU it needs to start (its own start-up
        # checks have fixed deadlines, and it exits when it misses one).
        for phase in ("preflight", "certs all", "kubeconfig all", "etcd local",
                      "control-plane apiserver", "kubelet-start"):
            self.sh(cp, f"kubeadm init phase {phase} {config}", 1800)
        self.step("waiting for the API server")
        # curl, not kubectl: starting kubectl every few seconds costs a TCG guest
        # more than the API server can spare
        readyz = (f"until curl -skf --max-time 30 https://{node_ip(0)}:6443/readyz >/dev/null; "
                  "do sleep 5; done")
        self.sh(cp, readyz, 3600)
        for phase in ("control-plane controller-manager", "control-plane scheduler"):
            self.sh(cp, f"kubeadm init phase {phase} {config}", 1800)
        for phase in ("upload-config all", "mark-control-plane", "bootstrap-token",
                      "kubelet-finalize all", "addon all"):
            for attempt in range(1, 6):
                self.log(f"[controlplane] kubeadm init phase {phase} (try {attempt})")
                rc, out, err = cp.run(f"kubeadm init phase {phase} {config}", timeout=1800)
                self.log(out + err)
                if rc == 0:
                    break
            else:
                raise ToolchainError(f"golden build: kubeadm init phase {phase} failed 5 times: "
                                     f"{(err or out).strip().splitlines()[-2:]}",
                                     self.work / "build.log")

    def join(self, node: str) -> None:
        cp = self.nodes["controlplane"]
        self.step(f"kubeadm join {node}")
        token = self.sh(cp, "kubeadm token create --ttl 2h", 300).strip()
        ca_hash = self.sh(cp, "openssl x509 -pubkey -in /etc/kubernetes/pki/ca.crt | openssl pkey "
                              "-pubin -outform der | sha256sum | cut -d' ' -f1", 60).strip()
        n = self.nodes[node]
        n.write("/root/join.yaml", join_config(node, token, "sha256:" + ca_hash))
        self.sh(n, "kubeadm join --config /root/join.yaml && rm /root/join.yaml", 3600)

    def kubectl(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        kubeconfig = self.work / "admin.conf"
        if not kubeconfig.exists():
            text = self.admin.replace(f"https://{node_ip(0)}:6443",
                                      f"https://127.0.0.1:{self.vms['controlplane'].m.api_port}")
            kubeconfig.write_text(text)
            kubeconfig.chmod(0o600)
        return subprocess.run([str(self.g.toolchain.binary("kubectl")), "--kubeconfig",
                               str(kubeconfig), *args], capture_output=True, text=True,
                              timeout=timeout)

    def wait_usable(self, nodes: list[str], timeout: float = 1800) -> None:
        self.step(f"waiting for {', '.join(nodes)} Ready, CoreDNS, default ServiceAccount")
        deadline = time.monotonic() + timeout
        state = ""
        while time.monotonic() < deadline:
            try:
                state = usable_state(self.kubectl, set(nodes), pods=True)
            except subprocess.TimeoutExpired:
                state = "kubectl timed out"
            if not state:
                return
            time.sleep(2)
        raise ToolchainError(f"golden cluster not usable after {timeout:.0f}s: {state}",
                             self.work / "build.log")

    def save(self, variant: str, nodes: list[str], unjoined: list[str]) -> None:
        """Stop every running VM, freeze the variant's nodes' disks, write their
        RAM, resume, and put the clocks right (they stood still meanwhile)."""
        self.step(f"saving variant {variant} ({', '.join(nodes)})")
        for n in nodes:  # less to write and to read back: the page cache can be rebuilt
            self.nodes[n].run("sync; echo 3 > /proc/sys/vm/drop_caches; "
                              "echo 1 > /proc/sys/vm/compact_memory", timeout=120)
        vdir = self.work / "variants" / variant
        vdir.mkdir()
        for vm in self.vms.values():
            vm.qmp("stop")
        machines = {}
        for n in nodes:
            vm = self.vms[n]
            frozen = vm.m.disk if self.layers[n] == 0 else \
                self.work / "nodes" / n / f"layer-{self.layers[n]}.qcow2"
            self.layers[n] += 1
            vm.freeze_disk(self.work / "nodes" / n / f"layer-{self.layers[n]}.qcow2")
            secs = vm.save(vdir / f"{n}.state")
            self.log(f"saved {n} in {secs:.1f}s ({(vdir / f'{n}.state').stat().st_size >> 20} MiB)")
            machines[n] = {"layer": str(frozen.relative_to(self.work)), "state": f"{n}.state",
                           "index": vm.m.index, "cpus": vm.m.cpus, "memory_mb": vm.m.memory_mb,
                           "append": vm.m.append, "host_key": self.host_keys[n]}
        for vm in self.vms.values():
            vm.qmp("cont")
        (vdir / "manifest.json").write_text(json.dumps({
            "variant": variant, "nodes": nodes, "unjoined": unjoined, "machines": machines,
            "accel": self.g.accel, "saved_at": time.time(), "admin_conf": self.admin}, indent=2))
        for n in self.nodes.values():
            n.set_clock()

    def finish(self) -> None:
        self.step("finishing: VMs off, layers read-only")
        for vm in self.vms.values():
            vm.stop()
        self.vms.clear()
        if self.hub:
            self.hub.terminate()
            self.hub.wait()
            self.hub = None
        # backing files by relative name, so the folder can be renamed
        for layer in sorted(self.work.glob("nodes/*/layer-*.qcow2")):
            i = int(layer.stem.split("-")[1])
            if i == 0:
                backing = self.g.image.disk
            else:
                backing = layer.with_name(f"layer-{i - 1}.qcow2").name
            subprocess.run(["qemu-img", "rebase", "-u", "-F", "qcow2", "-b", str(backing),
                            str(layer)], check=True)
        # the last layer of each node only took writes after the last save
        for node in self.layers:
            (self.work / "nodes" / node / f"layer-{self.layers[node]}.qcow2").unlink()
        for f in self.work.rglob("*"):
            if f.is_file() and f.name not in ("id_ed25519",):
                f.chmod(0o444)
        for sock in self.work.rglob("*.sock"):
            sock.unlink()
        (self.work / "manifest.json").write_text(json.dumps({
            "key": self.g.key, "image": str(self.g.image.dir), "accel": self.g.accel,
            "variants": [s[0] for s in STAGES], "built_at": time.time(),
            "build_seconds": round(time.monotonic() - self.started)}, indent=2))
        (self.work / "pids.json").unlink(missing_ok=True)
        if self.g.dir.exists():
            shutil.rmtree(self.g.dir)
        self.step(f"golden clusters in {self.g.dir}")
        os.replace(self.work, self.g.dir)

    def cleanup(self) -> None:
        """After success or failure: no VM and no switch left running."""
        for vm in self.vms.values():
            vm.stop()
        if self.hub and self.hub.poll() is None:
            self.hub.terminate()
            self.hub.wait()

    # -- leftovers of a build that was killed ------------------------------------------
    def _pids(self) -> None:
        pids = [vm.pid for vm in self.vms.values()] + ([self.hub.pid] if self.hub else [])
        (self.work / "pids.json").write_text(json.dumps(pids))

    def _kill_leftovers(self) -> None:
        try:
            pids = json.loads((self.work / "pids.json").read_text())
        except (OSError, ValueError):
            return
        for pid in pids:
            kill_pid(pid, str(self.work))


def _wait_for(cond, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise QemuError(f"{what} did not come up in {timeout:.0f}s")
        time.sleep(0.05)
