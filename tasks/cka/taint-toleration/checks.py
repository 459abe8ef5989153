"""Checks for taint-toleration: the taint on node01 and Deployment crunch on it."""

import pytest


def _taint(k8s, params):
    node = k8s.core.read_node("node01")
    for t in node.spec.taints or []:
        if t.key == "dedicated" and t.effect == "NoSchedule":
            return t
    return None


def _tolerates(tolerations, taint):
    for tol in tolerations or []:
        if tol.effect not in (None, "", taint.effect):
            continue
        if tol.operator == "Exists":
            if tol.key in (None, "", taint.key):
                return True
        elif tol.key == taint.key and (tol.value or "") == (taint.value or ""):
            return True
    return False


@pytest.mark.points(2)
def test_taint(k8s, params):
    """node01 is tainted dedicated=<team>:NoSchedule"""
    t = _taint(k8s, params)
    node = k8s.core.read_node("node01")
    found = [f"{x.key}={x.value or ''}:{x.effect}" for x in node.spec.taints or []]
    want = params["team"]
    assert t is not None and t.value == want, (
        f"node01 has taints {found or 'none'}; expected dedicated={want}:NoSchedule")


@pytest.mark.points(2)
def test_crunch_tolerates(k8s, params):
    """The Pods of crunch tolerate the taint"""
    ns = params["namespace"]
    dep = k8s.get(k8s.apps.read_namespaced_deployment, "crunch", ns)
    assert dep is not None, f"Deployment {ns}/crunch not found; expected it to still exist"
    t = _taint(k8s, params)
    assert t is not None, "node01 has no dedicated:NoSchedule taint to tolerate"
    assert _tolerates(dep.spec.template.spec.tolerations, t), (
        f"Deployment crunch tolerates {[(x.key, x.operator, x.value, x.effect) for x in dep.spec.template.spec.tolerations or []]}; "
        f"expected a toleration for dedicated={t.value}:NoSchedule")


@pytest.mark.points(2)
def test_crunch_on_node01(k8s, params):
    """All 3 replicas of crunch are ready on node01, and the template keeps them there"""
    ns = params["namespace"]
    dep = k8s.get(k8s.apps.read_namespaced_deployment, "crunch", ns)
    assert dep is not None, f"Deployment {ns}/crunch not found; expected it to still exist"
    spec = dep.spec.template.spec
    allowed = _allowed_nodes(spec, k8s.core.list_node().items)
    assert allowed == ["node01"], (
        f"the Pod template of crunch may run on {allowed}; expected it restricted to node01")
    pods = [p for p in k8s.core.list_namespaced_pod(ns, label_selector="app=crunch").items
            if p.metadata.deletion_timestamp is None]
    where = sorted(f"{p.metadata.name}@{p.spec.node_name}" for p in pods)
    ready = [p for p in pods if p.spec.node_name == "node01" and any(
        c.type == "Ready" and c.status == "True" for c in p.status.conditions or [])]
    assert len(ready) == 3 and len(pods) == 3, f"crunch Pods: {where}; expected 3 ready on node01"


def _term_ok(term, labels, name):
    for e in term.match_expressions or []:
        val = labels.get(e.key)
        if e.operator == "In" and val not in (e.values or []):
            return False
        if e.operator == "NotIn" and val in (e.values or []):
            return False
        if e.operator == "Exists" and e.key not in labels:
            return False
        if e.operator == "DoesNotExist" and e.key in labels:
            return False
        if e.operator in ("Gt", "Lt"):
            try:
                v, ref = int(val), int((e.values or ["0"])[0])
            except (TypeError, ValueError):
                return False
            if (e.operator == "Gt" and not v > ref) or (e.operator == "Lt" and not v < ref):
                return False
    for f in term.match_fields or []:
        if f.key == "metadata.name":
            if f.operator == "In" and name not in (f.values or []):
                return False
            if f.operator == "NotIn" and name in (f.values or []):
                return False
    return True


def _allowed_nodes(spec, nodes):
    """Names of the nodes the template's nodeName/nodeSelector/required affinity admit."""
    out = []
    for n in nodes:
        name, labels = n.metadata.name, n.metadata.labels or {}
        if spec.node_name and spec.node_name != name:
            continue
        if any(labels.get(k) != v for k, v in (spec.node_selector or {}).items()):
            continue
        aff = spec.affinity.node_affinity if spec.affinity else None
        req = aff.required_during_scheduling_ignored_during_execution if aff else None
        if req is not None and not any(_term_ok(t, labels, name) for t in req.node_selector_terms or []):
            continue
        out.append(name)
    return sorted(out)
