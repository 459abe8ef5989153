"""`proctor run` and `proctor serve` start only with every tool the terminal
runs: on a first `make run` the portal once served candidates while helm was
still building, and their terminal said "Connecting…" for ever."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("command", ["run", "serve"])
def test_the_portal_does_not_start_without_its_tools(tmp_path, command):
    env = dict(os.environ, PROCTOR_TOOLCHAIN_DIR=str(tmp_path / "empty-toolchain"),
               PROCTOR_INSTANCE_PATH=str(tmp_path / "instance"))
    res = subprocess.run([sys.executable, "-c", "from grader.cli import main; main()", command,
                          "--port", "1"], env=env, cwd=REPO, capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 1, res.stderr
    assert "the toolchain is not complete" in res.stderr and "helm" in res.stderr, res.stderr
    assert "proctor toolchain build" in res.stderr
    assert not (tmp_path / "instance").exists(), "it prepared a portal it cannot serve"


def test_toolchain_status_lists_the_exam_tools(tmp_path):
    env = dict(os.environ, PROCTOR_TOOLCHAIN_DIR=str(tmp_path / "empty-toolchain"))
    res = subprocess.run([sys.executable, "-c", "from grader.cli import main; main()",
                          "toolchain", "status"], env=env, cwd=REPO, capture_output=True,
                         text=True, timeout=120)
    lines = {line.split()[0]: line for line in res.stdout.splitlines() if line.strip()}
    assert "missing" in lines.get("helm", ""), res.stdout
    assert res.returncode == 1
