"""What root does to directories a candidate controls, without following links.

The portal runs as root, and the candidate owns everything below their home
and answers folders: any name there may be a symbolic link to a host file
by the time root looks at it. So root never opens a path through them.
Each step opens one name relative to a directory it already holds
(``dir_fd``) with ``O_NOFOLLOW``, then changes the open file (``fchown``,
``fchmod``), never the name. Root writes no file into the candidate's home
at all: the jail's kubeconfig is copied there by the candidate's own shell
(see ``jailfiles.start_script``).
"""

from __future__ import annotations

import os
import stat
import struct
from pathlib import Path

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
MAX_DEPTH = 64


def own_dir(parent_fd: int, name: str, uid: int, gid: int, mode: int,
            shared: bool = False) -> None:
    """Make ``name`` in ``parent_fd`` a directory owned by ``uid:gid`` with
    ``mode``; raises OSError (ELOOP, ENOTDIR) when it is anything else.

    ``shared``: also a default ACL by which whatever is made inside, by the
    owner or by the group, stays readable and writable by both, whatever the
    creator's umask (the kernel ignores the umask under a default ACL)."""
    try:
        os.mkdir(name, 0o700, dir_fd=parent_fd)
    except FileExistsError:
        pass
    fd = os.open(name, DIR_FLAGS, dir_fd=parent_fd)
    try:
        os.fchown(fd, uid, gid)
        os.fchmod(fd, mode)
        if shared:
            try:
                os.setxattr(fd, "system.posix_acl_default", _shared_acl(uid))
            except OSError:
                pass  # a filesystem without ACLs: the umask decides, as before
    finally:
        os.close(fd)


def _shared_acl(uid: int) -> bytes:
    """struct posix_acl_xattr: version 2, then (tag, perm, id) sorted by tag:
    file owner, the directory's owner by uid, owning group, mask: rwx; others none."""
    undefined = 0xFFFFFFFF
    entries = [(0x01, 7, undefined), (0x02, 7, uid), (0x04, 7, undefined),
               (0x10, 7, undefined), (0x20, 0, undefined)]
    return struct.pack("<I", 2) + b"".join(struct.pack("<HHI", *e) for e in entries)


def chmod_dir(path: Path, mode: int) -> None:
    """``chmod`` a directory that must not be a link."""
    fd = os.open(path, DIR_FLAGS)
    try:
        os.fchmod(fd, mode)
    finally:
        os.close(fd)


def copy_tree(src: Path, dst: Path) -> None:
    """Copy the directories, regular files and symbolic links (as links) below
    ``src`` into the existing directory ``dst``, keeping owners and modes
    (set-id bits of files dropped); skip anything else (FIFOs, devices,
    sockets). Never follows a link, and gives up below ``MAX_DEPTH`` levels."""
    sfd = os.open(src, DIR_FLAGS)
    try:
        dfd = os.open(dst, DIR_FLAGS)
        try:
            _copy(sfd, dfd, 0)
        finally:
            os.close(dfd)
    finally:
        os.close(sfd)


def _copy(sfd: int, dfd: int, depth: int) -> None:
    if depth > MAX_DEPTH:
        return
    for name in os.listdir(sfd):
        try:
            st = os.stat(name, dir_fd=sfd, follow_symlinks=False)
        except FileNotFoundError:
            continue
        if stat.S_ISLNK(st.st_mode):
            os.symlink(os.readlink(name, dir_fd=sfd), name, dir_fd=dfd)
            os.chown(name, st.st_uid, st.st_gid, dir_fd=dfd, follow_symlinks=False)
        elif stat.S_ISDIR(st.st_mode):
            os.mkdir(name, 0o700, dir_fd=dfd)
            child_s = os.open(name, DIR_FLAGS, dir_fd=sfd)
            try:
                child_d = os.open(name, DIR_FLAGS, dir_fd=dfd)
                try:
                    _copy(child_s, child_d, depth + 1)
                    os.fchown(child_d, st.st_uid, st.st_gid)
                    os.fchmod(child_d, stat.S_IMODE(st.st_mode))
                finally:
                    os.close(child_d)
            finally:
                os.close(child_s)
        elif stat.S_ISREG(st.st_mode):
            _copy_file(sfd, dfd, name)


def _copy_file(sfd: int, dfd: int, name: str) -> None:
    # O_NONBLOCK: a FIFO swapped in after the stat above must not hang root
    src = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=sfd)
    try:
        st = os.fstat(src)
        if not stat.S_ISREG(st.st_mode):
            return
        dst = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                      0o600, dir_fd=dfd)
        try:
            while os.sendfile(dst, src, None, 1 << 20):
                pass
            os.fchown(dst, st.st_uid, st.st_gid)
            os.fchmod(dst, stat.S_IMODE(st.st_mode) & ~(stat.S_ISUID | stat.S_ISGID))
        finally:
            os.close(dst)
    finally:
        os.close(src)
