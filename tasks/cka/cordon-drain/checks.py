"""Checks for cordon-drain: node01 unschedulable and the namespace's workloads off it."""

import pytest


def _pods(k8s, ns, selector):
    return [p for p in k8s.core.list_namespaced_pod(ns, label_selector=selector).items
            if p.metadata.deletion_timestamp is None]


def test_unschedulable(k8s, params):
    """node01 is unschedulable, and other teams' Pods on it were left running"""
    node = k8s.core.read_node("node01")
    assert node.spec.unschedulable is True, "node01 is schedulable; expected it cordoned"
    other = f"{params['namespace']}-ops"
    pod = k8s.get(k8s.core.read_namespaced_pod, "backup-agent", other)
    assert pod is not None and pod.metadata.deletion_timestamp is None and pod.spec.node_name == "node01", (
        f"Pod {other}/backup-agent was removed from node01; expected other namespaces' Pods left running")


@pytest.mark.points(2)
def test_frontend_moved(k8s, params):
    """All 4 frontend replicas are ready, none on node01"""
    ns = params["namespace"]
    dep = k8s.get(k8s.apps.read_namespaced_deployment, "frontend", ns)
    assert dep is not None, f"Deployment {ns}/frontend not found; expected it to keep running"
    pods = _pods(k8s, ns, "app=frontend")
    on01 = sorted(p.metadata.name for p in pods if p.spec.node_name == "node01")
    assert not on01, f"frontend Pods still on node01: {', '.join(on01)}; expected none"
    ready = [p for p in pods if any(c.type == "Ready" and c.status == "True"
                                    for c in p.status.conditions or [])]
    assert dep.spec.replicas == 4 and len(ready) == 4, (
        f"{len(ready)} frontend Pods are ready ({dep.spec.replicas} desired); expected 4 of 4")


def test_standalone_gone(k8s, params):
    """The unmanaged Pod debug-shell no longer runs on node01"""
    ns = params["namespace"]
    pod = k8s.get(k8s.core.read_namespaced_pod, "debug-shell", ns)
    assert pod is None or pod.metadata.deletion_timestamp is not None or pod.spec.node_name != "node01", (
        "Pod debug-shell still runs on node01; expected it evicted or deleted")
