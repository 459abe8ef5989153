"""Fixtures for tests against real kwok sandboxes (real API servers).

Each test session gets its own state directory, so test sandboxes never
collide with a developer's own (`proctor sandbox ls` stays clean) and a
crashed run leaves nothing that `make test` would trip over next time.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

# Everything the tests make that is kept by state folder (sandboxes, the
# validation records the authoring pages read) goes to a folder of this run,
# never a developer's own ~/.local/share/proctor. Child processes inherit it.
os.environ.setdefault("PROCTOR_STATE_DIR", tempfile.mkdtemp(prefix="proctor-test-home-"))

from sandbox.kwok import KwokProvider  # noqa: E402

# the VM fixtures serve tests/vm and the VM attacks in tests/security
pytest_plugins = ["tests.vm.fixtures"]


@pytest.fixture(scope="session")
def kwok_root():
    root = Path(tempfile.mkdtemp(prefix="proctor-test-state-"))
    yield root
    prov = KwokProvider(root=root)
    prov.destroy_all()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def kwok(kwok_root):
    """A kwok provider whose sandboxes live in this session's state dir."""
    return KwokProvider(root=kwok_root)


@pytest.fixture(scope="session")
def shared_sandbox(kwok):
    """One 3-node sandbox for the tests that only read or add objects."""
    name = f"shared-{os.getpid()}"
    sb = kwok.create(name, nodes=3)
    yield sb
    kwok.destroy(name)
