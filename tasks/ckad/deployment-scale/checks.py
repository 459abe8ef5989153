"""Checks for deployment-scale: replica counts, readiness, and no new rollout."""

import pytest


@pytest.mark.points(2)
def test_api_scaled(k8s, params):
    """Deployment api has the required number of replicas, all ready, same template"""
    ns = params["namespace"]
    want = int(params["replicas"])
    dep = k8s.get(k8s.apps.read_namespaced_deployment, "api", ns)
    assert dep is not None, f"Deployment {ns}/api not found; expected it to still exist"
    assert dep.spec.replicas == want, f"Deployment api wants {dep.spec.replicas} replicas; expected {want}"
    ready = dep.status.ready_replicas or 0
    assert ready == want, f"Deployment api has {ready} ready replicas; expected {want}"
    images = [c.image for c in dep.spec.template.spec.containers]
    assert images == ["nginx:1.27"], f"Deployment api runs {images}; expected nginx:1.27 unchanged"


def test_queue_scaled(k8s, params):
    """StatefulSet queue runs exactly 1 ready replica, queue-0"""
    ns = params["namespace"]
    sts = k8s.get(k8s.apps.read_namespaced_stateful_set, "queue", ns)
    assert sts is not None, f"StatefulSet {ns}/queue not found; expected it to still exist"
    assert sts.spec.replicas == 1, f"StatefulSet queue wants {sts.spec.replicas} replicas; expected 1"
    pods = sorted(p.metadata.name for p in
                  k8s.core.list_namespaced_pod(ns, label_selector="app=queue").items
                  if p.metadata.deletion_timestamp is None)
    assert pods == ["queue-0"], f"StatefulSet queue has Pods {pods}; expected only queue-0"
    assert (sts.status.ready_replicas or 0) == 1, (
        f"StatefulSet queue has {sts.status.ready_replicas or 0} ready replicas; expected 1")
