"""Checks for node-affinity: the affinity rules, judged on label sets, and placement."""

import pytest


def _term_ok(term, labels):
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
            return False
    for f in term.match_fields or []:
        return False  # fields name nodes, not labels
    return True


def _deploy(k8s, params):
    ns = params["namespace"]
    dep = k8s.get(k8s.apps.read_namespaced_deployment, "cache", ns)
    assert dep is not None, f"Deployment {ns}/cache not found; expected it to exist"
    return dep


def _node_aff(dep):
    aff = dep.spec.template.spec.affinity
    return aff.node_affinity if aff else None


@pytest.mark.points(2)
def test_required(k8s, params):
    """A required node affinity admits exactly the nodes labelled disktype=<type>"""
    dep = _deploy(k8s, params)
    na = _node_aff(dep)
    req = na.required_during_scheduling_ignored_during_execution if na else None
    assert req is not None, "Deployment cache has no required node affinity; expected one on disktype"
    disk = params["disk"]
    other = "hdd" if disk != "hdd" else "ssd"
    cases = {  # hypothetical nodes: any node with the label qualifies, others do not
        f"disktype={disk}": ({"disktype": disk, "kubernetes.io/hostname": "node-new"}, True),
        f"disktype={disk},zone=zone-c": ({"disktype": disk, "zone": "zone-c"}, True),
        f"disktype={other}": ({"disktype": other, "kubernetes.io/hostname": "node-new"}, False),
        "no disktype": ({"kubernetes.io/hostname": "node-new"}, False),
    }
    wrong = [name for name, (labels, want) in cases.items()
             if any(_term_ok(t, labels) for t in req.node_selector_terms or []) != want]
    assert not wrong, (f"the required node affinity of cache judges nodes labelled "
                       f"{'; '.join(wrong)} wrongly; expected exactly disktype={disk} to qualify")


def test_preferred(k8s, params):
    """A preferred node affinity of weight 50 favours zone=zone-a"""
    dep = _deploy(k8s, params)
    na = _node_aff(dep)
    prefs = na.preferred_during_scheduling_ignored_during_execution if na else None
    found = [(p.weight, p.preference) for p in prefs or []]
    ok = any(w == 50 and _term_ok(pref, {"zone": "zone-a"}) and not _term_ok(pref, {"zone": "zone-b"})
             for w, pref in found)
    assert ok, (f"Deployment cache has preferred terms with weights {[w for w, _ in found] or 'none'}; "
                "expected weight 50 for zone=zone-a")


@pytest.mark.points(2)
def test_running(k8s, params):
    """All replicas of cache run redis:7.2 on nodes labelled disktype=<type>"""
    dep = _deploy(k8s, params)
    ns, want = params["namespace"], int(params["replicas"])
    images = [c.image for c in dep.spec.template.spec.containers]
    assert images == ["redis:7.2"], f"Deployment cache runs {images}; expected redis:7.2"
    assert dep.spec.replicas == want, f"Deployment cache has {dep.spec.replicas} replicas; expected {want}"
    disk_nodes = {n.metadata.name for n in k8s.core.list_node().items
                  if (n.metadata.labels or {}).get("disktype") == params["disk"]}
    sel = ",".join(f"{k}={v}" for k, v in (dep.spec.selector.match_labels or {}).items())
    pods = [p for p in k8s.core.list_namespaced_pod(ns, label_selector=sel).items
            if p.metadata.deletion_timestamp is None]
    placed = sorted(f"{p.metadata.name}@{p.spec.node_name}" for p in pods)
    good = [p for p in pods if p.spec.node_name in disk_nodes and any(
        c.type == "Ready" and c.status == "True" for c in p.status.conditions or [])]
    assert len(good) == want == len(pods), (
        f"cache Pods: {placed or 'none'}; expected {want} ready on {sorted(disk_nodes)}")
