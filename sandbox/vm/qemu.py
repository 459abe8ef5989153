"""One QEMU process: its command line, its QMP monitor, saving and restoring.

A node is ``qemu-system-x86_64`` run directly as a child process (no libvirt,
no ``-daemonize``), with:

* two NICs: QEMU's user network with ``restrict=on`` (the guest reaches
  nothing; only ``hostfwd`` forwards on 127.0.0.1 come in: SSH, and the API
  server on the control plane), and the sandbox's private switch
  (``-netdev stream`` to ``hub.py``'s socket) where the nodes see each other;
* the disk as a qcow2 layer over the read-only golden layers;
* QMP on a Unix socket, for saving (``migrate`` to a file descriptor) and for
  knowing when a restore has finished (``-incoming fd:N``);
* for candidates' clones, ``-runas UID:GID`` and ``-chroot EMPTY``: QEMU opens
  its disk, kernel, sockets and state file as root, then drops to a uid of the
  sandbox's own with no capabilities, in an empty root, before the guest runs
  a single instruction; and seccomp (``-sandbox on,obsolete=deny,spawn=deny,
  resourcecontrol=deny``). ``elevateprivileges=deny`` is not set: in QEMU 7.2
  it forbids the setuid that ``-runas`` itself makes ("Bad system call");
  after the drop the process has no capabilities and ``no_new_privs``, so a
  set*id call cannot regain root anyway.

Acceleration: ``-accel kvm -cpu host`` where a probe boot shows KVM works,
else ``-accel tcg,thread=multi -cpu max`` (see ``detect_accel``).
"""

from __future__ import annotations

import json
import os
import platform
import select
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

QEMU = "qemu-system-x86_64"
SECCOMP = "on,obsolete=deny,spawn=deny,resourcecontrol=deny"
# TCG's translated-code cache, in MiB (QEMU's default is 1 GiB). A control
# plane's code (several large Go binaries, translated at ~16 bytes of host code
# per guest byte) fills 96 MiB within minutes; QEMU then flushes it all and
# translates again. 512 kept a booted node at one flush (measured, docs/vm.md).
TB_SIZE = 512
# TCG's CPU: a named model, so a QEMU update does not change what a saved
# state's guest saw (``max`` grows with QEMU). Westmere has SSE4.2, POPCNT,
# AES-NI and PCLMULQDQ, which TCG emulates with plain helpers; it has no AVX,
# whose vector ops TCG emulates slowly and which Go's runtime (memmove, hashing)
# and crypto pick whenever the CPU offers them. The extras are TCG-supported
# scalar instructions Go's math and P-256 code use (BMI2, ADX, MOVBE).
TCG_CPU = "Westmere,+rdtscp,+movbe,+bmi1,+bmi2,+adx"
MAX_SOCKET_PATH = 107


class QemuError(Exception):
    """A QEMU process did not start, answer or save; ``log`` has its output."""

    def __init__(self, message: str, log: Path | None = None):
        super().__init__(f"{message} (log: {log})" if log else message)
        self.log = log


def accel_args(accel: str, tb_size: int = TB_SIZE) -> list[str]:
    if accel == "kvm":
        return ["-accel", "kvm", "-cpu", "host"]
    return ["-accel", f"tcg,thread=multi,tb-size={tb_size}", "-cpu", TCG_CPU]


@dataclass
class Machine:
    """Everything that makes one node's QEMU command line.

    What the guest sees (CPUs, memory, devices and their PCI addresses, MACs,
    kernel command line) must be the same when a saved state is restored;
    what the host provides (ports, sockets, files, uid) may differ."""

    node: str
    index: int                 # 0 = controlplane, 1 = node01 …: MACs and the private IP
    accel: str
    cpus: int
    memory_mb: int
    kernel: Path
    initrd: Path
    append: str
    disk: Path
    qmp: Path
    hub: Path
    ssh_port: int
    api_port: int | None = None
    serial: Path | None = None          # a file (golden builds); else a 64 KiB ring buffer
    runas: tuple[int, int] | None = None
    chroot: Path | None = None
    incoming_fd: int | None = None
    extra: list[str] = field(default_factory=list)

    def argv(self) -> list[str]:
        for sock in (self.qmp, self.hub):
            if len(str(sock)) > MAX_SOCKET_PATH:
                raise QemuError(f"socket path {sock} is longer than {MAX_SOCKET_PATH} bytes; "
                                "use a shorter PROCTOR_STATE_DIR")
        fwd = f"hostfwd=tcp:127.0.0.1:{self.ssh_port}-:22"
        if self.api_port:
            fwd += f",hostfwd=tcp:127.0.0.1:{self.api_port}-:6443"
        serial = (["-chardev", f"file,id=con,path={self.serial}"] if self.serial
                  else ["-chardev", "ringbuf,id=con,size=65536"])
        argv = [
            QEMU, "-name", f"proctor-{self.node},process=qemu-{self.node}",
            "-nodefaults", "-no-user-config", "-display", "none", "-monitor", "none",
            "-machine", "pc", *accel_args(self.accel),
            "-smp", str(self.cpus), "-m", str(self.memory_mb),
            "-kernel", str(self.kernel), "-initrd", str(self.initrd), "-append", self.append,
            # no-flush: a guest's fsync (etcd's, on every write) does not wait
            # for the host's disk; a sandbox does not outlive a host crash anyway
            "-blockdev", f"driver=qcow2,node-name=disk0,discard=unmap,detect-zeroes=unmap,"
                         f"cache.no-flush=on,file.driver=file,file.filename={self.disk},"
                         f"file.cache.no-flush=on",
            "-device", "virtio-blk-pci,drive=disk0,id=vda,addr=0x4",
            "-netdev", f"user,id=user0,restrict=on,ipv6=off,{fwd}",
            "-device", f"virtio-net-pci,netdev=user0,id=eth0,addr=0x5,"
                       f"mac=52:54:00:00:00:{self.index + 10:02x}",
            "-netdev", f"stream,id=priv0,server=off,addr.type=unix,addr.path={self.hub}",
            "-device", f"virtio-net-pci,netdev=priv0,id=eth1,addr=0x6,"
                       f"mac=52:54:00:10:00:{self.index + 10:02x}",
            "-object", "rng-random,id=rng0,filename=/dev/urandom",
            "-device", "virtio-rng-pci,rng=rng0,id=rng,addr=0x7",
            *serial, "-serial", "chardev:con",
            "-qmp", f"unix:{self.qmp},server=on,wait=off",
            "-sandbox", SECCOMP,
        ]
        if self.runas:
            argv += ["-runas", f"{self.runas[0]}:{self.runas[1]}"]
        if self.chroot:
            argv += ["-chroot", str(self.chroot)]
        if self.incoming_fd is not None:
            argv += ["-incoming", f"fd:{self.incoming_fd}"]
        return argv + self.extra


