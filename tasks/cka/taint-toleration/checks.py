"""Checks for taint-toleration: the taint on node01 and Deployment crunch on it."""

import pytest

from grader.checks import is_ready, must_get, node_admits, pods_of, show, taint_text, untolerated


def _taint(k8s):
    """node01 and its dedicated:NoSchedule taint (None when it has none)."""
    node = must_get(k8s.core.read_node, "node01")
    taint = next((t for t in node.spec.taints or [] if t.key == "dedicated" and t.effect == "NoSchedule"),
                 None)
    return node, taint


def _crunch(k8s, params):
    return must_get(k8s.apps.read_namespaced_deployment, "crunch", params["namespace"],
                    expected="it to still exist")


@pytest.mark.points(2)
def test_taint(k8s, params):
    """node01 is tainted dedicated=<team>:NoSchedule"""
    node, t = _taint(k8s)
    found = [taint_text(x) for x in node.spec.taints or []]
    want = params["team"]
    assert t is not None and t.value == want, (
        f"node01 has taints {', '.join(found) or 'none'}; expected dedicated={want}:NoSchedule")


@pytest.mark.points(2)
def test_crunch_tolerates(k8s, params):
    """The Pods of crunch tolerate the taint"""
    dep = _crunch(k8s, params)
    _, t = _taint(k8s)
    assert t is not None, "node01 has no dedicated:NoSchedule taint to tolerate"
    tolerations = dep.spec.template.spec.tolerations
    assert not untolerated(tolerations, [t]), (
        f"Deployment crunch tolerates {show([(x.key, x.operator, x.value, x.effect) for x in tolerations or []])}; "
        f"expected a toleration for {taint_text(t)}")


@pytest.mark.points(2)
def test_crunch_on_node01(k8s, params):
    """All 3 replicas of crunch are ready on node01, and the template keeps them there"""
    dep = _crunch(k8s, params)
    allowed = sorted(n.metadata.name for n in k8s.core.list_node().items if node_admits(dep, n))
    assert allowed == ["node01"], (
        f"the Pod template of crunch may run on {allowed}; expected it restricted to node01")
    pods = pods_of(k8s, dep)
    where = sorted(f"{p.metadata.name}@{p.spec.node_name}" for p in pods)
    ready = [p for p in pods if p.spec.node_name == "node01" and is_ready(p)]
    assert len(ready) == 3 and len(pods) == 3, f"crunch Pods: {where}; expected 3 ready on node01"
