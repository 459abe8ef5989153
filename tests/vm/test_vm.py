"""The vm provider on real VMs (TCG here): a 1-node sandbox restored from the
golden state, a real container, testinfra on the node, what the guest can
reach, and a destroy that leaves nothing."""

from __future__ import annotations

import json
import os
import socket

import paramiko
import pytest

from sandbox.base import InvalidOption
from sandbox.vm.ssh import backend_class

pytestmark = pytest.mark.vm


def test_restored_node_is_ready_and_runs_a_real_container(vm, one, kubectl):
    rec = vm._read(one.name)
    assert rec["variant"] == "1" and rec["accel"] in ("tcg", "kvm")
    assert one.api_url.startswith("https://127.0.0.1:") and one.nodes == ["controlplane"]
    out = json.loads(kubectl(one, "get", "nodes", "-o", "json").stdout)
    [node] = out["items"]
    assert node["metadata"]["name"] == "controlplane"
    ready = {c["type"]: c["status"] for c in node["status"]["conditions"]}["Ready"]
    assert ready == "True"
    assert node["status"]["nodeInfo"]["kubeletVersion"] == vm.toolchain.pins["kubernetes"]
    addresses = {a["type"]: a["address"] for a in node["status"]["addresses"]}
    assert addresses["InternalIP"] == "10.10.0.10"
    marker = f"hello-from-a-vm-{os.getpid()}"
    kubectl(one, "run", "echo", "--image", "busybox:1.35", "--restart=Never", "--command",
            "--", "sh", "-c", f"echo {marker}; uname -r")
    kubectl(one, "wait", "--for=jsonpath={.status.phase}=Succeeded", "pod/echo",
            "--timeout=180s", timeout=200)
    logs = kubectl(one, "logs", "echo").stdout
    assert marker in logs, logs
    assert "cloud-amd64" in logs, f"the container ran on the guest's kernel: {logs}"


def test_testinfra_checks_a_service_on_the_node(vm, one):
    host = vm.node_host(one, "controlplane")
    kubelet = host.service("kubelet")
    assert kubelet.is_running and kubelet.is_enabled
    assert host.service("containerd").is_running
    assert host.check_output("hostname") == "controlplane"
    assert host.file("/etc/kubernetes/manifests/kube-apiserver.yaml").exists
    assert host.socket("tcp://0.0.0.0:22").is_listening or host.socket("tcp://:::22").is_listening
    with pytest.raises(InvalidOption):
        vm.node_host(one, "node07")


def test_host_keys_are_pinned_and_the_golden_key_is_gone(vm, one, tmp_path):
    d = vm._record_dir(one.name)
    port = vm._read(one.name)["ports"]["controlplane"]["ssh"]
    wrong = tmp_path / "known_hosts"
    wrong.write_text(f"[127.0.0.1]:{port} ssh-ed25519 "
                     "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n")
    Backend = backend_class()
    with pytest.raises(paramiko.BadHostKeyException):
        Backend(f"root@127.0.0.1:{port}", key=d / "id_ed25519",
                known_hosts=wrong).client
    golden_key = vm.golden.dir / "id_ed25519"
    with pytest.raises(paramiko.AuthenticationException):
        Backend(f"root@127.0.0.1:{port}", key=golden_key,
                known_hosts=d / "known_hosts").client


def test_destroy_leaves_no_process_socket_or_disk_layer(vm, processes_under):
    name = f"vmgone-{os.getpid()}"
    golden_before = {p: p.stat().st_mtime for p in vm.golden.dir.rglob("*") if p.is_file()}
    sb = vm.create(name, nodes=1)
    d = vm._record_dir(name)
    rec = vm._read(name)
    assert processes_under(d), "no process of the sandbox is running"
    assert (d / "disks" / "controlplane.qcow2").is_file() and (d / "run" / "hub.sock").exists()
    ports = [p for node in rec["ports"].values() for p in node.values()]
    vm.destroy(name)
    assert processes_under(d) == []
    assert not d.exists(), f"{d} is left"
    for port in ports:
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still answers"
    assert vm.get(name) is None and sb.name not in [s.name for s in vm.list(True)]
    golden_after = {p: p.stat().st_mtime for p in vm.golden.dir.rglob("*") if p.is_file()}
    assert golden_after == golden_before, "the golden clusters changed"
    vm.destroy(name)  # idempotent


def test_shapes_without_a_golden_cluster_are_refused_up_front(vm):
    with pytest.raises(InvalidOption, match="nodes=1; nodes=2"):
        vm.create("vmbad", nodes=4)
    with pytest.raises(InvalidOption, match="controlplane"):
        vm.create("vmbad", nodes=3, unjoined=["controlplane"])
    assert vm._read("vmbad") is None
