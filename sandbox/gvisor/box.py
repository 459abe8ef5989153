"""One box: a sandbox's real nodes (kubelet, containerd, runc each) in one
gVisor sandbox.

gVisor (``runsc``) runs the nodes' processes on a kernel of its own written
in Go, in user space; their system calls never reach the host's kernel
directly. The box has no network to the host (``--network=none``: a
netstack of its own, with loopback and the links its init makes), and its
root is the box image, served read-only by the gofer with the box's writes
in its own memory. So a candidate who is root in a privileged pod with
``hostPath: /``, ``hostNetwork`` and ``hostPID`` gets the box's files, the
box's network and the box's processes: nothing of the host.

Each node runs in a mount and UTS namespace of its own inside the box
(``proctor-node``): its own kubelet, containerd, folders and hostname, on
the box's one network, so pods of every node reach each other and the
Services as on one cluster network, and one gVisor kernel serves them all.

Its only openings are Unix sockets in one host folder, ``host/``, shared
with the box at ``/run/proctor-host`` (``--host-uds=all`` for that folder):

* ``api.sock``: the host relays it to this sandbox's API server
  (``relay_api``), and nothing else;
* ``dial.sock``: made by the box's proctor-boxd; the API server's egress
  proxy asks it for connections to addresses inside the box;
* ``box.env``, ``kubelet.conf``: the nodes' names, addresses and credentials.

* ``box.log``: the box's own output.

The candidate is root in the box and may write there: the folder is a tmpfs
of its own (``HOST_FOLDER_SIZE``), so what the box writes into it can fill
neither the host's disk nor its memory.

Every box of a machine shares runsc's state folder (``--root``), so that
``runsc list`` shows them all and a crash leaves nothing unfound.

    >>> box = Box(runsc, rootfs, runsc_root, state, "exam-42", ["node01", "node02"])  # doctest: +SKIP
    >>> box.prepare(); box.start(preexec=...)                    # doctest: +SKIP
    >>> box.give_credentials(kubeconfig_text)                    # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

from ..base import CreateFailed

NODE_NET = "192.168.77"          # node IPs: .11, .12 … (index + 10, from 1)
POD_NET = "10.244"               # pod CIDRs: 10.244.<index>.0/24
CLUSTER_DNS = "10.96.0.10"
# the host folder holds two sockets, a few KiB of settings and the box's output
HOST_FOLDER_SIZE = "8m"
SERVICE_CIDR = "10.96.0.0/16"
# every capability, inside gVisor: privileged pods and the node's own
# processes need them there, and they mean nothing on the host
CAPABILITIES = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
    "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
]
RUNSC_FLAGS = ["--network=none", "--net-raw", "--host-uds=all", "--overlay2=root:memory",
               "--ignore-cgroups"]


def node_ip(index: int) -> str:
    return f"{NODE_NET}.{10 + index}"


def pod_cidr(index: int) -> str:
    return f"{POD_NET}.{index}.0/24"


BOX_RUN = Path("/run/proctor-gvisor")   # short: Unix socket paths live under it


def bundles_root_paths() -> set[str]:
    """The root filesystems the boxes of this machine boot from (their bundles
    under ``BOX_RUN``), whichever state folder made them."""
    used = set()
    for spec in BOX_RUN.glob("*/*/bundle/config.json"):
        try:
            used.add(str(Path(json.loads(spec.read_text())["root"]["path"])))
        except (OSError, ValueError, KeyError):
            continue
    return used


def listed(runsc: Path, runsc_root: Path) -> list[str]:
    """The ids of every box runsc knows under ``runsc_root``."""
    res = subprocess.run([str(runsc), f"--root={runsc_root}", "list", "-quiet"],
                         capture_output=True, text=True, timeout=20)
    return res.stdout.split() if res.returncode == 0 else []


class Box:
    """The gVisor sandbox of the real ``nodes`` of sandbox ``sandbox``; its
    files are under ``state`` (the host folder it shares, its bundle)."""

    def __init__(self, runsc: Path, rootfs: Path, runsc_root: Path, state: Path,
                 sandbox: str, nodes: list[str], id_prefix: str = "proctor-"):
        self.runsc, self.rootfs, self.runsc_root = runsc, rootfs, runsc_root
        self.sandbox, self.nodes = sandbox, list(nodes)
        self.dir = state
        self.host = self.dir / "host"
        self.bundle = self.dir / "bundle"
        # runsc's state folder is the machine's: the prefix says whose box it is
        self.id = f"{id_prefix}{sandbox}"

    def addresses(self) -> dict[str, tuple[str, str]]:
        """``{node: (its address, its pod range)}``."""
        return {n: (node_ip(i), pod_cidr(i)) for i, n in enumerate(self.nodes, 1)}

    @property
    def dial_socket(self) -> Path:
        return self.host / "dial.sock"

    @property
    def api_socket(self) -> Path:
        return self.host / "api.sock"

    # -- runsc ----------------------------------------------------------------------
    def _runsc(self, *args: str, **kw) -> subprocess.CompletedProcess:
        return subprocess.run([str(self.runsc), f"--root={self.runsc_root}", *args],
                              capture_output=True, text=True, **kw)

    def spec(self) -> dict:
        """The OCI runtime spec of the box's init."""
        return {
            "ociVersion": "1.0.0",
            "hostname": self.sandbox,
            "root": {"path": str(self.rootfs), "readonly": False},
            "process": {
                "terminal": False, "user": {"uid": 0, "gid": 0}, "cwd": "/",
                "args": ["/usr/local/sbin/proctor-box-init"],
                "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                        "container=gvisor"],
                "capabilities": {k: CAPABILITIES for k in
                                 ("bounding", "effective", "inheritable", "permitted")},
                "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1048576, "soft": 1048576}],
                "noNewPrivileges": False,
            },
            "mounts": [
                {"destination": "/proc", "type": "proc", "source": "proc"},
                {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
                 "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
                {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
                 "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
                {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
                 "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
                {"destination": "/sys", "type": "sysfs", "source": "sysfs",
                 "options": ["nosuid", "noexec", "nodev", "ro"]},
                {"destination": "/run", "type": "tmpfs", "source": "tmpfs",
                 "options": ["nosuid", "nodev", "mode=755"]},
                {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
                 "options": ["nosuid", "nodev", "mode=1777"]},
                {"destination": "/run/proctor-host", "type": "bind", "source": str(self.host),
                 "options": ["rbind", "rw"]},
            ],
            "linux": {"namespaces": [{"type": t} for t in
                                     ("pid", "network", "ipc", "uts", "mount")]},
        }

    def prepare(self) -> None:
        """The box's host folder (a small tmpfs) and bundle: its settings and spec."""
        self.host.mkdir(parents=True, exist_ok=True)
        if not os.path.ismount(self.host):
            res = subprocess.run(["mount", "-t", "tmpfs", "-o",
                                  f"size={HOST_FOLDER_SIZE},mode=0700,nosuid,nodev,noexec",
                                  "proctor-box-host", str(self.host)],
                                 capture_output=True, text=True)
            if res.returncode != 0:
                raise CreateFailed(f"cannot mount the box's host folder {self.host} "
                                   f"(tmpfs): {res.stderr.strip()}")
        self.host.chmod(0o700)
        self.bundle.mkdir(parents=True, exist_ok=True)
        (self.host / "kubelet.conf").unlink(missing_ok=True)
        lines = [f"NODES=\"{' '.join(self.nodes)}\"", f"CLUSTER_DNS={CLUSTER_DNS}"]
        for node, (ip, cidr) in self.addresses().items():
            lines += [f"NODE_IP_{node}={ip}", f"POD_CIDR_{node}={cidr}"]
        (self.host / "box.env").write_text("\n".join(lines) + "\n")
        (self.bundle / "config.json").write_text(json.dumps(self.spec(), indent=1))

    def give_credentials(self, kubeconfig: str) -> None:
        """The node's kubeconfig (its kubelet and proctor-boxd wait for it),
        written whole under its name at once."""
        tmp = self.host / ".kubelet.conf.tmp"
        tmp.unlink(missing_ok=True)  # the box writes here too: never follow what it left
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(kubeconfig)
        tmp.replace(self.host / "kubelet.conf")

    def start(self, preexec=None, log: Path | None = None, wait: bool = True) -> None:
        """Start the box (its init starts the node); returns once proctor-boxd
        serves the dial socket (``wait_served``), or at once with ``wait=False``
        (the caller calls ``wait_served`` when it needs the box).

        The box's own output (its init's, which root in the box can write to
        without end) goes to ``box.log`` in its host folder, whose tmpfs
        bounds it; a failed start copies it into ``log``."""
        self.delete()  # a box of the same id left by a crash
        (self.host / "boxd.ready").unlink(missing_ok=True)
        output = self.host / "box.log"
        output.unlink(missing_ok=True)
        fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            res = subprocess.run(
                [str(self.runsc), f"--root={self.runsc_root}", *RUNSC_FLAGS, "run", "--detach",
                 f"--bundle={self.bundle}", self.id],
                stdout=fd, stderr=fd, preexec_fn=preexec, timeout=60)
        finally:
            os.close(fd)
        if res.returncode != 0:
            raise self._failed(f"the gVisor sandbox of {', '.join(self.nodes)} did not start "
                               f"(runsc exit {res.returncode})", log)
        if wait:
            self.wait_served(log)

    def wait_served(self, log: Path | None = None, timeout: float = 30) -> None:
        """Until proctor-boxd serves the dial socket; CreateFailed when the box
        stopped or ``timeout`` passed. Asks runsc whether the box still runs
        twice a second, not at every look at the file (a process each)."""
        deadline = time.monotonic() + timeout
        asked = 0.0
        while not (self.host / "boxd.ready").exists():
            now, stopped = time.monotonic(), False
            if now - asked >= 0.5:
                asked, stopped = now, not self.running()
            if now > deadline or stopped:
                raise self._failed(f"proctor-boxd did not come up in the box of "
                                   f"{', '.join(self.nodes)}", log)
            time.sleep(0.02)

    def _failed(self, message: str, log: Path | None) -> CreateFailed:
        """``message`` as a CreateFailed, with the box's own output copied into ``log``."""
        output = self.host / "box.log"
        if log:
            with log.open("a") as fh:
                fh.write(f"-- {output.name}\n" + output.read_text(errors="replace")
                         if output.is_file() else "")
        return CreateFailed(message, log)

    def state(self) -> str:
        """``running``, ``stopped``, ``created`` …, or "" when there is no such box."""
        res = self._runsc("state", self.id, timeout=20)
        if res.returncode != 0:
            return ""
        try:
            return json.loads(res.stdout).get("status", "")
        except ValueError:
            return ""

    def running(self) -> bool:
        return self.state() == "running"

    def delete(self) -> None:
        """Stop the box and forget it (idempotent)."""
        if self.state():
            self._runsc("kill", self.id, "KILL", timeout=20)
            self._runsc("delete", "--force", self.id, timeout=30)

    def exec_argv(self, node: str, tty: bool = True) -> list[str]:
        """The host command that runs, as root on ``node`` (its files, its
        hostname), what is appended to it. runsc has no ``-t``: where its
        stdio is a terminal (the relay's pty), the process gets one, so
        ``tty`` changes nothing here."""
        return [str(self.runsc), f"--root={self.runsc_root}", "exec",
                self.id, "/usr/local/sbin/proctor-enter", node]

    def logs(self) -> str:
        """The box's init and node logs, for a failed create's report."""
        res = self._runsc("exec", self.id, "sh", "-c",
                          "tail -n 40 /var/log/proctor-*.log /var/log/kubelet-*.log "
                          "/var/log/containerd-*.log 2>&1", timeout=20)
        return res.stdout + res.stderr
