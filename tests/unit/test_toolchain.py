"""Toolchain pins and errors, without building anything."""

import re
import subprocess
from pathlib import Path

import pytest

from sandbox import toolchain
from sandbox.toolchain import BINARIES, Toolchain, ToolchainError, read_pins


def test_pins_come_from_the_wrapper_go_mod():
    pins = read_pins()
    text = (toolchain.MODULE_DIR / "go.mod").read_text()
    for module, key in (("k8s.io/kubernetes", "kubernetes"), ("sigs.k8s.io/kwok", "kwok"),
                        ("go.etcd.io/etcd/server/v3", "etcd")):
        assert f"{module} {pins[key]}" in text
    # every staging module is pinned to the v0.X.Y matching the Kubernetes release
    minor_patch = pins["kubernetes"].removeprefix("v1.")
    staging = re.findall(r"^\s*(k8s\.io/\S+) => \S+ (v\S+)$", text, re.M)
    assert len(staging) > 25
    assert {v for _, v in staging} == {f"v0.{minor_patch}"}


def test_go_sum_pins_what_go_mod_requires():
    go_sum = (toolchain.MODULE_DIR / "go.sum").read_text()
    for module, version in (("k8s.io/kubernetes", read_pins()["kubernetes"]),
                            ("sigs.k8s.io/kwok", read_pins()["kwok"])):
        assert f"{module} {version} h1:" in go_sum


def test_cache_dir_is_keyed_by_version_and_overridable(tmp_path, monkeypatch):
    monkeypatch.setenv("PROCTOR_TOOLCHAIN_DIR", str(tmp_path))
    tc = Toolchain()
    assert tc.dir.parent == tmp_path
    assert tc.dir.name.startswith(read_pins()["kubernetes"] + "-")
    assert {b.name for b in tc.missing()} == {b.name for b in BINARIES if not b.kind}
    assert {b.name for b in tc.missing(with_kind=True)} == {b.name for b in BINARIES}
    with pytest.raises(ToolchainError, match="kubectl is not built .* run `proctor toolchain build`"):
        tc.binary("kubectl")


def test_missing_go_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PROCTOR_TOOLCHAIN_DIR", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))  # no go here
    with pytest.raises(ToolchainError, match="Go is not on PATH"):
        Toolchain().build()


