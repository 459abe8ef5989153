"""Fixtures for tests on real VM nodes (QEMU; see sandbox/vm and docs/vm.md),
for tests/vm and tests/security alike (a plugin of tests/conftest.py).

They need the golden VM clusters (``python -m sandbox.vm build``, once;
long with TCG, see docs/vm.md); test_restore.py needs only the VM image. Without them these tests are skipped with that
command as the reason, unless ``PROCTOR_VM_TESTS=1`` says they must run
(then a missing build fails them): scripts/test sets it whenever the golden
clusters are built, so CI never skips them silently once they exist.

Each module shares at most one sandbox, torn down when the module ends, so
no more than one sandbox's guests run at a time on a shared machine.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from sandbox.vm import VMProvider

pytestmark = pytest.mark.vm


@pytest.fixture(scope="session")
def vm_root():
    # short: QEMU's and the switch's Unix sockets live under it (107-byte limit)
    root = Path(tempfile.mkdtemp(prefix="vmt-", dir="/tmp"))
    yield root
    VMProvider(root=root).destroy_all()
    failed = root / "vm" / "failed"
    if failed.is_dir():  # keep the logs of failed creates for whoever reads CI
        shutil.copytree(failed, Path("artifacts") / "vm-failed", dirs_exist_ok=True)
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def vm(vm_root):
    prov = VMProvider(root=vm_root)
    if not prov.golden.exists():
        message = (f"the golden VM clusters are not built ({prov.golden.dir}); "
                   "run `scripts/bootstrap --with-vm` (QEMU, the VM image, the golden clusters) (docs/vm.md)")
        if os.environ.get("PROCTOR_VM_TESTS") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return prov


@pytest.fixture(scope="module")
def one(vm):
    """A 1-node VM sandbox for the module."""
    name = f"vm1-{os.getpid()}"
    sb = vm.create(name, nodes=1)
    yield sb
    vm.destroy(name)


@pytest.fixture
def kubectl(vm):
    def run(sb, *args, input=None, timeout=240, check=True):
        res = vm.kubectl(sb, *args, input=input, timeout=timeout)
        if check:
            assert res.returncode == 0, f"kubectl {' '.join(args)}: {res.stderr}"
        return res
    return run


@pytest.fixture
def processes_under():
    return _processes_under


def _processes_under(path: Path) -> list[int]:
    """Processes whose command line names something under ``path``."""
    marker = (str(path) + "/").encode()
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if marker in (proc / "cmdline").read_bytes():
                    found.append(int(proc.name))
            except OSError:
                pass
    return found
