"""Task folders as the editor sees them: read, lint a working copy, write with a
version token, splice the statement into task.yaml.

Tasks stay files: the editor writes the same ``task.yaml``, ``setup``,
``solution`` and ``checks.py`` that ``proctor validate`` reads. A save carries
the *version* the author started from (a hash of the four files and their
executable bits); a save over a newer version is refused with ``Conflict``,
which carries the files on disk, so nothing is silently overwritten.

    >>> v = version(folder)                                    # doctest: +SKIP
    >>> write_files(folder, {"setup": "#!/bin/sh\\n…"}, v)     # doctest: +SKIP
"""

from __future__ import annotations

import difflib
import fcntl
import hashlib
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

import yaml

from grader import yamlfile
from grader.records import FILES, content_version

SCRIPTS = ("setup", "solution")
LANGUAGES = {"task.yaml": "yaml", "setup": "shell", "solution": "shell", "checks.py": "python"}
NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


class Conflict(Exception):
    """The files changed on disk since the author loaded them."""

    def __init__(self, current: dict[str, str], version: str):
        self.current, self.version = current, version
        super().__init__("this task was changed by someone else since you opened it")


def read_files(folder: Path) -> dict[str, str]:
    out = {}
    for name in FILES:
        try:
            out[name] = (folder / name).read_text()
        except FileNotFoundError:
            out[name] = ""
    return out


def version(folder: Path) -> str:
    """A token that changes whenever one of the editable files (or its mode)
    changes: ``grader.records.content_version``, which validation records carry."""
    return content_version(folder)


@contextmanager
def locked(lock_dir: Path, folder: Path):
    """One writer per task folder at a time (portal threads and processes)."""
    lock_dir.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha1(str(folder.resolve()).encode()).hexdigest()[:16]
    with open(lock_dir / f"{key}.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _atomic_write(path: Path, text: str, executable: bool) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.chmod(tmp, 0o755 if executable else 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def normalise(text: str) -> str:
    """Browsers send CRLF in forms; scripts with \\r break their #! line."""
    text = text.replace("\r\n", "\n")
    return text if not text or text.endswith("\n") else text + "\n"


def write_files(folder: Path, files: dict[str, str], expected: str | None, lock_dir: Path) -> str:
    """Write the given files if the folder is still at ``expected`` (None: a new
    task); returns the new version. Scripts stay executable."""
    with locked(lock_dir, folder):
        current = version(folder)
        if expected is not None and expected != current:
            raise Conflict(read_files(folder), current)
        folder.mkdir(parents=True, exist_ok=True)
        for name in FILES:
            if name in files:
                _atomic_write(folder / name, normalise(files[name]), name in SCRIPTS)
        return version(folder)


def diff(mine: dict[str, str], theirs: dict[str, str]) -> dict[str, str]:
    """Unified diffs, per file that differs, from the version on disk to the author's."""
    out = {}
    for name in FILES:
        a, b = normalise(theirs.get(name, "")), normalise(mine.get(name, theirs.get(name, "")))
        if a != b:
            out[name] = "".join(difflib.unified_diff(
                a.splitlines(True), b.splitlines(True), f"{name} (saved by someone else)",
                f"{name} (yours)"))
    return out


@contextmanager
def working_copy(folder: Path, files: dict[str, str]):
    """A temporary copy of the task folder (same folder name, so lint's id check
    holds) with ``files`` written over it; yields the copy's path."""
    with tempfile.TemporaryDirectory(prefix="proctor-author-") as tmp:
        copy = Path(tmp) / folder.name
        if folder.is_dir():
            shutil.copytree(folder, copy, ignore=shutil.ignore_patterns("__pycache__", ".*"))
        else:
            copy.mkdir()
        for name in FILES:
            if name in files:
                (copy / name).write_text(normalise(files[name]))
                os.chmod(copy / name, 0o755 if name in SCRIPTS else 0o644)
        yield copy


# -- the statement inside task.yaml -------------------------------------------------

def statement_of(task_yaml: str) -> str | None:
    try:
        data = yamlfile.load(task_yaml)
    except yaml.YAMLError:
        return None
    value = data.get("statement") if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


def splice_statement(task_yaml: str, statement: str) -> str:
    """``task_yaml`` with its top-level ``statement`` replaced by a literal block
    holding ``statement``; the rest of the file (comments, order) is untouched.
    Raises ValueError when the file has no usable ``statement`` to replace."""
    statement = statement.replace("\r\n", "\n").rstrip("\n") + "\n"
    try:
        root = yamlfile.compose(task_yaml)
    except yaml.YAMLError as exc:
        raise ValueError(f"task.yaml is not valid YAML ({exc.__class__.__name__}); fix it first") from None
    if not isinstance(root, yaml.MappingNode):
        raise ValueError("task.yaml is not a mapping of fields")
    first = next((ln for ln in statement.splitlines() if ln.strip()), "")
    header = "statement: |" + ("2" if first[:1] == " " else "") + "\n"
    block = header + "".join(("  " + ln if ln.strip() else "") + "\n"
                             for ln in statement.splitlines())
    for key, value in root.value:
        if key.value == "statement":
            start, end = key.start_mark.index, value.end_mark.index
            rest = task_yaml[end:]
            if end and task_yaml[end - 1] != "\n":
                rest = rest.split("\n", 1)[1] if "\n" in rest else ""
            out = task_yaml[:start] + block + rest
            break
    else:
        out = task_yaml.rstrip("\n") + "\n" + block
    if statement_of(out) != statement:
        raise ValueError("the statement could not be placed in task.yaml without changing it")
    return out
