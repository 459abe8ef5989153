"""The built binaries report the pinned releases and rebuild nothing."""

import json
import subprocess

import pytest

from sandbox.toolchain import Toolchain

pytestmark = pytest.mark.cluster


def run(*cmd):
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    return res.stdout + res.stderr


@pytest.fixture(scope="module")
def tc():
    tc = Toolchain()
    assert not tc.missing(), "run `proctor toolchain build` first"
    return tc


@pytest.mark.parametrize("name", ["kube-apiserver", "kube-controller-manager", "kube-scheduler"])
def test_control_plane_reports_the_pinned_release(tc, name):
    assert run(str(tc.binary(name)), "--version").strip() == f"Kubernetes {tc.pins['kubernetes']}"


def test_kubectl_client_version(tc):
    info = json.loads(run(str(tc.binary("kubectl")), "version", "--client", "-o", "json"))
    client = info["clientVersion"]
    assert client["gitVersion"] == tc.pins["kubernetes"]
    assert (client["major"], client["minor"]) == tuple(tc.pins["kubernetes"][1:].split(".")[:2])


def test_etcd_and_kwok_versions(tc):
    etcd = tc.pins["etcd"].lstrip("v")
    assert f"etcd Version: {etcd}" in run(str(tc.binary("etcd")), "--version")
    assert f"etcdctl version: {etcd}" in run(str(tc.binary("etcdctl")), "version")
    kwok = tc.pins["kwok"].lstrip("v")
    assert kwok in run(str(tc.binary("kwok")), "--version")
    out = run(str(tc.binary("kwokctl")), "--version")
    assert kwok in out


def test_second_build_touches_no_compiler(tc, monkeypatch):
    # With everything present, build() must not even look for Go.
    monkeypatch.setenv("PATH", "/nonexistent")
    assert Toolchain().build() == tc.bin_dir
