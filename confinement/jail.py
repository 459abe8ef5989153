"""The candidate's shell, jailed with bubblewrap.

Each attempt's shell runs:

* as its own unprivileged host uid, ``confinement.identity.candidate_uid(prefix,
  attempt)``, unique per portal (``prefix`` is its SANDBOX_PREFIX), named
  ``candidate`` inside, with no capabilities and ``no_new_privs``: bwrap
  runs as root to make the mounts, then ``setpriv`` drops to that uid before
  anything of the candidate's runs;
* in new mount, pid, ipc, uts, cgroup and **network** namespaces: it sees
  only ``/usr`` read-only, its own home and ``/opt/answers`` (on the
  attempt's disk image, see ``disk``), a private ``/tmp`` and the files of
  ``jailfiles``; no host path of the portal appears in its command line,
  environment or mount table;
* under a seccomp filter (``seccomp``): no new namespaces, no mount, keyring,
  ptrace, bpf, perf, io_uring or TIOCSTI;
* with loopback only. Its API server (and etcd, for the etcd tasks) is
  reached through a tunnel: inside, ``127.0.0.1:6443`` → a Unix socket in
  ``/run/proctor`` → a relay on the host to *this* sandbox's port;
* in a cgroup (``cgroup``) with memory, process and CPU limits, which the
  host ends of its tunnels join too, and with ``RLIMIT_NPROC``,
  ``RLIMIT_FSIZE`` and ``RLIMIT_NOFILE``.

The portal starts the jail once per attempt (``start``: a leader holding its
namespaces) and *enters* it for each terminal tab (``enter``, see
``enter.py``); ``spawn`` runs a command in a jail of its own (the tests).

    >>> jail = Jail(JailSpec(attempt=42, workspace=ws, kubeconfig=kc,        # doctest: +SKIP
    ...                      tools={"kubectl": kubectl}), root)
    >>> jail.start()                                                          # doctest: +SKIP
    >>> proc = jail.enter(["bash", "-i"], tty=slave, stdin=slave, ...)        # doctest: +SKIP
    >>> jail.stop()                                                           # doctest: +SKIP
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import resource
import select
import shutil
import signal
import subprocess
import sys
import termios
from dataclasses import dataclass, field
from pathlib import Path

from . import cgroup, enter, jailfiles, relays, seccomp
from .cgroup import Cgroup, CgroupError, Limits
from .disk import Disk, DiskError
from .identity import candidate_uid, cgroup_name, grader_uid, jail_cgroups
from .jailfiles import ANSWERS, HOME
from .relays import JailError, tool

log = logging.getLogger(__name__)
HOST_ETC = ("alternatives", "ld.so.cache", "nsswitch.conf", "inputrc", "nanorc",
            "bash_completion.d", "profile.d", "terminfo", "localtime", "os-release")


# the whole environment of everything the jail runs
ENV = {"HOME": HOME, "USER": "candidate", "LOGNAME": "candidate", "SHELL": "/bin/bash",
       "TERM": "xterm-256color", "LANG": "C.UTF-8",
       "PATH": "/opt/proctor/bin:/usr/local/bin:/usr/bin:/bin",
       "KUBECONFIG": f"{HOME}/.kube/config", "EDITOR": "vim"}
# What holds the jail's namespaces while tabs come and go; it says when the
# start script is through (bwrap's info fd speaks before the mounts are made).
LEADER = ["/bin/sh", "-c", "echo ready && exec sleep infinity"]


@dataclass
class JailSpec:
    attempt: int
    workspace: Path          # the sandbox's workspace; answers/ inside it is /opt/answers
    kubeconfig: Path         # the sandbox's admin kubeconfig (host side)
    # the host binaries bound into /opt/proctor/bin: kubectl, etcdctl, helm
    # (web.terminal.jail_spec takes them from the toolchain: Toolchain.shell_tools)
    tools: dict[str, Path] = field(default_factory=dict)
    etcd_endpoint: str = ""  # "https://127.0.0.1:PORT" when the sandbox exposes etcd
    etcd_pki: Path | None = None  # the sandbox's etcd credentials (Sandbox.etcd_pki)
    nodes: list[str] = field(default_factory=list)
    unjoined: list[str] = field(default_factory=list)  # machines the candidate is to join
    # node -> the host command that opens a shell on it (kind: docker exec …);
    # empty where nodes are simulated
    node_shells: dict[str, list[str]] = field(default_factory=dict)
    # the task hosts (grader/hosts.py) where the exam has them: the shell
    # opens on a base host with no cluster, `ssh <host>` reaches a task's
    hosts: list[str] = field(default_factory=list)
    # an exam of several clusters: host -> its cluster (0-based), and the
    # admin kubeconfigs of clusters 2..N (host side); cluster 1 is ``kubeconfig``
    host_clusters: dict[str, int] = field(default_factory=dict)
    more_kubeconfigs: list[Path] = field(default_factory=list)
    memory_mb: int = 768
    max_pids: int = 256
    cpu_percent: int = 100   # of one core
    prefix: str = ""         # the portal's SANDBOX_PREFIX: its uids and cgroups are its own
    sandbox: str = ""        # the sandbox's name (default: the workspace's parent folder)
    disk_mb: int = 512       # home + answers (an ext4 image), and the largest file anywhere
    tmp_mb: int = 256        # the private /tmp (tmpfs: it counts in memory_mb too)
    disk_image: bool = True  # False: RLIMIT_FSIZE is the only disk limit

    @property
    def uid(self) -> int:
        return candidate_uid(self.prefix, self.attempt)

    @property
    def sandbox_name(self) -> str:
        return self.sandbox or Path(self.workspace).parent.name

    @property
    def grader_gid(self) -> int:
        """The group of the answers folder: the grader of this sandbox reads it."""
        return grader_uid(self.sandbox_name)

    @property
    def cgroup(self) -> str:
        return cgroup_name(self.prefix, self.attempt)


class Jail:
    """One attempt's jail: its disk, its tunnels and its cgroup."""

    def __init__(self, spec: JailSpec, root: Path):
        self.spec = spec
        self.dir = root / f"attempt-{spec.attempt}"
        self.disk = Disk(spec.workspace, spec.disk_mb, spec.disk_image)
        self.home, self.answers = self.disk.home, self.disk.answers
        self.cgroup = Cgroup(spec.cgroup)
        self.limits = Limits(memory_bytes=spec.memory_mb * 1024 * 1024, pids=spec.max_pids,
                             cpu_percent=spec.cpu_percent)
        self._relays: list[subprocess.Popen] = []
        self._spawned: list[subprocess.Popen] = []
        self._leader: subprocess.Popen | None = None
        self._pidfd: int | None = None  # the jail's pid 1, whose namespaces tabs enter

    @property
    def run_dir(self) -> Path:
        """The tunnels' sockets, bind-mounted read-only at /run/proctor."""
        return self.disk.run or self.dir / "run"

    @property
    def cgroups(self) -> list[Path]:
        return self.cgroup.dirs

    # -- preparing -------------------------------------------------------------
    def prepare(self) -> None:
        """Mount the disk, make the cgroup, start the host side of the tunnels
        (idempotent: every shell start calls it)."""
        try:
            self.disk.prepare(self.spec.uid, self.spec.grader_gid)
        except (OSError, DiskError) as exc:
            raise JailError(f"cannot prepare the workspace {self.spec.workspace}: {exc}") \
                from None
        if not self.disk.limited:
            self.dir.mkdir(parents=True, exist_ok=True)
            (self.dir / "run").mkdir(mode=0o755, exist_ok=True)
        # what is in the cgroup before this jail ran anything is a previous shell's
        mine = any(p.poll() is None for p in self._relays + self._spawned)
        try:
            self.cgroup.create(self.limits, empty_first=not mine)
        except CgroupError as exc:
            raise JailError(str(exc)) from None
        if not any(r.poll() is None for r in self._relays):
            self._relays = relays.start(self.spec, self.run_dir, self.cgroup)

    # -- running ---------------------------------------------------------------
    def _options(self, files: dict[str, int], seccomp_fd: int) -> list[str]:
        """bwrap's options (everything but the command), read from a memfd."""
        args = [
            # No --new-session: the shell needs the attempt's own pty as its
            # controlling terminal (job control); TIOCSTI on it is denied anyway.
            "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-net",
            "--unshare-cgroup", "--die-with-parent", "--hostname", "exam",
            # only what setpriv needs to drop to the candidate's uid, then drops too
            "--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID",
            "--cap-add", "CAP_SETPCAP",
            "--ro-bind", "/usr", "/usr",
            "--symlink", "usr/bin", "/bin", "--symlink", "usr/sbin", "/sbin",
            "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
            "--proc", "/proc", "--dev", "/dev",
            # a private /tmp anyone may write (kubectl edit's temporary files)
            "--perms", "1777", "--size", str(self.spec.tmp_mb * 1024 * 1024), "--tmpfs", "/tmp",
        ]
        # bwrap makes missing parents 0700 (root's); the candidate must traverse them
        parents = {str(p) for dest in files for p in Path(dest).parents if str(p) != "/"}
        for d in sorted(parents | {"/run", "/home", "/opt/proctor/bin"}, key=len):
            args += ["--perms", "0755", "--dir", d]
        for name in HOST_ETC:
            if Path("/etc", name).exists():
                args += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
        for dest, (fd, mode) in files.items():
            args += ["--perms", f"{mode:04o}", "--ro-bind-data", str(fd), dest]
        for name, path in sorted(self.spec.tools.items()):
            args += ["--ro-bind", str(path), f"/opt/proctor/bin/{name}"]
        args += [
            "--bind", str(self.home), HOME,
            "--bind", str(self.answers), ANSWERS,
            "--ro-bind", str(self.run_dir), "/run/proctor",
            "--remount-ro", "/",
            "--seccomp", str(seccomp_fd),
            "--clearenv",
        ]
        for k, v in ENV.items():
            args += ["--setenv", k, v]
        return args

    def _command(self, argv: list[str]) -> list[str]:
        """What follows ``bwrap --args FD --``: visible in the jail as /proc/1/cmdline,
        so nothing of the host is in it."""
        uid = str(self.spec.uid)
        return ["/usr/bin/setpriv", "--reuid", uid, "--regid", uid, "--clear-groups",
                "--inh-caps=-all", "--ambient-caps=-all", "--bounding-set=-all",
                "--no-new-privs", "--", "/bin/bash", "/etc/proctor/start", *argv]

    def _fds(self, extra: list[str] = ()) -> tuple[dict[str, tuple[int, int]], int, int]:
        """memfds for bwrap: (dest -> (fd, mode)), the seccomp program, the options."""
        etcd_port = relays.host_port(self.spec.etcd_endpoint)[1] if self.spec.etcd_endpoint else None
        rendered = jailfiles.files(
            uid=self.spec.uid, grader_gid=self.spec.grader_gid,
            host_kubeconfig=self.spec.kubeconfig, kubectl=self.spec.tools.get("kubectl"),
            helm=self.spec.tools.get("helm"),
            nodes=self.spec.nodes, unjoined=self.spec.unjoined, hosts=self.spec.hosts,
            host_clusters=self.spec.host_clusters, more_kubeconfigs=self.spec.more_kubeconfigs,
            etcd_host_port=etcd_port,
            etcd_pki_folder=self.spec.etcd_pki if etcd_port else None)
        files = {dest: (jailfiles.memfd("f", text.encode()), mode)
                 for dest, (text, mode) in rendered.items()}
        sc = seccomp.program_fd()
        opts = list(extra) + self._options(files, sc)
        args = jailfiles.memfd("args", b"".join(a.encode() + b"\0" for a in opts))
        return files, sc, args

    def preexec(self) -> None:
        """Runs in the child before exec: join the cgroup, set rlimits (they
        bind once setpriv has switched to the attempt's own uid), and give
        Ctrl-C and Ctrl-\\ their default meaning back: a portal started in the
        background (``proctor run &``, a job under ``nohup sh -c``) ignores
        SIGINT and SIGQUIT, an ignored signal survives exec, and the
        candidate's Ctrl-C would stop nothing in their shell."""
        for sig in (signal.SIGINT, signal.SIGQUIT):
            signal.signal(sig, signal.SIG_DFL)
        self.cgroup.join()
        nproc = self.spec.max_pids
        fsize = max(self.spec.disk_mb, 1) * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
        resource.setrlimit(resource.RLIMIT_NOFILE, (4096, 4096))

    def spawn(self, argv: list[str], stdin=None, stdout=None, stderr=None,
              tty: int | None = None, info_fd: int | None = None) -> subprocess.Popen:
        """Start ``argv`` in a jail of its own (prepare() first): new namespaces,
        the same uid, cgroup, disk and tunnels. ``info_fd``: bwrap writes
        ``{"child-pid": N}`` there, N being the jail's pid 1 on the host.

        With ``tty`` (a pty's slave fd, also given as stdin/stdout/stderr) the
        process leads a new session with that pty as its controlling terminal,
        so the shell has job control and Ctrl-C reaches what runs in it.
        """
        files, sc, args = self._fds(["--info-fd", str(info_fd)] if info_fd is not None else [])
        fds = [fd for fd, _ in files.values()] + [sc, args]
        try:
            proc = subprocess.Popen(
                [tool("bwrap", "bubblewrap"), "--args", str(args), "--", *self._command(argv)],
                stdin=stdin, stdout=stdout, stderr=stderr, preexec_fn=self._preexec_fn(tty),
                close_fds=True, pass_fds=fds + ([info_fd] if info_fd is not None else []),
                env={"PATH": "/usr/bin:/bin"}, start_new_session=tty is None)
        finally:
            for fd in fds:
                os.close(fd)
        self._spawned.append(proc)
        return proc

    def _preexec_fn(self, tty: int | None):
        def preexec():
            if tty is not None:
                os.setsid()
                fcntl.ioctl(tty, termios.TIOCSCTTY, 0)
            relays.die_with_parent(signal.SIGKILL)
            self.preexec()
        return preexec

    # -- one jail, several shells ----------------------------------------------------
    @property
    def running(self) -> bool:
        """Whether the jail started by ``start()`` still holds its namespaces."""
        return self._leader is not None and self._leader.poll() is None

    def start(self) -> None:
        """Prepare the jail and start its leader, a process that only holds the
        namespaces (and started the tunnels' near ends), so that the shells
        entered with ``enter()`` come and go independently. Idempotent."""
        if self.running:
            return
        self.prepare()
        info_r, info_w = os.pipe()
        ready_r, ready_w = os.pipe()
        try:
            self._leader = self.spawn(LEADER, stdin=subprocess.DEVNULL, stdout=ready_w,
                                      stderr=subprocess.DEVNULL, info_fd=info_w)
            os.close(info_w)
            os.close(ready_w)
            info_w = ready_w = -1
            info, ready = enter.read_until(info_r, b"}"), enter.read_until(ready_r, b"ready\n")
            pid = json.loads(info or b"{}").get("child-pid")
            if not pid or b"ready" not in ready or not self.running:
                raise JailError(f"the jail of attempt {self.spec.attempt} did not start")
            if self._pidfd is not None:
                os.close(self._pidfd)
            self._pidfd = os.pidfd_open(pid)
        finally:
            for fd in (info_r, info_w, ready_r, ready_w):
                if fd >= 0:
                    os.close(fd)

    def enter(self, argv: list[str], stdin=None, stdout=None, stderr=None,
              tty: int | None = None) -> subprocess.Popen:
        """Start ``argv`` in this running jail (``start()`` first), in its
        namespaces, under its seccomp filter, as its candidate (``enter.py``)."""
        if not self.running or self._pidfd is None:
            raise JailError(f"the jail of attempt {self.spec.attempt} is not running")
        sc = seccomp.program_fd()
        root = -1
        try:
            pid1 = enter.pid_of(self._pidfd)
            root = os.open(f"/proc/{pid1}/root", os.O_PATH | os.O_DIRECTORY)
            if select.select([self._pidfd], [], [], 0)[0]:  # readable: the process is gone
                raise JailError(f"the jail of attempt {self.spec.attempt} has ended")
            spec = {"pidfd": self._pidfd, "root": root, "seccomp": sc,
                    "argv": self._command(argv), "env": ENV}
            proc = subprocess.Popen(
                [sys.executable, "-I", enter.__file__], stdin=stdin, stdout=stdout, stderr=stderr,
                preexec_fn=self._preexec_fn(tty), close_fds=True,
                pass_fds=[self._pidfd, root, sc], start_new_session=tty is None,
                env={"PATH": "/usr/bin:/bin", enter.ENV: json.dumps(spec)})
        finally:
            os.close(sc)
            if root >= 0:
                os.close(root)
        self._spawned.append(proc)
        return proc

    def processes(self) -> list[int]:
        """Every pid in the jail's cgroup (what stop() will kill)."""
        return sorted(self.cgroup.pids())

    def stop(self) -> None:
        """Kill everything in the jail and its tunnels, and remove its cgroup;
        keep the workspace (and its disk) for grading."""
        self.cgroup.kill()
        for p in self._relays + self._spawned:
            try:
                p.kill()
                p.wait(5)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self._relays, self._spawned, self._leader = [], [], None
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None
        left = self.cgroup.remove()
        if left:
            log.warning("cgroups of attempt %s still busy: %s", self.spec.attempt,
                        ", ".join(map(str, left)))

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    @staticmethod
    def sweep(prefix: str) -> list[str]:
        """Remove the empty cgroups of the jails of the portal with ``prefix``
        (``proctor-<prefix>a<N>``) that a crash left; busy ones are left
        alone. Returns the names removed."""
        return cgroup.sweep(f"proctor-{prefix}a", jail_cgroups(prefix))
