"""Each attempt's disk: the candidate's home and answers on a size-limited image.

Without it a candidate fills the host's disk from ``$HOME``. The host's root
filesystem has no quotas, so each sandbox's workspace gets a sparse ext4
image of ``size_mb``, loop-mounted (``nosuid,nodev``) once, on the host,
where every shell of the attempt (after a reconnect, after a portal restart)
and the grader find it::

    <workspace>/                 root 0711 (the provider's): nobody else writes here
      .jail/                     root 0700
        disk.img                 the image: blocks are used only as they are written
        disk/                    its mount point
          home/                  candidate 0700                -> /home/candidate
          answers/               candidate:grader 02770        -> /opt/answers
          run/                   root 0755: the tunnels' sockets -> /run/proctor
      home/     bind mount of .jail/disk/home     (the paths the grader and the
      answers/  bind mount of .jail/disk/answers   jail have always used)

The candidate never writes the image's raw bytes, only files through the
kernel's ext4, so the image is no way to feed the kernel a crafted
filesystem. Because home, answers and run live on the image, the jail's
``/proc/self/mountinfo`` shows them as ``/home``, ``/answers`` and ``/run``
of ``/dev/loopN``, not as host paths.

Where no loop device can be set up (a container without ``/dev/loop*``, no
``mkfs.ext4``), home and answers are plain directories of the workspace and
only ``RLIMIT_FSIZE`` (set by the jail) bounds each file; ``Disk.why`` says
why, and the jail logs it. The sandbox provider unmounts all of it
(``sandbox.base.unmount_under``) before it removes the workspace.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import subprocess
from pathlib import Path

from .homefiles import DIR_FLAGS, chmod_dir, copy_tree, own_dir

log = logging.getLogger(__name__)
PRIVATE = ".jail"


class DiskError(Exception):
    """The workspace cannot safely hold the attempt's disk."""


def mounts() -> dict[str, str]:
    """Mount point -> source of every mount in this process's namespace."""
    out = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            out[_unescape(fields[4])] = fields[sep + 2]
    return out


def _unescape(path: str) -> str:
    for code in ("\\040", "\\011", "\\012", "\\134"):
        path = path.replace(code, chr(int(code[1:], 8)))
    return path