class Qemu:
    """A running node: ``start()``, ``qmp(...)``, ``save(path)``, ``stop()``."""

    def __init__(self, machine: Machine, log: Path):
        self.m = machine
        self.log = log
        self.proc: subprocess.Popen | None = None
        self._mon = None
        self._top_node = "disk0"  # the disk's top layer (freeze_disk moves it)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def start(self, timeout: float = 30) -> "Qemu":
        """Start QEMU (in a session of its own, so it outlives its creator) and
        connect to its monitor."""
        self.m.qmp.unlink(missing_ok=True)
        fds = (self.m.incoming_fd,) if self.m.incoming_fd is not None else ()
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(self.m.argv(), stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, pass_fds=fds,
                                         start_new_session=True)
        self.connect(timeout)
        return self

    def connect(self, timeout: float = 30) -> None:
        from qemu.qmp import QMPError
        from qemu.qmp.legacy import QEMUMonitorProtocol
        deadline = time.monotonic() + timeout
        while True:
            if self.proc is not None and self.proc.poll() is not None:
                raise QemuError(f"QEMU for {self.m.node} exited with {self.proc.returncode}: "
                                f"{tail(self.log)}", self.log)
            if self.m.qmp.exists():
                mon = QEMUMonitorProtocol(str(self.m.qmp))
                try:
                    mon.connect()
                    self._mon = mon
                    return
                except (OSError, QMPError):  # not listening yet (qemu.qmp's ConnectError)
                    mon.close()
            if time.monotonic() > deadline:
                raise QemuError(f"QEMU for {self.m.node} did not open its monitor in "
                                f"{timeout:.0f}s", self.log)
            time.sleep(0.05)

    def qmp(self, command: str, **args):
        if self._mon is None:
            self.connect()
        return self._mon.cmd(command, **args)

    def _idle(self, seconds: float) -> None:
        """Wait for the next QMP event, at most ``seconds``."""
        import asyncio
        try:
            self._mon.pull_event(wait=float(seconds))
        except (asyncio.TimeoutError, TimeoutError):
            pass

    def status(self) -> str:
        return self.qmp("query-status")["status"]

    def wait_status(self, want: str, timeout: float) -> None:
        """Wait until the VM's run state is ``want`` (e.g. "running" after a restore)."""
        deadline = time.monotonic() + timeout
        while (state := self.status()) != want:
            if state in ("inmigrate", "paused", "prelaunch", "restore-vm", "finish-migrate") \
                    and time.monotonic() < deadline:
                self._idle(0.2)
                continue
            if time.monotonic() > deadline or state in ("internal-error", "shutdown",
                                                         "guest-panicked"):
                raise QemuError(f"{self.m.node} is {state!r}, expected {want!r}", self.log)
            time.sleep(0.1)

    def freeze_disk(self, next_layer: Path) -> None:
        """Make the current top layer read-only from now on: new writes go to
        ``next_layer``. With the VM stopped, the frozen layer is the disk as
        the saved RAM knows it."""
        node = f"disk-{next_layer.stem}"
        self.qmp("blockdev-snapshot-sync", **{"node-name": self._top_node,
                                               "snapshot-file": str(next_layer),
                                               "snapshot-node-name": node,
                                               "format": "qcow2"})
        self._top_node = node

    def save(self, path: Path, timeout: float = 600) -> float:
        """Write the VM's RAM and device state to ``path`` (QMP ``migrate`` to a
        file descriptor); returns seconds taken. The VM is left paused."""
        started = time.monotonic()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            self.qmp("migrate-set-parameters", **{"max-bandwidth": 64 << 30})
            self._mon.send_fd_scm(fd)
            self.qmp("getfd", fdname="state")
            self.qmp("migrate", uri="fd:state")
            deadline = time.monotonic() + timeout
            while True:
                info = self.qmp("query-migrate")
                if info.get("status") == "completed":
                    break
                if info.get("status") in ("failed", "cancelled") or time.monotonic() > deadline:
                    raise QemuError(f"saving {self.m.node} failed: {info}", self.log)
                self._idle(0.1)
        finally:
            os.close(fd)
        return time.monotonic() - started

    def disconnect(self) -> None:
        from qemu.qmp import QMPError
        if self._mon is not None:
            try:
                self._mon.close()
            except (OSError, EOFError, QMPError):  # QEMU quit first: the monitor's EOF is no news
                pass
            self._mon = None

    def stop(self, timeout: float = 10) -> None:
        """Quit QEMU (QMP ``quit``, then SIGKILL if it lingers)."""
        from qemu.qmp import QMPError
        try:
            if self._mon is not None or (self.m.qmp.exists() and self.alive()):
                self.qmp("quit")
        except (OSError, EOFError, QMPError, QemuError):
            pass  # gone already, or deaf: the kill below settles it
        self.disconnect()
        if self.proc is not None:
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.m.qmp.unlink(missing_ok=True)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


