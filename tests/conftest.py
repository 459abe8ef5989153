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
# A folder made here is removed when the run ends (one set by the caller is theirs).
_OWN_STATE_DIR = None if "PROCTOR_STATE_DIR" in os.environ else \
    tempfile.mkdtemp(prefix="proctor-test-home-")
os.environ.setdefault("PROCTOR_STATE_DIR", _OWN_STATE_DIR or "")

from sandbox.gvisor import GvisorProvider  # noqa: E402
from sandbox.kwok import KwokProvider  # noqa: E402

from .support import free, freed_after_last_use, group_shared_users  # noqa: E402

# the VM fixtures serve tests/vm and the VM attacks in tests/security
pytest_plugins = ["tests.vm.fixtures"]


_last_user: dict[str, str] = {}


def pytest_collection_modifyitems(items):
    """The tests of each shared sandbox run together (tests.support.SHARED)."""
    _last_user.update(group_shared_users(items))


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item):
    """A shared sandbox is freed after its last test, not at the session's end."""
    for fixture, nodeid in _last_user.items():
        if item.nodeid == nodeid:
            free(fixture)


def pytest_unconfigure(config):
    if _OWN_STATE_DIR:
        shutil.rmtree(_OWN_STATE_DIR, ignore_errors=True)


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
    with freed_after_last_use("shared_sandbox", lambda: kwok.destroy(name)):
        yield sb


# -- real containers (gvisor) ------------------------------------------------------------

def require_gvisor() -> None:
    """Skip (or, where `make test` built it, fail) without gvisor's box image."""
    from sandbox.gvisor.image import BoxImage
    image = BoxImage()
    if not image.exists():
        message = (f"gvisor's box image is not built ({image.dir}); "
                   "run `scripts/bootstrap --with-gvisor` (docs/containers.md)")
        if os.environ.get("PROCTOR_GVISOR_TESTS") == "1":
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="session")
def gvisor(kwok_root):
    """A gvisor provider whose sandboxes live in this session's state dir."""
    require_gvisor()
    prov = GvisorProvider(root=kwok_root)
    yield prov
    prov.destroy_all()


@pytest.fixture(scope="session")
def shared_gvisor(gvisor):
    """One sandbox with a real node (controlplane simulated, node01 a gVisor
    box) for the tests that run pods in namespaces of their own."""
    name = f"gshared-{os.getpid()}"
    sb = gvisor.create(name, nodes=2)
    with freed_after_last_use("shared_gvisor", lambda: gvisor.destroy(name)):
        yield sb
