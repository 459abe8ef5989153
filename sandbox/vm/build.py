"""One golden build: boot the nodes, make the cluster, save it at each stage.

The chain is ``recipe.STAGES``: controlplane initialised (variant ``1``),
node01 joined (``2``), node02 booted but unjoined (``3-node02-unjoined``),
node02 joined (``3``). Every step runs in ``<golden>.building/`` and the
folder is renamed to the golden folder only when all four are saved, so a
killed build leaves nothing that looks built. What is done *on* the cluster
(kubeadm, joins, waiting for it to be usable) is in ``kubeadm.py``; this
module boots, saves and finishes.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from ..toolchain import ToolchainError
from .golden import Golden
from .kubeadm import KubeadmSteps
from .qemu import Machine, Qemu, QemuError, free_port, kill_pid, tail
from .recipe import APPEND, STAGES, cpus, daemon_dropins, memory_mb, node_index, node_ip
from .ssh import Node


class Builder(KubeadmSteps):
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
        dropins = daemon_dropins(self.g.accel)
        if dropins:
            for path, text in dropins.items():
                self.sh(n, f"mkdir -p {path.rsplit('/', 1)[0]}", 60)
                n.write(path, text)
            self.sh(n, "systemctl daemon-reload && systemctl restart containerd", 600)
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
