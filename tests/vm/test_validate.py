"""Two node tasks proven both ways on VMs: `proctor validate -p vm` (after
setup every check fails, after the reference solution every check passes),
on 3-node sandboxes restored from the golden state."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.vm

TASKS = ["tasks/cka/static-pod", "tasks/cka/crashloop-command"]


def test_proctor_validate_on_vm(vm, vm_root):
    exe = Path(sys.executable).parent / "proctor"
    res = subprocess.run([str(exe), "validate", "-p", "vm", "--seeds", "1", *TASKS],
                         capture_output=True, text=True, timeout=1800,
                         env={**os.environ, "PROCTOR_STATE_DIR": str(vm_root)})
    assert res.returncode == 0, res.stdout + res.stderr
    for task in TASKS:
        assert f"PASS {Path(task).name}" in res.stdout, res.stdout
    assert "2 of 2 tasks hold" in res.stdout
