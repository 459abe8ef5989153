"""Checks for node-join: node02 joined with kubeadm, Ready, labelled, running the DaemonSets."""

import pytest

from grader.checks import condition, is_ready, live_pods, must_get, owned_by, show

ZONE = "topology.kubernetes.io/zone"
DAEMONSETS = ("kube-proxy", "proctor-netd")


def _node02(k8s):
    return must_get(k8s.core.read_node, "node02", expected="it joined to the cluster")


@pytest.mark.points(2)
def test_node02_ready(k8s):
    """node02 is a node of the cluster and Ready"""
    state = condition(_node02(k8s), "Ready") or "Unknown"
    assert state == "True", f"node02 is registered but Ready={state}; expected Ready=True"


def test_kubelet_service(nodes):
    """node02's kubelet service runs, is enabled at boot and has joined credentials"""
    host = nodes["node02"]
    state = host.run("systemctl is-active kubelet").stdout.strip() or "unknown"
    enabled = host.run("systemctl is-enabled kubelet").stdout.strip() or "unknown"
    assert state == "active" and enabled == "enabled", (
        f"the kubelet service on node02 is {state} and {enabled}; expected active and enabled")
    assert host.file("/etc/kubernetes/kubelet.conf").exists, (
        "node02 has no /etc/kubernetes/kubelet.conf; expected the kubelet's credentials from "
        "kubeadm join")


def test_daemonset_pods(k8s):
    """The kube-proxy and proctor-netd Pods run and are ready on node02"""
    _node02(k8s)
    pods = live_pods(k8s, "kube-system", node="node02")
    missing = []
    for ds in DAEMONSETS:
        mine = [p for p in pods if owned_by(p, f"DaemonSet/{ds}")]
        if not any(p.status.phase == "Running" and is_ready(p) for p in mine):
            missing.append(f"{ds} ({mine[0].status.phase if mine else 'no Pod'})")
    assert not missing, (f"DaemonSet Pods not running on node02: {', '.join(missing)}; "
                         "expected kube-proxy and proctor-netd ready there")


def test_zone_label(k8s, params):
    """node02 carries the zone label"""
    node = _node02(k8s)
    found = (node.metadata.labels or {}).get(ZONE)
    assert found == params["zone"], (
        f"node02 has {ZONE}={show(found)}" if found else f"node02 has no label {ZONE}") + \
        f"; expected {ZONE}={params['zone']}"
