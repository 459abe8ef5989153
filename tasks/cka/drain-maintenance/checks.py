"""Checks for drain-maintenance: node01 drained, serviced and back in service.

The maintenance file's modification time tells "before" from "after": a Pod
of web on node01 that is older than the file ran there through the
maintenance, so node01 was not (fully) drained. Pods created on node01 after
it was returned to service are fine.
"""

import pytest

from grader.checks import (get_live, is_ready, live_pods, must_be_original, must_get, pods_of,
                           show)

FILE = "/root/maintenance-done"


def _file_mtime(nodes) -> int | None:
    res = nodes["node01"].run(f"stat -c %Y {FILE}")
    return int(res.stdout.strip()) if res.rc == 0 and res.stdout.strip().isdigit() else None


def _must_be_budget_as_left(k8s, ns: str) -> None:
    """The budget setup made, never changed: the same object (a deleted and
    re-created copy has another uid) at its first generation (every change of
    its spec, even one set back later, counts one up), with minAvailable 2.
    Lowering or removing it for the drain is what the statement forbids."""
    pdb = k8s.get(k8s.policy.read_namespaced_pod_disruption_budget, "web", ns)
    assert pdb is not None, f"PodDisruptionBudget {ns}/web is gone; expected it unchanged (minAvailable=2)"
    min_avail, max_unavail = pdb.spec.min_available, pdb.spec.max_unavailable
    assert str(min_avail) == "2" and max_unavail is None, (
        f"PodDisruptionBudget {ns}/web has minAvailable={show(min_avail)}, "
        f"maxUnavailable={show(max_unavail)}; expected it unchanged (minAvailable=2)")
    must_be_original(k8s, pdb, f"web-pdb-{ns}-original")
    generation = pdb.metadata.generation
    assert not isinstance(generation, int) or generation <= 1, (
        f"PodDisruptionBudget {ns}/web has been changed since setup (generation {generation}), "
        "though it is set back to minAvailable=2; expected it left as it is through the drain")


def test_node01_in_service(k8s, params):
    """node01 is schedulable again, and its log-shipper Pod is running"""
    ns = params["namespace"]
    node = must_get(k8s.core.read_node, "node01")
    taints = [t.key for t in node.spec.taints or [] if t.key == "node.kubernetes.io/unschedulable"]
    assert not node.spec.unschedulable and not taints, (
        "node01 is unschedulable (cordoned); expected it returned to service after the maintenance")
    pods = live_pods(k8s, ns, "app=log-shipper", node="node01")
    assert pods and all(is_ready(p) for p in pods), (
        f"DaemonSet {ns}/log-shipper has {'no ready' if pods else 'no'} Pod on node01; "
        "expected its Pod left running there")


@pytest.mark.points(2)
def test_web_moved(k8s, nodes, params):
    """All 3 replicas of web are ready, none left on node01 from before the maintenance, the PDB unchanged"""
    ns = params["namespace"]
    dep = must_get(k8s.apps.read_namespaced_deployment, "web", ns, expected="it to keep running")
    _must_be_budget_as_left(k8s, ns)
    pods = pods_of(k8s, dep)
    since = _file_mtime(nodes)
    stayed = sorted(p.metadata.name for p in pods if p.spec.node_name == "node01"
                    and (since is None or p.metadata.creation_timestamp.timestamp() < since))
    assert not stayed, (f"Pods of web still on node01 from before the maintenance: "
                        f"{', '.join(stayed)}; expected them evicted to other nodes")
    ready = [p for p in pods if is_ready(p)]
    assert dep.spec.replicas == 3 and len(ready) == 3, (
        f"{len(ready)} Pods of web are ready ({dep.spec.replicas} desired); expected 3 of 3")


def test_adhoc_report_gone(k8s, params):
    """The standalone Pod adhoc-report no longer runs on node01"""
    ns = params["namespace"]
    pod = get_live(k8s.core.read_namespaced_pod, "adhoc-report", ns)
    assert pod is None or pod.spec.node_name != "node01", (
        f"Pod {ns}/adhoc-report still runs on node01; expected the drain to remove it")


def test_maintenance_file(nodes, params):
    """/root/maintenance-done on node01 holds the change ticket"""
    want = f"CHG-{params['ticket']}"
    f = nodes["node01"].file(FILE)
    assert f.exists, f"{FILE} does not exist on node01; expected it written after the drain"
    text = f.content_string.strip()
    assert want in text.split(), (
        f"{FILE} on node01 contains {show(text)}; expected the change ticket {want}")