def tail(path: Path, lines: int = 5) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return ""


def kill_pid(pid: int, marker: str, timeout: float = 10) -> bool:
    """SIGTERM, then SIGKILL, the process ``pid`` if its command line contains
    ``marker`` (a path of this sandbox), so a recycled pid is never touched.
    Returns whether such a process was there."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return False
    if marker not in cmdline:
        return False
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return True
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not Path(f"/proc/{pid}").exists() or _zombie(pid):
                _reap(pid)
                return True
            time.sleep(0.05)
    return True


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except OSError:
        return False


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (QEMU binds it a moment later)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def qemu_version() -> str:
    res = subprocess.run([QEMU, "--version"], capture_output=True, text=True)
    return res.stdout.splitlines()[0] if res.returncode == 0 and res.stdout else ""


def detect_accel(kernel: Path, initrd: Path, cache: Path, timeout: float = 20) -> dict:
    """``{"accel": "kvm"|"tcg", "reason": …}``: KVM where a probe boot with
    ``-accel kvm -cpu host`` reaches the guest's init, else TCG.

    ``/dev/kvm`` alone proves little: on this machine it is PVM, where
    ``-cpu host`` aborts ("failed to set MSR 0x10a") and other CPU models hang
    after the real-mode setup code. So the probe boots the guest kernel and
    initramfs for real and waits for the kernel's "Run /init" line on the
    serial console. The answer is cached in ``cache`` (JSON), keyed by the
    QEMU version, the host kernel and the guest kernel; ``PROCTOR_VM_ACCEL``
    (kvm or tcg) overrides it.
    """
    forced = os.environ.get("PROCTOR_VM_ACCEL")
    if forced in ("kvm", "tcg"):
        return {"accel": forced, "reason": "PROCTOR_VM_ACCEL"}
    key = f"{qemu_version()}|{platform.release()}|{kernel.stat().st_size}:{kernel.name}"
    try:
        cached = json.loads(cache.read_text())
        if cached.get("key") == key:
            return cached
    except (OSError, ValueError):
        pass
    result = _probe_kvm(kernel, initrd, timeout)
    result["key"] = key
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(result, indent=2))
    return result


def _probe_kvm(kernel: Path, initrd: Path, timeout: float) -> dict:
    if not os.path.exists("/dev/kvm"):
        return {"accel": "tcg", "reason": "no /dev/kvm"}
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return {"accel": "tcg", "reason": "/dev/kvm is not usable by this user"}
    argv = [QEMU, "-nodefaults", "-no-user-config", "-display", "none", "-machine", "pc",
            *accel_args("kvm"), "-m", "512", "-kernel", str(kernel), "-initrd", str(initrd),
            "-append", "console=ttyS0 panic=-1 rdinit=/bin/true", "-no-reboot",
            "-serial", "stdio"]
    started = time.monotonic()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    out = b""
    try:
        while time.monotonic() - started < timeout:
            ready, _, _ = select.select([proc.stdout], [], [], 0.5)
            if ready:
                chunk = os.read(proc.stdout.fileno(), 65536)
                if not chunk:
                    break
                out += chunk
                if b"Run /bin/true as init process" in out or b"Run /init" in out:
                    return {"accel": "kvm", "reason": f"probe boot reached init in "
                                                       f"{time.monotonic() - started:.1f}s"}
    finally:
        proc.kill()
        proc.wait()
    last = out.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
    return {"accel": "tcg", "reason": f"a KVM probe boot did not reach init within "
                                      f"{timeout:.0f}s (exit {proc.returncode}): {last[0][:200]}"}
