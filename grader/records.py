"""The last validation of each task, kept where the portal can read it.

``proctor validate`` (a CI run, ``make test``) and "Validate now" in the
portal both prove a task live; each writes one small JSON record per task, so
the authoring pages show a task as validated whoever validated it, and as
stale once its files change (``version``: a hash of the files it was proven
with).

    $PROCTOR_STATE_DIR/validations/<task id>-<hash of its folder>.json
    {"task_id": "svc-selector-fix", "path": "/…/tasks/ckad/svc-selector-fix",
     "version": "…", "state": "passed", "finished_at": 1796164271.5,
     "provider": "kwok", "seeds": [1, 2], "via": "proctor validate", "problems": []}
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from pathlib import Path

from .task import VARIANT_DIRS

FILES = ("task.yaml", "setup", "solution", "checks.py")
_SAFE = re.compile(r"^[a-z0-9][a-z0-9-]{0,127}$")


def content_version(folder: Path) -> str:
    """A token that changes whenever one of a task's files (or its mode) changes,
    its other ways and near misses included."""
    h = hashlib.sha256()
    extra = sorted(f"{d}/{f.name}" for d in VARIANT_DIRS if (Path(folder) / d).is_dir()
                   for f in (Path(folder) / d).iterdir() if f.is_file())
    for name in (*FILES, *extra):
        f = Path(folder) / name
        h.update(name.encode() + b"\0")
        try:
            h.update(b"x" if os.access(f, os.X_OK) else b"-")
            h.update(f.read_bytes())
        except FileNotFoundError:
            h.update(b"<missing>")
        h.update(b"\0")
    return h.hexdigest()[:32]


def records_dir() -> Path:
    from sandbox.base import state_dir
    return state_dir() / "validations"


def write(task_id: str, folder: Path, state: str, *, provider: str = "", seeds=(),
          via: str = "proctor validate", problems=(), root: Path | None = None) -> Path | None:
    """Record that ``task_id`` (files in ``folder``) was validated: ``state`` is
    passed or failed. Returns the record's path (None for an id not fit for a file name)."""
    if not _SAFE.match(task_id):
        return None
    folder = Path(folder).resolve()
    out = Path(root or records_dir())
    out.mkdir(parents=True, exist_ok=True)
    rec = {"task_id": task_id, "path": str(folder), "version": content_version(folder),
           "state": state, "finished_at": time.time(), "provider": provider,
           "seeds": list(seeds), "via": via, "problems": [str(p) for p in problems][:20]}
    path = out / f"{task_id}-{hashlib.sha256(str(folder).encode()).hexdigest()[:8]}.json"
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(rec, indent=1))
    tmp.replace(path)
    return path


def read_all(root: Path | None = None) -> dict[str, dict]:
    """``{task folder (resolved): record}`` of every readable record."""
    out: dict[str, dict] = {}
    folder = Path(root or records_dir())
    for f in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            rec = json.loads(f.read_text())
            out[str(rec["path"])] = rec
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return out