class Disk:
    """The home, answers and run directories of one sandbox's workspace."""

    def __init__(self, workspace: Path, size_mb: int, use_image: bool = True):
        self.workspace = Path(os.path.realpath(workspace))
        self.size_mb = int(size_mb)
        self.use_image = use_image and self.size_mb > 0
        self.private = self.workspace / PRIVATE
        self.image = self.private / "disk.img"
        self.mountpoint = self.private / "disk"
        self.home = self.workspace / "home"
        self.answers = self.workspace / "answers"
        self.limited = False
        self.why = ""

    @property
    def run(self) -> Path | None:
        """Where the tunnels' sockets go: on the image, else None (the jail's own dir)."""
        return self.mountpoint / "run" if self.limited else None

    def prepare(self, uid: int, answers_gid: int) -> None:
        """Mount (once) and own home and answers; safe to call on every shell start."""
        self._check_workspace()
        self.limited = False
        if self.use_image:
            try:
                self._mount_image()
                self.limited = True
            except (OSError, subprocess.SubprocessError, DiskError) as exc:
                if self.image.exists():  # it holds the home and answers: never go on without
                    raise DiskError(f"the disk image {self.image} cannot be mounted: {exc}") \
                        from None
                self.why = f"no disk image for {self.workspace}: {exc}"
                log.warning("%s; only RLIMIT_FSIZE limits the candidate's files", self.why)
        else:
            self.why = "disk image disabled"
        root = self.mountpoint if self.limited else self.workspace
        fd = os.open(root, DIR_FLAGS)
        try:
            own_dir(fd, "home", uid, uid, 0o700)
            own_dir(fd, "answers", uid, answers_gid, 0o2770, shared=True)
            if self.limited:
                own_dir(fd, "run", 0, 0, 0o755)
        finally:
            os.close(fd)

    def _check_workspace(self) -> None:
        """Everything below runs as root on paths under the workspace: they are
        safe only while nobody but root can change its entries."""
        st = os.lstat(self.workspace)
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != 0 or st.st_mode & 0o022:
            raise DiskError(f"workspace {self.workspace} must be a directory owned by root "
                            f"and writable by root only; found uid {st.st_uid}, "
                            f"mode {stat.filemode(st.st_mode)}")
        chmod_dir(self.workspace, 0o711)
        for d in (self.private, self.mountpoint, self.home, self.answers):
            try:
                os.mkdir(d, 0o700)
            except FileExistsError:
                pass
            st = os.lstat(d)
            if not stat.S_ISDIR(st.st_mode):
                raise DiskError(f"{d} is not a directory")
        chmod_dir(self.private, 0o700)

    def _mount_image(self) -> None:
        table = mounts()
        if str(self.mountpoint) not in table:
            for tool in ("mkfs.ext4", "e2fsck", "mount"):
                if not shutil.which(tool, path="/usr/sbin:/usr/bin:/sbin:/bin"):
                    raise DiskError(f"{tool} is not installed (Debian's e2fsprogs/mount)")
            if not os.path.exists("/dev/loop-control"):
                raise DiskError("/dev/loop-control is missing: this machine has no loop devices")
            if self.image.exists():
                # after a reboot: repair what a crash may have left, then mount it again
                _run(["e2fsck", "-p", str(self.image)], ok=(0, 1, 2))
                self._mount()
            else:
                self._create()
            table = mounts()
        for name in ("home", "answers"):
            target = self.workspace / name
            if str(target) not in table:
                _run(["mount", "--bind", str(self.mountpoint / name), str(target)])

    def _mount(self, image: Path | None = None) -> None:
        _run(["mount", "-t", "ext4", "-o", "loop,nosuid,nodev,noinit_itable",
              str(image or self.image), str(self.mountpoint)])

    def _create(self) -> None:
        """A new sparse image, with whatever home and answers already held (a
        task's setup may have written answers before the first shell)."""
        tmp = self.image.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)
        with open(tmp, "wb") as f:
            os.fchmod(f.fileno(), 0o600)
            f.truncate(self.size_mb * 1024 * 1024)
        _run(["mkfs.ext4", "-q", "-F", "-m", "0", "-E",
              "lazy_itable_init=1,lazy_journal_init=1,nodiscard,root_owner=0:0", str(tmp)])
        self._mount(tmp)
        try:
            os.chmod(self.mountpoint, 0o711)
            shutil.rmtree(self.mountpoint / "lost+found", ignore_errors=True)
            for name in ("home", "answers"):
                os.mkdir(self.mountpoint / name, 0o700)
                copy_tree(self.workspace / name, self.mountpoint / name)
            os.replace(tmp, self.image)
        except BaseException:
            _run(["umount", "-l", str(self.mountpoint)], ok=None)
            raise
        # what was copied is now hidden under the bind mounts: give the space back
        for name in ("home", "answers"):
            _empty(self.workspace / name)


def _empty(path: Path) -> None:
    """Remove what ``path`` holds without following any link in it."""
    fd = os.open(path, DIR_FLAGS)
    try:
        for entry in os.listdir(fd):
            try:
                if stat.S_ISDIR(os.stat(entry, dir_fd=fd, follow_symlinks=False).st_mode):
                    shutil.rmtree(entry, dir_fd=fd)  # fd-based: never follows links
                else:
                    os.unlink(entry, dir_fd=fd)
            except OSError:
                pass
    finally:
        os.close(fd)


def _run(argv: list[str], ok: tuple[int, ...] | None = (0,)) -> None:
    res = subprocess.run(argv, capture_output=True, text=True, timeout=120,
                         env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"})
    if ok is not None and res.returncode not in ok:
        raise DiskError(f"{' '.join(argv)} exited {res.returncode}: "
                        f"{(res.stderr or res.stdout).strip()}")
