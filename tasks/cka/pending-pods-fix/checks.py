"""Checks for pending-pods-fix: reporter runs, unchanged where it must be, and the reason file."""

import pytest

from grader.answers import quote
from grader.checks import is_ready, must_get, pods_of, same_quantity, show


def _reporter(k8s, params):
    """Deployment reporter and its live Pods."""
    dep = must_get(k8s.apps.read_namespaced_deployment, "reporter", params["namespace"],
                   expected="it fixed, not deleted")
    return dep, pods_of(k8s, dep)


@pytest.mark.points(3)
def test_running(k8s, params):
    """All 3 replicas of reporter are scheduled and ready"""
    dep, pods = _reporter(k8s, params)
    pending = sorted(p.metadata.name for p in pods if not p.spec.node_name)
    ready = [p for p in pods if is_ready(p)]
    assert dep.spec.replicas == 3, f"Deployment reporter has {dep.spec.replicas} replicas; expected 3"
    assert len(ready) == 3 and not pending, (
        f"reporter has {len(ready)} ready Pods and {len(pending)} unscheduled; expected 3 ready, none pending")


def test_kept(k8s, params):
    """reporter keeps its image and memory settings; the nodes are untouched"""
    dep, pods = _reporter(k8s, params)
    c = dep.spec.template.spec.containers[0]
    assert c.image == "python:3.12-slim", f"reporter runs {show(c.image)}; expected python:3.12-slim unchanged"
    res = c.resources
    mem = ((res.requests or {}).get("memory"), (res.limits or {}).get("memory")) if res else (None, None)
    assert same_quantity(mem[0], "256Mi") and same_quantity(mem[1], "512Mi"), (
        f"reporter's memory request/limit are {show(mem)}; expected 256Mi/512Mi unchanged")
    nodes = k8s.core.list_node().items
    pooled = [n.metadata.name for n in nodes if "node-pool" in (n.metadata.labels or {})]
    assert not pooled, f"nodes {pooled} were given a node-pool label; expected the nodes unchanged"
    cp = next((n for n in nodes if n.metadata.name == "controlplane"), None)
    if cp is not None:
        taints = [t.key for t in cp.spec.taints or []]
        assert "node-role.kubernetes.io/control-plane" in taints, (
            "controlplane lost its control-plane taint; expected the nodes unchanged")
    # Only once the Pods run is this check about the fix rather than the setup.
    running = [p for p in pods if p.spec.node_name]
    assert running, "no reporter Pod is scheduled yet; expected the Deployment fixed"


def test_reason(answers):
    """reporter-reason.txt holds the scheduler's message from before the fix"""
    f = answers / "reporter-reason.txt"
    assert f.exists(), "/opt/answers/reporter-reason.txt does not exist; expected the scheduler's message"
    text = " ".join(f.read_text().lower().split())
    assert "node affinity/selector" in text, (
        f"reporter-reason.txt says {quote(text, 160)}; expected the scheduler's message from before "
        "the fix, which says the nodes didn't match the Pod's node affinity/selector")
