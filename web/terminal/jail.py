"""The candidate's shell, jailed with bubblewrap.

Each attempt's shell runs:

* as its own unprivileged host uid (``base_uid + attempt``), named
  ``candidate`` inside, with no capabilities and ``no_new_privs``: bwrap
  runs as root to make the mounts (so sources under a 0700 home work), then
  ``setpriv`` drops to that uid before anything of the candidate's runs;
* in new mount, pid, ipc, uts, cgroup and **network** namespaces: it sees
  only ``/usr`` read-only, its own home and ``/opt/answers`` (the attempt's
  workspace, which the grader reads), its kubeconfig, and its own processes;
* with loopback only. Its API server (and etcd, for the etcd tasks) is
  reached through a tunnel: inside, ``127.0.0.1:6443`` → a Unix socket
  bind-mounted from the host → a relay to *this* sandbox's ports. Other
  candidates' API servers and etcds, also on the host's loopback, are out of
  reach, and so is every other host service;
* in a cgroup with memory, process-count and CPU limits (cgroup v1 or v2),
  plus ``RLIMIT_NPROC`` on its uid, so a fork bomb stays inside.

The portal's files, database, instance folder, task bank, other attempts and
the host's processes are simply not in its mount or pid namespace.

    >>> jail = Jail(JailSpec(attempt=42, workspace=ws, kubeconfig=kc))   # doctest: +SKIP
    >>> proc = jail.spawn(["bash", "-l"], pty_fd)                        # doctest: +SKIP
    >>> jail.stop()                                                      # doctest: +SKIP
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import resource
import shutil
import signal
import subprocess
import sys
import termios
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from sandbox.toolchain import Toolchain

from . import nodeshell

API_PORT = 6443
ETCD_PORT = 2379
HOME = "/home/candidate"
ANSWERS = "/opt/answers"


class JailError(Exception):
    """The jail could not be set up; the message says which part and why."""


@dataclass
class JailSpec:
    attempt: int
    workspace: Path          # the sandbox's workspace; answers/ inside it is /opt/answers
    kubeconfig: Path         # the sandbox's admin kubeconfig (host side)
    etcd_endpoint: str = ""  # "http://127.0.0.1:PORT" when the sandbox exposes etcd
    nodes: list[str] = field(default_factory=list)
    unjoined: list[str] = field(default_factory=list)  # machines the candidate is to join
    # node -> the host command that opens a shell on it (kind: docker exec …);
    # empty where nodes are simulated
    node_shells: dict[str, list[str]] = field(default_factory=dict)
    memory_mb: int = 768
    max_pids: int = 256
    cpu_percent: int = 100   # of one core
    base_uid: int = 200000

    @property
    def uid(self) -> int:
        return self.base_uid + self.attempt % 100000


def _bwrap() -> str:
    path = shutil.which("bwrap")
    if not path:
        raise JailError("bubblewrap (bwrap) is not installed; the bootstrap installs Debian's "
                        "'bubblewrap' package")
    return path


def _socat() -> str:
    path = shutil.which("socat")
    if not path:
        raise JailError("socat is not installed; the bootstrap installs Debian's 'socat' package")
    return path


class Jail:
    """One attempt's jail: its files on the host, its tunnels and its cgroup."""

    def __init__(self, spec: JailSpec, root: Path):
        self.spec = spec
        self.dir = root / f"attempt-{spec.attempt}"
        self.run_dir = self.dir / "run"          # sockets, bind-mounted at /run/proctor
        self.etc_dir = self.dir / "etc"          # bashrc, kubeconfig, passwd …
        self.home = spec.workspace / "home"
        self.answers = spec.workspace / "answers"
        self._relays: list[subprocess.Popen] = []
        self.cgroups: list[Path] = []

    # -- preparing the files -------------------------------------------------
    def prepare(self) -> None:
        """Write the jail's files and start the host side of its tunnels (idempotent)."""
        uid = self.spec.uid
        for d in (self.run_dir, self.etc_dir, self.home, self.answers):
            d.mkdir(parents=True, exist_ok=True)
        for d in (self.home, self.answers):
            os.chown(d, uid, uid)
            d.chmod(0o700)
        self.spec.workspace.chmod(0o711)  # the jail user may traverse to its dirs, not list
        self._write_etc()
        self._start_relays()
        self._make_cgroups()

    def _write_etc(self) -> None:
        etc = self.etc_dir
        cfg = yaml.safe_load(self.spec.kubeconfig.read_text())
        cluster = cfg["clusters"][0]
        cluster["cluster"]["server"] = f"https://127.0.0.1:{API_PORT}"
        cluster["name"] = "kubernetes"
        user = cfg["users"][0]
        user["name"] = "candidate"
        cfg["clusters"], cfg["users"] = [cluster], [user]
        cfg["contexts"] = [{"name": "exam", "context": {
            "cluster": "kubernetes", "user": "candidate", "namespace": "default"}}]
        cfg["current-context"] = "exam"
        # A file of the candidate's own, writable: `kubectl config set-context
        # --current --namespace …` is everyday exam practice.
        kube = self.home / ".kube"
        kube.mkdir(exist_ok=True)
        os.chown(kube, self.spec.uid, self.spec.uid)
        path = kube / "config"
        if not path.exists():
            path.write_text(yaml.safe_dump(cfg))
            os.chown(path, self.spec.uid, self.spec.uid)
            path.chmod(0o600)
        (etc / "passwd").write_text(
            f"root:x:0:0:root:/root:/usr/sbin/nologin\n"
            f"candidate:x:{self.spec.uid}:{self.spec.uid}:candidate:{HOME}:/bin/bash\n")
        (etc / "group").write_text(f"root:x:0:\ncandidate:x:{self.spec.uid}:\n")
        (etc / "hosts").write_text("127.0.0.1 localhost exam\n")
        kubectl = Toolchain().binary("kubectl")
        completion = subprocess.run([str(kubectl), "completion", "bash"], capture_output=True,
                                    text=True, timeout=30).stdout
        (etc / "kubectl_completion").write_text(completion)
        nodes = ", ".join(n + (" (not joined)" if n in self.spec.unjoined else "")
                          for n in self.spec.nodes) or "see kubectl get nodes"
        # No ETCDCTL_ENDPOINTS: etcdctl 3.6 refuses --endpoints when it is set,
        # and 127.0.0.1:2379, etcdctl's default, is the tunnel to this etcd.
        (etc / "bashrc").write_text(BASHRC.format(nodes=nodes, answers=ANSWERS))
        (etc / "vimrc").write_text("runtime! debian.vim\nset nocompatible\nsyntax on\n"
                                   "set expandtab tabstop=2 shiftwidth=2 autoindent\n"
                                   "set backspace=indent,eol,start\n")
        (etc / "ssh").write_text(nodeshell.CLIENT)
        (etc / "ssh").chmod(0o755)

    def _start_relays(self) -> None:
        """Host side of the tunnels: Unix socket in run_dir -> this sandbox's port."""
        if any(r.poll() is None for r in self._relays):
            return
        server = yaml.safe_load(self.spec.kubeconfig.read_text())["clusters"][0]["cluster"]["server"]
        targets = {"api.sock": _host_port(server)}
        if self.spec.etcd_endpoint:
            targets["etcd.sock"] = _host_port(self.spec.etcd_endpoint)
        for sock, (host, port) in targets.items():
            self._relay(sock, f"TCP:{host}:{port}")
        socks = list(targets)
        # ssh NODE: one socket per node; each connection runs the node's fixed
        # shell command on a fresh pty (web/terminal/nodeshell.py)
        nodes_dir = self.run_dir / "nodes"
        shutil.rmtree(nodes_dir, ignore_errors=True)
        if self.spec.node_shells:
            nodes_dir.mkdir(mode=0o755)
        for node, argv in self.spec.node_shells.items():
            sock = f"nodes/{node}.sock"
            host = " ".join([sys.executable, nodeshell.__file__, node, *argv])
            self._relay(sock, f"EXEC:{host},pty,setsid,ctty,raw,echo=0,stderr")
            socks.append(sock)
        deadline = time.monotonic() + 5
        while not all((self.run_dir / s).exists() for s in socks):
            if time.monotonic() > deadline:
                raise JailError(f"tunnel sockets did not appear in {self.run_dir}")
            time.sleep(0.01)

    def _relay(self, sock: str, remote: str) -> None:
        """socat from the Unix socket ``run_dir/sock`` (owned by the jail's uid)
        to ``remote``. It runs in run_dir with a relative path: a socket path
        is limited to 107 bytes, which a deep instance folder can exceed."""
        (self.run_dir / sock).unlink(missing_ok=True)
        self._relays.append(subprocess.Popen(
            [_socat(), f"UNIX-LISTEN:{sock},fork,mode=0600,user={self.spec.uid}", remote],
            cwd=self.run_dir, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True, preexec_fn=_die_with_parent))

    def _make_cgroups(self) -> None:
        self.cgroups = []
        base = Path("/sys/fs/cgroup")
        name = f"proctor-attempt-{self.spec.attempt}"
        limits = {
            "memory": {"memory.limit_in_bytes": self.spec.memory_mb * 1024**2},
            "pids": {"pids.max": self.spec.max_pids},
            "cpu": {"cpu.cfs_period_us": 100000,
                    "cpu.cfs_quota_us": 1000 * self.spec.cpu_percent},
        }
        if (base / "cgroup.controllers").exists():  # cgroup v2: one hierarchy
            d = base / name
            d.mkdir(exist_ok=True)
            _write(d / "memory.max", self.spec.memory_mb * 1024**2)
            _write(d / "pids.max", self.spec.max_pids)
            _write(d / "cpu.max", f"{1000 * self.spec.cpu_percent} 100000")
            self.cgroups.append(d)
            return
        for controller, files in limits.items():
            d = base / controller / name
            if not (base / controller).is_dir():
                continue
            try:
                d.mkdir(exist_ok=True)
                for f, v in files.items():
                    _write(d / f, v)
                self.cgroups.append(d)
            except OSError as exc:
                raise JailError(f"cannot set {controller} limits in {d}: {exc}") from None

    # -- running ---------------------------------------------------------------
    def command(self, argv: list[str]) -> list[str]:
        """The bwrap command line that runs ``argv`` inside the jail."""
        tc = Toolchain()
        etc = self.etc_dir
        args = [
            # No --new-session: the shell needs the attempt's own pty as its
            # controlling terminal (job control); that pty reaches nothing else.
            _bwrap(), "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-net",
            "--unshare-cgroup", "--die-with-parent", "--hostname", "exam",
            # only what setpriv needs to drop to the candidate's uid, then drops too
            "--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID",
            "--cap-add", "CAP_SETPCAP",
            "--ro-bind", "/usr", "/usr",
            "--symlink", "usr/bin", "/bin", "--symlink", "usr/sbin", "/sbin",
            "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
            "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",
            # bwrap makes missing parents 0700 (root's); the candidate must traverse them
            "--perms", "0755", "--dir", "/run",
            "--perms", "0755", "--dir", "/etc",
            "--perms", "0755", "--dir", "/etc/proctor",
            "--perms", "0755", "--dir", "/etc/vim",
            "--perms", "0755", "--dir", "/home",
            "--perms", "0755", "--dir", "/opt",
            "--perms", "0755", "--dir", "/opt/proctor",
            "--perms", "0755", "--dir", "/opt/proctor/bin",
        ]
        for host_etc in ("alternatives", "ld.so.cache", "nsswitch.conf", "inputrc", "nanorc", "bash_completion.d", "profile.d", "terminfo", "localtime",
                         "os-release"):
            if Path("/etc", host_etc).exists():
                args += ["--ro-bind", f"/etc/{host_etc}", f"/etc/{host_etc}"]
        for f in ("passwd", "group", "hosts"):
            args += ["--ro-bind", str(etc / f), f"/etc/{f}"]
        args += [
            "--ro-bind", str(etc / "bashrc"), "/etc/bash.bashrc",
            "--ro-bind", str(etc / "vimrc"), "/etc/vim/vimrc",
            "--ro-bind", str(etc / "kubectl_completion"), "/etc/proctor/kubectl_completion",
            "--ro-bind", str(tc.binary("kubectl")), "/opt/proctor/bin/kubectl",
            "--ro-bind", str(tc.binary("etcdctl")), "/opt/proctor/bin/etcdctl",
            "--ro-bind", str(etc / "ssh"), "/opt/proctor/bin/ssh",
            "--bind", str(self.home), HOME,
            "--bind", str(self.answers), ANSWERS,
            "--ro-bind", str(self.run_dir), "/run/proctor",
            "--clearenv",
            "--setenv", "HOME", HOME, "--setenv", "USER", "candidate",
            "--setenv", "LOGNAME", "candidate", "--setenv", "SHELL", "/bin/bash",
            "--setenv", "TERM", "xterm-256color", "--setenv", "LANG", "C.UTF-8",
            "--setenv", "PATH", "/opt/proctor/bin:/usr/local/bin:/usr/bin:/bin",
            "--setenv", "KUBECONFIG", f"{HOME}/.kube/config",
            "--setenv", "EDITOR", "vim",
            "--", "/usr/bin/setpriv", "--reuid", str(self.spec.uid), "--regid",
            str(self.spec.uid), "--clear-groups", "--inh-caps=-all", "--ambient-caps=-all",
            "--bounding-set=-all", "--no-new-privs",
            "--", "/bin/bash", "-c", self._tunnels() + f' cd {HOME}; exec "$@"', "jail", *argv,
        ]
        return args

    def _tunnels(self) -> str:
        """Shell that starts the near ends of the tunnels inside the jail.

        The API server is at 127.0.0.1:6443. etcd answers at 127.0.0.1:2379
        (etcdctl's default) and also at its port on the host, so an endpoint
        a task recorded from the host side (setup runs there) works here too.
        """
        listens = [(API_PORT, "api.sock")]
        if self.spec.etcd_endpoint:
            host_port = _host_port(self.spec.etcd_endpoint)[1]
            listens += [(ETCD_PORT, "etcd.sock")] + (
                [(host_port, "etcd.sock")] if host_port not in (ETCD_PORT, API_PORT) else [])
        starts = "".join(
            f"socat TCP-LISTEN:{port},bind=127.0.0.1,fork,reuseaddr "
            f"UNIX-CONNECT:/run/proctor/{sock} >/dev/null 2>&1 & " for port, sock in listens)
        return (starts + f"for i in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/{API_PORT}) "
                "2>/dev/null && break; sleep 0.02; done;")

    def preexec(self) -> None:
        """Runs in the child before exec: join the cgroups, set rlimits (they
        bind once setpriv has switched to the attempt's own uid)."""
        pid = str(os.getpid())
        for d in self.cgroups:
            (d / "cgroup.procs").write_text(pid)
        nproc = self.spec.max_pids
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    def spawn(self, argv: list[str], stdin=None, stdout=None, stderr=None,
              tty: int | None = None) -> subprocess.Popen:
        """Start ``argv`` inside the jail (prepare() first).

        With ``tty`` (a pty's slave fd, also given as stdin/stdout/stderr) the
        process leads a new session with that pty as its controlling terminal,
        so the shell has job control and Ctrl-C reaches what runs in it.
        """
        def preexec():
            if tty is not None:
                os.setsid()
                fcntl.ioctl(tty, termios.TIOCSCTTY, 0)
            self.preexec()

        return subprocess.Popen(self.command(argv), stdin=stdin, stdout=stdout, stderr=stderr,
                                preexec_fn=preexec, close_fds=True,
                                env={"PATH": "/usr/bin:/bin"})

    def processes(self) -> list[int]:
        """Every pid in the jail's cgroups (what stop() will kill)."""
        pids: set[int] = set()
        for d in self.cgroups:
            try:
                pids |= {int(p) for p in (d / "cgroup.procs").read_text().split()}
            except OSError:
                pass
        return sorted(pids)

    def stop(self) -> None:
        """Kill everything in the jail and its tunnels; keep the workspace for grading."""
        for _ in range(20):
            pids = self.processes()
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.05)
        for r in self._relays:
            if r.poll() is None:
                os.killpg(r.pid, signal.SIGTERM)
                r.wait(5)
        self._relays = []
        for d in self.cgroups:
            try:
                d.rmdir()
            except OSError:
                pass

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def _die_with_parent() -> None:
    """The relay ends when the portal does (shells are forked from a thread
    that lives as long as the process, so the 'parent died' signal means it)."""
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _write(path: Path, value) -> None:
    path.write_text(str(value))


def _host_port(url: str) -> tuple[str, int]:
    hostport = url.split("://", 1)[-1].split("/", 1)[0]
    host, _, port = hostport.rpartition(":")
    if host not in ("127.0.0.1", "localhost"):
        raise JailError(f"tunnel target {url} is not on this machine's loopback")
    return host, int(port)


BASHRC = r"""# Proctor exam shell
[ -z "$PS1" ] && return
shopt -s checkwinsize histappend
HISTSIZE=5000
PS1='\[\e[1;32m\]candidate@exam\[\e[0m\]:\[\e[1;34m\]\w\[\e[0m\]\$ '
if [ -f /usr/share/bash-completion/bash_completion ]; then
  . /usr/share/bash-completion/bash_completion
fi
. /etc/proctor/kubectl_completion
alias k=kubectl
complete -o default -F __start_kubectl k
export do="--dry-run=client -o yaml"
if [ -z "$PROCTOR_BANNER_SHOWN" ]; then
  export PROCTOR_BANNER_SHOWN=1
  printf '\e[1mProctor exam shell\e[0m  kubectl (alias k), vim, nano, less\n'
  printf 'Nodes: {nodes}\nAnswer files: {answers}   Context: exam\n\n'
fi
"""
