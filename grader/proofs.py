"""Proofs that a task holds, kept so an unchanged task is not proven again.

Proving the whole bank live takes most of ``make test`` (a kind cluster per
node task and seed, a gVisor box per container task and seed). A task whose
files, prover and toolchain are what they were when it last held on this
machine would hold again, so ``proctor validate`` keeps one small file per
passing proof and, next time, reports the task as proven without a sandbox.
``--all`` proves every task again.

A proof's key is everything its verdict depends on:

- the task's files, its other ways and near misses (``records.content_version``);
- the code that proves it: ``grader/`` (lint, runner, checks library) and
  ``sandbox/`` (the providers, and the inputs of the toolchain, the node and
  box images, whose own cache keys are digests of those inputs), what
  confines the sandboxes and the task code (``confinement/``: cgroups,
  Landlock, the egress proxy, ``confine``; not the candidate's jail), with
  ``pyproject.toml`` (the pinned libraries);
- how it was proven: the provider, the number of seeds, whether its
  alternatives and near misses ran.

Only proofs that held are kept (a failing task always runs again), and a
proof names nothing of the folder it was found in, so another checkout of
the same files on the same machine reuses it.

    $PROCTOR_STATE_DIR/proofs/<task id>-<key>.json
    {"task_id": "svc-selector-fix", "key": "…", "provider": "kwok", "seeds": 2,
     "variants": true, "checks": 3, "alternatives": 2, "near_misses": 3,
     "duration": 41.2, "proven_at": 1796164271.5}
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from functools import lru_cache
from pathlib import Path

from .records import content_version
from .task import Task

REPO = Path(__file__).resolve().parent.parent
CODE = ("grader", "sandbox", "pyproject.toml", *(f"confinement/{m}.py" for m in (
    "cgroup", "confine", "egress", "identity", "landlock")))
_SKIP = {"__pycache__"}


@lru_cache(maxsize=1)
def code_digest() -> str:
    """A digest of every file of ``CODE`` (names, modes and contents)."""
    h = hashlib.sha256()
    for top in CODE:
        root = REPO / top
        files = [root] if root.is_file() else sorted(
            p for p in root.rglob("*")
            if p.is_file() and not _SKIP.intersection(p.relative_to(root).parts)
            and p.suffix != ".pyc")
        for f in files:
            h.update(str(f.relative_to(REPO)).encode() + b"\0")
            h.update(b"x" if os.access(f, os.X_OK) else b"-")
            h.update(f.read_bytes() + b"\0")
    return h.hexdigest()


def key(task: Task, provider: str, seeds: int, variants: bool) -> str:
    h = hashlib.sha256()
    for part in (content_version(task.path), code_digest(), provider, str(seeds), str(variants)):
        h.update(part.encode() + b"\0")
    return h.hexdigest()[:32]


def proofs_dir() -> Path:
    from sandbox.base import state_dir
    return state_dir() / "proofs"


def _path(task: Task, k: str, root: Path | None) -> Path:
    return Path(root or proofs_dir()) / f"{task.id}-{k}.json"


def find(task: Task, provider: str, seeds: int, variants: bool,
         root: Path | None = None) -> dict | None:
    """The kept proof of ``task`` proven this way with these files and this
    code, or None."""
    try:
        proof = json.loads(_path(task, key(task, provider, seeds, variants), root).read_text())
    except (OSError, ValueError):
        return None
    return proof if isinstance(proof, dict) and proof.get("task_id") == task.id else None


def keep(task: Task, provider: str, seeds: int, variants: bool, *, checks: int,
         alternatives: int, near_misses: int, duration: float,
         root: Path | None = None) -> Path | None:
    """Keep the proof that ``task`` held; None where the folder cannot be written
    (a read-only state folder must not fail the validation itself)."""
    k = key(task, provider, seeds, variants)
    proof = {"task_id": task.id, "key": k, "provider": provider, "seeds": seeds,
             "variants": variants, "checks": checks, "alternatives": alternatives,
             "near_misses": near_misses, "duration": duration, "proven_at": time.time()}
    path = _path(task, k, root)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(proof, indent=1))
        tmp.replace(path)
    except OSError:
        return None
    return path
