"""The vm provider: a sandbox is a golden cluster's VMs, restored.

``create`` never runs ``kubeadm init``: it picks the golden variant for the
sandbox's shape (``golden.VARIANTS``), and per node makes a qcow2 layer over
the variant's frozen disk and starts QEMU with ``-incoming`` from the saved
state, on a private switch of the sandbox's own. Then it puts right what a
copy must not share or cannot know:

* the clock (a restored guest's is where it was when the golden was saved);
* root's SSH key: the golden build's key is replaced by the sandbox's own;
* the SSH host key, regenerated and pinned in the sandbox's ``known_hosts``;
* the machine id (and journald, which files logs under it);
* the admin kubeconfig's server: ``https://127.0.0.1:<the API's forward>``.

Every guest is 10.0.2.15 on QEMU's restricted user network (nothing goes out;
SSH and, on the control plane, the API come in on 127.0.0.1) and
``10.10.0.1N`` on the sandbox's switch. Each sandbox's QEMUs run as a uid of
their own (``vm_uid``), chrooted to an empty folder, under seccomp.

Layout under the state directory::

    vm/sandboxes/<name>/sandbox.json       Proctor's record
    vm/sandboxes/<name>/kubeconfig         admin kubeconfig (https://127.0.0.1:<port>)
    vm/sandboxes/<name>/id_ed25519         the sandbox's SSH key (root on its nodes)
    vm/sandboxes/<name>/known_hosts        its nodes' host keys, pinned
    vm/sandboxes/<name>/disks/<node>.qcow2 each node's own layer
    vm/sandboxes/<name>/run/               QMP and switch sockets, QEMU's empty root
    vm/sandboxes/<name>/logs/              QEMU's and the switch's output
    vm/sandboxes/<name>/workspace/         the attempt's files
"""

from __future__ import annotations

import hashlib
import os
import shlex
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..base import (CreateFailed, InvalidOption, RecordedProvider, Sandbox,
                    check_name, state_dir)
from ..toolchain import Toolchain, ToolchainError
from .golden import Golden
from .recipe import VARIANTS, node_ip
from .image import VMImage
from .qemu import Machine, Qemu, QemuError, free_port, kill_pid
from .ssh import Node, backend_class

CREATE_TIMEOUT = 300.0
VM_UID_BASE = 4_100_000_000   # above the jail's and the grader's ranges (confinement/identity.py)
VM_UIDS = 190_000_000


def vm_uid(name: str) -> int:
    """The uid (and gid) the QEMUs and the switch of sandbox ``name`` run as."""
    return VM_UID_BASE + int(hashlib.sha256(f"vm:{name}".encode()).hexdigest()[:15], 16) % VM_UIDS


def variants_text() -> str:
    return "; ".join(f"nodes={n}" + (f" unjoined={','.join(u)}" if u else "")
                     for n, u in sorted(VARIANTS))


# An API server in a TCG guest answers several times slower than a native
# one (and slower still on a busy host): checks get this many times their
# time limits, so emulation is not graded as the candidate's error.
TCG_SLOWDOWN = 3.0


