"""Checks for cordon-drain: node01 unschedulable and the namespace's workloads off it."""

import pytest

from grader.checks import get_live, is_ready, must_get, pods_of


def test_unschedulable(k8s, params):
    """node01 is unschedulable, and other teams' Pods on it were left running"""
    node = must_get(k8s.core.read_node, "node01")
    assert node.spec.unschedulable is True, "node01 is schedulable; expected it cordoned"
    other = f"{params['namespace']}-ops"
    pod = get_live(k8s.core.read_namespaced_pod, "backup-agent", other)
    assert pod is not None and pod.spec.node_name == "node01", (
        f"Pod {other}/backup-agent was removed from node01; expected other namespaces' Pods left running")


@pytest.mark.points(2)
def test_frontend_moved(k8s, params):
    """All 4 frontend replicas are ready, none on node01"""
    ns = params["namespace"]
    dep = must_get(k8s.apps.read_namespaced_deployment, "frontend", ns, expected="it to keep running")
    pods = pods_of(k8s, dep)
    on01 = sorted(p.metadata.name for p in pods if p.spec.node_name == "node01")
    assert not on01, f"frontend Pods still on node01: {', '.join(on01)}; expected none"
    ready = [p for p in pods if is_ready(p)]
    assert dep.spec.replicas == 4 and len(ready) == 4, (
        f"{len(ready)} frontend Pods are ready ({dep.spec.replicas} desired); expected 4 of 4")


def test_standalone_gone(k8s, params):
    """The unmanaged Pod debug-shell was removed from node01"""
    ns = params["namespace"]
    pod = get_live(k8s.core.read_namespaced_pod, "debug-shell", ns)
    assert pod is None or pod.spec.node_name != "node01", (
        f"Pod {ns}/debug-shell still runs on node01; expected it removed (evicted or deleted) "
        "before the node goes down")
