"""helm for the exam shell is built like the toolchain (sandbox.toolchain.EXAM_TOOLS),
in a cache of its own: pinning it changes nothing of the Kubernetes binaries' key,
a toolchain whose binaries are all there builds only what the shell lacks, and a
failed build names the tool and its log. A fake `go` stands in for the compiler
(the real build is proven by tests/terminal/test_jail_tools.py's helm test)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sandbox import toolchain
from sandbox.toolchain import BINARIES, EXAM_ASSETS, EXAM_TOOLS, Toolchain, ToolchainError

FAKE_GO = """#!/bin/sh
if [ "$1" = env ]; then echo go1.99.0; exit 0; fi
echo "$@" >> "$CALLS"
if [ "$1" = install ]; then
  [ -n "$FAIL" ] && { echo "compile error: boom"; exit 2; }
  for a in "$@"; do last="$a"; done
  name=$(basename "${last%@*}"); touch "$GOBIN/$name"; chmod +x "$GOBIN/$name"; exit 0
fi
exit 3
"""


@pytest.fixture
def fake_go(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "go").write_text(FAKE_GO)
    (bin_dir / "go").chmod(0o755)
    calls = tmp_path / "calls"
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    monkeypatch.setenv("CALLS", str(calls))
    monkeypatch.setenv("PROCTOR_TOOLCHAIN_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(toolchain, "MIN_FREE_BYTES", 0)
    return calls


def built_binaries(tc: Toolchain) -> None:
    """Every Kubernetes binary present, as after a full build."""
    tc.bin_dir.mkdir(parents=True)
    for b in BINARIES:
        (tc.bin_dir / b.name).write_text("")
    tc.manifest.write_text(json.dumps({"binaries": {b.name: b.package for b in BINARIES}}))
    tc.assets_dir.mkdir(parents=True)  # and the assets (fetched, not built: not the subject here)
    for a in EXAM_ASSETS:
        (tc.assets_dir / a.name).write_text("")


def test_the_kubernetes_key_does_not_depend_on_the_exam_tools(fake_go, monkeypatch):
    key, tools = Toolchain().key, Toolchain().tools_dir
    monkeypatch.setattr(toolchain, "EXAM_TOOLS", EXAM_TOOLS + (
        toolchain.GoTool("other", "example.com/other/cmd/other@v1.0.0"),))
    assert Toolchain().key == key and Toolchain().tools_dir != tools
    assert Toolchain().tools_dir.parent.parent == Toolchain().dir.parent


def test_only_helm_is_built_when_the_binaries_are_there(fake_go):
    tc = Toolchain()
    built_binaries(tc)
    with pytest.raises(ToolchainError, match="helm is not built"):
        tc.tool("helm")
    tc.build()
    calls = Path(fake_go).read_text().splitlines()
    assert len(calls) == 1 and calls[0].startswith("install -ldflags=-s -w ")
    assert "helm.sh/helm/v3/internal/version.version=v3.21.4" in calls[0]
    assert calls[0].endswith("helm.sh/helm/v3/cmd/helm@v3.21.4")
    assert tc.tool("helm").is_file() and tc.status()["tools"]["helm"]
    tc.build()  # a second build: nothing to do
    assert len(Path(fake_go).read_text().splitlines()) == 1


def test_a_failed_helm_build_names_it_and_its_log(fake_go, monkeypatch):
    tc = Toolchain()
    built_binaries(tc)
    monkeypatch.setenv("FAIL", "1")
    with pytest.raises(ToolchainError) as exc:
        tc.build()
    assert "building helm" in str(exc.value)
    assert "compile error: boom" in Path(exc.value.log).read_text()
