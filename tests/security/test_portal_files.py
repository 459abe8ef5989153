"""The portal's files are its own: another local account reads none of them.

The instance folder holds the secret key (whoever reads it can forge an
admin's session), the database (password hashes, every attempt) and the job
queue. The attack: an unprivileged account on the same machine (the
``nobody`` user; a candidate's jailed shell runs as such an account) tries to
list the folder and read each file.
"""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from web.db import sqlite_path

NOBODY = 65534


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def as_nobody(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                           *argv], capture_output=True, text=True, timeout=30)


def portal_files(app) -> dict[str, Path]:
    instance = Path(app.instance_path)
    files = {"instance folder": instance, "secret key": instance / "secret_key",
             "queue": instance / "queue.db"}
    db = sqlite_path(app.config["DATABASE_URL"])
    if db is not None:
        files["database"] = db
        for suffix in ("-wal", "-shm"):
            if Path(f"{db}{suffix}").exists():
                files[f"database {suffix}"] = Path(f"{db}{suffix}")
    return files


@pytest.fixture
def app(make_portal):
    return make_portal(QUEUE_IMMEDIATE=False)  # the SQLite queue file in the instance


def test_the_instance_folder_and_its_files_are_private(app):
    files = portal_files(app)
    assert "queue" in files and files["queue"].exists(), "no SQLite queue file was made"
    for what, path in files.items():
        want = 0o700 if path.is_dir() else 0o600
        assert mode(path) == want, f"the {what} {path} is {oct(mode(path))}, expected {oct(want)}"


@pytest.mark.skipif(os.geteuid() != 0, reason="reading as another user needs root to become one")
def test_another_local_user_reads_no_portal_file(app):
    for what, path in portal_files(app).items():
        argv = ["ls", str(path)] if path.is_dir() else ["cat", str(path)]
        result = as_nobody(*argv)
        assert result.returncode != 0, f"another local user read the portal's {what} ({path})"
        assert "Permission denied" in result.stderr, result.stderr


def test_files_of_an_older_install_are_made_private_at_start(make_portal, tmp_path):
    """Made 0644/0755 by an earlier version: the next start tightens them."""
    app = make_portal(QUEUE_IMMEDIATE=False)
    app.extensions["proctor.db"].dispose()
    files = portal_files(app)
    db = files.get("database")
    if db is not None:  # as a crash leaves it: a write-ahead log beside the file
        files["database -wal"] = Path(f"{db}-wal")
        files["database -wal"].write_bytes(b"")
    for path in files.values():
        path.chmod(0o755 if path.is_dir() else 0o644)
    app = make_portal(QUEUE_IMMEDIATE=False)
    for what, path in portal_files(app).items():
        want = 0o700 if path.is_dir() else 0o600
        assert mode(path) == want, f"the {what} stayed {oct(mode(path))} after a restart"


@pytest.mark.parametrize("url, path", [
    ("sqlite:////srv/proctor/proctor.db", Path("/srv/proctor/proctor.db")),
    ("sqlite:///instance/proctor.db", Path("instance/proctor.db")),
    ("sqlite://", None), ("sqlite:///:memory:", None),
    ("postgresql+psycopg://proctor:pw@db/proctor", None),
])
def test_only_sqlite_files_are_touched(url, path):
    assert sqlite_path(url) == path
