"""The candidate's answer files, read as the hostile input they are.

The ``answers`` fixture of ``grader.plugin`` is an ``Answers``. A candidate
writes ``/opt/answers/pods.txt`` in the exam shell; a check reads it::

    def test_listed(answers):
        names = (answers / "pods.txt").lines()

Every read opens the file without following symbolic links (not the file,
not a folder on the way), accepts only a regular file inside the answers
folder, reads at most ``MAX_BYTES``, and turns every problem into a failed
check whose message tells the candidate what to do:

    /opt/answers/pods.txt is a symbolic link; write the answer into the file itself

``quote()`` shortens and escapes anything of the candidate's that a message
repeats, so feedback never carries a whole file or terminal control codes.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path, PurePosixPath

SHOWN_AS = "/opt/answers"     # where the candidate sees the folder
MAX_BYTES = 64 * 1024 * 1024  # an etcd snapshot of an exam cluster is a few MB
# A text answer (names, a command's output) is a few KB. Read as lines, each
# line is a Python string of ~50 bytes more: 64 MiB of two-letter lines took
# the grader to 1.8 GB. 1 MiB of text is at most ~30 MB of lines.
MAX_TEXT_BYTES = 1024 * 1024
QUOTE_CHARS = 60


def quote(text: str | bytes, limit: int = QUOTE_CHARS) -> str:
    """``text`` shortened to ``limit`` characters and with control characters
    escaped, in quotes: ``'web-1\\x1b[2J…'``."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    cut = len(text) > limit
    text = text[:limit]
    shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return f"'{shown}{'…' if cut else ''}'"


class AnswerFile:
    """One answer file, by its name inside the answers folder."""

    def __init__(self, root: Path, name: str, max_bytes: int = MAX_BYTES):
        parts = PurePosixPath(name).parts
        if not parts or PurePosixPath(name).is_absolute() or ".." in parts:
            raise ValueError(f"answer file name {name!r} must be relative, inside the answers folder")
        self.root, self.parts, self.max_bytes = Path(root), parts, max_bytes

    @property
    def name(self) -> str:
        return "/".join(self.parts)

    def __str__(self) -> str:
        return f"{SHOWN_AS}/{self.name}"

    def __repr__(self) -> str:
        return f"AnswerFile({str(self)!r})"

    # -- looking without reading -------------------------------------------------
    def _lstat(self) -> os.stat_result | None:
        try:
            fd = self._open_parent()
        except AssertionError:
            return None
        try:
            return os.stat(self.parts[-1], dir_fd=fd, follow_symlinks=False)
        except OSError:
            return None
        finally:
            os.close(fd)

    def exists(self) -> bool:
        """Something is there under that name (a file, a link, a folder …)."""
        return self._lstat() is not None

    def is_file(self) -> bool:
        """A regular file is there (a link to one is not)."""
        st = self._lstat()
        return st is not None and stat.S_ISREG(st.st_mode)

    # -- reading -----------------------------------------------------------------
    def _open_parent(self) -> int:
        flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            fd = os.open(self.root, flags)
        except OSError as exc:
            raise AssertionError(f"{SHOWN_AS} cannot be read: {exc.strerror}") from None
        for i, part in enumerate(self.parts[:-1]):
            try:
                nxt = os.open(part, flags, dir_fd=fd)
            except OSError as exc:
                os.close(fd)
                where = f"{SHOWN_AS}/{'/'.join(self.parts[:i + 1])}"
                raise AssertionError(self._why(where, exc, folder=True)) from None
            os.close(fd)
            fd = nxt
        return fd

    def _why(self, where: str, exc: OSError, folder: bool = False) -> str:
        if exc.errno == errno.ENOENT:
            return f"{where} does not exist"
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):  # O_NOFOLLOW met a link
            return (f"{where} is a symbolic link; write the answer into the "
                    f"{'folder' if folder else 'file'} itself")
        return f"{where} cannot be read: {exc.strerror}"

    def read_bytes(self, limit: int | None = None) -> bytes:
        """The file's bytes (at most ``limit``, default ``max_bytes``); a failed
        check (``AssertionError``) when it cannot be one."""
        limit = self.max_bytes if limit is None else min(limit, self.max_bytes)
        parent = self._open_parent()
        try:
            fd = os.open(self.parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
                         dir_fd=parent)
        except OSError as exc:
            raise AssertionError(self._why(str(self), exc)) from None
        finally:
            os.close(parent)
        try:
            st = os.fstat(fd)
            if stat.S_ISDIR(st.st_mode):
                raise AssertionError(f"{self} is a folder; expected a file")
            if not stat.S_ISREG(st.st_mode):
                raise AssertionError(f"{self} is not a regular file; write the answer into a plain file")
            if st.st_size > limit:
                raise AssertionError(f"{self} has {st.st_size} bytes; {_limit_text(limit)}")
            chunks, left = [], limit + 1
            while left > 0:
                chunk = os.read(fd, min(left, 1 << 20))
                if not chunk:
                    break
                chunks.append(chunk)
                left -= len(chunk)
            data = b"".join(chunks)
            if len(data) > limit:  # it grew while we read
                raise AssertionError(f"{self} grew past {limit} bytes; {_limit_text(limit)}")
            return data
        except OSError as exc:
            raise AssertionError(f"{self} cannot be read: {exc.strerror}") from None
        finally:
            os.close(fd)

    def read_text(self) -> str:
        """The file as text (UTF-8; undecodable bytes become U+FFFD), at most
        ``MAX_TEXT_BYTES``."""
        return self.read_bytes(MAX_TEXT_BYTES).decode("utf-8", errors="replace")

    def lines(self) -> list[str]:
        """Non-empty lines, stripped."""
        return [ln.strip() for ln in self.read_text().splitlines() if ln.strip()]


def _limit_text(limit: int) -> str:
    if limit >= 1024 * 1024:
        return f"answers are limited to {limit // (1024 * 1024)} MiB"
    return f"answers are limited to {limit // 1024} KiB"


class Answers:
    """The answers folder: ``answers / "q3.txt"`` is an ``AnswerFile``."""

    def __init__(self, root: Path | str, max_bytes: int = MAX_BYTES):
        self.root, self.max_bytes = Path(root), max_bytes

    def __truediv__(self, name: str) -> AnswerFile:
        return AnswerFile(self.root, str(name), self.max_bytes)

    def __repr__(self) -> str:
        return f"Answers({str(self.root)!r})"
