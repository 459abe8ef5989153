"""Checks for taint-toleration: the taint on node01 and Deployment crunch on it.

"Do not remove or change any other taint or label" is checked against what
setup recorded of every node (the immutable ConfigMap kube-system/RECORD):
each taint and label there must still be on its node, as it was. New labels
(one to select node01 by) are allowed, as are taints the node lifecycle
controller manages (node.kubernetes.io/...).
"""

import json

import pytest

from grader.checks import (is_ready, must_get, node_admits, pods_of, show, taint_text,
                           untolerated)

RECORD = "taint-toleration-nodes"


def _taint(k8s):
    """node01 and its dedicated:NoSchedule taint (None when it has none)."""
    node = must_get(k8s.core.read_node, "node01")
    taint = next((t for t in node.spec.taints or [] if t.key == "dedicated" and t.effect == "NoSchedule"),
                 None)
    return node, taint


def _crunch(k8s, params):
    return must_get(k8s.apps.read_namespaced_deployment, "crunch", params["namespace"],
                    expected="it to still exist")


def _recorded(rec, name):
    """(labels, taints) that setup recorded for node ``name``, or a failed check."""
    try:
        was = json.loads((rec.data or {})[name])
        labels = {str(k): str(v) for k, v in was["labels"].items()}
        taints = [tuple(str(x) for x in t) for t in was["taints"]]
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise AssertionError(f"ConfigMap kube-system/{RECORD} has no readable entry {name} ({exc}); "
                             "expected setup's record of the nodes untouched") from None
    return labels, taints


def _others_kept(k8s):
    """Fail unless every taint and label setup recorded is still on its node, unchanged."""
    rec = must_get(k8s.core.read_namespaced_config_map, RECORD, "kube-system",
                   expected="it untouched: setup recorded there the nodes' taints and labels")
    for name in sorted(rec.data or {}):
        labels, taints = _recorded(rec, name)
        node = must_get(k8s.core.read_node, name, expected="it kept")
        found = node.metadata.labels or {}
        changed = sorted(k for k, v in labels.items() if found.get(k) != v)
        assert not changed, (
            f"Node {name} has labels {show({k: found.get(k) for k in changed})}; expected "
            f"{show({k: labels[k] for k in changed})} as before (no other label may be removed or changed)")
        now = {(t.key, t.value or "", t.effect) for t in node.spec.taints or []}
        gone = [t for t in taints if t not in now]
        has = ", ".join(taint_text(t) for t in node.spec.taints or []) or "none"
        kept = ", ".join(show(f"{k}={v}:{e}" if v else f"{k}:{e}") for k, v, e in gone)
        assert not gone, (f"Node {name} has taints {has}; expected {kept} kept as before "
                          "(no other taint may be removed or changed)")


@pytest.mark.points(2)
def test_taint(k8s, params):
    """node01 is tainted dedicated=<team>:NoSchedule, and no other taint or label of the nodes was removed or changed"""
    node, t = _taint(k8s)
    found = [taint_text(x) for x in node.spec.taints or []]
    want = params["team"]
    assert t is not None and t.value == want, (
        f"node01 has taints {', '.join(found) or 'none'}; expected dedicated={want}:NoSchedule")
    _others_kept(k8s)


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