class VMProvider(RecordedProvider):
    name = "vm"
    capabilities = frozenset({"api", "nodes"})
    create_timeout = CREATE_TIMEOUT

    def __init__(self, root: Path | None = None, toolchain: Toolchain | None = None,
                 golden: Golden | None = None):
        self.root = (root or state_dir()) / "vm"
        self.records = self.root / "sandboxes"
        self.toolchain = toolchain or Toolchain()
        self.golden = golden or Golden(VMImage(self.toolchain))

    # -- the interface -------------------------------------------------------------
    def create(self, name: str, nodes: int = 1, unjoined=(), **options) -> Sandbox:
        names, unjoined, ready = self._start_create(name, nodes, unjoined, options)
        if (len(names), tuple(unjoined)) not in VARIANTS:
            raise InvalidOption(f"no golden VM cluster with nodes={len(names)}"
                                f"{' unjoined=' + ','.join(unjoined) if unjoined else ''}; "
                                f"the vm provider has {variants_text()}")
        if ready is not None:
            return ready
        if not self.golden.exists():
            raise CreateFailed("the golden VM clusters are not built; run "
                               "`scripts/bootstrap --with-vm` or `python -m sandbox.vm build` (docs/vm.md)")
        return self._create(name, names, unjoined)

    def _create(self, name: str, names: list[str], unjoined: list[str]) -> Sandbox:
        started = time.monotonic()
        variant = self.golden.variant(len(names), unjoined)
        rec = self._record_dir(name)
        uid = vm_uid(name)
        for sub in ("workspace", "disks", "logs", "run/root"):
            (rec / sub).mkdir(parents=True, exist_ok=True)
        os.chown(rec / "run", uid, uid)
        (rec / "run").chmod(0o700)
        record = {"name": name, "provider": self.name, "state": "creating",
                  "kubeconfig": str(rec / "kubeconfig"), "api_url": "", "nodes": names,
                  "unjoined": unjoined, "workspace": str(rec / "workspace"),
                  "created_at": time.time(), "capabilities": sorted(self.capabilities),
                  "golden": str(self.golden.dir), "variant": variant.name,
                  "accel": self.golden.accel, "uid": uid, "ports": {}, "pids": {},
                  "slowdown": TCG_SLOWDOWN if self.golden.accel == "tcg" else 1.0}
        self._write(name, record)
        log = rec / "logs" / "create.log"
        try:
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"proctor-{name}",
                            "-f", str(rec / "id_ed25519")], check=True, capture_output=True)
            hub = subprocess.Popen(
                [sys.executable, "-I", str(Path(__file__).with_name("hub.py")),
                 str(rec / "run" / "hub.sock"), str(uid)],
                stdin=subprocess.DEVNULL, stdout=(rec / "logs" / "hub.log").open("ab"),
                stderr=subprocess.STDOUT, start_new_session=True)
            record["pids"]["hub"] = hub.pid
            self._write(name, record)
            deadline = time.monotonic() + 10
            while not (rec / "run" / "hub.sock").exists():
                if hub.poll() is not None or time.monotonic() > deadline:
                    raise CreateFailed(f"the private switch of {name} did not start", log)
                time.sleep(0.02)
            ports = {n: {"ssh": free_port()} for n in names}
            ports["controlplane"]["api"] = free_port()
            record["ports"] = ports
            with ThreadPoolExecutor(max_workers=len(names)) as pool:
                vms = dict(zip(names, pool.map(
                    lambda n: self._restore(rec, variant, n, uid, ports[n]), names)))
            record["pids"].update({n: vm.pid for n, vm in vms.items()})
            self._write(name, record)
            restored = time.monotonic() - started
            known = rec / "known_hosts"
            with ThreadPoolExecutor(max_workers=len(names)) as pool:
                lines = list(pool.map(lambda n: self._personalise(rec, variant, n, ports[n]["ssh"]),
                                      names))
            known.write_text("".join(lines))
            for vm in vms.values():
                vm.disconnect()
            api = f"https://127.0.0.1:{ports['controlplane']['api']}"
            (rec / "kubeconfig").write_text(
                variant.manifest["admin_conf"].replace(f"https://{node_ip(0)}:6443", api))
            (rec / "kubeconfig").chmod(0o600)
            record["api_url"] = api
            sandbox = Sandbox.from_dict(record)
            self._wait_nodes_usable(sandbox, [n for n in names if n not in unjoined], log,
                                    timeout=240, interval=0.5)
            with log.open("a") as fh:
                fh.write(f"restored in {restored:.1f}s, usable in "
                         f"{time.monotonic() - started:.1f}s\n")
        except BaseException as exc:
            kept = self._keep_failure(name, [
                (f.name, f.read_text(errors="replace")[-4000:] + "\n")
                for f in sorted((rec / "logs").glob("*.log"))])
            self.destroy(name)
            if isinstance(exc, (CreateFailed, QemuError, ToolchainError, TimeoutError, OSError)):
                raise CreateFailed(f"vm sandbox {name!r}: {str(exc).split(' (log:')[0]}",
                                   kept) from None
            raise
        record["state"] = "ready"
        record["create_seconds"] = round(time.monotonic() - started, 2)
        self._write(name, record)
        return Sandbox.from_dict(record)

    def _restore(self, rec: Path, variant, node: str, uid: int, ports: dict) -> Qemu:
        """One node: a layer of its own over the golden one, QEMU restoring the state."""
        disk = rec / "disks" / f"{node}.qcow2"
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2",
                        "-b", str(variant.layer(node)), str(disk)], check=True,
                       capture_output=True)
        os.chown(disk, uid, uid)
        spec = variant.machine(node)
        image = self.golden.image
        fd = os.open(variant.state(node), os.O_RDONLY)
        try:
            m = Machine(node=node, index=spec["index"], accel=variant.manifest["accel"],
                        cpus=spec["cpus"], memory_mb=spec["memory_mb"], kernel=image.kernel,
                        initrd=image.initrd, append=spec["append"], disk=disk,
                        qmp=rec / "run" / f"{node}.qmp", hub=rec / "run" / "hub.sock",
                        ssh_port=ports["ssh"], api_port=ports.get("api"), runas=(uid, uid),
                        chroot=rec / "run" / "root", incoming_fd=fd)
            vm = Qemu(m, rec / "logs" / f"{node}.log").start()
        finally:
            os.close(fd)
        # The golden VMs were stopped when saved, so a restored one ends paused.
        vm.wait_status("paused", timeout=180)
        vm.qmp("cont")
        vm.wait_status("running", timeout=30)
        return vm

    def _personalise(self, rec: Path, variant, node: str, port: int) -> str:
        """Clock, keys and machine id of a restored node; returns its known_hosts line."""
        golden_known = rec / "run" / f"golden-{node}.known"
        golden_known.write_text(f"[127.0.0.1]:{port} {variant.machine(node)['host_key']}\n")
        pub = (rec / "id_ed25519.pub").read_text().strip()
        n = Node(node, "127.0.0.1", port, self.golden.dir / "id_ed25519", golden_known)
        n.wait(timeout=120)
        script = f"""set -e
date -u -s @{time.time():.3f} >/dev/null
umask 077
echo {shlex.quote(pub)} > /root/.ssh/authorized_keys
rm -f /etc/ssh/ssh_host_*
ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/ssh_host_ed25519_key
systemd-id128 new > /etc/machine-id.new && chmod 444 /etc/machine-id.new \
  && mv /etc/machine-id.new /etc/machine-id
systemctl restart systemd-journald
systemctl reload ssh
cut -d' ' -f1,2 /etc/ssh/ssh_host_ed25519_key.pub
"""
        rc, out, err = n.run(script, timeout=120)
        n.close()
        golden_known.unlink()
        if rc != 0 or not out.startswith("ssh-ed25519 "):
            raise CreateFailed(f"could not make {node} the sandbox's own (exit {rc}): "
                               f"{err.strip()[-300:]}")
        line = f"[127.0.0.1]:{port} {out.strip()}\n"
        mine = rec / "run" / f"{node}.known"
        mine.write_text(line)
        check = Node(node, "127.0.0.1", port, rec / "id_ed25519", mine)
        check.wait(timeout=60)
        check.close()
        mine.unlink()
        return line

    def _processes(self, name: str) -> list[int]:
        """Every process whose command line names this sandbox's folder: its
        QEMUs and its switch, also after a crash lost the record."""
        marker = str(self._record_dir(name)) + "/"
        found = []
        for proc in Path("/proc").iterdir():
            if proc.name.isdigit():
                try:
                    if marker.encode() in (proc / "cmdline").read_bytes():
                        found.append(int(proc.name))
                except OSError:
                    pass
        return found

    def _parts_down(self, rec: dict) -> str | None:
        running = set(self._processes(rec["name"]))
        down = [part for part, pid in rec.get("pids", {}).items() if pid not in running]
        return f"not running: {', '.join(sorted(down))}" if down else None

    def destroy(self, name: str) -> None:
        check_name(name)
        marker = str(self._record_dir(name)) + "/"
        for pid in self._processes(name):
            kill_pid(pid, marker)
        if self._record_dir(name).exists():
            self._remove_record(name)

    def node_shell(self, sandbox: Sandbox, node: str, tty: bool = True) -> list[str]:
        """OpenSSH to the node's forward, as root, with the sandbox's key and
        pinned host key. ssh joins its arguments into one remote command
        line, so bash re-quotes whatever is appended (``${@@Q}``) and
        ``… sh -c 'systemctl is-active kubelet'`` arrives as three words."""
        rec = self._read(sandbox.name) or {}
        port = rec.get("ports", {}).get(node, {}).get("ssh")
        if port is None:
            raise InvalidOption(f"sandbox {sandbox.name} has no node {node!r} "
                                f"(it has {', '.join(sandbox.nodes)})")
        d = self._record_dir(sandbox.name)
        ssh = ["ssh", "-F", "/dev/null", "-i", str(d / "id_ed25519"), "-p", str(port),
               "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=yes",
               "-o", f"UserKnownHostsFile={d / 'known_hosts'}",
               "-o", "GlobalKnownHostsFile=/dev/null", "-o", "UpdateHostKeys=no",
               "-o", "ConnectTimeout=20", "-o", "LogLevel=ERROR", "-o", "ServerAliveInterval=30",
               # one connection per node, kept for a minute after its last
               # session: a new SSH handshake costs a TCG guest 1-2 s, and a
               # check runs a command per assertion (the socket is root's,
               # in the sandbox's folder, out of the jail and the grader's room)
               "-o", "ControlMaster=auto", "-o", f"ControlPath={d / 'ssh'}-{node}",
               "-o", "ControlPersist=60",
               "-tt" if tty else "-T", "root@127.0.0.1", "--"]
        return ["bash", "-c", f'exec {shlex.join(ssh)} "${{@@Q}}"', f"ssh-{node}"]

    def node_host(self, sandbox: Sandbox, node: str):
        """A testinfra host for the node: testinfra's paramiko backend with the
        sandbox's key and its pinned host key."""
        import testinfra.host
        rec = self._read(sandbox.name) or {}
        port = rec.get("ports", {}).get(node, {}).get("ssh")
        if node not in sandbox.nodes or port is None:
            raise InvalidOption(f"sandbox {sandbox.name} has no node {node!r} "
                                f"(it has {', '.join(sandbox.nodes)})")
        d = self._record_dir(sandbox.name)
        backend = backend_class()(f"root@127.0.0.1:{port}", key=d / "id_ed25519",
                                  known_hosts=d / "known_hosts", timeout=30)
        return testinfra.host.Host(backend)

    def node_exec(self, sandbox: Sandbox, node: str, *cmd: str, input: str | None = None,
                  timeout: float = 120) -> subprocess.CompletedProcess:
        """Run a command as root on a node (as ``KindProvider.node_exec``)."""
        return subprocess.run(self.node_shell(sandbox, node, tty=False) + list(cmd), input=input,
                              capture_output=True, text=True, timeout=timeout)


def vm_status() -> dict:
    """For ``proctor toolchain status``: the VM image, the golden clusters, the accelerator."""
    try:
        golden = Golden()
        return {"image": golden.image.status(), **golden.status()}
    except (ToolchainError, OSError, QemuError) as exc:
        return {"error": str(exc)}
