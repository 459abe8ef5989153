"""Fixtures for tests against real kind nodes (Docker containers from
Proctor's own node image; see sandbox/nodeimage).

The image is built by the bootstrap (`proctor toolchain build --with-kind`);
these tests fail, rather than skip, when it or Docker is missing, so CI can
never pass without exercising real nodes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from sandbox.kind import KIND_LABEL, NETWORK_PREFIX, KindProvider

from ..support import freed_after_last_use

pytestmark = pytest.mark.nodes


@pytest.fixture
def docker_objects():
    """A function listing one kind sandbox's Docker objects by id: its node
    containers (kind's cluster label), their volumes and its own network. Only
    its own: another test run on the machine makes and removes clusters of its
    own meanwhile (`make test` runs two side by side)."""
    return _docker_objects


def _docker(*args: str) -> list[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True,
                          check=True).stdout.split()


def _docker_objects(sandbox: str) -> dict[str, set[str]]:
    containers = set(_docker("ps", "-aq", "--filter", f"label={KIND_LABEL}={sandbox}"))
    volumes = {v for c in containers for v in _docker(
        "inspect", "-f", '{{range .Mounts}}{{if eq .Type "volume"}}{{.Name}} {{end}}{{end}}', c)}
    networks = set(_docker("network", "ls", "-q", "--filter", f"name=^{NETWORK_PREFIX}{sandbox}$"))
    return {"containers": containers, "volumes": volumes, "networks": networks}


@pytest.fixture(scope="session")
def kind_root():
    root = Path(tempfile.mkdtemp(prefix="proctor-test-kind-"))
    yield root
    prov = KindProvider(root=root)
    prov.destroy_all()
    failed = root / "kind" / "failed"
    if failed.is_dir():  # keep the logs of failed creates for whoever reads CI
        shutil.copytree(failed, Path("artifacts") / "kind-failed", dirs_exist_ok=True)
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def kind(kind_root):
    prov = KindProvider(root=kind_root)
    assert prov.image.exists(), (
        f"node image {prov.image.tag} is not built; run `proctor toolchain build --with-kind`")
    return prov


@pytest.fixture(scope="session")
def kind_cluster(kind):
    """One 3-node cluster shared by the tests that only add objects."""
    name = f"nodes-{os.getpid()}"
    sb = kind.create(name, nodes=3)
    with freed_after_last_use("kind_cluster", lambda: kind.destroy(name)):
        yield sb


@pytest.fixture
def kubectl(kind):
    def run(sb, *args, input=None, timeout=240, check=True):
        res = kind.kubectl(sb, *args, input=input, timeout=timeout)
        if check:
            assert res.returncode == 0, f"kubectl {' '.join(args)}: {res.stderr}"
        return res
    return run