def test_too_old_go_is_one_clear_error(tmp_path, monkeypatch):
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "go").write_text("#!/bin/sh\necho go1.19.1\n")
    (fake / "go").chmod(0o755)
    monkeypatch.setenv("PROCTOR_TOOLCHAIN_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("PATH", str(fake))
    with pytest.raises(ToolchainError, match="Go go1.19.1 is too old"):
        Toolchain().build()


def test_failed_build_names_the_binary_and_the_log(tmp_path, monkeypatch):
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "go").write_text(
        '#!/bin/sh\nif [ "$1" = env ]; then echo go1.99.0; exit 0; fi\n'
        'if [ "$1" = list ]; then echo "{}"; exit 0; fi\necho "compile error: boom"; exit 2\n')
    (fake / "go").chmod(0o755)
    monkeypatch.setenv("PROCTOR_TOOLCHAIN_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("PATH", f"{fake}:/usr/bin:/bin")
    with pytest.raises(ToolchainError) as exc:
        Toolchain().build()
    assert "building etcd" in str(exc.value) and "build.log" in str(exc.value)
    assert "compile error: boom" in Path(exc.value.log).read_text()


def test_cli_turns_known_errors_into_one_red_line(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "PROCTOR_TOOLCHAIN_DIR": str(tmp_path), "HOME": str(tmp_path)}
    proctor = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "proctor"
    res = subprocess.run([str(proctor), "sandbox", "up", "--name", "Bad_Name"],
                         capture_output=True, text=True, env=env)
    assert res.returncode == 1
    assert res.stderr.strip().splitlines() == [
        "error: sandbox name 'Bad_Name' is invalid: use 1-40 lowercase letters, digits and '-', "
        "starting with a letter and not ending with '-'"]
    res = subprocess.run([str(proctor), "sandbox", "up", "--nodes", "0"],
                         capture_output=True, text=True, env=env)
    assert res.returncode == 1 and "nodes must be between 1 and 50, got 0" in res.stderr
    res = subprocess.run([str(proctor), "sandbox", "up", "--unjoined", "node02"],
                         capture_output=True, text=True, env=env)
    assert res.returncode == 1 and res.stderr.strip().splitlines()[-1:] == [
        "error: kwok sandboxes take no options ['unjoined']: its nodes are simulated "
        "(unjoined workers need real nodes: -p kind)"]
    res = subprocess.run([str(proctor), "sandbox", "ssh", "demo", "node01"],
                         capture_output=True, text=True, env=env)
    assert res.returncode == 1 and "no sandbox named 'demo' (looked in gvisor, kind, kwok, vm)" \
        in res.stderr
    res = subprocess.run([str(proctor), "sandbox", "ls", "--provider", "vmware"],
                         capture_output=True, text=True, env=env)
    assert res.returncode == 1 and "unknown sandbox provider 'vmware'" in res.stderr


def test_a_missing_kind_binary_is_missing_only_for_kind(tmp_path, monkeypatch):
    """missing() read `a and b or c`: a node-only binary not yet built made the
    portal's toolchain incomplete, and `proctor serve` refused to start."""
    monkeypatch.setenv("PROCTOR_TOOLCHAIN_DIR", str(tmp_path))
    tc = Toolchain()
    tc.bin_dir.mkdir(parents=True)
    for b in BINARIES:
        if not b.kind:
            (tc.bin_dir / b.name).write_text("")
            tc._record(b)
    assert tc.missing() == []
    assert {b.name for b in tc.missing(with_kind=True)} == {b.name for b in BINARIES if b.kind}


def test_the_gateway_api_crds_are_found_for_setup_scripts():
    """The Gateway API tasks' setup installs the CRDs from the toolchain's asset,
    which scripts find through GATEWAY_API_CRDS (grader.runner.script_env)."""
    import yaml

    tc = Toolchain()
    if tc.missing():
        pytest.skip("the toolchain is not built here (`proctor toolchain build`)")
    path = tc.assets().get("GATEWAY_API_CRDS")
    assert path and path.is_file(), "GATEWAY_API_CRDS is not fetched; run `proctor toolchain build`"
    crds = {d["metadata"]["name"]: d for d in yaml.safe_load_all(path.read_text()) if d}
    route = crds.get("httproutes.gateway.networking.k8s.io")
    assert route and route["kind"] == "CustomResourceDefinition"
    assert any(v["name"] == "v1" and v["served"] for v in route["spec"]["versions"])
    assert {"gateways.gateway.networking.k8s.io", "gatewayclasses.gateway.networking.k8s.io"} <= set(crds)


def test_an_asset_joins_its_module_files_and_keeps_the_binaries_key(tmp_path, monkeypatch):
    """A fake `go mod download` names a module folder; the asset is its matching
    files in name order, in a cache keyed apart from the Kubernetes binaries."""
    module = tmp_path / "mod" / "config" / "crd"
    module.mkdir(parents=True)
    (module / "b.yaml").write_text("kind: B\n")
    (module / "a.yaml").write_text("---\nkind: A\n")
    (module / "skip.txt").write_text("no\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "go").write_text(
        '#!/bin/sh\nif [ "$1" = env ]; then echo go1.99.0; exit 0; fi\n'
        f'echo \'{{"Dir": "{tmp_path / "mod"}"}}\'\n')
    (bin_dir / "go").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    monkeypatch.setenv("PROCTOR_TOOLCHAIN_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(toolchain, "EXAM_ASSETS", (
        toolchain.ModuleFiles("x.yaml", "example.com/x@v1.0.0", "config/crd/*.yaml", "X_YAML"),))
    key = Toolchain().key
    tc = Toolchain()
    tc._fetch_assets(lambda s: None, force=False)
    assert tc.key == key
    text = tc.assets()["X_YAML"].read_text()
    assert text == "---\n# a.yaml\nkind: A\n---\n# b.yaml\nkind: B\n"
