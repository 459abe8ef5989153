"""Checks for node-affinity: the affinity rules, judged on label sets, and placement."""

import pytest

from grader.checks import is_ready, must_get, pods_of, same_image, show, term_matches

NEW_NODE = "node-new"  # a node that does not exist yet: the rules must admit it by its labels


def _deploy(k8s, params):
    return must_get(k8s.apps.read_namespaced_deployment, "cache", params["namespace"])


def _node_aff(dep):
    aff = dep.spec.template.spec.affinity
    return aff.node_affinity if aff else None


def _names(k8s):
    return [n.metadata.name for n in k8s.core.list_node().items] + [NEW_NODE]


def _relabelled(nodes, disk):
    """Messages for the nodes whose disktype or zone label is not what setup
    left (node02 disktype=<disk> zone=zone-b, node01 the other disk type and
    zone-a, the rest neither label): the statement says not to change the nodes."""
    other = "hdd" if disk == "ssd" else "ssd"  # as setup draws it
    want = {"node01": (other, "zone-a"), "node02": (disk, "zone-b")}

    def text(pair):
        return ", ".join(f"{key}={show(value)}" if value is not None else f"no {key}"
                        for key, value in zip(("disktype", "zone"), pair))
    wrong = []
    for n in nodes:
        labels = n.metadata.labels or {}
        found = (labels.get("disktype"), labels.get("zone"))
        expected = want.get(n.metadata.name, (None, None))
        if found != expected:
            wrong.append(f"Node {n.metadata.name} has {text(found)}; expected {text(expected)} "
                         "as setup left it (do not change the nodes)")
    return wrong


def _admits(terms, labels, names):
    """Whether the terms (ORed) admit a node with these labels, whatever its name
    (one of ``names``): True, False, or None when it depends on which node it is."""
    found = {any(term_matches(t, labels, name) for t in terms or []) for name in names}
    return found.pop() if len(found) == 1 else None


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
        f"disktype={disk}": ({"disktype": disk, "kubernetes.io/hostname": NEW_NODE}, True),
        f"disktype={disk},zone=zone-c": ({"disktype": disk, "zone": "zone-c"}, True),
        f"disktype={other}": ({"disktype": other, "kubernetes.io/hostname": NEW_NODE}, False),
        "no disktype": ({"kubernetes.io/hostname": NEW_NODE}, False),
    }
    names = _names(k8s)
    wrong = [name for name, (labels, want) in cases.items()
             if _admits(req.node_selector_terms, labels, names) is not want]
    assert not wrong, (f"the required node affinity of cache judges nodes labelled "
                       f"{'; '.join(wrong)} wrongly; expected exactly disktype={disk} to qualify")


def test_preferred(k8s, params):
    """A preferred node affinity of weight 50 favours zone=zone-a"""
    dep = _deploy(k8s, params)
    na = _node_aff(dep)
    prefs = na.preferred_during_scheduling_ignored_during_execution if na else None
    found = [(p.weight, p.preference) for p in prefs or []]
    names = _names(k8s)
    ok = any(w == 50 and _admits([pref], {"zone": "zone-a"}, names) is True
             and _admits([pref], {"zone": "zone-b"}, names) is False for w, pref in found)
    assert ok, (f"Deployment cache has preferred terms with weights {[w for w, _ in found] or 'none'}; "
                "expected weight 50 for zone=zone-a")


@pytest.mark.points(2)
def test_running(k8s, params):
    """All replicas of cache run redis:7.2 on nodes labelled disktype=<type>, the nodes' labels unchanged"""
    dep = _deploy(k8s, params)
    want = int(params["replicas"])
    images = [c.image for c in dep.spec.template.spec.containers or []]
    # docker.io/library/redis:7.2 is the same image, spelt in full
    assert len(images) == 1 and same_image(images[0], "redis:7.2"), (
        f"Deployment cache runs {show(images)}; expected redis:7.2")
    assert dep.spec.replicas == want, f"Deployment cache has {dep.spec.replicas} replicas; expected {want}"
    nodes = k8s.core.list_node().items
    relabelled = _relabelled(nodes, params["disk"])
    assert not relabelled, relabelled[0]
    disk_nodes = {n.metadata.name for n in nodes
                  if (n.metadata.labels or {}).get("disktype") == params["disk"]}
    pods = pods_of(k8s, dep)
    placed = sorted(f"{p.metadata.name}@{p.spec.node_name}" for p in pods)
    good = [p for p in pods if p.spec.node_name in disk_nodes and is_ready(p)]
    assert len(good) == want == len(pods), (
        f"cache Pods: {placed or 'none'}; expected {want} ready on {sorted(disk_nodes)}")
