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

from sandbox.gvisor import GvisorProvider  # noqa: E402
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
    yield sb
    gvisor.destroy(name)
